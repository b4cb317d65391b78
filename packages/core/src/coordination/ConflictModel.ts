/**
 * The shapes of the conflict engine (one definition each; the MCP tools and the CLI derive theirs from
 * these): previews, classified conflicts with their hunks, suggestions with their per-hunk choices, the
 * resolutions the landing queue consumes, and the errors.
 *
 * @since 0.2.0
 */
import { Schema } from "effect"
import { hunkStrategies } from "./conflicts/hunks.js"
import { ConflictType, GitKind, Severity, Strategy } from "./conflicts/vocabulary.js"
import type { DbFailure } from "../platform/Database.js"
import type { GitError } from "../platform/Git.js"

// ---------------------------------------------------------------------------------------------------
// Domain

export { ConflictType, GitKind, Severity, Strategy } from "./conflicts/vocabulary.js"

/** A ref as given and the commit it resolved to. */
export const RefInfo = Schema.Struct({ ref: Schema.String, commit: Schema.String })
export type RefInfo = typeof RefInfo.Type

const Stage = Schema.NullOr(Schema.Struct({ mode: Schema.String, oid: Schema.String }))

/** One conflicted path of a preview. */
export const PreviewFile = Schema.Struct({
  path: Schema.String,
  kind: GitKind,
  /** Other paths git mentions with this one (the old name of a rename). */
  otherPaths: Schema.Array(Schema.String),
  stages: Schema.Struct({ base: Stage, ours: Stage, theirs: Stage }),
  messages: Schema.Array(Schema.String),
  guidance: Schema.String
})
export type PreviewFile = typeof PreviewFile.Type

/** Whether merging `theirs` into `ours` (or rebasing `theirs` onto `ours`) conflicts, and where. */
export const Preview = Schema.Struct({
  repo: Schema.String,
  ours: RefInfo,
  theirs: RefInfo,
  mergeBase: Schema.String,
  clean: Schema.Boolean,
  /** The merged tree git computed (with conflict markers in conflicted files). */
  tree: Schema.String,
  files: Schema.Array(PreviewFile),
  guidance: Schema.String
})
export type Preview = typeof Preview.Type

export const SymbolChange = Schema.Struct({ symbol: Schema.String, ours: Schema.String, theirs: Schema.String })

/** How one hunk can be resolved (the list is the resolver's, in conflicts/hunks.ts). */
export const HunkStrategy = Schema.Literal(...hunkStrategies)
export type HunkStrategy = typeof HunkStrategy.Type

const Side = Schema.NullOr(Schema.Literal("ours", "theirs"))
/** 1-based first line and line count. */
const Span = Schema.Struct({ start: Schema.Number, lines: Schema.Number })

/** One way to resolve a hunk. */
export const HunkOption = Schema.Struct({
  strategy: HunkStrategy,
  /** Every strategy that gives the same text. */
  strategies: Schema.Array(HunkStrategy),
  /** Calibrated: the share of such choices that were exact on real merges. */
  confidence: Schema.Number,
  autoApply: Schema.Boolean,
  /** The side whose change this option throws away (null: it keeps both, or one already holds the other's). */
  drops: Side,
  text: Schema.String
})
export type HunkOption = typeof HunkOption.Type

/** A conflicting hunk with what it takes to resolve it by hand. */
export const HunkDetail = Schema.Struct({
  index: Schema.Number,
  /** Where the hunk is in each version. */
  at: Schema.Struct({ base: Span, ours: Span, theirs: Span }),
  kind: Schema.Literal("formatting", "insertions", "deletion", "edit"),
  base: Schema.String,
  ours: Schema.String,
  theirs: Schema.String,
  /** Declarations the hunk touches. */
  symbols: Schema.Array(Schema.String),
  /** Subjects of each side's commits (since the merge base) that changed these lines, newest first. */
  commits: Schema.Struct({ ours: Schema.Array(Schema.String), theirs: Schema.Array(Schema.String) }),
  options: Schema.Array(HunkOption)
})
export type HunkDetail = typeof HunkDetail.Type

/** The choice a suggestion made for one hunk. */
export const HunkChoice = Schema.Struct({
  index: Schema.Number,
  /** "unresolved": left as diff3 conflict markers for a person. */
  strategy: Schema.Union(HunkStrategy, Schema.Literal("unresolved")),
  confidence: Schema.Number,
  autoApply: Schema.Boolean,
  drops: Side
})
export type HunkChoice = typeof HunkChoice.Type

