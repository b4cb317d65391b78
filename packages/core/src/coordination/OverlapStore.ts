/**
 * The rows of live overlap detection (migration 11): each session's latest scan (`session_scans`), the files
 * it changed (`session_changes`) and the overlaps between live sessions (`overlaps`).
 *
 * Two sessions scan at the same time and both compute their pair. Each saves its own scan first and reads its
 * peers' after, so whichever saves last sees the other's latest work. `recordPairs` then writes a pair only
 * if both scans it was computed from are still the current ones (checked inside one `BEGIN IMMEDIATE`
 * transaction): a result computed from a scan that has since been replaced is dropped, because the session
 * that replaced it computes the pair again from the newer one. With one open row per pair and file (a
 * partial unique index), overlaps are neither lost nor duplicated however many sessions scan at once.
 *
 * @since 0.2.0
 */
import type { Statement } from "@effect/sql"
import { Clock, Context, Effect, Layer, Schema } from "effect"
import { SessionId } from "../Domain.js"
import { Database, type DbFailure } from "../platform/Database.js"

/** How closely two sessions' changes to one file meet: the same file, touching lines, the same symbols. */
export const OverlapLevel = Schema.Literal("file", "hunk", "symbol")
export type OverlapLevel = typeof OverlapLevel.Type

/** Two live sessions of a repository changing the same file. */
export class Overlap extends Schema.Class<Overlap>("Overlap")({
  repoPath: Schema.String,
  filePath: Schema.String,
  sessionA: SessionId,
  branchA: Schema.NullOr(Schema.String),
  worktreeA: Schema.String,
  sessionB: SessionId,
  branchB: Schema.NullOr(Schema.String),
  worktreeB: Schema.String,
  level: OverlapLevel,
  /** Symbols (functions, classes, members…) both sessions changed. */
  symbols: Schema.Array(Schema.String),
  /** Whether `git merge-tree` of the two sessions' work conflicts on the file (null: not known yet). */
  conflict: Schema.NullOr(Schema.Boolean),
  firstSeen: Schema.Date,
  lastSeen: Schema.Date
}) {}

/** The JSON shape of an overlap (`overlaps --json`, MCP, the library). */
export const OverlapJson = Schema.encodedSchema(Overlap)
export type OverlapJson = typeof OverlapJson.Type

export const ChangeStatus = Schema.Literal("added", "modified", "deleted")

export const LineRangeSchema = Schema.Struct({ start: Schema.Int, end: Schema.Int })

/** A file a live session changed relative to where it started. */
export class ChangedFile extends Schema.Class<ChangedFile>("ChangedFile")({
  sessionId: SessionId,
  repoPath: Schema.String,
  filePath: Schema.String,
  status: ChangeStatus,
  /** In the session's own commits since its base. */
  committed: Schema.Boolean,
  /** In its work tree or index (staged, unstaged, untracked). */
  uncommitted: Schema.Boolean,
  symbols: Schema.Array(Schema.String),
  ranges: Schema.Array(LineRangeSchema),
  firstSeen: Schema.Date,
  updatedAt: Schema.Date
}) {}

/** A session's latest scan. */
export interface ScanRecord {
  readonly sessionId: SessionId
  readonly repoPath: string
  readonly head: string | null
  readonly base: string | null
  readonly snapshot: string
  readonly tree: string
  readonly scannedAt: Date
}

export type ChangeInput = Omit<ChangedFile, "firstSeen" | "updatedAt" | "sessionId" | "repoPath">

/** One pair's result, as computed by a scan of `sessionId` against `peer`. */
export interface PairResult {
  readonly peer: SessionId
  readonly filePath: string
  readonly level: OverlapLevel
  readonly symbols: ReadonlyArray<string>
  readonly conflict: boolean | null
}

