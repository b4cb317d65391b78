/**
 * The conflicts area of the Promise facade (`client.conflicts`): preview, detect, suggest, apply, history,
 * suggestions, rebase assist.
 *
 * @since 0.2.0
 */
import { Effect, Schema } from "effect"
import * as Conflicts from "../coordination/Conflicts.js"
import * as Domain from "../Domain.js"
import { Limit, opt, strict, Text } from "./input.js"
import type { CallOptions, Facade } from "./runtime.js"

export type Preview = Conflicts.Preview
export type DetectReport = Conflicts.DetectReport
export type Conflict = Conflicts.Conflict
export type Suggestion = Conflicts.Suggestion
export type ApplyResult = Conflicts.ApplyResult
export type RebaseReport = Conflicts.RebaseReport

const PreviewInput = strict({ repoPath: Text, ours: Text, theirs: Text })
const DetectInput = Schema.Union(
  strict({ repoPath: Text, ours: Text, theirs: Text, sessionId: opt(Domain.SessionId) }),
  strict({ worktreePath: Text, sessionId: opt(Domain.SessionId) })
)
const SuggestInput = strict({ conflictId: Text, worktreePath: opt(Text) })
const ApplyInput = strict({ suggestionId: Text, worktreePath: Text, sessionId: opt(Domain.SessionId) })
const HistoryInput = strict({
  repoPath: opt(Text),
  type: opt(Conflicts.ConflictType),
  resolved: opt(Schema.Boolean),
  path: opt(Text),
  limit: opt(Limit)
})
const SuggestionsInput = strict({
  repoPath: opt(Text),
  conflictId: opt(Text),
  minConfidence: opt(Schema.Number.pipe(Schema.between(0, 1))),
  applied: opt(Schema.Boolean),
  limit: opt(Limit)
})
const RebaseInput = strict({
  worktreePath: Text,
  onto: Text,
  mode: opt(Schema.Literal("check", "perform")),
  onConflict: opt(Schema.Literal("stop", "abort"))
})

/** Conflicts: preview, classify, suggest resolutions, apply one, rebase assist. */
export interface ConflictsApi {
  /**
   * Would merging `theirs` into `ours` (or rebasing `theirs` onto `ours`) conflict, and in which files?
   * Reads git objects only: no work tree is touched.
   */
  readonly preview: (
    input: { readonly repoPath: string; readonly ours: string; readonly theirs: string },
    options?: CallOptions
  ) => Promise<Preview>
  /** Classify each conflicted file (between two refs, or of a merge/rebase stopped in a worktree) and record it. */
  readonly detect: (
    input:
      | { readonly repoPath: string; readonly ours: string; readonly theirs: string; readonly sessionId?: string }
      | { readonly worktreePath: string; readonly sessionId?: string },
    options?: CallOptions
  ) => Promise<DetectReport>
  /** Proposed resolutions of a recorded conflict, each a whole file with a diff and a confidence. */
  readonly suggest: (
    input: { readonly conflictId: string; readonly worktreePath?: string },
    options?: CallOptions
  ) => Promise<ReadonlyArray<Suggestion>>
  /** Write a suggestion's file into a worktree (refused when the file changed since the suggestion was made). */
  readonly apply: (
    input: { readonly suggestionId: string; readonly worktreePath: string; readonly sessionId?: string },
    options?: CallOptions
  ) => Promise<ApplyResult>
  /** Recorded conflicts, newest first. */
  readonly history: (
    input?: {
      readonly repoPath?: string
      readonly type?: Conflicts.ConflictType
      readonly resolved?: boolean
      readonly path?: string
      readonly limit?: number
    },
    options?: CallOptions
  ) => Promise<ReadonlyArray<Conflict>>
  /** Recorded suggestions. */
  readonly suggestions: (
    input?: {
      readonly repoPath?: string
      readonly conflictId?: string
      readonly minConfidence?: number
      readonly applied?: boolean
      readonly limit?: number
    },
    options?: CallOptions
  ) => Promise<ReadonlyArray<Suggestion>>
  /** Check whether rebasing a worktree's branch onto `onto` conflicts (`mode: "check"`, default), or do it. */
  readonly rebaseAssist: (
    input: {
      readonly worktreePath: string
      readonly onto: string
      readonly mode?: "check" | "perform"
      readonly onConflict?: "stop" | "abort"
    },
    options?: CallOptions
  ) => Promise<RebaseReport>
}

export const makeConflicts = (f: Facade): ConflictsApi => {
  const { method, abs } = f
  return {
    preview: method("conflicts.preview", PreviewInput, (input) =>
      Effect.flatMap(Conflicts.Conflicts, (c) => c.preview({ repo: abs(input.repoPath), ours: input.ours, theirs: input.theirs }))),
    detect: method("conflicts.detect", DetectInput, (input) =>
      Effect.flatMap(Conflicts.Conflicts, (c) =>
        "worktreePath" in input
          ? c.detect({ worktree: abs(input.worktreePath), sessionId: input.sessionId })
          : c.detect({ repo: abs(input.repoPath), ours: input.ours, theirs: input.theirs, sessionId: input.sessionId }))),
    suggest: method("conflicts.suggest", SuggestInput, (input) =>
      Effect.flatMap(Conflicts.Conflicts, (c) =>
        c.suggest({
          conflictId: input.conflictId,
          worktree: input.worktreePath !== undefined ? abs(input.worktreePath) : undefined
        }))),
    apply: method("conflicts.apply", ApplyInput, (input) =>
      Effect.flatMap(Conflicts.Conflicts, (c) =>
        c.apply({ suggestionId: input.suggestionId, worktree: abs(input.worktreePath), sessionId: input.sessionId }))),
    history: method("conflicts.history", HistoryInput, (input) =>
      Effect.flatMap(Conflicts.Conflicts, (c) =>
        c.history({
          repo: input.repoPath !== undefined ? abs(input.repoPath) : undefined,
          type: input.type,
          resolved: input.resolved,
          path: input.path,
          limit: input.limit
        }))),
    suggestions: method("conflicts.suggestions", SuggestionsInput, (input) =>
      Effect.flatMap(Conflicts.Conflicts, (c) =>
        c.suggestions({
          repo: input.repoPath !== undefined ? abs(input.repoPath) : undefined,
          conflictId: input.conflictId,
          minConfidence: input.minConfidence,
          applied: input.applied,
          limit: input.limit
        }))),
    rebaseAssist: method("conflicts.rebaseAssist", RebaseInput, (input) =>
      Effect.flatMap(Conflicts.Conflicts, (c) =>
        c.rebaseAssist({
          worktree: abs(input.worktreePath),
          onto: input.onto,
          mode: input.mode ?? "check",
          onConflict: input.onConflict
        })))
  }
}
