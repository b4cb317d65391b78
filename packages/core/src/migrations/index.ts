import type { SqlClient } from "@effect/sql"
import type { Effect } from "effect"
import m0001 from "./0001_sessions.js"
import m0002 from "./0002_sessions_extras.js"
import m0003 from "./0003_claims.js"
import m0004 from "./0004_merges.js"
import m0005 from "./0005_conflicts.js"
import m0006 from "./0006_sandbox_runs.js"
import m0007 from "./0007_budgets_templates.js"
import m0008 from "./0008_parallel_runs.js"
import m0009 from "./0009_legacy_import.js"
import m0010 from "./0010_landing.js"
import m0011 from "./0011_overlaps.js"
import m0012 from "./0012_session_names.js"
import m0013 from "./0013_conflict_hunks.js"
import m0014 from "./0014_session_usage.js"
import m0015 from "./0015_overlap_notices.js"
import m0016 from "./0016_session_agent.js"

/**
 * Forward-only schema migrations, keyed `<id>_<name>` for the @effect/sql Migrator. Add new ones at the end
 * with the next id; never edit or reorder a migration that has shipped.
 */
export const migrations: Record<string, Effect.Effect<void, unknown, SqlClient.SqlClient>> = {
  "1_sessions": m0001,
  "2_sessions_extras": m0002,
  "3_claims": m0003,
  "4_merges": m0004,
  "5_conflicts": m0005,
  "6_sandbox_runs": m0006,
  "7_budgets_templates": m0007,
  "8_parallel_runs": m0008,
  "9_legacy_import": m0009,
  "10_landing": m0010,
  "11_overlaps": m0011,
  "12_session_names": m0012,
  "13_conflict_hunks": m0013,
  "14_session_usage": m0014,
  "15_overlap_notices": m0015,
  "16_session_agent": m0016
}
