/**
 * The landing queue: a test-gated merge queue for session branches, plain branches and sandboxed runs'
 * results. `run` queues candidates for a target branch and processes the target's queue (see `engine.ts`
 * for batching, bisection and crash safety); `request` queues one session's branch (the MCP tool
 * `request_land`); `status` shows the queue and its outcomes; `cancel` takes a waiting entry out.
 *
 * Runs on one target serialise through a lease in the store; a run whose process is gone is settled by the
 * next one. Candidates are integrated on git objects, tested in a private worktree under the data directory,
 * and land with a compare-and-swap of the target ref (or a fast-forward of the clean work tree that has the
 * target checked out). The user's work trees and indexes are never written, except that fast-forward.
 *
 * @since 0.1.0
 */
import { CommandExecutor, FileSystem, Path } from "@effect/platform"
import { Config, Context, Duration, Effect, Layer, Option, Schema } from "effect"
import { Conflicts } from "../coordination/Conflicts.js"
import type { SessionId } from "../Domain.js"
import { InvalidInput, type SessionNotFound } from "../Errors.js"
import { AppConfig } from "../platform/AppConfig.js"
import type { DbFailure } from "../platform/Database.js"
import { Git } from "../platform/Git.js"
import { Processes } from "../platform/Processes.js"
import { SandboxRuns } from "../sandboxes/SandboxRuns.js"
import { SessionFiles } from "../sessions/SessionFiles.js"
import { SessionStore } from "../sessions/SessionStore.js"
import { Worktrees } from "../sessions/Worktrees.js"
import { type Deps, resolveSpec } from "./candidates.js"
import { identityEnv, type Context as IntegrateContext } from "./integrate.js"
import {
  LandEntry,
  LandEntryJson,
  type LandEntryNotFound,
  LandError,
  type LandEvent,
  type LandReport,
  type Strategy
} from "./LandDomain.js"
import { LandStore, layer as landStoreLayer } from "./LandStore.js"
import { fromConflicts } from "./resolve.js"
import { checkTest, encodeEntry, type Kit, runLanding, type RunRequest, waitingStatuses } from "./runner.js"
import { resolveTarget } from "./target.js"

export * from "./LandDomain.js"
export type { RunRequest } from "./runner.js"

export interface LandRequest {
  /** The session whose branch is queued. */
  readonly sessionId: string
  /** A test command; only one listed in `land.agentTests` is accepted. */
  readonly test?: string | undefined
  readonly strategy?: Strategy | undefined
  /** The target (default: the branch the session started from, else the repository's checked-out branch). */
  readonly into?: string | undefined
}

export interface StatusRequest {
  readonly repo?: string | undefined
  readonly target?: string | undefined
  readonly sessionId?: string | undefined
  readonly entryId?: string | undefined
  /** Most recent entries first; default 50. */
  readonly limit?: number | undefined
}

/** The queue as `get_land_status` and `land --list` show it. */
export const LandStatus = Schema.Struct({
  entries: Schema.Array(LandEntryJson),
  running: Schema.Array(Schema.Struct({ runId: Schema.String, repoPath: Schema.String, target: Schema.String, pid: Schema.Int }))
})
export type LandStatus = typeof LandStatus.Type

export type LandFailure = LandError | LandEntryNotFound | InvalidInput | DbFailure

export class Landing extends Context.Tag("@parallel-cc/core/Landing")<Landing, {
  /** Queue the candidates and process the target's queue; `onEvent` sees the progress. */
  readonly run: (req: RunRequest, onEvent?: (e: LandEvent) => Effect.Effect<void>) => Effect.Effect<LandReport, LandFailure>
  /** Queue a session's branch (without processing the queue). */
  readonly request: (req: LandRequest) => Effect.Effect<LandEntry, LandFailure | SessionNotFound>
  readonly status: (req?: StatusRequest) => Effect.Effect<LandStatus, LandFailure>
  /** Take a waiting entry out of the queue. */
  readonly cancel: (entryId: string) => Effect.Effect<LandEntry, LandFailure>
}>() {}

