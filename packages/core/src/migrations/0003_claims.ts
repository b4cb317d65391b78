import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

/**
 * File claims. A claim is active while `released_at` is NULL and `expires_at` is in the future; at most one
 * active claim per (repo, file, session), and at most one active EXCLUSIVE claim per file (both enforced by
 * partial unique indexes, beside the ledger's own transaction).
 */
export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE file_claims (
      id TEXT PRIMARY KEY NOT NULL,
      session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
      repo_path TEXT NOT NULL,
      file_path TEXT NOT NULL,
      mode TEXT NOT NULL CHECK (mode IN ('EXCLUSIVE', 'SHARED', 'INTENT')),
      reason TEXT,
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL,
      expires_at INTEGER NOT NULL,
      released_at INTEGER,
      release_reason TEXT CHECK (release_reason IN ('released', 'session-ended', 'expired'))
    )`
  yield* sql`CREATE UNIQUE INDEX file_claims_one_per_session ON file_claims (repo_path, file_path, session_id)
    WHERE released_at IS NULL`
  yield* sql`CREATE UNIQUE INDEX file_claims_one_exclusive ON file_claims (repo_path, file_path)
    WHERE released_at IS NULL AND mode = 'EXCLUSIVE'`
  yield* sql`CREATE INDEX file_claims_session ON file_claims (session_id) WHERE released_at IS NULL`
})
