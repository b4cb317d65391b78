import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

/** Sessions: one row per agent process; exactly one active main session per repository (partial unique index). */
export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE sessions (
      id TEXT PRIMARY KEY NOT NULL,
      repo_path TEXT NOT NULL,
      worktree_path TEXT NOT NULL,
      worktree_name TEXT,
      branch TEXT,
      is_main INTEGER NOT NULL CHECK (is_main IN (0, 1)),
      pid INTEGER NOT NULL,
      pid_start_time TEXT,
      mode TEXT NOT NULL DEFAULT 'local' CHECK (mode IN ('local', 'sandbox')),
      status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'released')),
      created_at INTEGER NOT NULL,
      last_heartbeat INTEGER NOT NULL,
      ended_at INTEGER,
      port_base INTEGER
    )`
  yield* sql`CREATE UNIQUE INDEX sessions_one_main ON sessions (repo_path) WHERE is_main = 1 AND status = 'active'`
  yield* sql`CREATE INDEX sessions_repo_status ON sessions (repo_path, status)`
  yield* sql`CREATE INDEX sessions_active_pid ON sessions (pid) WHERE status = 'active'`
})
