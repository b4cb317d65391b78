/**
 * The sandbox provider interface: what the `Sandboxes` service needs from a place that runs an agent in
 * isolation. Two providers implement it: `local` (a copy of the work tree in a temp directory, under
 * bubblewrap when it works, else a plain process) and `e2b` (a cloud VM through the `e2b` SDK).
 *
 * A provider never decides anything about runs, branches or the database: it creates, feeds, watches and
 * removes sandboxes, and can find one again by its id from another process.
 *
 * @since 0.1.0
 */
import type { Scope, Stream } from "effect"
import { Context, Effect, Schema } from "effect"
import type { EgressPolicy } from "./EgressPolicy.js"

/** The providers parallel-cc knows. */
export const ProviderName = Schema.Literal("local", "e2b")
export type ProviderName = typeof ProviderName.Type

/** How well a sandbox is isolated from the machine that started it. */
export const IsolationKind = Schema.Literal("bwrap", "process", "e2b")
export type IsolationKind = typeof IsolationKind.Type

/** Which isolation is active, with a line a person can read ("bubblewrap: read-only system, …"). */
export const Isolation = Schema.Struct({
  kind: IsolationKind,
  /** True when the agent cannot touch the rest of the machine (bubblewrap or a VM). */
  isolated: Schema.Boolean,
  description: Schema.String
})
export type Isolation = typeof Isolation.Type

/** A provider failed. `reason` says which family; the message says what to do. */
export class SandboxError extends Schema.TaggedError<SandboxError>()("SandboxError", {
  reason: Schema.Literal(
    "Unavailable",
    "Authentication",
    "RateLimited",
    "Timeout",
    "CreateFailed",
    "UploadFailed",
    "DownloadFailed",
    "CommandFailed",
    "Died",
    "Unsupported"
  ),
  provider: ProviderName,
  sandboxId: Schema.optional(Schema.String),
  detail: Schema.optional(Schema.String),
  /** Set by a provider that knows the failure is temporary (no capacity, a dropped connection). */
  transient: Schema.optional(Schema.Boolean),
  cause: Schema.optional(Schema.Defect)
}) {
  override get message(): string {
    const where = `${this.provider} sandbox${this.sandboxId !== undefined ? ` ${this.sandboxId}` : ""}`
    const detail = this.detail !== undefined ? `: ${this.detail}` : ""
    switch (this.reason) {
      case "Unavailable":
        return `the ${this.provider} provider is not available${detail}`
      case "Authentication":
        return `the ${this.provider} provider refused the credentials${detail} (check E2B_API_KEY, or use --provider local)`
      case "RateLimited":
        return `the ${this.provider} provider is rate limiting requests${detail}; wait a minute and retry`
      case "Timeout":
        return `${where} timed out${detail}`
      case "CreateFailed":
        return `could not create a sandbox on ${this.provider}${detail}`
      case "UploadFailed":
        return `could not upload the work tree to ${where}${detail}`
      case "DownloadFailed":
        return `could not download the changes from ${where}${detail}`
      case "CommandFailed":
        return `a command failed in ${where}${detail}`
      case "Died":
        return `${where} stopped unexpectedly${detail}`
      case "Unsupported":
        return `${this.provider} provider: ${this.detail ?? "unsupported operation"}`
    }
  }
}

/**
 * Whether retrying the same operation later may succeed: rate limiting, provider timeouts, a sandbox that
 * died under the agent, or what the provider marked as temporary. Never an agent's own failure, refused
 * credentials, or a missing provider.
 */
export const isTransient = (e: SandboxError): boolean =>
  e.transient ?? (e.reason === "RateLimited" || e.reason === "Timeout" || e.reason === "Died")

/** No sandbox with this id exists any more (it was killed, timed out, or never existed). */
export class SandboxNotFound extends Schema.TaggedError<SandboxNotFound>()("SandboxNotFound", {
  provider: ProviderName,
  sandboxId: Schema.String
}) {
  override get message(): string {
    return `the ${this.provider} sandbox ${this.sandboxId} no longer exists (killed, timed out or removed)`
  }
}

/** What to create. */
export interface CreateOptions {
  /** The run (session id) the sandbox belongs to; recorded as metadata and in local directory names. */
  readonly runId: string
  /** A provider template or image name (`--template`); the provider's default when undefined. */
  readonly template?: string | undefined
  /** The sandbox's lifetime; a provider kills it after this even if nobody does. */
  readonly timeoutMs: number
  /** Sandbox-wide environment (never secrets: those go with the agent command or as secret files). */
  readonly env: Readonly<Record<string, string>>
  readonly metadata: Readonly<Record<string, string>>
  /** Host paths the agent command needs to see read-only (its executable), for providers that share the host. */
  readonly hostExecutables?: ReadonlyArray<string> | undefined
  /**
   * Host paths a provider on this machine must never show to the agent, not even inside a directory it
   * mounts for the executables: the user's home directory, the repository.
   */
  readonly protect?: ReadonlyArray<string> | undefined
  /** What the agent may reach (see `EgressPolicy`); the provider's own default when undefined. */
  readonly network?: EgressPolicy | undefined
  /**
   * A directory of the caller's (the run's worktree, a fresh checkout of the base commit) for the agent to
   * work in, instead of a copy: a provider on this machine that can works there in place
   * (`Sandbox.workTree` then says so); the others ignore it.
   */
  readonly workTree?: string | undefined
}

