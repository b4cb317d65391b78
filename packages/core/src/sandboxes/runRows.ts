/**
 * The `sandbox_runs` row format: which column holds which field of a `SandboxRun`, and a row's fields
 * (booleans and dates decoded). Plain code without Effect, shared by `SandboxRuns` and the Effect-free
 * `RunsSnapshot` (`sandbox list` / `sandbox status` at start-up).
 */

/** Field → column, in the order of `SandboxRun`'s fields. */
export const runColumns = {
  sessionId: "session_id",
  repoPath: "repo_path",
  provider: "provider",
  sandboxId: "sandbox_id",
  isolation: "isolation",
  agent: "agent",
  prompt: "prompt",
  template: "template",
  managedTemplate: "managed_template",
  branchMode: "branch_mode",
  branch: "branch",
  baseCommit: "base_commit",
  worktreePath: "worktree_path",
  status: "status",
  sandboxState: "sandbox_state",
  keep: "keep",
  dryRun: "dry_run",
  supervisorPid: "supervisor_pid",
  supervisorStart: "supervisor_start",
  agentPid: "agent_pid",
  timeoutMs: "timeout_ms",
  logPath: "log_path",
  eventsPath: "events_path",
  changesPath: "changes_path",
  uploadFiles: "upload_files",
  uploadBytes: "upload_bytes",
  exitCode: "exit_code",
  resultSubtype: "result_subtype",
  isError: "is_error",
  numTurns: "num_turns",
  costUsd: "cost_usd",
  agentDurationMs: "agent_duration_ms",
  filesAdded: "files_added",
  filesModified: "files_modified",
  filesDeleted: "files_deleted",
  error: "error",
  createdAt: "created_at",
  startedAt: "started_at",
  endedAt: "ended_at",
  killRequestedAt: "kill_requested_at",
  budgetUsd: "budget_usd",
  providerSeconds: "provider_seconds",
  providerCostUsd: "provider_cost_usd",
  totalCostUsd: "total_cost_usd",
  pullRequestUrl: "pr_url"
} as const

const BOOLEAN_FIELDS = new Set(["keep", "dryRun", "isError"])
const DATE_FIELDS = new Set(["createdAt", "startedAt", "endedAt", "killRequestedAt"])

/** A row's fields (0/1 as booleans, milliseconds as Dates), in field order. */
export const fromRow = (row: Record<string, unknown>): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const [field, col] of Object.entries(runColumns)) {
    const v = row[col]
    if (BOOLEAN_FIELDS.has(field)) out[field] = v === null ? null : v === 1
    else if (DATE_FIELDS.has(field)) out[field] = v === null ? null : new Date(v as number)
    else out[field] = v
  }
  return out
}
