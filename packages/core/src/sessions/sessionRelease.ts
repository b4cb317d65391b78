/**
 * The one way a session ends (`releaseOne`), and everything that looks at a session's worktree at its end:
 * heartbeats and liveness, the never-lose-work settlement of its worktree, the re-check of kept worktrees,
 * and the sweeps of dead sessions. Used by `Sessions.make`.
 */
import { FileSystem, Path } from "@effect/platform"
import { Clock, Effect, Option } from "effect"
import { ClaimsLedger } from "../coordination/ClaimsLedger.js"
import { type Discarded, type Liveness, noDiscard, type ReleaseReason, type Session, type SessionId } from "../Domain.js"
import { AppConfig } from "../platform/AppConfig.js"
import { liveness as decideLiveness, Processes } from "../platform/Processes.js"
import { SessionFiles, type StateInfo } from "./SessionFiles.js"
import { SessionStore } from "./SessionStore.js"
import { type BranchOutcome, type Inspection, type RemoveResult, Worktrees } from "./Worktrees.js"

/** A worktree kept at release because removing it would lose work. */
export interface KeptWorktree {
  readonly path: string
  readonly branch: string | null
  readonly repoPath: string
  /** The repository's branch when the session started (where a merge most likely goes). */
  readonly baseBranch: string | null
  /** The session's name, when it has one (re-enter it with `claude-parallel --session NAME`). */
  readonly name: string | null
  /** What work is in it, e.g. "2 uncommitted changes, 1 commit only on branch parallel-x". */
  readonly detail: string
  readonly changeCount: number
  readonly untrackedCount: number
  readonly uniqueCommits: number
  readonly detachedCommits: number
  /** Everything a forced removal would throw away (null when it could not be inspected). */
  readonly discarded: Discarded | null
}

/** The result of releasing one session (or, with `dryRun`, what releasing it would do). */
export interface Released {
  readonly sessionId: SessionId
  readonly name: string | null
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
  /**
   * The work that was thrown away (with `dryRun`: would be) — non-empty only when forced. Null when nothing
   * was removed (the main session, a kept worktree).
   */
  readonly discarded: Discarded | null
  /** Set by sweeps: why the session counted as ended. */
  readonly liveness: Liveness | null
  /** The session had been released before; this call only looked at (or removed) its kept worktree. */
  readonly previouslyReleased: boolean
  /** Its registration never finished (the registering process was killed); what it had created is undone. */
  readonly interrupted: boolean
}

export interface SessionView {
  readonly session: Session
  readonly liveness: Liveness
  /** The later of the store's heartbeat and the heartbeat file's mtime. */
  readonly lastHeartbeat: Date
  /** The agent's state and since when (from the session directory); null when unknown. */
  readonly agent: StateInfo | null
}

export interface Fate {
  readonly worktree: Released["worktree"]
  readonly kept: KeptWorktree | null
  readonly branchOutcome: BranchOutcome | null
  readonly discarded: Discarded | null
}

/** What a removal threw away: the directory's contents, detached commits, and the branch's if it went. */
const discardedBy = (insp: Inspection, branch: BranchOutcome | null): Discarded => ({
  ...insp.discarded,
  commits: insp.discarded.commits.filter((c) => c.branch === null || branch?.outcome === "deleted")
})

/** A kept worktree as a release reports it. */
const keptFrom = (s: Session, detail: string, insp: Inspection | null): KeptWorktree => ({
  path: s.worktreePath,
  branch: s.branch,
  repoPath: s.repoPath,
  baseBranch: s.baseBranch,
  name: s.name,
  detail,
  changeCount: insp?.changeCount ?? 0,
  untrackedCount: insp?.untrackedCount ?? 0,
  uniqueCommits: insp?.uniqueCommits ?? 0,
  detachedCommits: insp?.detachedCommits ?? 0,
  discarded: insp?.discarded ?? null
})

/** A session's worktree after `Worktrees.remove`. */
const fromRemoval = (s: Session, r: RemoveResult): Fate =>
  r.outcome === "kept"
    ? { worktree: "kept", kept: keptFrom(s, r.detail, r.inspection), branchOutcome: r.branch, discarded: null }
    : { worktree: r.outcome, kept: null, branchOutcome: r.branch, discarded: discardedBy(r.inspection, r.branch) }

