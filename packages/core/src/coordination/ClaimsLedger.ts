/**
 * File claims: a session declares how it means to use a file of its repository.
 *
 * - `EXCLUSIVE` — "I am changing this file; nobody else should". Refused while any other session holds an
 *   EXCLUSIVE or SHARED claim on the file.
 * - `SHARED` — "I am changing this file, others may too, but nobody may take it over". Refused while
 *   another session holds it EXCLUSIVE.
 * - `INTENT` — "I plan to touch this file". Never refused and never refuses anyone; it is listed, and every
 *   acquire reports the other claims on the file, so both sides see each other.
 *
 * A session holds at most one claim per file: claiming again renews it, or changes its mode (escalation
 * INTENT → SHARED → EXCLUSIVE is checked like a new claim; a downgrade always succeeds). Claims expire after
 * a TTL (`claims.ttlMinutes`, or per claim) and end with their session. Every decision is one
 * `BEGIN IMMEDIATE` transaction, so concurrent processes queue on the store's lock and never both win;
 * partial unique indexes back this up (one active claim per session and file, one EXCLUSIVE per file).
 *
 * Paths are normalized to the repository root: relative paths are taken from the root
 * (`./a/../b.ts` is `b.ts`), absolute paths may point into the repository or into the session's worktree
 * (the same file in another checkout), and anything outside, the root itself, or `.git` is refused. Paths are
 * resolved through symbolic links in the session's checkout: a link inside the repository leads to its
 * target's path, and a path under a link that leads outside the repository is refused like any outside path.
 *
 * An EXCLUSIVE claim is also published in the session's directory (`claims/<path>`, see SessionFiles), where
 * the session hook of every other live session of the repository reads it before a file is written and
 * refuses the write.
 *
 * @since 0.1.0
 */
import { FileSystem, Path } from "@effect/platform"
import { Clock, Context, Effect, Either, Layer, Option, Schema } from "effect"
import { AppConfig } from "../platform/AppConfig.js"
import { Database, type DbFailure, decodeRows } from "../platform/Database.js"
import { type Session, SessionId } from "../Domain.js"
import { SessionNotFound } from "../Errors.js"
import { SessionFiles } from "../sessions/SessionFiles.js"
import { SessionStore } from "../sessions/SessionStore.js"

/** How a session means to use a file. */
export const ClaimMode = Schema.Literal("EXCLUSIVE", "SHARED", "INTENT")
export type ClaimMode = typeof ClaimMode.Type

/** Why a claim ended. */
export const ReleaseReason = Schema.Literal("released", "session-ended", "expired")
export type ReleaseReason = typeof ReleaseReason.Type

/** One claim, with the branch and directory of the session that holds it. */
export class Claim extends Schema.Class<Claim>("Claim")({
  claimId: Schema.String,
  sessionId: SessionId,
  repoPath: Schema.String,
  filePath: Schema.String,
  mode: ClaimMode,
  reason: Schema.NullOr(Schema.String),
  createdAt: Schema.Date,
  updatedAt: Schema.Date,
  expiresAt: Schema.Date,
  releasedAt: Schema.NullOr(Schema.Date),
  releaseReason: Schema.NullOr(ReleaseReason),
  branch: Schema.NullOr(Schema.String),
  worktreePath: Schema.String
}) {}

/** The JSON shape of a claim (`claims --json`). */
export const ClaimJson = Schema.encodedSchema(Claim)
export type ClaimJson = typeof ClaimJson.Type

/** What an acquire did to the caller's claim on the file. */
export type Change = "acquired" | "renewed" | "escalated" | "downgraded"

export interface Acquired {
  readonly claim: Claim
  readonly change: Change
  /** The other sessions' active claims on the file (none of them blocks this one). */
  readonly others: ReadonlyArray<Claim>
}

/** A holder that blocks a claim. */
export const Holder = Schema.Struct({
  sessionId: Schema.String,
  mode: ClaimMode,
  branch: Schema.NullOr(Schema.String),
  expiresAt: Schema.String
})

