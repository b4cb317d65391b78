/**
 * The text of `parallel-cc status`: one renderer for the full CLI and the Effect-free fast path (plain
 * data in, no Effect code), so both print the same bytes.
 */
import type { FleetDomain } from "@parallel-cc/core"
import { reenterCommand } from "./Render.js"
import { age, table } from "./Table.js"

export interface ActiveRow {
  readonly sessionId: string
  readonly name: string | null
  /** The session this one works for (shown nested under it). */
  readonly parentId: string | null
  readonly pid: number
  readonly mode: string
  readonly isMainRepo: boolean
  readonly branch: string | null
  readonly createdAt: Date
  readonly lastHeartbeat: Date
  readonly liveness: string
  readonly portBase: number | null
  readonly worktreePath: string
  /** The agent's state (`working`, `needs-input`, …); null when unknown. */
  readonly state: string | null
  /** Tokens and cost from the session's transcripts; null without one. */
  readonly usage: FleetDomain.SessionUsage | null
}

export interface KeptRow {
  readonly sessionId: string
  readonly name: string | null
  readonly mode: string
  readonly isMainRepo: boolean
  readonly branch: string | null
  readonly endedAt: Date | null
  readonly keptReason: string | null
  readonly worktreePath: string
  /** The agent the session ran (null: not known); the command that goes on fits it. */
  readonly agent: string | null
}

/** An open overlap between two live sessions (as `OverlapStore.list` gives it). */
export interface OverlapRow {
  readonly sessionA: string
  readonly sessionB: string
  readonly filePath: string
  readonly conflict: boolean | null
}

/** "2 files, 1 conflict", or "-". */
const overlapCell = (overlaps: ReadonlyArray<OverlapRow>, id: string): string => {
  const mine = overlaps.filter((o) => o.sessionA === id || o.sessionB === id)
  if (mine.length === 0) return "-"
  const files = new Set(mine.map((o) => o.filePath)).size
  const conflicts = mine.filter((o) => o.conflict === true).length
  return `${files} file${files === 1 ? "" : "s"}${conflicts > 0 ? `, ${conflicts} conflict${conflicts === 1 ? "" : "s"}` : ""}`
}

/** Sessions in display order: each one followed by the sessions started for it (subagents), with its depth. */
export const nested = <S extends Pick<ActiveRow, "sessionId" | "parentId">>(rows: ReadonlyArray<S>) => {
  const ids = new Set<string>(rows.map((s) => s.sessionId))
  const children = new Map<string, Array<S>>()
  const roots: Array<S> = []
  for (const s of rows) {
    const p = s.parentId
    if (p !== null && ids.has(p) && p !== s.sessionId) children.set(p, [...(children.get(p) ?? []), s])
    else roots.push(s)
  }
  const out: Array<{ readonly depth: number; readonly row: S }> = []
  const seen = new Set<string>()
  const walk = (s: S, depth: number) => {
    if (seen.has(s.sessionId)) return
    seen.add(s.sessionId)
    out.push({ depth, row: s })
    for (const c of children.get(s.sessionId) ?? []) walk(c, depth + 1)
  }
  for (const r of roots) walk(r, 0)
  // A cycle of parents (impossible through register) still shows every session.
  for (const s of rows) walk(s, 0)
  return out
}

/** "$0.42", "?" (a model without a price), "unknown" (an unreadable transcript), or "-" (no transcript). */
export const costCell = (u: FleetDomain.SessionUsage | null): string =>
  u === null ? "-" : !u.known ? "unknown" : u.costUsd === null ? "?" : `$${u.costUsd.toFixed(2)}`

const named = (s: { readonly sessionId: string; readonly name: string | null }) =>
  `${s.sessionId}${s.name !== null ? ` (${s.name})` : ""}`

/** A sandboxed run's session is the run (same id): its kind says so, with the run's state. */
const kindOf = (s: { readonly sessionId: string; readonly mode: string; readonly isMainRepo: boolean }, runState: ReadonlyMap<string, string>) =>
  s.mode === "sandbox" ? `sandbox run (${runState.get(s.sessionId) ?? "unknown"})` : s.isMainRepo ? "main" : "worktree"

/**
 * The status table (or "No active sessions."), then the worktrees kept with work in them. Overlaps are
 * the live ones as the sessions' watchers last saw them.
 */
export const statusText = (
  sessions: ReadonlyArray<ActiveRow>,
  kept: ReadonlyArray<KeptRow>,
  overlaps: ReadonlyArray<OverlapRow>,
  now: number,
  /** The state of each sandboxed run shown (by session id). */
  runState: ReadonlyMap<string, string>
): string => {
  const out: Array<string> = []
  if (sessions.length === 0) out.push("No active sessions.")
  else {
    out.push(table(
      ["SESSION", "PID", "KIND", "BRANCH", "AGE", "HEARTBEAT", "LIVENESS", "STATE", "COST", "OVERLAPS", "PORTS", "DIRECTORY"],
      nested(sessions).map(({ depth, row: s }) => [
        `${depth > 0 ? `${"  ".repeat(depth - 1)}└ ` : ""}${named(s)}`,
        String(s.pid),
        kindOf(s, runState),
        s.branch ?? "-",
        age(s.createdAt, now),
        `${age(s.lastHeartbeat, now)} ago`,
        s.liveness,
        // The state alone (since when: `status --json` stateSince, `parallel-cc ui`).
        s.state ?? "-",
        costCell(s.usage),
        overlapCell(overlaps, s.sessionId),
        s.portBase !== null ? String(s.portBase) : "-",
        s.worktreePath
      ])
    ))
  }
  if (kept.length > 0) {
    out.push(
      "",
      "Worktrees kept with work in them (go on with the command shown; look with `parallel-cc diff SESSION`; " +
        "merge, then `parallel-cc cleanup`; or throw away with `parallel-cc discard SESSION --force`):",
      table(
        ["SESSION", "KIND", "BRANCH", "ENDED", "WORK", "GO ON WITH", "DIRECTORY"],
        kept.map((s) => [
          named(s),
          kindOf(s, runState),
          s.branch ?? "-",
          s.endedAt !== null ? `${age(s.endedAt, now)} ago` : "-",
          s.keptReason ?? "",
          s.mode === "sandbox" ? `parallel-cc open ${s.sessionId}` : reenterCommand(s.name ?? s.sessionId, s.agent),
          s.worktreePath
        ])
      )
    )
  }
  return out.join("\n")
}
