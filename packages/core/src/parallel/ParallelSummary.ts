/**
 * What a parallel run leaves in its output directory, as schemas: `summary.json` (the whole run, read again
 * by `--resume`) and each task's `result.json`; and the human report `summary-report.md` rendered from it.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/** Where a task is. `pending`: not started yet (waiting for its dependencies or a free slot). */
export const TaskStatus = Schema.Literal("pending", "running", "succeeded", "failed", "skipped", "cancelled", "interrupted")
export type TaskStatus = typeof TaskStatus.Type

/** Final statuses: the task will not change any more in this invocation. */
export const isFinal = (s: TaskStatus): boolean => s !== "pending" && s !== "running"

const ChangeList = Schema.Struct({
  added: Schema.Array(Schema.String),
  modified: Schema.Array(Schema.String),
  deleted: Schema.Array(Schema.String)
})

/** An earlier attempt of a task (a retry, or an earlier invocation before `--resume`). */
export const Attempt = Schema.Struct({
  sessionId: Schema.NullOr(Schema.String),
  status: Schema.String,
  error: Schema.NullOr(Schema.String),
  worktreePath: Schema.NullOr(Schema.String)
})
export type Attempt = typeof Attempt.Type

/** One task's result (`<output>/<id>/result.json`, and an entry of `summary.json`). */
export const TaskResult = Schema.Struct({
  id: Schema.String,
  prompt: Schema.String,
  dependsOn: Schema.Array(Schema.String),
  /** The task's own agent and branch from the task file, if any. */
  agent: Schema.NullOr(Schema.String),
  branchRequested: Schema.NullOr(Schema.String),
  status: TaskStatus,
  /** Why a task was skipped or cancelled. */
  reason: Schema.NullOr(Schema.String),
  /** The session (and sandbox run) of the latest attempt: `parallel-cc sandbox logs --session-id …`. */
  sessionId: Schema.NullOr(Schema.String),
  attempts: Schema.Number,
  earlierAttempts: Schema.Array(Attempt),
  startedAt: Schema.NullOr(Schema.String),
  endedAt: Schema.NullOr(Schema.String),
  /** The task's own time: from its start to its end, less the time it waited for an agent slot. */
  durationMs: Schema.NullOr(Schema.Number),
  /**
   * Time the task spent prepared, waiting for an agent slot (local provider: tasks prepare while up to
   * K agents run). Not in `durationMs`. Absent from summaries written before it existed (read as 0).
   */
  waitedMs: Schema.optionalWith(Schema.Number, { default: () => 0 }),
  costUsd: Schema.NullOr(Schema.Number),
  turns: Schema.NullOr(Schema.Number),
  changes: ChangeList,
  /** The worktree holding the changes (uncommitted, or committed on `branch`). */
  worktreePath: Schema.NullOr(Schema.String),
  branch: Schema.NullOr(Schema.String),
  commit: Schema.NullOr(Schema.String),
  pullRequestUrl: Schema.NullOr(Schema.String),
  gitLiveError: Schema.NullOr(Schema.String),
  error: Schema.NullOr(Schema.String),
  /** The task's directory in the output directory (relative), and the files in it (relative to it). */
  resultDir: Schema.String,
  patch: Schema.NullOr(Schema.String),
  log: Schema.NullOr(Schema.String),
  files: Schema.NullOr(Schema.String),
  /** Kept from an earlier invocation by `--resume` (it had succeeded). */
  fromEarlierRun: Schema.Boolean,
  /** Hosts the network policy refused to the agent (`allow` mode). Absent from summaries written before it existed. */
  refusedHosts: Schema.optionalWith(
    Schema.Array(Schema.Struct({ host: Schema.String, port: Schema.Number, reason: Schema.String, count: Schema.Number })),
    { default: () => [] }
  )
})
export type TaskResultJson = typeof TaskResult.Type

