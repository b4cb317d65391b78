/**
 * The start-up fast path of the commands that run at every agent start and end — `register`, `release`,
 * `heartbeat` and the wrapper (`claude-parallel`): the same work as the `Sessions` service, in plain Node
 * (better-sqlite3, `git` through spawnSync, `/proc`), without loading Effect, for the cases where nothing
 * needs deciding. Like `StatusSnapshot`, it is strict: whenever a case is not plainly the common one —
 * no recorded configuration for these inputs (platform/configSnapshot), a setting it does not handle, a
 * session of the repository whose process is not provably alive (the service releases those first), a
 * worktree that is not pristine, no kernel lock, a busy store, any error — it returns `undefined` having
 * written nothing (or having undone its own reservation), and the caller runs the `Sessions` service,
 * which owns every decision and every message.
 *
 * What it does is what `Sessions` does, step for step (see docs/architecture.md, "Start-up fast paths"):
 * register reserves the session in one `BEGIN IMMEDIATE` transaction (main or worktree, port block) and
 * creates the worktree from the recorded HEAD under the repository's worktree lock (platform/repoLock and
 * the store's lease); release ends the session atomically (exactly one process wins), ends its claims,
 * and removes its worktree only when it is pristine — nothing tracked changed, nothing untracked or
 * ignored in it, HEAD on the session branch and every commit of that branch on another ref — through
 * git's own non-forced `worktree remove` (which refuses a tree that changed meanwhile), then deletes the
 * branch with a compare-and-delete. Tests run the built CLI both ways and compare outputs and rows.
 *
 * This module imports no Effect code on purpose; keep it that way.
 *
 * @since 0.1.0
 */
import Database from "better-sqlite3"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { randomId } from "../ids.js"
import * as ConfigSnapshot from "../platform/configSnapshot.js"
import { readBranch } from "../platform/gitRefs.js"
import { linuxStartTime } from "../platform/procStat.js"
import * as RepoLock from "../platform/repoLock.js"
import { LATEST_SCHEMA_VERSION } from "../platform/schemaVersion.js"
import { Layout, LIVE_DIR } from "./liveDir.js"
import { sessionSlug } from "./slug.js"

/** Where the caller runs: its environment (`PARALLEL_CC_*`), working and home directory, `--db`. */
export interface Context {
  readonly env: Readonly<Record<string, string | undefined>>
  readonly cwd: string
  readonly homeDir: string
  readonly dbFlag?: string | undefined
  /**
   * Keep the store open between calls (a long-lived caller, the wrapper, which registers, attaches and
   * releases one session): each call then reuses one connection instead of opening the store, creating its
   * write-ahead log and checkpointing it on close every time. The caller closes it with {@link closeStore}.
   */
  readonly store?: KeptStore | undefined
}

/** A store connection kept by a long-lived caller (see `Context.store`); make one with {@link keptStore}. */
export interface KeptStore {
  db: Database.Database | undefined
  path: string | undefined
}

/** An empty {@link KeptStore}: the first call that needs the store opens it. */
export const keptStore = (): KeptStore => ({ db: undefined, path: undefined })

/** Close a kept store (idempotent). */
export const closeStore = (kept: KeptStore): void => {
  const db = kept.db
  kept.db = undefined
  kept.path = undefined
  db?.close()
}

/** A `sessions` row. */
export interface Row {
  readonly id: string
  readonly repo_path: string
  readonly worktree_path: string
  readonly worktree_name: string | null
  readonly branch: string | null
  readonly is_main: number
  readonly pid: number
  readonly pid_start_time: string | null
  readonly mode: string
  readonly status: string
  readonly created_at: number
  readonly last_heartbeat: number
  readonly ended_at: number | null
  readonly port_base: number | null
  readonly release_reason: string | null
  readonly kept_reason: string | null
  readonly base_commit: string | null
  readonly base_branch: string | null
  readonly name: string | null
  readonly parent_id: string | null
  readonly agent?: string | null | undefined
  /** 0 while `register` is still creating the worktree (see `SessionStore.markReady`). */
  readonly ready: number
}

/** What `register` gives: the same as `Sessions.Registered` without the sweep and setup reports (always empty here). */
export interface Registered {
  readonly row: Row
  /** What `register --json` prints (`Domain.Registration`, same keys in the same order). */
  readonly registration: {
    readonly sessionId: string
    readonly isMainRepo: boolean
    readonly worktreePath: string
    readonly worktreeName: string | null
    readonly branch: string | null
    readonly repoPath: string
    readonly name: string | null
    readonly baseCommit: string | null
    readonly reentered: boolean
  }
  readonly heartbeatFile: string
  /** The session's directory (`<dataDir>/live/<id>`). */
  readonly sessionDir: string
  readonly env: Readonly<Record<string, string>>
  /** `ports.blockSize`. */
  readonly portCount: number
}

/** Nothing thrown away (`Domain.noDiscard`). */
export interface NoDiscard {
  readonly uncommitted: readonly []
  readonly untracked: readonly []
  readonly ignored: readonly []
  readonly commits: readonly []
  readonly nested: readonly []
}

/** `Sessions.Released`, same keys in the same order (the JSON of `release --json`). */
export interface Released {
  readonly sessionId: string
  readonly name: string | null
  readonly repoPath: string
  readonly worktreePath: string
  readonly branch: string | null
  readonly isMainRepo: boolean
  readonly reason: "released"
  readonly worktree: "main" | "removed" | "kept"
  readonly kept: {
    readonly path: string
    readonly branch: string | null
    readonly repoPath: string
    readonly baseBranch: string | null
    readonly name: string | null
    readonly detail: string
    readonly changeCount: number
    readonly untrackedCount: number
    readonly uniqueCommits: number
    readonly detachedCommits: number
    readonly discarded: NoDiscard | null
  } | null
  readonly branchOutcome: {
    readonly name: string
    readonly outcome: "deleted" | "kept"
    readonly why: "no-commits" | "merged" | "elsewhere" | null
    readonly tip: string | null
    readonly detail: string
  } | null
  readonly discarded: NoDiscard | null
  readonly liveness: null
  readonly previouslyReleased: false
  readonly interrupted: false
}

