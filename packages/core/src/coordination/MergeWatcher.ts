/**
 * Merge detection: notice when a session branch has reached its target branch — by a merge commit, a
 * fast-forward, a rebase or a squash (see internal/mergeDetection.ts) — record it once, and mark the
 * sessions that asked to hear about it.
 *
 * What is watched: the branches of sessions (active, or ended within `merges.lookbackDays`), every pending
 * subscription, and every branch seen before (so a branch deleted right after its merge is still
 * recognised from its last head). The target is the subscription's; else `merges.targetBranch` when set;
 * else the branch the session's worktree was created from; else the branch checked out in the repository.
 *
 * Exactly once: an event is unique per (repository, branch, target, branch head) in the database, and it
 * is written — with the subscriptions it satisfies — in one `BEGIN IMMEDIATE` transaction with
 * `ON CONFLICT DO NOTHING`. Two watchers may both detect a merge; one records it, the other sees it
 * recorded and reports nothing. Detection is state-based (is this head in that target now?), so a watcher
 * that was killed simply finds, on its next poll, every merge that happened meanwhile.
 *
 * @since 0.1.0
 */
import { FileSystem } from "@effect/platform"
import { Clock, Context, Duration, Effect, Either, Layer, Option, Schedule, Schema, Stream } from "effect"
import { AppConfig } from "../platform/AppConfig.js"
import { Database, type DbFailure, decodeRows } from "../platform/Database.js"
import { SessionId } from "../Domain.js"
import type { InvalidInput } from "../Errors.js"
import { Git, type GitError } from "../platform/Git.js"
import { detect } from "./mergeDetection.js"

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

/** A branch or target that cannot be watched. */
export class MergeWatchError extends Schema.TaggedError<MergeWatchError>()("MergeWatchError", {
  reason: Schema.Literal("BranchNotFound", "TargetNotFound", "SameBranch", "RepoUnavailable"),
  repoPath: Schema.String,
  branch: Schema.optional(Schema.String),
  detail: Schema.optional(Schema.String)
}) {
  override get message(): string {
    switch (this.reason) {
      case "BranchNotFound":
        return `branch ${this.branch} does not exist in ${this.repoPath}; list branches with \`git branch\``
      case "TargetNotFound":
        return `cannot tell the target branch in ${this.repoPath}${this.detail !== undefined ? ` (${this.detail})` : ""}; ` +
          "pass the target branch, or set merges.targetBranch (`parallel-cc config set merges.targetBranch main`)"
      case "SameBranch":
        return `${this.branch} is the target branch itself; watch another branch, or pass a different target`
      case "RepoUnavailable":
        return `the repository ${this.repoPath} cannot be read${this.detail !== undefined ? `: ${this.detail}` : ""}`
    }
  }
}

/** The state of one branch against its target, as `check` reports it. */
export interface BranchStatus {
  readonly repoPath: string
  readonly branch: string
  readonly targetBranch: string
  readonly branchHead: string
  readonly targetHead: string
  /** The merge, if the head is in the target. */
  readonly event: MergeEvent | null
  /** Whether this call recorded the event (false when it was known before). */
  readonly newlyRecorded: boolean
  /** Commits on the branch that the target lacks (by id), and the reverse. */
  readonly ahead: number
  readonly behind: number
}

/** The outcome of one poll. */
export interface PollReport {
  readonly repos: number
  readonly checked: number
  /** Events this poll recorded (not those another watcher recorded first). */
  readonly events: ReadonlyArray<MergeEvent>
  /** Pairs that could not be checked, with why; the watcher carries on. */
  readonly problems: ReadonlyArray<{ readonly repoPath: string; readonly branch?: string; readonly message: string }>
}

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

/** Every way a check or subscription can fail. */
export type Failure = MergeWatchError | InvalidInput | GitError | DbFailure

