/**
 * The shapes of a sandboxed run, shared by the parts of its pipeline: what a caller asks for
 * ({@link RunRequest}, with the {@link HostContext} of the process that asks), the progress it sees
 * ({@link RunEvent}), what a run leaves ({@link RunResult}), the reports of the cross-process commands, and
 * the run's own error ({@link SandboxRunError}). `Sandboxes` re-exports all of them.
 *
 * @since 0.1.0
 */
import { type Effect, Either, type Redacted, Schema } from "effect"
import type * as Agents from "./AgentAdapters.js"
import type { DbFailure } from "../platform/Database.js"
import type { InvalidInput } from "../Errors.js"
import type { Applied, FileSyncError } from "./FileSync.js"
import type { GitError } from "../platform/Git.js"
import type { NetworkMode } from "./EgressPolicy.js"
import type { ChangeList, Isolation, ProviderName, RefusedHost, SandboxError, SandboxNotFound, SandboxState } from "./SandboxProvider.js"
import type { RunStatus, SandboxRun, SandboxRunNotFound } from "./SandboxRuns.js"
import type { RunCache } from "./runCache.js"
import type * as Templates from "./Templates.js"

export interface HostContext {
  readonly env: Readonly<Record<string, string | undefined>>
  readonly homeDir: string
  readonly cwd: string
}

