/**
 * Worktrees over native `git worktree`: create, list, inspect, remove, prune.
 *
 * - Every branch name from outside goes through `Git.checkBranchName`; `--` separates options from paths.
 * - `git worktree add/remove/list` of one repository run one at a time: in this process with a semaphore
 *   per repository, across processes with a lease row in the store (`worktree_locks`, taken in a
 *   `BEGIN IMMEDIATE` transaction; a lease whose owner process is gone is taken over). Concurrent
 *   `git worktree add` calls on one repository fail at random ("failed to read .git/worktrees/…/commondir")
 *   because each reads the others' half-written metadata.
 * - Never lose work: `remove` inspects first and keeps a worktree that has uncommitted changes, untracked
 *   files that are not ignored, commits at a detached HEAD on no branch, or a branch with commits contained
 *   in no other branch, tag or remote — unless forced. A branch is deleted only when every commit on it is
 *   also elsewhere (or when forced), with a compare-and-delete so a concurrent commit is never lost.
 *
 * @since 0.1.0
 */
import { FileSystem, Path } from "@effect/platform"
import { Context, Duration, Effect, Layer, Schema } from "effect"
import { Database, type DbFailure, decodeRows } from "../platform/Database.js"
import { InvalidInput } from "../Errors.js"
import { Git, type GitError } from "../platform/Git.js"
import { Processes } from "../platform/Processes.js"

/** A worktree operation failed; the message says what to do. */
export class WorktreeError extends Schema.TaggedError<WorktreeError>()("WorktreeError", {
  reason: Schema.Literal(
    "NoCommits",
    "BadStartPoint",
    "PathExists",
    "BranchExists",
    "BranchCheckedOut",
    "NotAWorktree",
    "MainWorktree",
    "LockTimeout",
    "GitFailed"
  ),
  path: Schema.String,
  detail: Schema.optional(Schema.String)
}) {
  override get message(): string {
    const d = this.detail !== undefined && this.detail !== "" ? `: ${this.detail}` : ""
    switch (this.reason) {
      case "NoCommits":
        return `the repository ${this.path} has no commits yet, so there is nothing to start a worktree from; make a first commit`
      case "BadStartPoint":
        return `cannot start a worktree at ${this.path} from that commit${d}`
      case "PathExists":
        return `${this.path} already exists; remove it or choose another worktree.root / worktree.prefix`
      case "BranchExists":
        return `cannot create the worktree ${this.path}: the branch already exists${d}`
      case "BranchCheckedOut":
        return `cannot create the worktree ${this.path}: the branch is checked out in another worktree${d}`
      case "NotAWorktree":
        return `${this.path} is not a git worktree of this repository${d}; it was left untouched`
      case "MainWorktree":
        return `${this.path} is the repository's main working tree; it is never removed`
      case "LockTimeout":
        return `timed out waiting for another process's git worktree operation on ${this.path}${d}; retry, or run ` +
          "`parallel-cc cleanup` if that process is gone"
      case "GitFailed":
        return `git worktree operation on ${this.path} failed${d}`
    }
  }
}

/** One entry of `git worktree list`. */
export interface WorktreeInfo {
  readonly path: string
  readonly head: string | null
  /** The checked-out branch (short name), or null when detached. */
  readonly branch: string | null
  readonly isMain: boolean
  readonly locked: string | null
  readonly prunable: string | null
}

export interface CreateRequest {
  /** Any directory of the repository (its top level is usual). */
  readonly repoPath: string
  /** Absolute path of the new worktree; it must not exist yet. */
  readonly path: string
  /** Branch to create (default) or, with `createBranch: false`, an existing branch to check out. */
  readonly branch: string
  /** Commit-ish the new branch starts from (default: the repository's HEAD). */
  readonly startPoint?: string | undefined
  readonly createBranch?: boolean | undefined
}

export interface Created {
  readonly path: string
  readonly branch: string
  readonly head: string
}

export interface InspectRequest {
  readonly repoPath: string
  readonly path: string
  /** A branch whose commits must not be lost (the session's own branch). */
  readonly branch?: string | null | undefined
  /**
   * Untracked files identical to the file at the same path in this directory are copies (for example the
   * `.env` files copied in by `worktree.copy`), not work; they do not keep the worktree.
   */
  readonly copiesFrom?: string | undefined
}

