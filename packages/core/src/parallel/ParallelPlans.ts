/**
 * Plans of a parallel run, as plain functions: the request each task's sandboxed run gets, the scheduling
 * limits (checked), the run options as recorded in `summary.json`, and — for `--resume` — the options and
 * task states read back from it.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { AppConfig } from "../platform/AppConfig.js"
import { InvalidInput } from "../Errors.js"
import type { RunRequest } from "../sandboxes/RunModel.js"
import { freshState, type GitLiveOptions, type Plan, type Scheduling, type TaskRunOptions, type TaskState } from "./ParallelModel.js"
import type * as Summary from "./ParallelSummary.js"
import type { TaskSpec } from "./taskGraph.js"

/** The request of one task's sandboxed run. */
export const requestFor = (plan: Plan, spec: TaskSpec, agentSlot?: RunRequest["agentSlot"]): RunRequest => ({
  repo: plan.repoPath,
  prompt: spec.prompt,
  provider: plan.run.provider,
  agent: spec.agent ?? plan.run.agent,
  branch: spec.branch ?? plan.run.branch,
  template: plan.run.template,
  useTemplate: plan.run.useTemplate,
  budgetUsd: plan.run.budgetUsd,
  timeoutMs: plan.run.timeoutMs,
  authMethod: plan.run.authMethod,
  gitUser: plan.run.gitUser,
  gitEmail: plan.run.gitEmail,
  sshKey: plan.run.sshKey,
  sshKeyConfirmed: plan.run.sshKeyConfirmed,
  npmToken: plan.run.npmToken,
  npmRegistry: plan.run.npmRegistry,
  network: plan.run.network,
  allowHosts: plan.run.allowHosts,
  gitLive: plan.gitLive !== undefined,
  targetBranch: plan.gitLive?.targetBranch,
  // The run warns once about other sessions (its own tasks are sessions too): every task goes ahead.
  confirmGitLive: plan.gitLive !== undefined ? () => Effect.succeed(true) : undefined,
  cache: plan.cache,
  agentSlot,
  host: plan.host
})


/** The scheduling limits, checked: `--max-concurrent` 1–64, `--retries` 0–10. */
export const scheduling = (values: AppConfig["Type"]["values"], req: Scheduling) =>
  Effect.gen(function*() {
    const maxConcurrent = req.maxConcurrent ?? values["parallel.maxConcurrent"]
    if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1 || maxConcurrent > 64) {
      return yield* new InvalidInput({ field: "--max-concurrent", detail: `${maxConcurrent} is not an integer from 1 to 64` })
    }
    const retries = req.retries ?? 0
    if (!Number.isInteger(retries) || retries < 0 || retries > 10) {
      return yield* new InvalidInput({ field: "--retries", detail: `${retries} is not an integer from 0 to 10` })
    }
    const retryDelayMs = req.retryDelayMs ?? Math.round(values["parallel.retryDelaySeconds"] * 1000)
    return { maxConcurrent, retries, retryDelayMs, failFast: req.failFast === true }
  })

export type Sched = Effect.Effect.Success<ReturnType<typeof scheduling>>

/** The run options as recorded in `summary.json` (secrets are never stored). */
export const optionsJson = (run: TaskRunOptions, gitLive: GitLiveOptions | undefined): Summary.RunOptionsJson => ({
  provider: run.provider ?? null,
  agent: run.agent ?? null,
  template: run.template ?? null,
  timeoutMs: run.timeoutMs ?? null,
  authMethod: run.authMethod ?? null,
  gitUser: run.gitUser ?? null,
  gitEmail: run.gitEmail ?? null,
  branch: run.branch ?? null,
  useTemplate: run.useTemplate ?? null,
  budgetUsd: run.budgetUsd ?? null,
  gitLive: gitLive !== undefined ? { targetBranch: gitLive.targetBranch ?? null } : null,
  network: run.network ?? null,
  allowHosts: [...(run.allowHosts ?? [])]
})

/** The run options an earlier run recorded, for `--resume` (its flags win over them). */
export const storedOptions = (o: Summary.RunOptionsJson): TaskRunOptions => ({
  provider: o.provider === "local" || o.provider === "e2b" ? o.provider : undefined,
  agent: o.agent ?? undefined,
  template: o.template ?? undefined,
  timeoutMs: o.timeoutMs ?? undefined,
  authMethod: o.authMethod ?? undefined,
  gitUser: o.gitUser ?? undefined,
  gitEmail: o.gitEmail ?? undefined,
  branch: o.branch === "auto" ? "auto" : undefined,
  useTemplate: o.useTemplate ?? undefined,
  budgetUsd: o.budgetUsd ?? undefined,
  network: o.network ?? undefined,
  allowHosts: o.allowHosts.length > 0 ? o.allowHosts : undefined
})

/** The tasks of an earlier run, for `--resume`: those that succeeded are kept; the others start afresh. */
export const resumeStates = (previous: Summary.RunSummaryJson, specs: ReadonlyArray<TaskSpec>): Array<TaskState> =>
  previous.tasks.map((t): TaskState => {
    const spec = specs.find((s) => s.id === t.id)!
    if (t.status === "succeeded") {
      return {
        ...freshState(spec),
        status: "succeeded",
        sessionId: t.sessionId,
        attempts: t.attempts,
        earlierAttempts: [...t.earlierAttempts],
        saved: { ...t, fromEarlierRun: true },
        fromEarlierRun: true
      }
    }
    const earlier = t.sessionId !== null || t.status === "failed" || t.status === "interrupted"
      ? [...t.earlierAttempts, { sessionId: t.sessionId, status: t.status, error: t.error ?? t.reason, worktreePath: t.worktreePath }]
      : [...t.earlierAttempts]
    return { ...freshState(spec), earlierAttempts: earlier }
  })
