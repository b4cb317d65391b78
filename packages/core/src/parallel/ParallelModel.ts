/**
 * The shapes of a parallel run, shared by its parts: what a caller asks for (tasks, run options,
 * scheduling), the progress it sees ({@link ParallelEvent}), its errors, and — inside — each task's state
 * while the run goes ({@link TaskState}) and the run's {@link Plan}. `ParallelRunner` re-exports the public ones.
 *
 * @since 0.1.0
 */
import { type Effect, Schema } from "effect"
import type { DbFailure } from "../platform/Database.js"
import type { Session } from "../Domain.js"
import type { InvalidInput } from "../Errors.js"
import type { GitError } from "../platform/Git.js"
import type * as Agents from "../sandboxes/AgentAdapters.js"
import type { HostContext, RunRequest, RunResult } from "../sandboxes/RunModel.js"
import type { RunCache } from "../sandboxes/runCache.js"
import type { ProviderName } from "../sandboxes/SandboxProvider.js"
import type * as Summary from "./ParallelSummary.js"
import type * as Graph from "./taskGraph.js"

type TaskSpec = Graph.TaskSpec


/** The task list could not be read or is not valid; nothing was started. */
export class TaskListError extends Schema.TaggedError<TaskListError>()("TaskListError", {
  reason: Schema.Literal("Unreadable", "TooLarge", "Invalid"),
  /** The file (and line, or task) or the flag the problem is in. */
  where: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `${this.where}: ${this.detail}`
  }
}

/** A parallel run could not start or resume. */
export class ParallelRunError extends Schema.TaggedError<ParallelRunError>()("ParallelRunError", {
  reason: Schema.Literal("OutputDirNotEmpty", "OutputDirFailed", "ResumeUnreadable", "NothingToResume", "AlreadyRunning", "TaskCheckFailed"),
  path: Schema.optional(Schema.String),
  taskId: Schema.optional(Schema.String),
  detail: Schema.String
}) {
  override get message(): string {
    switch (this.reason) {
      case "OutputDirNotEmpty":
        return `${this.path} already exists and is not empty; choose another --output-dir, or continue that run with --resume ${this.path}`
      case "OutputDirFailed":
        return `cannot write the results to ${this.path}: ${this.detail}`
      case "ResumeUnreadable":
        return `cannot resume from ${this.path}: ${this.detail}`
      case "NothingToResume":
        return `nothing to resume in ${this.path}: ${this.detail}`
      case "AlreadyRunning":
        return `the run in ${this.path} is still going (${this.detail}); wait for it, or stop it with Ctrl-C in its terminal`
      case "TaskCheckFailed":
        return `task ${this.taskId}: ${this.detail} (nothing was started)`
    }
  }
}

export type ParallelFailure = TaskListError | ParallelRunError | InvalidInput | GitError | DbFailure

/** `--git-live` for every task: each one pushes its branch to origin and opens a pull request with gh. */
export interface GitLiveOptions {
  /** The pull requests' base (default: the branch checked out in the repository). */
  readonly targetBranch?: string | undefined
}

/** What every task's run shares (a task's own `agent`/`branch` from the task file win). */
export interface TaskRunOptions {
  readonly provider?: ProviderName | undefined
  readonly agent?: string | undefined
  /** `auto` (a branch named from each prompt, committed); a fixed name is per task, in a task file. */
  readonly branch?: "auto" | undefined
  readonly template?: string | undefined
  /** A managed template (setup commands and environment) for every task. */
  readonly useTemplate?: string | undefined
  /** The most each task may cost (agent + sandbox time). */
  readonly budgetUsd?: number | undefined
  readonly timeoutMs?: number | undefined
  readonly authMethod?: Agents.AuthMethod | undefined
  readonly gitUser?: string | undefined
  readonly gitEmail?: string | undefined
  readonly sshKey?: string | undefined
  readonly sshKeyConfirmed?: boolean | undefined
  readonly npmToken?: RunRequest["npmToken"]
  readonly npmRegistry?: string | undefined
  /** What each task's agent may reach (see `RunRequest.network`). */
  readonly network?: RunRequest["network"]
  readonly allowHosts?: ReadonlyArray<string> | undefined
}

/** How a run is scheduled. Everything optional falls back to configuration. */
export interface Scheduling {
  /**
   * At most this many agents at once (default config `parallel.maxConcurrent`, 3). With the local provider,
   * up to as many further tasks prepare meanwhile (session, sandbox, upload) and wait, ready, for an agent
   * slot; a slot frees when an agent exits, before its changes are collected. With E2B (billed VMs,
   * concurrency limits per account) at most this many tasks are under way at all.
   */
  readonly maxConcurrent?: number | undefined
  /** On the first failure, interrupt the running tasks and cancel the pending ones. */
  readonly failFast?: boolean | undefined
  /** Retries of a task after a transient provider error (default 0). */
  readonly retries?: number | undefined
  /** First backoff (default config `parallel.retryDelaySeconds`); doubles per attempt, at most 60 s. */
  readonly retryDelayMs?: number | undefined
}

export interface ParallelRequest extends Scheduling {
  /** A directory inside the repository. */
  readonly repo: string
  readonly tasks: ReadonlyArray<TaskSpec>
  /** Default `parallel-results/<timestamp>` (relative to `host.cwd`); must not exist or be empty. */
  readonly outputDir?: string | undefined
  readonly run?: TaskRunOptions | undefined
  /** Each task pushes its branch and opens a pull request. */
  readonly gitLive?: GitLiveOptions | undefined
  readonly host: HostContext
}

