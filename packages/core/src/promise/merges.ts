/**
 * The merges area of the Promise facade (`client.merges`): recorded merges, subscriptions, checks, polls.
 *
 * @since 0.2.0
 */
import { Effect, Schema } from "effect"
import * as MergeWatcher from "../coordination/MergeWatcher.js"
import * as Domain from "../Domain.js"
import { InvalidInput } from "../Errors.js"
import { Git } from "../platform/Git.js"
import { SessionStore } from "../sessions/SessionStore.js"
import { Limit, opt, strict, Text } from "./input.js"
import type { CallOptions, Facade } from "./runtime.js"

export type MergeEvent = typeof MergeWatcher.MergeEvent.Encoded
export type Subscription = typeof MergeWatcher.Subscription.Encoded
export interface BranchStatus extends Omit<MergeWatcher.BranchStatus, "event"> {
  readonly event: MergeEvent | null
}
export interface PollReport extends Omit<MergeWatcher.PollReport, "events"> {
  readonly events: ReadonlyArray<MergeEvent>
}
export interface SubscribeResult {
  readonly subscription: Subscription
  readonly created: boolean
  readonly alreadyMerged: MergeEvent | null
}

const MergeStatusInput = strict({ repoPath: opt(Text), branch: opt(Text), limit: opt(Limit) })
const SubscriptionsInput = strict({
  repoPath: opt(Text),
  branch: opt(Text),
  sessionId: opt(Domain.SessionId),
  pendingOnly: opt(Schema.Boolean),
  limit: opt(Limit)
})
const CheckInput = strict({ repoPath: Text, branch: Text, targetBranch: opt(Text) })
const SubscribeInput = strict({ sessionId: Domain.SessionId, branch: opt(Text), targetBranch: opt(Text) })

const encodeEvent = Schema.encodeSync(MergeWatcher.MergeEvent)
const encodeSubscription = Schema.encodeSync(MergeWatcher.Subscription)

/** Merge detection: recorded merges, subscriptions, on-demand checks. */
export interface MergesApi {
  /** Recorded merge events, newest first (`merge status --json`); default limit 20. */
  readonly status: (
    input?: { readonly repoPath?: string; readonly branch?: string; readonly limit?: number },
    options?: CallOptions
  ) => Promise<ReadonlyArray<MergeEvent>>
  /** Merge subscriptions (`merge status --subscriptions --json`). */
  readonly subscriptions: (
    input?: {
      readonly repoPath?: string
      readonly branch?: string
      readonly sessionId?: string
      readonly pendingOnly?: boolean
      readonly limit?: number
    },
    options?: CallOptions
  ) => Promise<ReadonlyArray<Subscription>>
  /** Has `branch` reached `targetBranch` (default: `merges.targetBranch`, else the checked-out branch)? Records it if so. */
  readonly check: (
    input: { readonly repoPath: string; readonly branch: string; readonly targetBranch?: string },
    options?: CallOptions
  ) => Promise<BranchStatus>
  /** Ask to be told when a session's branch (or `branch`) is merged; satisfied at once if it already is. */
  readonly subscribe: (
    input: { readonly sessionId: string; readonly branch?: string; readonly targetBranch?: string },
    options?: CallOptions
  ) => Promise<SubscribeResult>
  /** Look at every watched repository once (`watch merges --once`); resolves to the newly recorded merges. */
  readonly poll: (input?: Record<string, never>, options?: CallOptions) => Promise<PollReport>
}

export const makeMerges = (f: Facade): MergesApi => {
  const { method, mainRoot, abs } = f
  const checkBranch = (name: string | undefined) =>
    name === undefined ? Effect.succeed(undefined) : Effect.flatMap(Git, (git) => git.checkBranchName(name))

  return {
    status: method("merges.status", MergeStatusInput, (input) =>
      Effect.gen(function*() {
        const watcher = yield* MergeWatcher.MergeWatcher
        const repoPath = input.repoPath !== undefined ? yield* mainRoot(input.repoPath) : undefined
        const branch = yield* checkBranch(input.branch)
        const events = yield* watcher.events({ repoPath, branch, limit: input.limit ?? 20 })
        return events.map((e) => encodeEvent(e))
      })),
    subscriptions: method("merges.subscriptions", SubscriptionsInput, (input) =>
      Effect.gen(function*() {
        const watcher = yield* MergeWatcher.MergeWatcher
        const repoPath = input.repoPath !== undefined ? yield* mainRoot(input.repoPath) : undefined
        const branch = yield* checkBranch(input.branch)
        const subs = yield* watcher.subscriptions({
          repoPath,
          branch,
          sessionId: input.sessionId,
          pendingOnly: input.pendingOnly,
          limit: input.limit ?? 20
        })
        return subs.map((s) => encodeSubscription(s))
      })),
    check: method("merges.check", CheckInput, (input) =>
      Effect.gen(function*() {
        const watcher = yield* MergeWatcher.MergeWatcher
        const repoPath = yield* Effect.flatMap(Git, (git) => git.mainRoot(abs(input.repoPath)))
        const status = yield* watcher.check({ repoPath, branch: input.branch, targetBranch: input.targetBranch })
        return { ...status, event: status.event !== null ? encodeEvent(status.event) : null } satisfies BranchStatus
      })),
    subscribe: method("merges.subscribe", SubscribeInput, (input) =>
      Effect.gen(function*() {
        const watcher = yield* MergeWatcher.MergeWatcher
        const session = yield* Effect.flatMap(SessionStore, (store) => store.get(input.sessionId))
        const branch = input.branch ?? session.branch
        if (branch === null) {
          return yield* new InvalidInput({
            field: "merges.subscribe.branch",
            detail: `session ${session.sessionId} works in the repository itself and has no branch of its own; name the branch`
          })
        }
        const r = yield* watcher.subscribe({
          sessionId: session.sessionId,
          repoPath: session.repoPath,
          branch,
          targetBranch: input.targetBranch
        })
        return {
          subscription: encodeSubscription(r.subscription),
          created: r.created,
          alreadyMerged: r.alreadyMerged !== null ? encodeEvent(r.alreadyMerged) : null
        } satisfies SubscribeResult
      })),
    poll: method("merges.poll", strict({}), () =>
      Effect.flatMap(MergeWatcher.MergeWatcher, (w) => w.poll).pipe(
        Effect.map((r): PollReport => ({ ...r, events: r.events.map((e) => encodeEvent(e)) }))
      ))
  }
}
