/**
 * A read-only snapshot of the active file claims, for `parallel-cc claims` at start-up: the store read with
 * better-sqlite3 directly, no Effect code, so the command costs little more than starting Node. It is what
 * `ClaimsLedger.list` returns, encoded as `claims --json` prints it (`ClaimJson`; a test compares the two
 * side by side), or `undefined` when the `ClaimsLedger` must answer (no store yet, another schema version,
 * the store busy).
 *
 * This module imports no Effect code on purpose; keep it that way.
 *
 * @since 0.2.0
 */
import Database from "better-sqlite3"
import { LATEST_SCHEMA_VERSION } from "../platform/schemaVersion.js"

/** One claim as `claims --json` prints it (the encoded `ClaimsLedger.Claim`, same keys in the same order). */
export interface ClaimEntry {
  readonly claimId: string
  readonly sessionId: string
  readonly repoPath: string
  readonly filePath: string
  readonly mode: "EXCLUSIVE" | "SHARED" | "INTENT"
  readonly reason: string | null
  readonly createdAt: string
  readonly updatedAt: string
  readonly expiresAt: string
  readonly releasedAt: string | null
  readonly releaseReason: string | null
  readonly branch: string | null
  readonly worktreePath: string
}

export interface Options {
  readonly dbPath: string
  /** Only claims in this repository (its main top level, as stored). */
  readonly repoPath?: string | undefined
  readonly sessionId?: string | undefined
  /** For tests: the current time in ms. */
  readonly now?: number | undefined
}

interface Row {
  readonly id: string
  readonly session_id: string
  readonly repo_path: string
  readonly file_path: string
  readonly mode: ClaimEntry["mode"]
  readonly reason: string | null
  readonly created_at: number
  readonly updated_at: number
  readonly expires_at: number
  readonly released_at: number | null
  readonly release_reason: string | null
  readonly branch: string | null
  readonly worktree_path: string
}

const iso = (ms: number) => new Date(ms).toISOString()

/** The active claims (not released, not expired, of an active session) in `ClaimsLedger.list` order. */
export const read = (options: Options): ReadonlyArray<ClaimEntry> | undefined => {
  let db: Database.Database | undefined
  try {
    db = new Database(options.dbPath, { readonly: true, fileMustExist: true, timeout: 250 })
    if (db.pragma("user_version", { simple: true }) !== LATEST_SCHEMA_VERSION) return undefined
    const where = ["c.released_at IS NULL", "c.expires_at > ?", "s.status = 'active'"]
    const params: Array<string | number> = [options.now ?? Date.now()]
    if (options.repoPath !== undefined) {
      where.push("c.repo_path = ?")
      params.push(options.repoPath)
    }
    if (options.sessionId !== undefined) {
      where.push("c.session_id = ?")
      params.push(options.sessionId)
    }
    const rows = db.prepare(
      `SELECT c.*, s.branch AS branch, s.worktree_path AS worktree_path
       FROM file_claims c JOIN sessions s ON s.id = c.session_id
       WHERE ${where.join(" AND ")} ORDER BY c.repo_path, c.file_path, c.created_at, c.id`
    ).all(...params) as Array<Row>
    return rows.map((r) => ({
      claimId: r.id,
      sessionId: r.session_id,
      repoPath: r.repo_path,
      filePath: r.file_path,
      mode: r.mode,
      reason: r.reason,
      createdAt: iso(r.created_at),
      updatedAt: iso(r.updated_at),
      expiresAt: iso(r.expires_at),
      releasedAt: r.released_at === null ? null : iso(r.released_at),
      releaseReason: r.release_reason,
      branch: r.branch,
      worktreePath: r.worktree_path
    }))
  } catch {
    return undefined
  } finally {
    db?.close()
  }
}
