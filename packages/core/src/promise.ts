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
import { Cause, Effect, Exit, Layer, Logger, LogLevel, ManagedRuntime, Option, ParseResult, Schema } from "effect"
import * as nodePath from "node:path"
import * as os from "node:os"
import * as AppConfig from "./platform/AppConfig.js"
import * as ClaimsLedger from "./coordination/ClaimsLedger.js"
import * as Conflicts from "./coordination/Conflicts.js"
import * as Domain from "./Domain.js"
import { InvalidInput } from "./Errors.js"
import { Git } from "./platform/Git.js"
import * as Live from "./live/Live.js"
import * as LiveSandbox from "./live/LiveSandbox.js"
import * as ParallelRunner from "./parallel/ParallelRunner.js"
import type * as ParallelSummary from "./parallel/ParallelSummary.js"
import * as MergeWatcher from "./coordination/MergeWatcher.js"
import * as Sandboxes from "./sandboxes/Sandboxes.js"
import * as SandboxRuns from "./sandboxes/SandboxRuns.js"
import * as Sessions from "./sessions/Sessions.js"
import { SessionStore } from "./sessions/SessionStore.js"

export { ClaimConflict, ClaimError, ClaimNotFound } from "./coordination/ClaimsLedger.js"
export { ConflictError, ConflictNotFound } from "./coordination/Conflicts.js"
export { ConfigError, DatabaseBusy, DatabaseError, InvalidInput, SessionNotFound } from "./Errors.js"
export { FileSyncError } from "./sandboxes/FileSync.js"
export { GitError } from "./platform/Git.js"
export { MergeWatchError } from "./coordination/MergeWatcher.js"
export { ParallelRunError, TaskListError } from "./parallel/ParallelRunner.js"
export { SandboxRunError } from "./sandboxes/Sandboxes.js"
export { SandboxError, SandboxNotFound } from "./sandboxes/SandboxProvider.js"
export { SandboxRunNotFound } from "./sandboxes/SandboxRuns.js"
export { WorktreeError } from "./sessions/Worktrees.js"

// ---------------------------------------------------------------------------------------------------
// Errors of the facade itself

/** The call was interrupted: its `signal` was aborted, or the client was closed while it ran. */
export class Interrupted extends Schema.TaggedError<Interrupted>()("Interrupted", {
  reason: Schema.Literal("Aborted", "ClientClosed"),
  method: Schema.String
}) {
  override get message(): string {
    return this.reason === "Aborted"
      ? `${this.method} was cancelled by its AbortSignal; anything it had started was cleaned up`
      : `${this.method} was interrupted because the client was closed; anything it had started was cleaned up`
  }
}

/** A method was called after `close()`. */
export class ClientClosed extends Schema.TaggedError<ClientClosed>()("ClientClosed", {
  method: Schema.String
}) {
  override get message(): string {
    return `${this.method}: this parallel-cc client is closed; create a new one with createClient()`
  }
}

/** The `_tag`s of every error a client method can reject with (besides defects: plain `Error`s for bugs). */
export const errorTags = [
  "ClaimConflict",
  "ClaimError",
  "ClaimNotFound",
  "ClientClosed",
  "ConfigError",
  "ConflictError",
  "ConflictNotFound",
  "DatabaseBusy",
  "DatabaseError",
  "FileSyncError",
  "GitError",
  "Interrupted",
  "InvalidInput",
  "MergeWatchError",
  "ParallelRunError",
  "SandboxError",
  "SandboxNotFound",
  "SandboxRunError",
  "SandboxRunNotFound",
  "SessionNotFound",
  "TaskListError",
  "WorktreeError"
] as const

/** The shape every parallel-cc error has. */
export interface ParallelCcError extends Error {
  readonly _tag: (typeof errorTags)[number]
  readonly reason?: string
}

/** Whether `e` is one of parallel-cc's typed errors (and not a bug or an unrelated error). */
export const isParallelCcError = (e: unknown): e is ParallelCcError =>
  e instanceof Error && (errorTags as ReadonlyArray<unknown>).includes((e as { readonly _tag?: unknown })._tag)

// ---------------------------------------------------------------------------------------------------
// Options

/** How much the client logs; `warning` by default. */
export type LogLevelName = "none" | "error" | "warning" | "info" | "debug"

export interface LogEntry {
  readonly level: Exclude<LogLevelName, "none">
  readonly message: string
}

export interface ClientOptions {
  /** The data directory (database, config file, heartbeats). Default: `~/.parallel-cc`, shared with the CLI. */
  readonly dataDir?: string | undefined
  /** The database file. Default: `<dataDir>/coordinator.db`. */
  readonly dbPath?: string | undefined
  /**
   * Settings that win over the config file `<dataDir>/config.json` (and over `env`), by key:
   * `{ "worktree.prefix": "agent-", "claims.ttlMinutes": 30 }`. Checked when the client is created: an
   * unknown key or a bad value throws a `ConfigError` from `createClient`.
   */
  readonly config?: AppConfig.Overrides | undefined
  /**
   * Environment variables to honour, like the CLI: `PARALLEL_CC_*` settings (below `config`, above the
   * config file). Not read unless given: pass `env: process.env` to behave like the CLI.
   */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined
  /** Where the default data directory lives (default: the user's home directory). */
  readonly homeDir?: string | undefined
  /** The directory relative paths in inputs are resolved against (default: `process.cwd()` at each call). */
  readonly cwd?: string | undefined
  /** Default `warning`. */
  readonly logLevel?: LogLevelName | undefined
  /** Where log entries go (default: one line each on stderr, `parallel-cc: warning: …`). */
  readonly log?: ((entry: LogEntry) => void) | undefined
}

/** Options every method accepts as its second argument. */
export interface CallOptions {
  /** Aborting it interrupts the call (it rejects with `Interrupted`, after cleaning up). */
  readonly signal?: AbortSignal | undefined
}

// ---------------------------------------------------------------------------------------------------
// Results (plain JSON shapes, as the CLI prints them with --json)

