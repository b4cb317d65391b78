/**
 * Local parallel sessions end to end: register (repository or a fresh worktree), hand over to the agent's
 * process, heartbeat, liveness, release and cleanup — never losing work.
 *
 * Register: resolve the repository's top level → release the repo's sessions whose process is gone →
 * reserve in one `BEGIN IMMEDIATE` transaction (`SessionStore.register`: main or worktree, port block) →
 * create the worktree after the transaction → on failure remove the reservation and any partial worktree
 * → per-worktree setup (`worktree.copy`, `worktree.setup`) → the environment for the agent.
 *
 * Release ({@link Sessions} `release`, and the sweeps of `register`, `status` and `cleanup`) all go through
 * one function, `releaseOne`: it ends the session atomically (exactly one process wins), then removes its
 * worktree only if that loses nothing (or when forced), and records a kept worktree so that `status` shows
 * it and `cleanup` checks it again later.
 *
 * @since 0.1.0
 */
import { CommandExecutor, FileSystem, Path } from "@effect/platform"
import { Cause, Clock, Context, Effect, Layer, Option } from "effect"
import { AppConfig } from "../platform/AppConfig.js"
import { ClaimsLedger } from "../coordination/ClaimsLedger.js"
import type { DbFailure } from "../platform/Database.js"
import type { Liveness, Registration, ReleaseReason, Session, SessionId, SessionMode } from "../Domain.js"
import { InvalidInput, SessionNotFound } from "../Errors.js"
import { Git, type GitError } from "../platform/Git.js"
import { emptySetup, setupWorktree, type SetupReport } from "./worktreeSetup.js"
import { emptyPrepare, type PrepareError, prepareWorktree, type PrepareReport } from "./worktreePrepare.js"
import { sessionSlug } from "./slug.js"
import { liveness as decideLiveness, Processes } from "../platform/Processes.js"
import { SessionFiles } from "./SessionFiles.js"
import { planWorktree, RELEASE_IN_PROGRESS, SessionStore } from "./SessionStore.js"
import { type BranchOutcome, type Inspection, WorktreeError, Worktrees } from "./Worktrees.js"

export type { SetupCommandResult, SetupReport } from "./worktreeSetup.js"
export type { PrepareError, PrepareReport } from "./worktreePrepare.js"

export interface RegisterOptions {
  /** Any directory inside the repository. */
  readonly repo: string
  /** The process the session belongs to; it must be running (its start time is recorded). */
  readonly pid: number
  readonly mode?: SessionMode | undefined
  /** Always give this session a worktree, even when the repository itself is free. */
  readonly forceWorktree?: boolean | undefined
}

export interface Registered {
  readonly session: Session
  /** What `register --json` prints. */
  readonly registration: Registration
  /** The file the heartbeat hook rewrites (its mtime is the session's last heartbeat). */
  readonly heartbeatFile: string
  /** The session's directory (`<dataDir>/live/<id>`, see SessionFiles). */
  readonly sessionDir: string
  /**
   * Environment for the agent: PARALLEL_CC_SESSION_ID, _WORKTREE, _PORT_BASE, _PORT_COUNT, _HEARTBEAT_FILE,
   * _SESSION_DIR.
   */
  readonly env: Readonly<Record<string, string>>
  readonly setup: SetupReport
  /** Submodules, LFS, sparse checkout, `.worktreeinclude` and `worktree.share` of a new worktree. */
  readonly prepared: PrepareReport
  /** Sessions of the same repository found dead and released first. */
  readonly swept: ReadonlyArray<Released>
}

/** A worktree kept at release because removing it would lose work. */
export interface KeptWorktree {
  readonly path: string
  readonly branch: string | null
  readonly repoPath: string
  /** The repository's branch when the session started (where a merge most likely goes). */
  readonly baseBranch: string | null
  /** What work is in it, e.g. "2 uncommitted changes, 1 commit only on branch parallel-x". */
  readonly detail: string
  readonly changeCount: number
  readonly untrackedCount: number
  readonly uniqueCommits: number
  readonly detachedCommits: number
}