export class MergeWatcher extends Context.Tag("@parallel-cc/core/MergeWatcher")<MergeWatcher, {
  /** Poll every watched repository once; record and return the new merge events. */
  readonly poll: Effect.Effect<PollReport, DbFailure>
  /** Poll forever, every `interval` (first poll at once); emits each newly recorded event. */
  readonly watch: (interval: Duration.DurationInput) => Stream.Stream<MergeEvent, never>
  /** Check one branch now (recording the merge if it just happened). `targetBranch` defaults as above. */
  readonly check: (req: {
    readonly repoPath: string
    readonly branch: string
    readonly targetBranch?: string | undefined
  }) => Effect.Effect<BranchStatus, Failure>
  /** Ask to be told when `branch` reaches `targetBranch`. */
  readonly subscribe: (req: {
    readonly sessionId: SessionId
    readonly repoPath: string
    readonly branch: string
    readonly targetBranch?: string | undefined
  }) => Effect.Effect<SubscribeResult, Failure>
  readonly events: (filter?: EventFilter) => Effect.Effect<ReadonlyArray<MergeEvent>, DbFailure>
  readonly subscriptions: (filter?: SubscriptionFilter) => Effect.Effect<ReadonlyArray<Subscription>, DbFailure>
  /** The target branch of a repository: `merges.targetBranch`, else the checked-out branch. */
  readonly targetOf: (repoPath: string) => Effect.Effect<string, MergeWatchError | InvalidInput | GitError>
}>() {}

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
type WatchRow = typeof WatchRow.Type
const watchRows = decodeRows(WatchRow)
const PairRow = Schema.Struct({ repo_path: Schema.String, branch: Schema.String, target_branch: Schema.String })
const pairRows = decodeRows(PairRow)
const SessionBranchRow = Schema.Struct({ repo_path: Schema.String, branch: Schema.String, base_branch: Schema.NullOr(Schema.String) })
const ids = decodeRows(Schema.Struct({ id: Schema.String }))

const decodeEvents = Schema.decodeUnknown(Schema.Array(EventRow))
const decodeSubscriptions = Schema.decodeUnknown(Schema.Array(SubscriptionRow))

interface Pair {
  readonly repoPath: string
  readonly branch: string
  readonly targetBranch: string
}

const pairKey = (p: Pair) => `${p.repoPath}\u0000${p.branch}\u0000${p.targetBranch}`

