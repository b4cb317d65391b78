import { assert, describe, it } from "@effect/vitest"
import { Database, Domain, Overlaps, SessionFiles, Sessions, SessionWatcher } from "@parallel-cc/core"
import { TempDir, TempRepo, TestConfig } from "@parallel-cc/testkit"
import { Deferred, Effect, Exit, Fiber, type Layer } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"

const cart = `export function total(items: Array<number>): number {
  let sum = 0
  for (const i of items) sum += i
  return sum
}

export class Cart {
  items: Array<number> = []
  add(n: number) {
    this.items.push(n)
  }
  clear() {
    this.items = []
  }
}

export const TAX = 0.2
`

const setup = Effect.gen(function*() {
  const base = yield* TempDir.make()
  const repo = TempRepo.makeSync(base, { files: { "src/cart.ts": cart, "README.md": "# r\n", ".gitignore": "dist/\n" } })
  const data = path.join(base, "data")
  const run = <A, E>(eff: Effect.Effect<A, E, Layer.Layer.Success<ReturnType<typeof TestConfig.layer>>>) => Effect.provide(eff, TestConfig.layer(data, {}))
  return { repo, data, run }
})

const edit = (file: string, from: string, to: string) => {
  const text = fs.readFileSync(file, "utf8")
  if (!text.includes(from)) throw new Error(`${from} not in ${file}`)
  fs.writeFileSync(file, text.replace(from, to))
}

const noticesOf = (data: string, id: string) => {
  const dir = path.join(data, "live", id, "notices")
  return fs.readdirSync(dir).filter((n) => !n.startsWith(".")).map((n) => fs.readFileSync(path.join(dir, n), "utf8"))
}

