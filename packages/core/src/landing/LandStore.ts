/**
 * The landing queue's storage: entries (`land_entries`), runs (`land_runs`) and the per-target lease
 * (`land_locks`). Every read-then-write decision is one `BEGIN IMMEDIATE` transaction, so two processes
 * never both take an entry, both take the lease, or both record a landing.
 *
 * @since 0.1.0
 */
import { Clock, Context, Effect, Layer, Schema } from "effect"
import { Database, type DbFailure } from "../platform/Database.js"
import {
  type CandidateKind,
  EntryDetail,
  type EntryStatus,
  LandEntry,
  LandEntryNotFound,
  type SendBackReason,
  type Strategy
} from "./LandDomain.js"

/** A new entry (before it has an id and a position). */
export interface NewEntry {
  readonly repoPath: string
  readonly target: string
  readonly kind: CandidateKind
  readonly spec: string
  readonly name: string
  readonly sessionId: string | null
  readonly branch: string | null
  readonly worktreePath: string | null
  readonly head: string | null
  readonly strategy: Strategy
  readonly testCommand: string | null
  readonly requestedBy: string
  /** Notes about the candidate when it was queued (e.g. uncommitted files that are not part of it). */
  readonly warnings?: ReadonlyArray<string> | undefined
}

/** Fields a run may change on an entry. */
export interface EntryPatch {
  readonly status?: EntryStatus
  readonly runId?: string | null
  readonly head?: string | null
  readonly attempts?: number
  readonly plannedCommit?: string | null
  readonly targetBefore?: string | null
  readonly landedCommit?: string | null
  readonly reason?: SendBackReason | null
  readonly message?: string | null
  readonly detail?: EntryDetail
  readonly logPath?: string | null
  readonly testMs?: number | null
  readonly startedAt?: number | null
  readonly endedAt?: number | null
}

/** A `land` run as stored. */
export interface RunRow {
  readonly id: string
  readonly repoPath: string
  readonly target: string
  readonly pid: number
  readonly pidStartTime: string | null
  readonly status: "running" | "finished" | "abandoned"
  readonly worktreePath: string | null
  readonly testPid: number | null
  readonly testPidStart: string | null
}

/** Who holds a target's lease. */
export interface LeaseHolder {
  readonly runId: string
  readonly pid: number
  readonly pidStartTime: string | null
}

export interface EntryFilter {
  readonly repoPath?: string | undefined
  readonly target?: string | undefined
  readonly sessionId?: string | undefined
  readonly branch?: string | undefined
  readonly statuses?: ReadonlyArray<EntryStatus> | undefined
  readonly ids?: ReadonlyArray<string> | undefined
  /** Most recent first when set; default: queue order, no limit. */
  readonly limit?: number | undefined
}

export class LandStore extends Context.Tag("@parallel-cc/core/LandStore")<LandStore, {
  /** Queue entries at the end of the target's queue (one transaction); returns them in order. */
  readonly enqueue: (entries: ReadonlyArray<NewEntry>) => Effect.Effect<ReadonlyArray<LandEntry>, DbFailure>
  readonly get: (entryId: string) => Effect.Effect<LandEntry, LandEntryNotFound | DbFailure>
  readonly list: (filter: EntryFilter) => Effect.Effect<ReadonlyArray<LandEntry>, DbFailure>
  /** Change fields of entries; returns nothing (read them back with `list`). */
  readonly update: (entryIds: ReadonlyArray<string>, patch: EntryPatch) => Effect.Effect<void, DbFailure>
  /** Several changes in one transaction (one write to the store instead of one per entry). */
  readonly updateEach: (changes: ReadonlyArray<readonly [entryId: string, patch: EntryPatch]>) => Effect.Effect<void, DbFailure>
  /** Cancel a waiting entry; false when it is no longer waiting. */
  readonly cancel: (entryId: string) => Effect.Effect<boolean, DbFailure>
  /**
   * Take the target's lease for `run` when it is free or its holder is gone (`isAlive` says), recording the
   * run. Returns the current holder when someone alive holds it.
   */
  readonly tryLease: (
    key: string,
    run: Omit<RunRow, "status" | "worktreePath" | "testPid" | "testPidStart">,
    isAlive: (holder: LeaseHolder) => Effect.Effect<boolean>
  ) => Effect.Effect<LeaseHolder | null, DbFailure>
  readonly releaseLease: (key: string, runId: string) => Effect.Effect<void, DbFailure>
  readonly updateRun: (runId: string, patch: Partial<Pick<RunRow, "status" | "worktreePath" | "testPid" | "testPidStart">>) => Effect.Effect<void, DbFailure>
  /** Who holds the leases of a repository's targets (every repository when none is given). */
  readonly leases: (repoPath?: string) => Effect.Effect<ReadonlyArray<LeaseHolder & { readonly target: string; readonly repoPath: string }>, DbFailure>
  /** Runs of this target still marked running (their process may be gone). */
  readonly runningRuns: (repoPath: string, target: string) => Effect.Effect<ReadonlyArray<RunRow>, DbFailure>
}>() {}

