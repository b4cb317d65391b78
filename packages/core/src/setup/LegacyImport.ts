/**
 * Import of the original parallel-cc's database. That tool kept its state in the same default file
 * (`~/.parallel-cc/coordinator.db`) with another schema (sessions with `is_main_repo`, text timestamps,
 * `schema_metadata`, `file_claims`, `merge_events`, `subscriptions`, …). `migrate` detects it by its schema
 * before our store opens the file, then:
 *
 * 1. backs it up (`VACUUM INTO <db>.legacy-backup-<time>.db`: one consistent file, WAL included);
 * 2. moves the original aside, unchanged, to `<db>.legacy.db` (with its -wal/-shm files) — it is never
 *    modified or deleted;
 * 3. creates our store at the default path and imports the records, recording each in `legacy_import_items`
 *    (migration 9), so an import can be re-run — after a crash, or by a later version that imports more kinds
 *    of records — without duplicating anything.
 *
 * @since 0.1.0
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import { FileSystem, Path } from "@effect/platform"
import { SqlClient } from "@effect/sql"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import { Clock, Effect, Option, ParseResult, Predicate, Schema } from "effect"
import { AppConfig } from "../platform/AppConfig.js"
import { Database, type DbFailure, toDbFailure } from "../platform/Database.js"
import { DatabaseError } from "../Errors.js"

/** What a file's tables say it is. */
export type SchemaKind = "empty" | "ours" | "legacy" | "unknown"

/** The tables of the original tool and how many rows each holds (absent tables are 0). */
export interface LegacyCounts {
  readonly sessions: number
  readonly fileClaims: number
  readonly mergeEvents: number
  readonly subscriptions: number
  readonly conflictResolutions: number
  readonly autoFixSuggestions: number
  readonly budgetTracking: number
}

export interface LegacyInfo {
  readonly path: string
  /** `schema_metadata.version` (e.g. "1.1.0"), or "0.4" for files from before it existed. */
  readonly version: string
  readonly counts: LegacyCounts
}

export interface Prepared {
  /** Where the file was found (our store's path). */
  readonly original: string
  /** Where the untouched original now is. */
  readonly source: string
  readonly backup: string
  readonly info: LegacyInfo
}

export interface KindResult {
  readonly found: number
  readonly imported: number
  /** Already imported by an earlier run, or clashing with an existing record. */
  readonly skipped: number
  /** Not importable by this version (its tables do not exist yet); kept in the legacy file. */
  readonly pending: number
}

export interface ImportResult {
  readonly source: string
  readonly original: string
  readonly backup: string | null
  readonly legacyVersion: string
  readonly sessions: KindResult
  readonly fileClaims: KindResult
  readonly mergeEvents: KindResult
  readonly subscriptions: KindResult
  /** Records of kinds that are not imported (conflict history, auto-fix suggestions, budgets); they stay in the kept file. */
  readonly notImported: Readonly<Record<string, number>>
  readonly complete: boolean
}

const openFile = (filename: string, readonly: boolean) =>
  SqliteClient.make({ filename, readonly, disableWAL: true }).pipe(
    Effect.provide(Reactivity.layer),
    Effect.catchAllDefect((d) => Effect.fail(toDbFailure(filename, 0, d)))
  )

const failWith = (filename: string) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.mapError(effect, (e) => (isDbFailure(e) ? e : toDbFailure(filename, 0, e)))

const isDbFailure = (e: unknown): e is DbFailure => Predicate.isTagged(e, "DatabaseError") || Predicate.isTagged(e, "DatabaseBusy")

/** Decoders for the metadata queries (their failures are turned into DbFailures by the callers). */
const decoded = <A, I>(schema: Schema.Schema<A, I>) => <E, R>(statement: Effect.Effect<ReadonlyArray<unknown>, E, R>) =>
  Effect.flatMap(statement, Schema.decodeUnknown(Schema.Array(schema)))
const names = decoded(Schema.Struct({ name: Schema.String }))
const versions = decoded(Schema.Struct({ value: Schema.String }))
const counted = decoded(Schema.Struct({ n: Schema.Number }))