/** A classified conflict in one file, as recorded. */
export const Conflict = Schema.Struct({
  id: Schema.String,
  repo: Schema.String,
  path: Schema.String,
  ours: RefInfo,
  theirs: RefInfo,
  mergeBase: Schema.NullOr(Schema.String),
  source: Schema.Literal("refs", "worktree"),
  gitKind: GitKind,
  type: ConflictType,
  severity: Severity,
  language: Schema.String,
  analyzer: Schema.String,
  summary: Schema.String,
  reasons: Schema.Array(Schema.String),
  symbols: Schema.Array(SymbolChange),
  regions: Schema.Number,
  guidance: Schema.String,
  /** The conflicting hunks, with each side's text, the symbols and commits involved, and the ways to resolve each. */
  hunks: Schema.Array(HunkDetail),
  /** For a conflict left by a merge or rebase in a worktree: that worktree. */
  worktree: Schema.NullOr(Schema.String),
  sessionId: Schema.NullOr(Schema.String),
  detectedAt: Schema.String,
  resolvedAt: Schema.NullOr(Schema.String),
  resolution: Schema.NullOr(Schema.String)
})
export type Conflict = typeof Conflict.Type

export const DetectReport = Schema.Struct({
  repo: Schema.String,
  ours: RefInfo,
  theirs: RefInfo,
  mergeBase: Schema.NullOr(Schema.String),
  source: Schema.Literal("refs", "worktree"),
  clean: Schema.Boolean,
  conflicts: Schema.Array(Conflict)
})
export type DetectReport = typeof DetectReport.Type

/** A proposed resolution: the whole resolved file, and its diff against the file as it was. */
export const Suggestion = Schema.Struct({
  id: Schema.String,
  conflictId: Schema.String,
  path: Schema.String,
  strategy: Strategy,
  confidence: Schema.Number,
  description: Schema.String,
  /** Whether the resolved file parses (scripts, JSON); null when not checked. */
  parses: Schema.NullOr(Schema.Boolean),
  /** Safe to apply without review: this kind of resolution was ≥ 95 % exact on real merges. */
  autoApply: Schema.Boolean,
  /** Every hunk resolved (false: the hunks listed as "unresolved" hold diff3 conflict markers). */
  complete: Schema.Boolean,
  hunks: Schema.Array(HunkChoice),
  deletesFile: Schema.Boolean,
  encoding: Schema.Literal("utf8", "base64"),
  resolvedContent: Schema.NullOr(Schema.String),
  diff: Schema.String,
  /** sha256 of the file the diff is against ("absent" when it did not exist). */
  currentHash: Schema.String,
  worktree: Schema.NullOr(Schema.String),
  createdAt: Schema.String,
  appliedAt: Schema.NullOr(Schema.String),
  appliedWorktree: Schema.NullOr(Schema.String)
})
export type Suggestion = typeof Suggestion.Type

export const ApplyResult = Schema.Struct({
  suggestion: Suggestion,
  file: Schema.String,
  action: Schema.Literal("written", "deleted"),
  nextSteps: Schema.Array(Schema.String)
})
export type ApplyResult = typeof ApplyResult.Type

export const RebaseReport = Schema.Struct({
  worktree: Schema.String,
  branch: Schema.NullOr(Schema.String),
  onto: RefInfo,
  head: Schema.String,
  mode: Schema.Literal("check", "perform"),
  status: Schema.Literal("up-to-date", "clean", "conflicts", "rebased", "stopped", "aborted"),
  /** Commits of the branch that a rebase replays, oldest first. */
  commits: Schema.Array(Schema.Struct({ commit: Schema.String, subject: Schema.String })),
  behind: Schema.Number,
  conflicts: Schema.Array(PreviewFile),
  newHead: Schema.NullOr(Schema.String),
  stoppedAt: Schema.NullOr(Schema.String),
  message: Schema.String,
  nextSteps: Schema.Array(Schema.String)
})
export type RebaseReport = typeof RebaseReport.Type

/** The top resolution of one conflicted file of a merge, as the landing queue consumes it. */
export const FileResolution = Schema.Struct({
  path: Schema.String,
  gitKind: GitKind,
  type: ConflictType,
  reasons: Schema.Array(Schema.String),
  strategy: Strategy,
  confidence: Schema.Number,
  /** Safe to apply without a person: only for kinds of resolution measured ≥ 95 % exact on real merges. */
  autoApply: Schema.Boolean,
  /** Every conflicting hunk is resolved (false: unresolved hunks are left as diff3 conflict markers). */
  complete: Schema.Boolean,
  parses: Schema.NullOr(Schema.Boolean),
  deletesFile: Schema.Boolean,
  encoding: Schema.Literal("utf8", "base64"),
  /** The whole resolved file (null when the resolution deletes it). */
  resolvedContent: Schema.NullOr(Schema.String),
  description: Schema.String,
  /** The choice made for each hunk. */
  hunks: Schema.Array(HunkChoice)
})
export type FileResolution = typeof FileResolution.Type

