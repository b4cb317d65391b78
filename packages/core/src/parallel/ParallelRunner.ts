/**
 * Parallel runs (`sandbox run --multi`): a list of tasks, each one a sandboxed run of its own — its own
 * session, worktree and sandbox, through {@link Sandboxes} — at most K agents at once, in dependency order.
 *
 * - Everything is checked before anything starts: the task list (limits, ids, unknown dependencies,
 *   cycles), the output directory, and each task's run as `Sandboxes.check` sees it (repository, agent,
 *   credentials, branch names, git-live).
 * - A coordinator fiber starts ready tasks (all dependencies succeeded) in file order while fewer than K
 *   are under way (E2B), or, with the local provider, while fewer than K are before their agent and 2K
 *   under way: those prepare ahead and wait for one of K agent slots (`internal/agentGate`), freed when an
 *   agent exits. A task whose dependency did not succeed is skipped, with the reason. With `failFast`, the first
 *   failure interrupts the running tasks — their sandboxes are killed by the scope finalizers of
 *   `Sandboxes.run`, which collect their partial changes first — and cancels the pending ones.
 * - A run that fails with a transient provider error (`SandboxProvider.isTransient`) is retried up to
 *   `retries` times with exponential backoff; an agent's own failure never is.
 * - Each finished task leaves `<output>/<id>/`: `result.json`, `run.log`, `changes.patch` (against the base
 *   commit) and `files/` (the changed files). `summary.json` and `summary-report.md` are rewritten after
 *   every task and at the end — also when the run is interrupted (Ctrl-C), so `resume` always has them
 *   (`ParallelResults`; the coordinator is `Scheduler`, the rows `ParallelRunStore`, task files `TaskLists`).
 * - At the end of a run that was not interrupted, the summary's `overlaps` lists the tasks whose changes
 *   overlap, whether their patches apply together (`git merge-tree`) and an order in which they land
 *   cleanest (`taskOverlaps`).
 * - `resume` reads `summary.json` and runs again only the tasks that did not succeed.
 *
 * Cancellation is interruption: interrupting `run` interrupts every task fiber and waits for their
 * cleanup, then writes the summary with the tasks `interrupted` or `cancelled`.
 *
 * @since 0.1.0
 */
import { Clock, Context, Effect, Layer, Option, Schema } from "effect"
import * as path from "node:path"
import { AppConfig } from "../platform/AppConfig.js"
import { Database } from "../platform/Database.js"
import { makeSessionId, type Session } from "../Domain.js"
import { InvalidInput } from "../Errors.js"
import { Git } from "../platform/Git.js"
import * as NodeFs from "../platform/nodeFs.js"
import { Processes } from "../platform/Processes.js"
import { FileSync } from "../sandboxes/FileSync.js"
import type { HostContext, RunFailure } from "../sandboxes/RunModel.js"
import { makeRunCache } from "../sandboxes/runCache.js"
import { Sandboxes } from "../sandboxes/Sandboxes.js"
import { SandboxRuns } from "../sandboxes/SandboxRuns.js"
import { SessionStore } from "../sessions/SessionStore.js"
import {
  activeSessionsWarning,
  freshState,
  type GitLiveOptions,
  type ParallelEvent,
  type ParallelFailure,
  ParallelRunError,
  type ParallelRequest,
  type Plan,
  type ResumeRequest,
  type Scheduling,
  type TaskRunOptions,
  type TaskSource,
  type TaskState,
  TaskListError
} from "./ParallelModel.js"
import * as Plans from "./ParallelPlans.js"
import * as Results from "./ParallelResults.js"
import * as ParallelRunStore from "./ParallelRunStore.js"
import * as Summary from "./ParallelSummary.js"
import * as Scheduler from "./Scheduler.js"
import * as TaskLists from "./TaskLists.js"
import * as Graph from "./taskGraph.js"
import * as TaskOverlaps from "./taskOverlaps.js"