/** Classify an open database by its tables. */
export const schemaKind = (sql: SqlClient.SqlClient) =>
  Effect.gen(function*() {
    const tables = (yield* names(sql`SELECT name FROM sqlite_master WHERE type = 'table'`)).map((r) => r.name)
    if (tables.includes("effect_sql_migrations")) return "ours" as SchemaKind
    if (tables.length === 0) return "empty" as SchemaKind
    if (tables.includes("sessions")) {
      const cols = (yield* names(sql`SELECT name FROM pragma_table_info('sessions')`)).map((r) => r.name)
      if (cols.includes("is_main_repo") && cols.includes("worktree_path")) return "legacy" as SchemaKind
    }
    return "unknown" as SchemaKind
  })

const count = (sql: SqlClient.SqlClient, tables: ReadonlyArray<string>, table: string) =>
  tables.includes(table)
    ? Effect.map(counted(sql.unsafe(`SELECT count(*) AS n FROM "${table}"`)), (r) => r[0]?.n ?? 0)
    : Effect.succeed(0)

/** Version and row counts of a legacy database. */
export const legacyInfo = (sql: SqlClient.SqlClient, file: string) =>
  Effect.gen(function*() {
    const tables = (yield* names(sql`SELECT name FROM sqlite_master WHERE type = 'table'`)).map((r) => r.name)
    const version = tables.includes("schema_metadata")
      ? Option.getOrElse(
        Option.fromNullable((yield* versions(sql`SELECT value FROM schema_metadata WHERE key = 'version'`))[0]?.value),
        () => "0.5.0"
      )
      : "0.4"
    return {
      path: file,
      version,
      counts: {
        sessions: yield* count(sql, tables, "sessions"),
        fileClaims: yield* count(sql, tables, "file_claims"),
        mergeEvents: yield* count(sql, tables, "merge_events"),
        subscriptions: yield* count(sql, tables, "subscriptions"),
        conflictResolutions: yield* count(sql, tables, "conflict_resolutions"),
        autoFixSuggestions: yield* count(sql, tables, "auto_fix_suggestions"),
        budgetTracking: yield* count(sql, tables, "budget_tracking")
      }
    } satisfies LegacyInfo
  })

/**
 * Look at a database file without changing it: what schema it has, and for a legacy file its version and
 * contents. `None` when the file does not exist.
 */
export const inspect = (file: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    if (!(yield* fs.exists(file).pipe(Effect.orElseSucceed(() => false)))) return Option.none()
    return yield* Effect.scoped(Effect.gen(function*() {
      const sql = yield* openFile(file, true)
      const kind = yield* schemaKind(sql)
      const info = kind === "legacy" ? Option.some(yield* legacyInfo(sql, file)) : Option.none<LegacyInfo>()
      return Option.some({ kind, info })
    })).pipe(failWith(file))
  })

const stamp = (ms: number) => new Date(ms).toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z")

/** `<dir>/coordinator.db` → `<dir>/coordinator` */
const stem = (file: string) => file.replace(/\.db$/, "")

/**
 * If the file at `dbPath` is a database of the original tool: back it up and move it aside, so that our
 * store can be created in its place. Run this before the store opens the file. `None` when there is nothing
 * to do (no file, or our own schema).
 */
export const prepare = (dbPath: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const found = yield* inspect(dbPath)
    if (Option.isNone(found) || Option.isNone(found.value.info)) return Option.none<Prepared>()
    const info = found.value.info.value
    const now = yield* Clock.currentTimeMillis
    const backup = `${stem(dbPath)}.legacy-backup-${stamp(now)}.db`
    yield* Effect.scoped(Effect.gen(function*() {
      const sql = yield* openFile(dbPath, true)
      yield* sql`VACUUM INTO ${backup}`
    })).pipe(failWith(dbPath))
    yield* fs.chmod(backup, 0o600).pipe(Effect.ignore)
    let source = `${stem(dbPath)}.legacy.db`
    if (yield* fs.exists(source).pipe(Effect.orElseSucceed(() => false))) source = `${stem(dbPath)}.legacy-${stamp(now)}.db`
    // The -wal file belongs to the main file by name: move them together so the original stays consistent.
    for (const suffix of ["-wal", "-shm", ""]) {
      const from = dbPath + suffix
      if (suffix !== "" && !(yield* fs.exists(from).pipe(Effect.orElseSucceed(() => false)))) continue
      yield* fs.rename(from, source + suffix).pipe(
        Effect.mapError((e) =>
          new DatabaseError({ reason: "Permissions", path: from, detail: `cannot move it aside to ${source + suffix}: ${e.message}` })
        )
      )
    }
    return Option.some({ original: dbPath, source, backup, info } satisfies Prepared)
  }).pipe(Effect.withSpan("LegacyImport.prepare"))

