/**
 * A read-only snapshot of sandboxed runs, for `parallel-cc sandbox list` and `sandbox status` at start-up:
 * the store read with better-sqlite3 directly, no Effect code. It answers only when answering changes
 * nothing — every run it returns is final, or live with its supervising process provably running (pid and
 * start time); otherwise `Sandboxes` must reconcile (mark a run whose supervisor died as lost) and it
 * returns `undefined`. Runs are encoded as `--json` prints them (`SandboxRunJson`; tested side by side).
 *
 * This module imports no Effect code on purpose; keep it that way.
 *
 * @since 0.2.0
 */
import Database from "better-sqlite3"
import { linuxStartTime } from "../platform/procStat.js"
import { LATEST_SCHEMA_VERSION } from "../platform/schemaVersion.js"
import { fromRow } from "./runRows.js"

/** A run as `sandbox list --json` prints it (Dates as ISO strings once serialised). */
export type RunEntry = Readonly<Record<string, unknown>> & {
  readonly sessionId: string
  readonly status: string
  readonly sandboxId: string | null
  readonly sandboxState: string
  readonly supervisorPid: number | null
  readonly supervisorStart: string | null
}

const LIVE = new Set(["starting", "running"])

/** Whether the run's supervising process runs (pid with its recorded start time); undefined: cannot tell here. */
const supervisorRuns = (r: RunEntry): boolean | undefined => {
  if (r.supervisorPid === null) return false
  if (r.supervisorStart === null) return undefined
  return linuxStartTime(r.supervisorPid) === r.supervisorStart
}

const withStore = <A>(dbPath: string, f: (db: Database.Database) => A | undefined): A | undefined => {
  if (process.platform !== "linux") return undefined
  let db: Database.Database | undefined
  try {
    db = new Database(dbPath, { readonly: true, fileMustExist: true, timeout: 250 })
    if (db.pragma("user_version", { simple: true }) !== LATEST_SCHEMA_VERSION) return undefined
    return f(db)
  } catch {
    return undefined
  } finally {
    db?.close()
  }
}

/** Decoded runs, or undefined when a live run's supervisor is not provably running. */
const settled = (rows: ReadonlyArray<Record<string, unknown>>): ReadonlyArray<RunEntry> | undefined => {
  const runs = rows.map((r) => fromRow(r) as RunEntry)
  return runs.every((r) => !LIVE.has(r.status) || supervisorRuns(r) === true) ? runs : undefined
}

/** `Sandboxes.list`: most recent first, at most `limit` (as `SandboxRuns.list` bounds it). */
export const list = (options: {
  readonly dbPath: string
  readonly repoPath?: string | undefined
  readonly limit: number
}): ReadonlyArray<RunEntry> | undefined =>
  withStore(options.dbPath, (db) => {
    const limit = Math.max(1, Math.min(10_000, Math.trunc(options.limit)))
    const rows = (options.repoPath !== undefined
      ? db.prepare("SELECT * FROM sandbox_runs WHERE repo_path = ? ORDER BY created_at DESC, session_id LIMIT ?").all(options.repoPath, limit)
      : db.prepare("SELECT * FROM sandbox_runs ORDER BY created_at DESC, session_id LIMIT ?").all(limit)) as Array<Record<string, unknown>>
    return settled(rows)
  })

/**
 * `Sandboxes.status` for a run whose sandbox is gone (`killed`) or was never made: the run, what its
 * sandbox is now, and whether its supervisor runs. Undefined for anything that needs its provider asked.
 */
export const status = (options: { readonly dbPath: string; readonly sessionId: string }):
  | { readonly run: RunEntry; readonly sandbox: "gone" | "unknown"; readonly supervisorAlive: boolean }
  | undefined =>
  withStore(options.dbPath, (db) => {
    const row = db.prepare("SELECT * FROM sandbox_runs WHERE session_id = ?").get(options.sessionId) as Record<string, unknown> | undefined
    if (row === undefined) return undefined
    const run = settled([row])?.[0]
    if (run === undefined) return undefined
    const alive = supervisorRuns(run)
    if (alive === undefined) return undefined
    if (run.sandboxState === "killed") return { run, sandbox: "gone", supervisorAlive: alive }
    if (run.sandboxId === null) return { run, sandbox: "unknown", supervisorAlive: alive }
    return undefined
  })
