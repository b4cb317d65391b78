import { assert, describe, it } from "@effect/vitest"
import { FileSync, Git, SandboxRuns } from "@parallel-cc/core"
import { TempDir, TestConfig } from "@parallel-cc/testkit"
import { Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { freshState, type Plan } from "../src/parallel/ParallelModel.js"
import * as ParallelResults from "../src/parallel/ParallelResults.js"
import { makeRunCache } from "../src/sandboxes/runCache.js"

const planFor = (outputDir: string): Plan => ({
  runId: "runid00001",
  repoPath: "/repo",
  baseCommit: null,
  outputDir,
  maxConcurrent: 2,
  prepareAhead: true,
  failFast: false,
  retries: 0,
  retryDelayMs: 0,
  options: {
    provider: null, agent: null, template: null, timeoutMs: null, authMethod: null, gitUser: null, gitEmail: null,
    branch: null, useTemplate: null, budgetUsd: null, gitLive: null, network: null, allowHosts: []
  },
  run: {},
  gitLive: undefined,
  host: { env: {}, homeDir: "/home/u", cwd: "/repo" },
  history: [],
  resumedFrom: null,
  cache: makeRunCache()
})

const modes = (dir: string): Record<string, string> => {
  const out: Record<string, string> = {}
  const walk = (d: string) => {
    for (const name of fs.readdirSync(d)) {
      const p = path.join(d, name)
      const st = fs.statSync(p)
      out[path.relative(dir, p) + (st.isDirectory() ? "/" : "")] = (st.mode & 0o777).toString(8)
      if (st.isDirectory()) walk(p)
    }
  }
  walk(dir)
  return out
}

describe("ParallelResults", () => {
  it.scopedLive("results hold prompts: the output directory (even one made at 0755 beforehand) and task folders are 0700, files 0600", () =>
    Effect.gen(function*() {
      const base = yield* TempDir.make()
      const out = path.join(base, "results")
      fs.mkdirSync(out, { mode: 0o755 })
      fs.chmodSync(out, 0o755)
      yield* ParallelResults.prepareOutput(out, false)
      assert.strictEqual(fs.statSync(out).mode & 0o777, 0o700)
      const notEmpty = yield* ParallelResults.prepareOutput(out, false).pipe(Effect.flip)
      assert.strictEqual(notEmpty.reason, "OutputDirNotEmpty")
      yield* ParallelResults.prepareOutput(out, true)

      const layer = Layer.mergeAll(SandboxRuns.layer, FileSync.layer).pipe(Layer.provideMerge(TestConfig.layer(path.join(base, "data"))))
      const results = yield* Effect.gen(function*() {
        return ParallelResults.make({ git: yield* Git.Git, runs: yield* SandboxRuns.SandboxRuns, fileSync: yield* FileSync.FileSync })
      }).pipe(Effect.provide(layer))
      const plan = planFor(out)
      const task = { ...freshState({ id: "task-1", prompt: "secret plans for the product", dependsOn: [] }), status: "failed" as const, error: "x" }
      const saved = yield* results.save(plan, task)
      assert.strictEqual(saved.prompt, "secret plans for the product")
      yield* ParallelResults.writeSummary(plan, ParallelResults.summarize(plan, [{ ...task, saved }], "failed", 0, 10, true))
      assert.deepStrictEqual(modes(out), {
        ".gitignore": "600",
        "summary.json": "600",
        "summary-report.md": "600",
        "task-1/": "700",
        "task-1/result.json": "600"
      })
      const summary = JSON.parse(fs.readFileSync(path.join(out, "summary.json"), "utf8"))
      assert.deepInclude(summary.totals, { tasks: 1, failed: 1 })
    }))
})
