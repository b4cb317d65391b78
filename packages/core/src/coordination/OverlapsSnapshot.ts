/**
 * Effect-free readers of live overlap detection, for the start-up paths (`parallel-cc status` and
 * `parallel-cc overlaps`): the open overlaps between live sessions (the rows `OverlapStore.list` reads,
 * same query, same order), and `read`, which answers `Overlaps.list` — including its live scan (`refresh`)
 * — in the one case where that scan provably records no overlap: every live session's work is exactly
 * what its last scan saw (the same HEAD and the same snapshot tree, taken with the same git commands and
 * the same temporary index as `overlaps/snapshot.ts`, HEAD read from its files: `platform/gitRefs`), no two live sessions of a repository share a
 * changed file, and no overlap of theirs is open (so none is updated, ended or owes a notice). A scan then
 * recomputes nothing but its times, which `read` records as the scan would (`session_scans.scanned_at`,
 * `session_changes.updated_at`). In every other case it returns undefined having changed nothing (the
 * temporary indexes aside, which the scan refreshes too), and the caller steps aside to the service.
 *
 * This module imports no Effect code on purpose; keep it that way.
 *
 * @since 0.2.0
 */
import Database from "better-sqlite3"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { gitEnv, syntheticCommitEnv } from "../platform/gitEnv.js"
import { worktreeHead } from "../platform/gitRefs.js"
import { LATEST_SCHEMA_VERSION } from "../platform/schemaVersion.js"
import { LIVE_DIR } from "../sessions/liveDir.js"

/** An open overlap as `OverlapStore.list` reads it (times in epoch milliseconds). */
export interface OverlapRecord {
  readonly repoPath: string
  readonly filePath: string
  readonly sessionA: string
  readonly branchA: string | null
  readonly worktreeA: string
  readonly sessionB: string
  readonly branchB: string | null
  readonly worktreeB: string
  readonly level: "file" | "hunk" | "symbol"
  readonly symbols: ReadonlyArray<string>
  readonly conflict: boolean | null
  readonly firstSeen: number
  readonly lastSeen: number
}

export interface OverlapEntry {
  readonly sessionA: string
  readonly sessionB: string
  readonly filePath: string
  readonly conflict: boolean | null
}

interface Row {
  repo_path: string
  file_path: string
  session_a: string
  branch_a: string | null
  worktree_a: string
  session_b: string
  branch_b: string | null
  worktree_b: string
  level: OverlapRecord["level"]
  symbols: string
  conflict: number | null
  first_seen: number
  last_seen: number
}

const SELECT = `SELECT o.repo_path, o.file_path, o.session_a, sa.branch AS branch_a, sa.worktree_path AS worktree_a,
    o.session_b, sb.branch AS branch_b, sb.worktree_path AS worktree_b, o.level, o.symbols, o.conflict,
    o.first_seen, o.last_seen
  FROM overlaps o JOIN sessions sa ON sa.id = o.session_a JOIN sessions sb ON sb.id = o.session_b
  WHERE o.ended_at IS NULL AND sa.status = 'active' AND sb.status = 'active'`

/** `OverlapStore.list`: open overlaps between active sessions (of a session, else of a repository), oldest first. */
const records = (
  db: Database.Database,
  filter: { readonly repoPath?: string | undefined; readonly sessionId?: string | undefined }
): ReadonlyArray<OverlapRecord> => {
  const rows = (filter.sessionId !== undefined
    ? db.prepare(`${SELECT} AND (o.session_a = ? OR o.session_b = ?) ORDER BY o.first_seen, o.id`).all(filter.sessionId, filter.sessionId)
    : filter.repoPath !== undefined
    ? db.prepare(`${SELECT} AND o.repo_path = ? ORDER BY o.first_seen, o.id`).all(filter.repoPath)
    : db.prepare(`${SELECT} ORDER BY o.first_seen, o.id`).all()) as Array<Row>
  return rows.map((r) => ({
    repoPath: r.repo_path,
    filePath: r.file_path,
    sessionA: r.session_a,
    branchA: r.branch_a,
    worktreeA: r.worktree_a,
    sessionB: r.session_b,
    branchB: r.branch_b,
    worktreeB: r.worktree_b,
    level: r.level,
    symbols: JSON.parse(r.symbols) as Array<string>,
    conflict: r.conflict === null ? null : r.conflict === 1,
    firstSeen: r.first_seen,
    lastSeen: r.last_seen
  }))
}

/** Open overlaps between active sessions (of one repository), oldest first, through an open connection. */
export const listFrom = (db: Database.Database, repoPath?: string | undefined): ReadonlyArray<OverlapEntry> =>
  records(db, { repoPath }).map((r) => ({ sessionA: r.sessionA, sessionB: r.sessionB, filePath: r.filePath, conflict: r.conflict }))