describe("Overlaps", () => {
  it.scopedLive("two sessions change the same function: a symbol-level overlap that conflicts, each agent told once; it ends when one side reverts", () =>
    Effect.gen(function*() {
      const { repo, data, run } = yield* setup
      yield* run(Effect.gen(function*() {
        const sessions = yield* Sessions.Sessions
        const overlaps = yield* Overlaps.Overlaps
        const a = (yield* sessions.register({ repo: repo.root, pid: process.pid })).session
        const b = (yield* sessions.register({ repo: repo.root, pid: process.pid })).session
        edit(path.join(a.worktreePath, "src/cart.ts"), "let sum = 0", "let sum = 1")
        edit(path.join(b.worktreePath, "src/cart.ts"), "sum += i", "sum += i * 2")
        fs.writeFileSync(path.join(b.worktreePath, "notes.md"), "untracked\n")
        fs.mkdirSync(path.join(b.worktreePath, "dist"))
        fs.writeFileSync(path.join(b.worktreePath, "dist", "out.js"), "ignored\n")
        const ra = yield* overlaps.scan(a.sessionId)
        assert.strictEqual(ra.files, 1)
        assert.lengthOf(ra.opened, 0, "b has not been scanned yet")
        const rb = yield* overlaps.scan(b.sessionId)
        assert.strictEqual(rb.files, 2)
        assert.lengthOf(rb.opened, 1)
        const [o] = yield* overlaps.list({ repoPath: repo.root })
        assert.strictEqual(o!.filePath, "src/cart.ts")
        assert.strictEqual(o!.level, "symbol")
        assert.deepStrictEqual(o!.symbols, ["total"])
        assert.isTrue(o!.conflict)
        assert.sameMembers([o!.sessionA, o!.sessionB], [a.sessionId, b.sessionId])
        // Each agent has one notice, naming the other session and the symbol.
        const na = noticesOf(data, a.sessionId)
        const nb = noticesOf(data, b.sessionId)
        assert.lengthOf(na, 1)
        assert.lengthOf(nb, 1)
        assert.include(na[0], b.sessionId)
        assert.include(na[0], "`total`")
        assert.include(na[0], "would conflict")
        assert.include(nb[0], a.sessionId)
        // Changed files: committed and uncommitted kinds, untracked included, ignored left out.
        const changes = yield* overlaps.changes({ sessionId: b.sessionId })
        assert.deepStrictEqual(changes.map((c) => [c.filePath, c.status, c.uncommitted]), [["notes.md", "added", true], ["src/cart.ts", "modified", true]])
        // Peers' hooks see a's change of the file.
        const news = fs.readFileSync(path.join(data, "live", a.sessionId, "changes", "src", "cart.ts"), "utf8").split("\n")
        assert.strictEqual(news[0], `overlap.${a.sessionId}.src%2Fcart.ts`)
        assert.include(news[1], "`total`")
        // A second scan with nothing new changes nothing and tells nobody again.
        assert.isFalse((yield* overlaps.scan(a.sessionId)).changed)
        assert.lengthOf((yield* overlaps.scan(b.sessionId, { force: true })).opened, 0)
        assert.lengthOf(noticesOf(data, a.sessionId), 1)
        // Committed work counts too; a revert ends the overlap.
        repo.git(["add", "-A"], b.worktreePath)
        repo.git(["commit", "-q", "-m", "b"], b.worktreePath)
        yield* overlaps.scan(b.sessionId)
        const committed = yield* overlaps.changes({ sessionId: b.sessionId })
        assert.deepStrictEqual(committed.map((c) => [c.filePath, c.committed, c.uncommitted]), [["notes.md", true, false], ["src/cart.ts", true, false]])
        assert.lengthOf(yield* overlaps.list({ repoPath: repo.root }), 1)
        edit(path.join(a.worktreePath, "src/cart.ts"), "let sum = 1", "let sum = 0")
        yield* overlaps.scan(a.sessionId)
        assert.deepStrictEqual(yield* overlaps.list({ repoPath: repo.root }), [])
        assert.isFalse(fs.existsSync(path.join(data, "live", a.sessionId, "changes", "src", "cart.ts")))
      }))
    }))

  it.scopedLive("different members of one class: a file-level overlap that merges cleanly; the worktree and its index are untouched", () =>
    Effect.gen(function*() {
      const { repo, run } = yield* setup
      yield* run(Effect.gen(function*() {
        const sessions = yield* Sessions.Sessions
        const overlaps = yield* Overlaps.Overlaps
        const a = (yield* sessions.register({ repo: repo.root, pid: process.pid })).session
        const b = (yield* sessions.register({ repo: repo.root, pid: process.pid })).session
        edit(path.join(a.worktreePath, "src/cart.ts"), "this.items.push(n)", "this.items.push(n, n)")
        edit(path.join(b.worktreePath, "src/cart.ts"), "export const TAX = 0.2", "export const TAX = 0.25")
        repo.git(["add", "src/cart.ts"], a.worktreePath)
        const statusBefore = repo.git(["status", "--porcelain=v2"], a.worktreePath)
        const indexBefore = fs.readFileSync(path.join(repo.root, ".git", "index"))
        yield* overlaps.scanRepo(repo.root)
        const [o] = yield* overlaps.list({ repoPath: repo.root })
        assert.strictEqual(o!.level, "file")
        assert.deepStrictEqual(o!.symbols, [])
        assert.isFalse(o!.conflict)
        const ca = yield* overlaps.changes({ sessionId: a.sessionId })
        assert.deepStrictEqual(ca[0]!.symbols, ["Cart.add"])
        assert.strictEqual(repo.git(["status", "--porcelain=v2"], a.worktreePath), statusBefore)
        assert.deepStrictEqual(fs.readFileSync(path.join(repo.root, ".git", "index")), indexBefore)
      }))
    }))

  it.scopedLive("a watcher stopped between recording an overlap and queuing its notices: the next watcher of the session sends them, once", () =>
    Effect.gen(function*() {
      const { repo, data, run } = yield* setup
      yield* run(Effect.gen(function*() {
        const sessions = yield* Sessions.Sessions
        const overlaps = yield* Overlaps.Overlaps
        const files = yield* SessionFiles.SessionFiles
        const a = (yield* sessions.register({ repo: repo.root, pid: process.pid })).session
        const b = (yield* sessions.register({ repo: repo.root, pid: process.pid })).session
        edit(path.join(a.worktreePath, "src/cart.ts"), "let sum = 0", "let sum = 1")
        edit(path.join(b.worktreePath, "src/cart.ts"), "sum += i", "sum += i * 2")
        yield* overlaps.scan(a.sessionId)
        // b's scan is stopped at the first notice it queues: after the overlap was recorded, before any notice.
        const stopping = SessionFiles.SessionFiles.of({ ...files, addNotice: () => Effect.interrupt })
        const stopped = yield* Overlaps.make.pipe(Effect.provideService(SessionFiles.SessionFiles, stopping))
        const exit = yield* Effect.exit(stopped.scan(b.sessionId))
        assert.isTrue(Exit.isInterrupted(exit), "the scan was stopped at the notice")
        assert.lengthOf(yield* overlaps.list({ repoPath: repo.root }), 1, "the overlap was recorded")
        assert.isFalse(fs.existsSync(path.join(data, "live", a.sessionId, "notices")) && noticesOf(data, a.sessionId).length > 0)
        // The next watcher of b: its first scan finds b's work unchanged and sends the notices still owed.
        const watcher = yield* SessionWatcher.make
        const scanned = yield* Deferred.make<void>()
        const fiber = yield* Effect.fork(watcher.watch(b.sessionId, { onScan: () => Deferred.unsafeDone(scanned, Exit.void) }))
        yield* Deferred.await(scanned)
        yield* Fiber.interrupt(fiber)
        const na = noticesOf(data, a.sessionId)
        const nb = noticesOf(data, b.sessionId)
        assert.lengthOf(na, 1)
        assert.lengthOf(nb, 1)
        assert.include(na[0], b.sessionId)
        assert.include(nb[0], a.sessionId)
        // Sent once: later scans of either side owe nothing more.
        yield* overlaps.scan(a.sessionId, { force: true })
        yield* overlaps.scan(b.sessionId, { force: true })
        assert.lengthOf(noticesOf(data, a.sessionId), 1)
        assert.lengthOf(noticesOf(data, b.sessionId), 1)
      }))
    }))

  it.scopedLive("8 sessions scanning at once: every pair recorded exactly once", () =>
    Effect.gen(function*() {
      const { repo, run } = yield* setup
      yield* run(Effect.gen(function*() {
        const sessions = yield* Sessions.Sessions
        const overlaps = yield* Overlaps.Overlaps
        const db = yield* Database.Database
        const ids: Array<Domain.SessionId> = []
        for (let i = 0; i < 8; i++) {
          const s = (yield* sessions.register({ repo: repo.root, pid: process.pid })).session
          fs.appendFileSync(path.join(s.worktreePath, "README.md"), `line from ${i}\n`)
          fs.writeFileSync(path.join(s.worktreePath, `own-${i}.txt`), "x\n")
          ids.push(s.sessionId)
        }
        // Twice, all at once: scans racing each other's snapshots.
        for (let round = 0; round < 2; round++) {
          yield* Effect.forEach(ids, (id) => overlaps.scan(id, { force: true }), { concurrency: "unbounded", discard: true })
        }
        const list = yield* overlaps.list({ repoPath: repo.root })
        assert.lengthOf(list, 28, "8 choose 2 pairs on README.md")
        assert.isTrue(list.every((o) => o.filePath === "README.md" && o.conflict === true))
        const rows = yield* db.sql<{ n: number }>`SELECT COUNT(*) AS n FROM overlaps`
        assert.strictEqual(rows[0]!.n, 28, "no duplicate or ended rows")
      }))
    }))
})
