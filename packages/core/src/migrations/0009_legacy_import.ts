import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

/**
 * Bookkeeping of imports from the original parallel-cc's database: one row per imported file (kept on disk,
 * never deleted), and one row per imported record so that an import can be re-run (after a crash, or when a
 * later version can import more kinds of records) without duplicating anything.
 */
export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE legacy_imports (
      source_path TEXT PRIMARY KEY NOT NULL,
      original_path TEXT NOT NULL,
      backup_path TEXT,
      legacy_version TEXT NOT NULL,
      found_at INTEGER NOT NULL,
      imported_at INTEGER,
      complete INTEGER NOT NULL DEFAULT 0 CHECK (complete IN (0, 1)),
      summary TEXT NOT NULL DEFAULT '{}'
    )`
  yield* sql`
    CREATE TABLE legacy_import_items (
      source_path TEXT NOT NULL REFERENCES legacy_imports (source_path),
      kind TEXT NOT NULL,
      legacy_id TEXT NOT NULL,
      new_id TEXT NOT NULL,
      PRIMARY KEY (source_path, kind, legacy_id)
    )`
})
