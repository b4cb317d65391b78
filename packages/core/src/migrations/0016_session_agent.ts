import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

/**
 * The agent a session runs (`claude`, `codex`, `gemini`, a command's path), recorded when the wrapper hands
 * the session to the agent's process; null when not known (sessions without the wrapper, and those of the
 * previous release). `status` suggests the command that goes on in a kept worktree with that agent.
 */
export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`ALTER TABLE sessions ADD COLUMN agent TEXT`
})
