/**
 * Sandboxed runs: one prompt, one agent, one sandbox. `run` lists the work tree, creates a sandbox with a
 * provider, uploads, injects credentials (as environment or 0600 files, never on a command line), starts
 * the agent headless, records its decoded output and result, and brings the changes back into a new
 * worktree for review (or onto a committed branch). The sandbox is a scoped resource: on every way out —
 * success, failure, timeout, a kill from another process, interruption — it is killed, or kept on
 * purpose with `keep`, and the database says which; partial changes are collected first.
 *
 * `status`, `list`, `logs`, `follow`, `download` and `kill` work from any process: they find the run in
 * the database and the sandbox by its provider id.
 *
 * The service only wires its parts, each a module of its own: the checks before anything starts
 * (`RunChecks`), credentials (`Credentials`), budgets (`SandboxBudget`), the run's files (`RunArtifacts`),
 * the pipeline (`RunPipeline`, `AgentPhase`, `AgentSupervisor`), its changes (`RunChanges`), pull requests
 * (`PullRequests`) and the cross-process commands (`RunQueries`).
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, type Stream } from "effect"
import type { DbFailure } from "../platform/Database.js"
import * as RunChecks from "./RunChecks.js"
import * as RunDeps from "./RunDeps.js"
import type {
  DownloadReport,
  HostContext,
  KillReport,
  RunEvent,
  RunFailure,
  RunRequest,
  RunResult,
  StatusReport
} from "./RunModel.js"
import * as RunPipeline from "./RunPipeline.js"
import * as RunQueries from "./RunQueries.js"
import type { ProviderName } from "./SandboxProvider.js"
import type { BudgetPeriod, BudgetPeriodStatus } from "./SandboxBudget.js"
import type { SandboxRun, SandboxRunNotFound } from "./SandboxRuns.js"

export {
  autoBranchName,
  type DownloadReport,
  type HostContext,
  type KillReport,
  parseTimeout,
  type RunEvent,
  type RunFailure,
  type RunRequest,
  type RunResult,
  SandboxRunError,
  type StatusReport
} from "./RunModel.js"
export { makeRunCache, type RunCache } from "./runCache.js"
export { type BudgetPeriod, type BudgetPeriodStatus, periodStart } from "./SandboxBudget.js"

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

export const make = Effect.gen(function*() {
  const deps = yield* RunDeps.make
  const queries = RunQueries.make(deps)
  return Sandboxes.of({
    run: (request, onEvent) => RunPipeline.run(deps, request, onEvent),
    check: (request) => Effect.asVoid(RunChecks.prepare(deps, request)),
    providerOf: (request) => RunChecks.providerFor(deps, request.provider, request.host),
    status: queries.status,
    list: queries.list,
    logs: queries.logs,
    follow: queries.follow,
    download: queries.download,
    kill: queries.kill,
    budgetStatus: deps.budget.status
  })
})

/** Sandboxes over the store, the providers, git and file sync. */
export const layer = Layer.effect(Sandboxes, make)
