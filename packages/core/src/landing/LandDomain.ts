/**
 * The landing queue's shapes: what a queue entry is, what happened to it, the progress events of a `land`
 * run and its report, and the typed errors. One definition each, shared by the CLI (`--json`, JSON lines),
 * the MCP tools and the library.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/** How a candidate is put onto the target: a merge commit, one squashed commit, or its commits replayed. */
export const Strategy = Schema.Literal("merge", "squash", "rebase")
export type Strategy = typeof Strategy.Type

/** What a candidate names: a session's branch, a plain branch, or a sandboxed run's result. */
export const CandidateKind = Schema.Literal("session", "branch", "run")
export type CandidateKind = typeof CandidateKind.Type

/**
 * Where an entry is. `queued` waits for a `land` run; `integrating`, `testing` and `landing` belong to the
 * run named in `runId`; `landed`, `sent_back` and `cancelled` are final.
 */
export const EntryStatus = Schema.Literal("queued", "integrating", "testing", "landing", "landed", "sent_back", "cancelled")
export type EntryStatus = typeof EntryStatus.Type

export const finalStatuses: ReadonlyArray<EntryStatus> = ["landed", "sent_back", "cancelled"]

/** Why a candidate was sent back. */
export const SendBackReason = Schema.Literal("conflict", "tests_failed", "test_timeout", "candidate_gone", "unrelated")
export type SendBackReason = typeof SendBackReason.Type

/** A conflicted file of a candidate that was sent back: git's kind of conflict and the engine's class. */
export const ConflictFile = Schema.Struct({
  path: Schema.String,
  /** git's kind: content, add/add, modify/delete, … */
  kind: Schema.String,
  /** The conflict engine's class (TRIVIAL, CONCURRENT_EDIT, STRUCTURAL, SEMANTIC, ADDITIVE), when known. */
  class: Schema.NullOr(Schema.String),
  /** Why it was not resolved automatically. */
  note: Schema.String
})
export type ConflictFile = typeof ConflictFile.Type

/** A conflict the queue resolved with a suggestion the conflict engine marked `autoApply`. */
export const Resolution = Schema.Struct({
  path: Schema.String,
  strategy: Schema.String,
  confidence: Schema.Number,
  class: Schema.NullOr(Schema.String),
  /** The commit being replayed when it happened (rebase), else null. */
  commit: Schema.NullOr(Schema.String)
})
export type Resolution = typeof Resolution.Type

/** What the queue recorded about an entry beyond its status (stored as JSON). */
export const EntryDetail = Schema.Struct({
  conflicts: Schema.Array(ConflictFile),
  resolutions: Schema.Array(Resolution),
  warnings: Schema.Array(Schema.String),
  /** The last lines of the failing test's output. */
  logTail: Schema.NullOr(Schema.String),
  /** How many candidates were tested together when this entry's fate was decided. */
  batchSize: Schema.NullOr(Schema.Int)
})
export type EntryDetail = typeof EntryDetail.Type

export const emptyDetail: EntryDetail = { conflicts: [], resolutions: [], warnings: [], logTail: null, batchSize: null }

