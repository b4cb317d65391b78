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

describe("WorktreeProvider: Claude Code's name, base and parent", () => {
  it.scopedLive("claude -w feature/x from a base: our naming from its name; a subagent's worktree starts from its agent's branch, nested under its session; -w feature/x again re-enters the kept one", () =>
    Effect.gen(function*() {
      const { repo, run } = yield* setup
      repo.git(["branch", "old"])
      repo.write("later.txt", "later\n")
      repo.commitAll("later")
      const claude = yield* claudeProcess
      const pid = claude.pid!
      yield* run(Effect.gen(function*() {
        const p = yield* WorktreeProvider.WorktreeProvider
        const sessions = yield* Sessions.Sessions
        const lead = yield* p.create({ hook_event_name: "WorktreeCreate", cwd: repo.root, name: "feature/x", base_ref: "old" }, { pid, cwd: repo.root })
        const s = lead.registered.session
        assert.deepStrictEqual([s.name, s.branch, s.worktreePath, s.baseBranch, s.parentId, lead.parent], [
          "feature-x",
          "parallel/feature-x",
          path.join(`${repo.root}-worktrees`, "feature-x"),
          "old",
          null,
          null
        ])
        assert.isFalse(fs.existsSync(path.join(lead.path, "later.txt")), "started from old")

        // A worktree-isolated subagent asks from inside the lead's worktree: the lead's branch is its base.
        fs.writeFileSync(path.join(lead.path, "lead.txt"), "lead\n")
        repo.git(["add", "lead.txt"], lead.path)
        repo.git(["commit", "-qm", "lead work"], lead.path)
        const sub = yield* p.create({ hook_event_name: "WorktreeCreate", cwd: lead.path, name: "agent-a1b2" }, { pid, cwd: lead.path })
        const c = sub.registered.session
        assert.deepStrictEqual([c.name, c.branch, c.parentId, c.baseBranch, sub.parent], [
          "agent-a1b2",
          "parallel/agent-a1b2",
          s.sessionId,
          "parallel/feature-x",
          s.sessionId
        ])
        assert.isTrue(fs.existsSync(path.join(sub.path, "lead.txt")), "the subagent starts from the lead's commit")
        const marker = fs.readFileSync(path.join(repo.git(["rev-parse", "--absolute-git-dir"], sub.path).trim(), WorktreeProvider.SESSION_MARKER), "utf8")
        assert.include(marker, `PARALLEL_CC_PARENT_SESSION_ID=${s.sessionId}\n`)
        const st = yield* sessions.status({ repoPath: repo.root })
        assert.deepStrictEqual(st.sessions.map((v) => [v.session.name, v.session.parentId]).sort(), [["agent-a1b2", s.sessionId], ["feature-x", null]])

        // A name that cannot be a session name keeps parallel-cc's own naming.
        const long = yield* p.create({ hook_event_name: "WorktreeCreate", cwd: repo.root, name: "x".repeat(80) }, { pid, cwd: repo.root })
        assert.isNull(long.registered.session.name)
        assert.match(long.registered.session.branch ?? "", /^parallel-/)

        // The lead's worktree is kept with its uncommitted file (its commit is on the subagent's branch too);
        // `claude -w feature/x` again goes back into it.
        fs.writeFileSync(path.join(lead.path, "wip.txt"), "wip\n")
        const removed = yield* p.remove({ hook_event_name: "WorktreeRemove", worktree_path: lead.path })
        assert.strictEqual(removed.outcome, "kept")
        const again = yield* p.create({ hook_event_name: "WorktreeCreate", cwd: repo.root, name: "feature/x" }, { pid, cwd: repo.root })
        assert.isTrue(again.registered.registration.reentered)
        assert.strictEqual(again.registered.session.sessionId, s.sessionId)
        assert.strictEqual(again.path, lead.path)
        assert.isTrue(fs.existsSync(path.join(again.path, "wip.txt")))
      }))
    }))
})
