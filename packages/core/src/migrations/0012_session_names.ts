import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

/**
 * Sessions as people use them: a name (branch `parallel/NAME`, folder `NAME`), the session a subagent's
 * worktree belongs to, and whether the registration finished (`ready` is 0 while `register` is still
 * creating the worktree and running its setup, so that a registration killed half-way is recognised and
 * undone by the next register, status or cleanup). Rows of earlier releases were all complete: ready = 1.
 */
export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`ALTER TABLE sessions ADD COLUMN name TEXT`
  yield* sql`ALTER TABLE sessions ADD COLUMN parent_id TEXT`
  yield* sql`ALTER TABLE sessions ADD COLUMN ready INTEGER NOT NULL DEFAULT 1 CHECK (ready IN (0, 1))`
  yield* sql`CREATE INDEX sessions_name ON sessions (name) WHERE name IS NOT NULL`
})
