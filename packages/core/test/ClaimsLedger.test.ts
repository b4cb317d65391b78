import { NodePath } from "@effect/platform-node"
import { Path } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { AppConfig, ClaimsLedger, Database, type Domain, SessionFiles, Sessions, SessionStore } from "@parallel-cc/core"
import { TempDir, TempRepo, TestConfig } from "@parallel-cc/testkit"
import { Effect, Either, TestClock } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"

const posix = Effect.runSync(Path.Path.pipe(Effect.provide(NodePath.layer)))
const norm = (input: string, roots = { repoPath: "/w/repo", worktreePath: "/w/repo-worktrees/parallel-x" }) =>
  ClaimsLedger.normalizePath(posix, roots, input)

/** Core over a temp data dir and a temp repository; `register()` adds a session. */
const setup = Effect.gen(function*() {
  const base = yield* TempDir.make()
  const repo = TempRepo.makeSync(base)
  const layer = TestConfig.layer(path.join(base, "data"))
  const run = <A, E>(eff: Effect.Effect<A, E, any>) => Effect.provide(eff, layer) as Effect.Effect<A, E>
  return { repo, run }
})

const register = (repoPath: string) =>
  Effect.gen(function*() {
    const store = yield* SessionStore.SessionStore
    const config = yield* AppConfig.AppConfig
    return yield* store.register({
      repoPath,
      pid: process.pid,
      pidStartTime: null,
      planWorktree: SessionStore.planWorktree(config.values, repoPath)
    })
  })

const acquire = (sessionId: Domain.SessionId, p: string, mode: ClaimsLedger.ClaimMode, extra: Partial<ClaimsLedger.AcquireRequest> = {}) =>
  Effect.flatMap(ClaimsLedger.ClaimsLedger, (l) => l.acquire({ sessionId, path: p, mode, ...extra }))

describe("ClaimsLedger.normalizePath", () => {
  it("normalizes relative paths from the repository root", () => {
    assert.deepStrictEqual(norm("./a/../b.ts"), Either.right("b.ts"))
    assert.deepStrictEqual(norm("src//x/./y.ts"), Either.right("src/x/y.ts"))
    assert.deepStrictEqual(norm("src/dir/"), Either.right("src/dir"))
    assert.deepStrictEqual(norm("a/b/../../c.ts"), Either.right("c.ts"))
  })

  it("maps absolute paths in the repository or in the session's worktree to the same file", () => {
    assert.deepStrictEqual(norm("/w/repo/src/x.ts"), Either.right("src/x.ts"))
    assert.deepStrictEqual(norm("/w/repo-worktrees/parallel-x/src/x.ts"), Either.right("src/x.ts"))
    assert.deepStrictEqual(norm("/w/repo/../repo/src/x.ts"), Either.right("src/x.ts"))
  })

  it("refuses paths outside the repository, the root itself, .git and malformed input", () => {
    const reason = (input: string) => Either.match(norm(input), { onLeft: (e) => e.reason, onRight: (r) => `ok:${r}` })
    assert.strictEqual(reason("../secret.ts"), "OutsideRepo")
    assert.strictEqual(reason("a/../../b.ts"), "OutsideRepo")
    assert.strictEqual(reason("/etc/passwd"), "OutsideRepo")
    assert.strictEqual(reason("/w/repository-other/x.ts"), "OutsideRepo")
    assert.strictEqual(reason("/w/repo-worktrees/parallel-y/x.ts"), "OutsideRepo")
    assert.strictEqual(reason("."), "InvalidPath")
    assert.strictEqual(reason("./"), "InvalidPath")
    assert.strictEqual(reason("/w/repo"), "InvalidPath")
    assert.strictEqual(reason(".git/config"), "InvalidPath")
    assert.strictEqual(reason(""), "InvalidPath")
    assert.strictEqual(reason("a\nb"), "InvalidPath")
    const e = Either.getLeft(norm("../x")).pipe((o) => o._tag === "Some" ? o.value : undefined)!
    assert.strictEqual(e._tag, "ClaimError")
    assert.include(e.message, "outside the repository /w/repo")
  })

  it("the conflict matrix: EXCLUSIVE excludes claims, SHARED excludes EXCLUSIVE, INTENT never blocks", () => {
    const modes = ["EXCLUSIVE", "SHARED", "INTENT"] as const
    const table = modes.map((req) => modes.map((held) => ClaimsLedger.blocks(req, held)))
    assert.deepStrictEqual(table, [
      [true, true, false],
      [true, false, false],
      [false, false, false]
    ])
  })
})

