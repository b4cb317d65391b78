/**
 * zod shapes shared by several tools: the wire form of core's domain values.
 *
 * @since 0.1.0
 */
import type { ClaimsLedger, Domain } from "@parallel-cc/core"
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