export const makeReleaser = Effect.gen(function*() {
  const store = yield* SessionStore
  const config = yield* AppConfig
  const worktrees = yield* Worktrees
  const processes = yield* Processes
  const claims = yield* ClaimsLedger
  const files = yield* SessionFiles
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const staleMs = config.values["sessions.staleMinutes"] * 60_000
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
      const agent = Option.getOrNull(yield* files.state(s.sessionId))
      return { session: s, liveness: decideLiveness(s, probe, hb.getTime(), now, staleMs), lastHeartbeat: hb, agent } satisfies SessionView
    })

  // ---- the session directory (<dataDir>/live/<id>, see SessionFiles) -----------------------------------
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

  // ---- a worktree at the end of its session ------------------------------------------------------------
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

  /**
   * A registration that never finished: what it created is the unfinished checkout and setup output of a
   * worktree nobody was told about. It goes (forced) unless it somehow holds commits or nested repositories;
   * an empty directory left before git wrote anything goes too. Never a directory that is not an empty one
   * or this repository's worktree.
   */
  const settleInterrupted = (s: Session, req: Parameters<typeof worktrees.remove>[0], dryRun: boolean) =>
    Effect.gen(function*() {
      const insp = yield* worktrees.inspect(req)
      const ours = insp.discarded.commits.length === 0 && insp.discarded.nested.length === 0
      if (insp.exists && !insp.isWorktree) {
        const empty = (yield* fs.readDirectory(s.worktreePath).pipe(Effect.orElseSucceed(() => ["?"]))).length === 0
        if (empty && !dryRun) yield* fs.remove(s.worktreePath).pipe(Effect.ignore)
        if (!empty) return { worktree: "kept", kept: keptFrom(s, insp.summary, insp), branchOutcome: null, discarded: null } satisfies Fate
      }
      if (dryRun) {
        return ours
          ? { worktree: insp.exists ? "removed" : "missing", kept: null, branchOutcome: null, discarded: noDiscard } satisfies Fate
          : { worktree: "kept", kept: keptFrom(s, insp.summary, insp), branchOutcome: null, discarded: null } satisfies Fate
      }
      const fate = fromRemoval(s, yield* worktrees.remove({ ...req, force: ours }))
      if (fate.worktree === "kept") return fate
      yield* removeEmptyDefaultRoot(s)
      return { ...fate, discarded: noDiscard }
    })

  /** Deal with a (released) session's worktree: remove it unless that loses work; `dryRun` only looks. */
  const settleWorktree = (
    s: Session,
    options: { readonly force: boolean; readonly dryRun: boolean; readonly interrupted?: boolean | undefined }
  ) =>
    Effect.gen(function*() {
      if (s.isMainRepo || s.worktreeName === null) {
        return { worktree: "main", kept: null, branchOutcome: null, discarded: null } satisfies Fate
      }
      const { dryRun, force } = options
      const req = { repoPath: s.repoPath, path: s.worktreePath, branch: s.branch, copiesFrom: s.repoPath, base: s.baseCommit, target: s.baseBranch, force }
      if (options.interrupted === true) return yield* settleInterrupted(s, req, dryRun)
      if (dryRun) {
        const insp = yield* worktrees.inspect(req)
        if (!insp.exists) {
          const discarded = force ? insp.discarded : noDiscard
          return { worktree: "missing", kept: null, branchOutcome: null, discarded } satisfies Fate
        }
        if (!insp.isWorktree || (!insp.lossless && !force)) {
          return { worktree: "kept", kept: keptFrom(s, insp.summary, insp), branchOutcome: null, discarded: null } satisfies Fate
        }
        return { worktree: "removed", kept: null, branchOutcome: null, discarded: insp.discarded } satisfies Fate
      }
      const r = yield* worktrees.remove(req)
      if (r.outcome !== "kept") yield* removeEmptyDefaultRoot(s)
      return fromRemoval(s, r)
    }).pipe(
      // Whatever goes wrong here, the worktree stays and is recorded as kept: cleanup looks at it again.
      Effect.catchAll((e) =>
        Effect.succeed({
          worktree: "kept",
          kept: keptFrom(s, `could not check it: ${e.message}`, null),
          branchOutcome: null,
          discarded: null
        } satisfies Fate)
      )
    )

  const toReleased = (
    s: Session,
    reason: ReleaseReason,
    fate: Fate,
    liveness: Liveness | null,
    previouslyReleased: boolean,
    interrupted = false
  ): Released => ({
    sessionId: s.sessionId,
    name: s.name,
    repoPath: s.repoPath,
    worktreePath: s.worktreePath,
    branch: s.branch,
    isMainRepo: s.isMainRepo,
    reason,
    worktree: fate.worktree,
    kept: fate.kept,
    branchOutcome: fate.branchOutcome,
    discarded: fate.discarded,
    liveness,
    previouslyReleased,
    interrupted
  })

  /**
   * End one active session. Returns None when another process ended it first. Everything that belongs to
   * a session and must end with it (its worktree here; claims and subscriptions elsewhere) is released here.
   */
  const releaseOne = (s: Session, reason: ReleaseReason, options: { readonly force: boolean; readonly liveness?: Liveness }) =>
    Effect.gen(function*() {
      // Judged dead by its pid (a sweep): only while the row is still that pid's (see beginRelease).
      const expect = options.liveness !== undefined ? { pid: s.pid, pidStartTime: s.pidStartTime } : undefined
      const won = yield* store.beginRelease(s.sessionId, reason, expect)
      if (Option.isNone(won)) return Option.none<Released>()
      const { interrupted, session } = won.value
      // Its file claims end with it. Should this fail, they are still inert: the ledger ignores the claims
      // of sessions that are not active, and its sweep closes them later.
      yield* claims.releaseSession(session.sessionId, "session-ended").pipe(
        Effect.catchAll((e) => Effect.logWarning(`could not release the claims of session ${session.sessionId}: ${e.message}`))
      )
      yield* removeHeartbeatFile(session.sessionId)
      yield* removeSessionDir(session)
      const fate = yield* settleWorktree(session, { force: options.force, dryRun: false, interrupted })
      if (!session.isMainRepo) yield* store.setKept(session.sessionId, fate.kept?.detail ?? null)
      return Option.some(toReleased(session, reason, fate, options.liveness ?? null, false, interrupted))
    }).pipe(Effect.withSpan("Sessions.releaseOne", { attributes: { sessionId: s.sessionId, reason } }))

  /**
   * Look again at a released session's kept worktree. The look is claimed first (the row is marked
   * "release in progress" while its kept reason is still the one read), so a re-entry or another cleanup
   * at the same moment never removes a worktree under an agent. None when someone else took it.
   */
  const recheckKept = (s: Session, options: { readonly force: boolean; readonly dryRun: boolean }) =>
    Effect.gen(function*() {
      if (!options.dryRun && s.keptReason !== null && !(yield* store.claimKept(s.sessionId, s.keptReason))) {
        return Option.none<Released>()
      }
      const fate = yield* settleWorktree(s, options)
      if (!options.dryRun) yield* store.setKept(s.sessionId, fate.kept?.detail ?? null)
      return Option.some(toReleased(s, s.releaseReason ?? "released", fate, null, true))
    })

  /** Release the given active sessions that are not alive (or report what would happen with dryRun). */
  const sweepSessions = (sessions: ReadonlyArray<Session>, options: { readonly force: boolean; readonly dryRun: boolean }) =>
    Effect.gen(function*() {
      const released: Array<Released> = []
      let alive = 0
      const unfinished = options.dryRun ? yield* store.unfinished : new Set<string>()
      for (const s of sessions) {
        const v = yield* view(s)
        if (v.liveness.state === "alive") {
          alive++
          continue
        }
        const reason: ReleaseReason = v.liveness.state === "stale" ? "stale" : "dead"
        if (options.dryRun) {
          const interrupted = unfinished.has(s.sessionId)
          const fate = yield* settleWorktree(s, { ...options, interrupted })
          released.push(toReleased(s, reason, fate, v.liveness, false, interrupted))
          continue
        }
        const r = yield* releaseOne(s, reason, { force: options.force, liveness: v.liveness }).pipe(
          Effect.catchAll((e) => Effect.logWarning(`could not release session ${s.sessionId}: ${e.message}`).pipe(Effect.as(Option.none())))
        )
        if (Option.isSome(r)) released.push(r.value)
      }
      return { released, alive }
    })

  return {
    heartbeatFile,
    createHeartbeatFile,
    createSessionDir,
    removeSessionDir,
    sessionDir: files.dir,
    view,
    settleWorktree,
    toReleased,
    releaseOne,
    recheckKept,
    sweepSessions
  }
})