const columns = {
  entryId: "id",
  position: "position",
  repoPath: "repo_path",
  target: "target",
  kind: "kind",
  spec: "spec",
  name: "name",
  sessionId: "session_id",
  branch: "branch",
  worktreePath: "worktree_path",
  head: "head",
  strategy: "strategy",
  testCommand: "test_command",
  requestedBy: "requested_by",
  status: "status",
  runId: "run_id",
  attempts: "attempts",
  plannedCommit: "planned_commit",
  targetBefore: "target_before",
  landedCommit: "landed_commit",
  reason: "reason",
  message: "message",
  detail: "detail",
  logPath: "log_path",
  testMs: "test_ms",
  createdAt: "created_at",
  startedAt: "started_at",
  endedAt: "ended_at"
} as const satisfies { readonly [K in keyof LandEntry]: string }

const decodeDetail = Schema.decodeUnknownSync(Schema.parseJson(EntryDetail))
const encodeDetail = Schema.encodeSync(Schema.parseJson(EntryDetail))

const fromRow = (row: Record<string, unknown>): unknown => {
  const out: Record<string, unknown> = {}
  for (const [field, col] of Object.entries(columns)) {
    const v = row[col]
    if (field === "detail") out[field] = decodeDetail(v)
    else if (["createdAt", "startedAt", "endedAt"].includes(field)) out[field] = v === null ? null : new Date(v as number)
    else out[field] = v
  }
  return out
}
// The class constructor validates every field against the schema.
const decodeEntry = (row: unknown) =>
  Effect.try(() => new LandEntry(fromRow(row as Record<string, unknown>) as ConstructorParameters<typeof LandEntry>[0]))

const alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
/** A fresh random id with a prefix (`l_` entries, `r_` runs). */
export const newId = (prefix: string): string => {
  const bytes = new Uint8Array(10)
  globalThis.crypto.getRandomValues(bytes)
  let id = prefix
  for (const b of bytes) id += alphabet[b % 36]
  return id
}

const patchColumns = (patch: EntryPatch): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) continue
    out[columns[k as keyof typeof columns]] = k === "detail" ? encodeDetail(v as EntryDetail) : v
  }
  return out
}