/** A stable id of ours for a legacy id (a UUID loses its dashes; anything else is hashed). */
export const sessionIdFor = (legacyId: string): string => {
  const plain = legacyId.toLowerCase().replace(/[^a-z0-9]/g, "")
  if (plain.length >= 6 && plain.length <= 32) return plain
  // FNV-1a, 2 × 32 bit, base 36: deterministic and dependency-free.
  let h1 = 0x811c9dc5
  let h2 = 0x01000193
  for (let i = 0; i < legacyId.length; i++) {
    const c = legacyId.charCodeAt(i)
    h1 = Math.imul(h1 ^ c, 0x01000193) >>> 0
    h2 = Math.imul(h2 ^ c, 0x811c9dc5) >>> 0
  }
  return ("l" + h1.toString(36) + h2.toString(36)).slice(0, 32).padEnd(8, "0")
}

/** Milliseconds of a legacy timestamp: SQLite `datetime('now')` text is UTC without a zone. */
export const legacyTime = (text: unknown, fallback: number): number => {
  if (typeof text === "number" && Number.isFinite(text)) return text
  if (typeof text !== "string") return fallback
  const t = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(text.trim())
    ? Date.parse(text.trim().replace(" ", "T") + "Z")
    : Date.parse(text)
  return Number.isFinite(t) ? t : fallback
}

const alive = (pid: number): boolean => {
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"
  }
}

// ---------------------------------------------------------------------------------------------------
// Rows, decoded: the legacy file is foreign input (its columns were loosely typed: ids text or integer,
// times text or numbers), and our own tables are read through the same decoding.

/** An id of the original tool: text or an integer, kept as text. */
const LegacyId = Schema.Union(Schema.String, Schema.Number).pipe(
  Schema.transform(Schema.String, { strict: true, decode: String, encode: (s) => s })
)
/** A time as the original tool stored it (read with {@link legacyTime}). */
const LegacyTime = Schema.Unknown
/** 0/1 flags, also as text. */
const Flag = Schema.Union(Schema.Number, Schema.NumberFromString, Schema.Null).pipe(
  Schema.transform(Schema.Boolean, { strict: true, decode: (n) => n === 1, encode: (b) => (b ? 1 : 0) })
)

const LegacySessionRow = Schema.Struct({
  id: LegacyId,
  pid: Schema.Union(Schema.Number, Schema.NumberFromString),
  repo_path: Schema.String,
  worktree_path: Schema.String,
  worktree_name: Schema.optionalWith(Schema.NullOr(Schema.String), { default: () => null }),
  is_main_repo: Flag,
  created_at: LegacyTime,
  last_heartbeat: LegacyTime,
  execution_mode: Schema.optionalWith(Schema.NullOr(Schema.String), { default: () => null })
})
type LegacySessionRow = typeof LegacySessionRow.Type

const LegacyClaimRow = Schema.Struct({
  id: LegacyId,
  session_id: LegacyId,
  repo_path: Schema.String,
  file_path: Schema.String,
  claim_mode: Schema.String,
  claimed_at: LegacyTime,
  expires_at: LegacyTime,
  last_heartbeat: LegacyTime,
  is_active: Flag,
  released_at: LegacyTime,
  deleted_at: LegacyTime
})
type LegacyClaimRow = typeof LegacyClaimRow.Type

const LegacyMergeEventRow = Schema.Struct({
  id: LegacyId,
  repo_path: Schema.String,
  branch_name: Schema.String,
  source_commit: Schema.String,
  target_branch: Schema.String,
  target_commit: Schema.String,
  detected_at: LegacyTime
})
type LegacyMergeEventRow = typeof LegacyMergeEventRow.Type