/** Same marker as `SessionStore.RELEASE_IN_PROGRESS` (a test keeps them equal). */
const RELEASE_IN_PROGRESS = "release in progress"
/** Same rule as `Git.plainBranchName`. */
const plainBranchName = /^[A-Za-z0-9_]+(?:[-/][A-Za-z0-9_]+)*$/
const sessionIdPattern = /^[a-z0-9]{6,32}$/
const LOCK_WAIT_MS = 5 * 60_000
/** Same name as `worktreeInclude.INCLUDE_FILE` (a test keeps them equal). */
const INCLUDE_FILE = ".worktreeinclude"

let declined: string | undefined
/** Decline (return undefined), remembering why. */
const no = (why: string): undefined => {
  declined = why
  return undefined
}
/** Why the last call declined (for `PARALLEL_CC_TRACE_FAST_PATH=1` and tests). */
export const lastDecline = (): string | undefined => declined

// ---- configuration -------------------------------------------------------------------------------------

/** Keys this path implements; keys it knows do not matter here; every other key must be at its default. */
const HANDLED = new Set([
  "agent",
  "db.busyTimeoutMs",
  "sessions.staleMinutes",
  "worktree.root",
  "worktree.prefix",
  "worktree.copy",
  "worktree.setup",
  "worktree.share",
  "worktree.shareMode",
  "ports.base",
  "ports.blockSize"
])
const IRRELEVANT = /^(claims|merges|sandbox|budget|cost|git|parallel)\./

/** What the fast path needs of the configuration (from the recorded resolution). */
export interface Settings {
  readonly dataDir: string
  readonly dbPath: string
  readonly agent: string
  readonly busyTimeoutMs: number
  readonly root: string
  readonly prefix: string
  readonly portBase: number
  readonly blockSize: number
}

const sameJson = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b)

/** The resolved settings, or undefined when this path does not handle them. */
export const settings = (ctx: Context): Settings | undefined => {
  if (process.platform !== "linux") return no("not Linux")
  const dataDir = path.resolve(ctx.cwd, ctx.env.PARALLEL_CC_DATA_DIR || `${ctx.homeDir.replace(/\/+$/, "")}/.parallel-cc`)
  const rec = ConfigSnapshot.read(dataDir, ctx.env)
  if (rec === undefined) return no("no configuration recorded for these inputs")
  const v = rec.values
  for (const key of Object.keys(v)) {
    if (!HANDLED.has(key) && !IRRELEVANT.test(key) && !sameJson(v[key], rec.defaults[key])) return no(`setting ${key}`)
  }
  if (!sameJson(v["worktree.copy"], []) || !sameJson(v["worktree.setup"], []) || !sameJson(v["worktree.share"], [])) {
    return no("worktree.copy / worktree.setup / worktree.share")
  }
  const rawDb = ctx.dbFlag !== undefined ? ctx.dbFlag : ctx.env.PARALLEL_CC_DB_PATH
  const dbPath = rawDb !== undefined && rawDb !== "" ? path.resolve(ctx.cwd, rawDb) : path.join(dataDir, "coordinator.db")
  const str = (k: string) => (typeof v[k] === "string" ? (v[k] as string) : undefined)
  const int = (k: string) => (Number.isSafeInteger(v[k]) ? (v[k] as number) : undefined)
  const agent = str("agent")
  const root = str("worktree.root")
  const prefix = str("worktree.prefix")
  const busyTimeoutMs = int("db.busyTimeoutMs")
  const portBase = int("ports.base")
  const blockSize = int("ports.blockSize")
  if (
    agent === undefined || root === undefined || prefix === undefined || busyTimeoutMs === undefined ||
    portBase === undefined || blockSize === undefined
  ) return no("settings")
  return { dataDir, dbPath, agent, busyTimeoutMs, root, prefix, portBase, blockSize }
}

// ---- the store -----------------------------------------------------------------------------------------

/** The store when it exists at this build's schema version in WAL mode; else undefined. */
const openStore = (s: Settings): Database.Database | undefined => {
  let db: Database.Database | undefined
  try {
    db = new Database(s.dbPath, { fileMustExist: true, timeout: s.busyTimeoutMs })
    if (db.pragma("user_version", { simple: true }) !== LATEST_SCHEMA_VERSION) throw new Error("schema")
    if (db.pragma("journal_mode", { simple: true }) !== "wal") throw new Error("journal")
    db.pragma("synchronous = NORMAL")
    db.pragma("foreign_keys = ON")
    return db
  } catch {
    db?.close()
    return undefined
  }
}

/** Run `f` with the store open; undefined (declined) when it cannot be opened or `f` throws. */
const withStore = <A>(kept: KeptStore | undefined, s: Settings, f: (db: Database.Database) => A | undefined): A | undefined => {
  if (kept !== undefined) {
    // A kept connection is used again only for the same file, still at this build's schema version.
    if (kept.db !== undefined && (kept.path !== s.dbPath || !sameSchema(kept.db))) closeStore(kept)
    if (kept.db === undefined) {
      const db = openStore(s)
      if (db === undefined) return no("store not ready")
      kept.db = db
      kept.path = s.dbPath
    }
    return f(kept.db)
  }
  const db = openStore(s)
  if (db === undefined) return no("store not ready")
  try {
    return f(db)
  } finally {
    db.close()
  }
}

const sameSchema = (db: Database.Database): boolean => {
  try {
    return db.pragma("user_version", { simple: true }) === LATEST_SCHEMA_VERSION
  } catch {
    return false
  }
}

// ---- git -----------------------------------------------------------------------------------------------

