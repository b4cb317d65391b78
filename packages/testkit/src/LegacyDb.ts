/**
 * A database as the ORIGINAL parallel-cc left it in `~/.parallel-cc/coordinator.db`, for the import tests.
 * The DDL below is written from that tool's documented tables (its docs/REFERENCE.md "Database Schema" and
 * its published migrations v0.5.0, v1.0.0 and v1.1.0): the schema of its last version (1.1.0), or of its
 * 0.4 line (sessions and merge tracking only, no schema_metadata).
 */
import Sqlite from "better-sqlite3"

/** Tables of the 0.4 line: created by the tool's start-up code, before any versioned migration. */
export const ddl04 = `
CREATE TABLE sessions (
  id TEXT PRIMARY KEY,
  pid INTEGER NOT NULL,
  repo_path TEXT NOT NULL,
  worktree_path TEXT NOT NULL,
  worktree_name TEXT,
  is_main_repo INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL DEFAULT (datetime('now')),
  last_heartbeat TEXT NOT NULL DEFAULT (datetime('now'))
);
CREATE INDEX idx_sessions_repo ON sessions(repo_path);
CREATE INDEX idx_sessions_pid ON sessions(pid);
CREATE INDEX idx_sessions_heartbeat ON sessions(last_heartbeat);

CREATE TABLE merge_events (
  id TEXT PRIMARY KEY,
  repo_path TEXT NOT NULL,
  branch_name TEXT NOT NULL,
  source_commit TEXT NOT NULL,
  target_branch TEXT NOT NULL DEFAULT 'main',
  target_commit TEXT NOT NULL,
  merged_at TEXT NOT NULL DEFAULT (datetime('now')),
  detected_at TEXT NOT NULL DEFAULT (datetime('now')),
  notification_sent INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX idx_merge_events_repo ON merge_events(repo_path);
CREATE INDEX idx_merge_events_branch ON merge_events(branch_name);

CREATE TABLE subscriptions (
  id TEXT PRIMARY KEY,
  session_id TEXT NOT NULL,
  repo_path TEXT NOT NULL,
  branch_name TEXT NOT NULL,
  target_branch TEXT NOT NULL DEFAULT 'main',
  created_at TEXT NOT NULL DEFAULT (datetime('now')),
  notified_at TEXT,
  is_active INTEGER NOT NULL DEFAULT 1,
  FOREIGN KEY (session_id) REFERENCES sessions(id) ON DELETE CASCADE
);
CREATE INDEX idx_subscriptions_session ON subscriptions(session_id);
CREATE INDEX idx_subscriptions_active ON subscriptions(is_active);
`

