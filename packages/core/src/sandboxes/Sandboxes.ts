/**
 * Sandboxed runs: one prompt, one agent, one sandbox. `run` packs the work tree, creates a sandbox with a
 * provider, uploads, injects credentials (as environment or 0600 files, never on a command line), starts
 * the agent headless, records its decoded output and result, and brings the changes back into a new
 * worktree for review (or onto a committed branch). The sandbox is a scoped resource: on every way out —
 * success, failure, timeout, a kill from another process, interruption — it is killed, or kept on
 * purpose with `keep`, and the database says which; partial changes are collected first.
 *
 * `status`, `list`, `logs`, `follow`, `download` and `kill` work from any process: they find the run in
 * the database and the sandbox by its provider id.
 *
 * @since 0.1.0
 */
import {
  Cause,
  Clock,
  Context,
  Duration,
  Effect,
  Either,
  Exit,
  Fiber,
  Layer,
  Option,
  Redacted,
  Ref,
  Schema,
  Stream
} from "effect"
import { CommandExecutor } from "@effect/platform"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Agents from "./AgentAdapters.js"
import { AppConfig } from "../platform/AppConfig.js"
import type { DbFailure } from "../platform/Database.js"
import { type SessionId } from "../Domain.js"
import { InvalidInput } from "../Errors.js"
import { type Applied, FileSync, type FileSyncError, summary } from "./FileSync.js"
import { Git, type GitError } from "../platform/Git.js"
import { exec } from "../platform/exec.js"
import * as Redact from "../platform/redact.js"
import {
  type ChangeList,
  type Changes,
  type Isolation,
  type ProviderName,
  type Sandbox,
  SandboxError,
  type SandboxNotFound,
  SandboxProviders,
  type SandboxState,
  type SecretFile
} from "./SandboxProvider.js"
import {
  type BranchMode,
  isLive,
  type RunPatch,
  type RunStatus,
  type SandboxRun,
  type SandboxRunNotFound,
  SandboxRuns
} from "./SandboxRuns.js"
import { Processes } from "../platform/Processes.js"
import * as Templates from "./Templates.js"
import { planWorktree, SessionStore } from "../sessions/SessionStore.js"
import { Worktrees } from "../sessions/Worktrees.js"

/** The process that asks: its environment (credentials, PATH), home directory and working directory. */
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

/**
 * What runs started together may share: git's answers about their repository (its top level, the git
 * identity and the ignore patterns that do not travel with the files), asked once per batch instead of
 * once per run. Make one per batch (a parallel run makes one); never keep it longer than the batch.
 */
export interface RunCache {
  readonly _tag: "RunCache"
  readonly entries: Map<string, unknown>
}

/** A fresh {@link RunCache}. */
export const makeRunCache = (): RunCache => ({ _tag: "RunCache", entries: new Map() })

/**
 * `effect`, run once per `key` in `cache`: runs that ask at the same time share the one answer. A failure
 * is not remembered (the next run asks again).
 */
const memo = <A, E>(cache: RunCache | undefined, key: string, effect: Effect.Effect<A, E>): Effect.Effect<A, E> =>
  cache === undefined
    ? effect
    : Effect.suspend(() => {
      const hit = cache.entries.get(key) as Effect.Effect<A, E> | undefined
      if (hit !== undefined) return hit
      const once = Effect.runSync(Effect.cached(effect.pipe(Effect.tapError(() => Effect.sync(() => void cache.entries.delete(key))))))
      cache.entries.set(key, once)
      return once
    })

