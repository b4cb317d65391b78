/**
 * The embedded SQLite store: one file (`<dataDir>/coordinator.db`, mode 0600 in a 0700 directory), WAL,
 * a busy timeout, and forward-only migrations run with the @effect/sql Migrator.
 *
 * Writes that read before they write go through {@link Database} `immediate`, a `BEGIN IMMEDIATE`
 * transaction: the write lock is taken up front, so two processes can never both decide on the same
 * snapshot (a deferred transaction in WAL mode would fail with SQLITE_BUSY instead of waiting).
 *
 * @since 0.1.0
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import { FileSystem, Path } from "@effect/platform"
import type { PlatformError } from "@effect/platform/Error"
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import { Cause, Context, Effect, Layer, Option, Predicate, Schedule, Schema, Scope } from "effect"
import * as os from "node:os"
import { AppConfig } from "./AppConfig.js"
import { DatabaseBusy, DatabaseError } from "../Errors.js"
import { migrations } from "../migrations/index.js"

const migrationIds = Object.keys(migrations).map((k) => Number(k.split("_")[0]))

/** The schema version this build migrates to. */
export const latestVersion = Math.max(...migrationIds)

/** What `migrate` reports. */
export interface MigrateResult {
  readonly path: string
  readonly fromVersion: number
  readonly version: number
  readonly latestVersion: number
  readonly applied: ReadonlyArray<{ readonly id: number; readonly name: string }>
}

export type DbFailure = DatabaseError | DatabaseBusy

export class Database extends Context.Tag("@parallel-cc/core/Database")<Database, {
  readonly path: string
  readonly busyTimeoutMs: number
  readonly sql: SqlClient.SqlClient
  /** Run `effect` in a `BEGIN IMMEDIATE` transaction; nested transactions become savepoints. */
  readonly immediate: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, Exclude<E, SqlError> | DbFailure, R>
  /** Map a query's SqlError to DatabaseBusy / DatabaseError. */
  readonly orFail: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, Exclude<E, SqlError> | DbFailure, R>
  /** The schema version recorded in the file. */
  readonly version: Effect.Effect<number, DbFailure>
  /** Apply pending migrations, up to `toVersion` (default: the latest). Forward-only. */
  readonly migrate: (options?: { readonly toVersion?: number | undefined }) => Effect.Effect<MigrateResult, DbFailure>
}>() {}

const sqliteCode = (cause: unknown): string | undefined => {
  let cur: unknown = cause
  for (let i = 0; i < 5 && cur !== null && typeof cur === "object"; i++) {
    const code = (cur as { code?: unknown }).code
    if (typeof code === "string" && code.startsWith("SQLITE_")) return code
    cur = (cur as { cause?: unknown }).cause
  }
  return undefined
}

/** Translate a SQLite failure (SqlError or a thrown SqliteError) into the store's typed errors. */
export const toDbFailure = (path: string, busyTimeoutMs: number, cause: unknown): DbFailure => {
  const code = sqliteCode(cause) ?? ""
  if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) {
    return new DatabaseBusy({ path, busyTimeoutMs, cause })
  }
  const detail = cause instanceof Error ? cause.message : String(cause)
  const inner = Predicate.hasProperty(cause, "cause") && cause.cause instanceof Error ? `: ${cause.cause.message}` : ""
  if (code === "SQLITE_NOTADB" || code.startsWith("SQLITE_CORRUPT")) {
    return new DatabaseError({ reason: "NotADatabase", path, detail: detail + inner, cause })
  }
  if (code.startsWith("SQLITE_READONLY") || code === "SQLITE_PERM" || code === "SQLITE_AUTH") {
    return new DatabaseError({ reason: "Permissions", path, detail: detail + inner, cause })
  }
  if (code.startsWith("SQLITE_CANTOPEN")) return new DatabaseError({ reason: "Open", path, detail: detail + inner, cause })
  return new DatabaseError({ reason: "Query", path, detail: detail + inner, cause })
}

const isDenied = (e: PlatformError) => e._tag === "SystemError" && e.reason === "PermissionDenied"

/**
 * Whether the existing folder `dir` of the store may be tightened to 0700: it is the data directory (a
 * database put elsewhere with `PARALLEL_CC_DB_PATH` leaves its folder alone), this user's, open to others, and
 * neither a shared folder (sticky, like /tmp) nor the home directory itself.
 */
const tightenable = (info: FileSystem.File.Info, dir: string, dataDir: string, pathApi: Path.Path) =>
  info.type === "Directory" &&
  (info.mode & 0o077) !== 0 &&
  (info.mode & 0o1000) === 0 &&
  pathApi.resolve(dir) === pathApi.resolve(dataDir) &&
  pathApi.resolve(dir) !== pathApi.resolve(os.homedir()) &&
  ownedByMe(info)

const ownedByMe = (info: FileSystem.File.Info) => {
  const uid = Option.getOrUndefined(info.uid)
  return uid !== undefined && typeof process.getuid === "function" && uid === process.getuid()
}