/** One sandboxed run. Everything optional falls back to configuration. */
export interface RunRequest {
  /** A directory inside the repository. */
  readonly repo: string
  readonly prompt: string
  readonly provider?: ProviderName | undefined
  /** `claude`, `codex`, `gemini`, or the path/name of an executable (default: config `agent`). */
  readonly agent?: string | undefined
  /** `auto`, a branch name, or undefined for uncommitted changes in a review worktree. */
  readonly branch?: string | undefined
  readonly gitUser?: string | undefined
  readonly gitEmail?: string | undefined
  readonly authMethod?: Agents.AuthMethod | undefined
  /** A private key to give the agent (for git over SSH); requires `sshKeyConfirmed`. */
  readonly sshKey?: string | undefined
  readonly sshKeyConfirmed?: boolean | undefined
  readonly npmToken?: Redacted.Redacted<string> | undefined
  readonly npmRegistry?: string | undefined
  /** The provider's template/image. */
  readonly template?: string | undefined
  /** Hard limit (default config `sandbox.timeoutMinutes`). */
  readonly timeoutMs?: number | undefined
  /** Keep the sandbox after the run instead of killing it. */
  readonly keep?: boolean | undefined
  /** Upload and verify only; no agent. */
  readonly dryRun?: boolean | undefined
  /** A managed template (setup commands and environment, see `Templates`). */
  readonly useTemplate?: string | undefined
  /** The most this run may cost (agent + sandbox time); lowered to what the daily/weekly/monthly budgets left. */
  readonly budgetUsd?: number | undefined
  /**
   * Push the run's branch and open a pull request with `gh` (implies `branch: "auto"` unless a name is
   * given). Pushing and the PR happen on this machine, with your git remote and `GITHUB_TOKEN`; the
   * sandbox never gets them.
   */
  readonly gitLive?: boolean | undefined
  /** The pull request's base (default: the branch checked out in the repository). */
  readonly targetBranch?: string | undefined
  /**
   * Asked before a `gitLive` run when other sessions are active in the repository; `false` keeps the
   * results local for review instead (no branch, no push). Without it the run warns and goes on.
   */
  readonly confirmGitLive?: ((message: string) => Effect.Effect<boolean>) | undefined
  /**
   * What the agent may reach: `allow` (its model API, the repository's package registries and `allowHosts`,
   * through a filtering proxy; everything else refused and reported), `on` or `off`. Default: config
   * `sandbox.network` (`auto`: `allow` for the local provider, `on` for e2b).
   */
  readonly network?: NetworkMode | undefined
  /** Hosts the agent may reach in `allow` mode besides the defaults (`HOST`, `HOST:PORT`, `*.DOMAIN`). */
  readonly allowHosts?: ReadonlyArray<string> | undefined
  /** Shared by runs started together (see `makeRunCache`): repository facts are asked of git once. */
  readonly cache?: RunCache | undefined
  /**
   * A gate around the agent phase: the pipeline prepares everything before it (session, checks, sandbox,
   * upload), then runs the credentials, the template's setup commands and the agent inside
   * `agentSlot(phase)`, and collects the changes after it. A caller that bounds how many agents run at once
   * passes a semaphore's `withPermits(1)` here: the slot is held from just before the agent starts until
   * its process has exited, never while the task prepares or collects. The agent's time limit and warnings
   * start when the agent starts, and time spent waiting here is not sandbox time for budgets. Without it
   * the agent starts as soon as its sandbox is ready.
   */
  readonly agentSlot?: (<A, E, R>(phase: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>) | undefined
  readonly host: HostContext
}


export type RunEvent =
  | { readonly _tag: "Started"; readonly sessionId: string; readonly repoPath: string; readonly provider: ProviderName; readonly agent: string }
  | {
    readonly _tag: "Packed"
    readonly files: number
    readonly bytes: number
    /** `bytes` is the size of one compressed archive (remote providers), else of the files copied as they are. */
    readonly compressed: boolean
    /**
     * The agent works in the run's worktree (a checkout of the base commit): `files` are its files, `bytes`
     * the size of the uncommitted changes put in.
     */
    readonly inPlace?: boolean | undefined
  }
  | { readonly _tag: "SandboxReady"; readonly sandboxId: string; readonly isolation: Isolation }
  | { readonly _tag: "Uploaded"; readonly files: number }
  | { readonly _tag: "SetupCommand"; readonly command: string }
  | { readonly _tag: "AgentStarted"; readonly command: string }
  | { readonly _tag: "AgentOutput"; readonly line: string }
  | { readonly _tag: "Warning"; readonly message: string }
  | {
    readonly _tag: "AgentExited"
    readonly exitCode: number | null
    readonly signal: string | undefined
    /** What the run's status will be (from the agent's outcome), unless handling its results fails. */
    readonly status: RunStatus
  }
  | { readonly _tag: "ChangesApplied"; readonly changes: ChangeList; readonly worktreePath: string | null; readonly branch: string | null }
  | { readonly _tag: "PullRequest"; readonly url: string | null; readonly error: string | null }
  | { readonly _tag: "Finished"; readonly status: RunStatus }

/** What a run left behind. */
export interface RunResult {
  readonly run: SandboxRun
  readonly isolation: Isolation
  readonly changes: ChangeList
  readonly refused: ReadonlyArray<{ readonly path: string; readonly reason: string }>
  /** The worktree holding the changes (null when nothing changed, or for a dry run). */
  readonly worktreePath: string | null
  readonly branch: string | null
  /** The commit made on the branch (`--branch`), if any. */
  readonly commit: string | null
  /** The pull request `gitLive` opened. */
  readonly pullRequestUrl: string | null
  /** Why pushing or opening the pull request failed (the commit is in the worktree and branch either way). */
  readonly gitLiveError: string | null
  readonly warnings: ReadonlyArray<string>
  /** The network policy of the run, and the hosts it refused (`allow` mode on the local provider). */
  readonly network: { readonly mode: NetworkMode; readonly allow: ReadonlyArray<string> }
  readonly refusedHosts: ReadonlyArray<RefusedHost>
}

/** A run could not be started, or its results could not be handled. */
export class SandboxRunError extends Schema.TaggedError<SandboxRunError>()("SandboxRunError", {
  reason: Schema.Literal(
    "AgentNotFound",
    "MissingCredentials",
    "NoCommit",
    "BranchExists",
    "SshKeyInvalid",
    "SshKeyNotConfirmed",
    "ChangesUnavailable",
    "DryRunMismatch",
    "WorktreeFailed",
    "BudgetExhausted",
    "SetupFailed",
    "GitLiveUnavailable"
  ),
  sessionId: Schema.optional(Schema.String),
  detail: Schema.String
}) {
  override get message(): string {
    switch (this.reason) {
      case "AgentNotFound":
        return `agent not found: ${this.detail}`
      case "MissingCredentials":
        return `no credentials for the agent: ${this.detail}`
      case "NoCommit":
        return `${this.detail} has no commit yet; commit once so the results can land in a worktree`
      case "BranchExists":
        return `${this.detail}; choose another --branch name, or use --branch auto`
      case "SshKeyInvalid":
        return `--ssh-key: ${this.detail}`
      case "SshKeyNotConfirmed":
        return `--ssh-key gives the agent your key (${this.detail}); pass --confirm-ssh-key to accept that`
      case "ChangesUnavailable":
        return `no changes to download for run ${this.sessionId ?? ""}: ${this.detail}`
      case "DryRunMismatch":
        return `dry run: the sandbox does not hold what was uploaded (${this.detail})`
      case "BudgetExhausted":
        return `${this.detail}; no sandbox was started`
      case "SetupFailed":
        return `template setup failed: ${this.detail}`
      case "GitLiveUnavailable":
        return `--git-live: ${this.detail}`
      case "WorktreeFailed":
        return `could not put the changes in a worktree: ${this.detail}` +
          (this.sessionId !== undefined ? `; they are saved: \`parallel-cc sandbox download --session-id ${this.sessionId} --output DIR\`` : "")
    }
  }
}

/** `status`: the run, and whether its sandbox and supervisor are still there. */
export interface StatusReport {
  readonly run: SandboxRun
  readonly sandbox: SandboxState | "unknown"
  readonly supervisorAlive: boolean
}

/** `kill`: what was done. */
export interface KillReport {
  readonly run: SandboxRun
  /** stopped: the live run was stopped; removed: a kept sandbox was removed; none: nothing was running. */
  readonly action: "stopped" | "requested" | "removed" | "none"
}

/** `download`: where the changes came from and what was applied. */
export interface DownloadReport extends Applied {
  readonly source: "sandbox" | "saved"
  readonly changes: ChangeList
}

export type RunFailure =
  | SandboxRunError
  | SandboxRunNotFound
  | SandboxError
  | SandboxNotFound
  | FileSyncError
  | GitError
  | InvalidInput
  | DbFailure
  | Templates.TemplateError


const slugOf = (prompt: string): string => {
  const words = prompt.toLowerCase().replace(/[^a-z0-9]+/g, " ").trim().split(" ").filter((w) => w !== "")
  let slug = ""
  for (const w of words) {
    const next = slug === "" ? w : `${slug}-${w}`
    if (next.length > 50) break
    slug = next
  }
  if (slug === "" && words[0] !== undefined) slug = words[0].slice(0, 50)
  return slug === "" ? "sandbox-run" : slug
}

/** The `--branch auto` name: a slug of the prompt (at most 50 characters) and a timestamp. */
export const autoBranchName = (prompt: string, now: Date): string => {
  const p = (n: number) => String(n).padStart(2, "0")
  const ts = `${now.getUTCFullYear()}${p(now.getUTCMonth() + 1)}${p(now.getUTCDate())}-${p(now.getUTCHours())}${p(now.getUTCMinutes())}${p(now.getUTCSeconds())}`
  return `${slugOf(prompt)}-${ts}`
}

/** Parse `90s`, `45m`, `2h` or a plain number of minutes. */
export const parseTimeout = (text: string): Either.Either<number, string> => {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h)?\s*$/i.exec(text)
  if (m === null) return Either.left(`${JSON.stringify(text)} is not a duration; use e.g. 90s, 45m, 2h or a number of minutes`)
  const n = Number(m[1])
  const unit = (m[2] ?? "m").toLowerCase()
  const ms = n * (unit.startsWith("s") ? 1000 : unit === "h" ? 3_600_000 : 60_000)
  if (ms <= 0) return Either.left("the timeout must be more than zero")
  if (ms > 24 * 3_600_000) return Either.left("the timeout must be at most 24h")
  return Either.right(Math.round(ms))
}


/** "45 s", "2.5 min", "60 min". */
export const duration = (ms: number): string =>
  ms < 60_000 ? `${Math.round(ms / 100) / 10} s` : `${Math.round(ms / 6_000) / 10} min`

/** Where a run's changes went: the lists, what was refused, and the worktree (and commit) holding them. */
export interface Collected {
  readonly changes: ChangeList
  readonly refused: ReadonlyArray<{ readonly path: string; readonly reason: string }>
  readonly worktreePath: string | null
  readonly branch: string | null
  readonly commit: string | null
}
