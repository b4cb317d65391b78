import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

/**
 * Budgets and templates for sandboxed runs: each run records its budget, the sandbox time it used, what
 * that time cost at the configured rate and the total (the agent's reported cost plus the sandbox time),
 * and the pull request a `--git-live` run opened;
 * managed templates (setup commands and environment) created by the user live in their own table (the
 * shipped ones are in code).
 */
export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`ALTER TABLE sandbox_runs ADD COLUMN budget_usd REAL`
  yield* sql`ALTER TABLE sandbox_runs ADD COLUMN provider_seconds REAL`
  yield* sql`ALTER TABLE sandbox_runs ADD COLUMN provider_cost_usd REAL`
  yield* sql`ALTER TABLE sandbox_runs ADD COLUMN total_cost_usd REAL`
  yield* sql`ALTER TABLE sandbox_runs ADD COLUMN pr_url TEXT`
  yield* sql`CREATE INDEX sandbox_runs_created ON sandbox_runs (created_at)`
  yield* sql`
    CREATE TABLE sandbox_templates (
      name TEXT PRIMARY KEY NOT NULL,
      description TEXT NOT NULL,
      image TEXT,
      setup TEXT NOT NULL,
      env TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL
    )`
})
