/**
 * The session table: registration (the one atomic "main repo or worktree" decision), lookups, heartbeats
 * and release bookkeeping. Worktree creation and liveness live in other services; this one only records.
 *
 * @since 0.1.0
 */
import { Clock, Context, Effect, Layer, Option, Schema } from "effect"
import { AppConfig } from "../platform/AppConfig.js"
import { Database, type DbFailure } from "../platform/Database.js"
import { makeSessionId, ReleaseReason, Session, SessionId, SessionMode, SessionStatus } from "../Domain.js"
import { SessionConflict, SessionNotFound } from "../Errors.js"
import { type Landed, landedQuery, type LandedRow, latestLanded } from "./keptLanding.js"

export type { Landed } from "./keptLanding.js"

/** Where a non-main session's worktree will live, decided from its id before anything is created. */
export interface WorktreePlan {
  readonly path: string
  readonly name: string
  readonly branch: string
}

/** The branch of a session named NAME. */
export const namedBranch = (name: string): string => `parallel/${name}`

/**
 * The default plan: `<worktree.root or <repo>-worktrees>/<prefix><id>` on a new branch `<prefix><id>`; a
 * named session gets the folder `NAME` on the branch `parallel/NAME`.
 */
export const planWorktree = (values: AppConfig["Type"]["values"], repoPath: string) =>
(id: SessionId, sessionName?: string | null): WorktreePlan => {
  const prefix = values["worktree.prefix"]
  const root = (values["worktree.root"] !== "" ? values["worktree.root"] : `${repoPath}-worktrees`).replace(/\/+$/, "")
  if (sessionName !== undefined && sessionName !== null) {
    return { path: `${root}/${sessionName}`, name: sessionName, branch: namedBranch(sessionName) }
  }
  const name = `${prefix}${id}`
  return { path: `${root}/${name}`, name, branch: name }
}

/** Where a session works: always its own worktree, never (the repository itself or nothing), or auto. */
export type WorktreeChoice = "always" | "never" | "auto"

/** `kept_reason` of a worktree session between the start and the end of its release. */
export const RELEASE_IN_PROGRESS = "release in progress"

export interface RegisterRequest {
  /** Absolute, canonical path of the repository's top level. */
  readonly repoPath: string
  readonly pid: number
  /** The process start time (opaque, OS-specific), so a reused pid is never taken for this session. */
  readonly pidStartTime: string | null
  readonly mode?: SessionMode | undefined
  /** Plan the worktree of a non-main session; called inside the transaction, must not do I/O. */
  readonly planWorktree: (id: SessionId, name?: string | null) => WorktreePlan
  /** Force a worktree even when no main session exists (sandbox runs never take the repo itself). */
  readonly forceWorktree?: boolean | undefined
  /**
   * `always`: a worktree even when the repository is free; `never`: the repository itself, refused
   * (`RepositoryInUse`) when another session has it; `auto` (default): the repository when free.
   * `forceWorktree: true` means `always`.
   */
  readonly worktree?: WorktreeChoice | undefined
  /** The session's name (already validated); refused (`NameTaken`) when a session of the repository that is
   * active or whose worktree is kept has it. */
  readonly name?: string | null | undefined
  readonly parentId?: SessionId | null | undefined
  /** Insert the row as not ready yet (`register` is still creating its worktree); see `SessionStore.markReady`. */
  readonly registering?: boolean | undefined
  /** The commit a worktree starts from and the repository's branch at that moment (for merge hints). */
  readonly baseCommit?: string | null | undefined
  readonly baseBranch?: string | null | undefined
}

export interface ListFilter {
  readonly repoPath?: string | undefined
  readonly status?: "active" | "released" | "all" | undefined
  readonly mode?: SessionMode | undefined
}