/**
 * The store's folder and file, private: created 0700 and 0600; a data directory the user made at 0755 (or an
 * older release left so) tightened to 0700, and a database file open to others to 0600 — they hold prompts,
 * paths and branch names. One stat each, as the existence checks they replace.
 */
const prepareFiles = (dbPath: string, dataDir: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const dir = path.dirname(dbPath)
    const fail = (reason: "Open" | "Permissions", detail: string) => new DatabaseError({ reason, path: dbPath, detail })
    const dirInfo = yield* fs.stat(dir).pipe(Effect.option)
    if (Option.isNone(dirInfo)) {
      yield* fs.makeDirectory(dir, { recursive: true, mode: 0o700 }).pipe(
        Effect.mapError((e) => fail(isDenied(e) ? "Permissions" : "Open", `cannot create ${dir}: ${e.message}`))
      )
      yield* fs.chmod(dir, 0o700).pipe(Effect.ignore)
    } else if (tightenable(dirInfo.value, dir, dataDir, path)) {
      yield* fs.chmod(dir, 0o700).pipe(Effect.ignore)
    }
    const fileInfo = yield* fs.stat(dbPath).pipe(Effect.option)
    if (Option.isNone(fileInfo)) {
      // Created here with 0600 so SQLite (and its -wal/-shm files, which copy the mode) never widen it.
      yield* fs.writeFile(dbPath, new Uint8Array(0), { flag: "wx", mode: 0o600 }).pipe(
        Effect.catchIf((e) => e._tag === "SystemError" && e.reason === "AlreadyExists", () => Effect.void),
        Effect.mapError((e) => fail(isDenied(e) ? "Permissions" : "Open", `cannot create the file: ${e.message}`))
      )
      yield* fs.chmod(dbPath, 0o600).pipe(Effect.ignore)
    } else if (fileInfo.value.type === "File" && (fileInfo.value.mode & 0o077) !== 0 && ownedByMe(fileInfo.value)) {
      yield* fs.chmod(dbPath, 0o600).pipe(Effect.ignore)
    }
  })

