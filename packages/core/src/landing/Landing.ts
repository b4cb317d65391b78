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
import { Clock, Config, Context, Duration, Effect, Layer, Option, Schema } from "effect"
import { Conflicts } from "../coordination/Conflicts.js"
import type { SessionId } from "../Domain.js"
import { InvalidInput, type SessionNotFound } from "../Errors.js"
import { AppConfig } from "../platform/AppConfig.js"
import type { DbFailure } from "../platform/Database.js"
import { Git } from "../platform/Git.js"
import { Processes } from "../platform/Processes.js"
import { SandboxRuns } from "../sandboxes/SandboxRuns.js"
import { SessionStore } from "../sessions/SessionStore.js"
import { Worktrees } from "../sessions/Worktrees.js"
import { type Candidate, type Deps, discover, resolveSpec } from "./candidates.js"
import { splitWords } from "./commandWords.js"
import { type Engine, processQueue, recover } from "./engine.js"
import { identityEnv, type Context as IntegrateContext } from "./integrate.js"
import {
  LandEntry,
  LandEntryJson,
  type LandEntryNotFound,
  LandError,
  type LandEvent,
  type LandReport,
  type Skipped,
  type Strategy
} from "./LandDomain.js"
import { LandStore, layer as landStoreLayer, type NewEntry, newId } from "./LandStore.js"
import { planQueue } from "./plan.js"
import { fromConflicts } from "./resolve.js"
import { checkQuiet, resolveTarget, type Target, tipOf } from "./target.js"

export * from "./LandDomain.js"

export interface RunRequest {
  /** Any directory of the repository. */
  readonly repo: string
  /** Sessions (id, worktree name or branch), sandboxed runs (id) or branches, in queue order. */
  readonly candidates?: ReadonlyArray<string> | undefined
  /** Also queue every finished session and sandboxed run with work the target lacks. */
  readonly all?: boolean | undefined
  /** The target branch (default: the branch checked out in the repository). */
  readonly into?: string | undefined
  /** Test command line (default: `land.test`); words, no shell. */
  readonly test?: string | undefined
  readonly strategy?: Strategy | undefined
  /** Report what would land, in which order, and what would conflict; move nothing, queue nothing. */
  readonly dryRun?: boolean | undefined
  /** Who asked (shown in the queue): `cli` by default. */
  readonly requestedBy?: string | undefined
}

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

const encodeEntry = Schema.encodeSync(LandEntry)

const lockFailures = new Set(["GitError", "WorktreeError", "DatabaseError", "DatabaseBusy"])
/** A failure of the worktree lock itself (not of the effect run under it). */
const isLockFailure = (e: unknown): e is { readonly _tag: string; readonly message: string } =>
  e !== null && typeof e === "object" && lockFailures.has((e as { _tag?: string })._tag ?? "")
const waitingStatuses = ["queued", "integrating", "testing", "landing"] as const

const keyOf = (c: { readonly kind: string; readonly sessionId: string | null; readonly branch: string | null }) =>
  c.kind === "branch" ? `branch:${c.branch}` : `${c.kind}:${c.sessionId}`

const badTest = (line: string, why: string) =>
  new LandError({ reason: "BadTestCommand", detail: `the test command ${JSON.stringify(line)} cannot run without a shell: ${why}` })

/** Check a test command line; returns it. */
const checkTest = (line: string) => {
  const w = splitWords(line)
  return "error" in w ? Effect.fail(badTest(line, w.error)) : Effect.succeed(line)
}

