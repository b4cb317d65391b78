/**
 * Local parallel sessions end to end: register (repository or a fresh worktree), hand over to the agent's
 * process, heartbeat, liveness, release and cleanup — never losing work — and one session's finished work:
 * diff, open, discard, re-enter.
 *
 * Register (`sessionRegister.ts`): resolve the repository's top level and start point → release the repo's
 * sessions whose process is gone → reserve in one `BEGIN IMMEDIATE` transaction (`SessionStore.register`:
 * main or worktree, name, port block), not ready yet → create the worktree → per-worktree setup
 * (`worktree.copy`, `worktree.setup`) → hand the session to its pid, ready. A registration killed half-way is
 * undone by the next register, status or cleanup.
 *
 * Release ({@link Sessions} `release`, and the sweeps of `register`, `status` and `cleanup`) all go through
 * one function, `releaseOne` (`sessionRelease.ts`): it ends the session atomically (exactly one process wins),
 * then removes its worktree only if that loses nothing (or when forced, listing what was thrown away), and
 * records a kept worktree so that `status` shows it and `cleanup` checks it again later.
 *
 * @since 0.1.0
 */
import { FileSystem, Path } from "@effect/platform"
import { Clock, Context, Effect, Layer, Option } from "effect"
import type { DbFailure } from "../platform/Database.js"
import { Session, type SessionId, type SessionMode } from "../Domain.js"
import { type InvalidInput, type SessionConflict, SessionNotFound, type SetupFailed } from "../Errors.js"
import { Git, type GitError } from "../platform/Git.js"
import { keptReasonNow } from "./keptLanding.js"
import { makeReleaser, type Released, type SessionView } from "./sessionRelease.js"
import { makeRegistrar, type Registered, type RegisterOptions } from "./sessionRegister.js"
import { type DiffOptions, makeReview, type SessionDiff } from "./sessionReview.js"
import { RELEASE_IN_PROGRESS, SessionStore } from "./SessionStore.js"
import type { PrepareError } from "./worktreePrepare.js"
import { type WorktreeError, Worktrees } from "./Worktrees.js"

export type { SetupCommandResult, SetupEvent, SetupListener, SetupReport } from "./worktreeSetup.js"
export type { PrepareError, PrepareReport } from "./worktreePrepare.js"
export type { KeptWorktree, Released, SessionView } from "./sessionRelease.js"
export type { Registered, RegisterOptions } from "./sessionRegister.js"
export { checkSessionName } from "./sessionRegister.js"
export type { DiffFile, DiffOptions, SessionDiff } from "./sessionReview.js"

export interface StatusReport {
  readonly sessions: ReadonlyArray<SessionView>
  /** Released sessions whose worktree is kept because it holds work. */
  readonly kept: ReadonlyArray<Session>
  /** Sessions this call found dead or stale and released. */
  readonly released: ReadonlyArray<Released>
}

export interface CleanupReport {
  readonly dryRun: boolean
  /** Active sessions whose process is gone (or stale), released now (or that would be). */
  readonly released: ReadonlyArray<Released>
  /** Worktrees kept earlier, looked at again: removed now (merged, or forced) or still kept. */
  readonly rechecked: ReadonlyArray<Released>
  /** `git worktree prune` report lines, per repository. */
  readonly pruned: ReadonlyArray<{ readonly repoPath: string; readonly lines: ReadonlyArray<string> }>
  /** Active sessions left alone because their process runs. */
  readonly alive: number
}

export type SessionSelector = { readonly sessionId: SessionId } | { readonly pid: number }

/** Every way a registration can fail. */
export type Failure =
  | DbFailure
  | GitError
  | WorktreeError
  | InvalidInput
  | SessionConflict
  | SessionNotFound
  | SetupFailed
  | PrepareError

/** Every way looking at, or throwing away, one session's work can fail. */
export type ReviewFailure = DbFailure | GitError | WorktreeError | InvalidInput | SessionConflict | SessionNotFound