/** The options a run was started with (no secrets), so that `--resume` runs the rest the same way. */
export const RunOptions = Schema.Struct({
  provider: Schema.NullOr(Schema.String),
  agent: Schema.NullOr(Schema.String),
  template: Schema.NullOr(Schema.String),
  timeoutMs: Schema.NullOr(Schema.Number),
  authMethod: Schema.NullOr(Schema.Literal("api-key", "oauth")),
  gitUser: Schema.NullOr(Schema.String),
  gitEmail: Schema.NullOr(Schema.String),
  branch: Schema.NullOr(Schema.String),
  useTemplate: Schema.NullOr(Schema.String),
  budgetUsd: Schema.NullOr(Schema.Number),
  gitLive: Schema.NullOr(Schema.Struct({ targetBranch: Schema.NullOr(Schema.String) })),
  /** `--network` and `--allow-host` (absent from summaries written before they existed). */
  network: Schema.optionalWith(Schema.NullOr(Schema.Literal("on", "off", "allow")), { default: () => null }),
  allowHosts: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] })
})
export type RunOptionsJson = typeof RunOptions.Type

export const RunStatus = Schema.Literal("running", "succeeded", "failed", "interrupted")
export type RunStatus = typeof RunStatus.Type

/**
 * Tasks whose changes overlap (`summary.json` → `overlaps`): the tasks compared (those that succeeded with
 * changes), each pair that changed a common file with the files `git merge-tree` leaves conflicted merging
 * their patches, and an order in which they land cleanest (`landsClean`: those that land without a conflict
 * in it). `error`: why the patches could not be compared (the rest is then empty).
 */
export const RunOverlaps = Schema.Struct({
  tasks: Schema.Array(Schema.String),
  pairs: Schema.Array(Schema.Struct({
    tasks: Schema.Tuple(Schema.String, Schema.String),
    files: Schema.Array(Schema.String),
    conflicts: Schema.Array(Schema.String),
    applyTogether: Schema.Boolean
  })),
  landingOrder: Schema.Array(Schema.String),
  landsClean: Schema.Array(Schema.String),
  error: Schema.NullOr(Schema.String)
})
export type RunOverlapsJson = typeof RunOverlaps.Type

/** `<output>/summary.json`. */
export const RunSummary = Schema.Struct({
  format: Schema.Literal("parallel-cc/parallel-run@1"),
  runId: Schema.String,
  repoPath: Schema.String,
  baseCommit: Schema.NullOr(Schema.String),
  outputDir: Schema.String,
  status: RunStatus,
  startedAt: Schema.String,
  endedAt: Schema.NullOr(Schema.String),
  wallMs: Schema.Number,
  /** The tasks' durations added up: what running them one after another would take. */
  sequentialMs: Schema.Number,
  savedMs: Schema.Number,
  maxConcurrent: Schema.Number,
  failFast: Schema.Boolean,
  retries: Schema.Number,
  options: RunOptions,
  totals: Schema.Struct({
    tasks: Schema.Number,
    succeeded: Schema.Number,
    failed: Schema.Number,
    skipped: Schema.Number,
    cancelled: Schema.Number,
    interrupted: Schema.Number,
    pending: Schema.Number,
    costUsd: Schema.NullOr(Schema.Number),
    filesChanged: Schema.Number
  }),
  /** Every invocation over this output directory (the first run, then each `--resume`). */
  runs: Schema.Array(Schema.Struct({
    runId: Schema.String,
    startedAt: Schema.String,
    endedAt: Schema.NullOr(Schema.String),
    status: RunStatus
  })),
  tasks: Schema.Array(TaskResult),
  /** Computed when the run ends (null while it runs, when interrupted, and in summaries written before it existed). */
  overlaps: Schema.optionalWith(Schema.NullOr(RunOverlaps), { default: () => null })
})
export type RunSummaryJson = typeof RunSummary.Type


