import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

/**
 * Merge detection. `merge_events` holds each detected merge once (unique per repository, branch, target
 * and branch head); `merge_subscriptions` the sessions' wishes to hear about one (one pending per session
 * and pair); `merge_watch` what the watcher last saw of each pair, so an unchanged pair costs nothing and
 * a branch deleted after its merge is still recognised from its last head.
 */
export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE merge_events (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      repo_path TEXT NOT NULL,
      branch TEXT NOT NULL,
      target_branch TEXT NOT NULL,
      branch_head TEXT NOT NULL,
      target_head TEXT NOT NULL,
      method TEXT NOT NULL CHECK (method IN ('merge-commit', 'fast-forward', 'rebase', 'squash', 'content')),
      merge_commit TEXT,
      session_id TEXT REFERENCES sessions (id) ON DELETE SET NULL,
      detected_at INTEGER NOT NULL,
      UNIQUE (repo_path, branch, target_branch, branch_head)
    )`
  yield* sql`CREATE INDEX merge_events_repo_branch ON merge_events (repo_path, branch, id)`
  yield* sql`
    CREATE TABLE merge_subscriptions (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
      repo_path TEXT NOT NULL,
      branch TEXT NOT NULL,
      target_branch TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      notified_at INTEGER,
      merge_event_id INTEGER REFERENCES merge_events (id)
    )`
  yield* sql`CREATE UNIQUE INDEX merge_subscriptions_one_pending
    ON merge_subscriptions (session_id, repo_path, branch, target_branch) WHERE notified_at IS NULL`
  yield* sql`CREATE INDEX merge_subscriptions_pending
    ON merge_subscriptions (repo_path, branch, target_branch) WHERE notified_at IS NULL`
  yield* sql`
    CREATE TABLE merge_watch (
      repo_path TEXT NOT NULL,
      branch TEXT NOT NULL,
      target_branch TEXT NOT NULL,
      last_head TEXT NOT NULL,
      last_target_head TEXT NOT NULL,
      pending_head TEXT,
      merged_head TEXT,
      first_seen_at INTEGER NOT NULL,
      last_checked_at INTEGER NOT NULL,
      gone_at INTEGER,
      PRIMARY KEY (repo_path, branch, target_branch)
    )`
})