/** Progress of a run, in order. */
export type RunEvent =
  | { readonly _tag: "Started"; readonly sessionId: string; readonly repoPath: string; readonly provider: ProviderName; readonly agent: string }
  | {
    readonly _tag: "Packed"
    readonly files: number
    readonly bytes: number
    /** `bytes` is the size of one compressed archive (remote providers), else of the files copied as they are. */
    readonly compressed: boolean
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

/** Spending of one budget period. */
export interface BudgetPeriodStatus {
  readonly period: BudgetPeriod
  readonly since: Date
  /** The configured limit; null when the period has none. */
  readonly limitUsd: number | null
  readonly spentUsd: number
  readonly remainingUsd: number | null
  readonly runs: number
}

export type BudgetPeriod = "daily" | "weekly" | "monthly"

/** When the current period started (local time; weeks start on Monday). */
export const periodStart = (period: BudgetPeriod, now: Date): Date => {
  const d = new Date(now.getFullYear(), now.getMonth(), now.getDate())
  if (period === "weekly") d.setDate(d.getDate() - ((d.getDay() + 6) % 7))
  if (period === "monthly") d.setDate(1)
  return d
}

export class Sandboxes extends Context.Tag("@parallel-cc/core/Sandboxes")<Sandboxes, {
  /** Run one prompt in one sandbox; `onEvent` sees the progress. Fails only when the run cannot start or finish bookkeeping. */
  readonly run: (
    request: RunRequest,
    onEvent?: (event: RunEvent) => Effect.Effect<void>
  ) => Effect.Effect<RunResult, RunFailure>
  /**
   * Everything `run` checks before it creates anything (repository, agent, credentials, branch, template,
   * budget, git-live), and nothing else: for callers that start many runs and want every problem first.
   */
  readonly check: (request: RunRequest) => Effect.Effect<void, RunFailure>
  /** The provider a run of `request` would use (`provider`, else config `sandbox.provider`, `auto` resolved). */
  readonly providerOf: (request: Pick<RunRequest, "provider" | "host">) => ProviderName
  readonly status: (id: string, host: HostContext) => Effect.Effect<StatusReport, SandboxRunNotFound | DbFailure>
  readonly list: (filter: { readonly repoPath?: string | undefined; readonly limit?: number | undefined }) => Effect.Effect<ReadonlyArray<SandboxRun>, DbFailure>
  /** The last `lines` lines of a run's log (all when undefined). */
  readonly logs: (id: string, options?: { readonly lines?: number | undefined }) => Effect.Effect<ReadonlyArray<string>, SandboxRunNotFound | DbFailure>
  /** The log as it grows, until the run ends. */
  readonly follow: (id: string, options?: { readonly lines?: number | undefined }) => Stream.Stream<string, SandboxRunNotFound | DbFailure>
  /** Apply a run's changes to `output` (from the live or kept sandbox, else from the saved archive). */
  readonly download: (id: string, output: string, host: HostContext) => Effect.Effect<DownloadReport, RunFailure | SandboxRunNotFound>
  /** Stop a live run (its supervisor collects partial changes and kills the sandbox), or remove a kept sandbox. */
  readonly kill: (id: string, host: HostContext) => Effect.Effect<KillReport, RunFailure | SandboxRunNotFound>
  /** Spending against the daily, weekly and monthly budgets (or one of them). */
  readonly budgetStatus: (period?: BudgetPeriod | undefined) => Effect.Effect<ReadonlyArray<BudgetPeriodStatus>, DbFailure>
}>() {}

// ---------------------------------------------------------------------------------------------------

const decoder = new TextDecoder()

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
const duration = (ms: number): string =>
  ms < 60_000 ? `${Math.round(ms / 100) / 10} s` : `${Math.round(ms / 6_000) / 10} min`

const clock = (d: Date) => {
  const p = (n: number) => String(n).padStart(2, "0")
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, "0")}`
}

const appendFile = (file: string, text: string) => {
  try {
    fs.appendFileSync(file, text, { mode: 0o600 })
  } catch {
    // A log that cannot be written must not stop the run.
  }
}

const tailLines = (file: string, n: number | undefined): Array<string> => {
  let text: string
  try {
    text = fs.readFileSync(file, "utf8")
  } catch {
    return []
  }
  const lines = text.split("\n")
  if (lines[lines.length - 1] === "") lines.pop()
  return n === undefined ? lines : lines.slice(Math.max(0, lines.length - n))
}

interface Credentials {
  readonly method: Agents.AuthMethod | "none"
  readonly env: Record<string, string>
  readonly files: Array<SecretFile>
  readonly secrets: Array<string>
}

interface Collected {
  readonly changes: ChangeList
  readonly refused: ReadonlyArray<{ readonly path: string; readonly reason: string }>
  readonly worktreePath: string | null
  readonly branch: string | null
  readonly commit: string | null
}

const isDirectoryEmpty = (dir: string) => {
  try {
    return fs.readdirSync(dir).length === 0
  } catch {
    return true
  }
}

export const make = Effect.gen(function*() {
  const config = yield* AppConfig
  const git = yield* Git
  const runs = yield* SandboxRuns
  const sessions = yield* SessionStore
  const providers = yield* SandboxProviders
  const fileSync = yield* FileSync
  const templates = yield* Templates.Templates
  const executor = yield* CommandExecutor.CommandExecutor
  const processes = yield* Processes
  const worktrees = yield* Worktrees

  /** This process, with its start time in the format sessions use. */
  const self = Effect.map(processes.probe(process.pid), (p) => ({
    pid: process.pid,
    start: p._tag === "Running" ? p.startTime : null
  }))

  const runsDir = path.join(config.dataDir, "sandboxes")

  const invalid = (field: string, detail: string) => new InvalidInput({ field, detail })

  const providerFor = (name: ProviderName | undefined, host: HostContext): ProviderName => {
    if (name !== undefined) return name
    const setting = config.values["sandbox.provider"]
    if (setting !== "auto") return setting
    const key = host.env.E2B_API_KEY
    return key !== undefined && key !== "" && providers.names.includes("e2b") ? "e2b" : "local"
  }

  const credentialsFor = (agent: Agents.Agent, requested: Agents.AuthMethod | undefined, host: HostContext) =>
    Effect.gen(function*() {
      const env = host.env
      const has = (n: string) => typeof env[n] === "string" && env[n] !== ""
      const configDir = env.CLAUDE_CONFIG_DIR !== undefined && env.CLAUDE_CONFIG_DIR !== ""
        ? env.CLAUDE_CONFIG_DIR
        : path.join(host.homeDir, ".claude")
      const credentialsFile = path.join(configDir, ".credentials.json")
      const claudeLike = agent.kind === "claude" || agent.kind === "custom"
      let method: Agents.AuthMethod | "none"
      if (requested !== undefined) method = requested
      else if (agent.kind === "custom") method = "none"
      else if (Agents.credentialEnvNames(agent.kind, "api-key").some(has)) method = "api-key"
      else if (claudeLike && (has("CLAUDE_CODE_OAUTH_TOKEN") || fs.existsSync(credentialsFile))) method = "oauth"
      else {
        const names = Agents.credentialEnvNames(agent.kind, "api-key").join(" or ")
        return yield* new SandboxRunError({
          reason: "MissingCredentials",
          detail: agent.kind === "claude"
            ? `set ${names}, or log in to Claude Code and use --auth-method oauth (CLAUDE_CODE_OAUTH_TOKEN or ${credentialsFile})`
            : `set ${names}`
        })
      }
      const out: Credentials = { method, env: {}, files: [], secrets: [] }
      if (method === "none") return out
      if (method === "oauth" && !claudeLike) {
        return yield* new SandboxRunError({ reason: "MissingCredentials", detail: `--auth-method oauth is only supported for Claude Code; ${agent.kind} needs an API key` })
      }
      const names = Agents.credentialEnvNames(agent.kind, method)
      for (const n of names) {
        if (has(n)) {
          out.env[n] = env[n]!
          out.secrets.push(env[n]!)
        }
      }
      if (method === "oauth" && Object.keys(out.env).length === 0) {
        const text = yield* Effect.try({
          try: () => fs.readFileSync(credentialsFile, "utf8"),
          catch: () =>
            new SandboxRunError({
              reason: "MissingCredentials",
              detail: `no CLAUDE_CODE_OAUTH_TOKEN and no readable ${credentialsFile}; run \`claude setup-token\` or log in to Claude Code`
            })
        })
        out.files.push({ path: ".claude/.credentials.json", content: text, mode: 0o600 })
        out.secrets.push(text)
        try {
          const walk = (v: unknown): void => {
            if (typeof v === "string" && v.length >= 16) out.secrets.push(v)
            else if (v !== null && typeof v === "object") Object.values(v).forEach(walk)
          }
          walk(JSON.parse(text))
        } catch {
          // Not JSON: the whole text is redacted anyway.
        }
      }
      if (method === "api-key" && Object.keys(out.env).length === 0) {
        return yield* new SandboxRunError({ reason: "MissingCredentials", detail: `--auth-method api-key needs ${names.join(" or ")} in the environment` })
      }
      return out
    })

  const sshKeyFor = (keyPath: string, confirmed: boolean, host: HostContext) =>
    Effect.gen(function*() {
      const abs = path.resolve(host.cwd, keyPath)
      const bad = (detail: string) => new SandboxRunError({ reason: "SshKeyInvalid", detail })
      const st = yield* Effect.try({ try: () => fs.statSync(abs), catch: () => bad(`${abs} does not exist`) })
      if (!st.isFile()) return yield* bad(`${abs} is not a file`)
      if (st.size > 65_536) return yield* bad(`${abs} is too large to be a private key`)
      const content = yield* Effect.try({ try: () => fs.readFileSync(abs, "utf8"), catch: () => bad(`${abs} cannot be read`) })
      if (!/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(content) || !/-----END [A-Z0-9 ]*PRIVATE KEY-----/.test(content)) {
        return yield* bad(`${abs} is not a PEM/OpenSSH private key (a public key ends in .pub)`)
      }
      if (!confirmed) return yield* new SandboxRunError({ reason: "SshKeyNotConfirmed", detail: abs })
      const warnings = [
        `the agent can use the SSH key ${abs} for everything it opens (pushing to your repositories included); it is removed from the sandbox after the run`
      ]
      if ((st.mode & 0o077) !== 0) warnings.push(`${abs} is readable by other users (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`)
      if (/ENCRYPTED/.test(content)) warnings.push("the key looks passphrase-protected; an unattended agent cannot unlock it")
      let knownHosts = ""
      try {
        knownHosts = fs.readFileSync(path.join(host.homeDir, ".ssh", "known_hosts"), "utf8")
      } catch {
        warnings.push("no ~/.ssh/known_hosts to copy; the sandbox accepts a host's key on first use")
      }
      return { content, knownHosts, warnings }
    })

  const identityFor = (req: RunRequest, repoPath: string) =>
    Effect.gen(function*() {
      const u = req.gitUser?.trim()
      const e = req.gitEmail?.trim()
      if ((u !== undefined && u !== "") !== (e !== undefined && e !== "")) {
        return yield* invalid("--git-user/--git-email", "give both or neither")
      }
      if (u !== undefined && u !== "" && e !== undefined && e !== "") return { name: u, email: e }
      const configured = { name: config.values["git.user"], email: config.values["git.email"] }
      // Both keys with one git process; the last value wins, as with `git config --get`.
      const fromGit = configured.name !== "" && configured.email !== ""
        ? Effect.succeed({ name: "", email: "" })
        : memo(
          req.cache,
          `identity\0${repoPath}`,
          git.run(repoPath, ["config", "-z", "--get-regexp", "^user\\.(name|email)$"], { okExitCodes: [0, 1] }).pipe(
            Effect.map((r) => {
              const found = { name: "", email: "" }
              for (const record of r.stdout.split("\0")) {
                const nl = record.indexOf("\n")
                if (nl < 0) continue
                const key = record.slice(0, nl).toLowerCase()
                if (key === "user.name") found.name = record.slice(nl + 1).trim()
                else if (key === "user.email") found.email = record.slice(nl + 1).trim()
              }
              return found
            }),
            Effect.orElseSucceed(() => ({ name: "", email: "" }))
          )
        )
      const name = configured.name !== "" ? configured.name : (yield* fromGit).name
      const email = configured.email !== "" ? configured.email : (yield* fromGit).email
      return { name: name !== "" ? name : "parallel-cc", email: email !== "" ? email : "parallel-cc@localhost" }
    })

  const branchPlanFor = (branch: string | undefined, prompt: string, repoPath: string) =>
    Effect.gen(function*() {
      if (branch === undefined || branch === "") return { mode: "review" as BranchMode, name: undefined as string | undefined }
      const now = new Date(yield* Clock.currentTimeMillis)
      const mode: BranchMode = branch === "auto" ? "auto" : "named"
      const name = yield* git.checkBranchName(mode === "auto" ? autoBranchName(prompt, now) : branch)
      const exists = yield* git.run(repoPath, ["rev-parse", "--verify", "--quiet", `refs/heads/${name}`], { okExitCodes: [0, 1] })
      if (exists.exitCode === 0) {
        return yield* new SandboxRunError({ reason: "BranchExists", detail: `the branch ${name} already exists in ${repoPath}` })
      }
      return { mode, name: name as string | undefined }
    })

  /** Apply collected changes to a new worktree of `run`'s repository; commit when asked. */
  const landChanges = (
    run: SandboxRun,
    changes: Changes,
    options: { readonly commit: boolean; readonly identity?: { readonly name: string; readonly email: string } | undefined }
  ) =>
    Effect.gen(function*() {
      const session = yield* sessions.get(run.sessionId as SessionId).pipe(Effect.option)
      const plan = planWorktree(config.values, run.repoPath)(run.sessionId as SessionId)
      const wtPath = Option.match(session, { onNone: () => plan.path, onSome: (s) => s.worktreePath })
      const branch = run.branch ?? plan.branch
      const fail = (detail: string) => new SandboxRunError({ reason: "WorktreeFailed", sessionId: run.sessionId, detail })
      if (run.baseCommit === null) return yield* fail("the run has no base commit")
      if (fs.existsSync(wtPath) && !isDirectoryEmpty(wtPath)) return yield* fail(`${wtPath} already exists`)
      yield* worktrees.create({ repoPath: run.repoPath, path: wtPath, branch, startPoint: run.baseCommit }).pipe(
        Effect.mapError((e) => fail(e.message))
      )
      const applied = yield* fileSync.apply(changes, wtPath)
      let commit: string | null = null
      if (options.commit && (applied.written.length > 0 || applied.deleted.length > 0)) {
        const id = options.identity ?? { name: "parallel-cc", email: "parallel-cc@localhost" }
        const env = {
          GIT_AUTHOR_NAME: id.name,
          GIT_AUTHOR_EMAIL: id.email,
          GIT_COMMITTER_NAME: id.name,
          GIT_COMMITTER_EMAIL: id.email
        }
        const firstLine = run.prompt.trim().split("\n")[0] ?? "sandbox run"
        const subject = firstLine.length > 72 ? `${firstLine.slice(0, 71)}…` : firstLine
        const message = `${subject}\n\nSandboxed run ${run.sessionId} (agent ${run.agent}, ${run.provider} provider).\n`
        yield* git.run(wtPath, ["add", "-A", "--", "."]).pipe(Effect.mapError((e) => fail(e.message)))
        yield* git.run(wtPath, ["commit", "-q", "--no-verify", "-F", "-"], { env, stdin: message }).pipe(
          Effect.mapError((e) => fail(e.message))
        )
        commit = (yield* git.revParse(wtPath, "HEAD").pipe(Effect.mapError((e) => fail(e.message))))
      }
      return { applied, worktreePath: wtPath, branch, commit }
    })

  /** Save a run's changes next to its log (so `download` works after the sandbox is gone). */
  const saveChanges = (run: SandboxRun, changes: Changes) =>
    Effect.sync(() => {
      const dir = path.dirname(run.logPath)
      const archive = path.join(dir, "changes.tar.gz")
      fs.writeFileSync(archive, changes.archive, { mode: 0o600 })
      fs.writeFileSync(
        path.join(dir, "changes.json"),
        JSON.stringify({ added: changes.added, modified: changes.modified, deleted: changes.deleted, refused: changes.refused }, null, 2),
        { mode: 0o600 }
      )
      return archive
    })

  const loadSaved = (run: SandboxRun): Option.Option<Changes> => {
    if (run.changesPath === null) return Option.none()
    try {
      const archive = new Uint8Array(fs.readFileSync(run.changesPath))
      const lists = JSON.parse(fs.readFileSync(path.join(path.dirname(run.changesPath), "changes.json"), "utf8"))
      const arr = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [])
      return Option.some({ archive, added: arr(lists.added), modified: arr(lists.modified), deleted: arr(lists.deleted), refused: [] })
    } catch {
      return Option.none()
    }
  }

  /**
   * Collect the changes of `sandbox` for `run`: save them, and (unless dry run or nothing changed) put them
   * in the run's worktree. Records the outcome on the run.
   */
  const collect = (
    run: SandboxRun,
    sandbox: Sandbox,
    options: { readonly commit: boolean; readonly identity?: { readonly name: string; readonly email: string } | undefined; readonly redact: Redact.Redactor }
  ) =>
    Effect.gen(function*() {
      const changes = yield* sandbox.changes
      const changesPath = yield* saveChanges(run, changes)
      const lists: ChangeList = { added: changes.added, modified: changes.modified, deleted: changes.deleted }
      const total = changes.added.length + changes.modified.length + changes.deleted.length
      yield* runs.update(run.sessionId, {
        changesPath,
        filesAdded: changes.added.length,
        filesModified: changes.modified.length,
        filesDeleted: changes.deleted.length
      })
      if (run.dryRun || total === 0) {
        return { changes: lists, refused: changes.refused, worktreePath: null, branch: null, commit: null } satisfies Collected
      }
      const landed = yield* landChanges(run, changes, options)
      yield* runs.update(run.sessionId, { worktreePath: landed.worktreePath, branch: landed.branch })
      return {
        changes: lists,
        refused: landed.applied.refused,
        worktreePath: landed.worktreePath,
        branch: landed.branch,
        commit: landed.commit
      } satisfies Collected
    })

  const limits: Record<BudgetPeriod, number> = {
    daily: config.values["budget.dailyUsd"],
    weekly: config.values["budget.weeklyUsd"],
    monthly: config.values["budget.monthlyUsd"]
  }

  const budgetStatus = (period?: BudgetPeriod | undefined) =>
    Effect.gen(function*() {
      const now = new Date(yield* Clock.currentTimeMillis)
      const periods: ReadonlyArray<BudgetPeriod> = period !== undefined ? [period] : ["daily", "weekly", "monthly"]
      return yield* Effect.forEach(periods, (p) =>
        Effect.map(runs.spentSince(periodStart(p, now).getTime()), (spent): BudgetPeriodStatus => ({
          period: p,
          since: periodStart(p, now),
          limitUsd: limits[p] > 0 ? limits[p] : null,
          spentUsd: spent.usd,
          remainingUsd: limits[p] > 0 ? Math.max(0, limits[p] - spent.usd) : null,
          runs: spent.runs
        })))
    })

  /** The limit this run may spend: its own budget, lowered to what each period budget has left. */
  const budgetFor = (requested: number | undefined) =>
    Effect.gen(function*() {
      if (requested !== undefined && !(requested > 0)) return yield* invalid("--budget", "must be an amount above 0 (US dollars)")
      let limit = requested
      for (const s of yield* budgetStatus()) {
        if (s.remainingUsd === null) continue
        if (s.remainingUsd <= 0) {
          return yield* new SandboxRunError({
            reason: "BudgetExhausted",
            detail: `the ${s.period} budget of $${s.limitUsd!.toFixed(2)} is spent ($${s.spentUsd.toFixed(4)} since ${s.since.toISOString()}); ` +
              `raise budget.${s.period === "daily" ? "dailyUsd" : s.period === "weekly" ? "weeklyUsd" : "monthlyUsd"} or wait for the next period`
          })
        }
        limit = limit === undefined ? s.remainingUsd : Math.min(limit, s.remainingUsd)
      }
      return limit
    })

  /** Push `branch` from the worktree to origin and open a pull request against `target` with gh. */
  const openPullRequest = (
    worktreePath: string,
    branch: string,
    target: string,
    prompt: string,
    id: string,
    agent: string,
    redact: Redact.Redactor
  ) =>
    Effect.gen(function*() {
      const push = yield* git.run(worktreePath, ["push", "--porcelain", "-u", "origin", `refs/heads/${branch}:refs/heads/${branch}`]).pipe(Effect.either)
      if (push._tag === "Left") return { url: null, error: redact(`pushing ${branch} failed: ${push.left.message}`) }
      const first = prompt.trim().split("\n")[0] ?? "Sandboxed run"
      const title = first.length > 72 ? `${first.slice(0, 71)}…` : first
      const body = `Made by an unattended ${agent} run in a parallel-cc sandbox (session ${id}).\n\n` +
        `Prompt:\n\n${prompt.trim().split("\n").map((l) => `> ${l}`).join("\n")}\n`
      const gh = yield* exec(["gh", "pr", "create", "--base", target, "--head", branch, "--title", title, "--body-file", "-"], {
        cwd: worktreePath,
        stdin: body
      }).pipe(Effect.provideService(CommandExecutor.CommandExecutor, executor), Effect.either)
      if (gh._tag === "Left") return { url: null, error: redact(`gh could not be started: ${gh.left.message}`) }
      if (gh.right.exitCode !== 0) {
        return { url: null, error: redact(`gh pr create failed (exit ${gh.right.exitCode}): ${gh.right.stderr.trim().split("\n").slice(-3).join(" / ")}; the branch ${branch} is pushed`) }
      }
      const url = /https?:\/\/\S+/.exec(gh.right.stdout)?.[0] ?? gh.right.stdout.trim()
      return { url: url !== "" ? url : null, error: url !== "" ? null : "gh printed no pull request URL" }
    })

  // ---------------------------------------------------------------------------------------------

  /** Step 1 of a run: everything that can be checked before anything is created. */
  const prepare = (req: RunRequest) =>
    Effect.gen(function*() {
      const host = req.host
      const repoDir = path.resolve(host.cwd, req.repo)
      const repoPath = yield* memo(req.cache, `toplevel\0${repoDir}`, git.toplevel(repoDir)).pipe(
        Effect.mapError((e) => (e.reason === "NotARepo" ? invalid("--repo", `${req.repo} is not inside a git repository`) : e))
      )
      const prompt = req.prompt
      if (prompt.trim() === "") return yield* invalid("prompt", "is empty")
      const providerName = providerFor(req.provider, host)
      const provider = yield* providers.get(providerName, { env: host.env })
      const agentSetting = req.agent ?? config.values.agent
      const agent = yield* Either.match(Agents.resolve(agentSetting, { pathEnv: host.env.PATH, cwd: host.cwd }), {
        onLeft: (detail) => Effect.fail(new SandboxRunError({ reason: "AgentNotFound", detail })),
        onRight: Effect.succeed
      })
      if (providerName === "local" && agent.hostPath === undefined) {
        return yield* new SandboxRunError({
          reason: "AgentNotFound",
          detail: `${agent.command} is not installed on this machine (not on PATH); install it, or pass --agent PATH`
        })
      }
      const preWarnings: Array<string> = []
      let gitLive: { readonly target: string; readonly token: string | undefined } | undefined
      if (req.gitLive === true && req.dryRun !== true) {
        const unavailable = (detail: string) => new SandboxRunError({ reason: "GitLiveUnavailable", detail })
        const remote = yield* git.run(repoPath, ["remote", "get-url", "origin"], { okExitCodes: [0, 2, 128] })
        if (remote.exitCode !== 0) return yield* unavailable(`${repoPath} has no remote named origin to push to`)
        if (Agents.which("gh", host.env.PATH) === undefined) {
          return yield* unavailable("the GitHub CLI (gh) is not installed; install it, or run without --git-live and push yourself")
        }
        const current = yield* git.run(repoPath, ["symbolic-ref", "--quiet", "--short", "HEAD"], { okExitCodes: [0, 1, 128] })
        const target = req.targetBranch ?? (current.exitCode === 0 ? current.stdout.trim() : "")
        if (target === "") return yield* unavailable("the repository is on a detached HEAD; give --target-branch")
        yield* git.checkBranchName(target)
        const token = host.env.GITHUB_TOKEN ?? host.env.GH_TOKEN
        if (token === undefined || token === "") preWarnings.push("no GITHUB_TOKEN: gh uses its own login to open the pull request")
        const others = yield* sessions.list({ repoPath })
        let go = true
        if (others.length > 0) {
          const message = `${others.length} other session(s) are active in ${repoPath}; pushing a branch and opening a pull request ` +
            `while they work may surprise them — keep the results in a worktree for review instead?`
          if (req.confirmGitLive !== undefined) go = yield* req.confirmGitLive(message)
          else preWarnings.push(`${others.length} other session(s) are active in this repository; the branch is pushed anyway (run without --git-live to review first)`)
        }
        if (go) gitLive = { target, token: token !== undefined && token !== "" ? token : undefined }
        else preWarnings.push("--git-live dropped: the changes stay in a worktree for review")
      }
      const plan = yield* branchPlanFor(gitLive !== undefined && req.branch === undefined ? "auto" : req.branch, prompt, repoPath)
      const identity = yield* identityFor(req, repoPath)
      const creds = req.dryRun === true ? { method: "none" as const, env: {}, files: [], secrets: [] } : yield* credentialsFor(agent, req.authMethod, host)
      const ssh = req.sshKey !== undefined ? yield* sshKeyFor(req.sshKey, req.sshKeyConfirmed === true, host) : undefined
      const npmToken = req.npmToken !== undefined ? Redacted.value(req.npmToken) : undefined
      let npmRegistry = req.npmRegistry ?? "https://registry.npmjs.org/"
      if (npmToken !== undefined || req.npmRegistry !== undefined) {
        const url = yield* Effect.try({ try: () => new URL(npmRegistry), catch: () => invalid("--npm-registry", `${npmRegistry} is not a URL`) })
        if (url.protocol !== "https:" && !(url.protocol === "http:" && ["localhost", "127.0.0.1"].includes(url.hostname))) {
          return yield* invalid("--npm-registry", "must be an https:// URL (http only for localhost)")
        }
        npmRegistry = url.toString()
      }
      const timeoutMs = req.timeoutMs ?? Math.round(config.values["sandbox.timeoutMinutes"] * 60_000)
      const baseCommit = yield* git.revParse(repoPath, "HEAD").pipe(
        Effect.mapError(() => new SandboxRunError({ reason: "NoCommit", detail: repoPath }))
      )
      const excludes = yield* memo(req.cache, `excludes\0${repoPath}`, fileSync.excludes(repoPath))
      const template = req.useTemplate !== undefined ? yield* templates.get(req.useTemplate) : undefined
      const budget = yield* budgetFor(req.budgetUsd)
      const ratePerMs = (providerName === "e2b" ? config.values["cost.e2bUsdPerHour"] : config.values["cost.localUsdPerHour"]) / 3_600_000
      const isolation = yield* provider.probe
      const secrets = [
        ...creds.secrets,
        ...(ssh !== undefined ? [ssh.content] : []),
        ...(npmToken !== undefined ? [npmToken] : []),
        ...(gitLive?.token !== undefined ? [gitLive.token] : [])
      ]
      const redact = Redact.make(secrets)
      return { host, repoPath, prompt, providerName, provider, agentSetting, agent, preWarnings, gitLive, plan, identity, creds, ssh, npmToken, npmRegistry, timeoutMs, baseCommit, excludes, template, budget, ratePerMs, isolation, redact }
    })

  const check = (req: RunRequest) => Effect.asVoid(prepare(req))

  const run = (req: RunRequest, onEvent: (event: RunEvent) => Effect.Effect<void> = () => Effect.void) =>
    Effect.gen(function*() {
      // 1. Everything that can be checked before anything is created.
      const {
        agent,
        agentSetting,
        baseCommit,
        budget,
        creds,
        excludes,
        gitLive,
        host,
        identity,
        isolation,
        npmRegistry,
        npmToken,
        plan,
        preWarnings,
        prompt,
        provider,
        providerName,
        ratePerMs,
        redact,
        repoPath,
        ssh,
        template,
        timeoutMs
      } = yield* prepare(req)

      // 2. The session and its run record.
      const me = yield* self
      const session = yield* sessions.register({
        repoPath,
        pid: me.pid,
        pidStartTime: me.start,
        mode: "sandbox",
        forceWorktree: true,
        planWorktree: planWorktree(config.values, repoPath)
      })
      const id = session.sessionId
      const runDir = path.join(runsDir, id)
      const logPath = path.join(runDir, "run.log")
      const eventsPath = path.join(runDir, "events.jsonl")

      const log = (text: string) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          Effect.sync(() => {
            const safe = redact(text)
            appendFile(logPath, safe.split("\n").map((l) => `${clock(new Date(now))} ${l}`).join("\n") + "\n")
          }))
      const emit = (e: RunEvent) => onEvent(e).pipe(Effect.catchAllCause(() => Effect.void))
      const warnings: Array<string> = []
      const warn = (message: string) =>
        Effect.zipRight(Effect.sync(() => warnings.push(message)), Effect.zipRight(log(`warning: ${message}`), emit({ _tag: "Warning", message })))

      const finish = (status: RunStatus, patch: RunPatch = {}) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          runs.update(id, {
            ...patch,
            ...(patch.error !== undefined && patch.error !== null ? { error: redact(patch.error) } : {}),
            status,
            endedAt: new Date(now)
          }))

      // When the sandbox existed, for its cost (provider time at the configured rate), less the time it
      // waited for an agent slot (`agentSlot`): a prepared sandbox waiting its turn is not billed time.
      const sandboxTime: { start?: number; end?: number; gateAt?: number; waited?: number } = {}

      const body = Effect.gen(function*() {
        yield* Effect.sync(() => {
          fs.mkdirSync(runsDir, { recursive: true, mode: 0o700 })
          fs.mkdirSync(runDir, { recursive: true, mode: 0o700 })
        })
        yield* runs.create({
          sessionId: id,
          repoPath,
          provider: providerName,
          agent: agentSetting,
          prompt,
          template: req.template ?? template?.image ?? (providerName === "e2b" && agent.kind === "claude" ? "claude" : null),
        managedTemplate: template?.name ?? null,
            branchMode: plan.mode,
          branch: plan.name ?? null,
          keep: req.keep === true,
          budgetUsd: budget ?? null,
          dryRun: req.dryRun === true,
          supervisorPid: me.pid,
          supervisorStart: me.start,
          timeoutMs,
          logPath,
          eventsPath
        })
        yield* runs.update(id, { baseCommit })
        yield* log(`run ${id}: ${agent.setting} on the ${providerName} provider, repository ${repoPath} at ${baseCommit.slice(0, 12)}`)
        yield* emit({ _tag: "Started", sessionId: id, repoPath, provider: providerName, agent: agent.setting })
        for (const w of [...preWarnings, ...(ssh?.warnings ?? [])]) yield* warn(w)

        const listed = yield* fileSync.list(repoPath, { excludes })
        // A provider on this machine copies the listed files into the sandbox as they are; the others get
        // them as one compressed archive.
        const archive = provider.name === "local" ? undefined : yield* fileSync.archive(listed)
        const bytes = archive?.length ?? listed.bytes
        yield* runs.update(id, { uploadFiles: listed.files.length, uploadBytes: bytes })
        yield* log(archive !== undefined ? `packed ${listed.files.length} files (${bytes} bytes compressed)` : `listed ${listed.files.length} files (${bytes} bytes) to copy`)
        yield* emit({ _tag: "Packed", files: listed.files.length, bytes, compressed: archive !== undefined })
        if (listed.skipped.length > 0) yield* warn(`not uploaded (submodules or special files): ${listed.skipped.slice(0, 5).join(", ")}${listed.skipped.length > 5 ? ", …" : ""}`)

        const keep = req.keep === true
        const sandbox = yield* Effect.acquireRelease(
          provider.create({
            runId: id,
            // E2B's prebuilt `claude` template has Claude Code installed; other agents need --template.
            template: req.template ?? template?.image ?? (providerName === "e2b" && agent.kind === "claude" ? "claude" : undefined),
            timeoutMs: timeoutMs + 5 * 60_000,
            env: {},
            metadata: { "parallel-cc-session": id, "parallel-cc-repo": path.basename(repoPath) },
            // The agent's own executable: visible read-only under bubblewrap, copied into a VM for a custom agent.
            hostExecutables: agent.hostPath !== undefined && (providerName === "local" || agent.kind === "custom") ? [agent.hostPath] : []
          }).pipe(
            Effect.tap((sb) => runs.update(id, { sandboxId: sb.id, isolation: sb.isolation.kind, sandboxState: "running" })),
            Effect.tap(() => Effect.map(Clock.currentTimeMillis, (t) => void (sandboxTime.start = t)))
          ),
          (sb) =>
            Effect.zipRight(Effect.map(Clock.currentTimeMillis, (t) => void (sandboxTime.end = t)), keep
              ? Effect.zipRight(runs.update(id, { sandboxState: "kept" }), log(`sandbox kept: ${sb.id}`))
              : provider.kill(sb.id).pipe(
                Effect.zipRight(runs.update(id, { sandboxState: "killed" })),
                Effect.zipRight(log("sandbox killed"))
              )).pipe(Effect.catchAllCause((c) => log(`could not release the sandbox: ${String(c)}`)))
        )
        yield* log(`sandbox ${sandbox.id} (${sandbox.isolation.description})`)
        yield* emit({ _tag: "SandboxReady", sandboxId: sandbox.id, isolation: sandbox.isolation })
        if (!sandbox.isolation.isolated) yield* warn(`the agent is not isolated: ${sandbox.isolation.description}`)

        const uploaded = archive === undefined && sandbox.uploadTree !== undefined
          ? yield* sandbox.uploadTree(repoPath, listed.files, { excludes: listed.excludes })
          : yield* sandbox.upload(archive ?? (yield* fileSync.archive(listed)), { excludes: listed.excludes })
        yield* log(`uploaded ${uploaded.files} entries`)
        yield* emit({ _tag: "Uploaded", files: uploaded.files })

        if (req.dryRun === true) {
          const present = yield* sandbox.listFiles
          const want = new Set(listed.files)
          const missing = listed.files.filter((f) => !present.includes(f))
          const extra = present.filter((f) => !want.has(f))
          if (missing.length > 0 || extra.length > 0) {
            return yield* new SandboxRunError({
              reason: "DryRunMismatch",
              sessionId: id,
              detail: `${missing.length} missing, ${extra.length} unexpected${missing[0] !== undefined ? ` (e.g. ${missing[0]})` : ""}`
            })
          }
          yield* log(`dry run: ${present.length} files verified in the sandbox; no agent started`)
          return {
            status: "succeeded" as RunStatus,
            error: undefined as string | undefined,
            collected: undefined as Collected | undefined,
            pr: undefined as { url: string | null; error: string | null } | undefined
          }
        }

        // Partial changes are collected on every way out; registered after the sandbox, so this runs first.
        const collected = yield* Ref.make<Option.Option<Collected>>(Option.none())
        const current = runs.get(id).pipe(Effect.orDie)
        const collectOnce = (commit: boolean) =>
          Effect.gen(function*() {
            const done = yield* Ref.get(collected)
            if (Option.isSome(done)) return done.value
            const c = yield* collect(yield* current, sandbox, { commit, identity, redact })
            yield* Ref.set(collected, Option.some(c))
            return c
          })
        yield* Effect.addFinalizer((exit) =>
          Exit.isSuccess(exit)
            ? Effect.void
            : collectOnce(false).pipe(
              Effect.tap((c) => log(`partial changes collected: ${summary(c.changes)}${c.worktreePath !== null ? ` in ${c.worktreePath}` : ""}`)),
              Effect.catchAllCause((cause) => log(`could not collect partial changes: ${String(cause)}`)),
              Effect.asVoid
            )
        )

        // The agent phase (credentials, setup, the agent), inside the caller's agent slot if it gave one:
        // the slot is released when the agent has exited, before the changes are collected.
        sandboxTime.gateAt = yield* Clock.currentTimeMillis
        const agentPhase = Effect.gen(function*() {
          sandboxTime.waited = (yield* Clock.currentTimeMillis) - sandboxTime.gateAt!
          if (req.agentSlot !== undefined) yield* log(`agent slot: waited ${sandboxTime.waited} ms`)
          // Credentials live in the sandbox only while the agent runs.
          const files: Array<SecretFile> = [...creds.files]
          const env: Record<string, string> = {}
          if (ssh !== undefined) {
            const sshDir = path.posix.join(sandbox.home, ".ssh")
            files.push({ path: ".ssh/id_parallel_cc", content: ssh.content, mode: 0o600 })
            files.push({ path: ".ssh/known_hosts", content: ssh.knownHosts, mode: 0o600 })
            files.push({
              path: ".ssh/config",
              content: `Host *\n  IdentityFile ${sshDir}/id_parallel_cc\n  IdentitiesOnly yes\n  UserKnownHostsFile ${sshDir}/known_hosts\n  StrictHostKeyChecking accept-new\n`,
              mode: 0o600
            })
            env.GIT_SSH_COMMAND = `ssh -F '${sshDir}/config'`
          }
          if (npmToken !== undefined) {
            const u = new URL(npmRegistry)
            const authPath = `//${u.host}${u.pathname.endsWith("/") ? u.pathname : `${u.pathname}/`}`
            files.push({ path: ".npmrc", content: `registry=${npmRegistry}\n${authPath}:_authToken=${npmToken}\n`, mode: 0o600 })
          } else if (req.npmRegistry !== undefined) {
            files.push({ path: ".npmrc", content: `registry=${npmRegistry}\n`, mode: 0o600 })
          }
          yield* Effect.acquireRelease(sandbox.writeSecretFiles(files), () =>
            Effect.zipRight(sandbox.removeSecretFiles(files), files.length > 0 ? log(`removed ${files.length} credential file(s) from the sandbox`) : Effect.void))

          // Claude Code stops itself at its share of the budget: what is left once the sandbox time is paid for.
          const maxBudgetUsd = budget !== undefined ? Math.max(0.01, budget - ratePerMs * timeoutMs) : undefined
          const inv = Agents.invocation(agent, { prompt, isolated: sandbox.isolation.isolated, maxBudgetUsd })
          const passed: Record<string, string> = {}
          for (const name of [...Agents.passThroughEnv(agent.kind), ...config.values["sandbox.passEnv"]]) {
            const v = host.env[name]
            if (v !== undefined) passed[name] = v
          }
          const agentEnv: Record<string, string> = {
            ...(providerName === "local" && host.env.PATH !== undefined ? { PATH: host.env.PATH } : {}),
            LANG: host.env.LANG ?? "C.UTF-8",
            ...passed,
            PARALLEL_CC_SANDBOX: "1",
            PARALLEL_CC_SESSION_ID: id,
            GIT_AUTHOR_NAME: identity.name,
            GIT_AUTHOR_EMAIL: identity.email,
            GIT_COMMITTER_NAME: identity.name,
            GIT_COMMITTER_EMAIL: identity.email
          }
          if (template !== undefined) {
            const vars = { home: sandbox.home, workdir: sandbox.workdir, path: agentEnv.PATH ?? "/usr/local/bin:/usr/bin:/bin" }
            for (const [k, v] of Object.entries(template.env)) agentEnv[k] = Templates.expand(v, vars)
          }
          Object.assign(agentEnv, creds.env, env, inv.env)

          if (template !== undefined && template.setup.length > 0) {
            const vars = { home: sandbox.home, workdir: sandbox.workdir, path: agentEnv.PATH ?? "/usr/local/bin:/usr/bin:/bin" }
            yield* log(`template ${template.name}: ${template.setup.length} setup command(s)`)
            for (const cmd of template.setup) {
              const argv = cmd.map((a) => Templates.expand(a, vars)) as unknown as readonly [string, ...Array<string>]
              const shown = argv.join(" ")
              yield* log(`setup: ${shown}`)
              yield* emit({ _tag: "SetupCommand", command: shown })
              const r = yield* sandbox.exec({ argv, env: agentEnv }, { timeoutMs })
              const tail = (t: string) => t.trim().split("\n").slice(-5).join(" / ")
              if (r.stdout.trim() !== "") yield* log(`setup out: ${tail(r.stdout)}`)
              if (r.exitCode !== 0) {
                return yield* new SandboxRunError({
                  reason: "SetupFailed",
                  sessionId: id,
                  detail: redact(`\`${shown}\` exited with code ${r.exitCode}${r.stderr.trim() !== "" ? `: ${tail(r.stderr)}` : ""}`)
                })
              }
            }
          }
          const exe = providerName === "local" ? agent.hostPath ?? agent.command : agent.command
          // Under a budget, the sandbox time alone must not pass it: the run stops when it would.
          const now = yield* Clock.currentTimeMillis
          const budgetMs = budget !== undefined && ratePerMs > 0
            ? Math.max(0, budget / ratePerMs - (now - (sandboxTime.start ?? now) - (sandboxTime.waited ?? 0)))
            : undefined
          const outcome = yield* supervise(id, sandbox, [exe, ...inv.args], agentEnv, inv.stdin, agent.kind, timeoutMs, {
            log,
            emit,
            warn,
            redact,
            eventsPath
          }, budgetMs !== undefined ? { ms: budgetMs, usd: budget! } : undefined)
          // Still inside the slot: a caller can act on the outcome before the next agent takes the slot.
          yield* emit({ _tag: "AgentExited", exitCode: outcome.exit?.exitCode ?? null, signal: outcome.exit?.signal, status: outcome.status })
          return outcome
        })
        const outcome = yield* (req.agentSlot !== undefined ? req.agentSlot(agentPhase) : agentPhase)

        const resultFields: RunPatch = {
          exitCode: outcome.exit?.exitCode ?? null,
          resultSubtype: outcome.result?.subtype ?? null,
          isError: outcome.result?.isError ?? null,
          numTurns: outcome.result?.numTurns !== undefined ? Math.round(outcome.result.numTurns) : null,
          costUsd: outcome.result?.costUsd ?? null,
          agentDurationMs: outcome.result?.durationMs ?? null
        }
        yield* runs.update(id, resultFields)
        const c = yield* collectOnce(outcome.status === "succeeded" && plan.mode !== "review")
        yield* log(`changes: ${summary(c.changes)}${c.worktreePath !== null ? ` in ${c.worktreePath} (branch ${c.branch})` : ""}${c.commit !== null ? `, committed ${c.commit.slice(0, 12)}` : ""}`)
        for (const r of c.refused) yield* warn(`refused ${r.path}: ${r.reason}`)
        yield* emit({ _tag: "ChangesApplied", changes: c.changes, worktreePath: c.worktreePath, branch: c.branch })
        let pr: { url: string | null; error: string | null } | undefined
        if (gitLive !== undefined && c.commit !== null && c.worktreePath !== null && c.branch !== null) {
          pr = yield* openPullRequest(c.worktreePath, c.branch, gitLive.target, prompt, id, agent.setting, redact)
          yield* (pr.url !== null ? log(`pull request: ${pr.url}`) : warn(`--git-live: ${pr.error}`))
          if (pr.url !== null) yield* runs.update(id, { pullRequestUrl: pr.url })
          yield* emit({ _tag: "PullRequest", url: pr.url, error: pr.error })
        } else if (gitLive !== undefined) {
          yield* warn("--git-live: nothing was committed, so nothing was pushed")
        }
        return { status: outcome.status, error: outcome.error, collected: c as Collected | undefined, pr }
      })

      const result = yield* Effect.scoped(body).pipe(
        Effect.onExit((exit) =>
          Effect.gen(function*() {
            // The status becomes final last, so whoever waits for it (`sandbox kill`, `logs --follow`) sees
            // the sandbox released and the whole log.
            yield* sessions.markReleased(id).pipe(Effect.ignore)
            const cur = yield* runs.get(id).pipe(Effect.option)
            if (Option.isNone(cur)) return
            let status: RunStatus
            let error: string | null
            if (Exit.isSuccess(exit)) {
              status = exit.value.status
              error = exit.value.error ?? null
            } else {
              const interrupted = Exit.isInterrupted(exit)
              const failure = Option.getOrUndefined(Exit.causeOption(exit))
              status = interrupted ? "interrupted" : "failed"
              error = interrupted ? "interrupted" : failure !== undefined ? squashMessage(failure) : "failed"
              yield* log(interrupted ? "interrupted" : `failed: ${error}`)
            }
            const costs: RunPatch = {}
            if (sandboxTime.start !== undefined) {
              const end = sandboxTime.end ?? (yield* Clock.currentTimeMillis)
              // Interrupted while still waiting for its slot: it waited until the end.
              const waited = sandboxTime.waited ?? (sandboxTime.gateAt !== undefined ? end - sandboxTime.gateAt : 0)
              const billed = Math.max(0, end - sandboxTime.start - waited)
              const providerCostUsd = Math.round(billed * ratePerMs * 1e6) / 1e6
              costs.providerSeconds = Math.round(billed) / 1000
              costs.providerCostUsd = providerCostUsd
              costs.totalCostUsd = Math.round(((cur.value.costUsd ?? 0) + providerCostUsd) * 1e6) / 1e6
              if (budget !== undefined && costs.totalCostUsd > budget) {
                yield* log(`warning: the run cost $${costs.totalCostUsd.toFixed(4)}, more than its budget of $${budget.toFixed(4)}`)
              }
            }
            yield* log(`finished: ${status}; sandbox ${cur.value.sandboxState}`)
            yield* finish(status, { ...costs, error })
            yield* emit({ _tag: "Finished", status })
          }).pipe(Effect.catchAllCause(() => Effect.void))
        )
      )
      const final = yield* runs.get(id).pipe(Effect.orDie)
      const c = result.collected
      return {
        run: final,
        isolation,
        changes: c?.changes ?? { added: [], modified: [], deleted: [] },
        refused: c?.refused ?? [],
        worktreePath: c?.worktreePath ?? null,
        branch: c?.branch ?? null,
        commit: c?.commit ?? null,
        pullRequestUrl: result.pr?.url ?? null,
        gitLiveError: result.pr?.error ?? null,
        warnings
      } satisfies RunResult
    })

  interface Hooks {
    readonly log: (text: string) => Effect.Effect<void>
    readonly emit: (e: RunEvent) => Effect.Effect<void>
    readonly warn: (message: string) => Effect.Effect<void>
    readonly redact: Redact.Redactor
    readonly eventsPath: string
  }

  interface Supervised {
    readonly status: RunStatus
    readonly exit: { readonly exitCode: number | null; readonly signal?: string | undefined } | undefined
    readonly result: Agents.Outcome | undefined
    readonly error: string | undefined
  }

  const supervise = (
    id: string,
    sandbox: Sandbox,
    argv: readonly [string, ...Array<string>],
    env: Record<string, string>,
    stdin: string,
    kind: Agents.AgentKind,
    timeoutMs: number,
    hooks: Hooks,
    budget: { readonly ms: number; readonly usd: number } | undefined
  ): Effect.Effect<Supervised, SandboxError | DbFailure | SandboxRunNotFound> =>
    Effect.scoped(Effect.gen(function*() {
      const proc = yield* sandbox.start({ argv, env, stdin })
      const startedAt = yield* Clock.currentTimeMillis
      yield* runs.update(id, { status: "running", startedAt: new Date(startedAt), agentPid: proc.pid })
      yield* hooks.log(`agent started: ${path.basename(argv[0])} ${argv.slice(1).join(" ")}`.trim())
      yield* hooks.emit({ _tag: "AgentStarted", command: path.basename(argv[0]) })

      const decode = Agents.decoder(kind)
      const outcome = yield* Ref.make<Agents.Outcome | undefined>(undefined)
      const stderrTail: Array<string> = []
      const onLine = (raw: string) =>
        Effect.gen(function*() {
          const line = hooks.redact(raw)
          const d = decode.line(line)
          if (d.event) appendFile(hooks.eventsPath, line.trim() + "\n")
          if (d.outcome !== undefined) yield* Ref.set(outcome, d.outcome)
          for (const l of d.lines) {
            yield* hooks.log(`agent: ${l}`)
            yield* hooks.emit({ _tag: "AgentOutput", line: l })
          }
        })
      const out = yield* Effect.forkScoped(proc.stdout.pipe(Stream.runForEach(onLine), Effect.either))
      const err = yield* Effect.forkScoped(proc.stderr.pipe(
        Stream.runForEach((raw) =>
          Effect.gen(function*() {
            const line = hooks.redact(raw)
            if (line.trim() === "") return
            stderrTail.push(line)
            if (stderrTail.length > 20) stderrTail.shift()
            yield* hooks.log(`stderr: ${line}`)
          })
        ),
        Effect.either
      ))

      for (const minutes of config.values["sandbox.warnAtMinutes"]) {
        const at = minutes * 60_000
        if (at >= timeoutMs) continue
        yield* Effect.forkScoped(Effect.zipRight(
          Effect.sleep(Duration.millis(at)),
          hooks.warn(`the sandbox has been running for ${duration(at)} (hard limit ${duration(timeoutMs)})`)
        ))
      }

      type Ended =
        | { readonly _tag: "Exited"; readonly exit: { readonly exitCode: number | null; readonly signal?: string | undefined } }
        | { readonly _tag: "Killed" }
        | { readonly _tag: "TimedOut" }
        | { readonly _tag: "OverBudget" }
      const exited = proc.exit.pipe(
        Effect.tap(() => Effect.all([Fiber.join(out), Fiber.join(err)]).pipe(Effect.timeout("10 seconds"), Effect.ignore)),
        Effect.map((exit): Ended => ({ _tag: "Exited", exit }))
      )
      const killWatch = pollUntil(runs.get(id), (r) => r.killRequestedAt !== null, "1 second").pipe(
        Effect.map((): Ended => ({ _tag: "Killed" }))
      )
      const timedOut = Effect.sleep(Duration.millis(timeoutMs)).pipe(Effect.map((): Ended => ({ _tag: "TimedOut" })))
      const overBudget = budget !== undefined
        ? Effect.sleep(Duration.millis(budget.ms)).pipe(Effect.map((): Ended => ({ _tag: "OverBudget" })))
        : Effect.never
      // raceAll takes the first success; a failure (the sandbox died, the store broke) must end the race too.
      const settle = (e: Effect.Effect<Ended, SandboxError | DbFailure | SandboxRunNotFound>) => Effect.either(e)
      const raced = yield* Effect.raceAll([settle(exited), settle(killWatch), settle(timedOut), settle(overBudget)])
      if (Either.isLeft(raced)) return yield* Effect.fail(raced.left)
      const ended = raced.right
      let exit: Supervised["exit"]
      if (ended._tag === "Exited") exit = ended.exit
      else {
        yield* hooks.log(
          ended._tag === "Killed"
            ? "stop requested by `sandbox kill`; stopping the agent"
            : ended._tag === "OverBudget"
            ? `the sandbox time reached the budget of $${budget?.usd.toFixed(4)}; stopping the agent`
            : `hard timeout after ${duration(timeoutMs)}; stopping the agent`
        )
        yield* proc.kill
        exit = yield* proc.exit.pipe(Effect.timeout("10 seconds"), Effect.option, Effect.map(Option.getOrUndefined), Effect.orElseSucceed(() => undefined))
        yield* Effect.all([Fiber.join(out), Fiber.join(err)]).pipe(Effect.timeout("5 seconds"), Effect.ignore)
      }
      const end = decode.end(exit?.exitCode ?? null)
      for (const l of end.lines) {
        yield* hooks.log(`agent: ${l}`)
        yield* hooks.emit({ _tag: "AgentOutput", line: l })
      }
      const result = (yield* Ref.get(outcome)) ?? end.outcome
      if (ended._tag === "Killed") return { status: "killed", exit, result, error: "stopped by `sandbox kill`" }
      if (ended._tag === "TimedOut") {
        return { status: "timed_out", exit, result, error: `stopped after the hard timeout of ${duration(timeoutMs)}` }
      }
      if (ended._tag === "OverBudget") {
        return { status: "budget_exceeded", exit, result, error: `stopped: the sandbox time reached the budget of $${budget?.usd.toFixed(4)}` }
      }
      if (result?.subtype === "error_max_budget_usd") {
        return { status: "budget_exceeded", exit, result, error: `the agent stopped at its budget${result.costUsd !== undefined ? ` ($${result.costUsd.toFixed(4)} spent)` : ""}` }
      }
      const code = exit?.exitCode ?? null
      yield* hooks.log(`agent exited ${code !== null ? `with code ${code}` : `on signal ${exit?.signal ?? "?"}`}`)
      if (code === 0 && result?.isError !== true) return { status: "succeeded", exit, result, error: undefined }
      const why = result?.isError === true
        ? `the agent reported an error (${result.subtype}${result.resultText !== undefined ? `: ${result.resultText}` : ""})`
        : `the agent exited ${code !== null ? `with code ${code}` : `on signal ${exit?.signal ?? "?"}`}${stderrTail.length > 0 ? `: ${stderrTail.slice(-3).join(" / ")}` : ""}`
      return { status: "failed", exit, result, error: why.length > 1000 ? `${why.slice(0, 999)}…` : why }
    }))

  // ---------------------------------------------------------------------------------------------

  const supervisorAlive = (r: SandboxRun): Effect.Effect<boolean> =>
    r.supervisorPid === null
      ? Effect.succeed(false)
      : Effect.map(processes.probe(r.supervisorPid), (p) =>
        p._tag === "Running" && (p.startTime === null || r.supervisorStart === null || p.startTime === r.supervisorStart))

  /** Mark a live run whose supervisor died as `lost` (nothing else is touched). */
  const reconcile = (r: SandboxRun) =>
    Effect.flatMap(isLive(r.status) ? supervisorAlive(r) : Effect.succeed(true), (alive) =>
      alive ? Effect.succeed(r) : markLost(r))

  const markLost = (r: SandboxRun) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
        runs.update(r.sessionId, {
          status: "lost",
          endedAt: new Date(now),
          error: `the process supervising this run (pid ${r.supervisorPid}) exited without finishing it; ` +
            `\`parallel-cc sandbox kill --session-id ${r.sessionId}\` collects its changes and removes the sandbox`
        })).pipe(Effect.catchTag("SandboxRunNotFound", Effect.die))

  const status = (id: string, host: HostContext) =>
    Effect.gen(function*() {
      const r = yield* reconcile(yield* runs.get(id))
      let sandbox: StatusReport["sandbox"] = "unknown"
      if (r.sandboxId !== null && r.sandboxState !== "killed") {
        const p = yield* providers.get(r.provider, { env: host.env }).pipe(Effect.option)
        if (Option.isSome(p)) sandbox = yield* p.value.state(r.sandboxId).pipe(Effect.orElseSucceed(() => "unknown" as const))
      } else if (r.sandboxState === "killed") sandbox = "gone"
      return { run: r, sandbox, supervisorAlive: yield* supervisorAlive(r) }
    })

  const list = (filter: { readonly repoPath?: string | undefined; readonly limit?: number | undefined }) =>
    runs.list(filter).pipe(Effect.flatMap((rs) => Effect.forEach(rs, reconcile)))

  const logs = (id: string, options: { readonly lines?: number | undefined } = {}) =>
    Effect.map(runs.get(id), (r) => tailLines(r.logPath, options.lines))

  const follow = (id: string, options: { readonly lines?: number | undefined } = {}) =>
    Stream.unwrap(Effect.gen(function*() {
      const r = yield* runs.get(id)
      const initial = tailLines(r.logPath, options.lines)
      const offset = yield* Ref.make(fs.existsSync(r.logPath) ? fs.statSync(r.logPath).size : 0)
      const partial = yield* Ref.make("")
      const poll = Effect.gen(function*() {
        const from = yield* Ref.get(offset)
        let chunk = ""
        try {
          const size = fs.statSync(r.logPath).size
          if (size > from) {
            const fd = fs.openSync(r.logPath, "r")
            try {
              const buf = Buffer.alloc(size - from)
              fs.readSync(fd, buf, 0, buf.length, from)
              chunk = decoder.decode(buf)
            } finally {
              fs.closeSync(fd)
            }
            yield* Ref.set(offset, size)
          }
        } catch {
          chunk = ""
        }
        const text = (yield* Ref.get(partial)) + chunk
        const parts = text.split("\n")
        yield* Ref.set(partial, parts.pop() ?? "")
        return parts
      })
      const more = Stream.repeatEffectOption(Effect.gen(function*() {
        const fresh = yield* poll
        if (fresh.length > 0) return fresh
        const cur = yield* runs.get(id).pipe(Effect.flatMap(reconcile), Effect.mapError(Option.some))
        if (!isLive(cur.status)) {
          const last = yield* poll
          const rest = yield* Ref.get(partial)
          if (last.length === 0 && rest === "") return yield* Effect.fail(Option.none())
          yield* Ref.set(partial, "")
          return rest !== "" ? [...last, rest] : last
        }
        yield* Effect.sleep("250 millis")
        return []
      })).pipe(Stream.flatMap((lines) => Stream.fromIterable(lines)))
      return Stream.concat(Stream.fromIterable(initial), more)
    }))

  const download = (id: string, output: string, host: HostContext) =>
    Effect.gen(function*() {
      const r = yield* runs.get(id)
      const target = path.resolve(host.cwd, output)
      let changes: Changes | undefined
      let source: DownloadReport["source"] = "saved"
      if (r.sandboxId !== null && r.sandboxState !== "killed") {
        const provider = yield* providers.get(r.provider, { env: host.env })
        const live = yield* provider.connect(r.sandboxId).pipe(Effect.flatMap((sb) => sb.changes), Effect.option)
        if (Option.isSome(live)) {
          changes = live.value
          source = "sandbox"
        }
      }
      if (changes === undefined) changes = Option.getOrUndefined(loadSaved(r))
      if (changes === undefined) {
        return yield* new SandboxRunError({
          reason: "ChangesUnavailable",
          sessionId: id,
          detail: isLive(r.status) ? "the sandbox is not reachable yet" : "its sandbox is gone and no changes were saved"
        })
      }
      const applied = yield* fileSync.apply(changes, target)
      return {
        ...applied,
        refused: [...applied.refused],
        source,
        changes: { added: changes.added, modified: changes.modified, deleted: changes.deleted }
      } satisfies DownloadReport
    })

  /** Finish a run whose supervisor is gone, from this process: collect, kill, record. */
  const takeOverAndKill = (r: SandboxRun, host: HostContext) =>
    Effect.gen(function*() {
      const me = yield* self
      const mine = yield* runs.takeOver(r.sessionId, { pid: r.supervisorPid, start: r.supervisorStart }, { pid: me.pid, start: me.start })
      if (!mine) return { run: yield* runs.get(r.sessionId), action: "requested" as const }
      const log = (text: string) =>
        Effect.sync(() => appendFile(r.logPath, `${clock(new Date())} ${text}\n`))
      yield* log(`taken over by pid ${me.pid} (\`sandbox kill\`): the supervising process is gone`)
      if (r.sandboxId !== null) {
        const provider = yield* providers.get(r.provider, { env: host.env })
        const sb = yield* provider.connect(r.sandboxId).pipe(Effect.option)
        if (Option.isSome(sb)) {
          yield* collect(r, sb.value, { commit: false, redact: (t) => t }).pipe(
            Effect.tap((c) => log(`partial changes collected: ${summary(c.changes)}${c.worktreePath !== null ? ` in ${c.worktreePath}` : ""}`)),
            Effect.catchAll((e) => log(`could not collect the changes: ${e.message}`))
          )
        }
        yield* provider.kill(r.sandboxId).pipe(Effect.catchAll((e) => log(`could not kill the sandbox: ${e.message}`)))
      }
      const now = yield* Clock.currentTimeMillis
      const wasLost = r.status === "lost"
      const updated = yield* runs.update(r.sessionId, {
        status: wasLost ? "lost" : "killed",
        sandboxState: r.sandboxId !== null ? "killed" : r.sandboxState,
        endedAt: r.endedAt ?? new Date(now),
        ...(wasLost ? {} : { error: "stopped by `sandbox kill` after its supervising process died" })
      })
      yield* sessions.markReleased(r.sessionId as SessionId).pipe(Effect.ignore)
      yield* log(`finished: ${updated.status}; sandbox ${updated.sandboxState}`)
      return { run: updated, action: "stopped" as const }
    })

  const kill = (id: string, host: HostContext) =>
    Effect.gen(function*() {
      const r = yield* runs.get(id)
      if (isLive(r.status) && (yield* supervisorAlive(r))) {
        yield* runs.requestKill(id)
        const final = yield* pollUntil(runs.get(id), (x) => !isLive(x.status), "200 millis").pipe(
          Effect.timeout("60 seconds"),
          Effect.option
        )
        return Option.match(final, {
          onNone: () => ({ run: r, action: "requested" as const }),
          onSome: (x) => ({ run: x, action: "stopped" as const })
        }) satisfies KillReport
      }
      if (isLive(r.status) || (r.status === "lost" && r.sandboxState === "running")) {
        return yield* takeOverAndKill(r, host)
      }
      if (r.sandboxState === "kept" && r.sandboxId !== null) {
        const provider = yield* providers.get(r.provider, { env: host.env })
        yield* provider.kill(r.sandboxId)
        const updated = yield* runs.update(id, { sandboxState: "killed" })
        appendFile(r.logPath, `${clock(new Date())} kept sandbox removed by \`sandbox kill\`\n`)
        return { run: updated, action: "removed" as const } satisfies KillReport
      }
      return { run: r, action: "none" as const } satisfies KillReport
    })

  return Sandboxes.of({ run, check, providerOf: (req) => providerFor(req.provider, req.host), status, list, logs, follow, download, kill, budgetStatus })
})

/** Run `effect` every `interval` until `done` holds for its value; returns that value. */
const pollUntil = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  done: (a: A) => boolean,
  interval: Duration.DurationInput
): Effect.Effect<A, E, R> =>
  Effect.flatMap(effect, (a) => (done(a) ? Effect.succeed(a) : Effect.zipRight(Effect.sleep(interval), pollUntil(effect, done, interval))))

const squashMessage = (cause: Cause.Cause<unknown>): string => {
  const failure = Option.getOrUndefined(Cause.failureOption(cause))
  if (failure !== undefined && failure !== null && typeof failure === "object" && "message" in failure) {
    return String((failure as { message: unknown }).message)
  }
  return Cause.pretty(cause).split("\n")[0] ?? "failed"
}

/** Sandboxes over the store, the providers, git and file sync. */
export const layer = Layer.effect(Sandboxes, make)