/** A host the egress policy refused, how often, and why. */
export interface RefusedHost {
  readonly host: string
  readonly port: number
  readonly reason: string
  readonly count: number
}

/** A process to run in a sandbox: an argument array (never a shell line), its environment and stdin. */
export interface SandboxCommand {
  readonly argv: readonly [string, ...Array<string>]
  /** The whole environment of the process (providers add PATH, HOME and TMPDIR when absent). */
  readonly env: Readonly<Record<string, string>>
  /** Written to the process's stdin, then closed. */
  readonly stdin?: string | undefined
  /** Working directory inside the sandbox; default: the work tree copy. */
  readonly cwd?: string | undefined
}

/** A file written into the sandbox user's home for the time of a run (SSH key, .npmrc, credentials). */
export interface SecretFile {
  /** Relative to the sandbox's home directory, e.g. `.ssh/id_parallel_cc`. */
  readonly path: string
  readonly content: string
  readonly mode: number
}

/** How an agent process ended. `signal` is set when it was killed by one. */
export interface ProcessExit {
  readonly exitCode: number | null
  readonly signal?: string | undefined
}

/** An agent started in the background. Its output is a stream of stdout lines. */
export interface AgentProcess {
  /** Process id as the provider sees it (host pid for `local`, in-sandbox pid for `e2b`). */
  readonly pid: number
  /** stdout, split into lines (without the newline). Ends when the process closes it. */
  readonly stdout: Stream.Stream<string, SandboxError>
  /** stderr, split into lines. */
  readonly stderr: Stream.Stream<string, SandboxError>
  /** Completes when the process exits. */
  readonly exit: Effect.Effect<ProcessExit, SandboxError>
  /** Stop the process (TERM, then KILL after a grace period). Never fails. */
  readonly kill: Effect.Effect<void>
}

/** A file list of changes (paths relative to the work tree root, `/`-separated). */
export interface ChangeList {
  readonly added: ReadonlyArray<string>
  readonly modified: ReadonlyArray<string>
  readonly deleted: ReadonlyArray<string>
}

/**
 * The agent's changes since the upload: one gzipped tar of the added and modified files (regular files and
 * symlinks), plus the lists. Treat both as untrusted: they come from inside the sandbox.
 */
export interface Changes extends ChangeList {
  readonly archive: Uint8Array
  /** Changed paths the provider would not pack (special files, paths beneath a symlink), with the reason. */
  readonly refused: ReadonlyArray<{ readonly path: string; readonly reason: string }>
}

/** Options of an upload. */
export interface UploadOptions {
  /**
   * Extra ignore patterns (gitignore syntax) that applied in the source repository but are not part of the
   * uploaded files (`.git/info/exclude`, the user's `core.excludesFile`), so that new files matching them
   * are not reported as changes.
   */
  readonly excludes?: string | undefined
}

/** The result of an upload. */
export interface UploadResult {
  readonly files: number
}

