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
import { Clock, Effect, Option } from "effect"
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

const isDbFailure = (e: unknown): e is DbFailure =>
  typeof e === "object" && e !== null && ((e as any)._tag === "DatabaseError" || (e as any)._tag === "DatabaseBusy")

/** Classify an open database by its tables. */
export const schemaKind = (sql: SqlClient.SqlClient) =>
  Effect.gen(function*() {
    const tables = (yield* sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'table'`).map((r) => r.name)
    if (tables.includes("effect_sql_migrations")) return "ours" as SchemaKind
    if (tables.length === 0) return "empty" as SchemaKind
    if (tables.includes("sessions")) {
      const cols = (yield* sql<{ name: string }>`SELECT name FROM pragma_table_info('sessions')`).map((r) => r.name)
      if (cols.includes("is_main_repo") && cols.includes("worktree_path")) return "legacy" as SchemaKind
    }
    return "unknown" as SchemaKind
  })

const count = (sql: SqlClient.SqlClient, tables: ReadonlyArray<string>, table: string) =>
  tables.includes(table)
    ? Effect.map(sql.unsafe<{ n: number }>(`SELECT count(*) AS n FROM "${table}"`), (r) => Number(r[0]?.n ?? 0))
    : Effect.succeed(0)

/** Version and row counts of a legacy database. */
export const legacyInfo = (sql: SqlClient.SqlClient, file: string) =>
  Effect.gen(function*() {
    const tables = (yield* sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'table'`).map((r) => r.name)
    const version = tables.includes("schema_metadata")
      ? Option.getOrElse(
        Option.fromNullable((yield* sql<{ value: string }>`SELECT value FROM schema_metadata WHERE key = 'version'`)[0]?.value),
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

interface LegacyClaimRow {
  readonly id: string
  readonly session_id: string
  readonly repo_path: string
  readonly file_path: string
  readonly claim_mode: string
  readonly claimed_at: unknown
  readonly expires_at: unknown
  readonly last_heartbeat: unknown
  readonly is_active: number
  readonly released_at: unknown
  readonly deleted_at: unknown
}

interface LegacyMergeEventRow {
  readonly id: string
  readonly repo_path: string
  readonly branch_name: string
  readonly source_commit: string
  readonly target_branch: string
  readonly target_commit: string
  readonly detected_at: unknown
}

interface LegacySubscriptionRow {
  readonly id: string
  readonly session_id: string
  readonly repo_path: string
  readonly branch_name: string
  readonly target_branch: string
  readonly created_at: unknown
  readonly notified_at: unknown
  readonly is_active: number
}

interface LegacySessionRow {
  readonly id: string
  readonly pid: number
  readonly repo_path: string
  readonly worktree_path: string
  readonly worktree_name: string | null
  readonly is_main_repo: number
  readonly created_at: unknown
  readonly last_heartbeat: unknown
  readonly execution_mode?: string | null
}

const emptyKind: KindResult = { found: 0, imported: 0, skipped: 0, pending: 0 }

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
    const staleMs = config.values["sessions.staleMinutes"] * 60_000

    const legacy = yield* Effect.scoped(Effect.gen(function*() {
      const src = yield* openFile(input.source, true)
      const kind = yield* schemaKind(src)
      if (kind !== "legacy") {
        return yield* new DatabaseError({ reason: "Query", path: input.source, detail: "not a database of the original parallel-cc" })
      }
      const info = yield* legacyInfo(src, input.source)
      const sessions = yield* src<LegacySessionRow>`SELECT * FROM sessions ORDER BY created_at, id`
      const claims = info.counts.fileClaims > 0
        ? yield* src<LegacyClaimRow>`SELECT * FROM file_claims ORDER BY claimed_at, id`
        : []
      const mergeEvents = info.counts.mergeEvents > 0
        ? yield* src<LegacyMergeEventRow>`SELECT * FROM merge_events ORDER BY detected_at, id`
        : []
      const subscriptions = info.counts.subscriptions > 0
        ? yield* src<LegacySubscriptionRow>`SELECT * FROM subscriptions ORDER BY created_at, id`
        : []
      return { info, sessions, claims, mergeEvents, subscriptions }
    })).pipe(failWith(input.source))

    const pendingKind = (found: number): KindResult => ({ ...emptyKind, found, pending: found })
    const ourTables = (yield* db.orFail(sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'table'`))
      .map((r) => r.name)

    /** Claims of imported sessions: active only while their session is and they have not expired. */
    const importClaims = (rows: ReadonlyArray<LegacyClaimRow>) =>
      Effect.gen(function*() {
        const items = yield* sql<{ kind: string; legacy_id: string; new_id: string }>`
          SELECT kind, legacy_id, new_id FROM legacy_import_items WHERE source_path = ${input.source}`
        const sessionOf = new Map(items.filter((i) => i.kind === "session").map((i) => [i.legacy_id, i.new_id]))
        const done = new Set(items.filter((i) => i.kind === "claim").map((i) => i.legacy_id))
        let imported = 0
        let skipped = 0
        for (const c of rows) {
          const legacyId = String(c.id)
          const sessionId = sessionOf.get(String(c.session_id))
          if (done.has(legacyId) || sessionId === undefined || !["EXCLUSIVE", "SHARED", "INTENT"].includes(c.claim_mode)) {
            skipped++
            continue
          }
          const id = `c${sessionIdFor(legacyId)}`
          const created = legacyTime(c.claimed_at, now)
          const updated = legacyTime(c.last_heartbeat, created)
          const expires = legacyTime(c.expires_at, updated)
          const session = (yield* sql<{ status: string; ended_at: number | null }>`
            SELECT status, ended_at FROM sessions WHERE id = ${sessionId}`)[0]
          const activeInLegacy = Number(c.is_active) === 1 && c.released_at == null && c.deleted_at == null
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
          yield* sql`
            INSERT INTO legacy_import_items (source_path, kind, legacy_id, new_id)
            VALUES (${input.source}, 'claim', ${legacyId}, ${id})`
          imported++
        }
        return { found: rows.length, imported, skipped, pending: 0 } satisfies KindResult
      })

    const itemsOf = (kind: string) =>
      Effect.map(
        sql<{ legacy_id: string; new_id: string }>`
          SELECT legacy_id, new_id FROM legacy_import_items WHERE source_path = ${input.source} AND kind = ${kind}`,
        (rows) => new Map(rows.map((r) => [r.legacy_id, r.new_id]))
      )
    const record = (kind: string, legacyId: string, newId: string) =>
      sql`INSERT INTO legacy_import_items (source_path, kind, legacy_id, new_id)
        VALUES (${input.source}, ${kind}, ${legacyId}, ${newId})`

    /**
     * Merge events. The original tool did not record how a branch was merged (it checked that the target
     * contains the branch), so they come in as method `content`: the branch's changes are in the target.
     */
    const importMergeEvents = (rows: ReadonlyArray<LegacyMergeEventRow>) =>
      Effect.gen(function*() {
        const done = yield* itemsOf("merge-event")
        let imported = 0
        let skipped = 0
        for (const e of rows) {
          const legacyId = String(e.id)
          if (done.has(legacyId)) {
            skipped++
            continue
          }
          const inserted = yield* sql<{ id: number }>`
            INSERT INTO merge_events (repo_path, branch, target_branch, branch_head, target_head, method,
              merge_commit, session_id, detected_at)
            VALUES (${e.repo_path}, ${e.branch_name}, ${e.target_branch}, ${e.source_commit}, ${e.target_commit},
              'content', ${null}, ${null}, ${legacyTime(e.detected_at, now)})
            ON CONFLICT (repo_path, branch, target_branch, branch_head) DO NOTHING
            RETURNING id`
          const existing = inserted[0]?.id ?? (yield* sql<{ id: number }>`
            SELECT id FROM merge_events WHERE repo_path = ${e.repo_path} AND branch = ${e.branch_name}
              AND target_branch = ${e.target_branch} AND branch_head = ${e.source_commit}`)[0]?.id
          if (inserted.length === 0) skipped++
          else imported++
          if (existing !== undefined) yield* record("merge-event", legacyId, String(existing))
        }
        return { found: rows.length, imported, skipped, pending: 0 } satisfies KindResult
      })

    /**
     * Merge subscriptions of imported sessions. One still waiting stays pending only while its session is
     * active; otherwise it is closed (notified_at set) so that nobody waits for an answer any more.
     */
    const importSubscriptions = (rows: ReadonlyArray<LegacySubscriptionRow>, events: ReadonlyArray<LegacyMergeEventRow>) =>
      Effect.gen(function*() {
        const sessionOf = yield* itemsOf("session")
        const eventOf = yield* itemsOf("merge-event")
        const done = yield* itemsOf("subscription")
        let imported = 0
        let skipped = 0
        for (const sub of rows) {
          const legacyId = String(sub.id)
          const sessionId = sessionOf.get(String(sub.session_id))
          if (done.has(legacyId) || sessionId === undefined) {
            skipped++
            continue
          }
          const session = (yield* sql<{ status: string; ended_at: number | null }>`
            SELECT status, ended_at FROM sessions WHERE id = ${sessionId}`)[0]
          const created = legacyTime(sub.created_at, now)
          const notified = sub.notified_at != null
            ? legacyTime(sub.notified_at, created)
            : Number(sub.is_active) !== 1 || session?.status !== "active"
            ? session?.ended_at ?? created
            : null
          const event = events.find((e) =>
            e.repo_path === sub.repo_path && e.branch_name === sub.branch_name && e.target_branch === sub.target_branch
          )
          const eventId = notified !== null && event !== undefined ? eventOf.get(String(event.id)) ?? null : null
          const inserted = yield* sql<{ id: number }>`
            INSERT INTO merge_subscriptions (session_id, repo_path, branch, target_branch, created_at, notified_at,
              merge_event_id)
            VALUES (${sessionId}, ${sub.repo_path}, ${sub.branch_name}, ${sub.target_branch}, ${created}, ${notified},
              ${eventId === null ? null : Number(eventId)})
            RETURNING id`.pipe(
            // A pending subscription of the same session and pair is there already.
            Effect.catchTag("SqlError", () => Effect.succeed([] as ReadonlyArray<{ id: number }>))
          )
          if (inserted[0] === undefined) {
            skipped++
            continue
          }
          yield* record("subscription", legacyId, String(inserted[0].id))
          imported++
        }
        return { found: rows.length, imported, skipped, pending: 0 } satisfies KindResult
      })

    return yield* db.immediate(Effect.gen(function*() {
      yield* sql`
        INSERT INTO legacy_imports (source_path, original_path, backup_path, legacy_version, found_at)
        VALUES (${input.source}, ${input.original}, ${input.backup}, ${legacy.info.version}, ${now})
        ON CONFLICT (source_path) DO NOTHING`
      const done = new Set(
        (yield* sql<{ legacy_id: string }>`
          SELECT legacy_id FROM legacy_import_items WHERE source_path = ${input.source} AND kind = 'session'`)
          .map((r) => r.legacy_id)
      )
      const mainTaken = new Set(
        (yield* sql<{ repo_path: string }>`SELECT repo_path FROM sessions WHERE is_main = 1 AND status = 'active'`)
          .map((r) => r.repo_path)
      )
      let imported = 0
      let skipped = 0
      for (const row of legacy.sessions) {
        const legacyId = String(row.id)
        if (done.has(legacyId)) {
          skipped++
          continue
        }
        const id = sessionIdFor(legacyId)
        const exists = (yield* sql<{ n: number }>`SELECT count(*) AS n FROM sessions WHERE id = ${id}`)[0]?.n ?? 0
        if (Number(exists) > 0) {
          skipped++
          continue
        }
        const created = legacyTime(row.created_at, now)
        const heartbeat = legacyTime(row.last_heartbeat, created)
        const isMain = Number(row.is_main_repo) === 1
        // Still running under the original tool: keep it active, so that a new session of this repo gets a
        // worktree instead of the directory that agent is working in. Everything else is history.
        const live = alive(Number(row.pid)) && now - heartbeat < staleMs && !(isMain && mainTaken.has(row.repo_path))
        if (live && isMain) mainTaken.add(row.repo_path)
        yield* sql`
          INSERT INTO sessions (id, repo_path, worktree_path, worktree_name, branch, is_main, pid, pid_start_time,
            mode, status, created_at, last_heartbeat, ended_at, port_base)
          VALUES (${id}, ${row.repo_path}, ${row.worktree_path}, ${row.worktree_name ?? null}, ${null},
            ${isMain ? 1 : 0}, ${Number(row.pid)}, ${null}, ${row.execution_mode === "e2b" ? "sandbox" : "local"},
            ${live ? "active" : "released"}, ${created}, ${heartbeat}, ${live ? null : heartbeat}, ${null})`
        yield* sql`
          INSERT INTO legacy_import_items (source_path, kind, legacy_id, new_id)
          VALUES (${input.source}, 'session', ${legacyId}, ${id})`
        imported++
      }
      const sessions: KindResult = { found: legacy.sessions.length, imported, skipped, pending: 0 }
      const fileClaims = ourTables.includes("file_claims")
        ? yield* importClaims(legacy.claims)
        : pendingKind(legacy.info.counts.fileClaims)
      // Kinds whose tables this store does not have (yet) stay in the legacy file (kept), and the import is
      // not complete, so that a later `migrate` picks them up.
      const hasMerges = ourTables.includes("merge_events") && ourTables.includes("merge_subscriptions")
      const mergeEvents = hasMerges ? yield* importMergeEvents(legacy.mergeEvents) : pendingKind(legacy.info.counts.mergeEvents)
      const subscriptions = hasMerges
        ? yield* importSubscriptions(legacy.subscriptions, legacy.mergeEvents)
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
    db.sql<{ source_path: string; original_path: string; backup_path: string | null; complete: number }>`
      SELECT source_path, original_path, backup_path, complete FROM legacy_imports`
  )
  const out: Array<{ source: string; original: string; backup: string | null }> = []
  for (const r of rows) {
    if (r.complete === 1) continue
    if (yield* fs.exists(r.source_path).pipe(Effect.orElseSucceed(() => false))) {
      out.push({ source: r.source_path, original: r.original_path, backup: r.backup_path })
    }
  }
  const moved = `${stem(db.path)}.legacy.db`
  const known = rows.some((r) => path.resolve(r.source_path) === path.resolve(moved))
  if (!known && (yield* fs.exists(moved).pipe(Effect.orElseSucceed(() => false)))) {
    out.push({ source: moved, original: db.path, backup: null })
  }
  return out as ReadonlyArray<{ readonly source: string; readonly original: string; readonly backup: string | null }>
})