interface GitResult {
  readonly ok: boolean
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

const git = (ctx: Context, cwd: string, args: ReadonlyArray<string>, extraEnv: Record<string, string> = {}): GitResult => {
  const r = spawnSync("git", args, {
    cwd,
    env: { ...ctx.env, LC_ALL: "C", GIT_TERMINAL_PROMPT: "0", ...extraEnv },
    encoding: "utf8",
    maxBuffer: 1 << 26
  })
  return { ok: r.error === undefined && r.status === 0, code: r.error === undefined ? r.status : null, stdout: r.stdout ?? "", stderr: r.stderr ?? "" }
}

const realpath = (p: string): string | undefined => {
  try {
    return fs.realpathSync(p)
  } catch {
    return undefined
  }
}

/** The key of the repository's worktree lock: its git common dir, as `Worktrees` computes it. */
const commonDirOf = (repoPath: string, fromGit: string | undefined): string | undefined => {
  try {
    if (fs.statSync(path.join(repoPath, ".git")).isDirectory()) return realpath(path.join(repoPath, ".git"))
  } catch {
    // Not a directory: what git says.
  }
  return fromGit !== undefined ? realpath(fromGit) : undefined
}

interface Lock {
  readonly held: RepoLock.Held
  readonly key: string
  readonly owner: string
}

/**
 * The repository's worktree lock: the kernel lock, then the store's lease (free unless a process of an
 * earlier release holds it; then this path declines rather than poll).
 */
const lock = (db: Database.Database, key: string): Lock | undefined => {
  const k = RepoLock.acquireSync(key, LOCK_WAIT_MS)
  if (k._tag !== "Held") return no(`kernel lock: ${k._tag === "Unavailable" ? k.detail : "timed out"}`)
  const owner = globalThis.crypto.randomUUID()
  try {
    const took = db.transaction(() => {
      if (db.prepare("SELECT 1 FROM worktree_locks WHERE lock_key = ?").get(key) !== undefined) return false
      db.prepare(
        "INSERT INTO worktree_locks (lock_key, owner, pid, pid_start_time, acquired_at) VALUES (?, ?, ?, ?, ?)"
      ).run(key, owner, process.pid, linuxStartTime(process.pid) ?? null, Date.now())
      return true
    }).immediate()
    if (took) return { held: k.held, key, owner }
  } catch {
    // Busy store: decline.
  }
  RepoLock.release(k.held)
  return no("lease held or store busy")
}

/**
 * A write that undoes what this process holds (its reservation, its lease): each attempt waits in SQLite's
 * busy handler for the busy timeout; a store busy for longer than that (a hundred starts at once on a
 * loaded machine) is tried again a few times. False when it still failed.
 */
const mustWrite = (write: () => void, attempts = 8): boolean => {
  for (let i = 0; i < attempts; i++) {
    try {
      write()
      return true
    } catch (e) {
      if ((e as { code?: unknown }).code !== "SQLITE_BUSY") return false
    }
  }
  return false
}

const unlock = (db: Database.Database, l: Lock) => {
  try {
    // Like `Worktrees`: a lease left behind belongs to a live pid only until this process ends.
    mustWrite(() => db.prepare("DELETE FROM worktree_locks WHERE lock_key = ? AND owner = ?").run(l.key, l.owner))
  } finally {
    RepoLock.release(l.held)
  }
}

// ---- register ------------------------------------------------------------------------------------------

interface Head {
  readonly repoPath: string
  readonly commonDir: string
  /** Where the repository's post-checkout hook would be. */
  readonly hookPath: string
  readonly baseCommit: string
  readonly baseBranch: string | null
}

/** The repository's top level, common dir, HEAD commit and branch, in one git call (as `Sessions.register`). */
const repoHead = (ctx: Context, dir: string): Head | undefined => {
  const r = git(ctx, dir, [
    "rev-parse",
    "--path-format=absolute",
    "--show-toplevel",
    "--git-common-dir",
    "--git-path",
    "hooks/post-checkout",
    "HEAD",
    "--symbolic-full-name",
    "HEAD",
    "--"
  ])
  if (!r.ok) return no("rev-parse of the repository")
  const [top = "", common = "", hookPath = "", sha = "", ref = ""] = r.stdout.split("\n").map((l) => l.trim())
  if (!top.startsWith("/") || !hookPath.startsWith("/") || !/^[0-9a-f]{40,64}$/.test(sha)) return undefined
  const commonDir = commonDirOf(top, common)
  if (commonDir === undefined) return undefined
  return {
    repoPath: top,
    commonDir,
    hookPath,
    baseCommit: sha,
    baseBranch: ref.startsWith("refs/heads/") ? ref.slice("refs/heads/".length) : null
  }
}

const provablyAlive = (r: Pick<Row, "pid" | "pid_start_time">) =>
  r.pid_start_time !== null && linuxStartTime(r.pid) === r.pid_start_time

/**
 * Reserve a session as `SessionStore.register` does (one `BEGIN IMMEDIATE` transaction): the row belongs to
 * this (registering) process and is not ready until {@link markReady}, so that a registration killed half-way
 * is recognised and undone by the next register, status or cleanup.
 */
const reserve = (
  db: Database.Database,
  s: Settings,
  head: Head,
  self: string,
  root: string,
  req: RegisterRequest,
  parent: string | null
): Row =>
  db.transaction((): Row => {
    const now = Date.now()
    const id = randomId()
    const active = db.prepare("SELECT is_main, port_base FROM sessions WHERE repo_path = ? AND status = 'active'")
      .all(head.repoPath) as Array<{ is_main: number; port_base: number | null }>
    const isMain = req.worktree !== "always" && !active.some((r) => r.is_main === 1)
    const sessionName = req.name ?? null
    // `SessionStore.register`'s `NameTaken` (or, for a kept worktree, the provider's re-entry) is the service's.
    if (
      sessionName !== null &&
      db.prepare("SELECT 1 FROM sessions WHERE repo_path = ? AND name = ? AND (status = 'active' OR kept_reason IS NOT NULL)")
          .get(head.repoPath, sessionName) !== undefined
    ) throw new Error("the session name is taken")
    const name = sessionName ?? `${s.prefix}${id}`
    const branch = sessionName !== null ? `parallel/${sessionName}` : name
    const used = new Set(active.map((r) => r.port_base))
    let block = 0
    while (used.has(s.portBase + block * s.blockSize) && s.portBase + (block + 1) * s.blockSize <= 65_535) block++
    db.prepare(
      `INSERT INTO sessions (id, repo_path, worktree_path, worktree_name, branch, is_main, pid, pid_start_time, mode,
         status, created_at, last_heartbeat, ended_at, port_base, base_commit, base_branch, name, parent_id, ready)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'local', 'active', ?, ?, NULL, ?, ?, ?, ?, ?, 0)`
    ).run(
      id,
      head.repoPath,
      isMain ? head.repoPath : `${root}/${name}`,
      isMain ? null : name,
      isMain ? null : branch,
      isMain ? 1 : 0,
      process.pid,
      self,
      now,
      now,
      s.portBase + block * s.blockSize,
      head.baseCommit,
      head.baseBranch,
      sessionName,
      parent
    )
    return db.prepare("SELECT * FROM sessions WHERE id = ?").get(id) as Row
  }).immediate()

/** Hand the reserved row to the session's process, ready (`SessionStore.markReady`); undefined when it is gone. */
const markReady = (db: Database.Database, id: string, pid: number, pidStartTime: string): Row | undefined =>
  db.prepare("UPDATE sessions SET ready = 1, pid = ?, pid_start_time = ? WHERE id = ? AND status = 'active' RETURNING *")
    .get(pid, pidStartTime, id) as Row | undefined

const isAbsoluteClean = (p: string) => path.isAbsolute(p) && !p.split(/[\\/]/).includes("..")

/** Undo a partial worktree made by {@link addWorktree} (the lock is held), as `Sessions` rolls back. */
const undoWorktree = (ctx: Context, head: Head, row: Row) => {
  if (fs.existsSync(row.worktree_path)) git(ctx, head.repoPath, ["worktree", "remove", "--force", "--force", "--", row.worktree_path])
  git(ctx, head.repoPath, ["worktree", "prune"])
  git(ctx, head.repoPath, ["update-ref", "-d", `refs/heads/${row.branch}`, head.baseCommit])
}

/**
 * Create the session's worktree as `Worktrees.create` does: its metadata (`git worktree add --no-checkout`)
 * under the repository's lock, then, outside it, the checkout `git worktree add` would run (`reset --hard`)
 * and the post-checkout hook. On failure, what it made is undone.
 */
const addWorktree = (ctx: Context, db: Database.Database, head: Head, row: Row): boolean => {
  const wt = row.worktree_path
  const l = lock(db, head.commonDir)
  if (l === undefined) return false
  try {
    if (fs.existsSync(wt)) return no("worktree path exists") ?? false
    const r = git(ctx, head.repoPath, ["worktree", "add", "--no-checkout", "-b", row.branch!, "--", wt, head.baseCommit])
    if (!r.ok) {
      const nothingCreated = /a branch named .* already exists|already checked out|is already used by worktree/.test(r.stderr)
      if (!nothingCreated && r.code !== null) undoWorktree(ctx, head, row)
      return no(`git worktree add: ${r.stderr.trim()}`) ?? false
    }
  } finally {
    unlock(db, l)
  }
  const ok = git(ctx, wt, ["reset", "--hard", "--no-recurse-submodules", "--quiet"]).ok &&
    (!fs.existsSync(head.hookPath) ||
      git(ctx, wt, ["hook", "run", "--ignore-missing", "post-checkout", "--", "0".repeat(head.baseCommit.length), head.baseCommit, "1"]).ok)
  if (ok) return true
  no("checkout or post-checkout hook failed")
  const again = lock(db, head.commonDir)
  if (again !== undefined) {
    try {
      undoWorktree(ctx, head, row)
    } finally {
      unlock(db, again)
    }
  }
  return false
}

/**
 * No sparse checkout, answered without a process as `worktreeContents` answers it: the repository's `.git`
 * is a folder with no `info/sparse-checkout` patterns file. False when git must be asked.
 */
const noSparseCheckout = (repoPath: string): boolean => {
  const dotGit = path.join(repoPath, ".git")
  try {
    if (!fs.statSync(dotGit).isDirectory()) return false
  } catch {
    return false
  }
  try {
    fs.lstatSync(path.join(dotGit, "info", "sparse-checkout"))
    return false
  } catch (e) {
    // Only a patterns file that is not there says "no sparse checkout"; any other error asks git.
    return (e as NodeJS.ErrnoException).code === "ENOENT"
  }
}

/**
 * Whether preparing the new worktree (`worktreePrepare`, as `Sessions.register` does) would do nothing: no
 * `.worktreeinclude`, no sparse checkout, and no submodules or Git LFS in the commit it starts from.
 */
const nothingToPrepare = (ctx: Context, head: Head, dataDir: string): boolean => {
  if (fs.existsSync(path.join(head.repoPath, INCLUDE_FILE))) return false
  if (!noSparseCheckout(head.repoPath)) {
    const sparse = git(ctx, head.repoPath, ["config", "--bool", "--get", "core.sparseCheckout"])
    if (sparse.code === null || sparse.code > 1 || sparse.stdout.trim() === "true") return false
  }
  const known = plainCommits(ctx, head, dataDir)
  if (known?.list.includes(head.baseCommit) === true) return true
  const found = git(ctx, head.repoPath, [
    "grep",
    "-l",
    "-i",
    "-F",
    "-e",
    "filter=lfs",
    "-e",
    "[submodule",
    head.baseCommit,
    "--",
    ":(glob)**/.gitattributes",
    ".gitattributes",
    ".gitmodules"
  ])
  if (found.code === 1 && known !== undefined) known.add(head.baseCommit)
  return found.code === 1
}

const PLAIN_COMMITS = "plain-commits"
const PLAIN_COMMITS_KEPT = 64

/**
 * The last commits found to have no LFS filter and no submodule (`<dataDir>/cache/plain-commits`, one per
 * line): what `git grep` answers for a commit cannot change, so a session starting from one of them needs
 * no `git grep`. Undefined (always ask git) when the repository has replace refs or grafts, which can
 * change what a commit's tree is.
 */
const plainCommits = (ctx: Context, head: Head, dataDir: string) => {
  try {
    if (ctx.env.GIT_REPLACE_REF_BASE !== undefined) return undefined
    const common = head.commonDir
    if (fs.existsSync(path.join(common, "refs", "replace")) || fs.existsSync(path.join(common, "info", "grafts"))) return undefined
    const packed = path.join(common, "packed-refs")
    if (fs.existsSync(packed) && fs.readFileSync(packed, "utf8").includes(" refs/replace/")) return undefined
    const file = path.join(dataDir, "cache", PLAIN_COMMITS)
    const list = fs.existsSync(file) ? fs.readFileSync(file, "utf8").split("\n").filter((l) => /^[0-9a-f]{40,64}$/.test(l)) : []
    const add = (sha: string) => {
      try {
        fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 })
        const tmp = `${file}.${process.pid}.tmp`
        fs.writeFileSync(tmp, [...list.filter((l) => l !== sha), sha].slice(-PLAIN_COMMITS_KEPT).join("\n") + "\n", { mode: 0o600 })
        fs.renameSync(tmp, file)
      } catch {
        // A cache: the next start asks git again.
      }
    }
    return { list, add }
  } catch {
    return undefined
  }
}