export class Sessions extends Context.Tag("@parallel-cc/core/Sessions")<Sessions, {
  /** Register a session and give it its place to work (see the module doc for the steps). */
  readonly register: (options: RegisterOptions) => Effect.Effect<Registered, Failure>
  /**
   * Work in a kept worktree again (`claude-parallel --session ID|NAME`): the released session becomes active
   * for `pid` (same id, name, branch and worktree; the directory is re-created from its branch when gone).
   * `repo` (a directory) picks among sessions of several repositories with the same name.
   */
  readonly reenter: (options: {
    readonly session: string
    readonly pid: number
    readonly repo?: string | undefined
  }) => Effect.Effect<Registered, ReviewFailure>
  /** The session an id, name or branch means (an id is exact; see the module doc of sessionReview.ts). */
  readonly resolve: (ref: string, options?: { readonly repo?: string | undefined }) => Effect.Effect<Session, ReviewFailure>
  /** A session whose worktree exists (for `open`). */
  readonly open: (ref: string, options?: { readonly repo?: string | undefined }) => Effect.Effect<Session, ReviewFailure>
  /** Everything a session changed against its base: committed, uncommitted and untracked (added) files. */
  readonly diff: (ref: string, options?: DiffOptions & { readonly repo?: string | undefined }) => Effect.Effect<SessionDiff, ReviewFailure>
  /**
   * Remove a finished session's worktree (and branch); refused with `WouldLoseWork` unless nothing would be
   * lost or `force`. The result's `discarded` lists exactly what was thrown away (with `dryRun`: would be).
   */
  readonly discard: (
    ref: string,
    options?: { readonly force?: boolean | undefined; readonly dryRun?: boolean | undefined; readonly repo?: string | undefined }
  ) => Effect.Effect<Released, ReviewFailure>
  /** Hand a session over to another running process (the wrapper's agent); `agent`: the agent it runs. */
  readonly attach: (
    sessionId: SessionId,
    pid: number,
    agent?: string | undefined
  ) => Effect.Effect<Session, DbFailure | SessionNotFound | InvalidInput>
  /**
   * Release sessions (by id, or every active session of a pid) under the never-lose-work rule; `force`
   * removes worktrees with work and deletes unmerged session branches. An already released session with a
   * kept worktree is looked at again (and removed when forced or merged meanwhile).
   */
  readonly release: (
    selector: SessionSelector,
    options?: { readonly force?: boolean | undefined; readonly dryRun?: boolean | undefined }
  ) => Effect.Effect<ReadonlyArray<Released>, DbFailure | SessionNotFound>
  /** Record a heartbeat now; returns how many sessions it touched. */
  readonly heartbeat: (selector: SessionSelector) => Effect.Effect<number, DbFailure | SessionNotFound>
  /** Active sessions with liveness, after releasing the ones whose process is gone. */
  readonly status: (filter?: {
    readonly repoPath?: string | undefined
    readonly mode?: SessionMode | undefined
  }) => Effect.Effect<StatusReport, DbFailure>
  /** Release dead and stale sessions, look again at kept worktrees, prune git's worktree metadata. */
  readonly cleanup: (options?: {
    readonly dryRun?: boolean | undefined
    readonly force?: boolean | undefined
  }) => Effect.Effect<CleanupReport, DbFailure>
  /** The liveness of one session right now. */
  readonly liveness: (session: Session) => Effect.Effect<SessionView>
  /** Where a session's heartbeat file lives. */
  readonly heartbeatFile: (sessionId: SessionId) => string
}>() {}