export interface Recorded {
  /** Overlaps seen for the first time. */
  readonly opened: ReadonlyArray<Overlap>
  /** Open overlaps that now conflict and did not before. */
  readonly nowConflicting: ReadonlyArray<Overlap>
  /** Peers whose pair was not written (their scan changed meanwhile; they compute it themselves). */
  readonly skipped: ReadonlyArray<SessionId>
}

export class OverlapStore extends Context.Tag("@parallel-cc/core/OverlapStore")<OverlapStore, {
  /** Save a session's scan and replace its changed files, in one transaction. */
  readonly saveScan: (scan: ScanRecord, changes: ReadonlyArray<ChangeInput>) => Effect.Effect<void, DbFailure>
  /** The latest scans of the repository's active sessions. */
  readonly scans: (repoPath: string) => Effect.Effect<ReadonlyArray<ScanRecord>, DbFailure>
  /** Changed files of active sessions (of a repository, or one session). */
  readonly changes: (filter: { readonly repoPath?: string; readonly sessionId?: SessionId }) => Effect.Effect<ReadonlyArray<ChangedFile>, DbFailure>
  /**
   * Record what a scan of `sessionId` (from `snapshot`) found against each peer of `basis` (peer → the
   * snapshot it was computed from): open, update and end that session's overlaps with those peers.
   */
  readonly recordPairs: (input: {
    readonly sessionId: SessionId
    readonly repoPath: string
    readonly snapshot: string
    readonly basis: ReadonlyMap<SessionId, string>
    readonly pairs: ReadonlyArray<PairResult>
  }) => Effect.Effect<Recorded, DbFailure>
  /**
   * The notices recording owes for the open overlaps of a session (`recordPairs` leaves them pending in the
   * same transaction): the new overlaps and those that now conflict.
   */
  readonly pendingNotices: (sessionId: SessionId) => Effect.Effect<Omit<Recorded, "skipped">, DbFailure>
  /** The notices of these overlaps are queued for both sessions: no longer pending. */
  readonly noticesQueued: (notices: Omit<Recorded, "skipped">) => Effect.Effect<void, DbFailure>
  /** Open overlaps between active sessions, oldest first. */
  readonly list: (filter?: { readonly repoPath?: string | undefined; readonly sessionId?: SessionId | undefined }) => Effect.Effect<ReadonlyArray<Overlap>, DbFailure>
}>() {}

const Millis = Schema.transform(Schema.Number, Schema.DateFromSelf, {
  strict: true,
  decode: (n) => new Date(n),
  encode: (d) => d.getTime()
})
const JsonList = <A, I>(item: Schema.Schema<A, I>) => Schema.parseJson(Schema.Array(item))

const OverlapRow = Schema.Struct({
  repo_path: Schema.String,
  file_path: Schema.String,
  session_a: SessionId,
  branch_a: Schema.NullOr(Schema.String),
  worktree_a: Schema.String,
  session_b: SessionId,
  branch_b: Schema.NullOr(Schema.String),
  worktree_b: Schema.String,
  level: OverlapLevel,
  symbols: JsonList(Schema.String),
  conflict: Schema.NullOr(Schema.Literal(0, 1)),
  first_seen: Millis,
  last_seen: Millis
})
const decodeOverlaps = Schema.decodeUnknown(Schema.Array(OverlapRow))
const toOverlap = (r: typeof OverlapRow.Type) =>
  new Overlap({
    repoPath: r.repo_path,
    filePath: r.file_path,
    sessionA: r.session_a,
    branchA: r.branch_a,
    worktreeA: r.worktree_a,
    sessionB: r.session_b,
    branchB: r.branch_b,
    worktreeB: r.worktree_b,
    level: r.level,
    symbols: r.symbols,
    conflict: r.conflict === null ? null : r.conflict === 1,
    firstSeen: r.first_seen,
    lastSeen: r.last_seen
  })

const ChangeRow = Schema.Struct({
  session_id: SessionId,
  repo_path: Schema.String,
  file_path: Schema.String,
  status: ChangeStatus,
  committed: Schema.Literal(0, 1),
  uncommitted: Schema.Literal(0, 1),
  symbols: JsonList(Schema.String),
  ranges: JsonList(LineRangeSchema),
  first_seen: Millis,
  updated_at: Millis
})
const decodeChanges = Schema.decodeUnknown(Schema.Array(ChangeRow))