/** Resolutions of every file that conflicts when merging `theirs` into `ours`. Nothing is recorded or written. */
export const MergeResolution = Schema.Struct({
  repo: Schema.String,
  ours: RefInfo,
  theirs: RefInfo,
  mergeBase: Schema.String,
  /** git merges the two cleanly: no file needs resolving. */
  clean: Schema.Boolean,
  /** Every conflicted file has a resolution with `autoApply: true` (false when clean is false and any file lacks one). */
  autoApply: Schema.Boolean,
  files: Schema.Array(FileResolution)
})
export type MergeResolution = typeof MergeResolution.Type

// ---------------------------------------------------------------------------------------------------
// Errors

export class ConflictError extends Schema.TaggedError<ConflictError>()("ConflictError", {
  reason: Schema.Literal(
    "UnknownRef",
    "UnrelatedHistories",
    "NotSameRepo",
    "FileChanged",
    "AlreadyApplied",
    "NotOpen",
    "NoMergeInProgress",
    "DirtyWorktree",
    "RebaseInProgress",
    "UnsafePath",
    "GitFailed"
  ),
  detail: Schema.String
}) {
  override get message(): string {
    const hint = {
      UnknownRef: "check the branch or commit name (git branch -a)",
      UnrelatedHistories: "the two branches share no commit; they cannot be merged or rebased onto each other",
      NotSameRepo: "pass a worktree of the repository the conflict was found in",
      FileChanged: "ask for new suggestions against the file as it is now (`parallel-cc suggestions --conflict <conflict id> --worktree <worktree>`, or get_auto_fix_suggestions) and apply one of those",
      AlreadyApplied: "this suggestion was applied already; see `parallel-cc suggestions --applied`",
      NotOpen: "the conflict is no longer open (resolved, superseded by newer commits, or its worktree is gone); check again with `parallel-cc conflicts check`",
      NoMergeInProgress: "start the merge or rebase first, or compare two branches instead",
      DirtyWorktree: "commit or stash the changes first",
      RebaseInProgress: "finish it with `git rebase --continue` or undo it with `git rebase --abort`",
      UnsafePath: "the file must be inside the worktree",
      GitFailed: "run the git command by hand to see what it says"
    }[this.reason]
    return `${this.detail} (${hint})`
  }
}

/** No conflict or suggestion with this id. */
export class ConflictNotFound extends Schema.TaggedError<ConflictNotFound>()("ConflictNotFound", {
  what: Schema.Literal("conflict", "suggestion"),
  id: Schema.String
}) {
  override get message(): string {
    return `no ${this.what} with id ${this.id}; list them with \`parallel-cc ${this.what === "conflict" ? "conflicts" : "suggestions"}\``
  }
}

export type ConflictFailure = ConflictError | ConflictNotFound | GitError | DbFailure

// ---------------------------------------------------------------------------------------------------
// Requests

export interface PreviewRequest {
  /** Any directory inside the repository (or one of its worktrees). */
  readonly repo: string
  /** The branch merged into (or rebased onto): git's "ours". */
  readonly ours: string
  /** The branch being merged (or rebased): git's "theirs". */
  readonly theirs: string
}

export type DetectRequest =
  | (PreviewRequest & { readonly sessionId?: string | undefined })
  | { readonly worktree: string; readonly sessionId?: string | undefined }

export interface HistoryFilter {
  readonly repo?: string | undefined
  readonly type?: ConflictType | undefined
  readonly resolved?: boolean | undefined
  readonly path?: string | undefined
  readonly limit?: number | undefined
}

export interface SuggestionFilter {
  readonly repo?: string | undefined
  readonly conflictId?: string | undefined
  readonly minConfidence?: number | undefined
  readonly applied?: boolean | undefined
  readonly limit?: number | undefined
}

export interface RebaseRequest {
  readonly worktree: string
  readonly onto: string
  readonly mode: "check" | "perform"
  /** After a conflicting `perform`: leave the rebase stopped for resolution (default) or abort it. */
  readonly onConflict?: "stop" | "abort" | undefined
}

