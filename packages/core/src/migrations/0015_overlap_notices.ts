import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

/**
 * Overlap notices that must reach the agents: `notify_pending` on an open overlap says which notices
 * recording it owes (1: the new overlap, 2: it now conflicts), set in the transaction that records the pair
 * and cleared once both sessions' notices are queued. A watcher stopped in between leaves them pending, and
 * the next scan of either session delivers them. Rows of the previous release were notified already (0).
 */
export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`ALTER TABLE overlaps ADD COLUMN notify_pending INTEGER NOT NULL DEFAULT 0`
})