export class SessionStore extends Context.Tag("@parallel-cc/core/SessionStore")<SessionStore, {
  /** Atomically register a session: the first active session of a repo gets the repo, the rest a worktree. */
  readonly register: (req: RegisterRequest) => Effect.Effect<Session, DbFailure | SessionConflict>
  /** The registration finished: the session belongs to `pid` from now on. */
  readonly markReady: (id: SessionId, pid: number, pidStartTime: string | null) => Effect.Effect<Session, SessionNotFound | DbFailure>
  /**
   * Make a released session whose worktree was kept active again (re-entry): it belongs to `pid`, gets a
   * port block, and is not ready until {@link markReady}. Refused while another process releases it, or when
   * it is active.
   */
  readonly reactivate: (
    id: SessionId,
    pid: number,
    pidStartTime: string | null
  ) => Effect.Effect<Session, SessionNotFound | SessionConflict | DbFailure>
  /** Undo {@link reactivate}: the session is released again with its earlier state. */
  readonly restoreReleased: (previous: Session) => Effect.Effect<void, DbFailure>
  /** Ids of active sessions whose registration has not finished (see `markReady`). */
  readonly unfinished: Effect.Effect<ReadonlySet<string>, DbFailure>
  /** Sessions whose id, name or branch is `ref`, newest first. */
  readonly findByRef: (ref: string) => Effect.Effect<ReadonlyArray<Session>, DbFailure>
  readonly get: (id: SessionId) => Effect.Effect<Session, SessionNotFound | DbFailure>
  readonly findActiveByPid: (pid: number) => Effect.Effect<ReadonlyArray<Session>, DbFailure>
  readonly list: (filter?: ListFilter) => Effect.Effect<ReadonlyArray<Session>, DbFailure>
  /** Record a heartbeat now. */
  readonly heartbeat: (id: SessionId) => Effect.Effect<void, SessionNotFound | DbFailure>
  /** Mark a session released (ended). Idempotent. */
  readonly markReleased: (id: SessionId) => Effect.Effect<Session, SessionNotFound | DbFailure>
  /** Hand a session over to another process (the wrapper registers, then its agent owns the session). */
  /** Hand a session to another process; `agent`: the agent it runs (kept when undefined). */
  readonly setPid: (
    id: SessionId,
    pid: number,
    pidStartTime: string | null,
    agent?: string | undefined
  ) => Effect.Effect<Session, SessionNotFound | DbFailure>
  /**
   * Atomically end an active session: exactly one caller wins (Some); everyone else gets None. A worktree
   * session is marked "kept" until its worktree has been dealt with ({@link setKept}), so a crash in between
   * leaves a record that `cleanup` picks up.
   */
  readonly beginRelease: (
    id: SessionId,
    reason: ReleaseReason,
    /**
     * Only while the row still belongs to this process (pid and start time): a sweep judged the session dead
     * by them, and a registration may have handed the row to its live agent since.
     */
    expect?: { readonly pid: number; readonly pidStartTime: string | null }
  ) => Effect.Effect<Option.Option<{ readonly session: Session; readonly interrupted: boolean }>, DbFailure>
  /**
   * Take a released session's kept worktree for another look (cleanup, discard): atomically marks it
   * "release in progress" when its kept reason is still `keptReason`; false when someone else took it.
   */
  readonly claimKept: (id: SessionId, keptReason: string) => Effect.Effect<boolean, DbFailure>
  /** Record that a released session's worktree is kept (with why), or gone (null). */
  readonly setKept: (id: SessionId, keptReason: string | null) => Effect.Effect<void, DbFailure>
  /** Released sessions whose worktree was kept because it holds work. */
  readonly listKept: (filter?: { readonly repoPath?: string | undefined }) => Effect.Effect<ReadonlyArray<Session>, DbFailure>
  /** The latest landing of each given session's branch by the landing queue (`keptLanding`), by session id. */
  readonly landed: (ids: ReadonlyArray<SessionId>) => Effect.Effect<ReadonlyMap<string, Landed>, DbFailure>
  /** Delete a session row, e.g. a reservation whose worktree could not be created. */
  readonly remove: (id: SessionId) => Effect.Effect<void, DbFailure>
}>() {}

