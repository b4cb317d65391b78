import { assert, describe, it } from "@effect/vitest"
import { Sessions, WorktreeProvider } from "@parallel-cc/core"
import { TempDir, TempRepo, TestConfig } from "@parallel-cc/testkit"
import { Effect, Exit, Fiber } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"

const setup = Effect.gen(function*() {
  const base = yield* TempDir.make()
  const repo = TempRepo.makeSync(base, { files: { "README.md": "# r\n" } })
  const data = path.join(base, "data")
  const run = <A, E>(eff: Effect.Effect<A, E, WorktreeProvider.WorktreeProvider | Sessions.Sessions>) =>
    Effect.provide(eff, TestConfig.layer(data))
  return { repo, data, run }
})

/** A stand-in for the Claude Code process: runs until the scope closes (or it is killed). */
const claudeProcess = Effect.acquireRelease(
  Effect.sync(() => spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" })),
  (c) => Effect.sync(() => c.kill("SIGKILL"))
)

describe("WorktreeProvider", () => {
  it.scopedLive("parses every known spelling of the payload; refuses what is not JSON or not a payload", () =>
    Effect.gen(function*() {
      const { run } = yield* setup
      yield* run(Effect.gen(function*() {
        const p = yield* WorktreeProvider.WorktreeProvider
        const a = yield* p.parse(JSON.stringify({ hook_event_name: "WorktreeCreate", cwd: "/x", name: "a", extra: 1 }))
        assert.strictEqual(a.name, "a")
        const b = yield* p.parse(JSON.stringify({ hook_event_name: "WorktreeCreate", worktree_name: "b", base_ref: "main" }))
        assert.deepStrictEqual([b.worktree_name, b.base_ref], ["b", "main"])
        for (const bad of ["not json", "{}", JSON.stringify({ hook_event_name: 3 })]) {
          const exit = yield* p.parse(bad).pipe(Effect.exit)
          assert.isTrue(Exit.isFailure(exit), bad)
        }
      }))
    }))

  it.scopedLive("one watcher per Claude Code process: a second one steps aside; the first releases the sessions once the process exits", () =>
    Effect.gen(function*() {
      const { data, repo, run } = yield* setup
      const claude = yield* claudeProcess
      const pid = claude.pid!
      yield* run(Effect.gen(function*() {
        const p = yield* WorktreeProvider.WorktreeProvider
        const created = yield* p.create({ hook_event_name: "WorktreeCreate", cwd: repo.root, name: "x" }, { pid, cwd: repo.root })
        assert.isTrue(fs.existsSync(created.path))
        const first = yield* Effect.fork(p.watch(pid, { interval: "50 millis" }))
        const claim = path.join(data, "live", `watch-${pid}`)
        while (!fs.existsSync(claim)) yield* Effect.sleep("20 millis")
        assert.deepStrictEqual(yield* p.watch(pid, { interval: "50 millis" }), [], "the second watcher returns at once")
        claude.kill("SIGKILL")
        const released = yield* Fiber.join(first)
        assert.deepStrictEqual(released.map((r) => [r.sessionId, r.worktree]), [[created.registered.session.sessionId, "removed"]])
        assert.isFalse(fs.existsSync(created.path))
        assert.isFalse(fs.existsSync(claim), "the claim goes with its watcher")
      }))
    }))
})