const LegacySubscriptionRow = Schema.Struct({
  id: LegacyId,
  session_id: LegacyId,
  repo_path: Schema.String,
  branch_name: Schema.String,
  target_branch: Schema.String,
  created_at: LegacyTime,
  notified_at: LegacyTime,
  is_active: Flag
})
type LegacySubscriptionRow = typeof LegacySubscriptionRow.Type

const Name = Schema.Struct({ name: Schema.String })
const SessionState = Schema.Struct({ status: Schema.String, ended_at: Schema.NullOr(Schema.Number) })
const Item = Schema.Struct({ kind: Schema.String, legacy_id: Schema.String, new_id: Schema.String })
const Id = Schema.Struct({ id: Schema.Number })
const Count = Schema.Struct({ n: Schema.Number })
const ImportRow = Schema.Struct({
  source_path: Schema.String,
  original_path: Schema.String,
  backup_path: Schema.NullOr(Schema.String),
  complete: Flag
})

/** The rows of `statement` decoded by `schema`; a row that does not fit is a DatabaseError naming the file. */
const rowsOf = <A, I>(file: string, schema: Schema.Schema<A, I>) =>
<E, R>(statement: Effect.Effect<ReadonlyArray<unknown>, E, R>) =>
  Effect.flatMap(
    statement,
    (rows) =>
      Schema.decodeUnknown(Schema.Array(schema))(rows).pipe(
        Effect.mapError((e) =>
          new DatabaseError({ reason: "Query", path: file, detail: `unexpected row: ${ParseResult.TreeFormatter.formatErrorSync(e)}` })
        )
      )
  )

const emptyKind: KindResult = { found: 0, imported: 0, skipped: 0, pending: 0 }

/** What every importer of one kind works with: our store, the legacy file, and the time of the import. */
interface ImportContext {
  readonly sql: SqlClient.SqlClient
  readonly source: string
  readonly storePath: string
  readonly now: number
}

/** legacy id → our id, of the records of `kind` already imported from this file. */
const itemsOf = (ctx: ImportContext, kind: string) =>
  Effect.map(
    rowsOf(ctx.storePath, Item)(ctx.sql`
      SELECT kind, legacy_id, new_id FROM legacy_import_items WHERE source_path = ${ctx.source} AND kind = ${kind}`),
    (rows) => new Map(rows.map((r) => [r.legacy_id, r.new_id]))
  )

const record = (ctx: ImportContext, kind: string, legacyId: string, newId: string) =>
  ctx.sql`INSERT INTO legacy_import_items (source_path, kind, legacy_id, new_id)
    VALUES (${ctx.source}, ${kind}, ${legacyId}, ${newId})`

const sessionState = (ctx: ImportContext, sessionId: string) =>
  Effect.map(
    rowsOf(ctx.storePath, SessionState)(ctx.sql`SELECT status, ended_at FROM sessions WHERE id = ${sessionId}`),
    (rows) => rows[0]
  )

/**
 * Sessions. One still running under the original tool stays active (keeping the main-repository slot, so that
 * a new session of that repository gets a worktree instead of the directory that agent works in); everything
 * else comes in released.
 */
const importSessions = (ctx: ImportContext, rows: ReadonlyArray<LegacySessionRow>, staleMs: number) =>
  Effect.gen(function*() {
    const { sql, now } = ctx
    const done = yield* itemsOf(ctx, "session")
    const mainTaken = new Set(
      (yield* rowsOf(ctx.storePath, Schema.Struct({ repo_path: Schema.String }))(
        sql`SELECT repo_path FROM sessions WHERE is_main = 1 AND status = 'active'`
      )).map((r) => r.repo_path)
    )
    let imported = 0
    let skipped = 0
    for (const row of rows) {
      const id = sessionIdFor(row.id)
      if (done.has(row.id) || (yield* rowsOf(ctx.storePath, Count)(sql`SELECT count(*) AS n FROM sessions WHERE id = ${id}`))[0]!.n > 0) {
        skipped++
        continue
      }
      const created = legacyTime(row.created_at, now)
      const heartbeat = legacyTime(row.last_heartbeat, created)
      const live = alive(row.pid) && now - heartbeat < staleMs && !(row.is_main_repo && mainTaken.has(row.repo_path))
      if (live && row.is_main_repo) mainTaken.add(row.repo_path)
      yield* sql`
        INSERT INTO sessions (id, repo_path, worktree_path, worktree_name, branch, is_main, pid, pid_start_time,
          mode, status, created_at, last_heartbeat, ended_at, port_base)
        VALUES (${id}, ${row.repo_path}, ${row.worktree_path}, ${row.worktree_name}, ${null},
          ${row.is_main_repo ? 1 : 0}, ${row.pid}, ${null}, ${row.execution_mode === "e2b" ? "sandbox" : "local"},
          ${live ? "active" : "released"}, ${created}, ${heartbeat}, ${live ? null : heartbeat}, ${null})`
      yield* record(ctx, "session", row.id, id)
      imported++
    }
    return { found: rows.length, imported, skipped, pending: 0 } satisfies KindResult
  })