/** The 1.1.0 schema: sessions with the sandbox, git identity, cost and template columns, plus the 0.5 tables. */
export const ddl11 = `
CREATE TABLE sessions (
  id TEXT PRIMARY KEY,
  pid INTEGER NOT NULL,
  repo_path TEXT NOT NULL,
  worktree_path TEXT NOT NULL,
  worktree_name TEXT,
  is_main_repo INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL DEFAULT (datetime('now')),
  last_heartbeat TEXT NOT NULL DEFAULT (datetime('now')),
  execution_mode TEXT DEFAULT 'local' CHECK (execution_mode IN ('local', 'e2b')),
  sandbox_id TEXT,
  prompt TEXT,
  status TEXT CHECK (status IS NULL OR status IN ('INITIALIZING', 'RUNNING', 'COMPLETED', 'FAILED', 'TIMEOUT')),
  output_log TEXT,
  git_user TEXT,
  git_email TEXT,
  ssh_key_provided INTEGER DEFAULT 0,
  budget_limit REAL,
  cost_estimate REAL,
  actual_cost REAL,
  template_name TEXT
);
CREATE INDEX idx_sessions_repo ON sessions(repo_path);
CREATE INDEX idx_sessions_pid ON sessions(pid);
CREATE INDEX idx_sessions_heartbeat ON sessions(last_heartbeat);

CREATE TABLE merge_events (
  id TEXT PRIMARY KEY,
  repo_path TEXT NOT NULL,
  branch_name TEXT NOT NULL,
  source_commit TEXT NOT NULL,
  target_branch TEXT NOT NULL DEFAULT 'main',
  target_commit TEXT NOT NULL,
  merged_at TEXT NOT NULL DEFAULT (datetime('now')),
  detected_at TEXT NOT NULL DEFAULT (datetime('now')),
  notification_sent INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE subscriptions (
  id TEXT PRIMARY KEY,
  session_id TEXT NOT NULL,
  repo_path TEXT NOT NULL,
  branch_name TEXT NOT NULL,
  target_branch TEXT NOT NULL DEFAULT 'main',
  created_at TEXT NOT NULL DEFAULT (datetime('now')),
  notified_at TEXT,
  is_active INTEGER NOT NULL DEFAULT 1,
  FOREIGN KEY (session_id) REFERENCES sessions(id) ON DELETE CASCADE
);

CREATE TABLE schema_metadata (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  updated_at TEXT NOT NULL DEFAULT (datetime('now'))
);
INSERT INTO schema_metadata (key, value) VALUES ('version', '1.1.0');

CREATE TABLE file_claims (
  id TEXT PRIMARY KEY,
  session_id TEXT NOT NULL,
  repo_path TEXT NOT NULL,
  file_path TEXT NOT NULL,
  claim_mode TEXT NOT NULL CHECK (claim_mode IN ('EXCLUSIVE', 'SHARED', 'INTENT')),
  claimed_at TEXT NOT NULL DEFAULT (datetime('now')),
  expires_at TEXT NOT NULL,
  last_heartbeat TEXT NOT NULL DEFAULT (datetime('now')),
  escalated_from TEXT CHECK (escalated_from IS NULL OR escalated_from IN ('EXCLUSIVE', 'SHARED', 'INTENT')),
  metadata TEXT,
  is_active INTEGER NOT NULL DEFAULT 1,
  released_at TEXT,
  deleted_at TEXT,
  deleted_reason TEXT,
  FOREIGN KEY (session_id) REFERENCES sessions(id) ON DELETE CASCADE
);

CREATE TABLE conflict_resolutions (
  id TEXT PRIMARY KEY,
  session_id TEXT,
  repo_path TEXT NOT NULL,
  file_path TEXT NOT NULL,
  conflict_type TEXT NOT NULL,
  base_commit TEXT NOT NULL,
  source_commit TEXT NOT NULL,
  target_commit TEXT NOT NULL,
  resolution_strategy TEXT NOT NULL,
  confidence_score REAL,
  conflict_markers TEXT NOT NULL,
  resolved_content TEXT,
  detected_at TEXT NOT NULL DEFAULT (datetime('now')),
  resolved_at TEXT,
  auto_fix_suggestion_id TEXT,
  metadata TEXT,
  deleted_at TEXT,
  deleted_reason TEXT
);

CREATE TABLE auto_fix_suggestions (
  id TEXT PRIMARY KEY,
  conflict_resolution_id TEXT,
  repo_path TEXT NOT NULL,
  file_path TEXT NOT NULL,
  conflict_type TEXT NOT NULL,
  suggested_resolution TEXT NOT NULL,
  confidence_score REAL NOT NULL,
  explanation TEXT NOT NULL,
  strategy_used TEXT NOT NULL,
  base_content TEXT NOT NULL,
  source_content TEXT NOT NULL,
  target_content TEXT NOT NULL,
  generated_at TEXT NOT NULL DEFAULT (datetime('now')),
  applied_at TEXT,
  was_auto_applied INTEGER NOT NULL DEFAULT 0,
  metadata TEXT,
  deleted_at TEXT,
  deleted_reason TEXT
);

CREATE TABLE budget_tracking (
  id TEXT PRIMARY KEY,
  period TEXT NOT NULL CHECK (period IN ('daily', 'weekly', 'monthly')),
  period_start TEXT NOT NULL,
  budget_limit REAL,
  spent REAL DEFAULT 0,
  created_at TEXT DEFAULT (datetime('now'))
);

CREATE VIEW active_claims AS
  SELECT c.*, s.pid, s.worktree_name FROM file_claims c JOIN sessions s ON c.session_id = s.id
  WHERE c.is_active = 1 AND c.deleted_at IS NULL;
`

export interface Contents {
  readonly sessions?: ReadonlyArray<Record<string, unknown>>
  readonly fileClaims?: ReadonlyArray<Record<string, unknown>>
  readonly mergeEvents?: ReadonlyArray<Record<string, unknown>>
  readonly subscriptions?: ReadonlyArray<Record<string, unknown>>
}

const insert = (db: Sqlite.Database, table: string, rows: ReadonlyArray<Record<string, unknown>> = []) => {
  for (const row of rows) {
    const cols = Object.keys(row)
    db.prepare(`INSERT INTO ${table} (${cols.join(", ")}) VALUES (${cols.map(() => "?").join(", ")})`).run(
      ...cols.map((c) => row[c])
    )
  }
}

/** Create `file` with the original tool's schema (WAL mode, as that tool opened it) and the given rows. */
export const create = (file: string, contents: Contents = {}, schema: "1.1.0" | "0.4" = "1.1.0"): void => {
  const db = new Sqlite(file)
  try {
    db.pragma("journal_mode = WAL")
    db.exec(schema === "1.1.0" ? ddl11 : ddl04)
    insert(db, "sessions", contents.sessions)
    if (schema === "1.1.0") insert(db, "file_claims", contents.fileClaims)
    insert(db, "merge_events", contents.mergeEvents)
    insert(db, "subscriptions", contents.subscriptions)
  } finally {
    db.close()
  }
}

/** SQLite's `datetime('now')` text for a moment (UTC, no zone), as the original tool stored times. */
export const sqliteTime = (ms: number): string => new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, "")
