/**
 * A `land` run: choose the candidates (named, or every finished one), queue them, take the target's lease
 * (waiting while another run holds it), settle what killed runs left, process the queue (`engine.ts`) and
 * report. A dry run plans on git objects only.
 */
import type { CommandExecutor, FileSystem, Path } from "@effect/platform"
import { Clock, Duration, Effect, Schema } from "effect"
import type { InvalidInput } from "../Errors.js"
import type { AppConfig } from "../platform/AppConfig.js"
import type { Git } from "../platform/Git.js"
import type { Processes } from "../platform/Processes.js"
import type { Worktrees } from "../sessions/Worktrees.js"
import { type Candidate, type Deps, discover, resolveSpec } from "./candidates.js"
import { splitWords } from "./commandWords.js"
import { type Engine, processQueue, recover } from "./engine.js"
import type { Context as IntegrateContext } from "./integrate.js"
import { LandEntry, LandError, type LandEvent, type LandReport, type Skipped, type Strategy } from "./LandDomain.js"
import { type LandStore, type NewEntry, newId } from "./LandStore.js"
import { planQueue } from "./plan.js"
import { checkQuiet, checkRepoQuiet, resolveTarget, type Target, tipOf } from "./target.js"

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

/** What a run works with (built once by the Landing service). */
export interface Kit {
  readonly git: Git["Type"]
  readonly store: LandStore["Type"]
  readonly worktrees: Worktrees["Type"]
  readonly processes: Processes["Type"]
  readonly values: AppConfig["Type"]["values"]
  readonly fs: FileSystem.FileSystem
  readonly path: Path.Path
  readonly executor: CommandExecutor.CommandExecutor
  readonly dirs: { readonly scratch: string; readonly logs: string; readonly work: string }
  readonly pause: (step: string) => Effect.Effect<void>
  /** Tell a candidate's session what happened (the per-session notice its hooks deliver once). */
  readonly notify: (e: LandEntry, text: string) => Effect.Effect<void>
  readonly gitFailed: (e: { readonly message: string }) => LandError
  readonly repoOf: (dir: string) => Effect.Effect<string, LandError | InvalidInput>
  readonly contexts: (repo: string) => Effect.Effect<{ readonly deps: Deps; readonly integrateCtx: IntegrateContext }, LandError>
}

export const encodeEntry = Schema.encodeSync(LandEntry)

const lockFailures = new Set(["GitError", "WorktreeError", "DatabaseError", "DatabaseBusy"])
/** A failure of the worktree lock itself (not of the effect run under it). */
const isLockFailure = (e: unknown): e is { readonly _tag: string; readonly message: string } =>
  e !== null && typeof e === "object" && lockFailures.has((e as { _tag?: string })._tag ?? "")
export const waitingStatuses = ["queued", "integrating", "testing", "landing"] as const

const keyOf = (c: { readonly kind: string; readonly sessionId: string | null; readonly branch: string | null }) =>
  c.kind === "branch" ? `branch:${c.branch}` : `${c.kind}:${c.sessionId}`

const badTest = (line: string, why: string) =>
  new LandError({ reason: "BadTestCommand", detail: `the test command ${JSON.stringify(line)} cannot run without a shell: ${why}` })

/** Check a test command line; returns it. */
export const checkTest = (line: string) => {
  const w = splitWords(line)
  return "error" in w ? Effect.fail(badTest(line, w.error)) : Effect.succeed(line)
}

const argvOf = (line: string) => {
  const w = splitWords(line)
  if ("error" in w) throw new Error(`unchecked test command: ${w.error}`)
  return w.argv
}

/** Resolve what the request names (or finds), leaving out what already waits or already landed. */
export const selectCandidates = (kit: Kit, req: RunRequest, deps: Deps, repo: string, target: Target) =>
  Effect.gen(function*() {
    const { store } = kit
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
  kit: Kit,
  repo: string,
  target: Target,
  testLine: string | null,
  deps: Deps,
  integrateCtx: IntegrateContext,
  emit: (e: LandEvent) => Effect.Effect<void>,
  touched: Set<string>
) =>
  Effect.scoped(Effect.gen(function*() {
    const { dirs, executor, fs, git, gitFailed, path, pause, processes, store, values, worktrees } = kit
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
      share: values["worktree.share"],
      shareMode: values["worktree.shareMode"],
      withLock: <A, E>(effect: Effect.Effect<A, E>) =>
        worktrees.withLock(repo)(effect).pipe(
          Effect.mapError((e) => (isLockFailure(e) ? gitFailed(e) : e))
        ) as Effect.Effect<A, E | LandError>,
      pause,
      notify: kit.notify,
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

/** Queue what the request names and process the target's queue (or, with `dryRun`, only plan it). */
export const runLanding = (kit: Kit, req: RunRequest, onEvent: (e: LandEvent) => Effect.Effect<void> = () => Effect.void) =>
  Effect.gen(function*() {
    const { contexts, fs, git, path, repoOf, store, values } = kit
    const started = yield* Clock.currentTimeMillis
    const repo = yield* repoOf(req.repo)
    yield* checkRepoQuiet(git, fs, path, repo)
    const target = yield* resolveTarget(git, repo, req.into)
    const place = yield* checkQuiet(git, fs, path, repo, target)
    const testLine = req.test !== undefined ? yield* checkTest(req.test) : values["land.test"] !== "" ? yield* checkTest(values["land.test"]) : null
    const strategy = req.strategy ?? values["land.strategy"]
    const { deps, integrateCtx } = yield* contexts(repo)
    const sel = yield* selectCandidates(kit, req, deps, repo, target)
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
      requestedBy: req.requestedBy ?? "cli",
      warnings: c.warnings
    })))
    const queue = [...sel.waiting, ...added]
    yield* onEvent({ _tag: "Queued", target: target.branch, entries: queue.map((e) => ({ entryId: e.entryId, name: e.name, position: e.position })) })
    const touched = new Set(queue.map((e) => e.entryId))
    const done = yield* runQueue(kit, repo, target, testLine, deps, integrateCtx, onEvent, touched)
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

