/**
 * One `land` run over a target's queue, holding the target's lease: take the waiting entries in order, in
 * batches of consecutive entries with the same strategy and test command; integrate each batch as a chain
 * on the target (a conflict the engine cannot auto-apply sends that candidate back at once); test the
 * chain's tip in the private worktree; on success move the target to it with a compare-and-swap; on failure
 * bisect — test the first half; if it passes it lands and the failure is in the second half (known without
 * testing it again); if not, the first half is bisected and the second half waits for the next batch.
 *
 * Before the target moves, every entry of the batch records the commit it will land as (`landing`); after,
 * `landed`. A run killed in between is settled by the next one: an entry whose planned commit is in the
 * target landed, any other goes back to the queue. Nothing lands twice, no ref moves backwards.
 */
import { CommandExecutor, FileSystem, Path } from "@effect/platform"
import { Clock, Duration, Effect, Fiber, Scope } from "effect"
import type { DbFailure } from "../platform/Database.js"
import type { Git } from "../platform/Git.js"
import type { Processes } from "../platform/Processes.js"
import type { ShareMode } from "../sessions/sharedFolders.js"
import { type Candidate, type Deps, refresh } from "./candidates.js"
import { type Context as IntegrateContext, integrate } from "./integrate.js"
import { type EntryDetail, LandError, type LandEntry, type LandEvent, type Resolution, type SendBackReason } from "./LandDomain.js"
import type { LandStore } from "./LandStore.js"
import { checkClean, checkQuiet, moveTarget, type Target, type TargetPlace, tipOf } from "./target.js"
import { runTest, type TestOutcome } from "./testRun.js"
import { type Reinstall, removeTestTree, type TestTree, testTree } from "./testTree.js"

type GitApi = Git["Type"]

export interface Engine {
  readonly git: GitApi
  readonly fs: FileSystem.FileSystem
  readonly path: Path.Path
  readonly executor: CommandExecutor.CommandExecutor
  readonly processes: Processes["Type"]
  readonly store: LandStore["Type"]
  readonly deps: Deps
  readonly integrateCtx: IntegrateContext
  readonly repo: string
  readonly target: Target
  readonly runId: string
  readonly scope: Scope.Scope
  readonly emit: (e: LandEvent) => Effect.Effect<void>
  /** The test command line for an entry (its own, else the run's, else `land.test`); null: none. */
  readonly testLineFor: (e: LandEntry) => string | null
  readonly argvOf: (line: string) => readonly [string, ...Array<string>]
  readonly timeout: Duration.Duration
  readonly batchSize: number
  readonly workDir: string
  readonly logsDir: string
  readonly copy: ReadonlyArray<string>
  readonly setupCommands: ReadonlyArray<ReadonlyArray<string>>
  readonly share: ReadonlyArray<string>
  readonly shareMode: ShareMode
  readonly withLock: <A, E>(effect: Effect.Effect<A, E>) => Effect.Effect<A, E | LandError>
  /** Test hook: stop at a named step until a signal file appears. */
  readonly pause: (step: string) => Effect.Effect<void>
  /** Tell a candidate's session what happened to it. */
  readonly notify: (e: LandEntry, text: string) => Effect.Effect<void>
  /** Entry ids this run processed. */
  readonly touched: Set<string>
  readonly stats: { testRuns: number; testMs: number }
  tree: TestTree | undefined
}

/** One integrated candidate of a batch. */
interface Link {
  readonly entry: LandEntry
  readonly candidate: Candidate
  readonly commit: string
  readonly resolutions: ReadonlyArray<Resolution>
}

interface Tested extends TestOutcome {
  readonly logPath: string
  /** How many candidates the tested commit held. */
  readonly size: number
  /** Installing the changed dependencies failed (the test did not run): what failed. */
  readonly setupFailure: string | null
}

type BatchOutcome = "done" | "target-moved"

const MAX_TARGET_MOVES = 5

const now = Clock.currentTimeMillis

const withDetail = (e: LandEntry, patch: Partial<EntryDetail>): EntryDetail => ({ ...e.detail, ...patch })

