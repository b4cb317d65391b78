/**
 * The text of `parallel-cc claims`: one renderer for the full CLI and the Effect-free fast path.
 */
import { table } from "./Table.js"

export interface ClaimRow {
  readonly repoPath: string
  readonly filePath: string
  readonly mode: string
  readonly sessionId: string
  readonly branch: string | null
  readonly expiresAt: Date
  readonly reason: string | null
}

const until = (to: Date, now: number): string => {
  const m = Math.max(0, Math.round((to.getTime() - now) / 60_000))
  return m < 60 ? `${m}m` : m < 1440 ? `${Math.floor(m / 60)}h ${m % 60}m` : `${Math.floor(m / 1440)}d ${Math.floor((m % 1440) / 60)}h`
}

/** "No active claims.", or one table per repository. */
export const claimsText = (found: ReadonlyArray<ClaimRow>, now: number): string => {
  if (found.length === 0) return "No active claims."
  const repos = [...new Set(found.map((c) => c.repoPath))]
  return repos.map((repo) => {
    const rows = found.filter((c) => c.repoPath === repo).map((c) => [
      c.filePath,
      c.mode,
      c.sessionId,
      c.branch ?? "(repository)",
      until(c.expiresAt, now),
      c.reason ?? ""
    ])
    return `${repo}\n${table(["FILE", "MODE", "SESSION", "BRANCH", "EXPIRES IN", "REASON"], rows)}`
  }).join("\n\n")
}