/** Open overlaps between active sessions (of one repository), oldest first. */
export const list = (options: { readonly dbPath: string; readonly repoPath?: string | undefined }): ReadonlyArray<OverlapEntry> | undefined => {
  let db: Database.Database | undefined
  try {
    db = new Database(options.dbPath, { readonly: true, fileMustExist: true, timeout: 250 })
    if (db.pragma("user_version", { simple: true }) !== LATEST_SCHEMA_VERSION) return undefined
    return listFrom(db, options.repoPath)
  } catch {
    return undefined
  } finally {
    db?.close()
  }
}

export interface ReadRequest {
  readonly dbPath: string
  /** The data directory (session directories, with each session's temporary snapshot index). */
  readonly dataDir: string
  readonly env: NodeJS.ProcessEnv
  readonly repoPath?: string | undefined
  readonly sessionId?: string | undefined
  /** Scan the repositories first (`overlaps` without `--cached`). */
  readonly refresh: boolean
}

let declined: string | undefined

/** Why the last `read` returned undefined (for PARALLEL_CC_TRACE_FAST_PATH). */
export const lastDecline = (): string | undefined => declined

class Decline extends Error {}
const decline = (why: string): never => {
  throw new Decline(why)
}


/** `git ARGS` in `cwd`, asynchronously (sessions are snapshotted side by side): its exit code and stdout. */
const gitAsync = (cwd: string, args: ReadonlyArray<string>, env: NodeJS.ProcessEnv) =>
  new Promise<{ readonly code: number; readonly out: string }>((resolve, reject) => {
    const child = spawn("git", args, { cwd, env, stdio: ["ignore", "pipe", "ignore"] })
    let out = ""
    child.stdout.setEncoding("utf8")
    child.stdout.on("data", (d: string) => (out += d))
    child.on("error", () => reject(new Decline(`git ${args[0]} did not run`)))
    child.on("close", (code) => (code === null ? reject(new Decline(`git ${args[0]} was killed`)) : resolve({ code, out })))
  })

/**
 * `takeSnapshot`'s HEAD and tree of a worktree (its commit is a function of both): the same `git add -A`
 * and `git write-tree` through the same temporary index.
 */
const snapshotOf = async (env: NodeJS.ProcessEnv, worktree: string, indexFile: string) => {
  const head = worktreeHead(worktree) ?? decline("HEAD cannot be read from its files")
  const gitEnvHere = { ...env, ...gitEnv, ...syntheticCommitEnv, GIT_INDEX_FILE: indexFile }
  const added = await gitAsync(worktree, ["add", "-A", "--ignore-errors", "--", "."], gitEnvHere)
  if (![0, 1, 128].includes(added.code)) decline("git add failed")
  const tree = await gitAsync(worktree, ["write-tree"], gitEnvHere)
  if (tree.code !== 0) decline("git write-tree failed")
  return { head, tree: tree.out.trim() }
}

interface Check {
  readonly id: string
  readonly worktree: string
  readonly indexFile: string
  readonly last: { readonly head: string | null; readonly tree: string | null }
}

/**
 * The live sessions of `repoPath` a scan would look at, with their last scans, when nothing of theirs
 * overlaps; otherwise a Decline is thrown.
 */
const toCheck = (db: Database.Database, req: ReadRequest, repoPath: string): Array<Check> => {
  const live = db.prepare("SELECT id, worktree_path FROM sessions WHERE repo_path = ? AND status = 'active' ORDER BY created_at, id")
    .all(repoPath) as Array<{ id: string; worktree_path: string }>
  if (live.length === 0) return []
  const ids = live.map((s) => s.id)
  const marks = ids.map(() => "?").join(", ")
  const open = db.prepare(`SELECT 1 FROM overlaps WHERE ended_at IS NULL AND (session_a IN (${marks}) OR session_b IN (${marks})) LIMIT 1`)
    .get(...ids, ...ids)
  if (open !== undefined) decline("an overlap is open")
  const shared = db.prepare(`SELECT c.file_path FROM session_changes c JOIN sessions s ON s.id = c.session_id
    WHERE c.repo_path = ? AND s.status = 'active' GROUP BY c.file_path HAVING COUNT(*) > 1 LIMIT 1`).get(repoPath)
  if (shared !== undefined) decline("two sessions changed the same file")
  const scans = new Map(
    (db.prepare("SELECT session_id, head, tree FROM session_scans WHERE repo_path = ?").all(repoPath) as Array<
      { session_id: string; head: string | null; tree: string | null }
    >).map((r) => [r.session_id, r])
  )
  const out: Array<Check> = []
  for (const s of live) {
    // As `Overlaps.scanRepo`: a session whose worktree is gone is not scanned.
    if (!fs.existsSync(s.worktree_path)) continue
    const last = scans.get(s.id) ?? decline("a session has no scan yet")
    const indexFile = path.join(req.dataDir, LIVE_DIR, s.id, ".snapshot-index")
    if (!fs.existsSync(indexFile)) decline("a session has no snapshot index yet")
    out.push({ id: s.id, worktree: s.worktree_path, indexFile, last })
  }
  return out
}

