/**
 * Domain schemas shared by every service: ids, sessions and their JSON shapes.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/** A session id: 10 lowercase base-36 characters, also used in worktree and branch names. */
export const SessionId = Schema.String.pipe(
  Schema.pattern(/^[a-z0-9]{6,32}$/),
  Schema.brand("SessionId"),
  Schema.annotations({ identifier: "SessionId", description: "a parallel-cc session id" })
)
export type SessionId = typeof SessionId.Type

/** Where a session's agent runs. */
export const SessionMode = Schema.Literal("local", "sandbox")
export type SessionMode = typeof SessionMode.Type

/** `active` while its agent runs; `released` once it ended (its worktree removed, or kept with work in it). */
export const SessionStatus = Schema.Literal("active", "released")
export type SessionStatus = typeof SessionStatus.Type

/** Why a session ended: released by its wrapper or a command, its process gone, or its heartbeat too old. */
export const ReleaseReason = Schema.Literal("released", "dead", "stale")
export type ReleaseReason = typeof ReleaseReason.Type

const NullByDefault = <S extends Schema.Schema.Any>(s: S) =>
  Schema.optionalWith(Schema.NullOr(s), { default: () => null, nullable: true })

/** One agent process working on one repository. */
export class Session extends Schema.Class<Session>("Session")({
  sessionId: SessionId,
  repoPath: Schema.String,
  worktreePath: Schema.String,
  worktreeName: Schema.NullOr(Schema.String),
  branch: Schema.NullOr(Schema.String),
  isMainRepo: Schema.Boolean,
  pid: Schema.Int,
  pidStartTime: Schema.NullOr(Schema.String),
  mode: SessionMode,
  status: SessionStatus,
  createdAt: Schema.Date,
  lastHeartbeat: Schema.Date,
  endedAt: Schema.NullOr(Schema.Date),
  portBase: Schema.NullOr(Schema.Int),
  /** Set once released: why it ended. */
  releaseReason: NullByDefault(ReleaseReason),
  /** Set when the session was released but its worktree kept because it holds work; says what work. */
  keptReason: NullByDefault(Schema.String),
  /** The commit a worktree session started from, and the repository's branch at that time. */
  baseCommit: NullByDefault(Schema.String),
  baseBranch: NullByDefault(Schema.String)
}) {}

/** Whether a session's process still runs: `dead` (gone or pid reused) and `stale` sessions get released. */
export const LivenessState = Schema.Literal("alive", "dead", "stale")
export type LivenessState = typeof LivenessState.Type

export const Liveness = Schema.Struct({
  state: LivenessState,
  /** Human detail, e.g. "pid 123 no longer runs" or "pid 123 was reused by another process". */
  detail: Schema.String
})
export type Liveness = typeof Liveness.Type

/** The JSON shape of a session, as `status --json` prints it. */
export const SessionJson = Schema.encodedSchema(Session)
export type SessionJson = typeof SessionJson.Type

/** What `register --json` prints. For the main session `worktreePath` is the repository itself. */
export const Registration = Schema.Struct({
  sessionId: SessionId,
  isMainRepo: Schema.Boolean,
  worktreePath: Schema.String,
  worktreeName: Schema.NullOr(Schema.String),
  branch: Schema.NullOr(Schema.String),
  repoPath: Schema.String
})
export type Registration = typeof Registration.Type

const alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"

/** A fresh random session id (Web Crypto, so ids are unpredictable across processes). */
export const makeSessionId = (): SessionId => {
  const bytes = new Uint8Array(10)
  globalThis.crypto.getRandomValues(bytes)
  let id = ""
  for (const b of bytes) id += alphabet[b % 36]
  return id as SessionId
}
