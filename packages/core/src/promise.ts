/**
 * The Promise facade: parallel-cc for Node programs that do not use Effect.
 *
 * ```ts
 * import { createClient, SessionNotFound } from "@parallel-cc/core/promise"
 *
 * const client = createClient({ dataDir: "/tmp/pcc" })
 * try {
 *   const session = await client.sessions.register({ repoPath: ".", pid: process.pid })
 *   console.log(session.worktreePath)
 *   await client.sessions.release({ sessionId: session.sessionId })
 * } finally {
 *   await client.close()
 * }
 * ```
 *
 * - Every method takes one plain object and resolves to plain JSON-shaped data: the same fields as the
 *   CLI's `--json` output (times as ISO-8601 strings).
 * - Every method rejects with an instance of one of the exported error classes (`SessionNotFound`,
 *   `ClaimConflict`, `InvalidInput`, …): each has a `_tag`, usually a `reason`, and a `message` that says
 *   what to do. Inputs are checked before anything runs; a bad one is an `InvalidInput` naming the field.
 * - Configuration comes only from the options: nothing is read from `process.env` unless you pass
 *   `env: process.env` (then `PARALLEL_CC_*` variables apply as they do for the CLI).
 * - The database opens on the first call and closes with `client.close()` (or `await using`). Calls still
 *   running then are interrupted and reject with `Interrupted`.
 *
 * @since 0.1.0
 * @module @parallel-cc/core/promise
 */
import { Effect } from "effect"
import * as AppConfig from "./platform/AppConfig.js"
import { type ClaimsApi, makeClaims } from "./promise/claims.js"
import { type ConflictsApi, makeConflicts } from "./promise/conflicts.js"
import { type LandApi, makeLand } from "./promise/land.js"
import { makeMerges, type MergesApi } from "./promise/merges.js"
import { makeOverlaps, type OverlapsApi } from "./promise/overlaps.js"
import { makeParallel, type ParallelApi, type ParallelRunInput, type ParallelRunOptions, type ParallelRunSummary } from "./promise/parallel.js"
import { type CallOptions, type ClientInfo, type ClientOptions, makeFacade } from "./promise/runtime.js"
import { makeSandbox, type SandboxApi } from "./promise/sandbox.js"
import { makeSessions, type SessionsApi } from "./promise/sessions.js"

export { ClaimConflict, ClaimError, ClaimNotFound } from "./coordination/ClaimsLedger.js"
export { ConflictError, ConflictNotFound } from "./coordination/Conflicts.js"
export { ConfigError, DatabaseBusy, DatabaseError, InvalidInput, SessionNotFound } from "./Errors.js"
export { FileSyncError } from "./sandboxes/FileSync.js"
export { GitError } from "./platform/Git.js"
export { LandEntryNotFound, LandError } from "./landing/LandDomain.js"
export { MergeWatchError } from "./coordination/MergeWatcher.js"
export { ParallelRunError, TaskListError } from "./parallel/ParallelRunner.js"
export { SandboxRunError } from "./sandboxes/Sandboxes.js"
export { SandboxError, SandboxNotFound } from "./sandboxes/SandboxProvider.js"
export { SandboxRunNotFound } from "./sandboxes/SandboxRuns.js"
export { WorktreeError } from "./sessions/Worktrees.js"
export type { Acquired, Claim, ClaimsApi } from "./promise/claims.js"
export type {
  ApplyResult,
  Conflict,
  ConflictsApi,
  DetectReport,
  Preview,
  RebaseReport,
  Suggestion
} from "./promise/conflicts.js"
export type { LandApi, LandEntry, LandEvent, LandReport, LandRunInput, LandRunOptions, LandStatus } from "./promise/land.js"
export type { BranchStatus, MergeEvent, MergesApi, PollReport, Subscription, SubscribeResult } from "./promise/merges.js"
export type { ChangedFile, Overlap, OverlapsApi } from "./promise/overlaps.js"
export type {
  ParallelApi,
  ParallelEvent,
  ParallelRunHandle,
  ParallelRunInput,
  ParallelRunOptions,
  ParallelRunSummary,
  ParallelTask
} from "./promise/parallel.js"
export {
  type CallOptions,
  type ClientInfo,
  ClientClosed,
  type ClientOptions,
  errorTags,
  Interrupted,
  isParallelCcError,
  type LogEntry,
  type LogLevelName,
  type ParallelCcError
} from "./promise/runtime.js"
export type {
  DownloadReport,
  KillReport,
  RunEvent,
  RunOptions,
  RunResult,
  SandboxApi,
  SandboxRun,
  SandboxStatus
} from "./promise/sandbox.js"
export type {
  CleanupReport,
  Registration,
  Released,
  SessionChange,
  SessionEntry,
  SessionJson,
  SessionsApi,
  StatusReport
} from "./promise/sessions.js"

