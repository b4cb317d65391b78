/**
 * zod shapes shared by several tools: the wire form of core's domain values.
 *
 * @since 0.1.0
 */
import type { ClaimsLedger, Domain, MergeWatcher } from "@parallel-cc/core"
import { z } from "zod"

export const session = z.object({
  sessionId: z.string(),
  repoPath: z.string().describe("Main repository top level"),
  worktreePath: z.string().describe("Where the session works: the repository itself or a worktree"),
  worktreeName: z.string().nullable(),
  branch: z.string().nullable().describe("The worktree's branch; null for the session in the repository itself"),
  isMainRepo: z.boolean(),
  pid: z.number().int(),
  mode: z.enum(["local", "sandbox"]),
  status: z.enum(["active", "released"]),
  createdAt: z.string(),
  lastHeartbeat: z.string(),
  endedAt: z.string().nullable()
})
export type SessionWire = z.input<typeof session>

export const sessionWire = (s: Domain.Session): SessionWire => ({
  sessionId: s.sessionId,
  repoPath: s.repoPath,
  worktreePath: s.worktreePath,
  worktreeName: s.worktreeName,
  branch: s.branch,
  isMainRepo: s.isMainRepo,
  pid: s.pid,
  mode: s.mode,
  status: s.status,
  createdAt: s.createdAt.toISOString(),
  lastHeartbeat: s.lastHeartbeat.toISOString(),
  endedAt: s.endedAt === null ? null : s.endedAt.toISOString()
})

export const claimMode = z.enum(["EXCLUSIVE", "SHARED", "INTENT"])

export const claim = z.object({
  claimId: z.string(),
  sessionId: z.string(),
  repoPath: z.string(),
  filePath: z.string().describe("Relative to the repository root"),
  mode: claimMode,
  reason: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
  expiresAt: z.string(),
  releasedAt: z.string().nullable(),
  releaseReason: z.enum(["released", "session-ended", "expired"]).nullable(),
  branch: z.string().nullable().describe("The holder's branch (null: the session in the repository itself)"),
  worktreePath: z.string().describe("The holder's directory")
})
export type ClaimWire = z.input<typeof claim>

export const claimWire = (c: ClaimsLedger.Claim): ClaimWire => ({
  claimId: c.claimId,
  sessionId: c.sessionId,
  repoPath: c.repoPath,
  filePath: c.filePath,
  mode: c.mode,
  reason: c.reason,
  createdAt: c.createdAt.toISOString(),
  updatedAt: c.updatedAt.toISOString(),
  expiresAt: c.expiresAt.toISOString(),
  releasedAt: c.releasedAt === null ? null : c.releasedAt.toISOString(),
  releaseReason: c.releaseReason,
  branch: c.branch,
  worktreePath: c.worktreePath
})

export const mergeEvent = z.object({
  eventId: z.number().int(),
  repoPath: z.string(),
  branch: z.string(),
  targetBranch: z.string(),
  branchHead: z.string().describe("The branch commit that was merged"),
  targetHead: z.string().describe("The target's head when the merge was detected"),
  method: z.enum(["merge-commit", "fast-forward", "rebase", "squash", "content"]),
  mergeCommit: z.string().nullable().describe("The target commit that brought the branch in, when known"),
  sessionId: z.string().nullable().describe("The session that worked on the branch"),
  detectedAt: z.string()
})
export type MergeEventWire = z.input<typeof mergeEvent>

export const mergeEventWire = (e: MergeWatcher.MergeEvent): MergeEventWire => ({
  eventId: e.eventId,
  repoPath: e.repoPath,
  branch: e.branch,
  targetBranch: e.targetBranch,
  branchHead: e.branchHead,
  targetHead: e.targetHead,
  method: e.method,
  mergeCommit: e.mergeCommit,
  sessionId: e.sessionId,
  detectedAt: e.detectedAt.toISOString()
})

export const subscription = z.object({
  subscriptionId: z.number().int(),
  sessionId: z.string(),
  repoPath: z.string(),
  branch: z.string(),
  targetBranch: z.string(),
  createdAt: z.string(),
  notifiedAt: z.string().nullable().describe("When the merge was detected; null while pending"),
  mergeEventId: z.number().int().nullable()
})
export type SubscriptionWire = z.input<typeof subscription>

export const subscriptionWire = (s: MergeWatcher.Subscription): SubscriptionWire => ({
  subscriptionId: s.subscriptionId,
  sessionId: s.sessionId,
  repoPath: s.repoPath,
  branch: s.branch,
  targetBranch: s.targetBranch,
  createdAt: s.createdAt.toISOString(),
  notifiedAt: s.notifiedAt === null ? null : s.notifiedAt.toISOString(),
  mergeEventId: s.mergeEventId
})
