import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

/**
 * Local sessions, second step: why a session ended, the worktree kept after release (work not merged yet),
 * where its worktree started, and a lease table that serialises `git worktree add/remove` per repository
 * across processes.
 */
export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`ALTER TABLE sessions ADD COLUMN release_reason TEXT`
  yield* sql`ALTER TABLE sessions ADD COLUMN kept_reason TEXT`
  yield* sql`ALTER TABLE sessions ADD COLUMN base_commit TEXT`
  yield* sql`ALTER TABLE sessions ADD COLUMN base_branch TEXT`
  yield* sql`CREATE INDEX sessions_kept ON sessions (repo_path) WHERE kept_reason IS NOT NULL`
  yield* sql`
    CREATE TABLE worktree_locks (
      lock_key TEXT PRIMARY KEY NOT NULL,
      owner TEXT NOT NULL,
      pid INTEGER NOT NULL,
      pid_start_time TEXT,
      acquired_at INTEGER NOT NULL
    )`
})