export type { TaskSpec } from "./taskGraph.js"
export { limits as taskListLimits } from "./taskGraph.js"
export {
  activeSessionsWarning,
  type GitLiveOptions,
  type ParallelEvent,
  type ParallelFailure,
  type ParallelRequest,
  ParallelRunError,
  type ResumeRequest,
  type Scheduling,
  TaskListError,
  type TaskPhase,
  type TaskRunOptions,
  type TaskSource
} from "./ParallelModel.js"
type TaskSpec = Graph.TaskSpec

export class ParallelRunner extends Context.Tag("@parallel-cc/core/ParallelRunner")<ParallelRunner, {
  /** Read and check a task list (flags or a file); nothing else happens. */
  readonly load: (source: TaskSource, host: HostContext) => Effect.Effect<ReadonlyArray<TaskSpec>, TaskListError>
  /** Run the tasks; resolves to the summary (also written to the output directory) whatever the tasks did. */
  readonly run: (
    request: ParallelRequest,
    onEvent?: (event: ParallelEvent) => Effect.Effect<void>
  ) => Effect.Effect<Summary.RunSummaryJson, ParallelFailure>
  /** Run again the tasks of an earlier run that did not succeed, in the same output directory. */
  readonly resume: (
    request: ResumeRequest,
    onEvent?: (event: ParallelEvent) => Effect.Effect<void>
  ) => Effect.Effect<Summary.RunSummaryJson, ParallelFailure>
}>() {}


// ---------------------------------------------------------------------------------------------------