const sendBack = (eng: Engine, e: LandEntry, reason: SendBackReason, message: string, detail: Partial<EntryDetail>, test?: Tested) =>
  Effect.gen(function*() {
    yield* eng.store.update([e.entryId], {
      status: "sent_back",
      reason,
      message,
      detail: withDetail(e, detail),
      logPath: test?.logPath ?? null,
      testMs: test?.durationMs ?? null,
      endedAt: yield* now
    })
    yield* eng.emit({ _tag: "SentBack", entryId: e.entryId, name: e.name, reason, message })
    yield* eng.notify(
      e,
      `parallel-cc land sent your branch ${e.name} back from ${eng.target.branch}: ${message}. Your branch is unchanged; ` +
        "get_land_status has the details (conflicted files, or the failing test's output). Fix it, commit, and call request_land again."
    )
  })

const requeue = (eng: Engine, entries: ReadonlyArray<LandEntry>) =>
  eng.store.update(entries.map((e) => e.entryId), { status: "queued", runId: null, plannedCommit: null, targetBefore: null })

/** The private test worktree at `commit` (created on first use, removed when the run ends). */
const treeAt = (eng: Engine, commit: string) =>
  Effect.gen(function*() {
    if (eng.tree === undefined) {
      const path = eng.path.join(eng.workDir, eng.runId)
      yield* eng.store.updateRun(eng.runId, { worktreePath: path })
      eng.tree = yield* Scope.extend(
        testTree({
          git: eng.git,
          repo: eng.repo,
          path,
          commit,
          copy: eng.copy,
          setupCommands: eng.setupCommands,
          share: eng.share,
          shareMode: eng.shareMode,
          setupLog: eng.path.join(eng.logsDir, `${eng.runId}-setup`),
          withLock: eng.withLock
        }).pipe(
          Effect.provideService(CommandExecutor.CommandExecutor, eng.executor),
          Effect.provideService(FileSystem.FileSystem, eng.fs),
          Effect.provideService(Path.Path, eng.path)
        ),
        eng.scope
      )
      for (const w of [...eng.tree.prepared.notes, ...eng.tree.setup.warnings]) {
        yield* eng.emit({ _tag: "Warning", message: `landing worktree setup: ${w}` })
      }
    }
    const reinstall = yield* eng.tree.checkout(commit)
    if (reinstall !== null) yield* eng.emit({ _tag: "Warning", message: reinstallNote(reinstall) })
    return { tree: eng.tree, reinstall }
  })

const reinstallNote = (r: Reinstall) => {
  const files = r.changed.join(", ")
  if (!r.ran) return `${files} changed and no worktree.setup command installs dependencies: the test runs with the shared ones`
  if (r.failed === null) return `${files} changed: worktree.setup ran again in the landing worktree (${(r.durationMs / 1000).toFixed(1)}s)`
  return `${files} changed and worktree.setup failed: ${JSON.stringify(r.failed.argv)} ` +
    `${r.failed.exitCode === null ? "could not start" : `exited ${r.failed.exitCode}`}${r.log !== null ? ` (log ${r.log})` : ""}`
}

/** Run the batch's test command in the tree at `tip`. */
const runBatchTest = (eng: Engine, tree: TestTree, tip: string, links: ReadonlyArray<Link>, line: string, logPath: string) =>
  runTest({
    argv: eng.argvOf(line),
    cwd: tree.path,
    logPath,
    header: `$ ${line}\n# in ${tree.path} at ${tip}: ${links.map((l) => l.entry.name).join(", ")} on ${eng.target.branch}`,
    timeout: eng.timeout,
    env: {
      PARALLEL_CC_LAND: "1",
      PARALLEL_CC_LAND_TARGET: eng.target.branch,
      PARALLEL_CC_LAND_CANDIDATES: links.map((l) => l.entry.name).join(" "),
      // npm's "new version available" banner is noise in a test log.
      npm_config_update_notifier: "false"
    },
    onStart: (pid) =>
      eng.processes.probe(pid).pipe(
        Effect.flatMap((p) => eng.store.updateRun(eng.runId, { testPid: pid, testPidStart: p._tag === "Running" ? p.startTime : null })),
        Effect.ignore
      )
  }).pipe(
    Effect.provideService(CommandExecutor.CommandExecutor, eng.executor),
    Effect.provideService(FileSystem.FileSystem, eng.fs)
  )