/** A parallel-cc client: plain async methods grouped by area. Close it when done. */
export interface Client {
  readonly sessions: SessionsApi
  readonly claims: ClaimsApi
  readonly merges: MergesApi
  readonly conflicts: ConflictsApi
  readonly overlaps: OverlapsApi
  readonly sandbox: SandboxApi
  readonly parallel: ParallelApi
  /** The test-gated landing queue. */
  readonly land: LandApi
  /** Where this client keeps its state and the settings in effect. */
  readonly info: (options?: CallOptions) => Promise<ClientInfo>
  /** Interrupt running calls, then close the database. Idempotent. */
  readonly close: () => Promise<void>
  /** The same as {@link Client.close}, for `await using client = createClient()`. */
  readonly [Symbol.asyncDispose]: () => Promise<void>
}

/**
 * Create a client. Nothing is opened until the first call. Throws a `ConfigError` at once when `config`
 * names an unknown key or holds an invalid value.
 */
export const createClient = (options: ClientOptions = {}): Client => {
  const f = makeFacade(options)
  const info = (callOptions?: CallOptions) =>
    f.call(
      "info",
      Effect.map(AppConfig.AppConfig, (c): ClientInfo => ({
        dataDir: c.dataDir,
        dbPath: c.dbPath,
        configFile: c.configFile,
        values: c.values,
        sources: c.sources
      })),
      callOptions
    )
  const client = {
    sessions: makeSessions(f),
    claims: makeClaims(f),
    merges: makeMerges(f),
    conflicts: makeConflicts(f),
    overlaps: makeOverlaps(f),
    sandbox: makeSandbox(f),
    parallel: makeParallel(f),
    land: makeLand(f),
    info,
    close: f.close
  }
  // Node >= 20.4 defines Symbol.asyncDispose (engines: >= 20.11); on a runtime without it the client is
  // still usable through close(), just not with `await using`.
  if (typeof Symbol.asyncDispose === "symbol") Object.defineProperty(client, Symbol.asyncDispose, { value: f.close })
  return client as Client
}

/**
 * One parallel run without keeping a client: creates one from `options`, runs `client.parallel.run`, and
 * closes it. Resolves to the summary.
 *
 * ```ts
 * import { runParallel } from "@parallel-cc/core/promise"
 *
 * const summary = await runParallel(
 *   { repoPath: ".", tasks: ["Add a /health endpoint", "Document the routes"], maxConcurrent: 2 },
 *   { env: process.env, onEvent: (e) => console.log(e._tag) }
 * )
 * console.log(summary.totals)
 * ```
 */
export const runParallel = async (
  input: ParallelRunInput,
  options: ClientOptions & ParallelRunOptions = {}
): Promise<ParallelRunSummary> => {
  const { onEvent, signal, ...clientOptions } = options
  const client = createClient(clientOptions)
  try {
    return await client.parallel.run(input, { onEvent, signal })
  } finally {
    await client.close()
  }
}