/** The session's directory, linked with the other live sessions of the repository (as `SessionFiles`). */
const createSessionDir = (db: Database.Database, dataDir: string, row: Row): string => {
  const root = path.join(dataDir, LIVE_DIR)
  const dir = path.join(root, row.id)
  try {
    fs.mkdirSync(root, { recursive: true, mode: 0o700 })
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
    fs.chmodSync(dir, 0o700)
    for (const sub of [Layout.notices, Layout.sent, Layout.claims, Layout.changes, Layout.peers]) {
      fs.mkdirSync(path.join(dir, sub), { recursive: true, mode: 0o700 })
    }
    fs.writeFileSync(path.join(dir, Layout.worktree), `${row.worktree_path}\n`, { mode: 0o600 })
    fs.writeFileSync(path.join(dir, Layout.repo), `${row.repo_path}\n`, { mode: 0o600 })
    if (!fs.existsSync(path.join(dir, Layout.state))) fs.writeFileSync(path.join(dir, Layout.state), "starting\n", { mode: 0o600 })
    const peers = (db.prepare("SELECT id FROM sessions WHERE repo_path = ? AND status = 'active' AND id <> ?")
      .all(row.repo_path, row.id) as Array<{ id: string }>).map((r) => r.id)
    const link = (from: string, to: string) => {
      try {
        fs.symlinkSync(path.join("..", "..", to), path.join(root, from, Layout.peers, to))
      } catch {
        // Like `SessionFiles.linkPeer`: a link that exists, or a peer without a directory, is fine.
      }
    }
    for (const p of peers) link(row.id, p)
    for (const p of peers) if (fs.existsSync(path.join(root, p))) link(p, row.id)
  } catch (e) {
    process.stderr.write(`warning: could not create the session directory of ${row.id}: ${(e as Error).message}\n`)
  }
  return dir
}