export interface ResumeRequest extends Scheduling {
  /** The output directory of the run to continue. */
  readonly outputDir: string
  /** Run options for the tasks run again (default: those of the original run; secrets are never stored). */
  readonly run?: TaskRunOptions | undefined
  readonly host: HostContext
}

/** Where to read tasks from. */
export type TaskSource =
  | { readonly _tag: "Prompts"; readonly prompts: ReadonlyArray<string> }
  | { readonly _tag: "File"; readonly path: string }

/**
 * A task's current step, for progress views. `ready`: prepared (session, sandbox, upload) and waiting for
 * an agent slot — at most `maxConcurrent` agents run at once (local provider only; see `Scheduling`).
 */
export type TaskPhase =
  | "starting"
  | "uploading"
  | "ready"
  | "agent"
  | "collecting"
  | "publishing"
  | "saving"
  | "retrying"

/** Progress of a parallel run, in order. Every task ends with exactly one `TaskFinished`. */
export type ParallelEvent =
  | {
    readonly _tag: "RunStarted"
    readonly runId: string
    readonly outputDir: string
    readonly repoPath: string
    readonly maxConcurrent: number
    readonly tasks: ReadonlyArray<{ readonly id: string; readonly prompt: string; readonly dependsOn: ReadonlyArray<string>; readonly status: Summary.TaskStatus }>
  }
  | { readonly _tag: "Warning"; readonly message: string; readonly taskId?: string | undefined }
  | { readonly _tag: "TaskStarted"; readonly taskId: string; readonly attempt: number }
  | { readonly _tag: "TaskPhase"; readonly taskId: string; readonly phase: TaskPhase; readonly sessionId: string | null }
  | { readonly _tag: "TaskOutput"; readonly taskId: string; readonly line: string }
  | { readonly _tag: "TaskRetrying"; readonly taskId: string; readonly attempt: number; readonly delayMs: number; readonly error: string }
  | {
    readonly _tag: "TaskFinished"
    readonly taskId: string
    readonly status: Summary.TaskStatus
    readonly durationMs: number | null
    /** Time spent prepared, waiting for an agent slot (not in `durationMs`). */
    readonly waitedMs: number
    readonly costUsd: number | null
    readonly filesChanged: number
    readonly reason: string | null
    readonly error: string | null
    readonly resultDir: string
    readonly pullRequest: string | null
  }
  | { readonly _tag: "RunFinished"; readonly summary: Summary.RunSummaryJson }


/** What `--git-live` says when other agents work in the same repository. */
export const activeSessionsWarning = (others: ReadonlyArray<Session>): string =>
  `${others.length} other session${others.length === 1 ? " is" : "s are"} active in this repository ` +
  `(${others.slice(0, 3).map((s) => `${s.sessionId}${s.isMainRepo ? " in the repository" : ` in ${s.worktreePath}`}`).join(", ")}` +
  `${others.length > 3 ? ", …" : ""}); their unfinished work is not in these runs, and pull requests opened now may conflict with ` +
  "theirs. To review first instead, run without --git-live: the changes then wait in worktrees"


/** A task's own time: start to end, less the time it waited for an agent slot. */
export const durationOf = (s: { readonly startedAt: number | null; readonly endedAt: number | null; readonly waitedMs: number }) =>
  s.startedAt !== null && s.endedAt !== null ? Math.max(0, s.endedAt - s.startedAt - s.waitedMs) : null

/** A task while the run goes. */
export interface TaskState {
  readonly spec: TaskSpec
  status: Summary.TaskStatus
  reason: string | null
  sessionId: string | null
  attempts: number
  earlierAttempts: Array<Summary.Attempt>
  startedAt: number | null
  endedAt: number | null
  /** Time spent prepared, waiting for an agent slot (all attempts). */
  waitedMs: number
  /** Where the current attempt is: before its agent slot, waiting for one, holding one, or past it. */
  stage: "preparing" | "waiting" | "agent" | "after"
  error: string | null
  result: RunResult | null
  /** Set once the task's directory is written (or kept from an earlier run). */
  saved: Summary.TaskResultJson | null
  fromEarlierRun: boolean
  /** Its TaskFinished event was emitted. */
  announced: boolean
}

export interface Plan {
  readonly runId: string
  readonly repoPath: string
  readonly baseCommit: string | null
  readonly outputDir: string
  readonly maxConcurrent: number
  /**
   * Tasks prepare ahead of their agent slot (local provider): up to `maxConcurrent` tasks prepare or wait
   * while `maxConcurrent` agents run. Off for remote sandboxes, which are billed and limited per account.
   */
  readonly prepareAhead: boolean
  readonly failFast: boolean
  readonly retries: number
  readonly retryDelayMs: number
  readonly options: Summary.RunOptionsJson
  readonly run: TaskRunOptions
  readonly gitLive: GitLiveOptions | undefined
  readonly host: HostContext
  readonly history: ReadonlyArray<Summary.RunSummaryJson["runs"][number]>
  readonly resumedFrom: string | null
  /** Repository facts the tasks share (asked of git once per run). */
  readonly cache: RunCache
}


/** A task that has not started (or is run again by `--resume`). */
export const freshState = (spec: TaskSpec): TaskState => ({
  spec,
  status: "pending",
  reason: null,
  sessionId: null,
  attempts: 0,
  earlierAttempts: [],
  startedAt: null,
  endedAt: null,
  waitedMs: 0,
  stage: "preparing",
  error: null,
  result: null,
  saved: null,
  fromEarlierRun: false,
  announced: false
})

/** An `Effect` that reports a parallel run's progress. */
export type Emit = (event: ParallelEvent) => Effect.Effect<void>
