/**
 * The rows of merge detection (migration 4): recorded merges (`merge_events`, unique per repository, branch,
 * target and branch head), sessions' wishes to hear of one (`merge_subscriptions`) and what the watcher last
 * saw of each pair (`merge_watch`). {@link MergeWatcher} decides with git; this module reads and writes.
 *
 * @since 0.2.0
 */
import { Clock, Effect, Option, Schema } from "effect"
import { SessionId } from "../Domain.js"
import { type Database, type DbFailure, decodeRows } from "../platform/Database.js"

export const MergeMethod = Schema.Literal("merge-commit", "fast-forward", "rebase", "squash", "content")
export type MergeMethod = typeof MergeMethod.Type

/** A detected merge of `branch` (at `branchHead`) into `targetBranch`. */
export class MergeEvent extends Schema.Class<MergeEvent>("MergeEvent")({
  eventId: Schema.Int,
  repoPath: Schema.String,
  branch: Schema.String,
  targetBranch: Schema.String,
  branchHead: Schema.String,
  targetHead: Schema.String,
  method: MergeMethod,
  /** The target commit that brought the branch in (merge commit, fast-forwarded head, squash commit). */
  mergeCommit: Schema.NullOr(Schema.String),
  sessionId: Schema.NullOr(SessionId),
  detectedAt: Schema.Date
}) {}

/** A session's wish to hear when `branch` reaches `targetBranch`. */
export class Subscription extends Schema.Class<Subscription>("Subscription")({
  subscriptionId: Schema.Int,
  sessionId: SessionId,
  repoPath: Schema.String,
  branch: Schema.String,
  targetBranch: Schema.String,
  createdAt: Schema.Date,
  notifiedAt: Schema.NullOr(Schema.Date),
  mergeEventId: Schema.NullOr(Schema.Int)
}) {}

export interface EventFilter {
  readonly repoPath?: string | undefined
  readonly branch?: string | undefined
  readonly targetBranch?: string | undefined
  readonly sessionId?: SessionId | undefined
  /** Only events with a larger id. */
  readonly afterId?: number | undefined
  /** At most this many, newest first (default 50). */
  readonly limit?: number | undefined
}

export interface SubscriptionFilter {
  readonly repoPath?: string | undefined
  readonly branch?: string | undefined
  readonly sessionId?: SessionId | undefined
  /** Pending only (default: all). */
  readonly pendingOnly?: boolean | undefined
  readonly limit?: number | undefined
}

export interface SubscribeResult {
  readonly subscription: Subscription
  /** False when the same pending subscription existed already. */
  readonly created: boolean
  /** The branch's current head is already merged: the subscription is satisfied at once. */
  readonly alreadyMerged: MergeEvent | null
}

const Millis = Schema.transform(Schema.Number, Schema.DateFromSelf, {
  strict: true,
  decode: (n) => new Date(n),
  encode: (d) => d.getTime()
})

const EventRow = Schema.transform(
  Schema.Struct({
    id: Schema.Int,
    repo_path: Schema.String,
    branch: Schema.String,
    target_branch: Schema.String,
    branch_head: Schema.String,
    target_head: Schema.String,
    method: MergeMethod,
    merge_commit: Schema.NullOr(Schema.String),
    session_id: Schema.NullOr(SessionId),
    detected_at: Millis
  }),
  Schema.typeSchema(MergeEvent),
  {
    strict: true,
    decode: (r) =>
      new MergeEvent({
        eventId: r.id,
        repoPath: r.repo_path,
        branch: r.branch,
        targetBranch: r.target_branch,
        branchHead: r.branch_head,
        targetHead: r.target_head,
        method: r.method,
        mergeCommit: r.merge_commit,
        sessionId: r.session_id,
        detectedAt: r.detected_at
      }),
    encode: (e) => ({
      id: e.eventId,
      repo_path: e.repoPath,
      branch: e.branch,
      target_branch: e.targetBranch,
      branch_head: e.branchHead,
      target_head: e.targetHead,
      method: e.method,
      merge_commit: e.mergeCommit,
      session_id: e.sessionId,
      detected_at: e.detectedAt
    })
  }
)

