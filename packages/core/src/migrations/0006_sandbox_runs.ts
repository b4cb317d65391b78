import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

/**
 * Sandbox runs: one row per `sandbox run` (keyed by its session id), with the provider's sandbox id so any
 * process can find the sandbox again, what happened to the sandbox (killed or kept), the agent's reported
 * result, and where the log and the saved changes are. Statuses are validated by the domain schema, not
 * by CHECK constraints, so later features can add values without rebuilding the table.
 */
export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE sandbox_runs (
      session_id TEXT PRIMARY KEY NOT NULL,
      repo_path TEXT NOT NULL,
      provider TEXT NOT NULL,
      sandbox_id TEXT,
      isolation TEXT,
      agent TEXT NOT NULL,
      prompt TEXT NOT NULL,
      template TEXT,
      managed_template TEXT,
      branch_mode TEXT NOT NULL,
      branch TEXT,
      base_commit TEXT,
      worktree_path TEXT,
      status TEXT NOT NULL,
      sandbox_state TEXT NOT NULL,
      keep INTEGER NOT NULL DEFAULT 0,
      dry_run INTEGER NOT NULL DEFAULT 0,
      supervisor_pid INTEGER,
      supervisor_start TEXT,
      agent_pid INTEGER,
      timeout_ms INTEGER NOT NULL,
      log_path TEXT NOT NULL,
      events_path TEXT NOT NULL,
      changes_path TEXT,
      upload_files INTEGER,
      upload_bytes INTEGER,
      exit_code INTEGER,
      result_subtype TEXT,
      is_error INTEGER,
      num_turns INTEGER,
      cost_usd REAL,
      agent_duration_ms INTEGER,
      files_added INTEGER,
      files_modified INTEGER,
      files_deleted INTEGER,
      error TEXT,
      created_at INTEGER NOT NULL,
      started_at INTEGER,
      ended_at INTEGER,
      kill_requested_at INTEGER
    )`
  yield* sql`CREATE INDEX sandbox_runs_repo ON sandbox_runs (repo_path, created_at)`
  yield* sql`CREATE INDEX sandbox_runs_status ON sandbox_runs (status)`
})