export const make = Effect.gen(function*() {
  const db = yield* Database
  const git = yield* Git
  const config = yield* AppConfig
  const fs = yield* FileSystem.FileSystem
  const sql = db.sql
  const lookbackMs = config.values["merges.lookbackDays"] * 86_400_000
  const configuredTarget = config.values["merges.targetBranch"]

  const eventRows = (effect: Effect.Effect<ReadonlyArray<unknown>, any>) =>
    db.orFail(effect).pipe(Effect.flatMap((r) => Effect.orDie(decodeEvents(r))))
  const subscriptionRows = (effect: Effect.Effect<ReadonlyArray<unknown>, any>) =>
    db.orFail(effect).pipe(Effect.flatMap((r) => Effect.orDie(decodeSubscriptions(r))))

  /** Local branch heads of a repository, by name. */
  const heads = (repoPath: string) =>
    git.run(repoPath, ["for-each-ref", "--format=%(objectname) %(refname)", "refs/heads/"]).pipe(
      Effect.map((r) => {
        const map = new Map<string, string>()
        for (const line of r.stdout.split("\n")) {
          const sp = line.indexOf(" ")
          if (sp > 0) map.set(line.slice(sp + 1).replace(/^refs\/heads\//, ""), line.slice(0, sp))
        }
        return map
      })
    )

  const targetOf = (repoPath: string) =>
    Effect.gen(function*() {
      if (configuredTarget !== "") return yield* git.checkBranchName(configuredTarget)
      const current = yield* git.run(repoPath, ["symbolic-ref", "--quiet", "--short", "HEAD"], { okExitCodes: [0, 1] })
      if (current.exitCode === 0 && current.stdout.trim() !== "") return current.stdout.trim()
      const known = yield* heads(repoPath)
      for (const name of ["main", "master"]) if (known.has(name)) return name
      return yield* new MergeWatchError({
        reason: "TargetNotFound",
        repoPath,
        detail: "the repository is on a detached HEAD and has no main or master branch"
      })
    })

  /** A session branch's target: `merges.targetBranch` when set, else the session's base, else the repository's. */
  const pickTarget = <E>(base: string | null, repoTarget: Either.Either<string, E>): string | undefined =>
    configuredTarget !== "" ? configuredTarget : base ?? Either.getOrUndefined(repoTarget)

  /** The default target of `branch`: as {@link pickTarget}, with the base of the branch's latest session. */
  const defaultTarget = (repoPath: string, branch: string) =>
    Effect.gen(function*() {
      if (configuredTarget !== "") return yield* targetOf(repoPath)
      const base = yield* db.orFail(decodeRows(Schema.Struct({ base_branch: Schema.NullOr(Schema.String) }))(sql`
        SELECT base_branch FROM sessions WHERE repo_path = ${repoPath} AND branch = ${branch}
        ORDER BY created_at DESC LIMIT 1`)).pipe(Effect.map((r) => r[0]?.base_branch ?? null))
      if (base !== null && base !== branch) return base
      return yield* targetOf(repoPath)
    })

  const sessionFor = (repoPath: string, branch: string) =>
    db.orFail(ids(sql`
      SELECT id FROM sessions WHERE repo_path = ${repoPath} AND branch = ${branch}
      ORDER BY created_at DESC LIMIT 1`)).pipe(Effect.map((r) => r[0]?.id ?? null))

  const eventFor = (pair: Pair, head: string) =>
    eventRows(sql`SELECT * FROM merge_events WHERE repo_path = ${pair.repoPath} AND branch = ${pair.branch}
      AND target_branch = ${pair.targetBranch} AND branch_head = ${head}`).pipe(Effect.map((r) => Option.fromNullable(r[0])))

  const watchRow = (pair: Pair) =>
    db.orFail(watchRows(sql`SELECT * FROM merge_watch WHERE repo_path = ${pair.repoPath} AND branch = ${pair.branch}
      AND target_branch = ${pair.targetBranch}`)).pipe(Effect.map((r) => Option.fromNullable(r[0])))

  /**
   * Check one pair at `head` against `targetHead`, and record what was seen — the event (once), the
   * subscriptions it satisfies, and the watch state — in one immediate transaction.
   */
  const evaluate = (pair: Pair, head: string, targetHead: string, branchExists: boolean, row: Option.Option<WatchRow>) =>
    Effect.gen(function*() {
      const pendingHead = Option.match(row, { onNone: () => null, onSome: (r) => r.pending_head })
      const detection = yield* detect(git.run, {
        repo: pair.repoPath,
        branch: branchExists ? Option.some(pair.branch) : Option.none(),
        head,
        target: targetHead,
        pendingHead
      })
      return yield* db.immediate(Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        let recorded: Option.Option<MergeEvent> = Option.none()
        let event: Option.Option<MergeEvent> = Option.none()
        if (Option.isSome(detection.merged)) {
          const sessionId = yield* sessionFor(pair.repoPath, pair.branch)
          const inserted = yield* eventRows(sql`
            INSERT INTO merge_events ${
            sql.insert({
              repo_path: pair.repoPath,
              branch: pair.branch,
              target_branch: pair.targetBranch,
              branch_head: head,
              target_head: targetHead,
              method: detection.merged.value.method,
              merge_commit: detection.merged.value.mergeCommit,
              session_id: sessionId,
              detected_at: now
            })
          }
            ON CONFLICT (repo_path, branch, target_branch, branch_head) DO NOTHING
            RETURNING *`)
          recorded = Option.fromNullable(inserted[0])
          event = Option.isSome(recorded) ? recorded : yield* eventFor(pair, head)
          if (Option.isSome(event)) {
            yield* db.orFail(sql`
              UPDATE merge_subscriptions SET notified_at = ${now}, merge_event_id = ${event.value.eventId}
              WHERE repo_path = ${pair.repoPath} AND branch = ${pair.branch} AND target_branch = ${pair.targetBranch}
                AND notified_at IS NULL`)
          }
        }
        const pending = detection.unmerged ? head : pendingHead
        const mergedHead = Option.isSome(event) ? head : Option.match(row, { onNone: () => null, onSome: (r) => r.merged_head })
        yield* db.orFail(sql`
          INSERT INTO merge_watch ${
          sql.insert({
            repo_path: pair.repoPath,
            branch: pair.branch,
            target_branch: pair.targetBranch,
            last_head: head,
            last_target_head: targetHead,
            pending_head: pending,
            merged_head: mergedHead,
            first_seen_at: now,
            last_checked_at: now,
            gone_at: branchExists ? null : now
          })
        }
          ON CONFLICT (repo_path, branch, target_branch) DO UPDATE SET
            last_head = excluded.last_head, last_target_head = excluded.last_target_head,
            pending_head = excluded.pending_head, merged_head = excluded.merged_head,
            last_checked_at = excluded.last_checked_at, gone_at = excluded.gone_at`)
        return { recorded, event }
      }))
    })

  const counts = (repoPath: string, head: string, targetHead: string) =>
    git.run(repoPath, ["rev-list", "--left-right", "--count", `${targetHead}...${head}`]).pipe(
      Effect.map((r) => {
        const [behind, ahead] = r.stdout.trim().split(/\s+/).map(Number)
        return { ahead: ahead ?? 0, behind: behind ?? 0 }
      })
    )

  const resolvePair = (req: { readonly repoPath: string; readonly branch: string; readonly targetBranch?: string | undefined }) =>
    Effect.gen(function*() {
      const branch = yield* git.checkBranchName(req.branch)
      const targetBranch = req.targetBranch !== undefined
        ? yield* git.checkBranchName(req.targetBranch)
        : yield* defaultTarget(req.repoPath, branch)
      if (branch === targetBranch) return yield* new MergeWatchError({ reason: "SameBranch", repoPath: req.repoPath, branch })
      const known = yield* heads(req.repoPath).pipe(
        Effect.mapError((e) => new MergeWatchError({ reason: "RepoUnavailable", repoPath: req.repoPath, detail: e.message }))
      )
      const targetHead = known.get(targetBranch)
      if (targetHead === undefined) {
        return yield* new MergeWatchError({
          reason: "TargetNotFound",
          repoPath: req.repoPath,
          branch: targetBranch,
          detail: `there is no branch ${targetBranch}`
        })
      }
      return { pair: { repoPath: req.repoPath, branch, targetBranch }, head: known.get(branch), targetHead }
    })

  const check = (req: { readonly repoPath: string; readonly branch: string; readonly targetBranch?: string | undefined }) =>
    Effect.gen(function*() {
      const { head, pair, targetHead } = yield* resolvePair(req)
      const row = yield* watchRow(pair)
      // A branch deleted after the watcher saw it is judged by its last head.
      const effectiveHead = head ?? Option.getOrUndefined(Option.map(row, (r) => r.last_head))
      if (effectiveHead === undefined) {
        return yield* new MergeWatchError({ reason: "BranchNotFound", repoPath: pair.repoPath, branch: pair.branch })
      }
      const { event, recorded } = yield* evaluate(pair, effectiveHead, targetHead, head !== undefined, row)
      const { ahead, behind } = yield* counts(pair.repoPath, effectiveHead, targetHead)
      return {
        ...pair,
        branchHead: effectiveHead,
        targetHead,
        event: Option.getOrNull(event),
        newlyRecorded: Option.isSome(recorded),
        ahead,
        behind
      } satisfies BranchStatus
    }).pipe(Effect.withSpan("MergeWatcher.check"))

  /** Everything to look at in one poll, by repository. */
  const watchList = Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const since = now - lookbackMs
    const sessions = yield* db.orFail(decodeRows(SessionBranchRow)(sql`
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
    const repos = new Map<string, { sessionBranches: Map<string, string | null>; pairs: Array<Pair> }>()
    const entry = (repo: string) => {
      let e = repos.get(repo)
      if (e === undefined) repos.set(repo, e = { sessionBranches: new Map(), pairs: [] })
      return e
    }
    // The latest session of a branch decides its base.
    for (const s of sessions) entry(s.repo_path).sessionBranches.set(s.branch, s.base_branch)
    for (const p of [...subs, ...seen]) {
      entry(p.repo_path).pairs.push({ repoPath: p.repo_path, branch: p.branch, targetBranch: p.target_branch })
    }
    return repos
  })

  const pollRepo = (repoPath: string, spec: { sessionBranches: Map<string, string | null>; pairs: Array<Pair> }) =>
    Effect.gen(function*() {
      const problems: Array<PollReport["problems"][number]> = []
      const events: Array<MergeEvent> = []
      const exists = yield* fs.exists(repoPath).pipe(Effect.orElseSucceed(() => false))
      if (!exists) return { checked: 0, events, problems: [{ repoPath, message: "the repository no longer exists" }] }
      const known = yield* heads(repoPath).pipe(Effect.either)
      if (known._tag === "Left") return { checked: 0, events, problems: [{ repoPath, message: known.left.message }] }
      const pairs = new Map<string, Pair>()
      const repoTarget = yield* targetOf(repoPath).pipe(Effect.either)
      for (const [branch, base] of spec.sessionBranches) {
        const target = pickTarget(base, repoTarget)
        if (target === undefined) {
          if (repoTarget._tag === "Left") problems.push({ repoPath, branch, message: repoTarget.left.message })
          continue
        }
        if (branch !== target) {
          const p = { repoPath, branch, targetBranch: target }
          pairs.set(pairKey(p), p)
        }
      }
      for (const p of spec.pairs) pairs.set(pairKey(p), p)
      let checked = 0
      for (const pair of pairs.values()) {
        const step = Effect.gen(function*() {
          const targetHead = known.right.get(pair.targetBranch)
          if (targetHead === undefined) return
          const row = yield* watchRow(pair)
          const head = known.right.get(pair.branch)
          if (head === undefined) {
            // Gone: judge its last head once, then stop watching it.
            if (Option.isNone(row) || row.value.gone_at !== null) return
            if (row.value.merged_head === row.value.last_head) {
              yield* db.orFail(sql`UPDATE merge_watch SET gone_at = ${yield* Clock.currentTimeMillis}
                WHERE repo_path = ${pair.repoPath} AND branch = ${pair.branch} AND target_branch = ${pair.targetBranch}`)
              return
            }
            checked++
            const r = yield* evaluate(pair, row.value.last_head, targetHead, false, row)
            if (Option.isSome(r.recorded)) events.push(r.recorded.value)
            return
          }
          // Nothing moved since the last look: the answer cannot have changed.
          if (Option.isSome(row) && row.value.last_head === head && row.value.last_target_head === targetHead) return
          checked++
          const r = yield* evaluate(pair, head, targetHead, true, row)
          if (Option.isSome(r.recorded)) events.push(r.recorded.value)
        })
        yield* step.pipe(
          Effect.catchAll((e) => Effect.sync(() => problems.push({ repoPath, branch: pair.branch, message: e.message })))
        )
      }
      return { checked, events, problems }
    })

  const poll = Effect.gen(function*() {
    const list = yield* watchList
    const events: Array<MergeEvent> = []
    const problems: Array<PollReport["problems"][number]> = []
    let checked = 0
    for (const [repoPath, spec] of list) {
      const r = yield* pollRepo(repoPath, spec)
      checked += r.checked
      events.push(...r.events)
      problems.push(...r.problems)
    }
    for (const p of problems) {
      yield* Effect.logWarning(`merge watch: ${p.repoPath}${p.branch !== undefined ? ` ${p.branch}` : ""}: ${p.message}`)
    }
    return { repos: list.size, checked, events, problems } satisfies PollReport
  }).pipe(Effect.withSpan("MergeWatcher.poll"))

  const watch = (interval: Duration.DurationInput) =>
    Stream.repeatEffectWithSchedule(
      poll.pipe(
        Effect.catchAll((e) =>
          Effect.logWarning(`merge watch: poll failed, retrying at the next interval: ${e.message}`).pipe(
            Effect.as({ repos: 0, checked: 0, events: [], problems: [] } satisfies PollReport)
          )
        )
      ),
      Schedule.spaced(interval)
    ).pipe(Stream.flatMap((r) => Stream.fromIterable(r.events)))

  const subscribe = (req: {
    readonly sessionId: SessionId
    readonly repoPath: string
    readonly branch: string
    readonly targetBranch?: string | undefined
  }) =>
    Effect.gen(function*() {
      const status = yield* check(req)
      const pair = { repoPath: status.repoPath, branch: status.branch, targetBranch: status.targetBranch }
      return yield* db.immediate(Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const merged = yield* eventFor(pair, status.branchHead)
        const pending = yield* subscriptionRows(sql`SELECT * FROM merge_subscriptions WHERE session_id = ${req.sessionId}
          AND repo_path = ${pair.repoPath} AND branch = ${pair.branch} AND target_branch = ${pair.targetBranch}
          AND notified_at IS NULL`)
        if (pending[0] !== undefined) {
          return { subscription: pending[0], created: false, alreadyMerged: null } satisfies SubscribeResult
        }
        const inserted = yield* subscriptionRows(sql`INSERT INTO merge_subscriptions ${
          sql.insert({
            session_id: req.sessionId,
            repo_path: pair.repoPath,
            branch: pair.branch,
            target_branch: pair.targetBranch,
            created_at: now,
            notified_at: Option.isSome(merged) ? now : null,
            merge_event_id: Option.isSome(merged) ? merged.value.eventId : null
          })
        } RETURNING *`)
        return {
          subscription: inserted[0]!,
          created: true,
          alreadyMerged: Option.getOrNull(merged)
        } satisfies SubscribeResult
      }))
    }).pipe(Effect.withSpan("MergeWatcher.subscribe"))

  const events = (filter: EventFilter = {}) => {
    const conds = [
      filter.repoPath !== undefined ? sql`repo_path = ${filter.repoPath}` : undefined,
      filter.branch !== undefined ? sql`branch = ${filter.branch}` : undefined,
      filter.targetBranch !== undefined ? sql`target_branch = ${filter.targetBranch}` : undefined,
      filter.sessionId !== undefined ? sql`session_id = ${filter.sessionId}` : undefined,
      filter.afterId !== undefined ? sql`id > ${filter.afterId}` : undefined
    ].filter((c) => c !== undefined)
    const where = conds.length > 0 ? sql`WHERE ${sql.and(conds)}` : sql``
    return eventRows(sql`SELECT * FROM merge_events ${where} ORDER BY id DESC LIMIT ${filter.limit ?? 50}`)
  }

  const subscriptions = (filter: SubscriptionFilter = {}) => {
    const conds = [
      filter.repoPath !== undefined ? sql`repo_path = ${filter.repoPath}` : undefined,
      filter.branch !== undefined ? sql`branch = ${filter.branch}` : undefined,
      filter.sessionId !== undefined ? sql`session_id = ${filter.sessionId}` : undefined,
      filter.pendingOnly === true ? sql`notified_at IS NULL` : undefined
    ].filter((c) => c !== undefined)
    const where = conds.length > 0 ? sql`WHERE ${sql.and(conds)}` : sql``
    return subscriptionRows(
      sql`SELECT * FROM merge_subscriptions ${where} ORDER BY (notified_at IS NULL) DESC, id DESC LIMIT ${filter.limit ?? 100}`
    )
  }

  return MergeWatcher.of({ poll, watch, check, subscribe, events, subscriptions, targetOf })
})

/** The watcher over the store and git; needs Database, Git, AppConfig and FileSystem. */
export const layer = Layer.effect(MergeWatcher, make)
