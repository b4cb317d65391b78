import { assert, describe, it } from "@effect/vitest"
import { Database, Processes } from "@parallel-cc/core"
import { TempDir, TestConfig } from "@parallel-cc/testkit"
import { Effect, Option } from "effect"
import * as path from "node:path"
import { freshState, type Plan } from "../src/parallel/ParallelModel.js"
import * as ParallelRunStore from "../src/parallel/ParallelRunStore.js"
import { makeRunCache } from "../src/sandboxes/runCache.js"

const plan = (runId: string, outputDir: string): Plan => ({
  runId,
  repoPath: "/repo",
  baseCommit: null,
  outputDir,
  maxConcurrent: 1,
  prepareAhead: false,
  failFast: false,
  retries: 0,
  retryDelayMs: 0,
  options: {
    provider: null, agent: null, template: null, timeoutMs: null, authMethod: null, gitUser: null, gitEmail: null,
    branch: null, useTemplate: null, budgetUsd: null, gitLive: null, network: null, allowHosts: []
  },
  run: {},
  gitLive: undefined,
  host: { env: {}, homeDir: "/h", cwd: "/repo" },
  history: [],
  resumedFrom: null,
  cache: makeRunCache()
})

describe("ParallelRunStore", () => {
  it.scopedLive("records a run and its tasks; a run over the same output directory is live only while its process runs", () =>
    Effect.gen(function*() {
      const dir = yield* TempDir.make()
      yield* Effect.gen(function*() {
        const db = yield* Database.Database
        const store = ParallelRunStore.make(db, yield* Processes.Processes)
        const states = [freshState({ id: "a", prompt: "p", dependsOn: [] }), freshState({ id: "b", prompt: "q", dependsOn: ["a"] })]
        assert.isTrue(Option.isNone(yield* store.liveRunIn("/out")))
        yield* store.recordRun(plan("run0000001", "/out"), states, 1000)
        const live = yield* store.liveRunIn("/out")
        assert.isTrue(Option.isSome(live))
        assert.include(Option.getOrThrow(live), `process ${process.pid}`)
        assert.isTrue(Option.isNone(yield* store.liveRunIn("/elsewhere")))
        yield* store.recordTask("run0000001", { ...states[0]!, status: "failed", error: "boom", attempts: 2 })
        const rows = yield* db.sql<{ task_id: string; status: string; error: string | null; attempts: number }>`
          SELECT task_id, status, error, attempts FROM parallel_tasks WHERE run_id = 'run0000001' ORDER BY position`
        assert.deepStrictEqual(rows.map((r) => [r.task_id, r.status, r.error, r.attempts]), [["a", "failed", "boom", 2], ["b", "pending", null, 0]])
        yield* store.recordEnd("run0000001", "failed", 2000)
        assert.isTrue(Option.isNone(yield* store.liveRunIn("/out")))
        // A run whose supervisor is gone (a pid that no process has) is not live either.
        yield* db.sql`INSERT INTO parallel_runs (id, repo_path, output_dir, status, max_concurrent, fail_fast, retries, git_live, supervisor_pid, tasks_total, created_at)
          VALUES ('run0000002', '/repo', '/out', 'running', 1, 0, 0, 0, 2147483646, 0, 3000)`
        assert.isTrue(Option.isNone(yield* store.liveRunIn("/out")))
      }).pipe(Effect.provide(TestConfig.layer(path.join(dir, "data"))))
    }))
})
