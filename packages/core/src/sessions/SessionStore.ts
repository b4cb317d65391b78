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
import { SessionNotFound } from "../Errors.js"

/** Where a non-main session's worktree will live, decided from its id before anything is created. */
export interface WorktreePlan {
  readonly path: string
  readonly name: string
  readonly branch: string
}

/**
 * The default plan: `<worktree.root or <repo>-worktrees>/<prefix><id>` on a new branch `<prefix><id>`.
 */
export const planWorktree = (values: AppConfig["Type"]["values"], repoPath: string) => (id: SessionId): WorktreePlan => {
  const prefix = values["worktree.prefix"]
  const root = values["worktree.root"] !== "" ? values["worktree.root"] : `${repoPath}-worktrees`
  const name = `${prefix}${id}`
  return { path: `${root.replace(/\/+$/, "")}/${name}`, name, branch: name }
}

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
  readonly planWorktree: (id: SessionId) => WorktreePlan
  /** Force a worktree even when no main session exists (sandbox runs never take the repo itself). */
  readonly forceWorktree?: boolean | undefined
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
  readonly register: (req: RegisterRequest) => Effect.Effect<Session, DbFailure>
  readonly get: (id: SessionId) => Effect.Effect<Session, SessionNotFound | DbFailure>
  readonly findActiveByPid: (pid: number) => Effect.Effect<ReadonlyArray<Session>, DbFailure>
  readonly list: (filter?: ListFilter) => Effect.Effect<ReadonlyArray<Session>, DbFailure>
  /** Record a heartbeat now. */
  readonly heartbeat: (id: SessionId) => Effect.Effect<void, SessionNotFound | DbFailure>
  /** Mark a session released (ended). Idempotent. */
  readonly markReleased: (id: SessionId) => Effect.Effect<Session, SessionNotFound | DbFailure>
  /** Hand a session over to another process (the wrapper registers, then its agent owns the session). */
  readonly setPid: (id: SessionId, pid: number, pidStartTime: string | null) => Effect.Effect<Session, SessionNotFound | DbFailure>
  /**
   * Atomically end an active session: exactly one caller wins (Some); everyone else gets None. A worktree
   * session is marked "kept" until its worktree has been dealt with ({@link setKept}), so a crash in between
   * leaves a record that `cleanup` picks up.
   */
  readonly beginRelease: (id: SessionId, reason: ReleaseReason) => Effect.Effect<Option.Option<Session>, DbFailure>
  /** Record that a released session's worktree is kept (with why), or gone (null). */
  readonly setKept: (id: SessionId, keptReason: string | null) => Effect.Effect<void, DbFailure>
  /** Released sessions whose worktree was kept because it holds work. */
  readonly listKept: (filter?: { readonly repoPath?: string | undefined }) => Effect.Effect<ReadonlyArray<Session>, DbFailure>
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
    base_branch: Schema.optionalWith(Schema.NullOr(Schema.String), { default: () => null })
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
        baseBranch: r.base_branch
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
      base_branch: s.baseBranch
    })
  }
)

const decodeRows = Schema.decodeUnknown(Schema.Array(SessionRow))

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

  const register = (req: RegisterRequest) =>
    db.immediate(Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const id = makeSessionId()
      const active = yield* rows(
        sql`SELECT * FROM sessions WHERE repo_path = ${req.repoPath} AND status = 'active'`
      )
      const isMain = req.forceWorktree !== true && !active.some((s) => s.isMainRepo)
      const plan = isMain ? undefined : req.planWorktree(id)
      const used = new Set(active.map((s) => s.portBase))
      let block = 0
      while (used.has(portBase + block * blockSize) && portBase + (block + 1) * blockSize <= 65_535) block++
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
          port_base: portBase + block * blockSize,
          base_commit: req.baseCommit ?? null,
          base_branch: req.baseBranch ?? null
        })
      }`
      return yield* byId(id)
    })).pipe(Effect.catchTag("SessionNotFound", (e) => Effect.die(e)), Effect.withSpan("SessionStore.register"))

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

  const setPid = (id: SessionId, pid: number, pidStartTime: string | null) =>
    db.orFail(
      sql`UPDATE sessions SET pid = ${pid}, pid_start_time = ${pidStartTime} WHERE id = ${id} AND status = 'active' RETURNING id`
    ).pipe(
      Effect.flatMap((r) => r.length === 0 ? Effect.fail(new SessionNotFound({ sessionId: id })) : byId(id))
    )

  const beginRelease = (id: SessionId, reason: ReleaseReason) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const r = yield* rows(
        sql`UPDATE sessions SET status = 'released', ended_at = ${now}, release_reason = ${reason},
              kept_reason = CASE WHEN is_main = 1 THEN NULL ELSE ${RELEASE_IN_PROGRESS} END
            WHERE id = ${id} AND status = 'active' RETURNING *`
      )
      return Option.fromNullable(r[0])
    })

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

  return SessionStore.of({
    register,
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