/**
 * Make the reserved session's worktree and heartbeat file and hand the row to `pid`, ready; when anything
 * fails, what was made is undone and the reservation deleted (undefined). Should this process be killed
 * half-way, the row stays not ready with this process's pid: the next register, status or cleanup undoes it.
 */
const complete = (
  ctx: Context,
  db: Database.Database,
  s: Settings,
  head: Head,
  row: Row,
  pid: number,
  pidStartTime: string
): Row | undefined => {
  let made = false
  const giveUp = (why: string) => {
    if (made) {
      const l = lock(db, head.commonDir)
      if (l !== undefined) {
        try {
          undoWorktree(ctx, head, row)
        } finally {
          unlock(db, l)
        }
      }
    }
    // Should even that fail, the row is left not ready with this process's pid: the next register, status
    // or cleanup undoes it once this process is gone. Until then it would hold what it reserved (the
    // repository itself, for the main session), so a busy store is waited for again first.
    mustWrite(() => db.prepare("DELETE FROM sessions WHERE id = ?").run(row.id))
    fs.rmSync(path.join(s.dataDir, "heartbeats", row.id), { force: true })
    return no(why)
  }
  try {
    if (row.is_main !== 1 && !nothingToPrepare(ctx, head, s.dataDir)) {
      return giveUp("the new worktree needs preparing (.worktreeinclude, sparse checkout, submodules or LFS)")
    }
    if (row.is_main !== 1 && !addWorktree(ctx, db, head, row)) return giveUp(`worktree: ${declined ?? "not created"}`)
    made = row.is_main !== 1
    const heartbeatFile = path.join(s.dataDir, "heartbeats", row.id)
    try {
      fs.mkdirSync(path.dirname(heartbeatFile), { recursive: true, mode: 0o700 })
      fs.writeFileSync(heartbeatFile, "", { mode: 0o600 })
    } catch (e) {
      process.stderr.write(`warning: could not create the heartbeat file of ${row.id}: ${(e as Error).message}\n`)
    }
    return markReady(db, row.id, pid, pidStartTime) ?? giveUp("the reservation was released meanwhile")
  } catch (e) {
    return giveUp(`register: ${(e as Error).message}`)
  }
}

export interface RegisterRequest {
  /** An existing directory inside the repository. */
  readonly repo: string
  readonly pid: number
  /** `always`: a worktree even when the repository is free (`Sessions.register`'s `worktree: "always"`). */
  readonly worktree?: "always" | undefined
  /** A session name, already valid (`checkSessionName`) and a plain branch name: folder NAME, branch `parallel/NAME`. */
  readonly name?: string | undefined
  /** Link the new session to the first active session of `pid` in the repository (as the worktree provider does). */
  readonly parentFromPid?: boolean | undefined
}

/**
 * Register a session for `pid` in the repository containing `repo` (an existing directory), or undefined
 * when the `Sessions` service must (nothing is left behind then).
 */
export const register = (ctx: Context, req: RegisterRequest): Registered | undefined => {
  const s = settings(ctx)
  if (s === undefined) return undefined
  const head = repoHead(ctx, req.repo)
  if (head === undefined) return undefined
  const pidStartTime = linuxStartTime(req.pid)
  if (pidStartTime === undefined) return no("pid not running")
  const self = linuxStartTime(process.pid)
  if (self === undefined) return no("no start time of this process")
  const root = (s.root !== "" ? s.root : `${head.repoPath}-worktrees`).replace(/\/+$/, "")
  if (!isAbsoluteClean(root) || !plainBranchName.test(`${s.prefix}x`)) return undefined
  return withStore(ctx.store, s, (db) => {
    const active = db.prepare("SELECT pid, pid_start_time FROM sessions WHERE repo_path = ? AND status = 'active'")
      .all(head.repoPath) as Array<Pick<Row, "pid" | "pid_start_time">>
    // A session to sweep is the service's to release (and to report).
    if (!active.every(provablyAlive)) return no("a session to sweep")
    // `WorktreeProvider.create`: the requesting process's session in this repository, first as stored.
    const parent = req.parentFromPid === true
      ? (db.prepare("SELECT id, repo_path FROM sessions WHERE pid = ? AND status = 'active'").all(req.pid) as Array<Pick<Row, "id" | "repo_path">>)
        .find((r) => r.repo_path === head.repoPath)?.id ?? null
      : null
    let reserved: Row
    try {
      reserved = reserve(db, s, head, self, root, req, parent)
    } catch (e) {
      return no(`reservation: ${(e as Error).message}`)
    }
    const row = complete(ctx, db, s, head, reserved, req.pid, pidStartTime)
    if (row === undefined) return undefined
    const heartbeatFile = path.join(s.dataDir, "heartbeats", row.id)
    const sessionDir = createSessionDir(db, s.dataDir, row)
    const slug = sessionSlug(row.repo_path, row.id)
    const env: Record<string, string> = {
      PARALLEL_CC_SESSION_ID: row.id,
      PARALLEL_CC_WORKTREE: row.worktree_path,
      PARALLEL_CC_HEARTBEAT_FILE: heartbeatFile,
      PARALLEL_CC_SLUG: slug,
      COMPOSE_PROJECT_NAME: slug,
      PARALLEL_CC_SESSION_DIR: sessionDir
    }
    if (row.port_base !== null) {
      env.PARALLEL_CC_PORT_BASE = String(row.port_base)
      env.PARALLEL_CC_PORT_COUNT = String(s.blockSize)
    }
    return {
      row,
      registration: {
        sessionId: row.id,
        isMainRepo: row.is_main === 1,
        worktreePath: row.worktree_path,
        worktreeName: row.worktree_name,
        branch: row.branch,
        repoPath: row.repo_path,
        name: row.name,
        baseCommit: row.base_commit,
        reentered: false
      },
      heartbeatFile,
      sessionDir,
      env,
      portCount: s.blockSize
    }
  })
}