/** A batch whose changed dependencies could not be installed fails without running its test. */
const setupFailed = (r: Reinstall, failed: NonNullable<Reinstall["failed"]>, logPath: string) => {
  const what = `worktree.setup ${JSON.stringify(failed.argv)} ${
    failed.exitCode === null ? "could not start" : `failed (exit ${failed.exitCode})`
  } after ${r.changed.join(", ")} changed`
  return {
    passed: false,
    timedOut: false,
    exitCode: failed.exitCode,
    durationMs: r.durationMs,
    tail: `${what}:\n${failed.output}`,
    logPath: r.log ?? logPath,
    setupFailure: what
  }
}

/** Test `commit` (the tip of `links`) with the batch's command. */
const testAt = (eng: Engine, links: ReadonlyArray<Link>, line: string) =>
  Effect.gen(function*() {
    const tip = links[links.length - 1]!.commit
    const ids = links.map((l) => l.entry.entryId)
    yield* eng.store.update(ids, { status: "testing" })
    const { reinstall, tree } = yield* treeAt(eng, tip)
    eng.stats.testRuns++
    const logPath = eng.path.join(eng.logsDir, `${eng.runId}-${eng.stats.testRuns}.log`)
    yield* eng.emit({ _tag: "TestStarted", entryIds: ids, commit: tip, command: line })
    const outcome = reinstall !== null && reinstall.failed !== null
      ? setupFailed(reinstall, reinstall.failed, logPath)
      : { ...(yield* runBatchTest(eng, tree, tip, links, line, logPath)), logPath, setupFailure: null }
    yield* eng.store.updateRun(eng.runId, { testPid: null, testPidStart: null }).pipe(Effect.ignore)
    eng.stats.testMs += outcome.durationMs
    yield* eng.emit({
      _tag: "TestFinished",
      entryIds: ids,
      passed: outcome.passed,
      timedOut: outcome.timedOut,
      exitCode: outcome.exitCode,
      durationMs: outcome.durationMs,
      logPath: outcome.logPath
    })
    yield* eng.pause("tested")
    return { ...outcome, size: links.length } satisfies Tested
  })

/** Move the target from `from` to the tip of `links`; all of them land, or none. */
const landChain = (eng: Engine, links: ReadonlyArray<Link>, from: string, place: TargetPlace, test: Tested | null) =>
  Effect.gen(function*() {
    const to = links[links.length - 1]!.commit
    yield* eng.store.updateEach(links.map((l) => [l.entry.entryId, { status: "landing", plannedCommit: l.commit, targetBefore: from, head: l.candidate.head }] as const))
    yield* eng.pause("before-update")
    const moved = yield* moveTarget(eng.git, eng.repo, eng.target, place, from, to).pipe(
      Effect.tapError(() => requeue(eng, links.map((l) => l.entry)))
    )
    if (moved._tag === "TargetMoved") {
      yield* requeue(eng, links.map((l) => l.entry))
      yield* eng.emit({ _tag: "TargetMoved", target: eng.target.branch, expected: from, found: moved.found })
      return "target-moved" as BatchOutcome
    }
    yield* eng.pause("after-update")
    const at = yield* now
    const landed = (l: Link) => ({
      status: "landed" as const,
      landedCommit: l.commit,
      message: `landed in ${eng.target.branch} as ${l.commit.slice(0, 12)}`,
      detail: withDetail(l.entry, {
        resolutions: l.resolutions,
        batchSize: links.length,
        warnings: [...new Set([...l.entry.detail.warnings, ...l.candidate.warnings])]
      }),
      logPath: test?.logPath ?? null,
      testMs: test?.durationMs ?? null,
      endedAt: at
    })
    yield* eng.store.updateEach(links.map((l) => [l.entry.entryId, landed(l)] as const))
    yield* eng.emit({
      _tag: "Landed",
      entryIds: links.map((l) => l.entry.entryId),
      target: eng.target.branch,
      from,
      to,
      worktree: moved.worktree
    })
    for (const l of links) {
      yield* eng.notify(l.entry, `parallel-cc land landed your branch ${l.entry.name} in ${eng.target.branch} (${l.commit.slice(0, 12)}).`)
    }
    return "done" as BatchOutcome
  }).pipe(Effect.uninterruptible)

const testFailure = (t: Tested, line: string): { readonly reason: SendBackReason; readonly message: string } =>
  t.setupFailure !== null
    ? { reason: "tests_failed", message: t.setupFailure }
    : t.timedOut
    ? { reason: "test_timeout", message: `\`${line}\` did not finish within ${Duration.format(Duration.millis(t.durationMs))} and was stopped` }
    : { reason: "tests_failed", message: `\`${line}\` failed${t.exitCode !== null ? ` (exit ${t.exitCode})` : ""}` }

