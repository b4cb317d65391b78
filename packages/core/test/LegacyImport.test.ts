import { AppConfig, ClaimsLedger, Database, LegacyImport, Live, MergeWatcher, SessionStore } from "@parallel-cc/core"
import { LegacyDb, TempDir } from "@parallel-cc/testkit"
import Sqlite from "better-sqlite3"
import { Cause, Effect, Exit, Layer, Option } from "effect"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, assert, describe, it } from "vitest"

const dirs: Array<string> = []
afterEach(() => {
  for (const d of dirs.splice(0)) TempDir.removeSync(d)
})
const tmp = () => {
  const d = TempDir.makeSync("pcc-legacy-")
  dirs.push(d)
  return d
}

const provider = (dataDir: string) =>
  Layer.setConfigProvider(AppConfig.envProvider({ PARALLEL_CC_DATA_DIR: dataDir }, { homeDir: dataDir }))
const runExit = <A, E, R>(dataDir: string, layer: Layer.Layer<R, unknown>, eff: Effect.Effect<A, E, R>) =>
  Effect.runPromiseExit(Effect.scoped(eff.pipe(Effect.provide(layer.pipe(Layer.provide(provider(dataDir)))))))
const run = async <A, E, R>(dataDir: string, layer: Layer.Layer<R, unknown>, eff: Effect.Effect<A, E, R>) => {
  const exit = await runExit(dataDir, layer, eff)
  if (Exit.isFailure(exit)) throw new Error(Cause.pretty(exit.cause))
  return exit.value
}

const sha = (file: string) => createHash("sha256").update(fs.readFileSync(file)).digest("hex")
const now = Date.now()
const t = (minutesAgo: number) => LegacyDb.sqliteTime(now - minutesAgo * 60_000)

const liveId = "3f1c2b8e-6a57-4d0e-9a43-1f2e3d4c5b6a"
const deadId = "a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d"
const sandboxId = "legacy-e2b-session-with-a-rather-long-identifier-1"

const seed = (file: string) =>
  LegacyDb.create(file, {
    sessions: [
      { id: liveId, pid: process.pid, repo_path: "/repos/app", worktree_path: "/repos/app", is_main_repo: 1, created_at: t(30), last_heartbeat: t(1) },
      {
        id: deadId,
        pid: 2 ** 22 + 17,
        repo_path: "/repos/app",
        worktree_path: "/repos/app-worktrees/parallel-x1",
        worktree_name: "parallel-x1",
        is_main_repo: 0,
        created_at: t(600),
        last_heartbeat: t(500)
      },
      {
        id: sandboxId,
        pid: 2 ** 22 + 18,
        repo_path: "/repos/lib",
        worktree_path: "/repos/lib-worktrees/e2b-1",
        is_main_repo: 0,
        execution_mode: "e2b",
        sandbox_id: "sbx_123",
        prompt: "do it",
        status: "COMPLETED",
        created_at: t(90),
        last_heartbeat: t(80)
      }
    ],
    fileClaims: [
      { id: "claim-1", session_id: liveId, repo_path: "/repos/app", file_path: "src/a.ts", claim_mode: "EXCLUSIVE", claimed_at: t(5), expires_at: t(-55), last_heartbeat: t(1) },
      { id: "claim-2", session_id: deadId, repo_path: "/repos/app", file_path: "src/b.ts", claim_mode: "SHARED", claimed_at: t(550), expires_at: t(-5), last_heartbeat: t(500) },
      { id: "claim-3", session_id: liveId, repo_path: "/repos/app", file_path: "src/c.ts", claim_mode: "INTENT", claimed_at: t(20), expires_at: t(-40), is_active: 0, released_at: t(10) }
    ],
    mergeEvents: [
      { id: "m1", repo_path: "/repos/app", branch_name: "parallel-x1", source_commit: "a".repeat(40), target_commit: "b".repeat(40) }
    ],
    subscriptions: [{ id: "s1", session_id: liveId, repo_path: "/repos/app", branch_name: "parallel-x1" }]
  })