/** Hand a session to another running process (`Sessions.attach`); false when the service must. */
export const attach = (ctx: Context, sessionId: string, pid: number, agent?: string | undefined): boolean => {
  const s = settings(ctx)
  const start = linuxStartTime(pid)
  if (s === undefined || start === undefined || !sessionIdPattern.test(sessionId)) return false
  return withStore(ctx.store, s, (db) =>
    (agent === undefined
      ? db.prepare("UPDATE sessions SET pid = ?, pid_start_time = ? WHERE id = ? AND status = 'active' RETURNING id")
        .all(pid, start, sessionId)
      : db.prepare("UPDATE sessions SET pid = ?, pid_start_time = ?, agent = ? WHERE id = ? AND status = 'active' RETURNING id")
        .all(pid, start, agent, sessionId)).length === 1) === true
}

// ---- heartbeat -----------------------------------------------------------------------------------------

/** Record a heartbeat (`Sessions.heartbeat`): how many sessions it touched, or undefined when the service must answer. */
export const heartbeat = (ctx: Context, selector: { readonly sessionId: string } | { readonly pid: number }): number | undefined => {
  const s = settings(ctx)
  if (s === undefined) return undefined
  if ("sessionId" in selector && !sessionIdPattern.test(selector.sessionId)) return undefined
  return withStore(ctx.store, s, (db) => {
    const now = Date.now()
    const update = db.prepare("UPDATE sessions SET last_heartbeat = ? WHERE id = ? AND status = 'active' RETURNING id")
    if ("sessionId" in selector) return update.all(now, selector.sessionId).length === 1 ? 1 : undefined
    const ids = db.prepare("SELECT id FROM sessions WHERE pid = ? AND status = 'active'").all(selector.pid) as Array<{ id: string }>
    if (ids.length === 0) return undefined
    for (const { id } of ids) update.run(now, id)
    return ids.length
  })
}

// ---- release -------------------------------------------------------------------------------------------

/** End the session and its claims atomically (`SessionStore.beginRelease` + `ClaimsLedger.releaseSession`). */
const beginRelease = (db: Database.Database, id: string): Row | undefined =>
  db.transaction((): Row | undefined => {
    const now = Date.now()
    const row = db.prepare(
      `UPDATE sessions SET status = 'released', ended_at = ?, release_reason = 'released',
         kept_reason = CASE WHEN is_main = 1 THEN NULL ELSE ? END
       WHERE id = ? AND status = 'active' AND ready = 1 RETURNING *`
    ).get(now, RELEASE_IN_PROGRESS, id) as Row | undefined
    if (row === undefined) return undefined
    db.prepare(
      `UPDATE file_claims SET released_at = ?, release_reason = 'session-ended'
       WHERE session_id = ? AND released_at IS NULL AND expires_at > ?`
    ).run(now, id, now)
    db.prepare(
      "UPDATE file_claims SET released_at = expires_at, release_reason = 'expired' WHERE session_id = ? AND released_at IS NULL"
    ).run(id)
    return row
  }).immediate()

/** What the inspection of a pristine worktree says it would throw away (`worktreeInspect`, keys in its order). */
const nothingDiscarded = (): NoDiscard => ({ uncommitted: [], untracked: [], ignored: [], nested: [], commits: [] })

const released = (
  row: Row,
  worktree: Released["worktree"],
  kept: Released["kept"],
  branchOutcome: Released["branchOutcome"]
): Released => ({
  sessionId: row.id,
  name: row.name,
  repoPath: row.repo_path,
  worktreePath: row.worktree_path,
  branch: row.branch,
  isMainRepo: row.is_main === 1,
  reason: "released",
  worktree,
  kept,
  branchOutcome,
  // A pristine worktree threw nothing away; the main session and a kept worktree have nothing removed.
  discarded: worktree === "removed" ? nothingDiscarded() : null,
  liveness: null,
  previouslyReleased: false,
  interrupted: false
})

const noLocks = { GIT_OPTIONAL_LOCKS: "0" }

/**
 * The worktree's HEAD as `git rev-parse` in it would say it (top level, common dir, HEAD's branch and
 * commit), read from the files git reads — `<wt>/.git`, its administrative folder's `commondir`, `gitdir`
 * and `HEAD`, the branch's ref — when they are plainly the layout `git worktree add` makes; undefined for
 * anything else (an environment that points git elsewhere, per-worktree configuration, another ref store),
 * and then git is asked.
 */
