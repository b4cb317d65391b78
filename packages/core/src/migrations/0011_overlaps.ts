import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

/**
 * Live overlap detection (issue 16). `session_scans`: the latest look at each session's work — its HEAD, the
 * base its changes are counted from, and a snapshot commit of its worktree (tracked, staged, unstaged and
 * untracked-not-ignored files, written through a temporary index) that any process can merge against.
 * `session_changes`: the files that differ between the base and the snapshot, with the symbols and line
 * ranges changed. `overlaps`: a file changed by two live sessions of one repository, with the symbols both
 * changed, whether `git merge-tree` conflicts on it, and when it was first and last seen; an overlap that
 * went away is ended (one open row per pair and file, enforced by a partial unique index).
 */
export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE session_scans (
      session_id TEXT PRIMARY KEY NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
      repo_path TEXT NOT NULL,
      head TEXT,
      base TEXT,
      snapshot TEXT,
      tree TEXT,
      scanned_at INTEGER NOT NULL
    )`
  yield* sql`
    CREATE TABLE session_changes (
      session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
      repo_path TEXT NOT NULL,
      file_path TEXT NOT NULL,
      status TEXT NOT NULL CHECK (status IN ('added', 'modified', 'deleted')),
      committed INTEGER NOT NULL,
      uncommitted INTEGER NOT NULL,
      symbols TEXT NOT NULL,
      ranges TEXT NOT NULL,
      first_seen INTEGER NOT NULL,
      updated_at INTEGER NOT NULL,
      PRIMARY KEY (session_id, file_path)
    )`
  yield* sql`CREATE INDEX session_changes_repo_file ON session_changes (repo_path, file_path)`
  yield* sql`
    CREATE TABLE overlaps (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      repo_path TEXT NOT NULL,
      session_a TEXT NOT NULL,
      session_b TEXT NOT NULL,
      file_path TEXT NOT NULL,
      level TEXT NOT NULL CHECK (level IN ('file', 'hunk', 'symbol')),
      symbols TEXT NOT NULL,
      conflict INTEGER,
      first_seen INTEGER NOT NULL,
      last_seen INTEGER NOT NULL,
      ended_at INTEGER,
      CHECK (session_a < session_b)
    )`
  yield* sql`CREATE UNIQUE INDEX overlaps_open ON overlaps (session_a, session_b, file_path) WHERE ended_at IS NULL`
  yield* sql`CREATE INDEX overlaps_repo ON overlaps (repo_path) WHERE ended_at IS NULL`
})
