/**
 * zod shapes shared by several tools: the wire form of core's domain values.
 *
 * @since 0.1.0
 */
import type { Domain } from "@parallel-cc/core"
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
