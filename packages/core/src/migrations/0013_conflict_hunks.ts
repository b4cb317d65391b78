import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

/**
 * Conflicts on real merges: the ADDITIVE class, the worktree a merge/rebase conflict was found in, and
 * per suggestion whether it may be applied unattended, whether it resolves every hunk, and its
 * per-hunk choices. SQLite cannot change a CHECK constraint in place, so both tables are rebuilt:
 * suggestions are set aside first (dropping `conflicts` while they reference it would cascade), then
 * `conflicts` is rebuilt, then the suggestions come back with the new columns.
 */
export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE conflict_suggestions_old AS SELECT * FROM conflict_suggestions`
  yield* sql`DROP TABLE conflict_suggestions`
  yield* sql`
    CREATE TABLE conflicts_new (
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
      conflict_type TEXT NOT NULL CHECK (conflict_type IN ('TRIVIAL', 'ADDITIVE', 'CONCURRENT_EDIT', 'STRUCTURAL', 'SEMANTIC')),
      severity TEXT NOT NULL CHECK (severity IN ('LOW', 'MEDIUM', 'HIGH')),
      language TEXT NOT NULL,
      analyzer TEXT NOT NULL,
      summary TEXT NOT NULL,
      details TEXT NOT NULL,
      base_oid TEXT,
      ours_oid TEXT,
      theirs_oid TEXT,
      worktree_path TEXT,
      session_id TEXT,
      detected_at INTEGER NOT NULL,
      resolved_at INTEGER,
      resolution TEXT,
      UNIQUE (repo_path, ours_commit, theirs_commit, path)
    )`
  yield* sql`
    INSERT INTO conflicts_new (id, repo_path, path, ours_ref, ours_commit, theirs_ref, theirs_commit, merge_base, source,
      git_kind, conflict_type, severity, language, analyzer, summary, details, base_oid, ours_oid, theirs_oid,
      worktree_path, session_id, detected_at, resolved_at, resolution)
    SELECT id, repo_path, path, ours_ref, ours_commit, theirs_ref, theirs_commit, merge_base, source,
      git_kind, conflict_type, severity, language, analyzer, summary, details, base_oid, ours_oid, theirs_oid,
      NULL, session_id, detected_at, resolved_at, resolution
    FROM conflicts`
  yield* sql`DROP TABLE conflicts`
  yield* sql`ALTER TABLE conflicts_new RENAME TO conflicts`
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
      auto_apply INTEGER NOT NULL DEFAULT 0 CHECK (auto_apply IN (0, 1)),
      complete INTEGER NOT NULL DEFAULT 1 CHECK (complete IN (0, 1)),
      hunks TEXT NOT NULL DEFAULT '[]',
      diff TEXT NOT NULL,
      worktree_path TEXT,
      current_hash TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      applied_at INTEGER,
      applied_worktree TEXT,
      applied_by TEXT
    )`
  yield* sql`
    INSERT INTO conflict_suggestions (id, conflict_id, strategy, confidence, description, content, is_binary, parses,
      diff, worktree_path, current_hash, created_at, applied_at, applied_worktree, applied_by)
    SELECT id, conflict_id, strategy, confidence, description, content, is_binary, parses,
      diff, worktree_path, current_hash, created_at, applied_at, applied_worktree, applied_by
    FROM conflict_suggestions_old`
  yield* sql`DROP TABLE conflict_suggestions_old`
  yield* sql`CREATE INDEX conflict_suggestions_conflict ON conflict_suggestions (conflict_id)`
})
