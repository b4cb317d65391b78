import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

/**
 * The landing queue: one row per candidate queued for a target branch (its status, the commit planned or
 * landed, why it was sent back, its test log), one row per `land` run (its process, its private worktree and
 * the test it runs, so a later run can clean up after one that was killed), and a lease per target that
 * serialises runs across processes. Statuses are validated by the domain schema, not CHECK constraints.
 */
export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE land_entries (
      id TEXT PRIMARY KEY NOT NULL,
      position INTEGER NOT NULL,
      repo_path TEXT NOT NULL,
      target TEXT NOT NULL,
      kind TEXT NOT NULL,
      spec TEXT NOT NULL,
      name TEXT NOT NULL,
      session_id TEXT,
      branch TEXT,
      worktree_path TEXT,
      head TEXT,
      strategy TEXT NOT NULL,
      test_command TEXT,
      requested_by TEXT NOT NULL,
      status TEXT NOT NULL,
      run_id TEXT,
      attempts INTEGER NOT NULL DEFAULT 0,
      planned_commit TEXT,
      target_before TEXT,
      landed_commit TEXT,
      reason TEXT,
      message TEXT,
      detail TEXT NOT NULL DEFAULT '{}',
      log_path TEXT,
      test_ms REAL,
      created_at INTEGER NOT NULL,
      started_at INTEGER,
      ended_at INTEGER
    )`
  yield* sql`CREATE INDEX land_entries_queue ON land_entries (repo_path, target, status, position)`
  yield* sql`CREATE INDEX land_entries_session ON land_entries (session_id)`
  yield* sql`
    CREATE TABLE land_runs (
      id TEXT PRIMARY KEY NOT NULL,
      repo_path TEXT NOT NULL,
      target TEXT NOT NULL,
      pid INTEGER NOT NULL,
      pid_start_time TEXT,
      status TEXT NOT NULL,
      worktree_path TEXT,
      test_pid INTEGER,
      test_pid_start TEXT,
      started_at INTEGER NOT NULL,
      ended_at INTEGER
    )`
  yield* sql`CREATE INDEX land_runs_target ON land_runs (repo_path, target, status)`
  yield* sql`
    CREATE TABLE land_locks (
      lock_key TEXT PRIMARY KEY NOT NULL,
      run_id TEXT NOT NULL,
      pid INTEGER NOT NULL,
      pid_start_time TEXT,
      acquired_at INTEGER NOT NULL
    )`
})