/** The result of releasing one session (or, with `dryRun`, what releasing it would do). */
export interface Released {
  readonly sessionId: SessionId
  readonly repoPath: string
  readonly worktreePath: string
  readonly branch: string | null
  readonly isMainRepo: boolean
  readonly reason: ReleaseReason
  /** `main`: the repository itself, nothing to remove; `removed`; `missing`: already gone; `kept`. */
  readonly worktree: "main" | "removed" | "missing" | "kept"
  readonly kept: KeptWorktree | null
  /** What happened to the session's branch (null for the main session or when nothing was decided). */
  readonly branchOutcome: BranchOutcome | null
  /** Set by sweeps: why the session counted as ended. */
  readonly liveness: Liveness | null
  /** The session had been released before; this call only looked at (or removed) its kept worktree. */
  readonly previouslyReleased: boolean
}

export interface SessionView {
  readonly session: Session
  readonly liveness: Liveness
  /** The later of the store's heartbeat and the heartbeat file's mtime. */
  readonly lastHeartbeat: Date
}

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
export type Failure = DbFailure | GitError | WorktreeError | InvalidInput | PrepareError

export class Sessions extends Context.Tag("@parallel-cc/core/Sessions")<Sessions, {
  /** Register a session and give it its place to work (see the module doc for the steps). */
  readonly register: (options: RegisterOptions) => Effect.Effect<Registered, Failure>
  /** Hand a session over to another running process (the wrapper's agent). */
  readonly attach: (sessionId: SessionId, pid: number) => Effect.Effect<Session, DbFailure | SessionNotFound | InvalidInput>
  /**
   * Release sessions (by id, or every active session of a pid) under the never-lose-work rule; `force`
   * removes worktrees with work and deletes unmerged session branches. An already released session with a
   * kept worktree is looked at again (and removed when forced or merged meanwhile).
   */
  readonly release: (
    selector: SessionSelector,
    options?: { readonly force?: boolean | undefined }
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
  const config = yield* AppConfig
  const git = yield* Git
  const worktrees = yield* Worktrees
  const processes = yield* Processes
  const claims = yield* ClaimsLedger
  const files = yield* SessionFiles
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const executor = yield* CommandExecutor.CommandExecutor
  const values = config.values
  const provideWorktreeServices = <A, E>(
    eff: Effect.Effect<A, E, Git | FileSystem.FileSystem | Path.Path | CommandExecutor.CommandExecutor>
  ) =>
    eff.pipe(
      Effect.provideService(Git, git),
      Effect.provideService(CommandExecutor.CommandExecutor, executor),
      Effect.provideService(FileSystem.FileSystem, fs),
      Effect.provideService(Path.Path, path)
    )
  const staleMs = values["sessions.staleMinutes"] * 60_000
  const heartbeatDir = path.join(config.dataDir, "heartbeats")
  const heartbeatFile = (id: SessionId) => path.join(heartbeatDir, id)

  // ---- heartbeats and liveness ---------------------------------------------------------------------------
  const createHeartbeatFile = (id: SessionId) =>
    Effect.gen(function*() {
      yield* fs.makeDirectory(heartbeatDir, { recursive: true, mode: 0o700 })
      yield* fs.writeFileString(heartbeatFile(id), "", { mode: 0o600 })
    }).pipe(Effect.catchAll((e) => Effect.logWarning(`could not create the heartbeat file of ${id}: ${e.message}`)))

  const removeHeartbeatFile = (id: SessionId) => fs.remove(heartbeatFile(id), { force: true }).pipe(Effect.ignore)

  const lastHeartbeat = (s: Session) =>
    fs.stat(heartbeatFile(s.sessionId)).pipe(
      Effect.map((st) => Option.getOrElse(st.mtime, () => s.lastHeartbeat)),
      Effect.map((m) => (m.getTime() > s.lastHeartbeat.getTime() ? m : s.lastHeartbeat)),
      Effect.orElseSucceed(() => s.lastHeartbeat)
    )

  const view = (s: Session) =>
    Effect.gen(function*() {
      const probe = yield* processes.probe(s.pid)
      const hb = yield* lastHeartbeat(s)
      const now = yield* Clock.currentTimeMillis
      return { session: s, liveness: decideLiveness(s, probe, hb.getTime(), now, staleMs), lastHeartbeat: hb } satisfies SessionView
    })

  // ---- the session directory ---------------------------------------------------------------------------
  /** Create it, and link it with the other live sessions of the repository (both ways). */
  const createSessionDir = (s: Session) =>
    Effect.gen(function*() {
      yield* files.create(s.sessionId, { repoPath: s.repoPath, worktreePath: s.worktreePath })
      const peers = (yield* store.list({ repoPath: s.repoPath })).map((p) => p.sessionId).filter((p) => p !== s.sessionId)
      yield* files.setPeers(s.sessionId, peers)
      for (const p of peers) yield* files.linkPeer(p, s.sessionId, true)
    }).pipe(Effect.catchAll((e) => Effect.logWarning(`could not create the session directory of ${s.sessionId}: ${e.message}`)))

  /** Unlink it from the other sessions of the repository, then remove it. */
  const removeSessionDir = (s: Session) =>
    Effect.gen(function*() {
      const peers = yield* store.list({ repoPath: s.repoPath }).pipe(Effect.orElseSucceed(() => [] as ReadonlyArray<Session>))
      for (const p of peers) yield* files.linkPeer(p.sessionId, s.sessionId, false)
      yield* files.remove(s.sessionId)
    })

  // ---- release (the one place a session ends) ----------------------------------------------------------
  const keptFrom = (s: Session, detail: string, insp: Inspection | null): KeptWorktree => ({
    path: s.worktreePath,
    branch: s.branch,
    repoPath: s.repoPath,
    baseBranch: s.baseBranch,
    detail,
    changeCount: insp?.changeCount ?? 0,
    untrackedCount: insp?.untrackedCount ?? 0,
    uniqueCommits: insp?.uniqueCommits ?? 0,
    detachedCommits: insp?.detachedCommits ?? 0
  })

  /**
   * The default `<repo>-worktrees` folder goes once its last worktree has (a configured root stays). Under
   * the repository's worktree lock, so that no concurrent `git worktree add` is creating a worktree in it.
   */
  const removeEmptyDefaultRoot = (s: Session) =>
    worktrees.withLock(s.repoPath)(Effect.gen(function*() {
      const parent = path.dirname(s.worktreePath)
      if (parent !== `${s.repoPath}-worktrees`) return
      const entries = yield* fs.readDirectory(parent)
      if (entries.length === 0) yield* fs.remove(parent, { recursive: true })
    })).pipe(Effect.ignore)

  /** Deal with a (released) session's worktree: remove it unless that loses work; `dryRun` only looks. */
  const settleWorktree = (s: Session, force: boolean, dryRun: boolean) =>
    Effect.gen(function*() {
      if (s.isMainRepo || s.worktreeName === null) {
        return { worktree: "main" as const, kept: null, branchOutcome: null }
      }
      const req = { repoPath: s.repoPath, path: s.worktreePath, branch: s.branch, copiesFrom: s.repoPath, force }
      if (dryRun) {
        const insp = yield* worktrees.inspect(req)
        if (!insp.exists) return { worktree: "missing" as const, kept: null, branchOutcome: null }
        if (!insp.isWorktree || (!insp.lossless && !force)) {
          return { worktree: "kept" as const, kept: keptFrom(s, insp.summary, insp), branchOutcome: null }
        }
        return { worktree: "removed" as const, kept: null, branchOutcome: null }
      }
      const r = yield* worktrees.remove(req)
      if (r.outcome !== "kept") yield* removeEmptyDefaultRoot(s)
      return r.outcome === "kept"
        ? { worktree: "kept" as const, kept: keptFrom(s, r.detail, r.inspection), branchOutcome: r.branch }
        : { worktree: r.outcome, kept: null, branchOutcome: r.branch }
    }).pipe(
      // Whatever goes wrong here, the worktree stays and is recorded as kept: cleanup looks at it again.
      Effect.catchAll((e) =>
        Effect.succeed({
          worktree: "kept" as const,
          kept: keptFrom(s, `could not check it: ${e.message}`, null),
          branchOutcome: null
        })
      )
    )

  const toReleased = (
    s: Session,
    reason: ReleaseReason,
    fate: Effect.Effect.Success<ReturnType<typeof settleWorktree>>,
    liveness: Liveness | null,
    previouslyReleased: boolean
  ): Released => ({
    sessionId: s.sessionId,
    repoPath: s.repoPath,
    worktreePath: s.worktreePath,
    branch: s.branch,
    isMainRepo: s.isMainRepo,
    reason,
    worktree: fate.worktree,
    kept: fate.kept,
    branchOutcome: fate.branchOutcome,
    liveness,
    previouslyReleased
  })

  /**
   * End one active session. Returns None when another process ended it first. Everything that belongs to
   * a session and must end with it (its worktree here; claims and subscriptions elsewhere) is released here.
   */
  const releaseOne = (s: Session, reason: ReleaseReason, options: { readonly force: boolean; readonly liveness?: Liveness }) =>
    Effect.gen(function*() {
      const won = yield* store.beginRelease(s.sessionId, reason)
      if (Option.isNone(won)) return Option.none<Released>()
      const session = won.value
      // Its file claims end with it. Should this fail, they are still inert: the ledger ignores the claims
      // of sessions that are not active, and its sweep closes them later.
      yield* claims.releaseSession(session.sessionId, "session-ended").pipe(
        Effect.catchAll((e) => Effect.logWarning(`could not release the claims of session ${session.sessionId}: ${e.message}`))
      )
      yield* removeHeartbeatFile(session.sessionId)
      yield* removeSessionDir(session)
      const fate = yield* settleWorktree(session, options.force, false)
      if (!session.isMainRepo) yield* store.setKept(session.sessionId, fate.kept?.detail ?? null)
      return Option.some(toReleased(session, reason, fate, options.liveness ?? null, false))
    }).pipe(Effect.withSpan("Sessions.releaseOne", { attributes: { sessionId: s.sessionId, reason } }))

  /** Look again at a released session's kept worktree. */
  const recheckKept = (s: Session, options: { readonly force: boolean; readonly dryRun: boolean }) =>
    Effect.gen(function*() {
      const fate = yield* settleWorktree(s, options.force, options.dryRun)
      if (!options.dryRun) yield* store.setKept(s.sessionId, fate.kept?.detail ?? null)
      return toReleased(s, s.releaseReason ?? "released", fate, null, true)
    })

  /** Release the given active sessions that are not alive (or report what would happen with dryRun). */
  const sweepSessions = (sessions: ReadonlyArray<Session>, options: { readonly force: boolean; readonly dryRun: boolean }) =>
    Effect.gen(function*() {
      const released: Array<Released> = []
      let alive = 0
      for (const s of sessions) {
        const v = yield* view(s)
        if (v.liveness.state === "alive") {
          alive++
          continue
        }
        const reason: ReleaseReason = v.liveness.state === "stale" ? "stale" : "dead"
        if (options.dryRun) {
          const fate = yield* settleWorktree(s, options.force, true)
          released.push(toReleased(s, reason, fate, v.liveness, false))
          continue
        }
        const r = yield* releaseOne(s, reason, { force: options.force, liveness: v.liveness }).pipe(
          Effect.catchAll((e) => Effect.logWarning(`could not release session ${s.sessionId}: ${e.message}`).pipe(Effect.as(Option.none())))
        )
        if (Option.isSome(r)) released.push(r.value)
      }
      return { released, alive }
    })

  // ---- register ----------------------------------------------------------------------------------------
  const envFor = (s: Session): Record<string, string> => {
    const env: Record<string, string> = {
      PARALLEL_CC_SESSION_ID: s.sessionId,
      PARALLEL_CC_WORKTREE: s.worktreePath,
      PARALLEL_CC_HEARTBEAT_FILE: heartbeatFile(s.sessionId),
      PARALLEL_CC_SLUG: sessionSlug(s.repoPath, s.sessionId),
      COMPOSE_PROJECT_NAME: sessionSlug(s.repoPath, s.sessionId),
      PARALLEL_CC_SESSION_DIR: files.dir(s.sessionId)
    }
    if (s.portBase !== null) {
      env.PARALLEL_CC_PORT_BASE = String(s.portBase)
      env.PARALLEL_CC_PORT_COUNT = String(values["ports.blockSize"])
    }
    return env
  }

  /**
   * The repository's top level, and the commit and branch a worktree would start from, in one git call
   * (every process start counts when 32 sessions start at once). An unborn HEAD has no commit.
   */
  const repoInfo = (dir: string) =>
    Effect.gen(function*() {
      const r = yield* git.run(
        dir,
        ["rev-parse", "--path-format=absolute", "--show-toplevel", "--git-common-dir", "HEAD", "--symbolic-full-name", "HEAD", "--"],
        { okExitCodes: [0, 128] }
      )
      const lines = r.stdout.split("\n")
      const top = lines[0]?.trim() ?? ""
      if (!top.startsWith("/")) return yield* git.toplevel(dir)
        .pipe(Effect.map((repoPath) => ({ repoPath, baseCommit: null, baseBranch: null })))
      const sha = r.exitCode === 0 ? lines[2]?.trim() ?? "" : ""
      const ref = r.exitCode === 0 ? lines[3]?.trim() ?? "" : ""
      return {
        repoPath: top,
        baseCommit: /^[0-9a-f]{40,64}$/.test(sha) ? sha : null,
        baseBranch: ref.startsWith("refs/heads/") ? ref.slice("refs/heads/".length) : null
      }
    })

  /** Undo a reservation whose worktree could not be made; remove a partial worktree only if we made it. */
  const rollback = (s: Session, error: unknown) =>
    Effect.gen(function*() {
      const nothingCreated = typeof error === "object" && error !== null && (error as { _tag?: string })._tag === "WorktreeError" &&
        ["PathExists", "BranchExists", "BranchCheckedOut", "NoCommits", "BadStartPoint", "LockTimeout"].includes(
          (error as WorktreeError).reason
        )
      if (!nothingCreated) {
        yield* worktrees.remove({ repoPath: s.repoPath, path: s.worktreePath, branch: s.branch, force: true }).pipe(
          Effect.catchAll((e) => Effect.logWarning(`could not remove the partial worktree ${s.worktreePath}: ${e.message}`))
        )
      }
      yield* store.remove(s.sessionId).pipe(Effect.catchAll((e) => Effect.logWarning(`could not remove the reservation ${s.sessionId}: ${e.message}`)))
      if (!nothingCreated) yield* removeEmptyDefaultRoot(s)
    })

  const register = (options: RegisterOptions) =>
    Effect.gen(function*() {
      const head = yield* repoInfo(options.repo)
      const repoPath = head.repoPath
      const probe = yield* processes.probe(options.pid)
      if (probe._tag === "Gone") {
        return yield* new InvalidInput({ field: "pid", detail: `no running process has pid ${options.pid}` })
      }
      const { released: swept } = yield* sweepSessions(yield* store.list({ repoPath }), { force: false, dryRun: false })
      const session = yield* store.register({
        repoPath,
        pid: options.pid,
        pidStartTime: probe.startTime,
        mode: options.mode,
        forceWorktree: options.forceWorktree,
        planWorktree: planWorktree(values, repoPath),
        baseCommit: head.baseCommit,
        baseBranch: head.baseBranch
      })
      const env = envFor(session)
      let setup = emptySetup
      let prepared = emptyPrepare
      if (!session.isMainRepo) {
        prepared = yield* Effect.gen(function*() {
          if (head.baseCommit === null) return yield* new WorktreeError({ reason: "NoCommits", path: repoPath })
          yield* worktrees.create({
            repoPath,
            path: session.worktreePath,
            branch: session.branch!,
            startPoint: head.baseCommit
          })
          return yield* prepareWorktree({
            repoPath,
            worktreePath: session.worktreePath,
            share: values["worktree.share"],
            shareMode: values["worktree.shareMode"],
            hasSetup: values["worktree.setup"].length > 0
          }).pipe(provideWorktreeServices)
        }).pipe(Effect.onError((cause) => rollback(session, Option.getOrUndefined(Cause.failureOption(cause)))))
        setup = yield* setupWorktree({
          repoPath,
          worktreePath: session.worktreePath,
          copy: values["worktree.copy"],
          commands: prepared.runSetup ? values["worktree.setup"] : [],
          env
        }).pipe(
          Effect.provideService(CommandExecutor.CommandExecutor, executor),
          Effect.provideService(FileSystem.FileSystem, fs),
          Effect.provideService(Path.Path, path)
        )
      }
      yield* createHeartbeatFile(session.sessionId)
      yield* createSessionDir(session)
      return {
        session,
        registration: {
          sessionId: session.sessionId,
          isMainRepo: session.isMainRepo,
          worktreePath: session.worktreePath,
          worktreeName: session.worktreeName,
          branch: session.branch,
          repoPath: session.repoPath
        },
        heartbeatFile: heartbeatFile(session.sessionId),
        sessionDir: files.dir(session.sessionId),
        env,
        setup: { ...setup, warnings: [...prepared.notes, ...setup.warnings] },
        prepared,
        swept
      } satisfies Registered
    }).pipe(Effect.withSpan("Sessions.register"))

  // ---- the rest ----------------------------------------------------------------------------------------
  const attach = (sessionId: SessionId, pid: number) =>
    Effect.gen(function*() {
      const probe = yield* processes.probe(pid)
      if (probe._tag === "Gone") return yield* new InvalidInput({ field: "pid", detail: `no running process has pid ${pid}` })
      return yield* store.setPid(sessionId, pid, probe.startTime)
    })

  const release = (selector: SessionSelector, options: { readonly force?: boolean | undefined } = {}) =>
    Effect.gen(function*() {
      const force = options.force === true
      if ("pid" in selector) {
        const active = yield* store.findActiveByPid(selector.pid)
        if (active.length === 0) return yield* new SessionNotFound({ pid: selector.pid })
        const out: Array<Released> = []
        for (const s of active) {
          const r = yield* releaseOne(s, "released", { force })
          if (Option.isSome(r)) out.push(r.value)
        }
        return out
      }
      const s = yield* store.get(selector.sessionId)
      if (s.status === "active") {
        const r = yield* releaseOne(s, "released", { force })
        if (Option.isSome(r)) return [r.value]
        // Someone else released it meanwhile: report the state they left.
        const again = yield* store.get(selector.sessionId)
        return again.keptReason !== null ? [yield* recheckKept(again, { force, dryRun: true })] : []
      }
      if (s.keptReason !== null) return [yield* recheckKept(s, { force, dryRun: false })]
      return [
        toReleased(s, s.releaseReason ?? "released", {
          worktree: s.isMainRepo ? "main" : "removed",
          kept: null,
          branchOutcome: null
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
      return { sessions, kept, released } satisfies StatusReport
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
        rechecked.push(yield* recheckKept(s, { force, dryRun }))
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

  return Sessions.of({ register, attach, release, heartbeat, status, cleanup, liveness: view, heartbeatFile })
})

/** Sessions over the store, git worktrees and the OS process table. */
export const layer = Layer.effect(Sessions, make)
