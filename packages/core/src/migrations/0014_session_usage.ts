import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

/**
 * Usage of interactive sessions, read from their Claude Code transcripts (fleet/): tokens per session,
 * quarter hour, model and price tier (`session_usage`), and per session what was read and whether it could
 * be (`session_usage_state`). Rows outlive their session, so budgets of a day, week or month count sessions
 * that have ended; the cost is computed from the tokens at the price table of the moment.
 */
export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE session_usage (
    session_id TEXT NOT NULL,
    bucket INTEGER NOT NULL,
    model TEXT NOT NULL,
    long_context INTEGER NOT NULL CHECK (long_context IN (0, 1)),
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cache_write_5m_tokens INTEGER NOT NULL,
    cache_write_1h_tokens INTEGER NOT NULL,
    cache_read_tokens INTEGER NOT NULL,
    web_search_requests INTEGER NOT NULL,
    requests INTEGER NOT NULL,
    PRIMARY KEY (session_id, bucket, model, long_context)
  )`
  yield* sql`CREATE INDEX session_usage_bucket ON session_usage (bucket)`
  yield* sql`CREATE TABLE session_usage_state (
    session_id TEXT PRIMARY KEY,
    known INTEGER NOT NULL CHECK (known IN (0, 1)),
    reason TEXT,
    turns INTEGER NOT NULL,
    transcripts TEXT NOT NULL,
    files TEXT NOT NULL,
    updated_at INTEGER NOT NULL
  )`
})