const Bool = Schema.transform(Schema.Literal(0, 1), Schema.Boolean, {
  strict: true,
  decode: (n) => n === 1,
  encode: (b) => (b ? 1 : 0)
})
const Millis = Schema.transform(Schema.Number, Schema.DateFromSelf, {
  strict: true,
  decode: (n) => new Date(n),
  encode: (d) => d.getTime()
})

/** A `sessions` row as SQLite returns it, decoded into a {@link Session}. */
export const SessionRow = Schema.transform(
  Schema.Struct({
    id: SessionId,
    repo_path: Schema.String,
    worktree_path: Schema.String,
    worktree_name: Schema.NullOr(Schema.String),
    branch: Schema.NullOr(Schema.String),
    is_main: Bool,
    pid: Schema.Int,
    pid_start_time: Schema.NullOr(Schema.String),
    mode: SessionMode,
    status: SessionStatus,
    created_at: Millis,
    last_heartbeat: Millis,
    ended_at: Schema.NullOr(Millis),
    port_base: Schema.NullOr(Schema.Int),
    release_reason: Schema.optionalWith(Schema.NullOr(ReleaseReason), { default: () => null }),
    kept_reason: Schema.optionalWith(Schema.NullOr(Schema.String), { default: () => null }),
    base_commit: Schema.optionalWith(Schema.NullOr(Schema.String), { default: () => null }),
    base_branch: Schema.optionalWith(Schema.NullOr(Schema.String), { default: () => null }),
    name: Schema.optionalWith(Schema.NullOr(Schema.String), { default: () => null }),
    parent_id: Schema.optionalWith(Schema.NullOr(Schema.String), { default: () => null }),
    agent: Schema.optionalWith(Schema.NullOr(Schema.String), { default: () => null })
  }),
  Schema.typeSchema(Session),
  {
    strict: true,
    decode: (r) =>
      new Session({
        sessionId: r.id,
        repoPath: r.repo_path,
        worktreePath: r.worktree_path,
        worktreeName: r.worktree_name,
        branch: r.branch,
        isMainRepo: r.is_main,
        pid: r.pid,
        pidStartTime: r.pid_start_time,
        mode: r.mode,
        status: r.status,
        createdAt: r.created_at,
        lastHeartbeat: r.last_heartbeat,
        endedAt: r.ended_at,
        portBase: r.port_base,
        releaseReason: r.release_reason,
        keptReason: r.kept_reason,
        baseCommit: r.base_commit,
        baseBranch: r.base_branch,
        name: r.name,
        parentId: r.parent_id,
        agent: r.agent
      }),
    encode: (s) => ({
      id: s.sessionId,
      repo_path: s.repoPath,
      worktree_path: s.worktreePath,
      worktree_name: s.worktreeName,
      branch: s.branch,
      is_main: s.isMainRepo,
      pid: s.pid,
      pid_start_time: s.pidStartTime,
      mode: s.mode,
      status: s.status,
      created_at: s.createdAt,
      last_heartbeat: s.lastHeartbeat,
      ended_at: s.endedAt,
      port_base: s.portBase,
      release_reason: s.releaseReason,
      kept_reason: s.keptReason,
      base_commit: s.baseCommit,
      base_branch: s.baseBranch,
      name: s.name,
      parent_id: s.parentId,
      agent: s.agent
    })
  }
)

const decodeRows = Schema.decodeUnknown(Schema.Array(SessionRow))

const LandedRowSchema: Schema.Schema<LandedRow> = Schema.Struct({
  session_id: Schema.String,
  target: Schema.String,
  strategy: Schema.String,
  head: Schema.NullOr(Schema.String),
  landed_commit: Schema.NullOr(Schema.String)
})
const decodeLanded = Schema.decodeUnknown(Schema.Array(LandedRowSchema))

