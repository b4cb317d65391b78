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
 *   every task and at the end — also when the run is interrupted (Ctrl-C), so `resume` always has them.
 * - `resume` reads `summary.json` and runs again only the tasks that did not succeed.
 *
 * Cancellation is interruption: interrupting `run` interrupts every task fiber and waits for their
 * cleanup, then writes the summary with the tasks `interrupted` or `cancelled`.
 *
 * @since 0.1.0
 */
import { Cause, Clock, Context, Effect, Either, Fiber, Layer, Option, Queue, Schema } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type * as Agents from "../sandboxes/AgentAdapters.js"
import { AppConfig } from "../platform/AppConfig.js"
import { Database, type DbFailure } from "../platform/Database.js"
import { makeSessionId } from "../Domain.js"
import { InvalidInput } from "../Errors.js"
import { FileSync } from "../sandboxes/FileSync.js"
import { Git, type GitError } from "../platform/Git.js"
import * as AgentGate from "./agentGate.js"
import * as Graph from "./taskGraph.js"
import * as Summary from "./ParallelSummary.js"
import { Processes } from "../platform/Processes.js"
import { isTransient, type ProviderName } from "../sandboxes/SandboxProvider.js"
import type { Session } from "../Domain.js"
import {
  type HostContext,
  type RunEvent,
  type RunFailure,
  type RunRequest,
  type RunResult,
  makeRunCache,
  type RunCache,
  Sandboxes
} from "../sandboxes/Sandboxes.js"
import { type SandboxRun, SandboxRuns } from "../sandboxes/SandboxRuns.js"
import { SessionStore } from "../sessions/SessionStore.js"

export type { TaskSpec } from "./taskGraph.js"
export { limits as taskListLimits } from "./taskGraph.js"
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

/** What `--git-live` says when other agents work in the same repository. */
export const activeSessionsWarning = (others: ReadonlyArray<Session>): string =>
  `${others.length} other session${others.length === 1 ? " is" : "s are"} active in this repository ` +
  `(${others.slice(0, 3).map((s) => `${s.sessionId}${s.isMainRepo ? " in the repository" : ` in ${s.worktreePath}`}`).join(", ")}` +
  `${others.length > 3 ? ", …" : ""}); their unfinished work is not in these runs, and pull requests opened now may conflict with ` +
  "theirs. To review first instead, run without --git-live: the changes then wait in worktrees"

const listError = (p: Graph.Problem, reason: TaskListError["reason"] = "Invalid") => new TaskListError({ reason, where: p.where, detail: p.detail })

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString())