/** "850 ms", "12.3 s", "4m 05s", "1h 02m". */
export const duration = (ms: number | null): string => {
  if (ms === null) return "–"
  if (ms < 1000) return `${Math.round(ms)} ms`
  const s = ms / 1000
  if (s < 60) return `${s.toFixed(1)} s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m}m ${String(Math.floor(s % 60)).padStart(2, "0")}s`
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, "0")}m`
}

export const money = (usd: number | null): string => (usd === null ? "–" : `$${usd.toFixed(4)}`)

export const filesChanged = (t: TaskResultJson): number => t.changes.added.length + t.changes.modified.length + t.changes.deleted.length

const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\r?\n/g, " ")

const firstLine = (s: string, max = 60) => {
  const l = s.trim().split("\n")[0] ?? ""
  return l.length > max ? `${l.slice(0, max - 1)}…` : l
}

const statusText = (t: TaskResultJson): string => {
  switch (t.status) {
    case "succeeded":
      return "succeeded"
    case "failed":
      return "FAILED"
    case "interrupted":
      return "interrupted"
    case "skipped":
      return "skipped"
    case "cancelled":
      return "cancelled"
    case "running":
      return "running"
    case "pending":
      return "pending"
  }
}

const listed = (xs: ReadonlyArray<string>, code: (s: string) => string, max = 5) =>
  xs.length <= max ? xs.map(code).join(", ") : `${xs.slice(0, max).map(code).join(", ")} and ${xs.length - max} more`

/**
 * The overlaps of a run's tasks in sentences: one per overlapping pair, then the landing order (none when
 * fewer than two tasks were compared). `code` formats a file name or task id.
 */
export const overlapSentences = (o: RunOverlapsJson, code: (s: string) => string = (x) => x): ReadonlyArray<string> => {
  if (o.error !== null) return [`The tasks' patches could not be compared: ${o.error.trim()}`]
  if (o.tasks.length < 2) return []
  const out: Array<string> = []
  if (o.pairs.length === 0) out.push(`No two tasks changed the same file: their patches apply together.`)
  for (const p of o.pairs) {
    const [a, b] = p.tasks
    const files = `${p.files.length === 1 ? "" : `${p.files.length} files, `}${listed(p.files, code)}`
    out.push(
      p.applyTogether
        ? `${code(a)} and ${code(b)} both changed ${files}; their patches apply together.`
        : `${code(a)} and ${code(b)} both changed ${files}; they conflict in ${listed(p.conflicts, code)}.`
    )
  }
  const late = o.landingOrder.filter((id) => !o.landsClean.includes(id))
  out.push(
    `Land in this order: ${o.landingOrder.map(code).join(", ")}${
      late.length === 0 ? " (each lands clean)." : ` (${listed(late, code)} will need ${late.length === 1 ? "its" : "their"} conflicts resolved).`
    }`
  )
  return out
}