const SubscriptionRow = Schema.transform(
  Schema.Struct({
    id: Schema.Int,
    session_id: SessionId,
    repo_path: Schema.String,
    branch: Schema.String,
    target_branch: Schema.String,
    created_at: Millis,
    notified_at: Schema.NullOr(Millis),
    merge_event_id: Schema.NullOr(Schema.Int)
  }),
  Schema.typeSchema(Subscription),
  {
    strict: true,
    decode: (r) =>
      new Subscription({
        subscriptionId: r.id,
        sessionId: r.session_id,
        repoPath: r.repo_path,
        branch: r.branch,
        targetBranch: r.target_branch,
        createdAt: r.created_at,
        notifiedAt: r.notified_at,
        mergeEventId: r.merge_event_id
      }),
    encode: (s) => ({
      id: s.subscriptionId,
      session_id: s.sessionId,
      repo_path: s.repoPath,
      branch: s.branch,
      target_branch: s.targetBranch,
      created_at: s.createdAt,
      notified_at: s.notifiedAt,
      merge_event_id: s.mergeEventId
    })
  }
)

const WatchRow = Schema.Struct({
  repo_path: Schema.String,
  branch: Schema.String,
  target_branch: Schema.String,
  last_head: Schema.String,
  last_target_head: Schema.String,
  pending_head: Schema.NullOr(Schema.String),
  merged_head: Schema.NullOr(Schema.String),
  gone_at: Schema.NullOr(Schema.Number)
})
/** What the watcher last saw of a pair. */
export type WatchRow = typeof WatchRow.Type
const watchRows = decodeRows(WatchRow)
const pairRows = decodeRows(Schema.Struct({ repo_path: Schema.String, branch: Schema.String, target_branch: Schema.String }))
const sessionBranchRows = decodeRows(
  Schema.Struct({ repo_path: Schema.String, branch: Schema.String, base_branch: Schema.NullOr(Schema.String) })
)
const ids = decodeRows(Schema.Struct({ id: Schema.String }))
const bases = decodeRows(Schema.Struct({ base_branch: Schema.NullOr(Schema.String) }))
const eventRows = decodeRows(EventRow)
const subscriptionRows = decodeRows(SubscriptionRow)

/** A branch watched against a target in a repository. */
export interface Pair {
  readonly repoPath: string
  readonly branch: string
  readonly targetBranch: string
}

/** A merge found by detection, to record. */
export interface Merged {
  readonly method: MergeMethod
  readonly mergeCommit: string | null
}

/** What one look at a pair saw: the head judged, the target's head, and what detection said. */
export interface Seen {
  readonly head: string
  readonly targetHead: string
  /** False when the branch is gone and its last head was judged. */
  readonly branchExists: boolean
  readonly merged: Option.Option<Merged>
  /** The head to remember as the branch's own unmerged work (null: none known). */
  readonly pendingHead: string | null
  readonly row: Option.Option<WatchRow>
}

/** Everything a poll looks at: session branches (with their base) and pairs subscribed to or seen before. */
export interface Watched {
  readonly sessions: ReadonlyArray<{ readonly repo_path: string; readonly branch: string; readonly base_branch: string | null }>
  readonly pairs: ReadonlyArray<Pair>
}

export interface MergeStore {
  /** The base branch of the latest session on `branch` (null: none recorded). */
  readonly baseOf: (repoPath: string, branch: string) => Effect.Effect<string | null, DbFailure>
  readonly eventFor: (pair: Pair, head: string) => Effect.Effect<Option.Option<MergeEvent>, DbFailure>
  readonly watchRow: (pair: Pair) => Effect.Effect<Option.Option<WatchRow>, DbFailure>
  /**
   * Record what was seen — the event (once), the subscriptions it satisfies, and the watch state — in one
   * immediate transaction. `recorded` is the event when this call wrote it; `event` also when it was known.
   */
  readonly record: (
    pair: Pair,
    seen: Seen
  ) => Effect.Effect<{ readonly recorded: Option.Option<MergeEvent>; readonly event: Option.Option<MergeEvent> }, DbFailure>
  /** Stop watching a branch that is gone after its last head was judged. */
  readonly markGone: (pair: Pair) => Effect.Effect<void, DbFailure>
  /** Session branches active or ended since `since`, with pending subscriptions and pairs seen since then. */
  readonly watched: (since: number) => Effect.Effect<Watched, DbFailure>
  /** A pending subscription of the session to the pair, or a new one (satisfied at once if `head` is merged). */
  readonly subscribe: (sessionId: SessionId, pair: Pair, head: string) => Effect.Effect<SubscribeResult, DbFailure>
  readonly events: (filter?: EventFilter) => Effect.Effect<ReadonlyArray<MergeEvent>, DbFailure>
  readonly subscriptions: (filter?: SubscriptionFilter) => Effect.Effect<ReadonlyArray<Subscription>, DbFailure>
}