export const make = Effect.gen(function*() {
  const db = yield* Database
  const config = yield* AppConfig
  const sql = db.sql
  const portBase = config.values["ports.base"]
  const blockSize = config.values["ports.blockSize"]

  const rows = (effect: Effect.Effect<ReadonlyArray<unknown>, any>) =>
    db.orFail(effect).pipe(Effect.flatMap((r) => Effect.orDie(decodeRows(r))))

  const byId = (id: SessionId) =>
    rows(sql`SELECT * FROM sessions WHERE id = ${id}`).pipe(
      Effect.flatMap((r) =>
        Option.match(Option.fromNullable(r[0]), {
          onNone: () => Effect.fail(new SessionNotFound({ sessionId: id })),
          onSome: Effect.succeed
        })
      )
    )

  /** The lowest free port block among the given active sessions. */
  const freeBlock = (active: ReadonlyArray<Session>) => {
    const used = new Set(active.map((s) => s.portBase))
    let block = 0
    while (used.has(portBase + block * blockSize) && portBase + (block + 1) * blockSize <= 65_535) block++
    return portBase + block * blockSize
  }

  /** Another session of the repository that holds `name` (active, or released with its worktree kept). */
  const nameHolder = (repoPath: string, name: string, except: string | null) =>
    rows(
      sql`SELECT * FROM sessions WHERE repo_path = ${repoPath} AND name = ${name}
            AND (status = 'active' OR kept_reason IS NOT NULL) AND id != ${except ?? ""}`
    ).pipe(Effect.map((r) => Option.fromNullable(r[0])))

  const holderDetail = (s: Session) =>
    s.status === "active" ? `session ${s.sessionId} uses it (pid ${s.pid})` : `session ${s.sessionId} ended and its worktree ${s.worktreePath} is kept`

  const register = (req: RegisterRequest) =>
    db.immediate(Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const id = makeSessionId()
      const active = yield* rows(
        sql`SELECT * FROM sessions WHERE repo_path = ${req.repoPath} AND status = 'active'`
      )
      const choice = req.worktree ?? (req.forceWorktree === true ? "always" : "auto")
      const main = active.find((s) => s.isMainRepo)
      if (choice === "never" && main !== undefined) {
        return yield* new SessionConflict({ reason: "RepositoryInUse", subject: req.repoPath, detail: `session ${main.sessionId}, pid ${main.pid}` })
      }
      const name = req.name ?? null
      if (name !== null) {
        const holder = yield* nameHolder(req.repoPath, name, null)
        if (Option.isSome(holder)) {
          return yield* new SessionConflict({ reason: "NameTaken", subject: name, detail: holderDetail(holder.value) })
        }
      }
      const isMain = choice === "never" || (choice === "auto" && main === undefined)
      const plan = isMain ? undefined : req.planWorktree(id, name)
      yield* sql`INSERT INTO sessions ${
        sql.insert({
          id,
          repo_path: req.repoPath,
          worktree_path: plan?.path ?? req.repoPath,
          worktree_name: plan?.name ?? null,
          branch: plan?.branch ?? null,
          is_main: isMain ? 1 : 0,
          pid: req.pid,
          pid_start_time: req.pidStartTime,
          mode: req.mode ?? "local",
          status: "active",
          created_at: now,
          last_heartbeat: now,
          ended_at: null,
          port_base: freeBlock(active),
          base_commit: req.baseCommit ?? null,
          base_branch: req.baseBranch ?? null,
          name,
          parent_id: req.parentId ?? null,
          ready: req.registering === true ? 0 : 1
        })
      }`
      return yield* byId(id)
    })).pipe(Effect.catchTag("SessionNotFound", (e) => Effect.die(e)), Effect.withSpan("SessionStore.register"))

  const markReady = (id: SessionId, pid: number, pidStartTime: string | null) =>
    db.orFail(
      sql`UPDATE sessions SET ready = 1, pid = ${pid}, pid_start_time = ${pidStartTime}
          WHERE id = ${id} AND status = 'active' RETURNING id`
    ).pipe(Effect.flatMap((r) => r.length === 0 ? Effect.fail(new SessionNotFound({ sessionId: id })) : byId(id)))

  const reactivate = (id: SessionId, pid: number, pidStartTime: string | null) =>
    db.immediate(Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const s = yield* byId(id)
      if (s.status === "active") {
        return yield* new SessionConflict({ reason: "StillRunning", subject: s.name ?? s.sessionId, detail: `pid ${s.pid}` })
      }
      if (s.keptReason === RELEASE_IN_PROGRESS) {
        return yield* new SessionConflict({ reason: "BeingReleased", subject: s.name ?? s.sessionId })
      }
      if (s.name !== null) {
        const holder = yield* nameHolder(s.repoPath, s.name, s.sessionId)
        if (Option.isSome(holder)) {
          return yield* new SessionConflict({ reason: "NameTaken", subject: s.name, detail: holderDetail(holder.value) })
        }
      }
      const active = yield* rows(sql`SELECT * FROM sessions WHERE repo_path = ${s.repoPath} AND status = 'active'`)
      const sameBranch = active.find((a) => a.branch !== null && a.branch === s.branch)
      if (sameBranch !== undefined) {
        return yield* new SessionConflict({ reason: "NameTaken", subject: s.branch!, detail: holderDetail(sameBranch) })
      }
      yield* sql`UPDATE sessions SET status = 'active', pid = ${pid}, pid_start_time = ${pidStartTime}, ended_at = NULL,
                   release_reason = NULL, kept_reason = NULL, ready = 0, last_heartbeat = ${now},
                   port_base = ${freeBlock(active)}
                 WHERE id = ${id} AND status = 'released'`
      return yield* byId(id)
    })).pipe(Effect.withSpan("SessionStore.reactivate"))

  const restoreReleased = (p: Session) =>
    db.orFail(
      sql`UPDATE sessions SET status = 'released', ended_at = ${p.endedAt?.getTime() ?? null},
            release_reason = ${p.releaseReason}, kept_reason = ${p.keptReason}, ready = 1, pid = ${p.pid},
            pid_start_time = ${p.pidStartTime}, port_base = ${p.portBase}
          WHERE id = ${p.sessionId}`
    ).pipe(Effect.asVoid)

  const list = (filter: ListFilter = {}) => {
    const status = filter.status ?? "active"
    const conds = [
      filter.repoPath !== undefined ? sql`repo_path = ${filter.repoPath}` : undefined,
      status !== "all" ? sql`status = ${status}` : undefined,
      filter.mode !== undefined ? sql`mode = ${filter.mode}` : undefined
    ].filter((c) => c !== undefined)
    return rows(sql`SELECT * FROM sessions WHERE ${sql.and(conds)} ORDER BY created_at, id`)
  }

  const heartbeat = (id: SessionId) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const res = yield* db.orFail(
        sql`UPDATE sessions SET last_heartbeat = ${now} WHERE id = ${id} AND status = 'active' RETURNING id`
      )
      if (res.length === 0) return yield* new SessionNotFound({ sessionId: id })
    })

  const markReleased = (id: SessionId) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      yield* db.orFail(
        sql`UPDATE sessions SET status = 'released', ended_at = ${now}, release_reason = 'released'
            WHERE id = ${id} AND status = 'active'`
      )
      return yield* byId(id)
    })

  const setPid = (id: SessionId, pid: number, pidStartTime: string | null, agent?: string | undefined) =>
    db.orFail(
      agent === undefined
        ? sql`UPDATE sessions SET pid = ${pid}, pid_start_time = ${pidStartTime} WHERE id = ${id} AND status = 'active' RETURNING id`
        : sql`UPDATE sessions SET pid = ${pid}, pid_start_time = ${pidStartTime}, agent = ${agent}
            WHERE id = ${id} AND status = 'active' RETURNING id`
    ).pipe(
      Effect.flatMap((r) => r.length === 0 ? Effect.fail(new SessionNotFound({ sessionId: id })) : byId(id))
    )

  const beginRelease = (id: SessionId, reason: ReleaseReason, expect?: { readonly pid: number; readonly pidStartTime: string | null }) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const raw = yield* db.orFail(
        expect === undefined
          ? sql`UPDATE sessions SET status = 'released', ended_at = ${now}, release_reason = ${reason},
                  kept_reason = CASE WHEN is_main = 1 THEN NULL ELSE ${RELEASE_IN_PROGRESS} END
                WHERE id = ${id} AND status = 'active' RETURNING *`
          : sql`UPDATE sessions SET status = 'released', ended_at = ${now}, release_reason = ${reason},
                  kept_reason = CASE WHEN is_main = 1 THEN NULL ELSE ${RELEASE_IN_PROGRESS} END
                WHERE id = ${id} AND status = 'active' AND pid = ${expect.pid} AND pid_start_time IS ${expect.pidStartTime}
                RETURNING *`
      )
      const r = yield* Effect.orDie(decodeRows(raw))
      const first = r[0]
      if (first === undefined) return Option.none()
      return Option.some({ session: first, interrupted: (raw[0] as { ready?: number }).ready === 0 })
    })

  const claimKept = (id: SessionId, keptReason: string) =>
    db.orFail(
      sql`UPDATE sessions SET kept_reason = ${RELEASE_IN_PROGRESS}
          WHERE id = ${id} AND status = 'released' AND kept_reason = ${keptReason} RETURNING id`
    ).pipe(Effect.map((r) => r.length > 0))

  const setKept = (id: SessionId, keptReason: string | null) =>
    db.orFail(sql`UPDATE sessions SET kept_reason = ${keptReason} WHERE id = ${id} AND status = 'released'`).pipe(
      Effect.asVoid
    )

  const listKept = (filter: { readonly repoPath?: string | undefined } = {}) =>
    rows(
      filter.repoPath !== undefined
        ? sql`SELECT * FROM sessions WHERE kept_reason IS NOT NULL AND status = 'released' AND repo_path = ${filter.repoPath}
              ORDER BY ended_at, id`
        : sql`SELECT * FROM sessions WHERE kept_reason IS NOT NULL AND status = 'released' ORDER BY ended_at, id`
    )

  const landed = (ids: ReadonlyArray<SessionId>) =>
    ids.length === 0
      ? Effect.succeed(new Map<string, Landed>() as ReadonlyMap<string, Landed>)
      : db.orFail(sql.unsafe(landedQuery(ids.length), ids)).pipe(
        Effect.flatMap((r) => Effect.orDie(decodeLanded(r))),
        Effect.map(latestLanded)
      )

  return SessionStore.of({
    landed,
    register,
    markReady,
    reactivate,
    restoreReleased,
    unfinished: db.orFail(sql<{ id: string }>`SELECT id FROM sessions WHERE status = 'active' AND ready = 0`).pipe(
      Effect.map((r) => new Set(r.map((x) => x.id)))
    ),
    findByRef: (ref) =>
      rows(sql`SELECT * FROM sessions WHERE id = ${ref} OR name = ${ref} OR branch = ${ref} ORDER BY created_at DESC, id`),
    claimKept,
    get: byId,
    findActiveByPid: (pid) => rows(sql`SELECT * FROM sessions WHERE pid = ${pid} AND status = 'active'`),
    list,
    heartbeat,
    markReleased,
    setPid,
    beginRelease,
    setKept,
    listKept,
    remove: (id) => db.orFail(sql`DELETE FROM sessions WHERE id = ${id}`).pipe(Effect.asVoid)
  })
})

/** SessionStore over the Database; needs Database and AppConfig. */
export const layer = Layer.effect(SessionStore, make)