export const make = Effect.gen(function*() {
  const store = yield* SessionStore
  const worktrees = yield* Worktrees
  const git = yield* Git
  const fs = yield* FileSystem.FileSystem
  yield* Path.Path
  const releaser = yield* makeReleaser
  const registrar = yield* makeRegistrar(releaser)
  const review = yield* makeReview(releaser, registrar)
  const { recheckKept, releaseOne, sweepSessions, toReleased, view } = releaser

  const attach = (sessionId: SessionId, pid: number, agent?: string | undefined) =>
    Effect.gen(function*() {
      const start = yield* registrar.running(pid)
      return yield* store.setPid(sessionId, pid, start, agent)
    })

  const release = (selector: SessionSelector, options: { readonly force?: boolean | undefined; readonly dryRun?: boolean | undefined } = {}) =>
    Effect.gen(function*() {
      const force = options.force === true
      const dryRun = options.dryRun === true
      const one = (s: Session) =>
        dryRun
          ? Effect.map(releaser.settleWorktree(s, { force, dryRun }), (fate) => Option.some(toReleased(s, "released", fate, null, false)))
          : releaseOne(s, "released", { force })
      if ("pid" in selector) {
        const active = yield* store.findActiveByPid(selector.pid)
        if (active.length === 0) return yield* new SessionNotFound({ pid: selector.pid })
        const out: Array<Released> = []
        for (const s of active) {
          const r = yield* one(s)
          if (Option.isSome(r)) out.push(r.value)
        }
        return out
      }
      const s = yield* store.get(selector.sessionId)
      if (s.status === "active") {
        const r = yield* one(s)
        if (Option.isSome(r)) return [r.value]
        // Someone else released it meanwhile: report the state they left.
        const again = yield* store.get(selector.sessionId)
        if (again.keptReason === null) return []
        return Option.toArray(yield* recheckKept(again, { force, dryRun: true }))
      }
      if (s.keptReason !== null) {
        const r = yield* recheckKept(s, { force, dryRun })
        // Another process is looking at it right now: report what it is.
        return Option.toArray(Option.isSome(r) ? r : yield* recheckKept(s, { force: false, dryRun: true }))
      }
      return [
        toReleased(s, s.releaseReason ?? "released", {
          worktree: s.isMainRepo ? "main" : "removed",
          kept: null,
          branchOutcome: null,
          discarded: null
        }, null, true)
      ]
    })

  const heartbeat = (selector: SessionSelector) =>
    Effect.gen(function*() {
      if ("sessionId" in selector) {
        yield* store.heartbeat(selector.sessionId)
        return 1
      }
      const active = yield* store.findActiveByPid(selector.pid)
      if (active.length === 0) return yield* new SessionNotFound({ pid: selector.pid })
      for (const s of active) yield* store.heartbeat(s.sessionId).pipe(Effect.catchTag("SessionNotFound", () => Effect.void))
      return active.length
    })

  /** Kept worktrees whose branch has landed since they were looked at, said so (`keptLanding`). */
  const landedSince = (kept: ReadonlyArray<Session>) =>
    Effect.gen(function*() {
      const candidates = kept.filter((s) => s.branch !== null && s.keptReason !== null && s.keptReason.includes(" only on branch "))
      const landed = yield* store.landed(candidates.map((s) => s.sessionId))
      return yield* Effect.forEach(kept, (s) =>
        Effect.gen(function*() {
          const l = landed.get(s.sessionId)
          if (s.branch === null || s.keptReason === null || l === undefined || l.head === null) return s
          const tip = yield* git.run(s.repoPath, ["rev-parse", "-q", "--verify", `refs/heads/${s.branch}^{commit}`], { okExitCodes: [0, 1, 128] })
          const reason = keptReasonNow(s.keptReason, s.branch, l, tip.exitCode === 0 ? tip.stdout.trim() : undefined)
          return reason === s.keptReason ? s : new Session({ ...s, keptReason: reason })
        }).pipe(Effect.orElseSucceed(() => s)))
    })

  const status = (filter: { readonly repoPath?: string | undefined; readonly mode?: SessionMode | undefined } = {}) =>
    Effect.gen(function*() {
      const before = yield* store.list({ repoPath: filter.repoPath, mode: filter.mode })
      const { released } = yield* sweepSessions(before, { force: false, dryRun: false })
      const gone = new Set(released.map((r) => r.sessionId))
      const sessions: Array<SessionView> = []
      for (const s of before) if (!gone.has(s.sessionId)) sessions.push(yield* view(s))
      const now = yield* Clock.currentTimeMillis
      // A release that is running right now is not a kept worktree; one that stopped half-way long ago is
      // shown (with its reason), and `cleanup` finishes it.
      const kept = filter.mode === "sandbox" ? [] : (yield* store.listKept({ repoPath: filter.repoPath })).filter((s) =>
        s.keptReason !== RELEASE_IN_PROGRESS || (s.endedAt !== null && now - s.endedAt.getTime() > 120_000)
      )
      return { sessions, kept: yield* landedSince(kept), released } satisfies StatusReport
    })

  const cleanup = (options: { readonly dryRun?: boolean | undefined; readonly force?: boolean | undefined } = {}) =>
    Effect.gen(function*() {
      const dryRun = options.dryRun === true
      const force = options.force === true
      const active = yield* store.list({})
      const { alive, released } = yield* sweepSessions(active, { force, dryRun })
      const sweptIds = new Set(released.map((r) => r.sessionId))
      const rechecked: Array<Released> = []
      for (const s of yield* store.listKept({})) {
        if (sweptIds.has(s.sessionId)) continue
        const r = yield* recheckKept(s, { force, dryRun })
        if (Option.isSome(r)) rechecked.push(r.value)
      }
      const repos = new Set([...active.map((s) => s.repoPath), ...rechecked.map((r) => r.repoPath)])
      const pruned: Array<{ repoPath: string; lines: ReadonlyArray<string> }> = []
      for (const repoPath of [...repos].sort()) {
        const exists = yield* fs.exists(repoPath).pipe(Effect.orElseSucceed(() => false))
        if (!exists) continue
        const lines = yield* worktrees.prune(repoPath, { dryRun }).pipe(Effect.orElseSucceed(() => [] as ReadonlyArray<string>))
        if (lines.length > 0) pruned.push({ repoPath, lines })
      }
      return { dryRun, released, rechecked, pruned, alive } satisfies CleanupReport
    })

  return Sessions.of({
    register: registrar.register,
    reenter: review.reenter,
    resolve: review.resolve,
    open: review.open,
    diff: review.diff,
    discard: review.discard,
    attach,
    release,
    heartbeat,
    status,
    cleanup,
    liveness: view,
    heartbeatFile: releaser.heartbeatFile
  })
})

/** Sessions over the store, git worktrees and the OS process table. */
export const layer = Layer.effect(Sessions, make)