/** What `register --json` prints. For the first session of a repository `worktreePath` is the repository. */
export type Registration = typeof Domain.Registration.Encoded
/** A session as stored (`status --json` `kept`, `sessions.get`). */
export type SessionJson = Domain.SessionJson
/** An active session with its liveness, as in `status --json` `sessions`. */
export type SessionEntry = SessionJson & {
  /** The later of the stored heartbeat and the heartbeat file's mtime. */
  readonly lastHeartbeat: string
  readonly liveness: Domain.Liveness
}
/** What `status --json` prints. */
export interface StatusReport {
  readonly sessions: ReadonlyArray<SessionEntry>
  /** Released sessions whose worktree was kept because it holds work. */
  readonly kept: ReadonlyArray<SessionJson>
  /** Sessions this call found dead or stale and released. */
  readonly released: ReadonlyArray<Sessions.Released>
}
export type Released = Sessions.Released
export type CleanupReport = Sessions.CleanupReport
export type Claim = ClaimsLedger.ClaimJson
export interface Acquired {
  readonly claim: Claim
  readonly change: ClaimsLedger.Change
  /** The other sessions' claims on the file (none of which blocks this one). */
  readonly others: ReadonlyArray<Claim>
}
export type MergeEvent = typeof MergeWatcher.MergeEvent.Encoded
export type Subscription = typeof MergeWatcher.Subscription.Encoded
export interface BranchStatus extends Omit<MergeWatcher.BranchStatus, "event"> {
  readonly event: MergeEvent | null
}
export interface PollReport extends Omit<MergeWatcher.PollReport, "events"> {
  readonly events: ReadonlyArray<MergeEvent>
}
export interface SubscribeResult {
  readonly subscription: Subscription
  readonly created: boolean
  readonly alreadyMerged: MergeEvent | null
}
export type Preview = Conflicts.Preview
export type DetectReport = Conflicts.DetectReport
export type Conflict = Conflicts.Conflict
export type Suggestion = Conflicts.Suggestion
export type ApplyResult = Conflicts.ApplyResult
export type RebaseReport = Conflicts.RebaseReport
/** A sandboxed run as stored (`sandbox status --json` `run`, `sandbox list --json` `runs`). */
export type SandboxRun = SandboxRuns.SandboxRunJson
/** Progress of a run, in order (`onEvent`). */
export type RunEvent = Sandboxes.RunEvent
/** What `sandbox run --json` prints: the run, and where its changes are. */
export interface RunResult {
  readonly run: SandboxRun
  readonly isolation: { readonly kind: string; readonly isolated: boolean; readonly description: string }
  readonly changes: { readonly added: ReadonlyArray<string>; readonly modified: ReadonlyArray<string>; readonly deleted: ReadonlyArray<string> }
  /** Files the sandbox returned that were refused (e.g. a path leaving the work tree). */
  readonly refused: ReadonlyArray<{ readonly path: string; readonly reason: string }>
  /** The worktree holding the changes for review (null when nothing changed, or for a dry run). */
  readonly worktreePath: string | null
  readonly branch: string | null
  /** The commit made on the branch when `branch` was given. */
  readonly commit: string | null
  readonly warnings: ReadonlyArray<string>
}
export interface SandboxStatus {
  readonly run: SandboxRun
  /** The sandbox itself: running, stopped, gone, … (`unknown` when the provider cannot tell). */
  readonly sandbox: string
  /** Whether the process that supervises the run is still there. */
  readonly supervisorAlive: boolean
}
export interface KillReport {
  readonly run: SandboxRun
  readonly action: "stopped" | "requested" | "removed" | "none"
}
export interface DownloadReport {
  readonly source: "sandbox" | "saved"
  readonly changes: RunResult["changes"]
  readonly written: ReadonlyArray<string>
  readonly deleted: ReadonlyArray<string>
  readonly refused: ReadonlyArray<{ readonly path: string; readonly reason: string }>
}

/** Where this client keeps its state, and the settings in effect. */
export interface ClientInfo {
  readonly dataDir: string
  readonly dbPath: string
  readonly configFile: string
  readonly values: AppConfig.Values
  readonly sources: { readonly [K in AppConfig.KeyName]: AppConfig.Source }
}

// ---------------------------------------------------------------------------------------------------
// Inputs

const Text = Schema.String.pipe(Schema.minLength(1, { message: () => "must not be empty" }))
const Pid = Schema.Int.pipe(Schema.positive())
const opt = <S extends Schema.Schema.Any>(s: S) => Schema.optional(s)
const strict = <F extends Schema.Struct.Fields>(fields: F) => Schema.Struct(fields)

const RegisterInput = strict({ repoPath: Text, pid: Pid, forceWorktree: opt(Schema.Boolean) })
const ListInput = strict({ repoPath: opt(Text), mode: opt(Domain.SessionMode) })
const StatusInput = strict({ repoPath: opt(Text), sandboxOnly: opt(Schema.Boolean) })
const GetInput = strict({ sessionId: Domain.SessionId })
const SelectInput = strict({ sessionId: opt(Domain.SessionId), pid: opt(Pid) })
const ReleaseInput = strict({ sessionId: opt(Domain.SessionId), pid: opt(Pid), force: opt(Schema.Boolean) })
const CleanupInput = strict({ dryRun: opt(Schema.Boolean), force: opt(Schema.Boolean) })

const AcquireInput = strict({
  sessionId: Domain.SessionId,
  path: Text,
  mode: opt(ClaimsLedger.ClaimMode),
  ttlMinutes: opt(Schema.Int.pipe(Schema.between(1, ClaimsLedger.maxTtlMinutes))),
  reason: opt(Schema.String.pipe(Schema.maxLength(500)))
})
const ReleaseClaimInput = strict({ sessionId: Domain.SessionId, path: Text })
const ReleaseAllInput = strict({ sessionId: Domain.SessionId })
const ClaimListInput = strict({ repoPath: opt(Text), sessionId: opt(Domain.SessionId), path: opt(Text) })

