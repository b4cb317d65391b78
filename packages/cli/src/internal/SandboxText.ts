/**
 * The text of `sandbox list` and `sandbox status`: one renderer for the full CLI and the Effect-free fast
 * path (no Effect code here).
 */
import { age, table } from "./Table.js"

/** The fields of a `SandboxRun` these texts show. */
export interface RunView {
  readonly sessionId: string
  readonly repoPath: string
  readonly provider: string
  readonly isolation: string | null
  readonly sandboxId: string | null
  readonly sandboxState: string
  readonly agent: string
  readonly prompt: string
  readonly branchMode: string
  readonly branch: string | null
  readonly worktreePath: string | null
  readonly status: string
  readonly numTurns: number | null
  readonly costUsd: number | null
  readonly providerCostUsd: number | null
  readonly totalCostUsd: number | null
  readonly agentDurationMs: number | null
  readonly filesAdded: number | null
  readonly filesModified: number | null
  readonly filesDeleted: number | null
  readonly error: string | null
  readonly logPath: string
  readonly createdAt: Date
  readonly endedAt: Date | null
}

/** "succeeded · 3 turns · $0.0123 · 4.2 s (agent)". */
export const resultLine = (r: RunView): string => {
  const parts = [
    r.status.replace("_", " "),
    r.numTurns !== null ? `${r.numTurns} turns` : undefined,
    r.totalCostUsd !== null && r.providerCostUsd !== null && r.providerCostUsd > 0
      ? `$${r.totalCostUsd.toFixed(4)} (agent $${(r.costUsd ?? 0).toFixed(4)} + sandbox $${r.providerCostUsd.toFixed(4)})`
      : r.costUsd !== null
      ? `$${r.costUsd.toFixed(4)}`
      : undefined,
    r.agentDurationMs !== null ? `${(r.agentDurationMs / 1000).toFixed(1)} s (agent)` : undefined
  ].filter((x) => x !== undefined)
  return parts.join(" · ")
}

/** `sandbox list`: "No sandbox runs.", or one line per run. */
export const runsText = (runs: ReadonlyArray<RunView>, now: number): string => {
  if (runs.length === 0) return "No sandbox runs."
  const prompt = (p: string) => {
    const l = p.trim().split("\n")[0] ?? ""
    return l.length > 40 ? `${l.slice(0, 39)}…` : l
  }
  return table(
    ["SESSION", "STATUS", "SANDBOX", "PROVIDER", "AGE", "COST", "CHANGES", "PROMPT"],
    runs.map((r) => [
      r.sessionId,
      r.status,
      r.sandboxState,
      r.isolation !== null ? `${r.provider}/${r.isolation}` : r.provider,
      age(r.createdAt, now),
      r.costUsd !== null ? `$${r.costUsd.toFixed(4)}` : "-",
      r.filesAdded !== null ? `+${r.filesAdded} ~${r.filesModified ?? 0} -${r.filesDeleted ?? 0}` : "-",
      prompt(r.prompt)
    ])
  )
}

/** `sandbox status`: one line per fact; `sandbox` is what the sandbox is now. */
export const runStatusText = (r: RunView, sandbox: string): string => {
  const rows: Array<[string, string]> = [
    ["session", r.sessionId],
    ["status", resultLine(r)],
    ["repository", r.repoPath],
    ["provider", `${r.provider}${r.isolation !== null ? ` (${r.isolation})` : ""}`],
    ["sandbox", `${r.sandboxState}${r.sandboxId !== null ? ` ${r.sandboxId}` : ""} — now ${sandbox}`],
    ["agent", r.agent],
    ["branch", `${r.branchMode}${r.branch !== null ? ` ${r.branch}` : ""}`],
    ["worktree", r.worktreePath ?? "-"],
    ["changes", r.filesAdded !== null ? `${r.filesAdded} added, ${r.filesModified ?? 0} modified, ${r.filesDeleted ?? 0} deleted` : "-"],
    ["started", r.createdAt.toISOString()],
    ["ended", r.endedAt?.toISOString() ?? "-"],
    ["log", r.logPath]
  ]
  if (r.error !== null) rows.push(["error", r.error])
  const width = Math.max(...rows.map(([k]) => k.length))
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join("\n")
}