/** One candidate in the queue of a target branch. */
export class LandEntry extends Schema.Class<LandEntry>("LandEntry")({
  entryId: Schema.String,
  /** Queue order (smaller first). */
  position: Schema.Int,
  repoPath: Schema.String,
  target: Schema.String,
  kind: CandidateKind,
  /** What the user named (session id, branch, run id), or what `--all` found. */
  spec: Schema.String,
  /** How the candidate is shown: its branch, or `run <id>`. */
  name: Schema.String,
  sessionId: Schema.NullOr(Schema.String),
  branch: Schema.NullOr(Schema.String),
  worktreePath: Schema.NullOr(Schema.String),
  /** The candidate's commit when it was last integrated (or queued). */
  head: Schema.NullOr(Schema.String),
  strategy: Strategy,
  /** The entry's own test command (null: the run's `--test`, else `land.test`). */
  testCommand: Schema.NullOr(Schema.String),
  requestedBy: Schema.String,
  status: EntryStatus,
  runId: Schema.NullOr(Schema.String),
  attempts: Schema.Int,
  /** The commit that puts this candidate on the target (planned while `landing`, final once `landed`). */
  plannedCommit: Schema.NullOr(Schema.String),
  targetBefore: Schema.NullOr(Schema.String),
  landedCommit: Schema.NullOr(Schema.String),
  reason: Schema.NullOr(SendBackReason),
  /** A sentence saying what happened. */
  message: Schema.NullOr(Schema.String),
  detail: EntryDetail,
  logPath: Schema.NullOr(Schema.String),
  testMs: Schema.NullOr(Schema.Number),
  createdAt: Schema.Date,
  startedAt: Schema.NullOr(Schema.Date),
  endedAt: Schema.NullOr(Schema.Date)
}) {}

/** The JSON shape of an entry. */
export const LandEntryJson = Schema.encodedSchema(LandEntry)
export type LandEntryJson = typeof LandEntryJson.Type

/** A candidate `--all` (or a dry run) left out, and why. */
export const Skipped = Schema.Struct({ name: Schema.String, reason: Schema.String })
export type Skipped = typeof Skipped.Type

/** A candidate of a dry run: what would happen, in queue order. */
export const PlannedCandidate = Schema.Struct({
  position: Schema.Int,
  name: Schema.String,
  kind: CandidateKind,
  sessionId: Schema.NullOr(Schema.String),
  branch: Schema.NullOr(Schema.String),
  head: Schema.String,
  strategy: Strategy,
  /** `lands` (clean or every conflict auto-resolvable), `conflicts` (would be sent back), `empty` (nothing to add). */
  outcome: Schema.Literal("lands", "conflicts", "empty"),
  conflicts: Schema.Array(ConflictFile),
  resolutions: Schema.Array(Resolution),
  warnings: Schema.Array(Schema.String),
  /** Already waiting in the queue (queued earlier, e.g. by an agent's request_land). */
  queued: Schema.Boolean
})
export type PlannedCandidate = typeof PlannedCandidate.Type

/** What happened to the checked-out copy of the target. */
export const WorktreeMove = Schema.Struct({
  path: Schema.String,
  moved: Schema.Boolean,
  detail: Schema.String
})

/** The report of a `land` run (or of a dry run, with `plan`). */
export const LandReport = Schema.Struct({
  runId: Schema.NullOr(Schema.String),
  repoPath: Schema.String,
  target: Schema.String,
  dryRun: Schema.Boolean,
  testCommand: Schema.NullOr(Schema.String),
  targetBefore: Schema.String,
  targetAfter: Schema.String,
  /** The entries this run queued or processed, in queue order. */
  entries: Schema.Array(LandEntryJson),
  plan: Schema.Array(PlannedCandidate),
  skipped: Schema.Array(Skipped),
  worktree: Schema.NullOr(WorktreeMove),
  tests: Schema.Struct({ runs: Schema.Int, totalMs: Schema.Number }),
  landed: Schema.Int,
  sentBack: Schema.Int,
  /** Entries still waiting (e.g. the target was dirty). */
  waiting: Schema.Int,
  durationMs: Schema.Number
})
export type LandReport = typeof LandReport.Type