/** `links` fail together (`failing`); find who fails, landing whoever passes. */
const bisect = (
  eng: Engine,
  links: ReadonlyArray<Link>,
  from: string,
  place: TargetPlace,
  failing: Tested,
  line: string
): Effect.Effect<BatchOutcome, LandError | DbFailure> =>
  Effect.gen(function*() {
    if (links.length === 1) {
      const f = testFailure(failing, line)
      yield* sendBack(eng, links[0]!.entry, f.reason, f.message, { logTail: failing.tail, batchSize: failing.size }, failing)
      return "done" as BatchOutcome
    }
    const half = Math.ceil(links.length / 2)
    const first = links.slice(0, half)
    const second = links.slice(half)
    const t = yield* testAt(eng, first, line)
    if (t.passed) {
      const landed = yield* landChain(eng, first, from, place, t)
      if (landed === "target-moved") {
        yield* requeue(eng, second.map((l) => l.entry))
        return landed
      }
      // The second half sits on the first one's tip, now the target: its failure is known without a test.
      return yield* bisect(eng, second, first[first.length - 1]!.commit, place, failing, line)
    }
    yield* requeue(eng, second.map((l) => l.entry))
    return yield* bisect(eng, first, from, place, t, line)
  })

/** Integrate `entries` as a chain on the target; conflicts and gone candidates are sent back on the way. */
const buildChain = (eng: Engine, entries: ReadonlyArray<LandEntry>, from: string) =>
  Effect.gen(function*() {
    const links: Array<Link> = []
    let tip = from
    let tipTree: string | undefined
    // Looking at each candidate again needs no chain: done for all at once, then the chain one by one.
    const fresh = yield* Effect.forEach(entries, (e) => Effect.either(refresh(eng.deps, eng.repo, from, e)), { concurrency: 4 })
    for (const [i, e] of entries.entries()) {
      const c = fresh[i]!
      if (c._tag === "Left") {
        yield* sendBack(eng, e, "candidate_gone", c.left.message, {})
        continue
      }
      const r = yield* integrate(eng.integrateCtx, tip, { head: c.right.head, name: e.name, sessionId: e.sessionId }, e.strategy, eng.target.branch, tipTree)
      switch (r._tag) {
        case "Empty": {
          yield* eng.store.update([e.entryId], {
            status: "landed",
            head: c.right.head,
            landedCommit: null,
            message: `nothing to land: ${eng.target.branch} already has these changes`,
            endedAt: yield* now
          })
          yield* eng.emit({ _tag: "Skipped", name: e.name, reason: `${eng.target.branch} already has its changes` })
          break
        }
        case "Unrelated":
          yield* sendBack(eng, e, "unrelated", `${e.name} shares no history with ${eng.target.branch}`, {})
          break
        case "Conflict": {
          const files = r.files.map((f) => `${f.path} (${f.class ?? f.kind})`).join(", ")
          yield* sendBack(eng, e, "conflict", `conflicts with ${eng.target.branch}${links.length > 0 ? " (after the candidates before it)" : ""} in ${files}`, {
            conflicts: r.files,
            resolutions: r.resolutions
          })
          break
        }
        case "Clean":
          yield* eng.store.update([e.entryId], { head: c.right.head })
          links.push({ entry: e, candidate: c.right, commit: r.commit, resolutions: r.resolutions })
          tip = r.commit
          tipTree = r.tree
          yield* eng.emit({ _tag: "Integrated", entryId: e.entryId, name: e.name, commit: r.commit, resolutions: r.resolutions })
      }
    }
    yield* eng.pause("integrated")
    return links
  })

/** One batch: integrate, test, land or bisect. */
const processBatch = (eng: Engine, entries: ReadonlyArray<LandEntry>, place: TargetPlace) =>
  Effect.gen(function*() {
    const from = yield* tipOf(eng.git, eng.repo, eng.target.ref)
    const at = yield* now
    for (const e of entries) eng.touched.add(e.entryId)
    yield* eng.store.updateEach(entries.map((e) => [e.entryId, { status: "integrating", runId: eng.runId, attempts: e.attempts + 1, startedAt: e.startedAt?.getTime() ?? at }] as const))
    const line = eng.testLineFor(entries[0]!)
    // The private worktree is checked out while the chain is integrated (each costs about as much as the other).
    const preparing = line !== null && eng.tree === undefined ? yield* Effect.fork(treeAt(eng, from)) : null
    const links = yield* buildChain(eng, entries, from)
    if (preparing !== null) yield* Fiber.join(preparing)
    if (links.length === 0) return "done" as BatchOutcome
    if (line === null) return yield* landChain(eng, links, from, place, null)
    const t = yield* testAt(eng, links, line)
    if (t.passed) return yield* landChain(eng, links, from, place, t)
    return yield* bisect(eng, links, from, place, t, line)
  })

