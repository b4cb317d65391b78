/**
 * Sandboxed run tools: what runs exist, and how one of them (by default the caller's own) is doing.
 *
 * @since 0.1.0
 */
import { Errors, Sandboxes, SandboxRuns } from "@parallel-cc/core"
import { Effect, Option, Schema } from "effect"
import { z } from "zod"
import { describe, objectOf } from "../internal/schemaZod.js"
import { Caller } from "../Caller.js"
import * as Tool from "../Tool.js"
import { repoOption } from "./common.js"

/** A run as the tools show it: the fields of core's SandboxRun an agent needs. */
const RunWire = Schema.Struct(SandboxRuns.SandboxRun.fields).pipe(
  Schema.pick(
    "sessionId",
    "repoPath",
    "provider",
    "sandboxId",
    "isolation",
    "agent",
    "prompt",
    "template",
    "managedTemplate",
    "branchMode",
    "branch",
    "worktreePath",
    "status",
    "sandboxState",
    "dryRun",
    "timeoutMs",
    "exitCode",
    "resultSubtype",
    "isError",
    "numTurns",
    "costUsd",
    "agentDurationMs",
    "filesAdded",
    "filesModified",
    "filesDeleted",
    "error",
    "logPath",
    "createdAt",
    "startedAt",
    "endedAt"
  )
)

export const run = describe(objectOf(RunWire), {
  sessionId: "The run's id (its session id)",
  branch: "Where the results land (review: a worktree's branch)"
})
export type RunWire = typeof RunWire.Encoded
export const runWire: (r: SandboxRuns.SandboxRun) => RunWire = Schema.encodeSync(RunWire)

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