/** Progress of a `land` run, in order. */
export const LandEvent = Schema.Union(
  Schema.TaggedStruct("Queued", {
    target: Schema.String,
    entries: Schema.Array(Schema.Struct({ entryId: Schema.String, name: Schema.String, position: Schema.Int }))
  }),
  Schema.TaggedStruct("Skipped", { name: Schema.String, reason: Schema.String }),
  Schema.TaggedStruct("Waiting", { target: Schema.String, holderPid: Schema.Int }),
  Schema.TaggedStruct("Recovered", { entryId: Schema.String, name: Schema.String, outcome: Schema.Literal("landed", "requeued") }),
  Schema.TaggedStruct("Integrated", {
    entryId: Schema.String,
    name: Schema.String,
    commit: Schema.String,
    resolutions: Schema.Array(Resolution)
  }),
  Schema.TaggedStruct("TestStarted", { entryIds: Schema.Array(Schema.String), commit: Schema.String, command: Schema.String }),
  Schema.TaggedStruct("TestFinished", {
    entryIds: Schema.Array(Schema.String),
    passed: Schema.Boolean,
    timedOut: Schema.Boolean,
    exitCode: Schema.NullOr(Schema.Int),
    durationMs: Schema.Number,
    logPath: Schema.String
  }),
  Schema.TaggedStruct("Landed", {
    entryIds: Schema.Array(Schema.String),
    target: Schema.String,
    from: Schema.String,
    to: Schema.String,
    worktree: Schema.NullOr(Schema.String)
  }),
  Schema.TaggedStruct("SentBack", {
    entryId: Schema.String,
    name: Schema.String,
    reason: SendBackReason,
    message: Schema.String
  }),
  Schema.TaggedStruct("TargetMoved", { target: Schema.String, expected: Schema.String, found: Schema.String }),
  Schema.TaggedStruct("Warning", { message: Schema.String }),
  Schema.TaggedStruct("Finished", { report: LandReport })
)
export type LandEvent = typeof LandEvent.Type

/** A `land` request failed before or while it ran; nothing was moved backwards and nothing was lost. */
export class LandError extends Schema.TaggedError<LandError>()("LandError", {
  reason: Schema.Literal(
    "UnknownCandidate",
    "NoCommits",
    "SameBranch",
    "TargetNotFound",
    "NotABranch",
    "DetachedHead",
    "RepositoryBusy",
    "TargetDirty",
    "TargetMoving",
    "BadTestCommand",
    "TestNotAllowed",
    "NoSessionBranch",
    "NothingToLand",
    "SetupFailed",
    "GitFailed"
  ),
  detail: Schema.String
}) {
  override get message(): string {
    const hint = {
      UnknownCandidate: "list sessions with `parallel-cc status`, runs with `parallel-cc sandbox list`, branches with `git branch`",
      NoCommits: "commit the work on that branch first; nothing was queued",
      SameBranch: "a branch cannot be landed into itself; pass --into with another branch",
      TargetNotFound: "pass --into with an existing local branch (git branch)",
      NotABranch: "the target must be a local branch (refs/heads/…); pass --into BRANCH",
      DetachedHead: "check out a branch in the repository or pass --into BRANCH",
      RepositoryBusy: "finish or abort it (git merge --abort / git rebase --abort), then run land again; nothing was moved",
      TargetDirty: "commit or stash those changes, then run land again; nothing was moved and the queue is kept",
      TargetMoving: "the target kept changing under the queue; run land again when it is quiet (nothing was forced)",
      BadTestCommand: "give the command as words (e.g. \"npm test\"); for shell syntax use \"sh -c '…'\" explicitly",
      TestNotAllowed: "only test commands listed in the config key land.agentTests may be requested; leave test out to use land.test",
      NoSessionBranch: "your session works in the repository itself; only a session on its own branch can ask to land",
      NothingToLand: "name sessions, branches or runs, or use --all",
      SetupFailed:
        "the test worktree is set up like a session's (.worktreeinclude, worktree.share, worktree.copy, worktree.setup); fix that (parallel-cc config), then run land again — nothing was moved and the queue is kept",
      GitFailed: "run the git command by hand to see what it says"
    }[this.reason]
    return `${this.detail} (${hint})`
  }
}

/** No queue entry has this id. */
export class LandEntryNotFound extends Schema.TaggedError<LandEntryNotFound>()("LandEntryNotFound", {
  entryId: Schema.String
}) {
  override get message(): string {
    return `no landing queue entry ${this.entryId}; list the queue with \`parallel-cc land --list\``
  }
}