const Limit = Schema.Int.pipe(Schema.between(1, 10_000))
const MergeStatusInput = strict({ repoPath: opt(Text), branch: opt(Text), limit: opt(Limit) })
const SubscriptionsInput = strict({
  repoPath: opt(Text),
  branch: opt(Text),
  sessionId: opt(Domain.SessionId),
  pendingOnly: opt(Schema.Boolean),
  limit: opt(Limit)
})
const CheckInput = strict({ repoPath: Text, branch: Text, targetBranch: opt(Text) })
const SubscribeInput = strict({ sessionId: Domain.SessionId, branch: opt(Text), targetBranch: opt(Text) })

const PreviewInput = strict({ repoPath: Text, ours: Text, theirs: Text })
const DetectInput = Schema.Union(
  strict({ repoPath: Text, ours: Text, theirs: Text, sessionId: opt(Domain.SessionId) }),
  strict({ worktreePath: Text, sessionId: opt(Domain.SessionId) })
)
const SuggestInput = strict({ conflictId: Text, worktreePath: opt(Text) })
const ApplyInput = strict({ suggestionId: Text, worktreePath: Text, sessionId: opt(Domain.SessionId) })
const HistoryInput = strict({
  repoPath: opt(Text),
  type: opt(Conflicts.ConflictType),
  resolved: opt(Schema.Boolean),
  path: opt(Text),
  limit: opt(Limit)
})
const SuggestionsInput = strict({
  repoPath: opt(Text),
  conflictId: opt(Text),
  minConfidence: opt(Schema.Number.pipe(Schema.between(0, 1))),
  applied: opt(Schema.Boolean),
  limit: opt(Limit)
})
const RebaseInput = strict({
  worktreePath: Text,
  onto: Text,
  mode: opt(Schema.Literal("check", "perform")),
  onConflict: opt(Schema.Literal("stop", "abort"))
})

const SandboxRunInput = strict({
  repoPath: Text,
  prompt: Text,
  provider: opt(Schema.Literal("local", "e2b")),
  agent: opt(Text),
  branch: opt(Text),
  template: opt(Text),
  useTemplate: opt(Text),
  budgetUsd: opt(Schema.Number.pipe(Schema.positive())),
  timeoutMinutes: opt(Schema.Number.pipe(Schema.greaterThan(0), Schema.lessThanOrEqualTo(24 * 60))),
  keep: opt(Schema.Boolean),
  dryRun: opt(Schema.Boolean),
  gitUser: opt(Text),
  gitEmail: opt(Text),
  authMethod: opt(Schema.Literal("api-key", "oauth")),
  env: opt(Schema.Record({ key: Schema.String, value: Schema.UndefinedOr(Schema.String) }))
})
const RunIdInput = strict({ sessionId: Text })
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
  provider: opt(Schema.Literal("local", "e2b")),
  agent: opt(Text),
  branch: opt(Schema.Literal("auto")),
  template: opt(Text),
  useTemplate: opt(Text),
  budgetUsd: opt(Schema.Number.pipe(Schema.positive())),
  timeoutMinutes: opt(Schema.Number.pipe(Schema.greaterThan(0), Schema.lessThanOrEqualTo(24 * 60))),
  gitLive: opt(Schema.Union(Schema.Boolean, strict({ targetBranch: opt(Text) }))),
  gitUser: opt(Text),
  gitEmail: opt(Text),
  authMethod: opt(Schema.Literal("api-key", "oauth")),
  env: opt(Schema.Record({ key: Schema.String, value: Schema.UndefinedOr(Schema.String) }))
})
const SandboxListInput = strict({ repoPath: opt(Text), limit: opt(Limit) })
const SandboxLogsInput = strict({ sessionId: Text, lines: opt(Schema.Int.pipe(Schema.positive())) })
const DownloadInput = strict({ sessionId: Text, outputPath: Text })

/** Decode a method's input; a mismatch is an InvalidInput naming the method and the field. */
const decodeInput = <A, I>(method: string, schema: Schema.Schema<A, I>, input: unknown) =>
  Schema.decodeUnknown(schema, { onExcessProperty: "error" })(input === undefined ? {} : input).pipe(
    Effect.mapError((e) => {
      const issue = ParseResult.ArrayFormatter.formatErrorSync(e)[0]
      const where = issue !== undefined && issue.path.length > 0 ? `.${issue.path.join(".")}` : ""
      return new InvalidInput({ field: `${method}${where}`, detail: issue?.message ?? "invalid input" })
    })
  )

// ---------------------------------------------------------------------------------------------------
// Encoders

const encodeSession = Schema.encodeSync(Domain.Session)
const encodeRegistration = Schema.encodeSync(Domain.Registration)
const encodeClaim = Schema.encodeSync(ClaimsLedger.Claim)
const encodeEvent = Schema.encodeSync(MergeWatcher.MergeEvent)
const encodeSubscription = Schema.encodeSync(MergeWatcher.Subscription)
const encodeRun = Schema.encodeSync(SandboxRuns.SandboxRun)

const entry = (v: Sessions.SessionView): SessionEntry => ({
  ...encodeSession(v.session),
  lastHeartbeat: v.lastHeartbeat.toISOString(),
  liveness: v.liveness
})

// ---------------------------------------------------------------------------------------------------
// The client

