/**
 * The wire shapes several tools share, derived from core's Schemas (see `internal/schemaZod.ts`): the zod
 * the SDK publishes and validates, and the encoder that turns a core value into it, both from one
 * definition. Only the field documentation is added here.
 *
 * @since 0.1.0
 */
import { ClaimsLedger, Domain, FleetDomain, MergeWatcher, OverlapStore } from "@parallel-cc/core"
import { Schema } from "effect"
import { describe, objectOf, zodOf } from "../internal/schemaZod.js"

/** A session as the tools show it: the fields of core's Session an agent needs. */
const SessionWire = Schema.Struct(Domain.Session.fields).pipe(
  Schema.pick(
    "sessionId",
    "repoPath",
    "worktreePath",
    "worktreeName",
    "branch",
    "isMainRepo",
    "pid",
    "mode",
    "status",
    "createdAt",
    "lastHeartbeat",
    "endedAt"
  )
)

export const session = describe(objectOf(SessionWire), {
  repoPath: "Main repository top level",
  worktreePath: "Where the session works: the repository itself or a worktree",
  branch: "The worktree's branch; null for the session in the repository itself"
})
export type SessionWire = typeof SessionWire.Encoded
export const sessionWire: (s: Domain.Session) => SessionWire = Schema.encodeSync(SessionWire)

/** A session's agent state and usage (the fleet fields of `status --json`). */
export const fleetFields = describe(objectOf(FleetDomain.FleetFields), {
  state: "The agent's state: starting, working, needs-input (waiting for a person), idle (turn finished) or exited; null: unknown",
  stateSince: "When the agent entered that state",
  usage: "Tokens and cost from the session's Claude Code transcripts; null for an agent without a transcript"
})
export const fleetFieldsWire: (f: FleetDomain.FleetFields) => typeof FleetDomain.FleetFields.Encoded = Schema.encodeSync(FleetDomain.FleetFields)

export const claimMode = zodOf(ClaimsLedger.ClaimMode)

export const claim = describe(objectOf(ClaimsLedger.Claim), {
  filePath: "Relative to the repository root",
  branch: "The holder's branch (null: the session in the repository itself)",
  worktreePath: "The holder's directory"
})
export type ClaimWire = ClaimsLedger.ClaimJson
export const claimWire: (c: ClaimsLedger.Claim) => ClaimWire = Schema.encodeSync(ClaimsLedger.Claim)

export const mergeEvent = describe(objectOf(MergeWatcher.MergeEvent), {
  branchHead: "The branch commit that was merged",
  targetHead: "The target's head when the merge was detected",
  mergeCommit: "The target commit that brought the branch in, when known",
  sessionId: "The session that worked on the branch"
})
export type MergeEventWire = typeof MergeWatcher.MergeEvent.Encoded
export const mergeEventWire: (e: MergeWatcher.MergeEvent) => MergeEventWire = Schema.encodeSync(MergeWatcher.MergeEvent)

export const subscription = describe(objectOf(MergeWatcher.Subscription), {
  notifiedAt: "When the merge was detected; null while pending"
})
export type SubscriptionWire = typeof MergeWatcher.Subscription.Encoded
export const subscriptionWire: (s: MergeWatcher.Subscription) => SubscriptionWire = Schema.encodeSync(MergeWatcher.Subscription)

export const overlap = describe(objectOf(OverlapStore.Overlap), {
  filePath: "Relative to the repository root",
  level: "file: different parts; hunk: the same or adjacent lines; symbol: the same functions or members",
  symbols: "Symbols both sessions changed",
  conflict: "Whether merging the two sessions' work conflicts on the file (git merge-tree); null: not known yet"
})
export type OverlapWire = OverlapStore.OverlapJson
export const overlapWire: (o: OverlapStore.Overlap) => OverlapWire = Schema.encodeSync(OverlapStore.Overlap)