/** Claims of imported sessions: active only while their session is and they have not expired. */
const importClaims = (ctx: ImportContext, rows: ReadonlyArray<LegacyClaimRow>) =>
  Effect.gen(function*() {
    const { sql, now } = ctx
    const sessionOf = yield* itemsOf(ctx, "session")
    const done = yield* itemsOf(ctx, "claim")
    let imported = 0
    let skipped = 0
    for (const c of rows) {
      const sessionId = sessionOf.get(c.session_id)
      if (done.has(c.id) || sessionId === undefined || !["EXCLUSIVE", "SHARED", "INTENT"].includes(c.claim_mode)) {
        skipped++
        continue
      }
      const id = `c${sessionIdFor(c.id)}`
      const created = legacyTime(c.claimed_at, now)
      const updated = legacyTime(c.last_heartbeat, created)
      const expires = legacyTime(c.expires_at, updated)
      const session = yield* sessionState(ctx, sessionId)
      const activeInLegacy = c.is_active && c.released_at == null && c.deleted_at == null
      const release: readonly [number, string] | null = !activeInLegacy
        ? [legacyTime(c.released_at ?? c.deleted_at, updated), "released"]
        : expires <= now
        ? [expires, "expired"]
        : session?.status !== "active"
        ? [session?.ended_at ?? updated, "session-ended"]
        : null
      const insert = (rel: readonly [number, string] | null) =>
        sql`
          INSERT INTO file_claims (id, session_id, repo_path, file_path, mode, reason, created_at, updated_at,
            expires_at, released_at, release_reason)
          VALUES (${id}, ${sessionId}, ${c.repo_path}, ${c.file_path}, ${c.claim_mode}, ${null}, ${created},
            ${updated}, ${expires}, ${rel?.[0] ?? null}, ${rel?.[1] ?? null})`
      // An active claim that collides with one held here (one EXCLUSIVE per file) comes in released.
      yield* insert(release).pipe(Effect.catchTag("SqlError", (e) => (release === null ? insert([now, "released"]) : Effect.fail(e))))
      yield* record(ctx, "claim", c.id, id)
      imported++
    }
    return { found: rows.length, imported, skipped, pending: 0 } satisfies KindResult
  })

/**
 * Merge events. The original tool did not record how a branch was merged (it checked that the target
 * contains the branch), so they come in as method `content`: the branch's changes are in the target.
 */
const importMergeEvents = (ctx: ImportContext, rows: ReadonlyArray<LegacyMergeEventRow>) =>
  Effect.gen(function*() {
    const { sql, now } = ctx
    const done = yield* itemsOf(ctx, "merge-event")
    let imported = 0
    let skipped = 0
    for (const e of rows) {
      if (done.has(e.id)) {
        skipped++
        continue
      }
      const inserted = yield* rowsOf(ctx.storePath, Id)(sql`
        INSERT INTO merge_events (repo_path, branch, target_branch, branch_head, target_head, method,
          merge_commit, session_id, detected_at)
        VALUES (${e.repo_path}, ${e.branch_name}, ${e.target_branch}, ${e.source_commit}, ${e.target_commit},
          'content', ${null}, ${null}, ${legacyTime(e.detected_at, now)})
        ON CONFLICT (repo_path, branch, target_branch, branch_head) DO NOTHING
        RETURNING id`)
      const existing = inserted[0]?.id ?? (yield* rowsOf(ctx.storePath, Id)(sql`
        SELECT id FROM merge_events WHERE repo_path = ${e.repo_path} AND branch = ${e.branch_name}
          AND target_branch = ${e.target_branch} AND branch_head = ${e.source_commit}`))[0]?.id
      if (inserted.length === 0) skipped++
      else imported++
      if (existing !== undefined) yield* record(ctx, "merge-event", e.id, String(existing))
    }
    return { found: rows.length, imported, skipped, pending: 0 } satisfies KindResult
  })