/** Sessions: register, list, release, heartbeat, clean up. */
export interface SessionsApi {
  /**
   * Register a session for a running process: the first live session of a repository works in the
   * repository itself, every other one in a new worktree on a new branch. Resolves to `register --json`.
   */
  readonly register: (
    input: { readonly repoPath: string; readonly pid: number; readonly forceWorktree?: boolean },
    options?: CallOptions
  ) => Promise<Registration>
  /** The active sessions (of one repository, or all), with liveness; dead ones are released first. */
  readonly list: (
    input?: { readonly repoPath?: string; readonly mode?: "local" | "sandbox" },
    options?: CallOptions
  ) => Promise<ReadonlyArray<SessionEntry>>
  /** What `status --json` prints: active sessions, worktrees kept with work, sessions just released. */
  readonly status: (
    input?: { readonly repoPath?: string; readonly sandboxOnly?: boolean },
    options?: CallOptions
  ) => Promise<StatusReport>
  /** One session by id, active or released. */
  readonly get: (input: { readonly sessionId: string }, options?: CallOptions) => Promise<SessionJson>
  /**
   * The environment variables to give the session's agent process, as `claude-parallel` does:
   * `PARALLEL_CC_SESSION_ID`, `PARALLEL_CC_WORKTREE`, `PARALLEL_CC_HEARTBEAT_FILE` (the heartbeat hook
   * touches it) and, with a port block, `PARALLEL_CC_PORT_BASE` / `PARALLEL_CC_PORT_COUNT`.
   */
  readonly environment: (input: { readonly sessionId: string }, options?: CallOptions) => Promise<Readonly<Record<string, string>>>
  /**
   * End a session (by id, or every active session of a pid). Its worktree is removed only if that loses
   * no work; `force` removes it anyway and deletes an unmerged session branch.
   */
  readonly release: (
    input: { readonly sessionId?: string; readonly pid?: number; readonly force?: boolean },
    options?: CallOptions
  ) => Promise<ReadonlyArray<Released>>
  /** Mark a session alive now; resolves to how many sessions were touched. */
  readonly heartbeat: (
    input: { readonly sessionId?: string; readonly pid?: number },
    options?: CallOptions
  ) => Promise<{ readonly touched: number }>
  /** Release sessions whose process is gone, look again at kept worktrees, prune git's worktree records. */
  readonly cleanup: (
    input?: { readonly dryRun?: boolean; readonly force?: boolean },
    options?: CallOptions
  ) => Promise<CleanupReport>
}

/** File claims: EXCLUSIVE, SHARED or INTENT, with expiry; they end with their session. */
export interface ClaimsApi {
  /** Claim a file for a session (default EXCLUSIVE), or renew / change the mode of its claim. */
  readonly acquire: (
    input: {
      readonly sessionId: string
      /** Relative to the repository root, or absolute inside the repository or the session's worktree. */
      readonly path: string
      readonly mode?: "EXCLUSIVE" | "SHARED" | "INTENT"
      readonly ttlMinutes?: number
      readonly reason?: string
    },
    options?: CallOptions
  ) => Promise<Acquired>
  /** Release a session's claim on one file. */
  readonly release: (input: { readonly sessionId: string; readonly path: string }, options?: CallOptions) => Promise<Claim>
  /** Release every claim of a session. */
  readonly releaseAll: (input: { readonly sessionId: string }, options?: CallOptions) => Promise<ReadonlyArray<Claim>>
  /** Active claims, oldest first; `path` (relative to the repository root) needs `repoPath`. */
  readonly list: (
    input?: { readonly repoPath?: string; readonly sessionId?: string; readonly path?: string },
    options?: CallOptions
  ) => Promise<ReadonlyArray<Claim>>
}

/** Merge detection: recorded merges, subscriptions, on-demand checks. */
export interface MergesApi {
  /** Recorded merge events, newest first (`merge status --json`); default limit 20. */
  readonly status: (
    input?: { readonly repoPath?: string; readonly branch?: string; readonly limit?: number },
    options?: CallOptions
  ) => Promise<ReadonlyArray<MergeEvent>>
  /** Merge subscriptions (`merge status --subscriptions --json`). */
  readonly subscriptions: (
    input?: {
      readonly repoPath?: string
      readonly branch?: string
      readonly sessionId?: string
      readonly pendingOnly?: boolean
      readonly limit?: number
    },
    options?: CallOptions
  ) => Promise<ReadonlyArray<Subscription>>
  /** Has `branch` reached `targetBranch` (default: `merges.targetBranch`, else the checked-out branch)? Records it if so. */
  readonly check: (
    input: { readonly repoPath: string; readonly branch: string; readonly targetBranch?: string },
    options?: CallOptions
  ) => Promise<BranchStatus>
  /** Ask to be told when a session's branch (or `branch`) is merged; satisfied at once if it already is. */
  readonly subscribe: (
    input: { readonly sessionId: string; readonly branch?: string; readonly targetBranch?: string },
    options?: CallOptions
  ) => Promise<SubscribeResult>
  /** Look at every watched repository once (`watch merges --once`); resolves to the newly recorded merges. */
  readonly poll: (input?: Record<string, never>, options?: CallOptions) => Promise<PollReport>
}

/** Conflicts: preview, classify, suggest resolutions, apply one, rebase assist. */
export interface ConflictsApi {
  /**
   * Would merging `theirs` into `ours` (or rebasing `theirs` onto `ours`) conflict, and in which files?
   * Reads git objects only: no work tree is touched.
   */
  readonly preview: (
    input: { readonly repoPath: string; readonly ours: string; readonly theirs: string },
    options?: CallOptions
  ) => Promise<Preview>
  /** Classify each conflicted file (between two refs, or of a merge/rebase stopped in a worktree) and record it. */
  readonly detect: (
    input:
      | { readonly repoPath: string; readonly ours: string; readonly theirs: string; readonly sessionId?: string }
      | { readonly worktreePath: string; readonly sessionId?: string },
    options?: CallOptions
  ) => Promise<DetectReport>
  /** Proposed resolutions of a recorded conflict, each a whole file with a diff and a confidence. */
  readonly suggest: (
    input: { readonly conflictId: string; readonly worktreePath?: string },
    options?: CallOptions
  ) => Promise<ReadonlyArray<Suggestion>>
  /** Write a suggestion's file into a worktree (refused when the file changed since the suggestion was made). */
  readonly apply: (
    input: { readonly suggestionId: string; readonly worktreePath: string; readonly sessionId?: string },
    options?: CallOptions
  ) => Promise<ApplyResult>
  /** Recorded conflicts, newest first. */
  readonly history: (
    input?: {
      readonly repoPath?: string
      readonly type?: "TRIVIAL" | "CONCURRENT_EDIT" | "STRUCTURAL" | "SEMANTIC"
      readonly resolved?: boolean
      readonly path?: string
      readonly limit?: number
    },
    options?: CallOptions
  ) => Promise<ReadonlyArray<Conflict>>
  /** Recorded suggestions. */
  readonly suggestions: (
    input?: {
      readonly repoPath?: string
      readonly conflictId?: string
      readonly minConfidence?: number
      readonly applied?: boolean
      readonly limit?: number
    },
    options?: CallOptions
  ) => Promise<ReadonlyArray<Suggestion>>
  /** Check whether rebasing a worktree's branch onto `onto` conflicts (`mode: "check"`, default), or do it. */
  readonly rebaseAssist: (
    input: {
      readonly worktreePath: string
      readonly onto: string
      readonly mode?: "check" | "perform"
      readonly onConflict?: "stop" | "abort"
    },
    options?: CallOptions
  ) => Promise<RebaseReport>
}

