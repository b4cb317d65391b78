/**
 * Merge tools: learn when a branch reached its target.
 *
 * @since 0.1.0
 */
import { Errors, MergeWatcher } from "@parallel-cc/core"
import { Effect, Option } from "effect"
import { z } from "zod"
import { Caller } from "../Caller.js"
import * as Tool from "../Tool.js"
import { repoOption, repoRequired } from "./common.js"
import { mergeEvent, mergeEventWire, subscription, subscriptionWire } from "./shapes.js"

const branchArg = z.string().min(1).max(200)

/** The branch a call is about: the given one, else the caller's session branch. */
const branchOrMine = (branch: string | undefined) =>
  Effect.gen(function*() {
    if (branch !== undefined) return branch
    const me = yield* Effect.flatMap(Caller, (c) => c.session)
    if (me.session.branch === null) {
      return yield* new Errors.InvalidInput({
        field: "branch",
        detail: "your session works in the repository itself, not on a session branch; pass branch"
      })
    }
    return me.session.branch
  })

export const notifyWhenMerged = Tool.define({
  name: "notify_when_merged",
  title: "Notify when merged",
  description: "Subscribe to the merge of a branch (default: your session's branch) into its target (default: " +
    "the merges.targetBranch setting, else the branch your worktree was created from). The merge watcher " +
    "(`parallel-cc watch merges`) marks the subscription notified when it sees the merge; read it with " +
    "check_merge_status or get_merge_events. If the branch is already merged, the subscription is satisfied at once.",
  input: {
    branch: branchArg.optional().describe("The branch to watch (default: your session's branch)"),
    targetBranch: branchArg.optional().describe("The branch it should reach")
  },
  output: {
    subscription,
    created: z.boolean().describe("False when you already had the same pending subscription"),
    alreadyMerged: mergeEvent.nullable().describe("The merge, if the branch is already in the target")
  },
  handler: (input) =>
    Effect.gen(function*() {
      const watcher = yield* MergeWatcher.MergeWatcher
      const me = yield* Effect.flatMap(Caller, (c) => c.session)
      const branch = yield* branchOrMine(input.branch)
      const r = yield* watcher.subscribe({
        sessionId: me.session.sessionId,
        repoPath: me.session.repoPath,
        branch,
        targetBranch: input.targetBranch
      })
      return {
        subscription: subscriptionWire(r.subscription),
        created: r.created,
        alreadyMerged: r.alreadyMerged === null ? null : mergeEventWire(r.alreadyMerged)
      }
    }),
  summarize: (o) =>
    o.alreadyMerged !== null
      ? `${o.subscription.branch} is already merged into ${o.subscription.targetBranch} (${o.alreadyMerged.method})`
      : `you will be notified when ${o.subscription.branch} reaches ${o.subscription.targetBranch}` +
        (o.created ? "" : " (subscription already existed)")
})

export const checkMergeStatus = Tool.define({
  name: "check_merge_status",
  title: "Check merge status",
  description: "Check now whether a branch (default: your session's branch) has reached its target, by merge " +
    "commit, fast-forward, rebase or squash; records the merge if it just happened. Also reports how many " +
    "commits the branch is ahead of and behind the target, and the subscriptions on the branch.",
  input: {
    branch: branchArg.optional().describe("The branch (default: your session's branch)"),
    targetBranch: branchArg.optional().describe("The target (default: merges.targetBranch, else the branch the worktree was created from, else the checked-out branch)"),
    repo: z.string().min(1).optional().describe("A path inside the repository (default: your repository)")
  },
  output: {
    repoPath: z.string(),
    branch: z.string(),
    targetBranch: z.string(),
    branchHead: z.string(),
    targetHead: z.string(),
    merged: z.boolean(),
    event: mergeEvent.nullable(),
    newlyRecorded: z.boolean().describe("This call recorded the merge (it had not been seen before)"),
    ahead: z.number().int().describe("Commits on the branch that the target lacks (by commit id)"),
    behind: z.number().int().describe("Commits on the target that the branch lacks"),
    subscriptions: z.array(subscription)
  },
  handler: (input) =>
    Effect.gen(function*() {
      const watcher = yield* MergeWatcher.MergeWatcher
      const repoPath = yield* repoRequired(input.repo)
      const branch = yield* branchOrMine(input.branch)
      const status = yield* watcher.check({ repoPath, branch, targetBranch: input.targetBranch })
      const subs = yield* watcher.subscriptions({ repoPath, branch: status.branch })
      return {
        repoPath: status.repoPath,
        branch: status.branch,
        targetBranch: status.targetBranch,
        branchHead: status.branchHead,
        targetHead: status.targetHead,
        merged: status.event !== null,
        event: status.event === null ? null : mergeEventWire(status.event),
        newlyRecorded: status.newlyRecorded,
        ahead: status.ahead,
        behind: status.behind,
        subscriptions: subs.map(subscriptionWire)
      }
    }),
  summarize: (o) =>
    o.merged
      ? `${o.branch} is merged into ${o.targetBranch} (${o.event?.method})`
      : `${o.branch} is not merged into ${o.targetBranch}: ${o.ahead} commit${o.ahead === 1 ? "" : "s"} ahead, ${o.behind} behind`
})

export const getMergeEvents = Tool.define({
  name: "get_merge_events",
  title: "Merge events",
  description: "Recorded merges (newest first) of a repository (default: yours; allRepos for every one), " +
    "optionally for one branch or target, or only those after an event id (to poll for new ones).",
  input: {
    repo: z.string().min(1).optional().describe("A path inside the repository (default: your repository)"),
    allRepos: z.boolean().optional(),
    branch: branchArg.optional(),
    targetBranch: branchArg.optional(),
    afterId: z.number().int().min(0).optional().describe("Only events with a larger eventId"),
    limit: z.number().int().min(1).max(500).optional().describe("At most this many (default 20)")
  },
  output: {
    repoPath: z.string().nullable(),
    events: z.array(mergeEvent),
    total: z.number().int()
  },
  readOnly: true,
  handler: (input) =>
    Effect.gen(function*() {
      const watcher = yield* MergeWatcher.MergeWatcher
      const repo = input.allRepos === true ? Option.none<string>() : yield* repoOption(input.repo)
      const events = yield* watcher.events({
        repoPath: Option.getOrUndefined(repo),
        branch: input.branch,
        targetBranch: input.targetBranch,
        afterId: input.afterId,
        limit: input.limit ?? 20
      })
      return { repoPath: Option.getOrNull(repo), events: events.map(mergeEventWire), total: events.length }
    }),
  summarize: (o) => `${o.total} merge event${o.total === 1 ? "" : "s"}${o.repoPath !== null ? ` in ${o.repoPath}` : ""}`
})

export const tools: ReadonlyArray<Tool.AnyTool> = [notifyWhenMerged, checkMergeStatus, getMergeEvents]