export const make = (db: Database["Type"]): MergeStore => {
  const sql = db.sql
  const samePair = (pair: Pair) =>
    sql`repo_path = ${pair.repoPath} AND branch = ${pair.branch} AND target_branch = ${pair.targetBranch}`

  const baseOf = (repoPath: string, branch: string) =>
    db.orFail(bases(sql`
      SELECT base_branch FROM sessions WHERE repo_path = ${repoPath} AND branch = ${branch}
      ORDER BY created_at DESC LIMIT 1`)).pipe(Effect.map((r) => r[0]?.base_branch ?? null))

  const sessionFor = (pair: Pair) =>
    db.orFail(ids(sql`
      SELECT id FROM sessions WHERE repo_path = ${pair.repoPath} AND branch = ${pair.branch}
      ORDER BY created_at DESC LIMIT 1`)).pipe(Effect.map((r) => r[0]?.id ?? null))

  const eventFor = (pair: Pair, head: string) =>
    db.orFail(eventRows(sql`SELECT * FROM merge_events WHERE ${samePair(pair)} AND branch_head = ${head}`)).pipe(
      Effect.map((r) => Option.fromNullable(r[0]))
    )

  const watchRow = (pair: Pair) =>
    db.orFail(watchRows(sql`SELECT * FROM merge_watch WHERE ${samePair(pair)}`)).pipe(
      Effect.map((r) => Option.fromNullable(r[0]))
    )

  const insertEvent = (pair: Pair, seen: Seen, merged: Merged, now: number) =>
    Effect.gen(function*() {
      const sessionId = yield* sessionFor(pair)
      const inserted = yield* db.orFail(eventRows(sql`
        INSERT INTO merge_events ${
        sql.insert({
          repo_path: pair.repoPath,
          branch: pair.branch,
          target_branch: pair.targetBranch,
          branch_head: seen.head,
          target_head: seen.targetHead,
          method: merged.method,
          merge_commit: merged.mergeCommit,
          session_id: sessionId,
          detected_at: now
        })
      }
        ON CONFLICT (repo_path, branch, target_branch, branch_head) DO NOTHING
        RETURNING *`))
      const recorded = Option.fromNullable(inserted[0])
      const event = Option.isSome(recorded) ? recorded : yield* eventFor(pair, seen.head)
      if (Option.isSome(event)) {
        yield* db.orFail(sql`
          UPDATE merge_subscriptions SET notified_at = ${now}, merge_event_id = ${event.value.eventId}
          WHERE ${samePair(pair)} AND notified_at IS NULL`)
      }
      return { recorded, event }
    })

  const record = (pair: Pair, seen: Seen) =>
    db.immediate(Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const { event, recorded } = Option.isSome(seen.merged)
        ? yield* insertEvent(pair, seen, seen.merged.value, now)
        : { recorded: Option.none<MergeEvent>(), event: Option.none<MergeEvent>() }
      const mergedHead = Option.isSome(event) ? seen.head : Option.match(seen.row, { onNone: () => null, onSome: (r) => r.merged_head })
      yield* db.orFail(sql`
        INSERT INTO merge_watch ${
        sql.insert({
          repo_path: pair.repoPath,
          branch: pair.branch,
          target_branch: pair.targetBranch,
          last_head: seen.head,
          last_target_head: seen.targetHead,
          pending_head: seen.pendingHead,
          merged_head: mergedHead,
          first_seen_at: now,
          last_checked_at: now,
          gone_at: seen.branchExists ? null : now
        })
      }
        ON CONFLICT (repo_path, branch, target_branch) DO UPDATE SET
          last_head = excluded.last_head, last_target_head = excluded.last_target_head,
          pending_head = excluded.pending_head, merged_head = excluded.merged_head,
          last_checked_at = excluded.last_checked_at, gone_at = excluded.gone_at`)
      return { recorded, event }
    }))

  const markGone = (pair: Pair) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      yield* db.orFail(sql`UPDATE merge_watch SET gone_at = ${now} WHERE ${samePair(pair)}`)
    })

  const watched = (since: number) =>
    Effect.gen(function*() {
      const sessions = yield* db.orFail(sessionBranchRows(sql`
        SELECT repo_path, branch, base_branch FROM sessions
        WHERE branch IS NOT NULL AND (status = 'active' OR ended_at >= ${since})
        ORDER BY created_at`))
      // Pending subscriptions of sessions that are alive, or ended recently (nobody is left to tell after).
      const subs = yield* db.orFail(pairRows(sql`
        SELECT DISTINCT m.repo_path, m.branch, m.target_branch FROM merge_subscriptions m
        JOIN sessions s ON s.id = m.session_id
        WHERE m.notified_at IS NULL AND (s.status = 'active' OR s.ended_at >= ${since})`))
      const seen = yield* db.orFail(pairRows(sql`
        SELECT repo_path, branch, target_branch FROM merge_watch
        WHERE gone_at IS NULL AND last_checked_at >= ${since}`))
      const pairs = [...subs, ...seen].map((p) => ({ repoPath: p.repo_path, branch: p.branch, targetBranch: p.target_branch }))
      return { sessions, pairs }
    })

  const subscribe = (sessionId: SessionId, pair: Pair, head: string) =>
    db.immediate(Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const merged = yield* eventFor(pair, head)
      const pending = yield* db.orFail(subscriptionRows(sql`SELECT * FROM merge_subscriptions
        WHERE session_id = ${sessionId} AND ${samePair(pair)} AND notified_at IS NULL`))
      if (pending[0] !== undefined) {
        return { subscription: pending[0], created: false, alreadyMerged: null } satisfies SubscribeResult
      }
      const inserted = yield* db.orFail(subscriptionRows(sql`INSERT INTO merge_subscriptions ${
        sql.insert({
          session_id: sessionId,
          repo_path: pair.repoPath,
          branch: pair.branch,
          target_branch: pair.targetBranch,
          created_at: now,
          notified_at: Option.isSome(merged) ? now : null,
          merge_event_id: Option.isSome(merged) ? merged.value.eventId : null
        })
      } RETURNING *`))
      return { subscription: inserted[0]!, created: true, alreadyMerged: Option.getOrNull(merged) } satisfies SubscribeResult
    }))

  const events = (filter: EventFilter = {}) => {
    const conds = [
      filter.repoPath !== undefined ? sql`repo_path = ${filter.repoPath}` : undefined,
      filter.branch !== undefined ? sql`branch = ${filter.branch}` : undefined,
      filter.targetBranch !== undefined ? sql`target_branch = ${filter.targetBranch}` : undefined,
      filter.sessionId !== undefined ? sql`session_id = ${filter.sessionId}` : undefined,
      filter.afterId !== undefined ? sql`id > ${filter.afterId}` : undefined
    ].filter((c) => c !== undefined)
    const where = conds.length > 0 ? sql`WHERE ${sql.and(conds)}` : sql``
    return db.orFail(eventRows(sql`SELECT * FROM merge_events ${where} ORDER BY id DESC LIMIT ${filter.limit ?? 50}`))
  }

  const subscriptions = (filter: SubscriptionFilter = {}) => {
    const conds = [
      filter.repoPath !== undefined ? sql`repo_path = ${filter.repoPath}` : undefined,
      filter.branch !== undefined ? sql`branch = ${filter.branch}` : undefined,
      filter.sessionId !== undefined ? sql`session_id = ${filter.sessionId}` : undefined,
      filter.pendingOnly === true ? sql`notified_at IS NULL` : undefined
    ].filter((c) => c !== undefined)
    const where = conds.length > 0 ? sql`WHERE ${sql.and(conds)}` : sql``
    return db.orFail(subscriptionRows(
      sql`SELECT * FROM merge_subscriptions ${where} ORDER BY (notified_at IS NULL) DESC, id DESC LIMIT ${filter.limit ?? 100}`
    ))
  }

  return { baseOf, eventFor, watchRow, record, markGone, watched, subscribe, events, subscriptions }
}