/** Open the store; with `autoMigrate` (the default) pending migrations run before the layer is ready. */
export const make = (options: { readonly autoMigrate?: boolean } = {}) =>
  Effect.gen(function*() {
    const config = yield* AppConfig
    const dbPath = config.dbPath
    const busyTimeoutMs = config.values["db.busyTimeoutMs"]
    const mapFailure = (cause: unknown) => toDbFailure(dbPath, busyTimeoutMs, cause)
    yield* prepareFiles(dbPath, config.dataDir)

    const client = yield* SqliteClient.make({ filename: dbPath, disableWAL: true }).pipe(
      Effect.catchAllDefect((defect) => Effect.fail(mapFailure(defect)))
    )
    const sql: SqlClient.SqlClient = client
    const orFail = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      Effect.catchIf(
        effect,
        (e): e is Extract<E, SqlError> => Predicate.isTagged(e, "SqlError"),
        (e) => Effect.fail(mapFailure(e))
      ) as Effect.Effect<A, Exclude<E, SqlError> | DbFailure, R>

    yield* orFail(sql.unsafe(`PRAGMA busy_timeout = ${Math.trunc(busyTimeoutMs)}`))
    // Switching a new store to WAL takes an exclusive lock, and SQLite answers SQLITE_BUSY for it at once,
    // without the busy handler: two processes opening a new store together (`sandbox run` and a `status`
    // beside it) would fail. Retry for as long as the busy timeout; once in WAL mode this is a no-op.
    yield* orFail(sql.unsafe("PRAGMA journal_mode = WAL")).pipe(
      Effect.retry({
        schedule: Schedule.spaced("25 millis"),
        times: Math.max(1, Math.ceil(busyTimeoutMs / 25)),
        while: (e) => e._tag === "DatabaseBusy"
      })
    )
    yield* orFail(sql.unsafe("PRAGMA synchronous = NORMAL"))
    yield* orFail(sql.unsafe("PRAGMA foreign_keys = ON"))

    const withImmediate = SqlClient.makeWithTransaction({
      transactionTag: SqlClient.TransactionConnection,
      spanAttributes: [],
      acquireConnection: Effect.flatMap(
        Scope.make(),
        (scope) => Effect.map(Scope.extend(sql.reserve, scope), (conn) => [scope, conn] as const)
      ),
      begin: (conn) => conn.executeUnprepared("BEGIN IMMEDIATE", [], undefined),
      savepoint: (conn, id) => conn.executeUnprepared(`SAVEPOINT effect_sql_${id}`, [], undefined),
      commit: (conn) => conn.executeUnprepared("COMMIT", [], undefined),
      // When BEGIN itself failed (SQLITE_BUSY) there is nothing to roll back; keep BEGIN's error visible.
      rollback: (conn) =>
        conn.executeUnprepared("ROLLBACK", [], undefined).pipe(
          Effect.catchIf((e) => /no transaction is active/.test(String(e.cause)), () => Effect.void),
          Effect.asVoid
        ),
      rollbackSavepoint: (conn, id) => conn.executeUnprepared(`ROLLBACK TO SAVEPOINT effect_sql_${id}`, [], undefined)
    })
    const immediate = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      orFail(withImmediate(effect)).pipe(
        // COMMIT failures surface as defects from the SQL layer; they are still store failures.
        Effect.catchAllDefect((d) => sqliteCode(d) ? Effect.fail(mapFailure(d)) : Effect.die(d))
      )

    const version = orFail(sql<{ user_version: number }>`PRAGMA user_version`).pipe(
      Effect.map((rows) => rows[0]?.user_version ?? 0)
    )

    // The original parallel-cc used the same default path; its schema has a `sessions` table but never our
    // migrations table. Our migrations must not run over it (LegacyImport moves it aside and imports it).
    const looksLegacy = orFail(
      sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('sessions', 'effect_sql_migrations')`
    ).pipe(Effect.map((rows) => rows.some((r) => r.name === "sessions") && !rows.some((r) => r.name === "effect_sql_migrations")))

    const migrate = (opts: { readonly toVersion?: number | undefined } = {}) =>
      immediate(Effect.gen(function*() {
        const fromVersion = yield* version
        if (fromVersion === 0 && (yield* looksLegacy)) {
          return yield* new DatabaseError({
            reason: "LegacySchema",
            path: dbPath,
            detail: "this file holds the schema of the original parallel-cc"
          })
        }
        const target = opts.toVersion ?? latestVersion
        if (!migrationIds.includes(target) && target !== 0) {
          return yield* new DatabaseError({
            reason: "UnknownVersion",
            path: dbPath,
            detail: `version ${target} does not exist; known versions: ${migrationIds.join(", ")}`
          })
        }
        if (fromVersion > latestVersion) {
          return yield* new DatabaseError({
            reason: "Downgrade",
            path: dbPath,
            detail: `the file is at schema version ${fromVersion}, newer than this build's ${latestVersion}`
          })
        }
        if (target < fromVersion) {
          return yield* new DatabaseError({
            reason: "Downgrade",
            path: dbPath,
            detail: `the file is at version ${fromVersion}; cannot go back to ${target}`
          })
        }
        const selected = Object.fromEntries(
          Object.entries(migrations).filter(([k]) => Number(k.split("_")[0]) <= target)
        )
        // Loaded only when there is something to migrate: an up-to-date store never pays for the Migrator.
        const Migrator = yield* Effect.promise(() => import("@effect/sql/Migrator"))
        const applied = yield* Migrator.make({})({ loader: Migrator.fromRecord(selected) }).pipe(
          Effect.provideService(SqlClient.SqlClient, sql),
          Effect.catchTag("MigrationError", (e) =>
            Effect.fail(new DatabaseError({ reason: "Migration", path: dbPath, detail: e.message, cause: e })))
        )
        const reached = applied.length > 0 ? Math.max(...applied.map(([id]) => id)) : fromVersion
        if (reached !== fromVersion) yield* sql.unsafe(`PRAGMA user_version = ${Math.trunc(reached)}`)
        return {
          path: dbPath,
          fromVersion,
          version: reached,
          latestVersion,
          applied: applied.map(([id, name]) => ({ id, name }))
        } satisfies MigrateResult
      })).pipe(
        Effect.catchAllDefect((d) => Effect.fail(
          new DatabaseError({ reason: "Migration", path: dbPath, detail: Cause.pretty(Cause.die(d)).split("\n")[0] ?? "" })
        ))
      )

    if (options.autoMigrate !== false) {
      const current = yield* version
      if (current < latestVersion) yield* migrate()
      else if (current > latestVersion) {
        return yield* new DatabaseError({
          reason: "Downgrade",
          path: dbPath,
          detail: `the file is at schema version ${current}, newer than this build's ${latestVersion}; upgrade parallel-cc`
        })
      }
    }

    return Database.of({ path: dbPath, busyTimeoutMs, sql, immediate, orFail, version, migrate })
  })

const build = (autoMigrate: boolean) =>
  Layer.scopedContext(
    Effect.map(make({ autoMigrate }), (db) => Context.make(Database, db).pipe(Context.add(SqlClient.SqlClient, db.sql)))
  ).pipe(Layer.provide(Reactivity.layer))

/** The store, migrated to the latest schema. Needs AppConfig, FileSystem and Path. */
export const layer: Layer.Layer<Database | SqlClient.SqlClient, DbFailure, AppConfig | FileSystem.FileSystem | Path.Path> =
  build(true)

/** The store as found on disk, without migrating (for `migrate --version N` and `doctor`). */
export const layerNoMigrate: Layer.Layer<
  Database | SqlClient.SqlClient,
  DbFailure,
  AppConfig | FileSystem.FileSystem | Path.Path
> = build(false)

/**
 * The rows of `statement`, decoded by `schema`. A row of our own store that does not fit is a defect (the
 * store is not what the migrations made), as in the stores' own decoding.
 */
export const decodeRows = <A, I>(schema: Schema.Schema<A, I>) =>
<E, R>(statement: Effect.Effect<ReadonlyArray<unknown>, E, R>): Effect.Effect<ReadonlyArray<A>, E, R> =>
  Effect.flatMap(statement, (rows) => Effect.orDie(Schema.decodeUnknown(Schema.Array(schema))(rows)))