describe("ClaimsLedger", () => {
  it.scopedLive("acquire, conflict, INTENT beside anything, downgrade, escalate, renew, release", () =>
    Effect.gen(function*() {
      const { repo, run } = yield* setup
      yield* run(Effect.gen(function*() {
        const ledger = yield* ClaimsLedger.ClaimsLedger
        const a = yield* register(repo.root)
        const b = yield* register(repo.root)
        const c = yield* register(repo.root)

        const first = yield* acquire(a.sessionId, "./src/../app.ts", "EXCLUSIVE", { reason: "refactoring" })
        assert.strictEqual(first.change, "acquired")
        assert.strictEqual(first.claim.filePath, "app.ts")
        assert.strictEqual(first.claim.repoPath, repo.root)
        assert.strictEqual(first.claim.reason, "refactoring")
        assert.deepStrictEqual(first.others, [])

        const refused = yield* acquire(b.sessionId, "app.ts", "SHARED").pipe(Effect.flip)
        assert.strictEqual(refused._tag, "ClaimConflict")
        if (refused._tag === "ClaimConflict") {
          assert.deepStrictEqual(refused.holders.map((h) => [h.sessionId, h.mode]), [[a.sessionId, "EXCLUSIVE"]])
          assert.include(refused.message, a.sessionId)
        }

        // INTENT is granted beside an EXCLUSIVE claim, and both see each other.
        const intent = yield* acquire(b.sessionId, `${repo.root}/app.ts`, "INTENT")
        assert.strictEqual(intent.change, "acquired")
        assert.deepStrictEqual(intent.others.map((o) => o.sessionId), [a.sessionId])

        // Downgrade always works; then SHARED beside SHARED.
        const down = yield* acquire(a.sessionId, "app.ts", "SHARED")
        assert.strictEqual(down.change, "downgraded")
        assert.strictEqual(down.claim.claimId, first.claim.claimId)
        assert.strictEqual(down.claim.reason, "refactoring")
        const up = yield* acquire(b.sessionId, "app.ts", "SHARED")
        assert.strictEqual(up.change, "escalated")

        // EXCLUSIVE is refused while others share it; the error lists the SHARED holders, not INTENTs.
        yield* acquire(c.sessionId, "app.ts", "INTENT")
        const excl = yield* acquire(c.sessionId, "app.ts", "EXCLUSIVE").pipe(Effect.flip)
        assert.strictEqual(excl._tag, "ClaimConflict")
        if (excl._tag === "ClaimConflict") {
          assert.sameMembers(excl.holders.map((h) => h.sessionId), [a.sessionId, b.sessionId])
          assert.include(excl.message, "an INTENT claim is always possible")
        }
        const escalate = yield* acquire(a.sessionId, "app.ts", "EXCLUSIVE").pipe(Effect.flip)
        assert.strictEqual(escalate._tag, "ClaimConflict")

        // Once b lets go, a can escalate; renewing keeps the claim.
        const released = yield* ledger.release(b.sessionId, "app.ts")
        assert.strictEqual(released.releaseReason, "released")
        const escalated = yield* acquire(a.sessionId, "app.ts", "EXCLUSIVE")
        assert.strictEqual(escalated.change, "escalated")
        assert.deepStrictEqual(escalated.others.map((o) => [o.sessionId, o.mode]), [[c.sessionId, "INTENT"]])
        const renewed = yield* acquire(a.sessionId, "app.ts", "EXCLUSIVE")
        assert.strictEqual(renewed.change, "renewed")

        // existingOnly: changing a claim that does not exist.
        const none = yield* acquire(b.sessionId, "other.ts", "SHARED", { existingOnly: true }).pipe(Effect.flip)
        assert.strictEqual(none._tag, "ClaimNotFound")
        const notHeld = yield* ledger.release(b.sessionId, "app.ts").pipe(Effect.flip)
        assert.strictEqual(notHeld._tag, "ClaimNotFound")

        const listed = yield* ledger.list({ repoPath: repo.root })
        assert.deepStrictEqual(listed.map((l) => [l.sessionId, l.mode]), [[a.sessionId, "EXCLUSIVE"], [c.sessionId, "INTENT"]])
        assert.deepStrictEqual((yield* ledger.list({ sessionId: c.sessionId })).map((l) => l.filePath), ["app.ts"])
        assert.lengthOf(yield* ledger.list({ filePath: "nope.ts" }), 0)
        // Branch and directory of the holder come along.
        const cc = (yield* ledger.list({ sessionId: c.sessionId }))[0]!
        assert.strictEqual(cc.branch, c.branch)
        assert.strictEqual(cc.worktreePath, c.worktreePath)
      }))
    }))

  it.scopedLive("paths outside the repository and ended sessions are typed errors", () =>
    Effect.gen(function*() {
      const { repo, run } = yield* setup
      yield* run(Effect.gen(function*() {
        const store = yield* SessionStore.SessionStore
        const a = yield* register(repo.root)
        const outside = yield* acquire(a.sessionId, "../elsewhere.ts", "EXCLUSIVE").pipe(Effect.flip)
        assert.strictEqual(outside._tag, "ClaimError")
        assert.strictEqual((outside as ClaimsLedger.ClaimError).reason, "OutsideRepo")
        const abs = yield* acquire(a.sessionId, "/etc/hosts", "INTENT").pipe(Effect.flip)
        assert.strictEqual((abs as ClaimsLedger.ClaimError).reason, "OutsideRepo")
        yield* store.markReleased(a.sessionId)
        const ended = yield* acquire(a.sessionId, "x.ts", "EXCLUSIVE").pipe(Effect.flip)
        assert.strictEqual((ended as ClaimsLedger.ClaimError).reason, "SessionNotActive")
        const unknown = yield* acquire("nosuchsession" as Domain.SessionId, "x.ts", "EXCLUSIVE").pipe(Effect.flip)
        assert.strictEqual(unknown._tag, "SessionNotFound")
      }))
    }))

  it.scopedLive("claims end with their session: releaseSession, and a released session never blocks", () =>
    Effect.gen(function*() {
      const { repo, run } = yield* setup
      yield* run(Effect.gen(function*() {
        const ledger = yield* ClaimsLedger.ClaimsLedger
        const store = yield* SessionStore.SessionStore
        const a = yield* register(repo.root)
        const b = yield* register(repo.root)
        yield* acquire(a.sessionId, "one.ts", "EXCLUSIVE")
        yield* acquire(a.sessionId, "two.ts", "SHARED")
        yield* acquire(b.sessionId, "three.ts", "EXCLUSIVE")
        const ended = yield* ledger.releaseSession(a.sessionId)
        assert.sameMembers(ended.map((c) => c.filePath), ["one.ts", "two.ts"])
        assert.isTrue(ended.every((c) => c.releaseReason === "session-ended" && c.releasedAt !== null))
        assert.deepStrictEqual((yield* ledger.list()).map((c) => c.filePath), ["three.ts"])
        assert.lengthOf(yield* ledger.releaseSession(a.sessionId), 0)

        // Even if nobody released b's claims, an ended session's claims neither list nor block.
        yield* store.markReleased(b.sessionId)
        assert.lengthOf(yield* ledger.list(), 0)
        const c = yield* register(repo.root)
        const taken = yield* acquire(c.sessionId, "three.ts", "EXCLUSIVE")
        assert.strictEqual(taken.change, "acquired")
        assert.deepStrictEqual(taken.others, [])
      }))
    }))

  it.scoped("claims expire after their TTL (config default or per claim), and others can then take the file", () =>
    Effect.gen(function*() {
      const base = yield* TempDir.make()
      const repo = TempRepo.makeSync(base)
      yield* Effect.gen(function*() {
        const ledger = yield* ClaimsLedger.ClaimsLedger
        const a = yield* register(repo.root)
        const b = yield* register(repo.root)
        const byDefault = yield* acquire(a.sessionId, "a.ts", "EXCLUSIVE")
        assert.strictEqual(byDefault.claim.expiresAt.getTime() - byDefault.claim.createdAt.getTime(), 15 * 60_000)
        yield* acquire(a.sessionId, "b.ts", "EXCLUSIVE", { ttlMinutes: 120 })

        yield* TestClock.adjust("16 minutes")
        assert.deepStrictEqual((yield* ledger.list()).map((c) => c.filePath), ["b.ts"])
        const took = yield* acquire(b.sessionId, "a.ts", "EXCLUSIVE")
        assert.deepStrictEqual(took.others, [])
        assert.strictEqual((yield* acquire(b.sessionId, "b.ts", "SHARED").pipe(Effect.flip))._tag, "ClaimConflict")
        // Releasing an expired claim: there is nothing to release.
        assert.strictEqual((yield* ledger.release(a.sessionId, "a.ts").pipe(Effect.flip))._tag, "ClaimNotFound")

        yield* TestClock.adjust("2 hours")
        assert.strictEqual(yield* ledger.sweep, 2)
        assert.lengthOf(yield* ledger.list(), 0)
      }).pipe(Effect.provide(TestConfig.layer(path.join(base, "data"), { PARALLEL_CC_CLAIMS_TTL_MINUTES: "15" })))
    }))

  it.scopedLive("the one release path ends a session's claims: release, and cleanup of a dead session", () =>
    Effect.gen(function*() {
      const { repo, run } = yield* setup
      // A process that stands in for an agent, killed halfway.
      const agent = yield* Effect.acquireRelease(
        Effect.sync(() => spawn("sleep", ["60"], { stdio: "ignore" })),
        (child) => Effect.sync(() => child.kill("SIGKILL"))
      )
      yield* run(Effect.gen(function*() {
        const sessions = yield* Sessions.Sessions
        const ledger = yield* ClaimsLedger.ClaimsLedger
        const main = (yield* sessions.register({ repo: repo.root, pid: process.pid })).session
        const second = (yield* sessions.register({ repo: repo.root, pid: process.pid })).session
        const doomed = (yield* sessions.register({ repo: repo.root, pid: agent.pid! })).session
        assert.isFalse(second.isMainRepo)
        yield* acquire(second.sessionId, "a.ts", "EXCLUSIVE")
        yield* acquire(second.sessionId, "b.ts", "SHARED")
        yield* acquire(doomed.sessionId, "c.ts", "EXCLUSIVE")
        yield* acquire(main.sessionId, "d.ts", "INTENT")

        yield* sessions.release({ sessionId: second.sessionId })
        const ended = yield* ledger.list({ sessionId: second.sessionId })
        assert.lengthOf(ended, 0)
        const db = yield* Database.Database
        const closed = yield* db.sql<{ file_path: string; release_reason: string }>`
          SELECT file_path, release_reason FROM file_claims WHERE session_id = ${second.sessionId} ORDER BY file_path`
        assert.deepStrictEqual(closed.map((r) => [r.file_path, r.release_reason]), [["a.ts", "session-ended"], ["b.ts", "session-ended"]])

        agent.kill("SIGKILL")
        yield* Effect.promise(() => new Promise((r) => agent.once("exit", r)))
        const report = yield* sessions.cleanup()
        assert.include(report.released.map((r) => r.sessionId), doomed.sessionId)
        assert.deepStrictEqual((yield* ledger.list()).map((c) => [c.sessionId, c.filePath]), [[main.sessionId, "d.ts"]])
        const dead = yield* db.sql<{ release_reason: string }>`SELECT release_reason FROM file_claims WHERE session_id = ${doomed.sessionId}`
        assert.deepStrictEqual(dead.map((r) => r.release_reason), ["session-ended"])
      }))
    }))

  it.scopedLive("paths resolve through symbolic links; a link leading outside the repository is refused like an outside path", () =>
    Effect.gen(function*() {
      const { repo, run } = yield* setup
      const outside = TempDir.makeSync("pcc-outside-")
      fs.mkdirSync(path.join(repo.root, "src"))
      fs.writeFileSync(path.join(repo.root, "src", "cart.ts"), "x\n")
      fs.symlinkSync("src", path.join(repo.root, "alias"))
      fs.symlinkSync(outside, path.join(repo.root, "escape"))
      fs.symlinkSync(path.join(outside, "nothing-here"), path.join(repo.root, "dangling"))
      fs.symlinkSync(".git", path.join(repo.root, "gitlink"))
      repo.commitAll("links")
      yield* run(Effect.gen(function*() {
        const sessions = yield* Sessions.Sessions
        const ledger = yield* ClaimsLedger.ClaimsLedger
        const s = (yield* sessions.register({ repo: repo.root, pid: process.pid })).session
        const a = yield* acquire(s.sessionId, "alias/cart.ts", "EXCLUSIVE")
        assert.strictEqual(a.claim.filePath, "src/cart.ts", "a link inside the repository leads to its target")
        assert.strictEqual((yield* ledger.normalize({ repoPath: repo.root }, path.join(repo.root, "alias", "new.ts"))), "src/new.ts")
        for (const bad of ["escape/x.ts", "escape", "dangling", "dangling/deeper.ts"]) {
          const e = yield* Effect.flip(acquire(s.sessionId, bad, "INTENT"))
          assert.strictEqual(e._tag, "ClaimError", bad)
          assert.strictEqual((e as ClaimsLedger.ClaimError).reason, "OutsideRepo", bad)
          assert.include(e.message, "outside the repository")
        }
        const git = yield* Effect.flip(acquire(s.sessionId, "gitlink/config", "INTENT"))
        assert.strictEqual((git as ClaimsLedger.ClaimError).reason, "InvalidPath")
      }))
      TempDir.removeSync(outside)
    }))

  it.scopedLive("an EXCLUSIVE claim is published in its session's directory for the other sessions' hooks, and withdrawn", () =>
    Effect.gen(function*() {
      const { repo, run } = yield* setup
      yield* run(Effect.gen(function*() {
        const sessions = yield* Sessions.Sessions
        const files = yield* SessionFiles.SessionFiles
        const s = (yield* sessions.register({ repo: repo.root, pid: process.pid })).session
        const published = path.join(files.dir(s.sessionId), "claims", "src", "cart.ts")
        const c = yield* acquire(s.sessionId, "src/cart.ts", "EXCLUSIVE", { reason: "rewriting totals", ttlMinutes: 30 })
        assert.strictEqual(Math.round(fs.statSync(published).mtimeMs / 1000), Math.round(c.claim.expiresAt.getTime() / 1000), "mtime = expiry")
        const text = fs.readFileSync(published, "utf8")
        assert.include(text, `session ${s.sessionId}`)
        assert.include(text, "rewriting totals")
        assert.include(text, `parallel-cc unclaim src/cart.ts --session ${s.sessionId}`)
        yield* acquire(s.sessionId, "src/cart.ts", "INTENT")
        assert.isFalse(fs.existsSync(published), "a downgrade withdraws it")
        yield* acquire(s.sessionId, "src/cart.ts", "EXCLUSIVE")
        yield* Effect.flatMap(ClaimsLedger.ClaimsLedger, (l) => l.release(s.sessionId, "src/cart.ts"))
        assert.isFalse(fs.existsSync(published), "a release withdraws it")
        yield* acquire(s.sessionId, "src/cart.ts", "EXCLUSIVE")
        yield* Effect.flatMap(ClaimsLedger.ClaimsLedger, (l) => l.releaseSession(s.sessionId, "released"))
        assert.isFalse(fs.existsSync(published))
      }))
    }))
})