/** Everything in a worktree that removing it (and its branch) could lose. */
export interface Inspection {
  readonly path: string
  readonly exists: boolean
  /** The directory is the top level of a linked worktree of this repository. */
  readonly isWorktree: boolean
  readonly head: string | null
  /** The branch checked out in the worktree (null when detached or unknown). */
  readonly headBranch: string | null
  /** Tracked files with staged or unstaged changes (at most 20 listed). */
  readonly changes: ReadonlyArray<string>
  readonly changeCount: number
  /** Untracked files that are not ignored and are not copies (at most 20 listed). */
  readonly untracked: ReadonlyArray<string>
  readonly untrackedCount: number
  /** Untracked files that are byte-identical copies of the repository's own. */
  readonly copies: number
  /** Commits at a detached HEAD that no branch, tag or remote contains. */
  readonly detachedCommits: number
  readonly branch: string | null
  readonly branchTip: string | null
  /** Commits on `branch` that no other branch, tag or remote contains. */
  readonly uniqueCommits: number
  /** Removing the worktree and its branch would lose nothing. */
  readonly lossless: boolean
  /** "2 uncommitted changes, 1 untracked file, 3 commits only on branch x", or "clean". */
  readonly summary: string
}

export interface RemoveRequest extends InspectRequest {
  /** Remove even when work would be lost, and delete the branch even when unmerged. */
  readonly force?: boolean | undefined
}

export interface BranchOutcome {
  readonly name: string
  readonly outcome: "deleted" | "kept" | "absent"
  /** The tip before deletion (to recover a force-deleted branch: `git branch <name> <tip>`). */
  readonly tip: string | null
  readonly detail: string
}

export interface RemoveResult {
  /** `removed`; `kept` (work in it, or git refused); `missing` (the directory was already gone). */
  readonly outcome: "removed" | "kept" | "missing"
  readonly inspection: Inspection
  readonly branch: BranchOutcome | null
  /** Why it was kept (the inspection summary, or git's refusal). */
  readonly detail: string
}

export class Worktrees extends Context.Tag("@parallel-cc/core/Worktrees")<Worktrees, {
  /** Create a worktree at `path` on a new branch (or an existing one). */
  readonly create: (req: CreateRequest) => Effect.Effect<Created, WorktreeError | InvalidInput | GitError | DbFailure>
  /** Every worktree of the repository, the main one first. */
  readonly list: (repoPath: string) => Effect.Effect<ReadonlyArray<WorktreeInfo>, GitError | WorktreeError | DbFailure>
  /** What removing the worktree would lose. Read-only (no index refresh, no locks). */
  readonly inspect: (req: InspectRequest) => Effect.Effect<Inspection, GitError | InvalidInput>
  /** Remove the worktree unless that loses work (or `force`); delete `branch` when fully merged (or `force`). */
  readonly remove: (req: RemoveRequest) => Effect.Effect<RemoveResult, WorktreeError | GitError | InvalidInput | DbFailure>
  /** Drop the metadata of worktrees whose directory is gone; returns git's report lines. */
  readonly prune: (repoPath: string, options?: { readonly dryRun?: boolean }) => Effect.Effect<ReadonlyArray<string>, GitError | WorktreeError | DbFailure>
  /**
   * Run `effect` holding the repository's worktree lock (in-process semaphore + cross-process lease), for
   * callers that run their own `git worktree` commands.
   */
  readonly withLock: (repoPath: string) => <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | GitError | WorktreeError | DbFailure, R>
}>() {}

