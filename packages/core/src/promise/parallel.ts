/**
 * The parallel area of the Promise facade (`client.parallel`): a run of many tasks, awaited or iterated.
 *
 * @since 0.2.0
 */
import { Effect, Schema } from "effect"
import * as ParallelRunner from "../parallel/ParallelRunner.js"
import type * as ParallelSummary from "../parallel/ParallelSummary.js"
import { agentRunFields, agentRunOptions, decodeInput, opt, strict, Text } from "./input.js"
import type { CallOptions, Facade } from "./runtime.js"

const ParallelTask = Schema.Union(
  Text,
  strict({ id: Text, prompt: Text, dependsOn: opt(Schema.Array(Text)), agent: opt(Text), branch: opt(Text) })
)
const ParallelRunInput = strict({
  repoPath: opt(Text),
  tasks: opt(Schema.Array(ParallelTask).pipe(Schema.minItems(1))),
  taskFile: opt(Text),
  resume: opt(Text),
  outputDir: opt(Text),
  maxConcurrent: opt(Schema.Int.pipe(Schema.between(1, 64))),
  failFast: opt(Schema.Boolean),
  retries: opt(Schema.Int.pipe(Schema.between(0, 10))),
  retryDelayMs: opt(Schema.Int.pipe(Schema.nonNegative())),
  ...agentRunFields,
  branch: opt(Schema.Literal("auto")),
  gitLive: opt(Schema.Union(Schema.Boolean, strict({ targetBranch: opt(Text) })))
})

/** What a parallel run resolves to: the same object as the run's `summary.json`. */
export type ParallelRunSummary = ParallelSummary.RunSummaryJson
/** Progress of a parallel run, in order: run started, task started/phase/output/retrying/finished, warnings, run finished. */
export type ParallelEvent = ParallelRunner.ParallelEvent

/** Options of {@link ParallelApi.run}: besides `signal` (which stops the run like Ctrl-C), a callback for progress. */
export interface ParallelRunOptions extends CallOptions {
  readonly onEvent?: ((event: ParallelEvent) => void) | undefined
}

/** A task of a parallel run: a prompt, or a task with an id, dependencies and its own agent or branch. */
export type ParallelTask =
  | string
  | {
    readonly id: string
    readonly prompt: string
    /** Ids of tasks that must succeed first. */
    readonly dependsOn?: ReadonlyArray<string>
    readonly agent?: string
    /** Commit this task's changes on this branch. */
    readonly branch?: string
  }

/** The input of a parallel run (`sandbox run --multi`): exactly one of `tasks`, `taskFile` or `resume`. */
export interface ParallelRunInput {
  /** A directory inside the repository (default: the client's `cwd`). */
  readonly repoPath?: string
  readonly tasks?: ReadonlyArray<ParallelTask>
  /** One prompt per line, or YAML/JSON with `id`, `prompt`, `dependsOn`, `agent`, `branch` (like `--task-file`). */
  readonly taskFile?: string
  /** The output directory of an earlier run: run again only what did not succeed (like `--resume`). */
  readonly resume?: string
  /** Default `parallel-results/<timestamp>` under the client's `cwd`. */
  readonly outputDir?: string
  /** At most this many tasks at once (default: config `parallel.maxConcurrent`, 3). */
  readonly maxConcurrent?: number
  /** On the first failure, interrupt the running tasks and cancel the pending ones. */
  readonly failFast?: boolean
  /** Retries after a transient provider error (default 0), with backoff from `retryDelayMs`. */
  readonly retries?: number
  readonly retryDelayMs?: number
  readonly provider?: "local" | "e2b"
  readonly agent?: string
  /** `auto`: commit each task's changes on a branch named from its prompt. */
  readonly branch?: "auto"
  readonly template?: string
  readonly useTemplate?: string
  /** The most each task may cost in US dollars. */
  readonly budgetUsd?: number
  readonly timeoutMinutes?: number
  /** Push each task's branch and open a pull request with gh (`true`, or the pull requests' base). */
  readonly gitLive?: boolean | { readonly targetBranch?: string }
  readonly gitUser?: string
  readonly gitEmail?: string
  readonly authMethod?: "api-key" | "oauth"
  /** The agents' credentials and `PATH` (default: the client's `env` option). */
  readonly env?: Readonly<Record<string, string | undefined>>
}

/** Parallel runs: many tasks, each in its own session, worktree and sandbox, at most K at once. */
export interface ParallelApi {
  /**
   * Run the tasks and resolve to the summary (also written to `<outputDir>/summary.json`, with
   * `summary-report.md` and one directory per task). Resolves also when tasks failed: look at
   * `status` and each task's `status`. Rejects when the run cannot start (a bad task list, a dependency
   * cycle, an unknown id): then nothing was started.
   */
  readonly run: (input: ParallelRunInput, options?: ParallelRunOptions) => Promise<ParallelRunSummary>
  /** The same run, its progress as an async iterator; `summary` settles when the run ends. */
  readonly start: (input: ParallelRunInput, options?: CallOptions) => ParallelRunHandle
}

/** A parallel run in progress: iterate `events` (it ends with the run) and await `summary`. */
export interface ParallelRunHandle extends AsyncIterable<ParallelEvent> {
  readonly summary: Promise<ParallelRunSummary>
}

export const makeParallel = (f: Facade): ParallelApi => {
  const { call, abs, host } = f
  const runParallelCall = (input: ParallelRunInput, onEvent: ((e: ParallelEvent) => void) | undefined, callOptions?: CallOptions) =>
    call(
      "parallel.run",
      Effect.gen(function*() {
        const i = yield* decodeInput("parallel.run", ParallelRunInput, input)
        const h = host(i.env)
        return yield* ParallelRunner.runParallel(
          {
            repo: i.repoPath !== undefined ? abs(i.repoPath) : undefined,
            tasks: i.tasks,
            taskFile: i.taskFile !== undefined ? abs(i.taskFile) : undefined,
            resume: i.resume !== undefined ? abs(i.resume) : undefined,
            outputDir: i.outputDir !== undefined ? abs(i.outputDir) : undefined,
            maxConcurrent: i.maxConcurrent,
            failFast: i.failFast,
            retries: i.retries,
            retryDelayMs: i.retryDelayMs,
            ...agentRunOptions(i),
            branch: i.branch,
            gitLive: i.gitLive
          },
          h,
          onEvent
        )
      }),
      callOptions
    )

  return {
    run: (input, runOptions) => runParallelCall(input, runOptions?.onEvent, runOptions),
    start: (input, callOptions) => {
      // Events are queued until the iterator asks for them; the iterator ends when the run settles.
      const queue: Array<ParallelEvent> = []
      let wake: (() => void) | undefined
      let done = false
      const notify = () => {
        const w = wake
        wake = undefined
        w?.()
      }
      const summary = runParallelCall(input, (e) => {
        queue.push(e)
        notify()
      }, callOptions)
      const settled = () => {
        done = true
        notify()
      }
      summary.then(settled, settled)
      return {
        summary,
        async *[Symbol.asyncIterator]() {
          for (;;) {
            const next = queue.shift()
            if (next !== undefined) {
              yield next
              continue
            }
            if (done) return
            await new Promise<void>((resolve) => {
              wake = resolve
            })
          }
        }
      }
    }
  }
}