const stamp = (ms: number) => {
  const d = new Date(ms)
  const p = (n: number) => String(n).padStart(2, "0")
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`
}

export const make = Effect.gen(function*() {
  const config = yield* AppConfig
  const git = yield* Git
  const sandboxes = yield* Sandboxes
  const runs = yield* SandboxRuns
  const fileSync = yield* FileSync
  const db = yield* Database
  const processes = yield* Processes
  const sessionStore = yield* SessionStore
  const store = ParallelRunStore.make(db, processes)
  const results = Results.make({ git, runs, fileSync })

  /** Everything that can be checked before a task starts, for every task. */
  const preflight = (plan: Plan, tasks: ReadonlyArray<TaskSpec>) =>
    Effect.gen(function*() {
      const named = new Map<string, string>()
      // Tasks that differ only in their prompt pass or fail the same checks: each variant is checked once.
      const checked = new Set<string>()
      for (const t of tasks) {
        const b = t.branch ?? plan.run.branch
        if (b !== undefined && b !== "auto") {
          const other = named.get(b)
          if (other !== undefined) {
            return yield* new ParallelRunError({ reason: "TaskCheckFailed", taskId: t.id, detail: `its branch ${b} is also the branch of task ${other}; every task needs a branch of its own` })
          }
          named.set(b, t.id)
        }
        const variant = `${t.agent ?? plan.run.agent ?? ""}\0${b ?? ""}\0${t.prompt.trim() === "" ? "empty" : ""}`
        if (checked.has(variant)) continue
        checked.add(variant)
        yield* sandboxes.check(Plans.requestFor(plan, t)).pipe(
          Effect.mapError((e: RunFailure) => new ParallelRunError({ reason: "TaskCheckFailed", taskId: t.id, detail: e.message }))
        )
      }
    })

  /** A new invocation's plan (a first run or a resume): a fresh run id and cache, the base commit now. */
  const planOf = (p: {
    readonly repoPath: string
    readonly outputDir: string
    readonly sched: Plans.Sched
    readonly runOptions: TaskRunOptions
    readonly gitLive: GitLiveOptions | undefined
    readonly host: HostContext
    readonly history: Plan["history"]
    readonly resumedFrom: string | null
  }) =>
    Effect.map(
      git.revParse(p.repoPath, "HEAD").pipe(Effect.option, Effect.map(Option.getOrNull)),
      (baseCommit): Plan => ({
        cache: makeRunCache(),
        runId: makeSessionId(),
        repoPath: p.repoPath,
        baseCommit,
        outputDir: p.outputDir,
        ...p.sched,
        prepareAhead: sandboxes.providerOf({ provider: p.runOptions.provider, host: p.host }) === "local",
        options: Plans.optionsJson(p.runOptions, p.gitLive),
        run: p.runOptions,
        gitLive: p.gitLive,
        host: p.host,
        history: p.history,
        resumedFrom: p.resumedFrom
      })
    )

  const begin = (
    plan: Plan,
    states: ReadonlyArray<TaskState>,
    onEvent: (event: ParallelEvent) => Effect.Effect<void>
  ) =>
    Effect.gen(function*() {
      const emit = (e: ParallelEvent) => onEvent(e).pipe(Effect.catchAllCause(() => Effect.void))
      yield* store.recordRun(plan, states, yield* Clock.currentTimeMillis)
      yield* emit({
        _tag: "RunStarted",
        runId: plan.runId,
        outputDir: plan.outputDir,
        repoPath: plan.repoPath,
        maxConcurrent: plan.maxConcurrent,
        tasks: states.map((s) => ({ id: s.spec.id, prompt: s.spec.prompt, dependsOn: s.spec.dependsOn, status: s.status }))
      })
      if (plan.gitLive !== undefined) {
        const others = yield* otherSessions(plan.repoPath)
        if (others.length > 0) yield* emit({ _tag: "Warning", message: activeSessionsWarning(others) })
      }
      return yield* Scheduler.execute(schedulerDeps, plan, states, emit)
    })

  /** Live sessions of other processes in the repository (this run's own tasks are sessions of this process). */
  const otherSessions = (repoPath: string) =>
    Effect.gen(function*() {
      const active = yield* sessionStore.list({ repoPath, status: "active" })
      const others: Array<Session> = []
      for (const s of active) {
        if (s.pid === process.pid) continue
        const p = yield* processes.probe(s.pid)
        if (p._tag === "Running" && (s.pidStartTime === null || p.startTime === null || p.startTime === s.pidStartTime)) others.push(s)
      }
      return others
    }).pipe(Effect.orElseSucceed((): ReadonlyArray<Session> => []))

  const run = (request: ParallelRequest, onEvent: (event: ParallelEvent) => Effect.Effect<void> = () => Effect.void) =>
    Effect.gen(function*() {
      const host = request.host
      const ordered = yield* TaskLists.orFail(Graph.checkGraph(request.tasks, "tasks"))
      for (const t of ordered) {
        if (!Graph.idPattern.test(t.id)) return yield* new TaskListError({ reason: "Invalid", where: `task ${JSON.stringify(t.id)}`, detail: "ids are 1 to 64 letters, digits, '-' or '_'" })
      }
      const sched = yield* Plans.scheduling(config.values, request)
      const repoPath = yield* git.toplevel(path.resolve(host.cwd, request.repo)).pipe(
        Effect.mapError((e) => (e.reason === "NotARepo" ? new InvalidInput({ field: "--repo", detail: `${request.repo} is not inside a git repository` }) : e))
      )
      const now = yield* Clock.currentTimeMillis
      const outputDir = path.resolve(host.cwd, request.outputDir ?? path.join("parallel-results", stamp(now)))
      const runOptions = request.run ?? {}
      const gitLive = request.gitLive
      const plan = yield* planOf({ repoPath, outputDir, sched, runOptions, gitLive, host, history: [], resumedFrom: null })
      // The task list's order is kept for display and for starting order; the graph check vouches for it.
      const states = request.tasks.map(freshState)
      yield* preflight(plan, request.tasks)
      const busy = yield* store.liveRunIn(outputDir)
      if (Option.isSome(busy)) return yield* new ParallelRunError({ reason: "AlreadyRunning", path: outputDir, detail: busy.value })
      yield* Results.prepareOutput(outputDir, false)
      return yield* begin(plan, states, onEvent)
    })

  const resume = (request: ResumeRequest, onEvent: (event: ParallelEvent) => Effect.Effect<void> = () => Effect.void) =>
    Effect.gen(function*() {
      const host = request.host
      const outputDir = path.resolve(host.cwd, request.outputDir)
      const unreadable = (detail: string) => new ParallelRunError({ reason: "ResumeUnreadable", path: outputDir, detail })
      const text = yield* NodeFs.readText(path.join(outputDir, "summary.json")).pipe(
        Effect.mapError(() => unreadable("it has no summary.json (is it the --output-dir of a parallel run?)"))
      )
      const previous = yield* Effect.try({ try: () => JSON.parse(text) as unknown, catch: () => unreadable("summary.json is not valid JSON") }).pipe(
        Effect.flatMap((doc) => Schema.decodeUnknown(Summary.RunSummary)(doc)),
        Effect.mapError((e) => (e._tag === "ParseError" ? unreadable(`summary.json is not a parallel run summary (${e.message.split("\n")[0]})`) : e))
      )
      const busy = yield* store.liveRunIn(outputDir)
      if (Option.isSome(busy)) return yield* new ParallelRunError({ reason: "AlreadyRunning", path: outputDir, detail: busy.value })
      const specs: Array<TaskSpec> = previous.tasks.map((t) => ({
        id: t.id,
        prompt: t.prompt,
        dependsOn: t.dependsOn,
        ...(t.agent !== null ? { agent: t.agent } : {}),
        ...(t.branchRequested !== null ? { branch: t.branchRequested } : {})
      }))
      yield* TaskLists.orFail(Graph.checkGraph(specs, path.join(outputDir, "summary.json")))
      const again = previous.tasks.filter((t) => t.status !== "succeeded")
      if (again.length === 0) {
        return yield* new ParallelRunError({ reason: "NothingToResume", path: outputDir, detail: `all ${previous.tasks.length} tasks succeeded` })
      }
      const repoPath = yield* git.toplevel(previous.repoPath).pipe(
        Effect.mapError(() => unreadable(`its repository ${previous.repoPath} is no longer a git repository`))
      )
      const sched = yield* Plans.scheduling(config.values, {
        maxConcurrent: request.maxConcurrent ?? previous.maxConcurrent,
        failFast: request.failFast ?? previous.failFast,
        retries: request.retries ?? previous.retries,
        retryDelayMs: request.retryDelayMs
      })
      const o = previous.options
      const runOptions: TaskRunOptions = { ...Plans.storedOptions(o), ...Object.fromEntries(Object.entries(request.run ?? {}).filter(([, v]) => v !== undefined)) }
      const gitLive = o.gitLive !== null ? { targetBranch: o.gitLive.targetBranch ?? undefined } : undefined
      const plan = yield* planOf({
        repoPath,
        outputDir,
        sched,
        runOptions,
        gitLive,
        host,
        history: previous.runs,
        resumedFrom: previous.runs.at(-1)?.runId ?? previous.runId
      })
      const states = Plans.resumeStates(previous, specs)
      yield* preflight(plan, states.filter((s) => !s.fromEarlierRun).map((s) => s.spec))
      yield* Results.prepareOutput(outputDir, true)
      return yield* begin(plan, states, onEvent)
    })

  /** The finished tasks' overlaps; a failure to compare them is reported in the summary, never fails the run. */
  const overlapsOf = (plan: Plan, tasks: ReadonlyArray<Summary.TaskResultJson>) =>
    plan.baseCommit === null
      ? Effect.succeed(null)
      : TaskOverlaps.compare(git, {
        repo: plan.repoPath,
        baseCommit: plan.baseCommit,
        outputDir: plan.outputDir,
        tasks,
        filesOfPatch: results.filesOfPatch
      }).pipe(
        Effect.catchAll((e) => Effect.succeed<Summary.RunOverlapsJson>({ tasks: [], pairs: [], landingOrder: [], landsClean: [], error: e.message }))
      )

  const schedulerDeps: Scheduler.SchedulerDeps = { sandboxes, store, save: results.save, requestFor: Plans.requestFor, overlapsOf }

  return ParallelRunner.of({ load: TaskLists.load, run, resume })
})

/** ParallelRunner over Sandboxes, the store, git and file sync. */
export const layer = Layer.effect(ParallelRunner, make)

/** Everything a parallel run takes, as one plain object: what the Promise facade's `runParallel` accepts. */
export interface RunParallelInput extends Scheduling, TaskRunOptions {
  /** The repository (any directory inside it; default: `host.cwd`). */
  readonly repo?: string | undefined
  /** The tasks: prompts (ids `task-1`, `task-2`, …) and/or tasks with ids and dependencies. */
  readonly tasks?: ReadonlyArray<string | { readonly id: string; readonly prompt: string; readonly dependsOn?: ReadonlyArray<string> | undefined; readonly agent?: string | undefined; readonly branch?: string | undefined }> | undefined
  /** Or a task file: one prompt per line, or YAML/JSON (read like `--task-file`). */
  readonly taskFile?: string | undefined
  /** Or the output directory of an earlier run: run again what did not succeed (like `--resume`). */
  readonly resume?: string | undefined
  /** Default `parallel-results/<timestamp>` under `host.cwd`. */
  readonly outputDir?: string | undefined
  /** Push each task's branch and open a pull request (`true`, or the pull requests' base). */
  readonly gitLive?: boolean | GitLiveOptions | undefined
}

/**
 * A parallel run from one plain input — exactly one of `tasks`, `taskFile` or `resume` — with progress as
 * a callback; resolves to the summary. This is the entry point the Promise facade
 * (`@parallel-cc/core/promise`) wraps as `runParallel({...})`; it needs only the {@link ParallelRunner}
 * service, which `LiveSandbox.layer`/`LiveSandbox.services` provide.
 */
export const runParallel = (
  input: RunParallelInput,
  host: HostContext,
  onEvent?: (event: ParallelEvent) => void
): Effect.Effect<Summary.RunSummaryJson, ParallelFailure, ParallelRunner> =>
  Effect.gen(function*() {
    const runner = yield* ParallelRunner
    const sources = [input.tasks !== undefined, input.taskFile !== undefined, input.resume !== undefined].filter((x) => x).length
    if (sources !== 1) return yield* new InvalidInput({ field: "tasks", detail: "give exactly one of tasks, taskFile or resume" })
    const events = onEvent !== undefined ? (e: ParallelEvent) => Effect.sync(() => onEvent(e)) : undefined
    const run: TaskRunOptions = {
      provider: input.provider,
      agent: input.agent,
      branch: input.branch,
      template: input.template,
      useTemplate: input.useTemplate,
      budgetUsd: input.budgetUsd,
      timeoutMs: input.timeoutMs,
      authMethod: input.authMethod,
      gitUser: input.gitUser,
      gitEmail: input.gitEmail,
      sshKey: input.sshKey,
      sshKeyConfirmed: input.sshKeyConfirmed,
      npmToken: input.npmToken,
      npmRegistry: input.npmRegistry,
      network: input.network,
      allowHosts: input.allowHosts
    }
    const scheduling: Scheduling = {
      maxConcurrent: input.maxConcurrent,
      failFast: input.failFast,
      retries: input.retries,
      retryDelayMs: input.retryDelayMs
    }
    if (input.resume !== undefined) return yield* runner.resume({ outputDir: input.resume, ...scheduling, run, host }, events)
    let tasks: ReadonlyArray<TaskSpec>
    if (input.taskFile !== undefined) tasks = yield* runner.load({ _tag: "File", path: input.taskFile }, host)
    else {
      const given = input.tasks ?? []
      const prompts = given.filter((t): t is string => typeof t === "string")
      const numbered = prompts.length > 0 ? yield* runner.load({ _tag: "Prompts", prompts }, host) : []
      let n = 0
      tasks = given.map((t) => (typeof t === "string" ? numbered[n++]! : { ...t, dependsOn: t.dependsOn ?? [] }))
    }
    const gitLive = input.gitLive === true ? {} : input.gitLive === false ? undefined : input.gitLive
    return yield* runner.run({ repo: input.repo ?? host.cwd, tasks, outputDir: input.outputDir, ...scheduling, run, gitLive, host }, events)
  })
