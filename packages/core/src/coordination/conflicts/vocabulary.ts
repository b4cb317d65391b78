/**
 * The words of conflict analysis, defined once as Schemas (the TypeScript types derive from them): what
 * git reports for a path, the class and severity we give a conflict, and the resolution strategies. The
 * store, the service, the pure algorithms, the facade and the MCP server all use these.
 */
import { Schema } from "effect"

export const ConflictType = Schema.Literal("TRIVIAL", "CONCURRENT_EDIT", "STRUCTURAL", "SEMANTIC")
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
  "keep-file",
  "delete-file",
  /** Nothing to propose: resolve by hand (the description says why). */
  "manual"
)
export type Strategy = typeof Strategy.Type