/**
 * Merge subscriptions of imported sessions. One still waiting stays pending only while its session is
 * active; otherwise it is closed (notified_at set) so that nobody waits for an answer any more.
 */
const importSubscriptions = (
  ctx: ImportContext,
  rows: ReadonlyArray<LegacySubscriptionRow>,
  events: ReadonlyArray<LegacyMergeEventRow>
) =>
  Effect.gen(function*() {
    const { sql, now } = ctx
    const sessionOf = yield* itemsOf(ctx, "session")
    const eventOf = yield* itemsOf(ctx, "merge-event")
    const done = yield* itemsOf(ctx, "subscription")
    let imported = 0
    let skipped = 0
    for (const sub of rows) {
      const sessionId = sessionOf.get(sub.session_id)
      if (done.has(sub.id) || sessionId === undefined) {
        skipped++
        continue
      }
      const session = yield* sessionState(ctx, sessionId)
      const created = legacyTime(sub.created_at, now)
      const notified = sub.notified_at != null
        ? legacyTime(sub.notified_at, created)
        : !sub.is_active || session?.status !== "active"
        ? session?.ended_at ?? created
        : null
      const event = events.find((e) =>
        e.repo_path === sub.repo_path && e.branch_name === sub.branch_name && e.target_branch === sub.target_branch
      )
      const eventId = notified !== null && event !== undefined ? eventOf.get(event.id) ?? null : null
      const inserted = yield* rowsOf(ctx.storePath, Id)(sql`
        INSERT INTO merge_subscriptions (session_id, repo_path, branch, target_branch, created_at, notified_at,
          merge_event_id)
        VALUES (${sessionId}, ${sub.repo_path}, ${sub.branch_name}, ${sub.target_branch}, ${created}, ${notified},
          ${eventId === null ? null : Number(eventId)})
        RETURNING id`.pipe(
        // A pending subscription of the same session and pair is there already.
        Effect.catchTag("SqlError", () => Effect.succeed([]))
      ))
      if (inserted[0] === undefined) {
        skipped++
        continue
      }
      yield* record(ctx, "subscription", sub.id, String(inserted[0].id))
      imported++
    }
    return { found: rows.length, imported, skipped, pending: 0 } satisfies KindResult
  })

/** Everything importable in a legacy file, decoded. */
const readLegacy = (source: string) =>
  Effect.scoped(Effect.gen(function*() {
    const src = yield* openFile(source, true)
    const kind = yield* schemaKind(src)
    if (kind !== "legacy") {
      return yield* new DatabaseError({ reason: "Query", path: source, detail: "not a database of the original parallel-cc" })
    }
    const info = yield* legacyInfo(src, source)
    const sessions = yield* rowsOf(source, LegacySessionRow)(src`SELECT * FROM sessions ORDER BY created_at, id`)
    const claims = info.counts.fileClaims > 0
      ? yield* rowsOf(source, LegacyClaimRow)(src`SELECT * FROM file_claims ORDER BY claimed_at, id`)
      : []
    const mergeEvents = info.counts.mergeEvents > 0
      ? yield* rowsOf(source, LegacyMergeEventRow)(src`SELECT * FROM merge_events ORDER BY detected_at, id`)
      : []
    const subscriptions = info.counts.subscriptions > 0
      ? yield* rowsOf(source, LegacySubscriptionRow)(src`SELECT * FROM subscriptions ORDER BY created_at, id`)
      : []
    return { info, sessions, claims, mergeEvents, subscriptions }
  })).pipe(failWith(source))