/** Options of {@link SandboxApi.run}: besides `signal`, a callback for progress. */
export interface RunOptions extends CallOptions {
  /** Called with each progress event, in order (started, packed, sandbox ready, agent output lines, …). */
  readonly onEvent?: ((event: RunEvent) => void) | undefined
}

/** Sandboxed runs: one prompt, one agent, one sandbox; the changes come back in a worktree for review. */
export interface SandboxApi {
  /**
   * Run an agent unattended in a sandbox on a copy of the repository's work tree (`sandbox run --json`).
   * Resolves when the run has ended, also when the agent failed: look at `run.status` (`succeeded`,
   * `failed`, `timed_out`, `killed`, …) and `run.error`. Rejects only when the run cannot start or its
   * results cannot be handled. The agent's credentials (`ANTHROPIC_API_KEY`, …) and `PATH` come from
   * `env` (default: the client's `env` option; nothing when neither is given).
   */
  readonly run: (
    input: {
      readonly repoPath: string
      readonly prompt: string
      /** `local` (this machine; bubblewrap when available) or `e2b`; default: config `sandbox.provider`. */
      readonly provider?: "local" | "e2b"
      /** `claude`, `codex`, `gemini`, or the path of an executable reading the prompt on stdin; default: config `agent`. */
      readonly agent?: string
      /** `auto` (a branch named from the prompt) or a branch name: commit the changes there; default: uncommitted changes in a review worktree. */
      readonly branch?: string
      readonly template?: string
      /** A managed template (`templates list`): its setup commands and environment. */
      readonly useTemplate?: string
      /** The most this run may cost in US dollars (agent + sandbox time); lowered to what the daily/weekly/monthly budgets left. */
      readonly budgetUsd?: number
      /** Hard limit (default: config `sandbox.timeoutMinutes`). */
      readonly timeoutMinutes?: number
      /** Keep the sandbox afterwards (remove it with `sandbox.kill`). */
      readonly keep?: boolean
      /** Upload and verify only; start no agent. */
      readonly dryRun?: boolean
      readonly gitUser?: string
      readonly gitEmail?: string
      readonly authMethod?: "api-key" | "oauth"
      readonly env?: Readonly<Record<string, string | undefined>>
    },
    options?: RunOptions
  ) => Promise<RunResult>
  /** A run and whether its sandbox and supervisor are still there; works from any process. */
  readonly status: (input: { readonly sessionId: string }, options?: CallOptions) => Promise<SandboxStatus>
  /** Runs, newest first. */
  readonly list: (input?: { readonly repoPath?: string; readonly limit?: number }, options?: CallOptions) => Promise<ReadonlyArray<SandboxRun>>
  /** The (last `lines`) lines of a run's log. */
  readonly logs: (input: { readonly sessionId: string; readonly lines?: number }, options?: CallOptions) => Promise<ReadonlyArray<string>>
  /** Apply a run's changes to a directory (from its live or kept sandbox, else from the saved archive). */
  readonly download: (input: { readonly sessionId: string; readonly outputPath: string }, options?: CallOptions) => Promise<DownloadReport>
  /** Stop a live run (partial changes are collected first), or remove a kept sandbox. */
  readonly kill: (input: { readonly sessionId: string }, options?: CallOptions) => Promise<KillReport>
}

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

/** A parallel-cc client: plain async methods grouped by area. Close it when done. */
export interface Client {
  readonly sessions: SessionsApi
  readonly claims: ClaimsApi
  readonly merges: MergesApi
  readonly conflicts: ConflictsApi
  readonly sandbox: SandboxApi
  readonly parallel: ParallelApi
  /** Where this client keeps its state and the settings in effect. */
  readonly info: (options?: CallOptions) => Promise<ClientInfo>
  /** Interrupt running calls, then close the database. Idempotent. */
  readonly close: () => Promise<void>
  /** The same as {@link Client.close}, for `await using client = createClient()`. */
  readonly [Symbol.asyncDispose]: () => Promise<void>
}

const levels: Record<LogLevelName, LogLevel.LogLevel> = {
  none: LogLevel.None,
  error: LogLevel.Error,
  warning: LogLevel.Warning,
  info: LogLevel.Info,
  debug: LogLevel.Debug
}

const levelName = (level: LogLevel.LogLevel): LogEntry["level"] =>
  LogLevel.greaterThanEqual(level, LogLevel.Error)
    ? "error"
    : LogLevel.greaterThanEqual(level, LogLevel.Warning)
    ? "warning"
    : LogLevel.greaterThanEqual(level, LogLevel.Info)
    ? "info"
    : "debug"

const defaultLog = (e: LogEntry) => void process.stderr.write(`parallel-cc: ${e.level}: ${e.message}\n`)

const loggerLayer = (options: ClientOptions) => {
  const sink = options.log ?? defaultLog
  const logger = Logger.make(({ cause, logLevel, message }) => {
    const parts = (Array.isArray(message) ? message : [message]).map((m) => (typeof m === "string" ? m : String(m)))
    const text = Cause.isEmpty(cause) ? parts.join(" ") : `${parts.join(" ")}\n${Cause.pretty(cause)}`
    sink({ level: levelName(logLevel), message: text })
  })
  return Layer.mergeAll(
    Logger.replace(Logger.defaultLogger, logger),
    Logger.minimumLogLevel(levels[options.logLevel ?? "warning"])
  )
}

type Services = Live.Services | LiveSandbox.Services

/**
 * Create a client. Nothing is opened until the first call. Throws a `ConfigError` at once when `config`
 * names an unknown key or holds an invalid value.
 */