/** Another session holds the file in a mode that excludes the requested one. */
export class ClaimConflict extends Schema.TaggedError<ClaimConflict>()("ClaimConflict", {
  repoPath: Schema.String,
  filePath: Schema.String,
  requested: ClaimMode,
  holders: Schema.Array(Holder)
}) {
  override get message(): string {
    const who = this.holders
      .map((h) => `session ${h.sessionId}${h.branch !== null ? ` (branch ${h.branch})` : ""} holds it ${h.mode} until ${h.expiresAt}`)
      .join("; ")
    const instead = this.requested === "EXCLUSIVE" && this.holders.every((h) => h.mode === "SHARED")
      ? "Claim it SHARED, or wait"
      : "Wait"
    return `cannot claim ${this.filePath} ${this.requested}: ${who}. ${instead} for the claim to be released or to ` +
      "expire, or coordinate with that session; an INTENT claim is always possible"
  }
}

/** The session holds no active claim on the file. */
export class ClaimNotFound extends Schema.TaggedError<ClaimNotFound>()("ClaimNotFound", {
  sessionId: Schema.String,
  filePath: Schema.String
}) {
  override get message(): string {
    return `session ${this.sessionId} holds no active claim on ${this.filePath}; list claims with \`parallel-cc claims\``
  }
}

/** A claim request that cannot be honoured as given. */
export class ClaimError extends Schema.TaggedError<ClaimError>()("ClaimError", {
  reason: Schema.Literal("OutsideRepo", "InvalidPath", "SessionNotActive"),
  path: Schema.String,
  repoPath: Schema.String,
  detail: Schema.optional(Schema.String)
}) {
  override get message(): string {
    switch (this.reason) {
      case "OutsideRepo":
        return `${this.path} is outside the repository ${this.repoPath}; claim files of the repository, by a path ` +
          "relative to its root or an absolute path inside it"
      case "InvalidPath":
        return `${JSON.stringify(this.path)} cannot be claimed${this.detail !== undefined ? `: ${this.detail}` : ""}`
      case "SessionNotActive":
        return `the session has ended; only an active session can claim files (${this.detail ?? this.repoPath})`
    }
  }
}

export type ClaimFailure = ClaimConflict | ClaimError | SessionNotFound | DbFailure

export interface AcquireRequest {
  readonly sessionId: SessionId
  /** The file: relative to the repository root, or absolute inside the repository or the session's worktree. */
  readonly path: string
  readonly mode: ClaimMode
  /** Lifetime in minutes (default: `claims.ttlMinutes`). */
  readonly ttlMinutes?: number | undefined
  /** A note for the other sessions. */
  readonly reason?: string | undefined
  /** Only change an existing claim (escalate/downgrade/renew); fail with ClaimNotFound when there is none. */
  readonly existingOnly?: boolean | undefined
}

export interface ListFilter {
  readonly repoPath?: string | undefined
  readonly sessionId?: SessionId | undefined
  /** An exact, already normalized path (see the service's `normalize`). */
  readonly filePath?: string | undefined
}

export class ClaimsLedger extends Context.Tag("@parallel-cc/core/ClaimsLedger")<ClaimsLedger, {
  /** Acquire, renew, escalate or downgrade the session's claim on a file, atomically. */
  readonly acquire: (req: AcquireRequest) => Effect.Effect<Acquired, ClaimFailure | ClaimNotFound>
  /** Release the session's claim on a file. */
  readonly release: (
    sessionId: SessionId,
    path: string
  ) => Effect.Effect<Claim, ClaimNotFound | ClaimError | SessionNotFound | DbFailure>
  /** End every active claim of a session (when it ends: `session-ended`; on request: `released`). */
  readonly releaseSession: (
    sessionId: SessionId,
    reason?: ReleaseReason
  ) => Effect.Effect<ReadonlyArray<Claim>, DbFailure>
  /** Active claims (not released, not expired, of an active session), oldest first. */
  readonly list: (filter?: ListFilter) => Effect.Effect<ReadonlyArray<Claim>, DbFailure>
  /** Normalize a path against a repository (and optionally a worktree of it), as claims store it. */
  readonly normalize: (
    roots: { readonly repoPath: string; readonly worktreePath?: string | undefined },
    path: string
  ) => Effect.Effect<string, ClaimError>
  /** Mark expired claims and claims of ended sessions as ended; returns how many. */
  readonly sweep: Effect.Effect<number, DbFailure>
}>() {}