const stamp = (ms: number) => {
  const d = new Date(ms)
  const p = (n: number) => String(n).padStart(2, "0")
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`
}

/** The index file of a linked worktree (its `.git` file names its git directory), if it has one. */
const worktreeIndex = (worktree: string): string | undefined => {
  try {
    const m = /^gitdir: (.+)$/m.exec(fs.readFileSync(path.join(worktree, ".git"), "utf8"))
    if (m === null) return undefined
    const index = path.join(path.resolve(worktree, m[1]!.trim()), "index")
    return fs.existsSync(index) ? index : undefined
  } catch {
    return undefined
  }
}

const writeAtomic = (file: string, text: string) => {
  const tmp = `${file}.${process.pid}.tmp`
  fs.writeFileSync(tmp, text)
  fs.renameSync(tmp, file)
}

const emptyChanges = { added: [] as Array<string>, modified: [] as Array<string>, deleted: [] as Array<string> }

/** A task's own time: start to end, less the time it waited for an agent slot. */
const durationOf = (s: { readonly startedAt: number | null; readonly endedAt: number | null; readonly waitedMs: number }) =>
  s.startedAt !== null && s.endedAt !== null ? Math.max(0, s.endedAt - s.startedAt - s.waitedMs) : null

/** A task while the run goes. */
interface TaskState {
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

interface Plan {
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

export const make = Effect.gen(function*() {
  const config = yield* AppConfig
  const git = yield* Git
  const sandboxes = yield* Sandboxes
  const runs = yield* SandboxRuns
  const fileSync = yield* FileSync
  const db = yield* Database
  const processes = yield* Processes
  const sessionStore = yield* SessionStore
  const sql = db.sql

  // --- task lists ----------------------------------------------------------------------------------

  const load = (source: TaskSource, host: HostContext) =>
    Effect.gen(function*() {
      if (source._tag === "Prompts") {
        const tasks = yield* Either.match(Graph.fromFlags(source.prompts), { onLeft: (p) => Effect.fail(listError(p)), onRight: Effect.succeed })
        return yield* Either.match(Graph.checkGraph(tasks, "--task"), { onLeft: (p) => Effect.fail(listError(p)), onRight: Effect.succeed })
      }
      const file = path.resolve(host.cwd, source.path)
      const name = source.path
      const unreadable = (detail: string) => new TaskListError({ reason: "Unreadable", where: name, detail })
      const st = yield* Effect.try({ try: () => fs.statSync(file), catch: () => unreadable("no such file") })
      if (!st.isFile()) return yield* unreadable("is not a regular file")
      const big = Graph.checkSize(st.size, name)
      if (big !== undefined) return yield* listError(big, "TooLarge")
      const bytes = yield* Effect.try({ try: () => fs.readFileSync(file), catch: (e) => unreadable(e instanceof Error ? e.message : String(e)) })
      // Checked again on what was read: the file may have grown in between.
      const bigNow = Graph.checkSize(bytes.length, name)
      if (bigNow !== undefined) return yield* listError(bigNow, "TooLarge")
      const text = new TextDecoder("utf-8", { fatal: false }).decode(bytes)
      let tasks: Array<TaskSpec>
      if (Graph.isDocumentFile(file)) {
        const doc = yield* /\.json$/i.test(file)
          ? Effect.try({ try: () => JSON.parse(text) as unknown, catch: (e) => listError({ where: name, detail: `not valid JSON: ${e instanceof Error ? e.message : String(e)}` }) })
          : Effect.tryPromise({
            try: () => import("yaml").then((Y) => Y.parse(text, { maxAliasCount: 100 }) as unknown),
            catch: (e) => listError({ where: name, detail: `not valid YAML: ${(e instanceof Error ? e.message : String(e)).split("\n")[0]}` })
          })
        tasks = yield* Either.match(Graph.fromDocument(doc, name), { onLeft: (p) => Effect.fail(listError(p)), onRight: Effect.succeed })
      } else {
        tasks = yield* Either.match(Graph.fromLines(text, name), { onLeft: (p) => Effect.fail(listError(p)), onRight: Effect.succeed })
      }
      return yield* Either.match(Graph.checkGraph(tasks, name), { onLeft: (p) => Effect.fail(listError(p)), onRight: Effect.succeed })
    })

  // --- store ---------------------------------------------------------------------------------------

  const self = Effect.map(processes.probe(process.pid), (p) => (p._tag === "Running" ? p.startTime : null))

  const recordRun = (plan: Plan, states: ReadonlyArray<TaskState>, now: number) =>
    db.immediate(Effect.gen(function*() {
      const start = yield* self
      yield* sql`INSERT INTO parallel_runs ${
        sql.insert({
          id: plan.runId,
          repo_path: plan.repoPath,
          output_dir: plan.outputDir,
          status: "running",
          max_concurrent: plan.maxConcurrent,
          fail_fast: plan.failFast ? 1 : 0,
          retries: plan.retries,
          git_live: plan.gitLive !== undefined ? 1 : 0,
          resumed_from: plan.resumedFrom,
          supervisor_pid: process.pid,
          supervisor_start: start,
          tasks_total: states.length,
          created_at: now,
          ended_at: null
        })
      }`
      for (const [i, s] of states.entries()) {
        yield* sql`INSERT INTO parallel_tasks ${
          sql.insert({
            run_id: plan.runId,
            task_id: s.spec.id,
            position: i,
            prompt: s.spec.prompt,
            depends_on: JSON.stringify(s.spec.dependsOn),
            status: s.status,
            session_id: s.sessionId,
            attempts: s.attempts,
            cost_usd: s.saved?.costUsd ?? null,
            error: s.error,
            started_at: s.startedAt,
            ended_at: s.endedAt
          })
        }`
      }
    }))

  const recordTask = (runId: string, s: TaskState) =>
    db.orFail(sql`UPDATE parallel_tasks SET ${
      sql.update({
        status: s.status,
        session_id: s.sessionId,
        attempts: s.attempts,
        cost_usd: s.saved?.costUsd ?? null,
        error: s.error ?? s.reason,
        started_at: s.startedAt,
        ended_at: s.endedAt
      })
    } WHERE run_id = ${runId} AND task_id = ${s.spec.id}`).pipe(Effect.ignore)

  const recordEnd = (runId: string, status: Summary.RunStatus, now: number) =>
    db.orFail(sql`UPDATE parallel_runs SET status = ${status}, ended_at = ${now} WHERE id = ${runId}`).pipe(Effect.ignore)

  /** A run still going over `outputDir` in another process. */
  const liveRunIn = (outputDir: string) =>
    Effect.gen(function*() {
      const rows = yield* db.orFail(sql<{ id: string; supervisor_pid: number | null; supervisor_start: string | null }>`
        SELECT id, supervisor_pid, supervisor_start FROM parallel_runs
        WHERE output_dir = ${outputDir} AND status = 'running' ORDER BY created_at DESC`)
      for (const r of rows) {
        if (r.supervisor_pid === null) continue
        const p = yield* processes.probe(r.supervisor_pid)
        if (p._tag === "Running" && (r.supervisor_start === null || p.startTime === null || p.startTime === r.supervisor_start)) {
          return Option.some(`run ${r.id}, process ${r.supervisor_pid}`)
        }
      }
      return Option.none<string>()
    })

  // --- results -------------------------------------------------------------------------------------

  const dirOf = (plan: Plan, s: TaskState) => path.join(plan.outputDir, s.spec.id)

  /**
   * The diff of a result worktree against the base commit, new files included, without touching its index:
   * staged in a copy of that index (its stat data spares re-reading unchanged files), else in one read
   * from HEAD.
   */
  const patchOf = (worktree: string, base: string) =>
    Effect.gen(function*() {
      const index = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "parallel-cc-patch-")), "index")
      const env = { GIT_INDEX_FILE: index }
      return yield* Effect.gen(function*() {
        const own = worktreeIndex(worktree)
        const copied = own !== undefined && (() => {
          try {
            fs.copyFileSync(own, index)
            return true
          } catch {
            return false
          }
        })()
        if (!copied) yield* git.run(worktree, ["read-tree", "HEAD"], { env })
        yield* git.run(worktree, ["add", "-A", "--", "."], { env })
        const diff = yield* git.run(worktree, ["diff", "--cached", "--binary", "--no-color", "--no-ext-diff", "--no-renames", base, "--"], { env })
        return diff.stdout
      }).pipe(Effect.ensuring(Effect.sync(() => fs.rmSync(path.dirname(index), { recursive: true, force: true }))))
    })

  const readChanges = (r: SandboxRun) =>
    Effect.gen(function*() {
      if (r.changesPath === null) return Option.none()
      return yield* Effect.try(() => {
        const archive = new Uint8Array(fs.readFileSync(r.changesPath!))
        const lists = JSON.parse(fs.readFileSync(path.join(path.dirname(r.changesPath!), "changes.json"), "utf8"))
        const arr = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [])
        return Option.some({ archive, added: arr(lists.added), modified: arr(lists.modified), deleted: arr(lists.deleted), refused: [] })
      }).pipe(Effect.orElseSucceed(() => Option.none()))
    })

  /** Write `<output>/<id>/` for a task that ended (any way): log, patch, changed files, result.json. */
  const save = (plan: Plan, s: TaskState): Effect.Effect<Summary.TaskResultJson> =>
    Effect.gen(function*() {
      const dir = dirOf(plan, s)
      yield* Effect.sync(() => {
        fs.rmSync(dir, { recursive: true, force: true })
        fs.mkdirSync(dir, { recursive: true })
      })
      const rec = s.sessionId !== null ? yield* runs.get(s.sessionId).pipe(Effect.option) : Option.none<SandboxRun>()
      const r = Option.getOrUndefined(rec)
      let log: string | null = null
      let patch: string | null = null
      let files: string | null = null
      let changes = s.result?.changes ?? emptyChanges
      if (r !== undefined) {
        if (fs.existsSync(r.logPath)) {
          fs.copyFileSync(r.logPath, path.join(dir, "run.log"))
          log = "run.log"
        }
        if (fs.existsSync(r.eventsPath)) fs.copyFileSync(r.eventsPath, path.join(dir, "events.jsonl"))
        const saved = yield* readChanges(r)
        if (Option.isSome(saved)) {
          changes = { added: saved.value.added, modified: saved.value.modified, deleted: saved.value.deleted }
          if (saved.value.added.length + saved.value.modified.length > 0) {
            const applied = yield* fileSync.apply({ ...saved.value, deleted: [] }, path.join(dir, "files")).pipe(Effect.option)
            if (Option.isSome(applied)) files = "files"
          }
        }
        if (r.worktreePath !== null && r.baseCommit !== null && fs.existsSync(r.worktreePath)) {
          const diff = yield* patchOf(r.worktreePath, r.baseCommit).pipe(Effect.option)
          if (Option.isSome(diff) && diff.value !== "") {
            fs.writeFileSync(path.join(dir, "changes.patch"), diff.value)
            patch = "changes.patch"
          }
        }
      }
      const result: Summary.TaskResultJson = {
        ...placeholder(s),
        durationMs: durationOf(s),
        waitedMs: s.waitedMs,
        costUsd: r?.costUsd ?? null,
        turns: r?.numTurns ?? null,
        changes: { added: [...changes.added], modified: [...changes.modified], deleted: [...changes.deleted] },
        worktreePath: r?.worktreePath ?? null,
        branch: r?.worktreePath !== null && r?.worktreePath !== undefined ? r.branch : null,
        commit: s.result?.commit ?? null,
        pullRequestUrl: s.result?.pullRequestUrl ?? r?.pullRequestUrl ?? null,
        gitLiveError: s.result?.gitLiveError ?? null,
        patch,
        log,
        files
      }
      writeAtomic(path.join(dir, "result.json"), JSON.stringify(result, null, 2) + "\n")
      return result
    }).pipe(
      Effect.catchAllCause((cause) =>
        Effect.sync((): Summary.TaskResultJson => ({
          ...placeholder(s),
          error: `${s.error ?? ""}${s.error !== null ? "; " : ""}the result directory could not be written: ${Cause.pretty(cause).split("\n")[0]}`
        }))
      )
    )

  /** The entry of a task that has no directory (skipped, cancelled, or not started). */
  const placeholder = (s: TaskState): Summary.TaskResultJson => ({
    id: s.spec.id,
    prompt: s.spec.prompt,
    dependsOn: [...s.spec.dependsOn],
    agent: s.spec.agent ?? null,
    branchRequested: s.spec.branch ?? null,
    status: s.status,
    reason: s.reason,
    sessionId: s.sessionId,
    attempts: s.attempts,
    earlierAttempts: s.earlierAttempts,
    startedAt: iso(s.startedAt),
    endedAt: iso(s.endedAt),
    durationMs: null,
    waitedMs: s.waitedMs,
    costUsd: null,
    turns: null,
    changes: emptyChanges,
    worktreePath: null,
    branch: null,
    commit: null,
    pullRequestUrl: null,
    gitLiveError: null,
    error: s.error,
    resultDir: s.spec.id,
    patch: null,
    log: null,
    files: null,
    fromEarlierRun: false
  })

  const summarize = (plan: Plan, states: ReadonlyArray<TaskState>, status: Summary.RunStatus, startedAt: number, now: number, ended: boolean) => {
    const tasks = states.map((s) => (s.saved !== null ? { ...s.saved, status: s.status, reason: s.reason } : placeholder(s)))
    const count = (st: Summary.TaskStatus) => tasks.filter((t) => t.status === st).length
    const costs = tasks.map((t) => t.costUsd).filter((c): c is number => c !== null)
    const ranNow = states.filter((s) => !s.fromEarlierRun && s.startedAt !== null && s.endedAt !== null)
    const sequentialMs = ranNow.reduce((n, s) => n + durationOf(s)!, 0)
    const wallMs = now - startedAt
    const summary: Summary.RunSummaryJson = {
      format: "parallel-cc/parallel-run@1",
      runId: plan.runId,
      repoPath: plan.repoPath,
      baseCommit: plan.baseCommit,
      outputDir: plan.outputDir,
      status,
      startedAt: new Date(startedAt).toISOString(),
      endedAt: ended ? new Date(now).toISOString() : null,
      wallMs,
      sequentialMs,
      savedMs: Math.max(0, sequentialMs - wallMs),
      maxConcurrent: plan.maxConcurrent,
      failFast: plan.failFast,
      retries: plan.retries,
      options: plan.options,
      totals: {
        tasks: tasks.length,
        succeeded: count("succeeded"),
        failed: count("failed"),
        skipped: count("skipped"),
        cancelled: count("cancelled"),
        interrupted: count("interrupted"),
        pending: count("pending") + count("running"),
        costUsd: costs.length > 0 ? Math.round(costs.reduce((a, b) => a + b, 0) * 1e6) / 1e6 : null,
        filesChanged: tasks.reduce((n, t) => n + t.changes.added.length + t.changes.modified.length + t.changes.deleted.length, 0)
      },
      runs: [
        ...plan.history,
        { runId: plan.runId, startedAt: new Date(startedAt).toISOString(), endedAt: ended ? new Date(now).toISOString() : null, status }
      ],
      tasks
    }
    return summary
  }

  const writeSummary = (plan: Plan, summary: Summary.RunSummaryJson) =>
    Effect.sync(() => {
      try {
        writeAtomic(path.join(plan.outputDir, "summary.json"), JSON.stringify(summary, null, 2) + "\n")
        writeAtomic(path.join(plan.outputDir, "summary-report.md"), Summary.renderReport(summary))
      } catch {
        // The directory was removed under us; the run itself goes on and the summary is still returned.
      }
    })

  // --- running -------------------------------------------------------------------------------------

  const requestFor = (plan: Plan, spec: TaskSpec, agentSlot?: RunRequest["agentSlot"]): RunRequest => ({
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
    gitLive: plan.gitLive !== undefined,
    targetBranch: plan.gitLive?.targetBranch,
    // The run warns once about other sessions (its own tasks are sessions too): every task goes ahead.
    confirmGitLive: plan.gitLive !== undefined ? () => Effect.succeed(true) : undefined,
    cache: plan.cache,
    agentSlot,
    host: plan.host
  })

  const phaseOf = (e: RunEvent): TaskPhase | undefined => {
    switch (e._tag) {
      case "Started":
        return "starting"
      case "SandboxReady":
        return "uploading"
      case "AgentStarted":
        return "agent"
      case "AgentExited":
        return "collecting"
      case "ChangesApplied":
        return "publishing"
      case "Finished":
        return "saving"
      default:
        return undefined
    }
  }

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
        yield* sandboxes.check(requestFor(plan, t)).pipe(
          Effect.mapError((e: RunFailure) => new ParallelRunError({ reason: "TaskCheckFailed", taskId: t.id, detail: e.message }))
        )
      }
    })

  const execute = (
    plan: Plan,
    states: ReadonlyArray<TaskState>,
    emitRaw: (e: ParallelEvent) => Effect.Effect<void>
  ) =>
    Effect.gen(function*() {
      const emit = (e: ParallelEvent) => emitRaw(e).pipe(Effect.catchAllCause(() => Effect.void))
      const byId = new Map(states.map((s) => [s.spec.id, s]))
      const startedAt = yield* Clock.currentTimeMillis
      // "admitted": the task holds an agent slot (a further task may prepare); "ended": the task's sandbox
      // part is over (its place is free); "saved": its result directory is written.
      const completions = yield* Queue.unbounded<{ readonly id: string; readonly kind: "admitted" | "ended" | "saved" }>()
      // The agent slots: at most K agents at once, while up to K further tasks prepare (local provider).
      const gate = plan.prepareAhead ? yield* AgentGate.make(plan.maxConcurrent) : undefined
      // With fail-fast, an agent that failed closes the gate before its slot frees: the run is about to
      // stop, so no further agent starts only to be interrupted (tasks that would get a slot wait for that).
      let gateClosed = false
      const running = new Map<string, Fiber.RuntimeFiber<void>>()
      let interrupted = false

      const snapshot = (status: Summary.RunStatus, ended: boolean) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => {
          const summary = summarize(plan, states, status, startedAt, now, ended)
          return Effect.as(writeSummary(plan, summary), summary)
        })

      /** TaskFinished, from the saved result or (before saving) from the run's own result. */
      const finished = (s: TaskState) =>
        Effect.zipRight(
          Effect.zipRight(Effect.sync(() => (s.announced = true)), recordTask(plan.runId, s)),
          emit({
            _tag: "TaskFinished",
            taskId: s.spec.id,
            status: s.status,
            durationMs: s.saved?.durationMs ?? durationOf(s),
            waitedMs: s.waitedMs,
            costUsd: s.saved?.costUsd ?? s.result?.run.costUsd ?? null,
            filesChanged: s.saved !== null
              ? Summary.filesChanged(s.saved)
              : s.result !== null
              ? s.result.changes.added.length + s.result.changes.modified.length + s.result.changes.deleted.length
              : 0,
            reason: s.reason,
            error: s.error,
            resultDir: path.join(plan.outputDir, s.spec.id),
            pullRequest: s.saved?.pullRequestUrl ?? s.result?.pullRequestUrl ?? null
          })
        )

      /**
       * One task: its attempts, then (with its slot already free for the next task) its result directory.
       * Never fails; interruption is left to the caller.
       */
      const runTask = (s: TaskState) =>
        Effect.gen(function*() {
          const onRun = (e: RunEvent): Effect.Effect<void> =>
            Effect.gen(function*() {
              if (e._tag === "Started") {
                s.sessionId = e.sessionId
                yield* recordTask(plan.runId, s)
              }
              if (e._tag === "AgentOutput") return yield* emit({ _tag: "TaskOutput", taskId: s.spec.id, line: e.line })
              if (e._tag === "AgentExited" && e.status !== "succeeded" && plan.failFast && gate !== undefined) {
                gateClosed = true
                yield* gate.close
              }
              if (e._tag === "Warning") return yield* emit({ _tag: "Warning", taskId: s.spec.id, message: e.message })
              const phase = phaseOf(e)
              if (phase !== undefined && !(phase === "publishing" && plan.gitLive === undefined)) {
                yield* emit({ _tag: "TaskPhase", taskId: s.spec.id, phase, sessionId: s.sessionId })
              }
            })
          /**
           * The agent phase of an attempt, in one of the K agent slots (`ticket`: its place in line). A task
           * that cannot have one at once says it is ready and waits; the wait is not part of its duration.
           */
          const slotFor = (ticket: AgentGate.Ticket | undefined): RunRequest["agentSlot"] =>
            gate === undefined || ticket === undefined
              ? undefined
              : <A, E, R>(phase: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
                Effect.flatMap(Clock.currentTimeMillis, (from) =>
                  Effect.gen(function*() {
                    if (!(yield* gate.arrive(ticket))) {
                      s.stage = "waiting"
                      yield* emit({ _tag: "TaskPhase", taskId: s.spec.id, phase: "ready", sessionId: s.sessionId })
                      yield* gate.await(ticket)
                    }
                    s.waitedMs += (yield* Clock.currentTimeMillis) - from
                    s.stage = "agent"
                    yield* Queue.offer(completions, { id: s.spec.id, kind: "admitted" })
                    return yield* phase
                  }).pipe(
                    Effect.onExit(() =>
                      Effect.gen(function*() {
                        // Interrupted while still waiting: the wait lasted until now (and no agent started).
                        if (s.stage === "waiting") s.waitedMs += (yield* Clock.currentTimeMillis) - from
                        else if (s.stage === "agent") s.stage = "after"
                        yield* gate.leave(ticket)
                      })
                    )
                  ))
          for (let attempt = 1;; attempt++) {
            s.attempts = attempt
            s.stage = "preparing"
            yield* emit({ _tag: "TaskStarted", taskId: s.spec.id, attempt })
            // Its place in line for an agent slot is taken now, in start order (see `AgentGate`).
            const ticket = gate !== undefined ? yield* gate.enqueue : undefined
            const r = yield* sandboxes.run(requestFor(plan, s.spec, slotFor(ticket)), onRun).pipe(
              Effect.ensuring(gate !== undefined && ticket !== undefined ? gate.leave(ticket) : Effect.void),
              Effect.either
            )
            if (Either.isRight(r)) {
              s.result = r.right
              s.status = r.right.run.status === "succeeded" ? "succeeded" : "failed"
              s.error = s.status === "succeeded" ? null : (r.right.run.error ?? `the run ended ${r.right.run.status}`)
              break
            }
            const e = r.left
            const transient = e._tag === "SandboxError" && isTransient(e)
            if (transient && attempt <= plan.retries) {
              const delayMs = Math.min(60_000, plan.retryDelayMs * 2 ** (attempt - 1))
              s.earlierAttempts.push({ sessionId: s.sessionId, status: "failed", error: e.message, worktreePath: null })
              yield* emit({ _tag: "TaskRetrying", taskId: s.spec.id, attempt, delayMs, error: e.message })
              yield* emit({ _tag: "TaskPhase", taskId: s.spec.id, phase: "retrying", sessionId: s.sessionId })
              yield* Effect.sleep(delayMs)
              continue
            }
            s.status = "failed"
            s.error = transient && plan.retries > 0 ? `${e.message} (still failing after ${attempt} attempts)` : e.message
            break
          }
          s.endedAt = yield* Clock.currentTimeMillis
          yield* finished(s)
          yield* Queue.offer(completions, { id: s.spec.id, kind: "ended" })
          s.saved = yield* save(plan, s)
        })

      const start = (s: TaskState) =>
        Effect.gen(function*() {
          s.status = "running"
          s.stage = "preparing"
          s.startedAt = yield* Clock.currentTimeMillis
          const fiber = yield* Effect.fork(
            runTask(s).pipe(
              Effect.catchAllCause((cause) =>
                Cause.isInterruptedOnly(cause)
                  ? Effect.failCause(cause)
                  : Effect.gen(function*() {
                    const ended = Summary.isFinal(s.status)
                    if (!ended) {
                      s.status = "failed"
                      s.error = `internal error: ${Cause.pretty(cause).split("\n")[0]}`
                      s.endedAt = yield* Clock.currentTimeMillis
                    }
                    s.saved = yield* save(plan, s)
                    if (!s.announced) yield* finished(s)
                    if (!ended) yield* Queue.offer(completions, { id: s.spec.id, kind: "ended" })
                  })
              ),
              Effect.zipRight(Queue.offer(completions, { id: s.spec.id, kind: "saved" })),
              Effect.asVoid
            )
          )
          running.set(s.spec.id, fiber)
        })

      /** Tasks whose dependency did not (and now cannot) succeed. */
      const skipBlocked = Effect.gen(function*() {
        let changed = true
        while (changed) {
          changed = false
          for (const s of states) {
            if (s.status !== "pending") continue
            const blocker = s.spec.dependsOn.map((d) => byId.get(d)!).find((d) => Summary.isFinal(d.status) && d.status !== "succeeded")
            if (blocker === undefined) continue
            s.status = "skipped"
            s.reason = `depends on ${blocker.spec.id}, which ${blocker.status === "failed" ? "failed" : `was ${blocker.status}`}`
            s.saved = placeholder(s)
            changed = true
            yield* finished(s)
          }
        }
      })

      /** Stop everything: interrupt the running tasks (their scopes clean up), cancel the pending ones. */
      const stopAll = (why: "fail-fast" | "interrupt", cause: string) =>
        Effect.gen(function*() {
          const fibers = [...running.entries()]
          running.clear()
          // No agent starts from here on (a slot freed by an interrupted agent must not go to a waiting task).
          if (gate !== undefined) yield* gate.close
          // Tasks still in their sandbox are interrupted (those waiting for an agent slot too: their sandbox
          // is removed and their session released like any other); those only writing their results finish that.
          const inSandbox = fibers.filter(([id]) => byId.get(id)!.status === "running")
          yield* Fiber.interruptAll(inSandbox.map(([, f]) => f))
          yield* Effect.forEach(fibers, ([, f]) => Fiber.await(f), { discard: true })
          for (const [id] of inSandbox) {
            const s = byId.get(id)!
            if (s.status === "running" && plan.prepareAhead && (s.stage === "preparing" || s.stage === "waiting")) {
              // Preparing or prepared, but its agent never started: nothing was done, like a pending task.
              s.status = "cancelled"
              s.reason = why === "fail-fast" ? `not started: ${cause} failed (--fail-fast)` : "not started: the run was interrupted"
            } else if (s.status === "running") {
              s.status = "interrupted"
              s.reason = why === "fail-fast" ? `stopped because ${cause} failed (--fail-fast); partial results kept` : "interrupted; partial results kept"
            }
            s.endedAt = s.endedAt ?? (yield* Clock.currentTimeMillis)
            if (s.saved === null) s.saved = yield* save(plan, s)
            if (!s.announced) yield* finished(s)
          }
          for (const s of states) {
            if (s.status !== "pending") continue
            s.status = "cancelled"
            s.reason = why === "fail-fast" ? `not started: ${cause} failed (--fail-fast)` : "not started: the run was interrupted"
            s.saved = placeholder(s)
            yield* finished(s)
          }
        })

      const underWay = () => [...running.keys()].map((id) => byId.get(id)!).filter((s) => s.status === "running")
      /**
       * Whether one more task may start. Remote sandboxes: at most K under way. Local: at most K before
       * their agent slot (preparing or waiting) and 2K under way, so the next K prepare while K agents run.
       */
      const mayStart = () => {
        const busy = underWay()
        if (!plan.prepareAhead) return busy.length < plan.maxConcurrent
        if (gateClosed) return false
        const before = busy.filter((s) => s.stage === "preparing" || s.stage === "waiting").length
        return busy.length < 2 * plan.maxConcurrent && before < plan.maxConcurrent
      }

      const loop = Effect.gen(function*() {
        while (true) {
          yield* skipBlocked
          for (const s of states) {
            if (!mayStart()) break
            if (s.status === "pending" && s.spec.dependsOn.every((d) => byId.get(d)!.status === "succeeded")) yield* start(s)
          }
          if (running.size === 0) return
          const { id, kind } = yield* Queue.take(completions)
          if (kind === "saved") {
            running.delete(id)
            yield* snapshot("running", false)
            continue
          }
          if (kind === "ended" && byId.get(id)!.status === "failed" && plan.failFast) {
            yield* stopAll("fail-fast", `task ${id}`)
            return
          }
        }
      })

      yield* loop.pipe(
        Effect.onInterrupt(() =>
          Effect.gen(function*() {
            interrupted = true
            yield* stopAll("interrupt", "")
            const now = yield* Clock.currentTimeMillis
            yield* recordEnd(plan.runId, "interrupted", now)
            yield* snapshot("interrupted", true)
          })
        )
      )
      const status: Summary.RunStatus = interrupted ? "interrupted" : states.every((s) => s.status === "succeeded") ? "succeeded" : "failed"
      const summary = yield* snapshot(status, true)
      yield* recordEnd(plan.runId, status, yield* Clock.currentTimeMillis)
      yield* emit({ _tag: "RunFinished", summary })
      return summary
    })

  /** Create (or reuse, when resuming) the output directory; its `.gitignore` keeps it out of every upload. */
  const prepareOutput = (dir: string, resuming: boolean) =>
    Effect.try({
      try: () => {
        fs.mkdirSync(dir, { recursive: true })
        if (!resuming && fs.readdirSync(dir).length > 0) return false
        // Inside the repository, the results would otherwise be untracked files in the next upload.
        fs.writeFileSync(path.join(dir, ".gitignore"), "# parallel-cc results: not part of the repository\n*\n")
        return true
      },
      catch: (e) => new ParallelRunError({ reason: "OutputDirFailed", path: dir, detail: e instanceof Error ? e.message : String(e) })
    }).pipe(
      Effect.flatMap((ok) => (ok ? Effect.void : Effect.fail(new ParallelRunError({ reason: "OutputDirNotEmpty", path: dir, detail: "" }))))
    )

  /** A new invocation's plan (a first run or a resume): a fresh run id and cache, the base commit now. */
  const planOf = (p: {
    readonly repoPath: string
    readonly outputDir: string
    readonly sched: Effect.Effect.Success<ReturnType<typeof scheduling>>
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
        options: optionsJson(p.runOptions, p.gitLive),
        run: p.runOptions,
        gitLive: p.gitLive,
        host: p.host,
        history: p.history,
        resumedFrom: p.resumedFrom
      })
    )

  const scheduling = (req: Scheduling) =>
    Effect.gen(function*() {
      const maxConcurrent = req.maxConcurrent ?? config.values["parallel.maxConcurrent"]
      if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1 || maxConcurrent > 64) {
        return yield* new InvalidInput({ field: "--max-concurrent", detail: `${maxConcurrent} is not an integer from 1 to 64` })
      }
      const retries = req.retries ?? 0
      if (!Number.isInteger(retries) || retries < 0 || retries > 10) {
        return yield* new InvalidInput({ field: "--retries", detail: `${retries} is not an integer from 0 to 10` })
      }
      const retryDelayMs = req.retryDelayMs ?? Math.round(config.values["parallel.retryDelaySeconds"] * 1000)
      return { maxConcurrent, retries, retryDelayMs, failFast: req.failFast === true }
    })

  const optionsJson = (run: TaskRunOptions, gitLive: GitLiveOptions | undefined): Summary.RunOptionsJson => ({
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
    gitLive: gitLive !== undefined ? { targetBranch: gitLive.targetBranch ?? null } : null
  })

  const begin = (
    plan: Plan,
    states: ReadonlyArray<TaskState>,
    onEvent: (event: ParallelEvent) => Effect.Effect<void>
  ) =>
    Effect.gen(function*() {
      const emit = (e: ParallelEvent) => onEvent(e).pipe(Effect.catchAllCause(() => Effect.void))
      yield* recordRun(plan, states, yield* Clock.currentTimeMillis)
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
      return yield* execute(plan, states, emit)
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

  const freshState = (spec: TaskSpec): TaskState => ({
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

  const run = (request: ParallelRequest, onEvent: (event: ParallelEvent) => Effect.Effect<void> = () => Effect.void) =>
    Effect.gen(function*() {
      const host = request.host
      const ordered = yield* Either.match(Graph.checkGraph(request.tasks, "tasks"), { onLeft: (p) => Effect.fail(listError(p)), onRight: Effect.succeed })
      for (const t of ordered) {
        if (!Graph.idPattern.test(t.id)) return yield* new TaskListError({ reason: "Invalid", where: `task ${JSON.stringify(t.id)}`, detail: "ids are 1 to 64 letters, digits, '-' or '_'" })
      }
      const sched = yield* scheduling(request)
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
      const busy = yield* liveRunIn(outputDir)
      if (Option.isSome(busy)) return yield* new ParallelRunError({ reason: "AlreadyRunning", path: outputDir, detail: busy.value })
      yield* prepareOutput(outputDir, false)
      return yield* begin(plan, states, onEvent)
    })

  const resume = (request: ResumeRequest, onEvent: (event: ParallelEvent) => Effect.Effect<void> = () => Effect.void) =>
    Effect.gen(function*() {
      const host = request.host
      const outputDir = path.resolve(host.cwd, request.outputDir)
      const unreadable = (detail: string) => new ParallelRunError({ reason: "ResumeUnreadable", path: outputDir, detail })
      const text = yield* Effect.try({
        try: () => fs.readFileSync(path.join(outputDir, "summary.json"), "utf8"),
        catch: () => unreadable("it has no summary.json (is it the --output-dir of a parallel run?)")
      })
      const previous = yield* Effect.try({ try: () => JSON.parse(text) as unknown, catch: () => unreadable("summary.json is not valid JSON") }).pipe(
        Effect.flatMap((doc) => Schema.decodeUnknown(Summary.RunSummary)(doc)),
        Effect.mapError((e) => (e._tag === "ParseError" ? unreadable(`summary.json is not a parallel run summary (${e.message.split("\n")[0]})`) : e))
      )
      const busy = yield* liveRunIn(outputDir)
      if (Option.isSome(busy)) return yield* new ParallelRunError({ reason: "AlreadyRunning", path: outputDir, detail: busy.value })
      const specs: Array<TaskSpec> = previous.tasks.map((t) => ({
        id: t.id,
        prompt: t.prompt,
        dependsOn: t.dependsOn,
        ...(t.agent !== null ? { agent: t.agent } : {}),
        ...(t.branchRequested !== null ? { branch: t.branchRequested } : {})
      }))
      yield* Either.match(Graph.checkGraph(specs, path.join(outputDir, "summary.json")), { onLeft: (p) => Effect.fail(listError(p)), onRight: Effect.succeed })
      const again = previous.tasks.filter((t) => t.status !== "succeeded")
      if (again.length === 0) {
        return yield* new ParallelRunError({ reason: "NothingToResume", path: outputDir, detail: `all ${previous.tasks.length} tasks succeeded` })
      }
      const repoPath = yield* git.toplevel(previous.repoPath).pipe(
        Effect.mapError(() => unreadable(`its repository ${previous.repoPath} is no longer a git repository`))
      )
      const sched = yield* scheduling({
        maxConcurrent: request.maxConcurrent ?? previous.maxConcurrent,
        failFast: request.failFast ?? previous.failFast,
        retries: request.retries ?? previous.retries,
        retryDelayMs: request.retryDelayMs
      })
      const o = previous.options
      const stored: TaskRunOptions = {
        provider: o.provider === "local" || o.provider === "e2b" ? o.provider : undefined,
        agent: o.agent ?? undefined,
        template: o.template ?? undefined,
        timeoutMs: o.timeoutMs ?? undefined,
        authMethod: o.authMethod ?? undefined,
        gitUser: o.gitUser ?? undefined,
        gitEmail: o.gitEmail ?? undefined,
        branch: o.branch === "auto" ? "auto" : undefined,
        useTemplate: o.useTemplate ?? undefined,
        budgetUsd: o.budgetUsd ?? undefined
      }
      const runOptions: TaskRunOptions = { ...stored, ...Object.fromEntries(Object.entries(request.run ?? {}).filter(([, v]) => v !== undefined)) }
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
      const states = previous.tasks.map((t): TaskState => {
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
      yield* preflight(plan, states.filter((s) => !s.fromEarlierRun).map((s) => s.spec))
      yield* prepareOutput(outputDir, true)
      return yield* begin(plan, states, onEvent)
    })

  return ParallelRunner.of({ load, run, resume })
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
      npmRegistry: input.npmRegistry
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
