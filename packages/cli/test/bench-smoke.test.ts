/**
 * CI runs a few benchmarks as smoke tests only: two rounds each, against the built CLI, with
 * `BENCH_NO_GOALS=1` so a goal missed on a loaded runner reports without failing. What must hold is that
 * the bench still runs end to end and prints its JSON document (the figures themselves are for
 * docs/benchmarks.md, taken on a quiet machine). The cheap benches are chosen so the whole file takes
 * seconds; the others are run by hand (`npm run bench NAME`).
 */
import { spawnSync } from "node:child_process"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "vitest"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..")

describe("benchmarks as smoke tests", () => {
  for (const name of ["heartbeat", "mcp-start", "session-hook"]) {
    it(`bench/${name} runs end to end and prints its document`, { timeout: 180_000 }, () => {
      const r = spawnSync(process.execPath, [path.join(root, "bench", name, "run.mjs")], {
        cwd: root,
        encoding: "utf8",
        env: { ...process.env, BENCH_RUNS: "2", BENCH_NO_GOALS: "1" }
      })
      assert.strictEqual(r.status, 0, r.stderr)
      const doc = JSON.parse(r.stdout) as { bench: string; machine: { node: string } }
      assert.strictEqual(doc.bench, name)
      assert.strictEqual(doc.machine.node, process.version)
    })
  }
})
