/**
 * Domain schemas shared by every service: ids, sessions and their JSON shapes.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { randomId } from "./ids.js"

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
  baseBranch: NullByDefault(Schema.String),
  /** The name given with `--name` (branch `parallel/NAME`, folder `NAME`); null for an unnamed session. */
  name: NullByDefault(Schema.String),
  /** The session this one was started for (a Claude Code subagent's worktree, say); shown nested under it. */
  parentId: NullByDefault(Schema.String),
  /**
   * The agent the session runs (`claude`, `codex`, `gemini`, or a command's absolute path), as the wrapper
   * started it; null when not known (a session without the wrapper).
   */
  agent: NullByDefault(Schema.String)
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

/** A commit that removing a worktree (and deleting its branch) throws away, with the command that restores it. */
export const DiscardedCommit = Schema.Struct({
  sha: Schema.String,
  subject: Schema.String,
  /** The branch it was only on; null for a commit at a detached HEAD. */
  branch: Schema.NullOr(Schema.String),
  /** e.g. `git -C /repo branch parallel/x 1a2b3c…` (works until git's garbage collection prunes it). */
  restore: Schema.String
})
export type DiscardedCommit = typeof DiscardedCommit.Type

/** A repository inside a worktree: a nested clone (its whole history is in the worktree) or a submodule. */
export const NestedRepository = Schema.Struct({
  /** Relative to the worktree. */
  path: Schema.String,
  kind: Schema.Literal("repository", "submodule"),
  /** Commits that no remote of it has (for a nested repository without remotes: all of them). */
  commits: Schema.Number,
  /** Uncommitted changes and untracked files in it. */
  changes: Schema.Number,
  detail: Schema.String
})
export type NestedRepository = typeof NestedRepository.Type

/**
 * Work that removing a worktree (and deleting its branch) throws away. Paths are relative to the worktree;
 * an ignored directory is listed once with a trailing `/`. Regenerable build output (`worktree.regenerable`)
 * and byte-identical copies of the repository's own files are not work and are not listed.
 */
export const Discarded = Schema.Struct({
  /** Tracked files with staged or unstaged changes. */
  uncommitted: Schema.Array(Schema.String),
  /** Untracked files that are not ignored. */
  untracked: Schema.Array(Schema.String),
  /** Ignored files and directories that are not regenerable build output. */
  ignored: Schema.Array(Schema.String),
  /** Commits on no other branch, tag or remote. */
  commits: Schema.Array(DiscardedCommit),
  nested: Schema.Array(NestedRepository)
})
export type Discarded = typeof Discarded.Type

export const noDiscard: Discarded = { uncommitted: [], untracked: [], ignored: [], commits: [], nested: [] }

/** Whether nothing would be thrown away. */
export const isNothingDiscarded = (d: Discarded): boolean =>
  d.uncommitted.length === 0 && d.untracked.length === 0 && d.ignored.length === 0 && d.commits.length === 0 &&
  d.nested.length === 0

/** What `register --json` prints. For the main session `worktreePath` is the repository itself. */
export const Registration = Schema.Struct({
  sessionId: SessionId,
  isMainRepo: Schema.Boolean,
  worktreePath: Schema.String,
  worktreeName: Schema.NullOr(Schema.String),
  branch: Schema.NullOr(Schema.String),
  repoPath: Schema.String,
  name: Schema.NullOr(Schema.String),
  /** The commit the session started from (null in a repository without commits). */
  baseCommit: Schema.NullOr(Schema.String),
  /** True when `--session` re-entered a worktree kept earlier. */
  reentered: Schema.Boolean
})
export type Registration = typeof Registration.Type

/** A fresh random session id (Web Crypto, so ids are unpredictable across processes). */
export const makeSessionId = (): SessionId => randomId() as SessionId
