/**
 * The sandbox area of the Promise facade (`client.sandbox`): run, status, list, logs, download, kill.
 *
 * @since 0.2.0
 */
import { Effect, Schema } from "effect"
import * as Sandboxes from "../sandboxes/Sandboxes.js"
import * as SandboxRuns from "../sandboxes/SandboxRuns.js"
import { agentRunFields, agentRunOptions, decodeInput, Limit, opt, strict, Text } from "./input.js"
import type { CallOptions, Facade } from "./runtime.js"

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
  /** Hosts the network policy refused to the agent (`allow` mode). */
  readonly refusedHosts: ReadonlyArray<{ readonly host: string; readonly port: number; readonly reason: string; readonly count: number }>
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


const SandboxRunInput = strict({
  repoPath: Text,
  prompt: Text,
  ...agentRunFields,
  branch: opt(Text),
  keep: opt(Schema.Boolean),
  dryRun: opt(Schema.Boolean),
  network: opt(Schema.Literal("on", "off", "allow")),
  allowHosts: opt(Schema.Array(Text))
})
const RunIdInput = strict({ sessionId: Text })
const SandboxListInput = strict({ repoPath: opt(Text), limit: opt(Limit) })
const SandboxLogsInput = strict({ sessionId: Text, lines: opt(Schema.Int.pipe(Schema.positive())) })
const DownloadInput = strict({ sessionId: Text, outputPath: Text })

const encodeRun = Schema.encodeSync(SandboxRuns.SandboxRun)

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
      /** What the agent may reach: allow (its model API, the repository's registries and `allowHosts`), on or off. */
      readonly network?: "on" | "off" | "allow"
      /** Hosts the agent may reach in allow mode besides the defaults: `HOST`, `HOST:PORT`, `*.DOMAIN`. */
      readonly allowHosts?: ReadonlyArray<string>
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

export const makeSandbox = (f: Facade): SandboxApi => {
  const { call, method, mainRoot, abs, host } = f
  const runResult = (r: Sandboxes.RunResult): RunResult => ({
    run: encodeRun(r.run),
    isolation: r.isolation,
    changes: r.changes,
    refused: r.refused,
    worktreePath: r.worktreePath,
    branch: r.branch,
    commit: r.commit,
    warnings: r.warnings,
    refusedHosts: r.refusedHosts
  })

  return {
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
              ...agentRunOptions(i),
              branch: i.branch,
              keep: i.keep,
              dryRun: i.dryRun,
              network: i.network,
              allowHosts: i.allowHosts,
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
}
