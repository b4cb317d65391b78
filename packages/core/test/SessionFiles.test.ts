import { assert, describe, it } from "@effect/vitest"
import { Database, SessionFiles, Sessions, SessionStore } from "@parallel-cc/core"
import { TempDir, TempRepo, TestConfig } from "@parallel-cc/testkit"
import { Effect, Option } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"

const setup = Effect.gen(function*() {
  const base = yield* TempDir.make()
  const repo = TempRepo.makeSync(base, { files: { "README.md": "# r\n" } })
  const data = path.join(base, "data")
  const run = <A, E>(
    eff: Effect.Effect<A, E, Sessions.Sessions | SessionStore.SessionStore | Database.Database | SessionFiles.SessionFiles>
  ) => Effect.provide(eff, TestConfig.layer(data, {}))
  return { repo, data, run }
})

const peersOf = (dir: string) => fs.readdirSync(path.join(dir, "peers")).sort()

describe("SessionFiles", () => {
  it.scopedLive("register creates the session directory (0700, state starting), exports it, links the repository's live sessions; release removes it", () =>
    Effect.gen(function*() {
      const { repo, data, run } = yield* setup
      yield* run(Effect.gen(function*() {
        const sessions = yield* Sessions.Sessions
        const files = yield* SessionFiles.SessionFiles
        const a = yield* sessions.register({ repo: repo.root, pid: process.pid })
        const b = yield* sessions.register({ repo: repo.root, pid: process.pid })
        const dirA = path.join(data, "live", a.session.sessionId)
        const dirB = path.join(data, "live", b.session.sessionId)
        assert.strictEqual(a.sessionDir, dirA)
        assert.strictEqual(a.env.PARALLEL_CC_SESSION_DIR, dirA)
        assert.strictEqual(b.env.PARALLEL_CC_SESSION_DIR, dirB)
        assert.strictEqual(fs.statSync(dirA).mode & 0o777, 0o700)
        assert.strictEqual(fs.readFileSync(path.join(dirB, "state"), "utf8"), "starting\n")
        assert.strictEqual(fs.readFileSync(path.join(dirB, "worktree"), "utf8"), `${b.session.worktreePath}\n`)
        assert.strictEqual(fs.readFileSync(path.join(dirB, "repo"), "utf8"), `${repo.root}\n`)
        assert.deepStrictEqual(peersOf(dirA), [b.session.sessionId])
        assert.deepStrictEqual(peersOf(dirB), [a.session.sessionId])
        // A peer link leads to the peer's own directory.
        assert.strictEqual(fs.realpathSync(path.join(dirA, "peers", b.session.sessionId)), fs.realpathSync(dirB))
        const st = Option.getOrThrow(yield* files.state(b.session.sessionId))
        assert.strictEqual(st.state, "starting")
        assert.isTrue(yield* files.setState(b.session.sessionId, "working"))
        assert.isFalse(yield* files.setState(b.session.sessionId, "working"), "unchanged state: not rewritten")

        yield* sessions.release({ sessionId: b.session.sessionId }, { force: true })
        assert.isFalse(fs.existsSync(dirB))
        assert.deepStrictEqual(peersOf(dirA), [], "the ended session is unlinked from its peers")
        assert.isTrue(Option.isNone(yield* files.state(b.session.sessionId)))
        assert.isFalse(yield* files.addNotice(b.session.sessionId, { key: "k", text: "too late" }))
        assert.isFalse(yield* files.setState(b.session.sessionId, "idle"), "an ended session's state is not recreated")
        assert.isFalse(fs.existsSync(dirB))
        yield* sessions.release({ sessionId: a.session.sessionId })
        assert.isFalse(fs.existsSync(dirA))
      }))
    }))

  it.scopedLive("notice keys of any text, long keys, claims and changes under nested paths, bad paths refused", () =>
    Effect.gen(function*() {
      const { repo, data, run } = yield* setup
      yield* run(Effect.gen(function*() {
        const sessions = yield* Sessions.Sessions
        const files = yield* SessionFiles.SessionFiles
        const a = (yield* sessions.register({ repo: repo.root, pid: process.pid })).session.sessionId
        const dir = path.join(data, "live", a)
        const keys = ["overlap.x.src/a b.ts", ".hidden", "é/../..", "k".repeat(500), "k".repeat(499) + "j"]
        for (const key of keys) assert.isTrue(yield* files.addNotice(a, { key, text: `for ${key}` }), key)
        const names = fs.readdirSync(path.join(dir, "notices"))
        assert.lengthOf(names, keys.length)
        assert.isTrue(names.every((n) => !n.startsWith(".") && !n.includes("/") && n.length <= 255), names.join(" "))
        assert.lengthOf(yield* files.pendingNotices(a), keys.length)

        yield* files.setChange(a, "src/deep/file.ts", { key: "c1", text: "changed" })
        assert.strictEqual(fs.readFileSync(path.join(dir, "changes/src/deep/file.ts"), "utf8"), "c1\nchanged\n")
        // The same name as a folder later (src/deep was a file, now holds one).
        yield* files.setChange(a, "src/x", { key: "c2", text: "x" })
        yield* files.setChange(a, "src/x/y", { key: "c3", text: "y" })
        assert.isTrue(fs.existsSync(path.join(dir, "changes/src/x/y")))
        const expiresAt = new Date(Date.now() + 60_000)
        yield* files.setClaim(a, "src/cart.ts", { expiresAt, refusal: "no \"way\"" })
        assert.strictEqual(Math.round(fs.statSync(path.join(dir, "claims/src/cart.ts")).mtimeMs / 1000), Math.round(expiresAt.getTime() / 1000))
        assert.strictEqual(fs.readFileSync(path.join(dir, "claims/src/cart.ts"), "utf8"), "no \\\"way\\\"\n")
        for (const bad of ["../x", "/etc/passwd", "a/./b", "a//b", ".git/config", "", "a\nb"]) {
          const r = yield* Effect.either(files.setChange(a, bad, { key: "k", text: "t" }))
          assert.isTrue(r._tag === "Left" && r.left.reason === "InvalidPath", bad)
        }
        yield* files.clearChanges(a)
        assert.deepStrictEqual(fs.readdirSync(path.join(dir, "changes")), [])
      }))
    }))
})