const ScanRow = Schema.Struct({
  session_id: SessionId,
  repo_path: Schema.String,
  head: Schema.NullOr(Schema.String),
  base: Schema.NullOr(Schema.String),
  snapshot: Schema.String,
  tree: Schema.String,
  scanned_at: Millis
})
const decodeScans = Schema.decodeUnknown(Schema.Array(ScanRow))

/** `overlaps.notify_pending` bits: the new-overlap notice, the now-conflicts notice. */
const PENDING_OPENED = 1
const PENDING_CONFLICT = 2

/** The pair as stored: the smaller id first. */
const ordered = (x: SessionId, y: SessionId): readonly [SessionId, SessionId] => (x < y ? [x, y] : [y, x])

export const make = Effect.gen(function*() {
  const db = yield* Database
  const sql = db.sql

  const selectOverlaps = sql`
    SELECT o.repo_path, o.file_path, o.session_a, sa.branch AS branch_a, sa.worktree_path AS worktree_a,
      o.session_b, sb.branch AS branch_b, sb.worktree_path AS worktree_b, o.level, o.symbols, o.conflict,
      o.first_seen, o.last_seen
    FROM overlaps o JOIN sessions sa ON sa.id = o.session_a JOIN sessions sb ON sb.id = o.session_b
    WHERE o.ended_at IS NULL AND sa.status = 'active' AND sb.status = 'active'`

  const overlapsWhere = (extra: Statement.Fragment | undefined) =>
    db.orFail(extra === undefined ? sql`${selectOverlaps} ORDER BY o.first_seen, o.id` : sql`${selectOverlaps} AND ${extra} ORDER BY o.first_seen, o.id`)
      .pipe(Effect.flatMap((r) => Effect.orDie(decodeOverlaps(r))), Effect.map((rs) => rs.map(toOverlap)))

  const list = (filter: { readonly repoPath?: string | undefined; readonly sessionId?: SessionId | undefined } = {}) =>
    filter.sessionId !== undefined
      ? overlapsWhere(sql`(o.session_a = ${filter.sessionId} OR o.session_b = ${filter.sessionId})`)
      : filter.repoPath !== undefined
      ? overlapsWhere(sql`o.repo_path = ${filter.repoPath}`)
      : overlapsWhere(undefined)

  const saveScan = (scan: ScanRecord, changes: ReadonlyArray<ChangeInput>) =>
    db.immediate(Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      yield* sql`INSERT INTO session_scans ${
        sql.insert({
          session_id: scan.sessionId,
          repo_path: scan.repoPath,
          head: scan.head,
          base: scan.base,
          snapshot: scan.snapshot,
          tree: scan.tree,
          scanned_at: scan.scannedAt.getTime()
        })
      } ON CONFLICT (session_id) DO UPDATE SET head = excluded.head, base = excluded.base,
        snapshot = excluded.snapshot, tree = excluded.tree, scanned_at = excluded.scanned_at`
      const keep = changes.map((c) => c.filePath)
      yield* keep.length === 0
        ? sql`DELETE FROM session_changes WHERE session_id = ${scan.sessionId}`
        : sql`DELETE FROM session_changes WHERE session_id = ${scan.sessionId} AND NOT ${sql.in("file_path", keep)}`
      for (const c of changes) {
        yield* sql`INSERT INTO session_changes ${
          sql.insert({
            session_id: scan.sessionId,
            repo_path: scan.repoPath,
            file_path: c.filePath,
            status: c.status,
            committed: c.committed ? 1 : 0,
            uncommitted: c.uncommitted ? 1 : 0,
            symbols: JSON.stringify(c.symbols),
            ranges: JSON.stringify(c.ranges),
            first_seen: now,
            updated_at: now
          })
        } ON CONFLICT (session_id, file_path) DO UPDATE SET status = excluded.status, committed = excluded.committed,
          uncommitted = excluded.uncommitted, symbols = excluded.symbols, ranges = excluded.ranges,
          updated_at = excluded.updated_at`
      }
    })).pipe(Effect.withSpan("OverlapStore.saveScan"))

  const scans = (repoPath: string) =>
    db.orFail(sql`
      SELECT c.* FROM session_scans c JOIN sessions s ON s.id = c.session_id
      WHERE c.repo_path = ${repoPath} AND s.status = 'active' ORDER BY c.session_id`).pipe(
      Effect.flatMap((r) => Effect.orDie(decodeScans(r))),
      Effect.map((rs) =>
        rs.map((r): ScanRecord => ({
          sessionId: r.session_id,
          repoPath: r.repo_path,
          head: r.head,
          base: r.base,
          snapshot: r.snapshot,
          tree: r.tree,
          scannedAt: r.scanned_at
        }))
      )
    )

  const changes = (filter: { readonly repoPath?: string; readonly sessionId?: SessionId }) =>
    db.orFail(sql`
      SELECT c.* FROM session_changes c JOIN sessions s ON s.id = c.session_id
      WHERE s.status = 'active' AND ${
      filter.sessionId !== undefined ? sql`c.session_id = ${filter.sessionId}` : sql`c.repo_path = ${filter.repoPath ?? ""}`
    } ORDER BY c.session_id, c.file_path`).pipe(
      Effect.flatMap((r) => Effect.orDie(decodeChanges(r))),
      Effect.map((rs) =>
        rs.map((r) =>
          new ChangedFile({
            sessionId: r.session_id,
            repoPath: r.repo_path,
            filePath: r.file_path,
            status: r.status,
            committed: r.committed === 1,
            uncommitted: r.uncommitted === 1,
            symbols: r.symbols,
            ranges: r.ranges,
            firstSeen: r.first_seen,
            updatedAt: r.updated_at
          })
        )
      )
    )

  const recordPairs = (input: {
    readonly sessionId: SessionId
    readonly repoPath: string
    readonly snapshot: string
    readonly basis: ReadonlyMap<SessionId, string>
    readonly pairs: ReadonlyArray<PairResult>
  }) =>
    db.immediate(Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const me = input.sessionId
      const current = new Map(
        (yield* db.orFail(sql<{ session_id: string; snapshot: string }>`
          SELECT c.session_id, c.snapshot FROM session_scans c JOIN sessions s ON s.id = c.session_id
          WHERE c.repo_path = ${input.repoPath} AND s.status = 'active'`)).map((r) => [r.session_id, r.snapshot])
      )
      // End this session's open overlaps with sessions that are no longer active, whatever else happens.
      yield* sql`UPDATE overlaps SET ended_at = ${now} WHERE ended_at IS NULL AND (session_a = ${me} OR session_b = ${me})
        AND (session_a IN (SELECT id FROM sessions WHERE status <> 'active') OR session_b IN (SELECT id FROM sessions WHERE status <> 'active'))`
      if (current.get(me) !== input.snapshot) return { opened: [], nowConflicting: [], skipped: [...input.basis.keys()] } satisfies Recorded
      const valid = [...input.basis].filter(([peer, snap]) => current.get(peer) === snap).map(([peer]) => peer)
      const skipped = [...input.basis.keys()].filter((p) => !valid.includes(p))
      const openedKeys: Array<readonly [SessionId, SessionId, string]> = []
      const conflictKeys: Array<readonly [SessionId, SessionId, string]> = []
      for (const peer of valid) {
        const [a, b] = ordered(me, peer)
        const open = yield* db.orFail(sql<{ id: number; file_path: string; conflict: number | null }>`
          SELECT id, file_path, conflict FROM overlaps WHERE session_a = ${a} AND session_b = ${b} AND ended_at IS NULL`)
        const found = input.pairs.filter((p) => p.peer === peer)
        const byFile = new Map(found.map((p) => [p.filePath, p]))
        for (const row of open) {
          const p = byFile.get(row.file_path)
          if (p === undefined) yield* sql`UPDATE overlaps SET ended_at = ${now} WHERE id = ${row.id}`
          else {
            const nowConflicts = p.conflict === true && row.conflict !== 1
            yield* sql`UPDATE overlaps SET last_seen = ${now}, level = ${p.level}, symbols = ${JSON.stringify(p.symbols)},
              conflict = ${p.conflict === null ? null : p.conflict ? 1 : 0},
              notify_pending = notify_pending | ${nowConflicts ? PENDING_CONFLICT : 0} WHERE id = ${row.id}`
            if (nowConflicts) conflictKeys.push([a, b, row.file_path])
          }
        }
        const have = new Set(open.map((r) => r.file_path))
        for (const p of found) {
          if (have.has(p.filePath)) continue
          yield* sql`INSERT INTO overlaps ${
            sql.insert({
              repo_path: input.repoPath,
              session_a: a,
              session_b: b,
              file_path: p.filePath,
              level: p.level,
              symbols: JSON.stringify(p.symbols),
              conflict: p.conflict === null ? null : p.conflict ? 1 : 0,
              first_seen: now,
              last_seen: now,
              ended_at: null,
              notify_pending: PENDING_OPENED
            })
          }`
          openedKeys.push([a, b, p.filePath])
        }
      }
      const pick = (keys: ReadonlyArray<readonly [SessionId, SessionId, string]>) =>
        keys.length === 0
          ? Effect.succeed([] as ReadonlyArray<Overlap>)
          : Effect.map(overlapsWhere(sql`(o.session_a = ${me} OR o.session_b = ${me})`), (all) =>
            all.filter((o) => keys.some(([a, b, f]) => o.sessionA === a && o.sessionB === b && o.filePath === f)))
      return { opened: yield* pick(openedKeys), nowConflicting: yield* pick(conflictKeys), skipped } satisfies Recorded
    })).pipe(Effect.withSpan("OverlapStore.recordPairs"))

  const pendingNotices = (sessionId: SessionId) =>
    db.orFail(sql<{ session_a: string; session_b: string; file_path: string; notify_pending: number }>`
      SELECT session_a, session_b, file_path, notify_pending FROM overlaps
      WHERE ended_at IS NULL AND notify_pending <> 0 AND (session_a = ${sessionId} OR session_b = ${sessionId})`).pipe(
      Effect.flatMap((rows) =>
        rows.length === 0
          ? Effect.succeed({ opened: [], nowConflicting: [] })
          : Effect.map(list({ sessionId }), (open) => {
            const bits = (o: Overlap) =>
              rows.find((r) => r.session_a === o.sessionA && r.session_b === o.sessionB && r.file_path === o.filePath)?.notify_pending ?? 0
            return {
              opened: open.filter((o) => (bits(o) & PENDING_OPENED) !== 0),
              nowConflicting: open.filter((o) => (bits(o) & PENDING_CONFLICT) !== 0)
            }
          })
      )
    )

  const noticesQueued = (notices: Omit<Recorded, "skipped">) =>
    db.immediate(Effect.gen(function*() {
      const clear = (o: Overlap, bit: number) =>
        sql`UPDATE overlaps SET notify_pending = notify_pending & ${~bit} WHERE ended_at IS NULL
          AND session_a = ${o.sessionA} AND session_b = ${o.sessionB} AND file_path = ${o.filePath}`
      for (const o of notices.opened) yield* clear(o, PENDING_OPENED)
      for (const o of notices.nowConflicting) yield* clear(o, PENDING_CONFLICT)
    }))

  return OverlapStore.of({ saveScan, scans, changes, recordPairs, pendingNotices, noticesQueued, list })
})

/** The overlap rows in the store. */
export const layer = Layer.effect(OverlapStore, make)