export const make = Effect.gen(function*() {
  const git = yield* Git
  const store = yield* LandStore
  const sessions = yield* SessionStore
  const runs = yield* SandboxRuns
  const worktrees = yield* Worktrees
  const conflicts = yield* Conflicts
  const processes = yield* Processes
  const config = yield* AppConfig
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const executor = yield* CommandExecutor.CommandExecutor
  const sessionFiles = yield* SessionFiles
  const pauseAt = yield* Config.option(Config.string("PARALLEL_CC_LAND_PAUSE_AT")).pipe(Effect.orElseSucceed(() => Option.none()))
  const pauseFile = yield* Config.option(Config.string("PARALLEL_CC_LAND_PAUSE_FILE")).pipe(Effect.orElseSucceed(() => Option.none()))
  const values = config.values
  const landDir = path.join(config.dataDir, "land")
  const dirs = { scratch: path.join(landDir, "tmp"), logs: path.join(landDir, "logs"), work: path.join(landDir, "work") }
  const resolver = fromConflicts(conflicts)

  const ensureDirs = Effect.forEach(Object.values(dirs), (d) => fs.makeDirectory(d, { recursive: true, mode: 0o700 }), { discard: true }).pipe(
    Effect.mapError((e) => new LandError({ reason: "GitFailed", detail: `cannot create ${landDir}: ${e.message}` }))
  )

  const gitFailed = (e: { readonly message: string }) => new LandError({ reason: "GitFailed", detail: e.message })

  const repoOf = (dir: string) =>
    git.mainRoot(dir).pipe(
      Effect.mapError((e) => e.reason === "NotARepo" ? new InvalidInput({ field: "repository", detail: e.message }) : gitFailed(e))
    )

  const contexts = (repo: string) =>
    Effect.gen(function*() {
      yield* ensureDirs
      const idEnv = yield* identityEnv(git, repo)
      const deps: Deps = { git, fs, path, sessions, runs, scratchDir: dirs.scratch, identityEnv: idEnv }
      const integrateCtx: IntegrateContext = { git, fs, path, repo, scratchDir: dirs.scratch, identityEnv: idEnv, resolver }
      return { deps, integrateCtx }
    })

  // Test hook: at step PARALLEL_CC_LAND_PAUSE_AT, announce it in `<file>.reached` and wait for `<file>`.
  const pause = (step: string) =>
    Option.isSome(pauseAt) && Option.isSome(pauseFile) && pauseAt.value === step
      ? Effect.gen(function*() {
        yield* fs.writeFileString(`${pauseFile.value}.reached`, step).pipe(Effect.ignore)
        while (!(yield* fs.exists(pauseFile.value).pipe(Effect.orElseSucceed(() => false)))) yield* Effect.sleep(Duration.millis(20))
      })
      : Effect.void

  const request = (req: LandRequest) =>
    Effect.gen(function*() {
      const session = yield* sessions.get(req.sessionId as SessionId)
      if (session.branch === null) {
        return yield* new LandError({ reason: "NoSessionBranch", detail: `session ${session.sessionId} works in the repository itself` })
      }
      if (req.test !== undefined && !values["land.agentTests"].includes(req.test)) {
        return yield* new LandError({ reason: "TestNotAllowed", detail: `the test command ${JSON.stringify(req.test)} is not in land.agentTests` })
      }
      if (req.test !== undefined) yield* checkTest(req.test)
      const repo = session.repoPath
      const base = req.into ?? (session.baseBranch !== null && session.baseBranch !== session.branch ? session.baseBranch : undefined)
      const target = yield* resolveTarget(git, repo, base).pipe(
        Effect.catchIf((e) => req.into === undefined && base !== undefined && e.reason !== "GitFailed", () => resolveTarget(git, repo, undefined))
      )
      const { deps } = yield* contexts(repo)
      const c = yield* resolveSpec(deps, repo, target.tip, session.sessionId)
      if (c.ahead === 0) return yield* new LandError({ reason: "NoCommits", detail: `${c.name} has no commits that ${target.branch} lacks` })
      const waiting = yield* store.list({ repoPath: repo, target: target.branch, sessionId: session.sessionId, statuses: [...waitingStatuses] })
      if (waiting[0] !== undefined) return waiting[0]
      const [entry] = yield* store.enqueue([{
        repoPath: repo,
        target: target.branch,
        kind: c.kind,
        spec: session.sessionId,
        name: c.name,
        sessionId: c.sessionId,
        branch: c.branch,
        worktreePath: c.worktreePath,
        head: c.head,
        strategy: req.strategy ?? values["land.strategy"],
        testCommand: req.test ?? null,
        requestedBy: `session:${session.sessionId}`,
        warnings: c.warnings
      }])
      return entry!
    }).pipe(Effect.withSpan("Landing.request"))

  const status = (req: StatusRequest = {}) =>
    Effect.gen(function*() {
      const repo = req.repo !== undefined ? yield* repoOf(req.repo) : undefined
      const entries = req.entryId !== undefined
        ? [yield* store.get(req.entryId)]
        : yield* store.list({ repoPath: repo, target: req.target, sessionId: req.sessionId, limit: req.limit ?? 50 })
      const leases = yield* store.leases(repo)
      return {
        entries: [...entries].sort((a, b) => a.position - b.position).map((e) => encodeEntry(e)),
        running: leases.map((l) => ({ runId: l.runId, repoPath: l.repoPath, target: l.target, pid: l.pid }))
      } satisfies LandStatus
    })

  const cancel = (entryId: string) =>
    Effect.gen(function*() {
      const entry = yield* store.get(entryId)
      if (!(yield* store.cancel(entryId))) {
        return yield* new InvalidInput({ field: "entry", detail: `${entryId} is ${entry.status}; only a queued entry can be cancelled` })
      }
      return yield* store.get(entryId)
    })

  // A session whose branch landed or came back hears it on its agent's next tool call (once per entry).
  const notify = (e: LandEntry, text: string) =>
    e.sessionId === null
      ? Effect.void
      : sessionFiles.addNotice(e.sessionId as SessionId, { key: `land:${e.entryId}`, text }).pipe(
        Effect.catchAll((err) => Effect.logWarning(`could not tell session ${e.sessionId} about ${e.name}`, err)),
        Effect.asVoid
      )
  const kit: Kit = { git, store, worktrees, processes, values, fs, path, executor, dirs, pause, notify, gitFailed, repoOf, contexts }
  const run = (req: RunRequest, onEvent?: (e: LandEvent) => Effect.Effect<void>) => runLanding(kit, req, onEvent)

  return Landing.of({ run, request, status, cancel })
})

/** The landing queue; needs its store, sessions, sandbox runs, worktrees, conflicts and the platform. */
export const layer = Layer.effect(Landing, make).pipe(Layer.provide(landStoreLayer))