/** A live sandbox (created, or found again by id). */
export interface Sandbox {
  readonly provider: ProviderName
  /** The provider's id: enough to find this sandbox again from another process. */
  readonly id: string
  readonly isolation: Isolation
  /** Absolute path of the work tree copy inside the sandbox (the agent's working directory). */
  readonly workdir: string
  /** The sandbox user's home directory (inside the sandbox). */
  readonly home: string
  /** Unpack the work tree archive (a gzipped tar) into `workdir` and remember it as the baseline. */
  readonly upload: (archive: Uint8Array, options?: UploadOptions) => Effect.Effect<UploadResult, SandboxError>
  /**
   * Copy `files` (relative to `root`, as listed by `FileSync.list`) into `workdir` and remember them as the
   * baseline: the same result as `upload` of their archive, without packing one. Only providers that run on
   * this machine have it; callers fall back to `upload` without it.
   */
  readonly uploadTree?: ((root: string, files: ReadonlyArray<string>, options?: UploadOptions) => Effect.Effect<UploadResult, SandboxError>) | undefined
  /** The files in `workdir` now (for `--dry-run` verification), relative and sorted. */
  readonly listFiles: Effect.Effect<ReadonlyArray<string>, SandboxError>
  /** Write files into the home directory with their modes; returns their paths inside the sandbox. */
  readonly writeSecretFiles: (files: ReadonlyArray<SecretFile>) => Effect.Effect<ReadonlyArray<string>, SandboxError>
  /** Remove files written by `writeSecretFiles` (idempotent; never fails). */
  readonly removeSecretFiles: (files: ReadonlyArray<SecretFile>) => Effect.Effect<void>
  /** Run a command to completion (setup commands). A non-zero exit is a result, not a failure. */
  readonly exec: (
    command: SandboxCommand,
    options?: { readonly timeoutMs?: number | undefined }
  ) => Effect.Effect<{ readonly exitCode: number; readonly stdout: string; readonly stderr: string }, SandboxError>
  /** Start a process in the background; it is stopped when the scope closes. */
  readonly start: (command: SandboxCommand) => Effect.Effect<AgentProcess, SandboxError, Scope.Scope>
  /** The changes since `upload`: added, modified, deleted files, and an archive of the first two. */
  readonly changes: Effect.Effect<Changes, SandboxError>
  /** The caller's directory the agent works in (`CreateOptions.workTree`), when the provider took it. */
  readonly workTree?: string | undefined
  /**
   * With `workTree`: put in the differences of the work tree at `root` from the base commit (`dirty`,
   * from `FileSync.survey`) and record the baseline — the upload of a sandbox that works in place.
   */
  readonly prepareWorkTree?: ((root: string, dirty: ReadonlyArray<string>) => Effect.Effect<UploadResult, SandboxError>) | undefined
  /**
   * With `workTree`, after the agent: leave it holding the base commit plus the accepted `changes` (what
   * was refused, ignored files and the untouched uploaded differences taken out); what else it removed.
   */
  readonly settleWorkTree?: ((changes: Changes) => Effect.Effect<ReadonlyArray<{ readonly path: string; readonly reason: string }>, SandboxError>) | undefined
  /** The hosts the egress policy refused so far (providers that filter the network themselves). */
  readonly refusedHosts?: Effect.Effect<ReadonlyArray<RefusedHost>> | undefined
}

/** What `list` reports about a sandbox the provider still has. */
export interface SandboxInfo {
  readonly provider: ProviderName
  readonly id: string
  readonly runId: string | undefined
  readonly startedAt: Date | undefined
  readonly state: "running" | "stopped"
}

/** Liveness of a sandbox by id. `stopped`: it exists but its agent is no longer running. */
export type SandboxState = "running" | "stopped" | "gone"

export interface SandboxProvider {
  readonly name: ProviderName
  /** Which isolation a new sandbox would get, or why the provider cannot be used (no key, …). */
  readonly probe: Effect.Effect<Isolation, SandboxError>
  readonly create: (options: CreateOptions) => Effect.Effect<Sandbox, SandboxError>
  /** Find a sandbox again by id (from any process). */
  readonly connect: (sandboxId: string) => Effect.Effect<Sandbox, SandboxError | SandboxNotFound>
  readonly state: (sandboxId: string) => Effect.Effect<SandboxState, SandboxError>
  /** Stop the agent and remove the sandbox. `false` when it was already gone. */
  readonly kill: (sandboxId: string) => Effect.Effect<boolean, SandboxError>
  /** The sandboxes this provider has that parallel-cc created. */
  readonly list: Effect.Effect<ReadonlyArray<SandboxInfo>, SandboxError>
}

/** The registry of providers; the Live layer registers `local` and `e2b`, tests may register doubles. */
export class SandboxProviders extends Context.Tag("@parallel-cc/core/SandboxProviders")<SandboxProviders, {
  /** The names of the registered providers. */
  readonly names: ReadonlyArray<ProviderName>
  /** A provider bound to the caller's context (its credentials come from `context.env`). */
  readonly get: (name: ProviderName, context: ProviderContext) => Effect.Effect<SandboxProvider, SandboxError>
}>() {}

/** What a provider may use from the process that asks: its environment (E2B_API_KEY, …). */
export interface ProviderContext {
  readonly env: Readonly<Record<string, string | undefined>>
}

/** A provider that depends on the caller's context. */
export type ProviderFactory = (context: ProviderContext) => SandboxProvider

/** A registry from a fixed set of providers (plain values, or factories of the caller's context). */
export const fromProviders = (
  providers: Readonly<Partial<Record<ProviderName, SandboxProvider | ProviderFactory>>>
): Context.Tag.Service<SandboxProviders> => ({
  names: Object.keys(providers) as Array<ProviderName>,
  get: (name, context) => {
    const p = providers[name]
    if (p === undefined) {
      return Effect.fail(new SandboxError({ reason: "Unavailable", provider: name, detail: "no such provider is registered" }))
    }
    return Effect.succeed(typeof p === "function" ? p(context) : p)
  }
})