const argvOf = (line: string) => {
  const w = splitWords(line)
  if ("error" in w) throw new Error(`unchecked test command: ${w.error}`)
  return w.argv
}

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

  /** Resolve what the request names (or finds), leaving out what already waits or already landed. */
  const selectCandidates = (req: RunRequest, deps: Deps, repo: string, target: Target) =>
    Effect.gen(function*() {
      const skipped: Array<Skipped> = []
      let found: Array<Candidate> = []
      for (const spec of req.candidates ?? []) {
        const c = yield* resolveSpec(deps, repo, target.tip, spec)
        if (c.branch === target.branch) {
          return yield* new LandError({ reason: "SameBranch", detail: `${spec} is the target branch ${target.branch}` })
        }
        if (c.ahead === 0) {
          return yield* new LandError({ reason: "NoCommits", detail: `${spec} has no commits that ${target.branch} lacks` })
        }
        if (!found.some((f) => keyOf(f) === keyOf(c))) found.push(c)
      }
      if (req.all === true) {
        const d = yield* discover(deps, repo, target.branch, target.tip)
        skipped.push(...d.skipped)
        for (const c of d.found) if (!found.some((f) => keyOf(f) === keyOf(c))) found.push(c)
      }
      const history = yield* store.list({ repoPath: repo, target: target.branch })
      const waiting = history.filter((e) => (waitingStatuses as ReadonlyArray<string>).includes(e.status))
      const explicit = new Set(req.candidates ?? [])
      found = found.filter((c) => {
        if (waiting.some((e) => keyOf(e) === keyOf(c))) return false
        const landed = history.find((e) => keyOf(e) === keyOf(c) && e.status === "landed" && e.head === c.head)
        if (landed !== undefined) {
          skipped.push({ name: c.name, reason: `already landed at this commit (entry ${landed.entryId})` })
          return false
        }
        const sentBack = history.find((e) => keyOf(e) === keyOf(c) && e.status === "sent_back" && e.head === c.head)
        if (sentBack !== undefined && !explicit.has(c.spec)) {
          skipped.push({ name: c.name, reason: `sent back earlier at this commit: ${sentBack.message ?? sentBack.reason}; name it to try again` })
          return false
        }
        return true
      })
      return { found, skipped, waiting }
    })

  const runQueue = (
    repo: string,
    target: Target,
    testLine: string | null,
    deps: Deps,
    integrateCtx: IntegrateContext,
    emit: (e: LandEvent) => Effect.Effect<void>,
    touched: Set<string>
  ) =>
    Effect.scoped(Effect.gen(function*() {
      const self = yield* processes.probe(process.pid)
      const run = { id: newId("r_"), repoPath: repo, target: target.branch, pid: process.pid, pidStartTime: self._tag === "Running" ? self.startTime : null }
      const key = `${repo}:${target.ref}`
      const isAlive = (h: { readonly pid: number; readonly pidStartTime: string | null }) =>
        processes.probe(h.pid).pipe(Effect.map((p) => p._tag === "Running" && (p.startTime === null || h.pidStartTime === null || p.startTime === h.pidStartTime)))
      let announced = false
      let delay = 50
      yield* Effect.acquireRelease(
        Effect.gen(function*() {
          for (;;) {
            const holder = yield* store.tryLease(key, run, isAlive)
            if (holder === null) return
            if (!announced) yield* emit({ _tag: "Waiting", target: target.branch, holderPid: holder.pid })
            announced = true
            yield* Effect.sleep(Duration.millis(delay))
            delay = Math.min(delay * 2, 1000)
          }
        }),
        () => store.releaseLease(key, run.id).pipe(Effect.ignore)
      )
      const engine: Engine = {
        git,
        fs,
        path,
        executor,
        processes,
        store,
        deps,
        integrateCtx,
        repo,
        target,
        runId: run.id,
        scope: yield* Effect.scope,
        emit,
        testLineFor: (e) => e.testCommand ?? testLine,
        argvOf,
        timeout: Duration.millis(values["land.testTimeoutMinutes"] * 60_000),
        batchSize: values["land.batchSize"],
        workDir: dirs.work,
        logsDir: dirs.logs,
        copy: values["worktree.copy"],
        setupCommands: values["worktree.setup"],
        withLock: <A, E>(effect: Effect.Effect<A, E>) =>
          worktrees.withLock(repo)(effect).pipe(
            Effect.mapError((e) => (isLockFailure(e) ? gitFailed(e) : e))
          ) as Effect.Effect<A, E | LandError>,
        pause,
        notify: () => Effect.void,
        touched,
        stats: { testRuns: 0, testMs: 0 },
        tree: undefined
      }
      // Entries this run was working on go back to the queue if it stops early (interrupted, failed).
      yield* Effect.addFinalizer(() =>
        store.list({ repoPath: repo, target: target.branch, statuses: ["integrating", "testing"] }).pipe(
          Effect.flatMap((es) => store.update(es.filter((e) => e.runId === run.id).map((e) => e.entryId), { status: "queued", runId: null })),
          Effect.ignore
        )
      )
      yield* recover(engine)
      yield* processQueue(engine)
      return { runId: run.id, stats: engine.stats }
    }))

  const run = (req: RunRequest, onEvent: (e: LandEvent) => Effect.Effect<void> = () => Effect.void) =>
    Effect.gen(function*() {
      const started = yield* Clock.currentTimeMillis
      const repo = yield* repoOf(req.repo)
      const target = yield* resolveTarget(git, repo, req.into)
      const place = yield* checkQuiet(git, fs, path, repo, target)
      const testLine = req.test !== undefined ? yield* checkTest(req.test) : values["land.test"] !== "" ? yield* checkTest(values["land.test"]) : null
      const strategy = req.strategy ?? values["land.strategy"]
      const { deps, integrateCtx } = yield* contexts(repo)
      const sel = yield* selectCandidates(req, deps, repo, target)
      for (const s of sel.skipped) yield* onEvent({ _tag: "Skipped", name: s.name, reason: s.reason })
      const base = {
        repoPath: repo,
        target: target.branch,
        testCommand: testLine,
        targetBefore: target.tip,
        skipped: sel.skipped,
        worktree: null
      }
      if (req.dryRun === true) {
        const queuedItems = yield* Effect.forEach(sel.waiting.filter((e) => e.status === "queued"), (e) =>
          resolveSpec(deps, repo, target.tip, e.kind === "branch" ? e.branch ?? e.spec : e.sessionId ?? e.spec).pipe(
            Effect.map((candidate) => [{ candidate, strategy: e.strategy, queued: true }]),
            Effect.orElseSucceed(() => [])
          ))
        const items = [...queuedItems.flat(), ...sel.found.map((candidate) => ({ candidate, strategy, queued: false }))]
        const plan = yield* planQueue(integrateCtx, target.branch, target.tip, items)
        const report: LandReport = {
          ...base,
          runId: null,
          dryRun: true,
          targetAfter: target.tip,
          entries: [],
          plan,
          tests: { runs: 0, totalMs: 0 },
          landed: 0,
          sentBack: 0,
          waiting: sel.waiting.length,
          durationMs: (yield* Clock.currentTimeMillis) - started
        }
        yield* onEvent({ _tag: "Finished", report })
        return report
      }
      const added = yield* store.enqueue(sel.found.map((c): NewEntry => ({
        repoPath: repo,
        target: target.branch,
        kind: c.kind,
        spec: c.spec,
        name: c.name,
        sessionId: c.sessionId,
        branch: c.branch,
        worktreePath: c.worktreePath,
        head: c.head,
        strategy,
        testCommand: null,
        requestedBy: req.requestedBy ?? "cli"
      })))
      const queue = [...sel.waiting, ...added]
      yield* onEvent({ _tag: "Queued", target: target.branch, entries: queue.map((e) => ({ entryId: e.entryId, name: e.name, position: e.position })) })
      const touched = new Set(queue.map((e) => e.entryId))
      const done = yield* runQueue(repo, target, testLine, deps, integrateCtx, onEvent, touched)
      const entries = yield* store.list({ ids: [...touched] })
      const after = yield* tipOf(git, repo, target.ref)
      const report: LandReport = {
        ...base,
        runId: done.runId,
        dryRun: false,
        targetAfter: after,
        entries: entries.map((e) => encodeEntry(e)),
        plan: [],
        worktree: place.checkedOut === null
          ? null
          : {
            path: place.checkedOut.path,
            moved: after !== target.tip,
            detail: after !== target.tip ? `brought forward to ${after.slice(0, 12)}` : "unchanged"
          },
        tests: { runs: done.stats.testRuns, totalMs: done.stats.testMs },
        landed: entries.filter((e) => e.status === "landed").length,
        sentBack: entries.filter((e) => e.status === "sent_back").length,
        waiting: entries.filter((e) => (waitingStatuses as ReadonlyArray<string>).includes(e.status)).length,
        durationMs: (yield* Clock.currentTimeMillis) - started
      }
      yield* onEvent({ _tag: "Finished", report })
      return report
    }).pipe(Effect.withSpan("Landing.run"))

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
        requestedBy: `session:${session.sessionId}`
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

  return Landing.of({ run, request, status, cancel })
})

/** The landing queue; needs its store, sessions, sandbox runs, worktrees, conflicts and the platform. */
export const layer = Layer.effect(Landing, make).pipe(Layer.provide(landStoreLayer))