export const createClient = (options: ClientOptions = {}): Client => {
  const homeDir = options.homeDir ?? os.homedir()
  const provider = AppConfig.optionsProvider({ ...options, homeDir })
  if (provider._tag === "Left") throw provider.left
  const layer = LiveSandbox.services.pipe(
    Layer.provideMerge(Live.layer),
    Layer.provide(Layer.setConfigProvider(provider.right)),
    Layer.provide(loggerLayer(options))
  ) as Layer.Layer<Services, unknown>
  const build = () => ManagedRuntime.make(layer)
  let runtime = build()
  let closing: Promise<void> | undefined
  const running = new Map<AbortController, Promise<unknown>>()

  const abs = (p: string) => nodePath.resolve(options.cwd ?? process.cwd(), p)

  const call = <A>(method: string, effect: Effect.Effect<A, unknown, Services>, callOptions?: CallOptions): Promise<A> => {
    if (closing !== undefined) return Promise.reject(new ClientClosed({ method }))
    const controller = new AbortController()
    const signal = callOptions?.signal
    const onAbort = () => controller.abort("Aborted")
    if (signal?.aborted === true) controller.abort("Aborted")
    else signal?.addEventListener("abort", onAbort, { once: true })
    const rt = runtime
    const promise = (async () => {
      // A runtime whose layer failed to build (a locked or unreadable store) keeps failing: build a new one
      // for the next call, so that the store is tried again.
      const ready = await Effect.runPromiseExit(rt.runtimeEffect)
      if (Exit.isFailure(ready)) {
        if (runtime === rt && closing === undefined) runtime = build()
        void rt.dispose().catch(() => undefined)
        throw Cause.squash(ready.cause)
      }
      const exit = await rt.runPromiseExit(effect, { signal: controller.signal })
      if (Exit.isSuccess(exit)) return exit.value
      if (Cause.isInterruptedOnly(exit.cause)) {
        throw new Interrupted({ method, reason: controller.signal.reason === "ClientClosed" ? "ClientClosed" : "Aborted" })
      }
      throw Cause.squash(exit.cause)
    })().finally(() => {
      signal?.removeEventListener("abort", onAbort)
      running.delete(controller)
    })
    running.set(controller, promise)
    return promise
  }

  /** Run `body` with `input` decoded by `schema`. */
  const method = <I, A, Raw>(
    name: string,
    schema: Schema.Schema<I, Raw>,
    body: (input: I) => Effect.Effect<A, unknown, Services>
  ) =>
  (input?: unknown, callOptions?: CallOptions): Promise<A> =>
    call(name, Effect.flatMap(decodeInput(name, schema, input), body), callOptions)

  const mainRoot = (p: string) =>
    Effect.flatMap(Git, (git) => git.mainRoot(abs(p)).pipe(Effect.orElseSucceed(() => abs(p))))

  const selector = (name: string, input: { readonly sessionId?: Domain.SessionId | undefined; readonly pid?: number | undefined }) =>
    input.sessionId !== undefined && input.pid === undefined
      ? Effect.succeed<Sessions.SessionSelector>({ sessionId: input.sessionId })
      : input.pid !== undefined && input.sessionId === undefined
      ? Effect.succeed<Sessions.SessionSelector>({ pid: input.pid })
      : Effect.fail(new InvalidInput({ field: name, detail: "give exactly one of sessionId or pid" }))

  const sessions: SessionsApi = {
    register: method("sessions.register", RegisterInput, (input) =>
      Effect.flatMap(Sessions.Sessions, (s) =>
        s.register({ repo: abs(input.repoPath), pid: input.pid, forceWorktree: input.forceWorktree })).pipe(
          Effect.map((r) => encodeRegistration(r.registration))
        )),
    list: method("sessions.list", ListInput, (input) =>
      Effect.gen(function*() {
        const s = yield* Sessions.Sessions
        const repoPath = input.repoPath !== undefined ? yield* mainRoot(input.repoPath) : undefined
        const report = yield* s.status({ repoPath, mode: input.mode })
        return report.sessions.map(entry)
      })),
    status: method("sessions.status", StatusInput, (input) =>
      Effect.gen(function*() {
        const s = yield* Sessions.Sessions
        const repoPath = input.repoPath !== undefined ? yield* mainRoot(input.repoPath) : undefined
        const report = yield* s.status({ repoPath, mode: input.sandboxOnly === true ? "sandbox" : undefined })
        return {
          sessions: report.sessions.map(entry),
          kept: report.kept.map((k) => encodeSession(k)),
          released: report.released
        } satisfies StatusReport
      })),
    get: method("sessions.get", GetInput, (input) =>
      Effect.flatMap(SessionStore, (store) => store.get(input.sessionId)).pipe(Effect.map((s) => encodeSession(s)))),
    environment: method("sessions.environment", GetInput, (input) =>
      Effect.gen(function*() {
        const s = yield* Effect.flatMap(SessionStore, (store) => store.get(input.sessionId))
        const sessionsService = yield* Sessions.Sessions
        const config = yield* AppConfig.AppConfig
        const env: Record<string, string> = {
          PARALLEL_CC_SESSION_ID: s.sessionId,
          PARALLEL_CC_WORKTREE: s.worktreePath,
          PARALLEL_CC_HEARTBEAT_FILE: sessionsService.heartbeatFile(s.sessionId)
        }
        if (s.portBase !== null) {
          env.PARALLEL_CC_PORT_BASE = String(s.portBase)
          env.PARALLEL_CC_PORT_COUNT = String(config.values["ports.blockSize"])
        }
        return env
      })),
    release: method("sessions.release", ReleaseInput, (input) =>
      Effect.gen(function*() {
        const sel = yield* selector("sessions.release", input)
        const s = yield* Sessions.Sessions
        return yield* s.release(sel, { force: input.force })
      })),
    heartbeat: method("sessions.heartbeat", SelectInput, (input) =>
      Effect.gen(function*() {
        const sel = yield* selector("sessions.heartbeat", input)
        const s = yield* Sessions.Sessions
        return { touched: yield* s.heartbeat(sel) }
      })),
    cleanup: method("sessions.cleanup", CleanupInput, (input) =>
      Effect.flatMap(Sessions.Sessions, (s) => s.cleanup({ dryRun: input.dryRun, force: input.force })))
  }

  const claims: ClaimsApi = {
    acquire: method("claims.acquire", AcquireInput, (input) =>
      Effect.flatMap(ClaimsLedger.ClaimsLedger, (ledger) =>
        ledger.acquire({
          sessionId: input.sessionId,
          path: input.path,
          mode: input.mode ?? "EXCLUSIVE",
          ttlMinutes: input.ttlMinutes,
          reason: input.reason
        })).pipe(
          Effect.map((a): Acquired => ({ claim: encodeClaim(a.claim), change: a.change, others: a.others.map((c) => encodeClaim(c)) }))
        )),
    release: method("claims.release", ReleaseClaimInput, (input) =>
      Effect.flatMap(ClaimsLedger.ClaimsLedger, (ledger) => ledger.release(input.sessionId, input.path)).pipe(
        Effect.map((c) => encodeClaim(c))
      )),
    releaseAll: method("claims.releaseAll", ReleaseAllInput, (input) =>
      Effect.gen(function*() {
        yield* Effect.flatMap(SessionStore, (store) => store.get(input.sessionId))
        const ledger = yield* ClaimsLedger.ClaimsLedger
        const released = yield* ledger.releaseSession(input.sessionId, "released")
        return released.map((c) => encodeClaim(c))
      })),
    list: method("claims.list", ClaimListInput, (input) =>
      Effect.gen(function*() {
        const ledger = yield* ClaimsLedger.ClaimsLedger
        const git = yield* Git
        const repoPath = input.repoPath !== undefined ? yield* mainRoot(input.repoPath) : undefined
        let filePath: string | undefined
        if (input.path !== undefined) {
          if (repoPath === undefined) {
            return yield* new InvalidInput({ field: "claims.list.path", detail: "give repoPath too: paths are relative to a repository" })
          }
          const worktree = yield* git.toplevel(abs(input.repoPath!)).pipe(Effect.option, Effect.map(Option.getOrUndefined))
          filePath = yield* ledger.normalize({ repoPath, worktreePath: worktree }, input.path)
        }
        const found = yield* ledger.list({ repoPath, sessionId: input.sessionId, filePath })
        return found.map((c) => encodeClaim(c))
      }))
  }

  const checkBranch = (name: string | undefined) =>
    name === undefined ? Effect.succeed(undefined) : Effect.flatMap(Git, (git) => git.checkBranchName(name))

  const merges: MergesApi = {
    status: method("merges.status", MergeStatusInput, (input) =>
      Effect.gen(function*() {
        const watcher = yield* MergeWatcher.MergeWatcher
        const repoPath = input.repoPath !== undefined ? yield* mainRoot(input.repoPath) : undefined
        const branch = yield* checkBranch(input.branch)
        const events = yield* watcher.events({ repoPath, branch, limit: input.limit ?? 20 })
        return events.map((e) => encodeEvent(e))
      })),
    subscriptions: method("merges.subscriptions", SubscriptionsInput, (input) =>
      Effect.gen(function*() {
        const watcher = yield* MergeWatcher.MergeWatcher
        const repoPath = input.repoPath !== undefined ? yield* mainRoot(input.repoPath) : undefined
        const branch = yield* checkBranch(input.branch)
        const subs = yield* watcher.subscriptions({
          repoPath,
          branch,
          sessionId: input.sessionId,
          pendingOnly: input.pendingOnly,
          limit: input.limit ?? 20
        })
        return subs.map((s) => encodeSubscription(s))
      })),
    check: method("merges.check", CheckInput, (input) =>
      Effect.gen(function*() {
        const watcher = yield* MergeWatcher.MergeWatcher
        const repoPath = yield* Effect.flatMap(Git, (git) => git.mainRoot(abs(input.repoPath)))
        const status = yield* watcher.check({ repoPath, branch: input.branch, targetBranch: input.targetBranch })
        return { ...status, event: status.event !== null ? encodeEvent(status.event) : null } satisfies BranchStatus
      })),
    subscribe: method("merges.subscribe", SubscribeInput, (input) =>
      Effect.gen(function*() {
        const watcher = yield* MergeWatcher.MergeWatcher
        const session = yield* Effect.flatMap(SessionStore, (store) => store.get(input.sessionId))
        const branch = input.branch ?? session.branch
        if (branch === null) {
          return yield* new InvalidInput({
            field: "merges.subscribe.branch",
            detail: `session ${session.sessionId} works in the repository itself and has no branch of its own; name the branch`
          })
        }
        const r = yield* watcher.subscribe({
          sessionId: session.sessionId,
          repoPath: session.repoPath,
          branch,
          targetBranch: input.targetBranch
        })
        return {
          subscription: encodeSubscription(r.subscription),
          created: r.created,
          alreadyMerged: r.alreadyMerged !== null ? encodeEvent(r.alreadyMerged) : null
        } satisfies SubscribeResult
      })),
    poll: method("merges.poll", strict({}), () =>
      Effect.flatMap(MergeWatcher.MergeWatcher, (w) => w.poll).pipe(
        Effect.map((r): PollReport => ({ ...r, events: r.events.map((e) => encodeEvent(e)) }))
      ))
  }

  const conflicts: ConflictsApi = {
    preview: method("conflicts.preview", PreviewInput, (input) =>
      Effect.flatMap(Conflicts.Conflicts, (c) => c.preview({ repo: abs(input.repoPath), ours: input.ours, theirs: input.theirs }))),
    detect: method("conflicts.detect", DetectInput, (input) =>
      Effect.flatMap(Conflicts.Conflicts, (c) =>
        "worktreePath" in input
          ? c.detect({ worktree: abs(input.worktreePath), sessionId: input.sessionId })
          : c.detect({ repo: abs(input.repoPath), ours: input.ours, theirs: input.theirs, sessionId: input.sessionId }))),
    suggest: method("conflicts.suggest", SuggestInput, (input) =>
      Effect.flatMap(Conflicts.Conflicts, (c) =>
        c.suggest({
          conflictId: input.conflictId,
          worktree: input.worktreePath !== undefined ? abs(input.worktreePath) : undefined
        }))),
    apply: method("conflicts.apply", ApplyInput, (input) =>
      Effect.flatMap(Conflicts.Conflicts, (c) =>
        c.apply({ suggestionId: input.suggestionId, worktree: abs(input.worktreePath), sessionId: input.sessionId }))),
    history: method("conflicts.history", HistoryInput, (input) =>
      Effect.flatMap(Conflicts.Conflicts, (c) =>
        c.history({
          repo: input.repoPath !== undefined ? abs(input.repoPath) : undefined,
          type: input.type,
          resolved: input.resolved,
          path: input.path,
          limit: input.limit
        }))),
    suggestions: method("conflicts.suggestions", SuggestionsInput, (input) =>
      Effect.flatMap(Conflicts.Conflicts, (c) =>
        c.suggestions({
          repo: input.repoPath !== undefined ? abs(input.repoPath) : undefined,
          conflictId: input.conflictId,
          minConfidence: input.minConfidence,
          applied: input.applied,
          limit: input.limit
        }))),
    rebaseAssist: method("conflicts.rebaseAssist", RebaseInput, (input) =>
      Effect.flatMap(Conflicts.Conflicts, (c) =>
        c.rebaseAssist({
          worktree: abs(input.worktreePath),
          onto: input.onto,
          mode: input.mode ?? "check",
          onConflict: input.onConflict
        })))
  }

  const info = (callOptions?: CallOptions) =>
    call(
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

  const host = (env: Readonly<Record<string, string | undefined>> | undefined): Sandboxes.HostContext => ({
    env: env ?? options.env ?? {},
    homeDir,
    cwd: options.cwd ?? process.cwd()
  })

  const runResult = (r: Sandboxes.RunResult): RunResult => ({
    run: encodeRun(r.run),
    isolation: r.isolation,
    changes: r.changes,
    refused: r.refused,
    worktreePath: r.worktreePath,
    branch: r.branch,
    commit: r.commit,
    warnings: r.warnings
  })

  const sandbox: SandboxApi = {
    run: (input, runOptions) =>
      call(
        "sandbox.run",
        Effect.gen(function*() {
          const i = yield* decodeInput("sandbox.run", SandboxRunInput, input)
          const sandboxes = yield* Sandboxes.Sandboxes
          const onEvent = runOptions?.onEvent
          const result = yield* sandboxes.run(
            {
              repo: abs(i.repoPath),
              prompt: i.prompt,
              provider: i.provider,
              agent: i.agent,
              branch: i.branch,
              template: i.template,
              useTemplate: i.useTemplate,
              budgetUsd: i.budgetUsd,
              timeoutMs: i.timeoutMinutes !== undefined ? Math.round(i.timeoutMinutes * 60_000) : undefined,
              keep: i.keep,
              dryRun: i.dryRun,
              gitUser: i.gitUser,
              gitEmail: i.gitEmail,
              authMethod: i.authMethod,
              host: host(i.env)
            },
            onEvent !== undefined ? (e) => Effect.sync(() => onEvent(e)) : undefined
          )
          return runResult(result)
        }),
        runOptions
      ),
    status: method("sandbox.status", RunIdInput, (input) =>
      Effect.flatMap(Sandboxes.Sandboxes, (s) => s.status(input.sessionId, host(undefined))).pipe(
        Effect.map((r): SandboxStatus => ({ run: encodeRun(r.run), sandbox: r.sandbox, supervisorAlive: r.supervisorAlive }))
      )),
    list: method("sandbox.list", SandboxListInput, (input) =>
      Effect.gen(function*() {
        const s = yield* Sandboxes.Sandboxes
        const repoPath = input.repoPath !== undefined ? yield* mainRoot(input.repoPath) : undefined
        const runs = yield* s.list({ repoPath, limit: input.limit })
        return runs.map((r) => encodeRun(r))
      })),
    logs: method("sandbox.logs", SandboxLogsInput, (input) =>
      Effect.flatMap(Sandboxes.Sandboxes, (s) => s.logs(input.sessionId, { lines: input.lines }))),
    download: method("sandbox.download", DownloadInput, (input) =>
      Effect.flatMap(Sandboxes.Sandboxes, (s) => s.download(input.sessionId, abs(input.outputPath), host(undefined))).pipe(
        Effect.map((r): DownloadReport => ({
          source: r.source,
          changes: r.changes,
          written: r.written,
          deleted: r.deleted,
          refused: r.refused
        }))
      )),
    kill: method("sandbox.kill", RunIdInput, (input) =>
      Effect.flatMap(Sandboxes.Sandboxes, (s) => s.kill(input.sessionId, host(undefined))).pipe(
        Effect.map((r): KillReport => ({ run: encodeRun(r.run), action: r.action }))
      ))
  }

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
            provider: i.provider,
            agent: i.agent,
            branch: i.branch,
            template: i.template,
            useTemplate: i.useTemplate,
            budgetUsd: i.budgetUsd,
            timeoutMs: i.timeoutMinutes !== undefined ? Math.round(i.timeoutMinutes * 60_000) : undefined,
            gitLive: i.gitLive,
            gitUser: i.gitUser,
            gitEmail: i.gitEmail,
            authMethod: i.authMethod
          },
          h,
          onEvent
        )
      }),
      callOptions
    )

  const parallel: ParallelApi = {
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

  const close = (): Promise<void> => {
    if (closing === undefined) {
      closing = (async () => {
        const pending = [...running]
        for (const [controller] of pending) controller.abort("ClientClosed")
        await Promise.allSettled(pending.map(([, p]) => p))
        await runtime.dispose()
      })()
    }
    return closing
  }

  const client = { sessions, claims, merges, conflicts, sandbox, parallel, info, close }
  // Node >= 20.4 defines Symbol.asyncDispose (engines: >= 20.11); on a runtime without it the client is
  // still usable through close(), just not with `await using`.
  if (typeof Symbol.asyncDispose === "symbol") Object.defineProperty(client, Symbol.asyncDispose, { value: close })
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
