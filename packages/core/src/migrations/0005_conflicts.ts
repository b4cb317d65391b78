import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

/**
 * Conflicts found between two commits (one row per file, re-detection updates it) and the resolutions
 * proposed for them; applying a suggestion records where, when and by whom.
 */
export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE conflicts (
      id TEXT PRIMARY KEY NOT NULL,
      repo_path TEXT NOT NULL,
      path TEXT NOT NULL,
      ours_ref TEXT NOT NULL,
      ours_commit TEXT NOT NULL,
      theirs_ref TEXT NOT NULL,
      theirs_commit TEXT NOT NULL,
      merge_base TEXT,
      source TEXT NOT NULL CHECK (source IN ('refs', 'worktree')),
      git_kind TEXT NOT NULL,
      conflict_type TEXT NOT NULL CHECK (conflict_type IN ('TRIVIAL', 'CONCURRENT_EDIT', 'STRUCTURAL', 'SEMANTIC')),
      severity TEXT NOT NULL CHECK (severity IN ('LOW', 'MEDIUM', 'HIGH')),
      language TEXT NOT NULL,
      analyzer TEXT NOT NULL,
      summary TEXT NOT NULL,
      details TEXT NOT NULL,
      base_oid TEXT,
      ours_oid TEXT,
      theirs_oid TEXT,
      session_id TEXT,
      detected_at INTEGER NOT NULL,
      resolved_at INTEGER,
      resolution TEXT,
      UNIQUE (repo_path, ours_commit, theirs_commit, path)
    )`
  yield* sql`CREATE INDEX conflicts_repo_detected ON conflicts (repo_path, detected_at)`
  yield* sql`CREATE INDEX conflicts_type ON conflicts (conflict_type)`
  yield* sql`
    CREATE TABLE conflict_suggestions (
      id TEXT PRIMARY KEY NOT NULL,
      conflict_id TEXT NOT NULL REFERENCES conflicts (id) ON DELETE CASCADE,
      strategy TEXT NOT NULL,
      confidence REAL NOT NULL CHECK (confidence >= 0 AND confidence <= 1),
      description TEXT NOT NULL,
      content BLOB,
      is_binary INTEGER NOT NULL CHECK (is_binary IN (0, 1)),
      parses INTEGER,
      diff TEXT NOT NULL,
      worktree_path TEXT,
      current_hash TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      applied_at INTEGER,
      applied_worktree TEXT,
      applied_by TEXT
    )`
  yield* sql`CREATE INDEX conflict_suggestions_conflict ON conflict_suggestions (conflict_id)`
})
