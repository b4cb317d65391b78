/**
 * The words of conflict analysis, defined once as Schemas (the TypeScript types derive from them): what
 * git reports for a path, the class and severity we give a conflict, and the resolution strategies. The
 * store, the service, the pure algorithms, the facade and the MCP server all use these.
 */
import { Schema } from "effect"

/**
 * TRIVIAL: formatting only; ADDITIVE: both sides only inserted lines (independent insertions);
 * CONCURRENT_EDIT: both changed the same lines; STRUCTURAL: code moved, renamed or deleted against an edit;
 * SEMANTIC: a symbol changed incompatibly.
 */
export const ConflictType = Schema.Literal("TRIVIAL", "ADDITIVE", "CONCURRENT_EDIT", "STRUCTURAL", "SEMANTIC")
export type ConflictType = typeof ConflictType.Type

export const Severity = Schema.Literal("LOW", "MEDIUM", "HIGH")
export type Severity = typeof Severity.Type

/** What kind of conflict git reported for a path, from its stages and messages. */
export const GitKind = Schema.Literal(
  "content",
  "binary",
  "add/add",
  "modify/delete",
  "rename/delete",
  "rename/rename",
  "file/directory",
  "mode",
  "submodule",
  "other",
  /** git merges the file cleanly, but the merge breaks it (found by our analysis, not by git). */
  "clean"
)
export type GitKind = typeof GitKind.Type

export const Strategy = Schema.Literal(
  "take-ours",
  "take-theirs",
  "keep-both",
  "reapply",
  "symbol-merge",
  "json-merge",
  /** Each hunk resolved on its own, with different strategies (see the suggestion's hunks). */
  "hunk-merge",
  "keep-file",
  "delete-file",
  /** Nothing to propose: resolve by hand (the description says why). */
  "manual"
)
export type Strategy = typeof Strategy.Type
