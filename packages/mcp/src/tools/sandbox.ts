/**
 * Sandboxed run tools: what runs exist, and how one of them (by default the caller's own) is doing.
 *
 * @since 0.1.0
 */
import { Errors, Sandboxes, type SandboxRuns } from "@parallel-cc/core"
import { Effect, Option } from "effect"
import { z } from "zod"
import { Caller } from "../Caller.js"
import * as Tool from "../Tool.js"
import { repoOption } from "./common.js"

const iso = (d: Date | null) => (d === null ? null : d.toISOString())

export const run = z.object({
  sessionId: z.string().describe("The run's id (its session id)"),
  repoPath: z.string(),
  provider: z.enum(["local", "e2b"]),
  sandboxId: z.string().nullable(),
  isolation: z.enum(["bwrap", "process", "e2b"]).nullable(),
  agent: z.string(),
  prompt: z.string(),
  template: z.string().nullable(),
  managedTemplate: z.string().nullable(),
  branchMode: z.enum(["review", "auto", "named"]),
  branch: z.string().nullable().describe("Where the results land (review: a worktree's branch)"),
  worktreePath: z.string().nullable(),
  status: z.enum(["starting", "running", "succeeded", "failed", "timed_out", "killed", "interrupted", "budget_exceeded", "lost"]),
  sandboxState: z.enum(["none", "running", "killed", "kept"]),
  dryRun: z.boolean(),
  timeoutMs: z.number(),
  exitCode: z.number().int().nullable(),
  resultSubtype: z.string().nullable(),
  isError: z.boolean().nullable(),
  numTurns: z.number().int().nullable(),
  costUsd: z.number().nullable(),
  agentDurationMs: z.number().nullable(),
  filesAdded: z.number().int().nullable(),
  filesModified: z.number().int().nullable(),
  filesDeleted: z.number().int().nullable(),
  error: z.string().nullable(),
  logPath: z.string(),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  endedAt: z.string().nullable()
})
export type RunWire = z.input<typeof run>

export const runWire = (r: SandboxRuns.SandboxRun): RunWire => ({
  sessionId: r.sessionId,
  repoPath: r.repoPath,
  provider: r.provider,
  sandboxId: r.sandboxId,
  isolation: r.isolation,
  agent: r.agent,
  prompt: r.prompt,
  template: r.template,
  managedTemplate: r.managedTemplate,
  branchMode: r.branchMode,
  branch: r.branch,
  worktreePath: r.worktreePath,
  status: r.status,
  sandboxState: r.sandboxState,
  dryRun: r.dryRun,
  timeoutMs: r.timeoutMs,
  exitCode: r.exitCode,
  resultSubtype: r.resultSubtype,
  isError: r.isError,
  numTurns: r.numTurns,
  costUsd: r.costUsd,
  agentDurationMs: r.agentDurationMs,
  filesAdded: r.filesAdded,
  filesModified: r.filesModified,
  filesDeleted: r.filesDeleted,
  error: r.error,
  logPath: r.logPath,
  createdAt: r.createdAt.toISOString(),
  startedAt: iso(r.startedAt),
  endedAt: iso(r.endedAt)
})

const live = new Set(["starting", "running"])

export const getSandboxRuns = Tool.define({
  name: "get_sandbox_runs",
  title: "Sandboxed runs",
  description: "List sandboxed runs (`parallel-cc sandbox run`) of a repository (default: yours; allRepos for " +
    "every one), newest first: prompt, provider, status, cost, turns, changed files. A run whose supervising " +
    "process died is reported as lost.",
  input: {
    repo: z.string().min(1).optional().describe("A path inside the repository (default: your repository)"),
    allRepos: z.boolean().optional(),
    liveOnly: z.boolean().optional().describe("Only runs that are starting or running"),
    limit: z.number().int().min(1).max(200).optional().describe("At most this many (default 20)")
  },
  output: {
    repoPath: z.string().nullable(),
    runs: z.array(run),
    total: z.number().int()
  },
  readOnly: true,
  handler: (input) =>
    Effect.gen(function*() {
      const sandboxes = yield* Sandboxes.Sandboxes
      const repo = input.allRepos === true ? Option.none<string>() : yield* repoOption(input.repo)
      const runs = yield* sandboxes.list({ repoPath: Option.getOrUndefined(repo), limit: input.limit ?? 20 })
      const shown = input.liveOnly === true ? runs.filter((r) => live.has(r.status)) : runs
      return { repoPath: Option.getOrNull(repo), runs: shown.map(runWire), total: shown.length }
    }),
  summarize: (o) => `${o.total} sandboxed run${o.total === 1 ? "" : "s"}${o.repoPath !== null ? ` in ${o.repoPath}` : ""}`
})

export const getSandboxRunStatus = Tool.define({
  name: "get_sandbox_run_status",
  title: "Sandboxed run status",
  description: "The status of one sandboxed run (default: your own session's run, for an agent that runs in a " +
    "sandbox): the run record, whether its sandbox is still there, whether the process supervising it is " +
    "alive, and the last lines of its log.",
  input: {
    sessionId: z.string().min(1).max(64).optional().describe("The run's session id (default: yours)"),
    logLines: z.number().int().min(0).max(500).optional().describe("How many log lines to include (default 20)")
  },
  output: {
    run,
    sandbox: z.enum(["running", "stopped", "gone", "unknown"]).describe("The sandbox itself, as its provider reports it"),
    supervisorAlive: z.boolean(),
    log: z.array(z.string()).describe("The last logLines lines of the run's log")
  },
  readOnly: true,
  handler: (input) =>
    Effect.gen(function*() {
      const sandboxes = yield* Sandboxes.Sandboxes
      const caller = yield* Caller
      // Default: the caller's run — its PARALLEL_CC_SESSION_ID even after the run ended, else its session.
      const id = input.sessionId ?? caller.envSessionId ?? (yield* caller.session).session.sessionId
      if (!/^[a-z0-9]{6,32}$/.test(id)) {
        return yield* new Errors.InvalidInput({ field: "sessionId", detail: `${id} is not a session id` })
      }
      const report = yield* sandboxes.status(id, { env: caller.env, homeDir: caller.homeDir, cwd: caller.cwd })
      const lines = input.logLines ?? 20
      const log = lines === 0 ? [] : yield* sandboxes.logs(id, { lines })
      return { run: runWire(report.run), sandbox: report.sandbox, supervisorAlive: report.supervisorAlive, log: [...log] }
    }),
  summarize: (o) =>
    `run ${o.run.sessionId}: ${o.run.status}${o.run.costUsd !== null ? `, $${o.run.costUsd.toFixed(4)}` : ""}` +
    `${o.run.numTurns !== null ? `, ${o.run.numTurns} turns` : ""}; sandbox ${o.sandbox}`
})

export const tools: ReadonlyArray<Tool.AnyTool> = [getSandboxRuns, getSandboxRunStatus]