const rank: Record<ClaimMode, number> = { INTENT: 0, SHARED: 1, EXCLUSIVE: 2 }

/** Whether a claim in mode `requested` is refused by another session's claim in mode `held`. */
export const blocks = (requested: ClaimMode, held: ClaimMode): boolean =>
  requested !== "INTENT" && held !== "INTENT" && (requested === "EXCLUSIVE" || held === "EXCLUSIVE")

/** The longest TTL a single claim may ask for: 7 days. */
export const maxTtlMinutes = 10_080

/**
 * Normalize `input` to a path relative to the repository root, with `/` separators and no `.`/`..`
 * segments. Pure; `path` is the platform's Path (POSIX semantics).
 */
export const normalizePath = (
  path: Path.Path,
  roots: { readonly repoPath: string; readonly worktreePath?: string | undefined },
  input: string
): Either.Either<string, ClaimError> => {
  const fail = (reason: "OutsideRepo" | "InvalidPath", detail?: string) =>
    Either.left(
      new ClaimError({ reason, path: input, repoPath: roots.repoPath, ...(detail !== undefined ? { detail } : {}) })
    )
  if (input.trim() === "") return fail("InvalidPath", "the path is empty")
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(input)) return fail("InvalidPath", "the path contains control characters")
  if (input.length > 4096) return fail("InvalidPath", "the path is longer than 4096 characters")
  const inside = (root: string) => {
    const rel = path.relative(root, path.resolve(root, input))
    return rel === ".." || rel.startsWith("../") || path.isAbsolute(rel) ? undefined : rel
  }
  const candidates = path.isAbsolute(input)
    ? [roots.worktreePath, roots.repoPath].filter((r): r is string => r !== undefined)
      .sort((a, b) => b.length - a.length)
    : [roots.repoPath]
  let rel: string | undefined
  for (const root of candidates) {
    rel = inside(root)
    if (rel !== undefined) break
  }
  if (rel === undefined) return fail("OutsideRepo")
  if (rel === "") return fail("InvalidPath", "it names the repository root, not a file")
  if (rel === ".git" || rel.startsWith(".git/")) return fail("InvalidPath", "files inside .git cannot be claimed")
  return Either.right(rel)
}

const Millis = Schema.transform(Schema.Number, Schema.DateFromSelf, {
  strict: true,
  decode: (n) => new Date(n),
  encode: (d) => d.getTime()
})

const ClaimRow = Schema.transform(
  Schema.Struct({
    id: Schema.String,
    session_id: SessionId,
    repo_path: Schema.String,
    file_path: Schema.String,
    mode: ClaimMode,
    reason: Schema.NullOr(Schema.String),
    created_at: Millis,
    updated_at: Millis,
    expires_at: Millis,
    released_at: Schema.NullOr(Millis),
    release_reason: Schema.NullOr(ReleaseReason),
    branch: Schema.NullOr(Schema.String),
    worktree_path: Schema.String
  }),
  Schema.typeSchema(Claim),
  {
    strict: true,
    decode: (r) =>
      new Claim({
        claimId: r.id,
        sessionId: r.session_id,
        repoPath: r.repo_path,
        filePath: r.file_path,
        mode: r.mode,
        reason: r.reason,
        createdAt: r.created_at,
        updatedAt: r.updated_at,
        expiresAt: r.expires_at,
        releasedAt: r.released_at,
        releaseReason: r.release_reason,
        branch: r.branch,
        worktreePath: r.worktree_path
      }),
    encode: (c) => ({
      id: c.claimId,
      session_id: c.sessionId,
      repo_path: c.repoPath,
      file_path: c.filePath,
      mode: c.mode,
      reason: c.reason,
      created_at: c.createdAt,
      updated_at: c.updatedAt,
      expires_at: c.expiresAt,
      released_at: c.releasedAt,
      release_reason: c.releaseReason,
      branch: c.branch,
      worktree_path: c.worktreePath
    })
  }
)