describe("LegacyImport", () => {
  it("detects the original schema, backs it up, keeps the original byte for byte, imports sessions, claims and merge records once", async () => {
    const data = tmp()
    const db = path.join(data, "coordinator.db")
    seed(db)
    const before = sha(db)

    // Nothing opens it as ours: the store refuses with a message that says what to do.
    const refused = await runExit(data, Live.layer, Effect.flatMap(Database.Database, (d) => d.version))
    assert.isTrue(Exit.isFailure(refused))
    const err = Exit.isFailure(refused) ? (Cause.squash(refused.cause) as any) : undefined
    assert.strictEqual(err?.reason, "LegacySchema")
    assert.include(err?.message, "parallel-cc migrate")
    assert.strictEqual(sha(db), before)

    const found = await run(data, Live.configLayer, LegacyImport.inspect(db))
    assert.strictEqual(Option.getOrThrow(found).kind, "legacy")
    const info = Option.getOrThrow(Option.getOrThrow(found).info)
    assert.deepInclude(info, { version: "1.1.0" })
    assert.deepInclude(info.counts, { sessions: 3, fileClaims: 3, mergeEvents: 1, subscriptions: 1 })

    const prepared = Option.getOrThrow(await run(data, Live.configLayer, LegacyImport.prepare(db)))
    assert.isFalse(fs.existsSync(db))
    assert.strictEqual(prepared.source, path.join(data, "coordinator.legacy.db"))
    assert.strictEqual(sha(prepared.source), before, "the original is moved, never modified")
    const backup = new Sqlite(prepared.backup, { readonly: true })
    assert.strictEqual((backup.prepare("SELECT count(*) AS n FROM sessions").get() as any).n, 3)
    backup.close()

    const imported = await run(
      data,
      Live.layerNoMigrate,
      Effect.gen(function*() {
        const store = yield* Database.Database
        yield* store.migrate()
        return yield* LegacyImport.importFile({ source: prepared.source, original: db, backup: prepared.backup })
      })
    )
    assert.deepStrictEqual(imported.sessions, { found: 3, imported: 3, skipped: 0, pending: 0 })
    assert.deepStrictEqual(imported.fileClaims, { found: 3, imported: 3, skipped: 0, pending: 0 })
    assert.deepStrictEqual(imported.mergeEvents, { found: 1, imported: 1, skipped: 0, pending: 0 })
    assert.deepStrictEqual(imported.subscriptions, { found: 1, imported: 1, skipped: 0, pending: 0 })
    assert.isTrue(imported.complete)

    const { claims, events, sessions, subscriptions } = await run(
      data,
      Live.layer,
      Effect.gen(function*() {
        const store = yield* SessionStore.SessionStore
        const ledger = yield* ClaimsLedger.ClaimsLedger
        const merges = yield* MergeWatcher.MergeWatcher
        return {
          sessions: yield* store.list({ status: "all" }),
          claims: yield* ledger.list({}),
          events: yield* merges.events({}),
          subscriptions: yield* merges.subscriptions({})
        }
      })
    )
    const byId = Object.fromEntries(sessions.map((s) => [s.sessionId, s]))
    const live = byId[LegacyImport.sessionIdFor(liveId)]!
    assert.strictEqual(live.sessionId, liveId.replace(/-/g, ""))
    assert.deepInclude(live, { status: "active", isMainRepo: true, repoPath: "/repos/app", pid: process.pid, mode: "local" })
    assert.strictEqual(live.createdAt.getTime(), Date.parse(t(30).replace(" ", "T") + "Z"))
    assert.deepInclude(byId[LegacyImport.sessionIdFor(deadId)]!, { status: "released", isMainRepo: false, worktreeName: "parallel-x1" })
    assert.deepInclude(byId[LegacyImport.sessionIdFor(sandboxId)]!, { status: "released", mode: "sandbox" })
    assert.match(LegacyImport.sessionIdFor(sandboxId), /^[a-z0-9]{6,32}$/)
    // Active claims: only the live session's unexpired one.
    assert.deepStrictEqual(claims.map((c) => [c.filePath, c.mode]), [["src/a.ts", "EXCLUSIVE"]])
    assert.deepStrictEqual(
      events.map((e) => [e.repoPath, e.branch, e.targetBranch, e.branchHead, e.method]),
      [["/repos/app", "parallel-x1", "main", "a".repeat(40), "content"]]
    )
    // The live session still waits to hear about parallel-x1.
    assert.deepStrictEqual(
      subscriptions.map((x) => [x.sessionId, x.branch, x.targetBranch, x.notifiedAt]),
      [[LegacyImport.sessionIdFor(liveId), "parallel-x1", "main", null]]
    )

    // Complete: `migrate` has nothing left to import. Run again anyway: nothing is duplicated.
    const again = await run(
      data,
      Live.layer,
      Effect.gen(function*() {
        assert.deepStrictEqual(yield* LegacyImport.pending, [])
        return yield* LegacyImport.importFile({ source: prepared.source, original: db, backup: prepared.backup })
      })
    )
    assert.deepStrictEqual(again.sessions, { found: 3, imported: 0, skipped: 3, pending: 0 })
    assert.deepStrictEqual(again.fileClaims, { found: 3, imported: 0, skipped: 3, pending: 0 })
    assert.deepStrictEqual(again.mergeEvents, { found: 1, imported: 0, skipped: 1, pending: 0 })
    assert.deepStrictEqual(again.subscriptions, { found: 1, imported: 0, skipped: 1, pending: 0 })
    assert.strictEqual(sha(prepared.source), before)
  })

  it("recognises the 0.4 layout (no schema_metadata) and leaves our own and foreign files alone", async () => {
    const data = tmp()
    const old = path.join(data, "old.db")
    LegacyDb.create(old, { sessions: [{ id: "s-1", pid: 1, repo_path: "/r", worktree_path: "/r", is_main_repo: 1 }] }, "0.4")
    const found = Option.getOrThrow(await run(data, Live.configLayer, LegacyImport.inspect(old)))
    assert.strictEqual(found.kind, "legacy")
    assert.strictEqual(Option.getOrThrow(found.info).version, "0.4")

    const foreign = path.join(data, "foreign.db")
    const f = new Sqlite(foreign)
    f.exec("CREATE TABLE things (id INTEGER)")
    f.close()
    assert.strictEqual(Option.getOrThrow(await run(data, Live.configLayer, LegacyImport.inspect(foreign))).kind, "unknown")
    assert.isTrue(Option.isNone(await run(data, Live.configLayer, LegacyImport.prepare(foreign))))
    assert.isTrue(fs.existsSync(foreign))

    await run(data, Live.layer, Effect.flatMap(Database.Database, (d) => d.version))
    const ours = path.join(data, "coordinator.db")
    assert.strictEqual(Option.getOrThrow(await run(data, Live.configLayer, LegacyImport.inspect(ours))).kind, "ours")
    assert.isTrue(Option.isNone(await run(data, Live.configLayer, LegacyImport.prepare(ours))))
  })
  it("a legacy row that does not fit (a session whose pid is text) is a clear DatabaseError; nothing is imported", async () => {
    const data = tmp()
    const db = path.join(data, "coordinator.db")
    seed(db)
    const raw = new Sqlite(db)
    raw.prepare("UPDATE sessions SET pid = 'not a pid' WHERE id = ?").run(deadId)
    raw.close()
    const prepared = Option.getOrThrow(await run(data, Live.configLayer, LegacyImport.prepare(db)))
    const failed = await runExit(
      data,
      Live.layerNoMigrate,
      Effect.gen(function*() {
        yield* Effect.flatMap(Database.Database, (d) => d.migrate())
        return yield* LegacyImport.importFile({ source: prepared.source, original: db, backup: prepared.backup })
      })
    )
    assert.isTrue(Exit.isFailure(failed))
    const e = Exit.isFailure(failed) ? (Cause.squash(failed.cause) as any) : undefined
    assert.strictEqual(e?._tag, "DatabaseError")
    assert.strictEqual(e?.reason, "Query")
    assert.include(e?.message, prepared.source)
    assert.include(e?.message, "pid")
    const sessions = await run(data, Live.layer, Effect.flatMap(SessionStore.SessionStore, (st) => st.list({ status: "all" })))
    assert.lengthOf(sessions, 0)
    assert.isTrue(fs.existsSync(prepared.source), "the original is kept")
  })
})
