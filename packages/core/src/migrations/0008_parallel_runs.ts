import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

/**
 * Parallel runs: one row per `sandbox run --multi` (its output directory, limits and supervising process),
 * one row per task (its dependencies, status, attempts and the session of its latest attempt). The output
 * directory's summary.json is what `--resume` reads; these rows let any process see what a run is doing.
 */
export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE parallel_runs (
      id TEXT PRIMARY KEY NOT NULL,
      repo_path TEXT NOT NULL,
      output_dir TEXT NOT NULL,
      status TEXT NOT NULL,
      max_concurrent INTEGER NOT NULL,
      fail_fast INTEGER NOT NULL DEFAULT 0,
      retries INTEGER NOT NULL DEFAULT 0,
      git_live INTEGER NOT NULL DEFAULT 0,
      resumed_from TEXT,
      supervisor_pid INTEGER,
      supervisor_start TEXT,
      tasks_total INTEGER NOT NULL,
      created_at INTEGER NOT NULL,
      ended_at INTEGER
    )`
  yield* sql`CREATE INDEX parallel_runs_repo ON parallel_runs (repo_path, created_at)`
  yield* sql`
    CREATE TABLE parallel_tasks (
      run_id TEXT NOT NULL REFERENCES parallel_runs (id) ON DELETE CASCADE,
      task_id TEXT NOT NULL,
      position INTEGER NOT NULL,
      prompt TEXT NOT NULL,
      depends_on TEXT NOT NULL,
      status TEXT NOT NULL,
      session_id TEXT,
      attempts INTEGER NOT NULL DEFAULT 0,
      cost_usd REAL,
      error TEXT,
      started_at INTEGER,
      ended_at INTEGER,
      PRIMARY KEY (run_id, task_id)
    )`
  yield* sql`CREATE INDEX parallel_tasks_session ON parallel_tasks (session_id)`
})