/**
 * Import a legacy file (moved aside by {@link prepare}) into the store. Idempotent: records imported before
 * are skipped. Needs the store migrated to at least version 9.
 */
export const importFile = (input: { readonly source: string; readonly original: string; readonly backup: string | null }) =>
  Effect.gen(function*() {
    const db = yield* Database
    const config = yield* AppConfig
    const sql = db.sql
    const now = yield* Clock.currentTimeMillis
    const ctx: ImportContext = { sql, source: input.source, storePath: db.path, now }
    const legacy = yield* readLegacy(input.source)
    const pendingKind = (found: number): KindResult => ({ ...emptyKind, found, pending: found })
    const ourTables = (yield* db.orFail(rowsOf(db.path, Name)(sql`SELECT name FROM sqlite_master WHERE type = 'table'`)))
      .map((r) => r.name)

    return yield* db.immediate(Effect.gen(function*() {
      yield* sql`
        INSERT INTO legacy_imports (source_path, original_path, backup_path, legacy_version, found_at)
        VALUES (${input.source}, ${input.original}, ${input.backup}, ${legacy.info.version}, ${now})
        ON CONFLICT (source_path) DO NOTHING`
      const sessions = yield* importSessions(ctx, legacy.sessions, config.values["sessions.staleMinutes"] * 60_000)
      const fileClaims = ourTables.includes("file_claims")
        ? yield* importClaims(ctx, legacy.claims)
        : pendingKind(legacy.info.counts.fileClaims)
      // Kinds whose tables this store does not have (yet) stay in the legacy file (kept), and the import is
      // not complete, so that a later `migrate` picks them up.
      const hasMerges = ourTables.includes("merge_events") && ourTables.includes("merge_subscriptions")
      const mergeEvents = hasMerges ? yield* importMergeEvents(ctx, legacy.mergeEvents) : pendingKind(legacy.info.counts.mergeEvents)
      const subscriptions = hasMerges
        ? yield* importSubscriptions(ctx, legacy.subscriptions, legacy.mergeEvents)
        : pendingKind(legacy.info.counts.subscriptions)
      const complete = [fileClaims, mergeEvents, subscriptions].every((k) => k.pending === 0)
      const result: ImportResult = {
        source: input.source,
        original: input.original,
        backup: input.backup,
        legacyVersion: legacy.info.version,
        sessions,
        fileClaims,
        mergeEvents,
        subscriptions,
        notImported: {
          conflictResolutions: legacy.info.counts.conflictResolutions,
          autoFixSuggestions: legacy.info.counts.autoFixSuggestions,
          budgetTracking: legacy.info.counts.budgetTracking
        },
        complete
      }
      yield* sql`
        UPDATE legacy_imports SET imported_at = ${now}, complete = ${complete ? 1 : 0}, summary = ${JSON.stringify(result)}
        WHERE source_path = ${input.source}`
      return result
    }))
  }).pipe(Effect.withSpan("LegacyImport.importFile"))

/**
 * Legacy files moved aside whose import is not complete (an interrupted run, or kinds a newer version can
 * now import), plus a `<db>.legacy.db` that was moved but never recorded. Only files still on disk.
 */
export const pending = Effect.gen(function*() {
  const db = yield* Database
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const rows = yield* db.orFail(
    rowsOf(db.path, ImportRow)(db.sql`SELECT source_path, original_path, backup_path, complete FROM legacy_imports`)
  )
  const out: Array<{ readonly source: string; readonly original: string; readonly backup: string | null }> = []
  for (const r of rows) {
    if (r.complete) continue
    if (yield* fs.exists(r.source_path).pipe(Effect.orElseSucceed(() => false))) {
      out.push({ source: r.source_path, original: r.original_path, backup: r.backup_path })
    }
  }
  const moved = `${stem(db.path)}.legacy.db`
  const known = rows.some((r) => path.resolve(r.source_path) === path.resolve(moved))
  if (!known && (yield* fs.exists(moved).pipe(Effect.orElseSucceed(() => false)))) {
    out.push({ source: moved, original: db.path, backup: null })
  }
  return out as ReadonlyArray<(typeof out)[number]>
})
