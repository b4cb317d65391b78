/**
 * The open overlaps between live sessions as their watchers last saw them, read-only, for the Effect-free
 * `parallel-cc status` at start-up: the rows `OverlapStore.list` reads (same query, same order), with the
 * fields the status table shows. Undefined when the store cannot be read here (the caller steps aside).
 *
 * This module imports no Effect code on purpose; keep it that way.
 *
 * @since 0.2.0
 */
import Database from "better-sqlite3"
import { LATEST_SCHEMA_VERSION } from "../platform/schemaVersion.js"

export interface OverlapEntry {
  readonly sessionA: string
  readonly sessionB: string
  readonly filePath: string
  readonly conflict: boolean | null
}

/** Open overlaps between active sessions (of one repository), oldest first. */
export const list = (options: { readonly dbPath: string; readonly repoPath?: string | undefined }): ReadonlyArray<OverlapEntry> | undefined => {
  let db: Database.Database | undefined
  try {
    db = new Database(options.dbPath, { readonly: true, fileMustExist: true, timeout: 250 })
    if (db.pragma("user_version", { simple: true }) !== LATEST_SCHEMA_VERSION) return undefined
    const rows = db.prepare(
      `SELECT o.session_a, o.session_b, o.file_path, o.conflict
       FROM overlaps o JOIN sessions sa ON sa.id = o.session_a JOIN sessions sb ON sb.id = o.session_b
       WHERE o.ended_at IS NULL AND sa.status = 'active' AND sb.status = 'active'
       ${options.repoPath !== undefined ? "AND o.repo_path = ?" : ""} ORDER BY o.first_seen, o.id`
    ).all(...(options.repoPath !== undefined ? [options.repoPath] : [])) as Array<
      { session_a: string; session_b: string; file_path: string; conflict: number | null }
    >
    return rows.map((r) => ({
      sessionA: r.session_a,
      sessionB: r.session_b,
      filePath: r.file_path,
      conflict: r.conflict === null ? null : r.conflict === 1
    }))
  } catch {
    return undefined
  } finally {
    db?.close()
  }
}