const headFromFiles = (ctx: Context, wt: string, commonDir: string): { readonly sha: string; readonly ref: string } | undefined => {
  try {
    if (["GIT_DIR", "GIT_WORK_TREE", "GIT_COMMON_DIR", "GIT_INDEX_FILE"].some((k) => ctx.env[k] !== undefined)) return undefined
    const dotGit = path.join(wt, ".git")
    const link = /^gitdir: ([^\n]+)\n?$/.exec(fs.readFileSync(dotGit, "utf8"))?.[1]
    if (link === undefined) return undefined
    const admin = path.resolve(wt, link)
    if (fs.existsSync(path.join(admin, "config.worktree"))) return undefined
    const common = fs.readFileSync(path.join(admin, "commondir"), "utf8").replace(/\n$/, "")
    if (common.includes("\n") || realpath(path.resolve(admin, common)) !== commonDir) return undefined
    const back = fs.readFileSync(path.join(admin, "gitdir"), "utf8").replace(/\n$/, "")
    if (back.includes("\n") || realpath(path.resolve(admin, back)) !== realpath(dotGit)) return undefined
    const ref = /^ref: (refs\/heads\/[^\n]+)\n?$/.exec(fs.readFileSync(path.join(admin, "HEAD"), "utf8"))?.[1]
    if (ref === undefined) return undefined
    const sha = readBranch(commonDir, ref.slice("refs/heads/".length))
    return sha !== undefined ? { sha, ref } : undefined
  } catch {
    return undefined
  }
}

/** The worktree's HEAD (branch and commit) through `git rev-parse`, checking its top level and common dir. */
const headFromGit = (ctx: Context, wt: string, commonDir: string): { readonly sha: string; readonly ref: string } | undefined => {
  const where = git(ctx, wt, [
    "rev-parse",
    "--path-format=absolute",
    "--show-toplevel",
    "--git-common-dir",
    "HEAD",
    "--symbolic-full-name",
    "HEAD"
  ], noLocks)
  if (!where.ok) return undefined
  const [top = "", common = "", sha = "", ref = ""] = where.stdout.split("\n").map((l) => l.trim())
  return realpath(top) === realpath(wt) && realpath(common) === commonDir ? { sha, ref } : undefined
}

/**
 * The tip of the session's branch when its worktree is pristine — the checked-out branch is the session's,
 * nothing is changed, untracked or ignored in it, and no commit of the branch is on no other ref — else
 * undefined. Read-only: no index refresh, no lock files. HEAD is read from files when they are plain (else
 * git); a tip that is also the tip of the branch the session started from has every commit on that branch,
 * so git is asked for the commits on no other ref only otherwise.
 */
const pristineTip = (ctx: Context, row: Row, commonDir: string): string | undefined => {
  const branch = row.branch
  const wt = row.worktree_path
  if (branch === null || !plainBranchName.test(branch) || branch === "HEAD" || wt === row.repo_path) return undefined
  // A worktree with submodules is the service's (it looks for commits only in their branches).
  if (fs.existsSync(path.join(wt, ".gitmodules"))) return undefined
  const head = headFromFiles(ctx, wt, commonDir) ?? headFromGit(ctx, wt, commonDir)
  if (head === undefined) return undefined
  const { sha, ref } = head
  if (ref !== `refs/heads/${branch}` || !/^[0-9a-f]{40,64}$/.test(sha)) return undefined
  const onBase = row.base_branch !== null && row.base_branch !== branch && readBranch(commonDir, row.base_branch) === sha
  if (!onBase) {
    const unique = git(ctx, row.repo_path, ["rev-list", "--count", sha, "--not", `--exclude=${branch}`, "--branches", "--remotes", "--tags"])
    if (!unique.ok || unique.stdout.trim() !== "0") return undefined
  }
  const status = git(ctx, wt, [
    "status",
    "--porcelain=v1",
    "-z",
    "--untracked-files=normal",
    "--ignored=traditional",
    "--ignore-submodules=none"
  ], noLocks)
  return status.ok && status.stdout === "" ? sha : undefined
}

type BranchOutcome = NonNullable<Released["branchOutcome"]>

/**
 * Why a branch with no commits of its own may go, in the words of `worktreeInspect.deletable`: never
 * "merged" unless another local branch has its tip. Undefined when git cannot tell.
 */
const deletable = (ctx: Context, row: Row, tip: string): Pick<BranchOutcome, "why" | "detail"> | undefined => {
  // A branch still at the commit it started from is its own ancestor: no git needed to say so.
  if (row.base_commit === tip) return { why: "no-commits", detail: "it had no commits of its own" }
  if (row.base_commit !== null) {
    const behind = git(ctx, row.repo_path, ["merge-base", "--is-ancestor", tip, row.base_commit])
    if (behind.code === 0) return { why: "no-commits", detail: "it had no commits of its own" }
    if (behind.code !== 1 && behind.code !== 128) return undefined
  }
  const holders = git(ctx, row.repo_path, ["for-each-ref", "--contains", tip, "--format=%(refname:short)", "refs/heads/"])
  if (!holders.ok) return undefined
  const others = holders.stdout.split("\n").filter((b) => b !== "" && b !== row.branch)
  const target = row.base_branch
  const into = target !== null && others.includes(target) ? [target] : others
  return others.length > 0
    ? { why: "merged", detail: `merged into ${into.slice(0, 3).join(", ")}${into.length > 3 ? ", …" : ""}` }
    : { why: "elsewhere", detail: "its commits are on a remote branch or tag" }
}

/**
 * Where `name` is checked out, read from the worktrees' HEAD files as `git worktree list` reads them: the
 * worktree's path, null when nowhere; undefined when anything is not plainly a branch or commit (a bare
 * repository, another ref store, a file that cannot be read), and then git is asked.
 */
const checkedOutAt = (row: Row, commonDir: string, name: string): { readonly at: string | null } | undefined => {
  try {
    if (realpath(path.join(row.repo_path, ".git")) !== commonDir) return undefined
    const heads: Array<readonly [string, string]> = [[row.repo_path, path.join(commonDir, "HEAD")]]
    const admin = path.join(commonDir, "worktrees")
    for (const n of fs.existsSync(admin) ? fs.readdirSync(admin) : []) {
      const gitdir = fs.readFileSync(path.join(admin, n, "gitdir"), "utf8").replace(/\n$/, "")
      if (!gitdir.startsWith("/") || !gitdir.endsWith("/.git") || gitdir.includes("\n")) return undefined
      heads.push([gitdir.slice(0, -"/.git".length), path.join(admin, n, "HEAD")])
    }
    for (const [wt, file] of heads) {
      const text = fs.readFileSync(file, "utf8")
      const ref = /^ref: (refs\/heads\/[^\n]+)\n?$/.exec(text)?.[1]
      if (ref === undefined ? !/^[0-9a-f]{40,64}\n?$/.test(text) : ref === "refs/heads/.invalid") return undefined
      if (ref === `refs/heads/${name}`) return { at: wt }
    }
    return { at: null }
  } catch {
    return undefined
  }
}

