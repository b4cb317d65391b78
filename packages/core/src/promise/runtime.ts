/**
 * The kernel of the Promise facade: its own errors, the client options, and the runtime every area's methods
 * run on — one ManagedRuntime over the production layer, calls that reject with the typed error (never a
 * FiberFailure), AbortSignal support, and `close()` interrupting what still runs. Each area (`sessions.ts`,
 * `claims.ts`, …) is a function of the {@link Facade} this module builds.
 *
 * @since 0.2.0
 */
import { Cause, Effect, Exit, Layer, Logger, LogLevel, ManagedRuntime, Schema } from "effect"
import * as nodePath from "node:path"
import * as os from "node:os"
import * as AppConfig from "../platform/AppConfig.js"
import type * as Domain from "../Domain.js"
import { InvalidInput } from "../Errors.js"
import { Git } from "../platform/Git.js"
import * as Live from "../live/Live.js"
import * as LiveSandbox from "../live/LiveSandbox.js"
import type * as Sandboxes from "../sandboxes/Sandboxes.js"
import type * as Sessions from "../sessions/Sessions.js"
import { decodeInput } from "./input.js"

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
  "LandEntryNotFound",
  "LandError",
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

/** Where this client keeps its state, and the settings in effect. */
export interface ClientInfo {
  readonly dataDir: string
  readonly dbPath: string
  readonly configFile: string
  readonly values: AppConfig.Values
  readonly sources: { readonly [K in AppConfig.KeyName]: AppConfig.Source }
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

export type Services = Live.Services | LiveSandbox.Services

/** What every area's methods are built from. */
export interface Facade {
  readonly options: ClientOptions
  readonly homeDir: string
  /** Run `effect` as the client method `method` (rejecting with its typed error, interruptible by `signal`). */
  readonly call: <A>(method: string, effect: Effect.Effect<A, unknown, Services>, callOptions?: CallOptions) => Promise<A>
  /** A client method: `input` decoded by `schema` (an InvalidInput naming the field otherwise), then `body`. */
  readonly method: <I, A, Raw>(
    name: string,
    schema: Schema.Schema<I, Raw>,
    body: (input: I) => Effect.Effect<A, unknown, Services>
  ) => (input?: unknown, callOptions?: CallOptions) => Promise<A>
  /** A path of an input, resolved against the client's `cwd`. */
  readonly abs: (p: string) => string
  /** The main checkout of the repository at `p` (or `p` itself when it is none). */
  readonly mainRoot: (p: string) => Effect.Effect<string, never, Git>
  /** Exactly one of sessionId or pid, as a session selector. */
  readonly selector: (
    name: string,
    input: { readonly sessionId?: Domain.SessionId | undefined; readonly pid?: number | undefined }
  ) => Effect.Effect<Sessions.SessionSelector, InvalidInput>
  /** What a sandboxed run sees of this host: `env` (default: the client's `env` option), home, cwd. */
  readonly host: (env: Readonly<Record<string, string | undefined>> | undefined) => Sandboxes.HostContext
  /** Interrupt running calls, then close the database. Idempotent. */
  readonly close: () => Promise<void>
}

/**
 * The kernel of a client. Nothing is opened until the first call. Throws a `ConfigError` at once when
 * `config` names an unknown key or holds an invalid value.
 */
export const makeFacade = (options: ClientOptions): Facade => {
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

  const host = (env: Readonly<Record<string, string | undefined>> | undefined): Sandboxes.HostContext => ({
    env: env ?? options.env ?? {},
    homeDir,
    cwd: options.cwd ?? process.cwd()
  })

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

  return { options, homeDir, call, method, abs, mainRoot, selector, host, close }
}