/** The next batch: consecutive waiting entries with the same strategy and test command. */
export const nextBatch = (waiting: ReadonlyArray<LandEntry>, size: number, lineOf: (e: LandEntry) => string | null) => {
  const first = waiting[0]
  if (first === undefined) return []
  const batch: Array<LandEntry> = []
  for (const e of waiting) {
    if (batch.length >= size || e.strategy !== first.strategy || lineOf(e) !== lineOf(first)) break
    batch.push(e)
  }
  return batch
}

/** Process the target's queue until nothing waits. */
export const processQueue = (eng: Engine) =>
  Effect.gen(function*() {
    let moves = 0
    for (;;) {
      const waiting = yield* eng.store.list({ repoPath: eng.repo, target: eng.target.branch, statuses: ["queued"] })
      if (waiting.length === 0) return
      const place = yield* checkQuiet(eng.git, eng.fs, eng.path, eng.repo, eng.target)
      yield* checkClean(eng.git, eng.target, place)
      const outcome = yield* processBatch(eng, nextBatch(waiting, eng.batchSize, eng.testLineFor), place)
      if (outcome === "target-moved" && ++moves > MAX_TARGET_MOVES) {
        return yield* new LandError({ reason: "TargetMoving", detail: `${eng.target.branch} moved ${moves} times while the queue ran` })
      }
    }
  })

/**
 * Settle what runs that are gone left behind: their test processes stopped, their worktrees removed, their
 * entries landed (when the planned commit is in the target) or queued again.
 */
export const recover = (eng: Engine) =>
  Effect.gen(function*() {
    const runs = yield* eng.store.runningRuns(eng.repo, eng.target.branch)
    for (const run of runs) {
      if (run.id === eng.runId) continue
      const probe = yield* eng.processes.probe(run.pid)
      if (probe._tag === "Running" && (probe.startTime === null || probe.startTime === run.pidStartTime)) continue
      if (run.testPid !== null) {
        const t = yield* eng.processes.probe(run.testPid)
        if (t._tag === "Running" && t.startTime !== null && t.startTime === run.testPidStart) {
          yield* Effect.sync(() => {
            try {
              process.kill(-run.testPid!, "SIGKILL")
            } catch {
              // already gone
            }
          })
        }
      }
      if (run.worktreePath !== null) yield* removeTestTree(eng.git, eng.fs, eng.repo, run.worktreePath, eng.withLock)
      yield* eng.store.updateRun(run.id, { status: "abandoned" })
    }
    const stuck = yield* eng.store.list({ repoPath: eng.repo, target: eng.target.branch, statuses: ["integrating", "testing", "landing"] })
    const tip = yield* tipOf(eng.git, eng.repo, eng.target.ref)
    for (const e of stuck) {
      if (e.runId === eng.runId) continue
      eng.touched.add(e.entryId)
      const inTarget = e.status === "landing" && e.plannedCommit !== null &&
        (yield* eng.git.run(eng.repo, ["merge-base", "--is-ancestor", e.plannedCommit, tip], { okExitCodes: [0, 1, 128] })).exitCode === 0
      if (inTarget) {
        yield* eng.store.update([e.entryId], {
          status: "landed",
          landedCommit: e.plannedCommit,
          message: `landed in ${eng.target.branch} as ${e.plannedCommit!.slice(0, 12)} (settled after an interrupted run)`,
          endedAt: yield* now
        })
      } else yield* requeue(eng, [e])
      yield* eng.emit({ _tag: "Recovered", entryId: e.entryId, name: e.name, outcome: inTarget ? "landed" : "requeued" })
    }
  }).pipe(Effect.mapError((e) => (e._tag === "GitError" ? new LandError({ reason: "GitFailed", detail: e.message }) : e)))
