// Cold start of `parallel-cc status --json` next to `node -e 0`, interleaved in one run.
// Measures three variants: the installed path (fast path + code cache), without the code cache, and
// the full @effect/cli path (what any non-hot command costs).
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { machine, round, timeCommands } from "../lib.mjs"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")
const bin = path.join(root, "packages/cli/dist/bin.cjs")
const data = fs.mkdtempSync(path.join(os.tmpdir(), "pcc-bench-start-"))
const runs = Number(process.env.BENCH_RUNS ?? 40)
try {
  const env = { ...process.env, PARALLEL_CC_DATA_DIR: data, HOME: data }
  const node = process.execPath
  const results = timeCommands({
    "node -e 0": [node, "-e", "0"],
    "parallel-cc status --json": [node, bin, "status", "--json"],
    "parallel-cc --version (full CLI)": [node, bin, "--version"]
  }, { runs, env })
  const noCache = timeCommands({
    "node -e 0": [node, "-e", "0"],
    "parallel-cc status --json (no code cache)": [node, bin, "status", "--json"]
  }, { runs: Math.ceil(runs / 2), env: { ...env, PARALLEL_CC_NO_CODE_CACHE: "1" } })
  const base = results["node -e 0"].median
  const ratio = (r) => round(r.median / base)
  const out = {
    bench: "cli-start",
    machine: machine(),
    results: {
      ...results,
      "parallel-cc status --json (no code cache)": noCache["parallel-cc status --json (no code cache)"]
    },
    ratios: {
      "status --json / node -e 0": ratio(results["parallel-cc status --json"]),
      "full CLI / node -e 0": ratio(results["parallel-cc --version (full CLI)"]),
      "no code cache / node -e 0 (same run)": round(
        noCache["parallel-cc status --json (no code cache)"].median / noCache["node -e 0"].median
      )
    }
  }
  console.log(JSON.stringify(out, null, 2))
} finally {
  fs.rmSync(data, { recursive: true, force: true })
}
