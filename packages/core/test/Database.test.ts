import { assert, describe, it } from "@effect/vitest"
import { AppConfig, Database, Live } from "@parallel-cc/core"
import { TempDir } from "@parallel-cc/testkit"
import { spawn } from "node:child_process"
import { Effect, Either, Layer } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"

const provider = (dataDir: string, env: Record<string, string> = {}) =>
  Layer.setConfigProvider(AppConfig.envProvider({ PARALLEL_CC_DATA_DIR: dataDir, ...env }, { homeDir: dataDir }))

const withStore = <A, E>(dataDir: string, eff: Effect.Effect<A, E, Database.Database>, env: Record<string, string> = {}) =>
  eff.pipe(Effect.provide(Live.layer.pipe(Layer.provide(provider(dataDir, env)))))

const withStoreAsIs = <A, E>(dataDir: string, eff: Effect.Effect<A, E, Database.Database>) =>
  eff.pipe(Effect.provide(Live.layerNoMigrate.pipe(Layer.provide(provider(dataDir)))))

describe("Database", () => {
  it.scopedLive("migrates an empty directory to the latest version and records it", () =>
    Effect.gen(function*() {
      const dir = path.join(yield* TempDir.make(), "data")
      const version = yield* withStore(dir, Effect.flatMap(Database.Database, (db) => db.version))
      assert.strictEqual(version, Database.latestVersion)
      const again = yield* withStore(dir, Effect.flatMap(Database.Database, (db) => db.migrate()))
      assert.deepStrictEqual(again.applied, [])
      assert.strictEqual(again.version, Database.latestVersion)
      assert.strictEqual(again.fromVersion, Database.latestVersion)
    }))

  it.scopedLive("creates the directory 0700 and the file 0600", () =>
    Effect.gen(function*() {
      const dir = path.join(yield* TempDir.make(), "nested", "data")
      yield* withStore(dir, Effect.flatMap(Database.Database, (db) => db.version))
      assert.strictEqual(fs.statSync(dir).mode & 0o777, 0o700)
      assert.strictEqual(fs.statSync(path.join(dir, "coordinator.db")).mode & 0o777, 0o600)
      for (const side of ["coordinator.db-wal", "coordinator.db-shm"]) {
        const p = path.join(dir, side)
        if (fs.existsSync(p)) assert.strictEqual(fs.statSync(p).mode & 0o077, 0)
      }
    }))

  it.scopedLive("a data directory made at 0755 and a database file at 0644 are tightened to 0700 and 0600 (issue 13 item 9)", () =>
    Effect.gen(function*() {
      const dir = path.join(yield* TempDir.make(), "data")
      fs.mkdirSync(dir, { mode: 0o755 })
      fs.chmodSync(dir, 0o755)
      yield* withStore(dir, Effect.flatMap(Database.Database, (db) => db.version))
      assert.strictEqual(fs.statSync(dir).mode & 0o777, 0o700)
      // An older release's file, widened since.
      fs.chmodSync(dir, 0o755)
      fs.chmodSync(path.join(dir, "coordinator.db"), 0o644)
      yield* withStore(dir, Effect.flatMap(Database.Database, (db) => db.version))
      assert.strictEqual(fs.statSync(dir).mode & 0o777, 0o700)
      assert.strictEqual(fs.statSync(path.join(dir, "coordinator.db")).mode & 0o777, 0o600)
    }))

  it.scopedLive("a shared folder holding the data (sticky, like /tmp) and a database put outside the data directory leave their folders alone", () =>
    Effect.gen(function*() {
      const base = yield* TempDir.make()
      const shared = path.join(base, "shared")
      fs.mkdirSync(shared)
      fs.chmodSync(shared, 0o1777)
      yield* withStore(shared, Effect.flatMap(Database.Database, (db) => db.version))
      assert.strictEqual(fs.statSync(shared).mode & 0o7777, 0o1777)
      const elsewhere = path.join(base, "elsewhere")
      fs.mkdirSync(elsewhere)
      fs.chmodSync(elsewhere, 0o755)
      const data = path.join(base, "data")
      yield* withStore(data, Effect.flatMap(Database.Database, (db) => db.version), { PARALLEL_CC_DB_PATH: path.join(elsewhere, "store.db") })
      assert.strictEqual(fs.statSync(elsewhere).mode & 0o777, 0o755)
      assert.strictEqual(fs.statSync(path.join(elsewhere, "store.db")).mode & 0o777, 0o600)
    }))

  it.scopedLive("migrate to an explicit version, then refuses to go back", () =>
    Effect.gen(function*() {
      const dir = yield* TempDir.make()
      const first = yield* withStoreAsIs(dir, Effect.flatMap(Database.Database, (db) => db.migrate({ toVersion: 1 })))
      assert.strictEqual(first.version, 1)
      assert.deepStrictEqual(first.applied.map((m) => m.id), [1])
      const rest = yield* withStoreAsIs(dir, Effect.flatMap(Database.Database, (db) => db.migrate()))
      assert.strictEqual(rest.version, Database.latestVersion)
      const back = yield* withStoreAsIs(dir, Effect.flatMap(Database.Database, (db) => db.migrate({ toVersion: 0 }))).pipe(Effect.either)
      if (Database.latestVersion > 0 && Either.isLeft(back)) {
        assert.strictEqual(back.left._tag, "DatabaseError")
        assert.include(["Downgrade", "UnknownVersion"], (back.left as any).reason)
      } else {
        assert.fail("expected a Downgrade error")
      }
      const unknown = yield* withStoreAsIs(dir, Effect.flatMap(Database.Database, (db) => db.migrate({ toVersion: 9999 }))).pipe(Effect.flip)
      assert.strictEqual(unknown._tag, "DatabaseError")
      assert.strictEqual((unknown as Database.DbFailure & { reason: string }).reason, "UnknownVersion")
    }))

  it.scopedLive("a file that is not a database is a typed error and is left untouched", () =>
    Effect.gen(function*() {
      const dir = yield* TempDir.make()
      const file = path.join(dir, "coordinator.db")
      fs.writeFileSync(file, "this is not sqlite, just text that is long enough to have a header".repeat(20))
      const before = fs.readFileSync(file)
      const err = yield* withStore(dir, Effect.flatMap(Database.Database, (db) => db.version)).pipe(Effect.flip)
      assert.strictEqual(err._tag, "DatabaseError")
      assert.strictEqual((err as any).reason, "NotADatabase")
      assert.deepStrictEqual(fs.readFileSync(file), before)
    }))

  it.scopedLive("a database locked by another process fails with DatabaseBusy after the busy timeout", () =>
    Effect.gen(function*() {
      const dir = yield* TempDir.make()
      yield* withStore(dir, Effect.flatMap(Database.Database, (db) => db.version))
      const holder = yield* holdLock(path.join(dir, "coordinator.db"))
      const started = Date.now()
      const err = yield* withStore(
        dir,
        Effect.flatMap(Database.Database, (db) => db.immediate(Effect.void)),
        { PARALLEL_CC_DB_BUSY_TIMEOUT_MS: "300" }
      ).pipe(Effect.flip)
      const waited = Date.now() - started
      assert.strictEqual(err._tag, "DatabaseBusy", err.message)
      assert.isAtLeast(waited, 250)
      assert.include(err.message, "locked by another process")
      holder.kill()
      // Once the holder is gone the same store works again: nothing was corrupted.
      yield* Effect.promise(() => new Promise((r) => holder.once("exit", r)))
      const v = yield* withStore(dir, Effect.flatMap(Database.Database, (db) => db.immediate(db.version)))
      assert.strictEqual(v, Database.latestVersion)
    }))
})

/** A separate Node process that takes the write lock and holds it until killed. */
const holdLock = (file: string) =>
  Effect.acquireRelease(
    Effect.async<ReturnType<typeof spawn>>((resume) => {
      const code = `
        const Database = require(${JSON.stringify(require.resolve("better-sqlite3", { paths: [process.cwd()] }))});
        const db = new Database(${JSON.stringify(file)});
        db.exec("BEGIN EXCLUSIVE");
        process.stdout.write("locked\\n");
        setInterval(() => {}, 1000);`
      const child = spawn(process.execPath, ["-e", code], { stdio: ["ignore", "pipe", "inherit"] })
      child.stdout!.once("data", () => resume(Effect.succeed(child)))
    }),
    (child) => Effect.sync(() => child.kill("SIGKILL"))
  )
