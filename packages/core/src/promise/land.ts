/**
 * The land area of the Promise facade (`client.land`): the test-gated landing queue — run it (with
 * progress), queue a session's branch, read the queue, cancel a waiting entry.
 *
 * @since 0.2.0
 */
import { Effect, Schema } from "effect"
import * as Landing from "../landing/Landing.js"
import { Limit, opt, strict, Text } from "./input.js"
import type { CallOptions, Facade } from "./runtime.js"

const StrategyInput = Schema.Literal("merge", "squash", "rebase")
const RunInput = strict({
  repoPath: opt(Text),
  candidates: opt(Schema.Array(Text)),
  all: opt(Schema.Boolean),
  into: opt(Text),
  test: opt(Text),
  strategy: opt(StrategyInput),
  dryRun: opt(Schema.Boolean)
})
const RequestInput = strict({ sessionId: Text, test: opt(Text), strategy: opt(StrategyInput), into: opt(Text) })
const StatusInput = strict({ repoPath: opt(Text), target: opt(Text), sessionId: opt(Text), entryId: opt(Text), limit: opt(Limit) })
const CancelInput = strict({ entryId: Text })

/** What `land --json` prints: the entries this run queued or processed, the plan of a dry run, tests, moves. */
export type LandReport = Landing.LandReport
/** A queue entry as JSON (`land --list --json`, `get_land_status`). */
export type LandEntry = Landing.LandEntryJson
/** The queue and the runs in progress. */
export type LandStatus = Landing.LandStatus
/** Progress of a land run, in order: queued, integrated, test started/finished, landed, sent back, …, finished. */
export type LandEvent = Landing.LandEvent

/** The input of a land run (`parallel-cc land`). */
export interface LandRunInput {
  /** A directory inside the repository (default: the client's `cwd`). */
  readonly repoPath?: string
  /** Sessions (id, worktree name or branch), branches or sandboxed runs (id), in queue order. */
  readonly candidates?: ReadonlyArray<string>
  /** Also queue every finished session and succeeded sandboxed run with work the target lacks. */
  readonly all?: boolean
  /** The target branch (default: the branch checked out in the repository). */
  readonly into?: string
  /** The test command, as words without a shell (default: config `land.test`). */
  readonly test?: string
  readonly strategy?: "merge" | "squash" | "rebase"
  /** Report what would land and what would conflict; change nothing. */
  readonly dryRun?: boolean
}

/** Options of {@link LandApi.run}: besides `signal` (which stops the run; nothing half-landed), a progress callback. */
export interface LandRunOptions extends CallOptions {
  readonly onEvent?: ((event: LandEvent) => void) | undefined
}

/** The landing queue. */
export interface LandApi {
  /**
   * Queue the candidates and process the target's queue. Resolves with the report also when candidates were
   * sent back (see `sentBack` and each entry's `status`, `reason`, `message`); rejects with a `LandError` on
   * bad input or a target that cannot move (dirty, mid-merge), with nothing moved.
   */
  readonly run: (input: LandRunInput, options?: LandRunOptions) => Promise<LandReport>
  /** Queue a session's branch without running the queue (what the MCP tool `request_land` does). */
  readonly request: (
    input: { readonly sessionId: string; readonly test?: string; readonly strategy?: "merge" | "squash" | "rebase"; readonly into?: string },
    options?: CallOptions
  ) => Promise<LandEntry>
  /** Queue entries (most recent first, default 50) and the land runs in progress. */
  readonly status: (
    input?: { readonly repoPath?: string; readonly target?: string; readonly sessionId?: string; readonly entryId?: string; readonly limit?: number },
    options?: CallOptions
  ) => Promise<LandStatus>
  /** Take a queued entry out of the queue. */
  readonly cancel: (input: { readonly entryId: string }, options?: CallOptions) => Promise<LandEntry>
}

const encodeEntry = Schema.encodeSync(Landing.LandEntry)

export const makeLand = (f: Facade): LandApi => {
  const { abs, method } = f
  return {
    run: (input, runOptions) =>
      method("land.run", RunInput, (i) =>
        Effect.flatMap(Landing.Landing, (l) =>
          l.run(
            {
              repo: abs(i.repoPath ?? "."),
              candidates: i.candidates,
              all: i.all,
              into: i.into,
              test: i.test,
              strategy: i.strategy,
              dryRun: i.dryRun,
              requestedBy: "library"
            },
            (e) => Effect.sync(() => runOptions?.onEvent?.(e))
          )))(input, runOptions),
    request: method("land.request", RequestInput, (i) =>
      Effect.flatMap(Landing.Landing, (l) => l.request(i)).pipe(Effect.map((e) => encodeEntry(e)))),
    status: method("land.status", StatusInput, (i) =>
      Effect.flatMap(Landing.Landing, (l) =>
        l.status({ repo: i.repoPath !== undefined ? abs(i.repoPath) : undefined, target: i.target, sessionId: i.sessionId, entryId: i.entryId, limit: i.limit }))),
    cancel: method("land.cancel", CancelInput, (i) =>
      Effect.flatMap(Landing.Landing, (l) => l.cancel(i.entryId)).pipe(Effect.map((e) => encodeEntry(e))))
  }
}