/**
 * Snapshot every session to check, side by side, and decline unless each is what its last scan saw. Every
 * git process has ended when this settles (so that a scan the caller falls back to never meets one).
 */
const allUnchanged = async (env: NodeJS.ProcessEnv, checks: ReadonlyArray<Check>) => {
  const results = await Promise.allSettled(checks.map((c) => snapshotOf(env, c.worktree, c.indexFile)))
  results.forEach((r, i) => {
    if (r.status === "rejected") throw r.reason
    const last = checks[i]!.last
    if (r.value.head !== last.head || r.value.tree !== last.tree) decline("a session's work changed since its last scan")
  })
}

/** Record the scans of unchanged sessions as the scan does: the same rows, new times. */
const touch = (db: Database.Database, scanned: ReadonlyArray<{ readonly repoPath: string; readonly ids: ReadonlyArray<string> }>) => {
  const now = Date.now()
  db.transaction(() => {
    for (const { ids, repoPath } of scanned) {
      for (const id of ids) {
        db.prepare("UPDATE session_scans SET scanned_at = ? WHERE session_id = ?").run(now, id)
        db.prepare("UPDATE session_changes SET updated_at = ? WHERE session_id = ?").run(now, id)
      }
      // Nothing opened meanwhile (a concurrent scan of a changed session records under this same lock).
      if (ids.length > 0) {
        const marks = ids.map(() => "?").join(", ")
        const open = db.prepare(`SELECT 1 FROM overlaps WHERE ended_at IS NULL AND repo_path = ?
          AND (session_a IN (${marks}) OR session_b IN (${marks})) LIMIT 1`).get(repoPath, ...ids, ...ids)
        if (open !== undefined) decline("an overlap opened during the scan")
      }
    }
  }).immediate()
}

/**
 * `Overlaps.list(filter)` as the service answers it, or undefined (nothing changed in the store) when the
 * service must answer: another schema version, a busy store, an unknown session, or a scan that could find
 * or change something (see the module comment).
 */
export const read = async (req: ReadRequest): Promise<ReadonlyArray<OverlapRecord> | undefined> => {
  let db: Database.Database | undefined
  declined = undefined
  try {
    db = req.refresh
      ? new Database(req.dbPath, { fileMustExist: true, timeout: 250 })
      : new Database(req.dbPath, { readonly: true, fileMustExist: true, timeout: 250 })
    if (db.pragma("user_version", { simple: true }) !== LATEST_SCHEMA_VERSION) decline("another schema version")
    if (req.refresh) {
      // git would find another repository, index or object store than the worktree's own.
      for (const v of ["GIT_DIR", "GIT_WORK_TREE", "GIT_COMMON_DIR", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY"]) {
        if (req.env[v] !== undefined) decline(`${v} is set`)
      }
      if (db.pragma("journal_mode", { simple: true }) !== "wal") decline("the store is not in WAL mode")
      db.pragma("synchronous = NORMAL")
      db.pragma("foreign_keys = ON")
      const repos = req.sessionId !== undefined
        ? [(db.prepare("SELECT repo_path FROM sessions WHERE id = ?").get(req.sessionId) as { repo_path: string } | undefined ??
          decline("no such session")).repo_path]
        : req.repoPath !== undefined
        ? [req.repoPath]
        : (db.prepare("SELECT repo_path FROM sessions WHERE status = 'active' ORDER BY created_at, id").all() as Array<{ repo_path: string }>)
          .map((r) => r.repo_path).filter((r, i, all) => all.indexOf(r) === i)
      const rw = db
      const checks = repos.map((repoPath) => ({ repoPath, checks: toCheck(rw, req, repoPath) }))
      await allUnchanged(req.env, checks.flatMap((c) => c.checks))
      touch(db, checks.map((c) => ({ repoPath: c.repoPath, ids: c.checks.map((x) => x.id) })))
    }
    return records(db, { repoPath: req.sessionId === undefined ? req.repoPath : undefined, sessionId: req.sessionId })
  } catch (e) {
    declined = e instanceof Decline ? e.message : e instanceof Error ? e.message : String(e)
    return undefined
  } finally {
    db?.close()
  }
}