/** Parse `git worktree list --porcelain -z`. */
export const parseWorktreeList = (out: string): ReadonlyArray<WorktreeInfo> => {
  const result: Array<WorktreeInfo> = []
  let cur: { path?: string; head: string | null; branch: string | null; locked: string | null; prunable: string | null } | undefined
  const flush = () => {
    if (cur?.path !== undefined) {
      result.push({ path: cur.path, head: cur.head, branch: cur.branch, isMain: result.length === 0, locked: cur.locked, prunable: cur.prunable })
    }
    cur = undefined
  }
  for (const line of out.split("\0")) {
    if (line === "") {
      flush()
      continue
    }
    cur ??= { head: null, branch: null, locked: null, prunable: null }
    const sp = line.indexOf(" ")
    const key = sp < 0 ? line : line.slice(0, sp)
    const value = sp < 0 ? "" : line.slice(sp + 1)
    if (key === "worktree") cur.path = value
    else if (key === "HEAD") cur.head = value
    else if (key === "branch") cur.branch = value.replace(/^refs\/heads\//, "")
    else if (key === "locked") cur.locked = value
    else if (key === "prunable") cur.prunable = value
  }
  flush()
  return result
}

/** Parse `git status --porcelain=v1 -z`: tracked changes and untracked paths. */
export const parseStatus = (out: string): { readonly changes: Array<string>; readonly untracked: Array<string> } => {
  const changes: Array<string> = []
  const untracked: Array<string> = []
  const parts = out.split("\0")
  for (let i = 0; i < parts.length; i++) {
    const entry = parts[i]!
    if (entry.length < 4) continue
    const xy = entry.slice(0, 2)
    const file = entry.slice(3)
    if (xy === "??") untracked.push(file)
    else if (xy !== "!!") {
      changes.push(file)
      if (xy[0] === "R" || xy[0] === "C") i++
    }
  }
  return { changes, untracked }
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`

const summarize = (i: Omit<Inspection, "summary" | "lossless">, lossless: boolean): string => {
  if (!i.exists) {
    return i.uniqueCommits > 0
      ? `directory gone; ${plural(i.uniqueCommits, "commit")} only on branch ${i.branch}`
      : "directory gone"
  }
  if (!i.isWorktree) return "not a git worktree of this repository"
  const parts: Array<string> = []
  if (i.changeCount > 0) parts.push(plural(i.changeCount, "uncommitted change"))
  if (i.untrackedCount > 0) parts.push(plural(i.untrackedCount, "untracked file"))
  if (i.detachedCommits > 0) parts.push(`${plural(i.detachedCommits, "commit")} at a detached HEAD on no branch`)
  if (i.uniqueCommits > 0) parts.push(`${plural(i.uniqueCommits, "commit")} only on branch ${i.branch}`)
  return lossless || parts.length === 0 ? "clean" : parts.join(", ")
}

const LIST_MAX = 20
const COPY_CHECK_MAX = 200
const COPY_SIZE_MAX = 1 << 20
const LOCK_WAIT = Duration.minutes(5)

const LockRow = Schema.Struct({ owner: Schema.String, pid: Schema.Number, pid_start_time: Schema.NullOr(Schema.String) })

export const make = Effect.gen(function*() {
  const git = yield* Git
  const db = yield* Database
  const processes = yield* Processes
  const fs = yield* FileSystem.FileSystem
  const pathApi = yield* Path.Path
  const sql = db.sql

  const realpath = (p: string) => fs.realPath(p).pipe(Effect.orElseSucceed(() => pathApi.resolve(p)))
  const exists = (p: string) => fs.exists(p).pipe(Effect.orElseSucceed(() => false))

  // ---- the per-repository lock ----------------------------------------------------------------------
  const semaphores = new Map<string, Effect.Semaphore>()
  const semaphoreFor = (key: string) =>
    Effect.sync(() => {
      let s = semaphores.get(key)
      if (s === undefined) {
        s = Effect.unsafeMakeSemaphore(1)
        semaphores.set(key, s)
      }
      return s
    })
  const self = yield* processes.probe(process.pid)
  const selfStart = self._tag === "Running" ? self.startTime : null
  const commonDirs = new Map<string, string>()
  // The lock is per git common dir (the main repository and its linked worktrees share one). For a main
  // working tree that is simply `<top>/.git`; only other layouts need to ask git.
  const lockKey = (repoPath: string) =>
    commonDirs.has(repoPath)
      ? Effect.succeed(commonDirs.get(repoPath)!)
      : fs.stat(pathApi.join(repoPath, ".git")).pipe(
        Effect.flatMap((st) => st.type === "Directory" ? realpath(pathApi.join(repoPath, ".git")) : Effect.fail(undefined)),
        Effect.catchAll(() =>
          git.run(repoPath, ["rev-parse", "--path-format=absolute", "--git-common-dir"]).pipe(
            Effect.flatMap((r) => realpath(r.stdout.trim()))
          )
        ),
        Effect.tap((k) => Effect.sync(() => commonDirs.set(repoPath, k)))
      )

  const ownerAlive = (row: { pid: number; pid_start_time: string | null }) =>
    processes.probe(row.pid).pipe(
      Effect.map((p) =>
        p._tag === "Running" && (p.startTime === null || row.pid_start_time === null || p.startTime === row.pid_start_time)
      )
    )

  const acquireLease = (key: string) =>
    Effect.gen(function*() {
      const owner = globalThis.crypto.randomUUID()
      const tryTake = (replacing: string | null) =>
        db.immediate(Effect.gen(function*() {
          const cur = yield* decodeRows(Schema.Struct({ owner: Schema.String }))(
            sql`SELECT owner FROM worktree_locks WHERE lock_key = ${key}`
          )
          if (cur.length > 0 && cur[0]!.owner !== replacing) return false
          const now = Date.now()
          yield* sql`INSERT OR REPLACE INTO worktree_locks ${
            sql.insert({ lock_key: key, owner, pid: process.pid, pid_start_time: selfStart, acquired_at: now })
          }`
          return true
        }))
      let delay = 2
      for (;;) {
        const rows = yield* db.orFail(decodeRows(LockRow)(
          sql`SELECT owner, pid, pid_start_time FROM worktree_locks WHERE lock_key = ${key}`
        ))
        const held = rows[0]
        const got = held === undefined
          ? yield* tryTake(null)
          : (yield* ownerAlive(held))
          ? false
          : yield* tryTake(held.owner)
        if (got) return owner
        yield* Effect.sleep(Duration.millis(delay + Math.random() * delay))
        delay = Math.min(delay * 2, 25)
      }
    }).pipe(
      Effect.timeoutFail({
        duration: LOCK_WAIT,
        onTimeout: () => new WorktreeError({ reason: "LockTimeout", path: key })
      })
    )

  const releaseLease = (key: string, owner: string) =>
    db.orFail(sql`DELETE FROM worktree_locks WHERE lock_key = ${key} AND owner = ${owner}`).pipe(
      Effect.catchAll((e) => Effect.logWarning(`could not release the worktree lock of ${key}`, e)),
      Effect.asVoid
    )

  const withLock = (repoPath: string) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.gen(function*() {
      const key = yield* lockKey(repoPath)
      const sem = yield* semaphoreFor(key)
      return yield* sem.withPermits(1)(
        Effect.acquireUseRelease(acquireLease(key), () => effect, (owner) => releaseLease(key, owner))
      )
    })

  // ---- git helpers -------------------------------------------------------------------------------------
  const listUnlocked = (repoPath: string) =>
    git.run(repoPath, ["worktree", "list", "--porcelain", "-z"]).pipe(Effect.map((r) => parseWorktreeList(r.stdout)))

  const requireAbsolute = (p: string) =>
    pathApi.isAbsolute(p) && !p.split(/[\\/]/).includes("..")
      ? Effect.succeed(pathApi.normalize(p))
      : Effect.fail(new InvalidInput({ field: "worktree path", detail: `${JSON.stringify(p)} must be an absolute path without '..'` }))

  // ---- create ------------------------------------------------------------------------------------------
  const create = (req: CreateRequest) =>
    Effect.gen(function*() {
      const branch = yield* git.checkBranchName(req.branch)
      const path = yield* requireAbsolute(req.path)
      if (yield* exists(path)) return yield* new WorktreeError({ reason: "PathExists", path })
      const createBranch = req.createBranch !== false
      let start = ""
      if (createBranch && req.startPoint !== undefined && /^[0-9a-f]{40}(?:[0-9a-f]{24})?$/.test(req.startPoint)) {
        // A full object id cannot be mistaken for an option; `git worktree add` itself checks it is a commit.
        start = req.startPoint
      } else if (createBranch) {
        const ref = req.startPoint ?? "HEAD"
        start = yield* git.revParse(req.repoPath, ref).pipe(
          Effect.mapError((e) =>
            ref === "HEAD"
              ? new WorktreeError({ reason: "NoCommits", path: req.repoPath })
              : new WorktreeError({ reason: "BadStartPoint", path, detail: `${JSON.stringify(ref)} is not a commit (${e.message})` })
          )
        )
      }
      const args = createBranch
        ? ["worktree", "add", "-b", branch, "--", path, start]
        : ["worktree", "add", "--", path, branch]
      const r = yield* withLock(req.repoPath)(git.run(req.repoPath, args, { okExitCodes: [0, 128, 255] }))
      if (r.exitCode !== 0) {
        const detail = r.stderr.trim().split("\n").filter((l) => !l.startsWith("Preparing")).join(" / ")
        const reason = /a branch named .* already exists/.test(r.stderr)
          ? "BranchExists"
          : /already checked out|is already used by worktree/.test(r.stderr)
          ? "BranchCheckedOut"
          : "GitFailed"
        return yield* new WorktreeError({ reason, path, detail })
      }
      const head = createBranch ? start : yield* git.revParse(path, "HEAD").pipe(Effect.orElseSucceed(() => start))
      return { path, branch, head } satisfies Created
    }).pipe(Effect.withSpan("Worktrees.create", { attributes: { path: req.path, branch: req.branch } }))

  // ---- inspect -----------------------------------------------------------------------------------------
  const sameBytes = (a: string, b: string) =>
    Effect.gen(function*() {
      const [sa, sb] = yield* Effect.all([fs.stat(a), fs.stat(b)])
      if (sa.type !== "File" || sb.type !== "File" || sa.size !== sb.size || Number(sa.size) > COPY_SIZE_MAX) return false
      const [ba, bb] = yield* Effect.all([fs.readFile(a), fs.readFile(b)])
      return Buffer.compare(Buffer.from(ba), Buffer.from(bb)) === 0
    }).pipe(Effect.orElseSucceed(() => false))

  // A `worktree.share` symlink (`node_modules -> <repo>/node_modules`) is a share, not work.
  const sharedLink = (link: string, target: string) =>
    fs.readLink(link).pipe(Effect.map((t) => t.replace(/\/+$/, "") === target), Effect.orElseSucceed(() => false))

  /** Commits in the worktree's submodules that no branch of their remote has (lost with the worktree). */
  const submoduleCommits = (path: string) =>
    Effect.gen(function*() {
      if (!(yield* exists(pathApi.join(path, ".gitmodules")))) return 0
      const r = yield* git.run(path, ["submodule", "foreach", "--quiet", "--recursive", "git rev-list --count --branches --not --remotes"], {
        env: { GIT_OPTIONAL_LOCKS: "0" },
        okExitCodes: [0, 1, 128]
      })
      return r.stdout.split("\n").reduce((n, l) => n + (Number(l.trim()) || 0), 0)
    }).pipe(Effect.orElseSucceed(() => 0))

  const branchState = (repoPath: string, branch: string | null | undefined) =>
    Effect.gen(function*() {
      if (branch === null || branch === undefined) return { tip: null, unique: 0 }
      yield* git.checkBranchName(branch)
      const tip = yield* git.run(repoPath, ["rev-parse", "-q", "--verify", `refs/heads/${branch}`], { okExitCodes: [0, 1] })
      if (tip.exitCode !== 0) return { tip: null, unique: 0 }
      const sha = tip.stdout.trim()
      const count = yield* git.run(repoPath, [
        "rev-list",
        "--count",
        sha,
        "--not",
        `--exclude=${branch}`,
        "--branches",
        "--remotes",
        "--tags"
      ])
      return { tip: sha, unique: Number(count.stdout.trim()) || 0 }
    })

  const inspect = (req: InspectRequest) =>
    Effect.gen(function*() {
      const path = yield* requireAbsolute(req.path)
      const { tip, unique } = yield* branchState(req.repoPath, req.branch)
      const base: Omit<Inspection, "summary" | "lossless"> = {
        path,
        exists: false,
        isWorktree: false,
        head: null,
        headBranch: null,
        changes: [],
        changeCount: 0,
        untracked: [],
        untrackedCount: 0,
        copies: 0,
        detachedCommits: 0,
        branch: req.branch ?? null,
        branchTip: tip,
        uniqueCommits: unique
      }
      const finish = (i: typeof base, lossless: boolean): Inspection => ({ ...i, lossless, summary: summarize(i, lossless) })
      if (!(yield* exists(path))) return finish(base, unique === 0)
      const withDir = { ...base, exists: true }
      // Read-only: no index refresh, no lock files (GIT_OPTIONAL_LOCKS=0), so an agent's git is never disturbed.
      const noLocks = { env: { GIT_OPTIONAL_LOCKS: "0" } }
      const where = yield* git.run(path, ["rev-parse", "--path-format=absolute", "--show-toplevel", "--git-common-dir"], {
        ...noLocks,
        okExitCodes: [0, 128]
      })
      const [top, common] = where.stdout.trim().split("\n")
      const repoCommon = yield* git.run(req.repoPath, ["rev-parse", "--path-format=absolute", "--git-common-dir"])
      const isWorktree = where.exitCode === 0 && top !== undefined && common !== undefined &&
        (yield* realpath(top)) === (yield* realpath(path)) &&
        (yield* realpath(common)) === (yield* realpath(repoCommon.stdout.trim()))
      if (!isWorktree) return finish(withDir, false)
      const status = yield* git.run(path, ["status", "--porcelain=v1", "-z", "--untracked-files=all", "--ignore-submodules=none"], noLocks)
      const { changes, untracked } = parseStatus(status.stdout)
      let copies = 0
      const work: Array<string> = []
      for (const [i, file] of untracked.entries()) {
        const copy = req.copiesFrom !== undefined && i < COPY_CHECK_MAX &&
          ((yield* sameBytes(pathApi.join(path, file), pathApi.join(req.copiesFrom, file))) ||
            (yield* sharedLink(pathApi.join(path, file), pathApi.join(req.copiesFrom, file))))
        if (copy) copies++
        else work.push(file)
      }
      const headRef = yield* git.run(path, ["symbolic-ref", "-q", "--short", "HEAD"], { ...noLocks, okExitCodes: [0, 1] })
      const head = yield* git.run(path, ["rev-parse", "-q", "--verify", "HEAD"], { ...noLocks, okExitCodes: [0, 1] })
      const headSha = head.exitCode === 0 ? head.stdout.trim() : null
      const headBranch = headRef.exitCode === 0 ? headRef.stdout.trim() : null
      let detachedCommits = 0
      if (headBranch === null && headSha !== null) {
        const c = yield* git.run(path, ["rev-list", "--count", headSha, "--not", "--branches", "--remotes", "--tags"], noLocks)
        detachedCommits = Number(c.stdout.trim()) || 0
      }
      const full = {
        ...withDir,
        isWorktree: true,
        head: headSha,
        headBranch,
        changes: changes.slice(0, LIST_MAX),
        changeCount: changes.length,
        untracked: work.slice(0, LIST_MAX),
        untrackedCount: work.length,
        copies,
        detachedCommits
      }
      return finish(full, changes.length === 0 && work.length === 0 && detachedCommits === 0 && unique === 0)
    }).pipe(Effect.withSpan("Worktrees.inspect", { attributes: { path: req.path } }))

  // ---- remove ------------------------------------------------------------------------------------------
  const deleteBranch = (repoPath: string, insp: Inspection, force: boolean) =>
    Effect.gen(function*() {
      const name = insp.branch
      if (name === null) return null
      if (insp.branchTip === null) return { name, outcome: "absent", tip: null, detail: "no such branch" } satisfies BranchOutcome
      const elsewhere = (yield* listUnlocked(repoPath)).find((w) => w.branch === name)
      if (elsewhere !== undefined) {
        return { name, outcome: "kept", tip: insp.branchTip, detail: `checked out at ${elsewhere.path}` } satisfies BranchOutcome
      }
      if (insp.uniqueCommits > 0 && !force) {
        return {
          name,
          outcome: "kept",
          tip: insp.branchTip,
          detail: `${plural(insp.uniqueCommits, "commit")} not on any other branch`
        } satisfies BranchOutcome
      }
      // Compare-and-delete: if a commit landed on the branch since the inspection, nothing is deleted.
      const r = yield* git.run(repoPath, ["update-ref", "-d", `refs/heads/${name}`, insp.branchTip], { okExitCodes: [0, 1, 128] })
      return r.exitCode === 0
        ? { name, outcome: "deleted", tip: insp.branchTip, detail: insp.uniqueCommits > 0 ? "deleted unmerged (forced)" : "fully merged" } satisfies BranchOutcome
        : { name, outcome: "kept", tip: insp.branchTip, detail: `git refused: ${r.stderr.trim()}` } satisfies BranchOutcome
    })

  const remove = (req: RemoveRequest) =>
    withLock(req.repoPath)(Effect.gen(function*() {
      const force = req.force === true
      const path = yield* requireAbsolute(req.path)
      const top = yield* git.toplevel(req.repoPath)
      if ((yield* realpath(top)) === (yield* realpath(path))) {
        return yield* new WorktreeError({ reason: "MainWorktree", path })
      }
      const insp = yield* inspect({ ...req, path })
      if (!insp.exists) {
        yield* git.run(req.repoPath, ["worktree", "prune"])
        const branch = yield* deleteBranch(req.repoPath, insp, force)
        return { outcome: "missing", inspection: insp, branch, detail: insp.summary } satisfies RemoveResult
      }
      if (!insp.isWorktree) {
        return { outcome: "kept", inspection: insp, branch: null, detail: insp.summary } satisfies RemoveResult
      }
      if (!insp.lossless && !force) {
        return { outcome: "kept", inspection: insp, branch: null, detail: insp.summary } satisfies RemoveResult
      }
      // Without force, git itself refuses a worktree that got dirty since the inspection; copies of the
      // repository's own untracked files are the one thing we let it delete (single --force).
      const args = force
        ? ["worktree", "remove", "--force", "--force", "--", path]
        : insp.copies > 0
        ? ["worktree", "remove", "--force", "--", path]
        : ["worktree", "remove", "--", path]
      // Changes in submodules show in `git status`; commits only in a submodule's own branches do not.
      const subCommits = force ? 0 : yield* submoduleCommits(path)
      if (subCommits > 0) {
        const detail = `${plural(subCommits, "commit")} only in its submodules`
        return { outcome: "kept", inspection: { ...insp, lossless: false, summary: detail }, branch: null, detail } satisfies RemoveResult
      }
      let r = yield* git.run(req.repoPath, args, { okExitCodes: [0, 128, 255] })
      if (r.exitCode !== 0 && !force && /containing submodules/.test(r.stderr)) {
        // git never removes a worktree with submodules unforced; the checks above found no work in them.
        r = yield* git.run(req.repoPath, ["worktree", "remove", "--force", "--", path], { okExitCodes: [0, 128, 255] })
      }
      if (r.exitCode !== 0) {
        const detail = `git refused to remove it: ${r.stderr.trim().split("\n").slice(-1)[0] ?? ""}`
        if (force) return yield* new WorktreeError({ reason: "GitFailed", path, detail })
        return { outcome: "kept", inspection: insp, branch: null, detail } satisfies RemoveResult
      }
      const branch = yield* deleteBranch(req.repoPath, insp, force)
      return { outcome: "removed", inspection: insp, branch, detail: insp.summary } satisfies RemoveResult
    })).pipe(Effect.withSpan("Worktrees.remove", { attributes: { path: req.path, force: req.force === true } }))

  const prune = (repoPath: string, options: { readonly dryRun?: boolean } = {}) =>
    withLock(repoPath)(
      git.run(repoPath, ["worktree", "prune", "-v", ...(options.dryRun === true ? ["--dry-run"] : [])]).pipe(
        Effect.map((r) => `${r.stdout}\n${r.stderr}`.split("\n").map((l) => l.trim()).filter((l) => l !== ""))
      )
    )

  return Worktrees.of({
    create,
    list: (repoPath) => withLock(repoPath)(listUnlocked(repoPath)),
    inspect,
    remove,
    prune,
    withLock
  })
})

/** Worktrees over git; needs Git, Database, Processes, FileSystem and Path. */
export const layer = Layer.effect(Worktrees, make)