export const make = Effect.gen(function*() {
  const db = yield* Database
  const sql = db.sql

  const decodeRows = (rows: ReadonlyArray<unknown>) => Effect.forEach(rows, decodeEntry).pipe(Effect.orDie)

  const list = (filter: EntryFilter) => {
    const conds = [
      filter.repoPath !== undefined ? sql`repo_path = ${filter.repoPath}` : undefined,
      filter.target !== undefined ? sql`target = ${filter.target}` : undefined,
      filter.sessionId !== undefined ? sql`session_id = ${filter.sessionId}` : undefined,
      filter.branch !== undefined ? sql`branch = ${filter.branch}` : undefined,
      filter.statuses !== undefined ? sql`status IN ${sql.in(filter.statuses.length > 0 ? filter.statuses : ["none"])}` : undefined,
      filter.ids !== undefined ? sql`id IN ${sql.in(filter.ids.length > 0 ? filter.ids : [""])}` : undefined
    ].filter((c) => c !== undefined)
    const query = filter.limit !== undefined
      ? sql`SELECT * FROM land_entries WHERE ${sql.and(conds)} ORDER BY position DESC LIMIT ${Math.max(1, Math.trunc(filter.limit))}`
      : sql`SELECT * FROM land_entries WHERE ${sql.and(conds)} ORDER BY position`
    return db.orFail(query).pipe(Effect.flatMap(decodeRows))
  }

  const get = (entryId: string) =>
    list({ ids: [entryId] }).pipe(
      Effect.flatMap((rows) => rows[0] !== undefined ? Effect.succeed(rows[0]) : Effect.fail(new LandEntryNotFound({ entryId })))
    )

  const enqueue = (entries: ReadonlyArray<NewEntry>) =>
    Effect.gen(function*() {
      if (entries.length === 0) return []
      const now = yield* Clock.currentTimeMillis
      const ids = yield* db.immediate(Effect.gen(function*() {
        const max = yield* sql<{ p: number | null }>`SELECT MAX(position) AS p FROM land_entries`
        let position = max[0]?.p ?? 0
        const out: Array<string> = []
        for (const e of entries) {
          const id = newId("l_")
          position++
          yield* sql`INSERT INTO land_entries ${
            sql.insert({
              id,
              position,
              repo_path: e.repoPath,
              target: e.target,
              kind: e.kind,
              spec: e.spec,
              name: e.name,
              session_id: e.sessionId,
              branch: e.branch,
              worktree_path: e.worktreePath,
              head: e.head,
              strategy: e.strategy,
              test_command: e.testCommand,
              requested_by: e.requestedBy,
              status: "queued",
              attempts: 0,
              detail: encodeDetail({ conflicts: [], resolutions: [], warnings: e.warnings ?? [], logTail: null, batchSize: null }),
              created_at: now
            })
          }`
          out.push(id)
        }
        return out
      }))
      return yield* list({ ids })
    }).pipe(Effect.withSpan("LandStore.enqueue"))

  const update = (entryIds: ReadonlyArray<string>, patch: EntryPatch) =>
    Effect.gen(function*() {
      const set = patchColumns(patch)
      if (entryIds.length === 0 || Object.keys(set).length === 0) return
      yield* db.orFail(sql`UPDATE land_entries SET ${sql.update(set)} WHERE id IN ${sql.in(entryIds)}`)
    })

  const updateEach = (changes: ReadonlyArray<readonly [string, EntryPatch]>) =>
    changes.length === 0
      ? Effect.void
      : db.immediate(Effect.forEach(changes, ([id, patch]) => {
        const set = patchColumns(patch)
        return Object.keys(set).length === 0 ? Effect.void : sql`UPDATE land_entries SET ${sql.update(set)} WHERE id = ${id}`.pipe(Effect.asVoid)
      }, { discard: true }))

  const cancel = (entryId: string) =>
    db.immediate(Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const rows = yield* sql<{ status: string }>`SELECT status FROM land_entries WHERE id = ${entryId}`
      if (rows[0]?.status !== "queued") return false
      yield* sql`UPDATE land_entries SET status = 'cancelled', ended_at = ${now}, message = 'cancelled' WHERE id = ${entryId}`
      return true
    }))

  const tryLease = (
    key: string,
    run: Omit<RunRow, "status" | "worktreePath" | "testPid" | "testPidStart">,
    isAlive: (holder: LeaseHolder) => Effect.Effect<boolean>
  ) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      return yield* db.immediate(Effect.gen(function*() {
        const rows = yield* sql<{ run_id: string; pid: number; pid_start_time: string | null }>`
          SELECT run_id, pid, pid_start_time FROM land_locks WHERE lock_key = ${key}`
        const held = rows[0] !== undefined
          ? { runId: rows[0].run_id, pid: rows[0].pid, pidStartTime: rows[0].pid_start_time }
          : undefined
        // Liveness is a /proc read: cheap enough to decide inside the write transaction.
        if (held !== undefined && (yield* isAlive(held))) return held
        yield* sql`INSERT OR REPLACE INTO land_locks ${
          sql.insert({ lock_key: key, run_id: run.id, pid: run.pid, pid_start_time: run.pidStartTime, acquired_at: now })
        }`
        yield* sql`INSERT INTO land_runs ${
          sql.insert({
            id: run.id,
            repo_path: run.repoPath,
            target: run.target,
            pid: run.pid,
            pid_start_time: run.pidStartTime,
            status: "running",
            started_at: now
          })
        }`
        return null
      }))
    })

  const releaseLease = (key: string, runId: string) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      yield* db.immediate(Effect.gen(function*() {
        yield* sql`DELETE FROM land_locks WHERE lock_key = ${key} AND run_id = ${runId}`
        yield* sql`UPDATE land_runs SET status = 'finished', ended_at = ${now} WHERE id = ${runId} AND status = 'running'`
      }))
    })

  const updateRun = (runId: string, patch: Partial<Pick<RunRow, "status" | "worktreePath" | "testPid" | "testPidStart">>) =>
    Effect.gen(function*() {
      const set: Record<string, unknown> = {}
      if (patch.status !== undefined) set.status = patch.status
      if (patch.worktreePath !== undefined) set.worktree_path = patch.worktreePath
      if (patch.testPid !== undefined) set.test_pid = patch.testPid
      if (patch.testPidStart !== undefined) set.test_pid_start = patch.testPidStart
      if (patch.status === "finished" || patch.status === "abandoned") set.ended_at = yield* Clock.currentTimeMillis
      if (Object.keys(set).length === 0) return
      yield* db.orFail(sql`UPDATE land_runs SET ${sql.update(set)} WHERE id = ${runId}`)
    })

  const runningRuns = (repoPath: string, target: string) =>
    db.orFail(
      sql<{
        id: string
        repo_path: string
        target: string
        pid: number
        pid_start_time: string | null
        status: RunRow["status"]
        worktree_path: string | null
        test_pid: number | null
        test_pid_start: string | null
      }>`SELECT * FROM land_runs WHERE repo_path = ${repoPath} AND target = ${target} AND status = 'running'`
    ).pipe(
      Effect.map((rows) =>
        rows.map((r): RunRow => ({
          id: r.id,
          repoPath: r.repo_path,
          target: r.target,
          pid: r.pid,
          pidStartTime: r.pid_start_time,
          status: r.status,
          worktreePath: r.worktree_path,
          testPid: r.test_pid,
          testPidStart: r.test_pid_start
        }))
      )
    )

  const leases = (repoPath?: string) =>
    db.orFail(
      sql<{ run_id: string; pid: number; pid_start_time: string | null; target: string; repo_path: string }>`
        SELECT l.run_id, l.pid, l.pid_start_time, r.target, r.repo_path
        FROM land_locks l JOIN land_runs r ON r.id = l.run_id
        WHERE ${repoPath !== undefined ? sql`r.repo_path = ${repoPath}` : sql`1 = 1`}`
    ).pipe(
      Effect.map((rows) =>
        rows.map((r) => ({ runId: r.run_id, pid: r.pid, pidStartTime: r.pid_start_time, target: r.target, repoPath: r.repo_path }))
      )
    )

  return LandStore.of({ enqueue, get, list, update, updateEach, cancel, tryLease, releaseLease, updateRun, leases, runningRuns })
})

/** LandStore over the Database. */
export const layer = Layer.effect(LandStore, make)