/** Delete the session's branch as `Worktrees` does: not when checked out elsewhere; compare-and-delete. */
const deleteBranch = (ctx: Context, row: Row, tip: string, commonDir: string): BranchOutcome => {
  const name = row.branch!
  let at = checkedOutAt(row, commonDir, name)?.at
  if (at === undefined) {
    const list = git(ctx, row.repo_path, ["worktree", "list", "--porcelain", "-z"])
    if (!list.ok) return { name, outcome: "kept", why: null, tip, detail: "git refused: could not list the worktrees" }
    const entries = list.stdout.split("\0\0").map((e) => e.split("\0"))
    const elsewhere = entries.find((e) => e.includes(`branch refs/heads/${name}`))
    at = elsewhere !== undefined ? (elsewhere[0] ?? "").replace(/^worktree /, "") : null
  }
  if (at !== null) return { name, outcome: "kept", why: null, tip, detail: `checked out at ${at}` }
  const reason = deletable(ctx, row, tip)
  if (reason === undefined) return { name, outcome: "kept", why: null, tip, detail: "git refused: could not tell where its commits are" }
  const r = git(ctx, row.repo_path, ["update-ref", "-d", `refs/heads/${name}`, tip])
  return r.ok
    ? { name, outcome: "deleted", ...reason, tip }
    : { name, outcome: "kept", why: null, tip, detail: `git refused: ${r.stderr.trim()}` }
}

/** A kept worktree as `Sessions` reports it; `inspected`: after the (pristine) inspection, else after an error. */
const keptOf = (row: Row, detail: string, inspected: boolean): NonNullable<Released["kept"]> => ({
  path: row.worktree_path,
  branch: row.branch,
  repoPath: row.repo_path,
  baseBranch: row.base_branch,
  name: row.name,
  detail,
  changeCount: 0,
  untrackedCount: 0,
  uniqueCommits: 0,
  detachedCommits: 0,
  discarded: inspected ? nothingDiscarded() : null
})

/** Remove a pristine worktree and its branch (the lock is held); the outcome as `Sessions` reports it. */
const removeWorktree = (ctx: Context, row: Row, tip: string, commonDir: string): Released => {
  try {
    const r = git(ctx, row.repo_path, ["worktree", "remove", "--", row.worktree_path])
    if (!r.ok) {
      const detail = `git refused to remove it: ${r.stderr.trim().split("\n").slice(-1)[0] ?? ""}`
      return released(row, "kept", keptOf(row, detail, true), null)
    }
    const branch = deleteBranch(ctx, row, tip, commonDir)
    // The default `<repo>-worktrees` folder goes with its last worktree.
    const parent = path.dirname(row.worktree_path)
    try {
      if (parent === `${row.repo_path}-worktrees` && fs.readdirSync(parent).length === 0) fs.rmSync(parent, { recursive: true })
    } catch {
      // Like `Sessions`: a folder that stays is harmless.
    }
    return released(row, "removed", null, branch)
  } catch (e) {
    return released(row, "kept", keptOf(row, `could not check it: ${(e as Error).message}`, false), null)
  }
}

/** Release one active session; undefined (nothing written) when the service must. */
/** Unlink the session from the other live sessions of its repository, then remove its directory. */
const removeSessionDir = (db: Database.Database, dataDir: string, row: Row) => {
  const root = path.join(dataDir, LIVE_DIR)
  try {
    const peers = db.prepare("SELECT id FROM sessions WHERE repo_path = ? AND status = 'active'").all(row.repo_path) as Array<{ id: string }>
    for (const p of peers) fs.rmSync(path.join(root, p.id, Layout.peers, row.id), { force: true })
  } catch {
    // Like `Sessions`: a dangling link is harmless.
  }
  fs.rmSync(path.join(root, row.id), { recursive: true, force: true })
}

const releaseOne = (ctx: Context, s: Settings, db: Database.Database, row: Row): Released | undefined => {
  const hbFile = path.join(s.dataDir, "heartbeats", row.id)
  if (row.is_main === 1 || row.worktree_name === null) {
    const ended = beginRelease(db, row.id)
    if (ended === undefined) return undefined
    fs.rmSync(hbFile, { force: true })
    removeSessionDir(db, s.dataDir, ended)
    return released(ended, "main", null, null)
  }
  const commonDir = commonDirOf(row.repo_path, undefined)
  if (commonDir === undefined) return undefined
  const l = lock(db, commonDir)
  if (l === undefined) return undefined
  try {
    const tip = pristineTip(ctx, row, commonDir)
    if (tip === undefined) return no("worktree not pristine")
    const ended = beginRelease(db, row.id)
    if (ended === undefined) return undefined
    fs.rmSync(hbFile, { force: true })
    removeSessionDir(db, s.dataDir, ended)
    const result = removeWorktree(ctx, ended, tip, commonDir)
    db.prepare("UPDATE sessions SET kept_reason = ? WHERE id = ? AND status = 'released'").run(result.kept?.detail ?? null, row.id)
    return result
  } finally {
    unlock(db, l)
  }
}

/**
 * Release one active session (by id, or the only active session of a pid) under the never-lose-work rule,
 * without force; undefined when the `Sessions` service must (anything but a main session or a pristine
 * worktree, several sessions of one pid, an unknown or ended session).
 */
export const release = (
  ctx: Context,
  selector: { readonly sessionId: string } | { readonly pid: number }
): ReadonlyArray<Released> | undefined => {
  const s = settings(ctx)
  if (s === undefined) return undefined
  if ("sessionId" in selector && !sessionIdPattern.test(selector.sessionId)) return undefined
  return withStore(ctx.store, s, (db) => {
    const rows = ("sessionId" in selector
      ? db.prepare("SELECT * FROM sessions WHERE id = ? AND status = 'active'").all(selector.sessionId)
      : db.prepare("SELECT * FROM sessions WHERE pid = ? AND status = 'active'").all(selector.pid)) as Array<Row>
    if (rows.length !== 1 || rows[0]!.mode !== "local") return no("not exactly one active local session")
    // A registration that never finished is undone by the service.
    if (rows[0]!.ready !== 1) return no("registration not finished")
    try {
      const r = releaseOne(ctx, s, db, rows[0]!)
      return r === undefined ? undefined : [r]
    } catch (e) {
      return no(`release: ${(e as Error).message}`)
    }
  })
}