const decodeClaimRows = Schema.decodeUnknown(Schema.Array(ClaimRow))
const ids = decodeRows(Schema.Struct({ id: Schema.String }))

const alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
const makeClaimId = (): string => {
  const bytes = new Uint8Array(12)
  globalThis.crypto.getRandomValues(bytes)
  let id = "c"
  for (const b of bytes) id += alphabet[b % 36]
  return id
}

export const make = Effect.gen(function*() {
  const db = yield* Database
  const config = yield* AppConfig
  const store = yield* SessionStore
  const files = yield* SessionFiles
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const sql = db.sql
  const defaultTtl = config.values["claims.ttlMinutes"]

  const rows = (effect: Effect.Effect<ReadonlyArray<unknown>, any>) =>
    db.orFail(effect).pipe(Effect.flatMap((r) => Effect.orDie(decodeClaimRows(r))))

  const selectClaims = sql`
    SELECT c.*, s.branch AS branch, s.worktree_path AS worktree_path
    FROM file_claims c JOIN sessions s ON s.id = c.session_id`

  const activeWhere = (now: number) => sql`c.released_at IS NULL AND c.expires_at > ${now} AND s.status = 'active'`

  /**
   * `rel` (already normalized lexically) resolved through the symbolic links of the checkout `root`: the
   * path of what it names inside the repository, or OutsideRepo when a link leads outside.
   */
  const resolveLinks = (roots: { readonly repoPath: string; readonly worktreePath?: string | undefined }, input: string, rel: string) =>
    Effect.gen(function*() {
      const root = roots.worktreePath ?? roots.repoPath
      const realRoot = yield* fs.realPath(root).pipe(Effect.orElseSucceed(() => root))
      const parts = rel.split("/")
      let resolved: string | undefined
      for (let i = parts.length; i > 0 && resolved === undefined; i--) {
        const at = path.join(root, ...parts.slice(0, i))
        const real = yield* fs.realPath(at).pipe(Effect.option)
        if (Option.isSome(real)) resolved = path.join(real.value, ...parts.slice(i))
        else {
          // A dangling link: judge it by where it points.
          const target = yield* fs.readLink(at).pipe(Effect.option)
          if (Option.isSome(target)) {
            const parent = yield* fs.realPath(path.dirname(at)).pipe(Effect.orElseSucceed(() => path.dirname(at)))
            resolved = path.join(path.resolve(parent, target.value), ...parts.slice(i))
          }
        }
      }
      if (resolved === undefined) return rel
      const out = path.relative(realRoot, resolved)
      const fail = (reason: "OutsideRepo" | "InvalidPath", detail: string) =>
        Effect.fail(new ClaimError({ reason, path: input, repoPath: roots.repoPath, detail }))
      if (out === "" || out === ".." || out.startsWith("../") || path.isAbsolute(out)) {
        return yield* fail("OutsideRepo", `it leads through a symbolic link to ${resolved}`)
      }
      if (out === ".git" || out.startsWith(".git/")) return yield* fail("InvalidPath", "it leads through a symbolic link into .git")
      return out
    })

  const normalize = (roots: { readonly repoPath: string; readonly worktreePath?: string | undefined }, input: string) =>
    Either.match(normalizePath(path, roots, input), {
      onLeft: Effect.fail,
      onRight: (rel) => resolveLinks(roots, input, rel)
    })

  /** The text the session hook refuses a write with, while `c` holds the file EXCLUSIVE. */
  const refusal = (c: Claim) =>
    `${c.filePath} is claimed EXCLUSIVE by parallel-cc session ${c.sessionId}` +
    `${c.branch !== null ? ` (branch ${c.branch}, in ${c.worktreePath})` : ` (in ${c.worktreePath})`} until ` +
    `${c.expiresAt.toISOString()}${c.reason !== null ? ` — "${c.reason}"` : ""}. Do not change it; coordinate instead: work on ` +
    `other files, or ask the person running the agents. The claim ends when that session releases it ` +
    `(\`parallel-cc unclaim ${c.filePath} --session ${c.sessionId}\`), when the session ends, or when it expires.`

  /** Publish (or withdraw) a claim in its session's directory, for the other sessions' hooks. */
  const publish = (c: Claim) =>
    (c.mode === "EXCLUSIVE" && c.releasedAt === null
      ? files.setClaim(c.sessionId, c.filePath, { expiresAt: c.expiresAt, refusal: refusal(c) })
      : files.clearClaim(c.sessionId, c.filePath)).pipe(
        Effect.catchAll((e) => Effect.logWarning(`could not publish the claim on ${c.filePath} to other sessions: ${e.message}`))
      )

  const rootsOf = (s: Session) => ({ repoPath: s.repoPath, worktreePath: s.worktreePath })

  /** End claims that expired or whose session ended, optionally for one file only. */
  const sweepAt = (now: number, file?: { readonly repoPath: string; readonly filePath: string }) =>
    Effect.gen(function*() {
      const onFile = file !== undefined
        ? sql`AND repo_path = ${file.repoPath} AND file_path = ${file.filePath}`
        : sql``
      const expired = yield* db.orFail(sql`
        UPDATE file_claims SET released_at = expires_at, release_reason = 'expired'
        WHERE released_at IS NULL AND expires_at <= ${now} ${onFile} RETURNING id`)
      const ended = yield* db.orFail(sql`
        UPDATE file_claims SET released_at = ${now}, release_reason = 'session-ended'
        WHERE released_at IS NULL ${onFile}
          AND session_id IN (SELECT id FROM sessions WHERE status <> 'active') RETURNING id`)
      return expired.length + ended.length
    })

  const byId = (id: string) =>
    rows(sql`${selectClaims} WHERE c.id = ${id}`).pipe(
      Effect.flatMap((r) => r[0] !== undefined ? Effect.succeed(r[0]) : Effect.dieMessage(`claim ${id} vanished`))
    )

  const acquire = (req: AcquireRequest) =>
    db.immediate(Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const session = yield* store.get(req.sessionId)
      if (session.status !== "active") {
        return yield* new ClaimError({
          reason: "SessionNotActive",
          path: req.path,
          repoPath: session.repoPath,
          detail: `session ${session.sessionId} is ${session.status}`
        })
      }
      const filePath = yield* normalize(rootsOf(session), req.path)
      const repoPath = session.repoPath
      yield* sweepAt(now, { repoPath, filePath })
      const held = yield* rows(sql`${selectClaims}
        WHERE c.repo_path = ${repoPath} AND c.file_path = ${filePath} AND ${activeWhere(now)}
        ORDER BY c.created_at, c.id`)
      const mine = held.find((c) => c.sessionId === session.sessionId)
      const others = held.filter((c) => c.sessionId !== session.sessionId)
      if (mine === undefined && req.existingOnly === true) {
        return yield* new ClaimNotFound({ sessionId: session.sessionId, filePath })
      }
      const blocking = others.filter((c) => blocks(req.mode, c.mode))
      if (blocking.length > 0) {
        return yield* new ClaimConflict({
          repoPath,
          filePath,
          requested: req.mode,
          holders: blocking.map((c) => ({
            sessionId: c.sessionId,
            mode: c.mode,
            branch: c.branch,
            expiresAt: c.expiresAt.toISOString()
          }))
        })
      }
      const ttl = Math.min(req.ttlMinutes ?? defaultTtl, maxTtlMinutes)
      const expiresAt = now + ttl * 60_000
      if (mine !== undefined) {
        yield* db.orFail(sql`
          UPDATE file_claims SET mode = ${req.mode}, expires_at = ${expiresAt}, updated_at = ${now},
            reason = ${req.reason ?? mine.reason}
          WHERE id = ${mine.claimId}`)
        const change: Change = mine.mode === req.mode
          ? "renewed"
          : rank[req.mode] > rank[mine.mode]
          ? "escalated"
          : "downgraded"
        return { claim: yield* byId(mine.claimId), change, others } satisfies Acquired
      }
      const id = makeClaimId()
      yield* db.orFail(sql`INSERT INTO file_claims ${
        sql.insert({
          id,
          session_id: session.sessionId,
          repo_path: repoPath,
          file_path: filePath,
          mode: req.mode,
          reason: req.reason ?? null,
          created_at: now,
          updated_at: now,
          expires_at: expiresAt,
          released_at: null,
          release_reason: null
        })
      }`)
      return { claim: yield* byId(id), change: "acquired", others } satisfies Acquired
    })).pipe(Effect.tap((a) => publish(a.claim)), Effect.withSpan("ClaimsLedger.acquire"))

  const release = (sessionId: SessionId, input: string) =>
    db.immediate(Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const session = yield* store.get(sessionId)
      const filePath = yield* normalize(rootsOf(session), input)
      const ended = yield* db.orFail(ids(sql`
        UPDATE file_claims SET released_at = ${now}, release_reason = 'released'
        WHERE session_id = ${sessionId} AND repo_path = ${session.repoPath} AND file_path = ${filePath}
          AND released_at IS NULL AND expires_at > ${now}
        RETURNING id`))
      const id = ended[0]?.id
      if (id === undefined) return yield* new ClaimNotFound({ sessionId, filePath })
      return yield* byId(id)
    })).pipe(Effect.tap(publish), Effect.withSpan("ClaimsLedger.release"))

  const releaseSession = (sessionId: SessionId, reason: ReleaseReason = "session-ended") =>
    db.immediate(Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const ended = yield* db.orFail(ids(sql`
        UPDATE file_claims SET released_at = ${now}, release_reason = ${reason}
        WHERE session_id = ${sessionId} AND released_at IS NULL AND expires_at > ${now}
        RETURNING id`))
      // Claims that had already expired are closed as expired, not as released now.
      yield* db.orFail(sql`
        UPDATE file_claims SET released_at = expires_at, release_reason = 'expired'
        WHERE session_id = ${sessionId} AND released_at IS NULL`)
      if (ended.length === 0) return [] as ReadonlyArray<Claim>
      return yield* rows(sql`${selectClaims} WHERE ${sql.in("c.id", ended.map((r) => r.id))} ORDER BY c.created_at, c.id`)
    })).pipe(Effect.tap((cs) => Effect.forEach(cs, publish, { discard: true })), Effect.withSpan("ClaimsLedger.releaseSession"))

  const list = (filter: ListFilter = {}) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const conds = [
        activeWhere(now),
        filter.repoPath !== undefined ? sql`c.repo_path = ${filter.repoPath}` : undefined,
        filter.sessionId !== undefined ? sql`c.session_id = ${filter.sessionId}` : undefined,
        filter.filePath !== undefined ? sql`c.file_path = ${filter.filePath}` : undefined
      ].filter((c) => c !== undefined)
      return yield* rows(sql`${selectClaims} WHERE ${sql.and(conds)} ORDER BY c.repo_path, c.file_path, c.created_at, c.id`)
    })

  const sweep = db.immediate(Effect.flatMap(Clock.currentTimeMillis, (now) => sweepAt(now)))

  return ClaimsLedger.of({
    acquire,
    release,
    releaseSession,
    list,
    normalize,
    sweep
  })
})

/** The ledger over the store; needs Database, SessionStore, AppConfig and Path. */
export const layer = Layer.effect(ClaimsLedger, make)
