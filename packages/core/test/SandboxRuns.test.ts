import { assert, describe, it } from "@effect/vitest"
import { SandboxRuns } from "@parallel-cc/core"
import { TempDir, TestConfig } from "@parallel-cc/testkit"
import { Effect, Layer } from "effect"
import * as path from "node:path"

const newRun = (id: string, repoPath = "/r"): SandboxRuns.NewRun => ({
  sessionId: id as SandboxRuns.SandboxRun["sessionId"],
  repoPath,
  provider: "local",
  agent: "claude",
  prompt: "do it",
  template: null,
  managedTemplate: null,
  branchMode: "review",
  branch: null,
  keep: false,
  dryRun: false,
  supervisorPid: 111,
  supervisorStart: "42",
  timeoutMs: 60_000,
  logPath: "/l/run.log",
  eventsPath: "/l/events.jsonl",
  budgetUsd: null
})

describe("SandboxRuns", () => {
  it.scopedLive("creates, updates, lists, records kill requests, and hands supervision over once", () =>
    Effect.gen(function*() {
      const dir = yield* TempDir.make()
      yield* Effect.provide(scenario, SandboxRuns.layer.pipe(Layer.provideMerge(TestConfig.layer(path.join(dir, "data")))))
    }))
})

const scenario = Effect.gen(function*() {
      const runs = yield* SandboxRuns.SandboxRuns
      const a = yield* runs.create(newRun("aaaaaaaaaa"))
      assert.strictEqual(a.status, "starting")
      assert.strictEqual(a.sandboxState, "none")
      assert.isFalse(a.keep)
      yield* runs.create(newRun("bbbbbbbbbb", "/other"))
      const updated = yield* runs.update("aaaaaaaaaa", {
        status: "running",
        sandboxId: "sb-1",
        isolation: "bwrap",
        sandboxState: "running",
        costUsd: 0.25,
        numTurns: 3,
        startedAt: new Date(1000)
      })
      assert.deepInclude(updated, { status: "running", sandboxId: "sb-1", costUsd: 0.25, numTurns: 3 })
      assert.strictEqual(updated.startedAt?.getTime(), 1000)
      assert.lengthOf(yield* runs.list({ repoPath: "/r" }), 1)
      assert.lengthOf(yield* runs.list({ liveOnly: true }), 2)

      const k = yield* runs.requestKill("aaaaaaaaaa")
      assert.isNotNull(k.killRequestedAt)
      yield* runs.update("bbbbbbbbbb", { status: "succeeded" })
      assert.isNull((yield* runs.requestKill("bbbbbbbbbb")).killRequestedAt)

      assert.isTrue(yield* runs.takeOver("aaaaaaaaaa", { pid: 111, start: "42" }, { pid: 222, start: "7" }))
      assert.isFalse(yield* runs.takeOver("aaaaaaaaaa", { pid: 111, start: "42" }, { pid: 333, start: "8" }))
      assert.strictEqual((yield* runs.get("aaaaaaaaaa")).supervisorPid, 222)

      const missing = yield* runs.get("nonexistent").pipe(Effect.flip)
      assert.strictEqual(missing._tag, "SandboxRunNotFound")
})
