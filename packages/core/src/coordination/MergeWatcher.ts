/**
 * Merge detection: notice when a session branch has reached its target branch — by a merge commit, a
 * fast-forward, a rebase or a squash (see mergeDetection.ts; the rows are in MergeStore.ts) — record it once, and mark the
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
import type { SessionId } from "../Domain.js"
import type { InvalidInput } from "../Errors.js"
import { AppConfig } from "../platform/AppConfig.js"
import { Database, type DbFailure } from "../platform/Database.js"
import { Git, type GitError } from "../platform/Git.js"
import { detect } from "./mergeDetection.js"
import * as MergeStore from "./MergeStore.js"
import type { EventFilter, MergeEvent, Pair, SubscribeResult, Subscription, SubscriptionFilter, WatchRow } from "./MergeStore.js"

export {
  type EventFilter,
  MergeEvent,
  MergeMethod,
  type SubscribeResult,
  Subscription,
  type SubscriptionFilter
} from "./MergeStore.js"

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

const pairKey = (p: Pair) => `${p.repoPath}\u0000${p.branch}\u0000${p.targetBranch}`

/** Local branch heads of a repository, by name. */
const headsOf = (git: Git["Type"], repoPath: string) =>
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

/** Commits on `head` that `targetHead` lacks, and the reverse. */
const countsOf = (git: Git["Type"], repoPath: string, head: string, targetHead: string) =>
  git.run(repoPath, ["rev-list", "--left-right", "--count", `${targetHead}...${head}`]).pipe(
    Effect.map((r) => {
      const [behind, ahead] = r.stdout.trim().split(/\s+/).map(Number)
      return { ahead: ahead ?? 0, behind: behind ?? 0 }
    })
  )

/** Session branches (with their base) and other watched pairs, by repository. */
interface RepoWatch {
  readonly sessionBranches: Map<string, string | null>
  readonly pairs: Array<Pair>
}

const byRepo = (watched: MergeStore.Watched): Map<string, RepoWatch> => {
  const repos = new Map<string, RepoWatch>()
  const entry = (repo: string) => {
    let e = repos.get(repo)
    if (e === undefined) repos.set(repo, e = { sessionBranches: new Map(), pairs: [] })
    return e
  }
  // The latest session of a branch decides its base.
  for (const s of watched.sessions) entry(s.repo_path).sessionBranches.set(s.branch, s.base_branch)
  for (const p of watched.pairs) entry(p.repoPath).pairs.push(p)
  return repos
}

/** A branch to check, with its target (default: as {@link MergeWatcher} `check` says). */
type Request = { readonly repoPath: string; readonly branch: string; readonly targetBranch?: string | undefined }

/** How targets are chosen (`merges.targetBranch` when set, else a session's base, else the repository's). */
const targets = (git: Git["Type"], store: MergeStore.MergeStore, configuredTarget: string) => {
  const heads = (repoPath: string) => headsOf(git, repoPath)

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
      const base = yield* store.baseOf(repoPath, branch)
      if (base !== null && base !== branch) return base
      return yield* targetOf(repoPath)
    })

  /** The pair a check or subscription names, with the branch and target heads now. */
  const resolvePair = (req: Request) =>
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

  return { pickTarget, resolvePair, targetOf }
}

type Problem = PollReport["problems"][number]

export const make = Effect.gen(function*() {
  const db = yield* Database
  const git = yield* Git
  const config = yield* AppConfig
  const fs = yield* FileSystem.FileSystem
  const store = MergeStore.make(db)
  const lookbackMs = config.values["merges.lookbackDays"] * 86_400_000
  const configuredTarget = config.values["merges.targetBranch"]
  const heads = (repoPath: string) => headsOf(git, repoPath)
  const { pickTarget, resolvePair, targetOf } = targets(git, store, configuredTarget)

  /** Check one pair at `head` against `targetHead`, and record what was seen (see MergeStore.record). */
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
      return yield* store.record(pair, {
        head,
        targetHead,
        branchExists,
        merged: detection.merged,
        pendingHead: detection.unmerged ? head : pendingHead,
        row
      })
    })

  const check = (req: Request) =>
    Effect.gen(function*() {
      const { head, pair, targetHead } = yield* resolvePair(req)
      const row = yield* store.watchRow(pair)
      // A branch deleted after the watcher saw it is judged by its last head.
      const effectiveHead = head ?? Option.getOrUndefined(Option.map(row, (r) => r.last_head))
      if (effectiveHead === undefined) {
        return yield* new MergeWatchError({ reason: "BranchNotFound", repoPath: pair.repoPath, branch: pair.branch })
      }
      const { event, recorded } = yield* evaluate(pair, effectiveHead, targetHead, head !== undefined, row)
      const { ahead, behind } = yield* countsOf(git, pair.repoPath, effectiveHead, targetHead)
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

  /** Look at one pair with the repository's branch heads `known`; the event when this look recorded one. */
  const pollPair = (pair: Pair, known: Map<string, string>) =>
    Effect.gen(function*() {
      const targetHead = known.get(pair.targetBranch)
      if (targetHead === undefined) return { checked: false, recorded: Option.none<MergeEvent>() }
      const row = yield* store.watchRow(pair)
      const head = known.get(pair.branch)
      if (head === undefined) {
        // Gone: judge its last head once, then stop watching it.
        if (Option.isNone(row) || row.value.gone_at !== null) return { checked: false, recorded: Option.none<MergeEvent>() }
        if (row.value.merged_head === row.value.last_head) {
          yield* store.markGone(pair)
          return { checked: false, recorded: Option.none<MergeEvent>() }
        }
        const r = yield* evaluate(pair, row.value.last_head, targetHead, false, row)
        return { checked: true, recorded: r.recorded }
      }
      // Nothing moved since the last look: the answer cannot have changed.
      if (Option.isSome(row) && row.value.last_head === head && row.value.last_target_head === targetHead) {
        return { checked: false, recorded: Option.none<MergeEvent>() }
      }
      const r = yield* evaluate(pair, head, targetHead, true, row)
      return { checked: true, recorded: r.recorded }
    })

  const pollRepo = (repoPath: string, spec: RepoWatch) =>
    Effect.gen(function*() {
      const problems: Array<Problem> = []
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
        yield* pollPair(pair, known.right).pipe(
          Effect.map((r) => {
            if (r.checked) checked++
            if (Option.isSome(r.recorded)) events.push(r.recorded.value)
          }),
          Effect.catchAll((e) => Effect.sync(() => problems.push({ repoPath, branch: pair.branch, message: e.message })))
        )
      }
      return { checked, events, problems }
    })

  const poll = Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const list = byRepo(yield* store.watched(now - lookbackMs))
    const events: Array<MergeEvent> = []
    const problems: Array<Problem> = []
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
    yield* Effect.logDebug(`merge watch: polled ${list.size} repositories, ${checked} branches checked, ${events.length} new merges`)
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
    check(req).pipe(
      Effect.flatMap((status) =>
        store.subscribe(
          req.sessionId,
          { repoPath: status.repoPath, branch: status.branch, targetBranch: status.targetBranch },
          status.branchHead
        )
      ),
      Effect.withSpan("MergeWatcher.subscribe")
    )

  return MergeWatcher.of({
    poll,
    watch,
    check,
    subscribe,
    events: store.events,
    subscriptions: store.subscriptions,
    targetOf
  })
})

/** The watcher over the store and git; needs Database, Git, AppConfig and FileSystem. */
export const layer = Layer.effect(MergeWatcher, make)