/** The Markdown report: per task status, duration, cost, files changed, errors; totals; time saved. */
export const renderReport = (s: RunSummaryJson): string => {
  const out: Array<string> = []
  const t = s.totals
  out.push(`# Parallel run ${s.runId}`)
  out.push("")
  const state = s.status === "running" ? "still running" : s.status === "interrupted" ? "interrupted" : s.status === "succeeded" ? "all tasks succeeded" : "not every task succeeded"
  out.push(`- Repository: \`${s.repoPath}\`${s.baseCommit !== null ? ` at \`${s.baseCommit.slice(0, 12)}\`` : ""}`)
  out.push(`- Started ${s.startedAt.replace("T", " ").replace(/\.\d+Z$/, " UTC")}; ${state}; wall time ${duration(s.wallMs)}`)
  out.push(`- At most ${s.maxConcurrent} agent${s.maxConcurrent === 1 ? "" : "s"} at once${s.failFast ? ", fail-fast" : ""}${s.retries > 0 ? `, up to ${s.retries} retr${s.retries === 1 ? "y" : "ies"} on transient provider errors` : ""}${s.options.gitLive !== null ? ", a pull request per task (--git-live)" : ""}`)
  if (s.runs.length > 1) out.push(`- Resumed: ${s.runs.length} invocations (${s.runs.map((r) => r.runId).join(", ")})`)
  out.push("")
  out.push("| Task | Prompt | Status | Duration | Cost | Files changed | Details |")
  out.push("| --- | --- | --- | --- | --- | --- | --- |")
  for (const task of s.tasks) {
    const c = task.changes
    const files = task.status === "skipped" || task.status === "cancelled" || task.status === "pending"
      ? "–"
      : `${filesChanged(task)} (+${c.added.length} ~${c.modified.length} -${c.deleted.length})`
    const details: Array<string> = []
    if (task.reason !== null) details.push(task.reason)
    if (task.pullRequestUrl !== null) details.push(`PR ${task.pullRequestUrl}`)
    else if (task.branch !== null && task.commit !== null) details.push(`branch \`${task.branch}\``)
    if (task.worktreePath !== null && task.pullRequestUrl === null) details.push(`worktree \`${task.worktreePath}\``)
    if (task.attempts > 1) details.push(`${task.attempts} attempts`)
    if (task.waitedMs >= 100) details.push(`waited ${duration(task.waitedMs)} for an agent slot`)
    if (task.fromEarlierRun) details.push("from an earlier run")
    out.push(
      `| [${task.id}](${task.resultDir}/) | ${cell(firstLine(task.prompt, 48))} | ${statusText(task)} | ${duration(task.durationMs)} | ${money(task.costUsd)} | ${files} | ${cell(details.join("; "))} |`
    )
  }
  out.push("")
  const counts = [
    `${t.succeeded} succeeded`,
    t.failed > 0 ? `${t.failed} failed` : undefined,
    t.interrupted > 0 ? `${t.interrupted} interrupted` : undefined,
    t.skipped > 0 ? `${t.skipped} skipped` : undefined,
    t.cancelled > 0 ? `${t.cancelled} cancelled` : undefined,
    t.pending > 0 ? `${t.pending} not started` : undefined
  ].filter((x) => x !== undefined)
  out.push(`**Totals:** ${t.tasks} task${t.tasks === 1 ? "" : "s"}: ${counts.join(", ")} · cost ${money(t.costUsd)} · ${t.filesChanged} file${t.filesChanged === 1 ? "" : "s"} changed`)
  out.push("")
  out.push(
    s.sequentialMs > 0
      ? `**Time saved:** ${duration(s.savedMs)}. The tasks ran ${duration(s.sequentialMs)} together (what running them one after another would take); in parallel the run took ${duration(s.wallMs)}.`
      : "**Time saved:** none (no task ran)."
  )
  const errors = s.tasks.filter((x) => x.error !== null || x.gitLiveError !== null)
  if (errors.length > 0) {
    out.push("")
    out.push("## Errors")
    out.push("")
    for (const x of errors) {
      if (x.error !== null) out.push(`- **${x.id}** (${statusText(x)}${x.attempts > 1 ? `, ${x.attempts} attempts` : ""}): ${x.error.trim()}`)
      if (x.gitLiveError !== null) out.push(`- **${x.id}** (pull request): ${x.gitLiveError.trim()}`)
    }
  }
  const review = s.tasks.filter((x) => x.worktreePath !== null || x.patch !== null)
  if (review.length > 0) {
    out.push("")
    out.push("## Review")
    out.push("")
    for (const x of review) {
      // `git diff` alone hides added files: `parallel-cc diff` shows every change against the base.
      const where = x.worktreePath === null
        ? ""
        : x.sessionId !== null
        ? `\`parallel-cc diff ${x.sessionId}\` (in \`${x.worktreePath}\`)`
        : `\`cd ${x.worktreePath} && git status --short && git diff${x.commit !== null ? ` HEAD~1` : ""}\``
      const patch = x.patch !== null ? `the patch \`${x.resultDir}/${x.patch}\` (\`git apply\` it on ${s.baseCommit !== null ? `\`${s.baseCommit.slice(0, 12)}\`` : "the base commit"})` : ""
      out.push(`- **${x.id}**${x.status !== "succeeded" ? ` (${statusText(x)}, partial)` : ""}: ${[where, patch].filter((p) => p !== "").join(", or ")}`)
    }
  }
  const overlaps = s.overlaps !== null ? overlapSentences(s.overlaps, (x) => `\`${x}\``) : []
  if (overlaps.length > 0) {
    out.push("")
    out.push("## Overlapping tasks")
    out.push("")
    for (const l of overlaps) out.push(`- ${l}`)
  }
  if (s.status !== "running" && s.tasks.some((x) => x.status !== "succeeded")) {
    out.push("")
    out.push(`Run the tasks that did not succeed again: \`parallel-cc sandbox run --multi --resume ${s.outputDir}\``)
  }
  out.push("")
  return out.join("\n")
}
