/**
 * Worktrees over native `git worktree`: create, list, inspect, remove, prune.
 *
 * - Every branch name from outside goes through `Git.checkBranchName`; `--` separates options from paths.
 * - `git worktree add/remove/list` of one repository run one at a time (`worktreeLock`: a semaphore in this
 *   process; across processes a kernel lock that waiters sleep on, and the store's lease for processes of
 *   earlier releases). A new worktree's metadata is made under the lock; its checkout runs outside it.
 * - Never lose work: `remove` inspects first and keeps a worktree that has uncommitted changes, untracked
 *   files that are not ignored, commits at a detached HEAD on no branch, or a branch with commits contained
 *   in no other branch, tag or remote — unless forced. A branch is deleted only when every commit on it is
 *   also elsewhere (or when forced), with a compare-and-delete so a concurrent commit is never lost.
 *
 * @since 0.1.0
 */
import { FileSystem, Path } from "@effect/platform"
import { Context, Effect, Layer, Schema } from "effect"
import type { DbFailure } from "../platform/Database.js"
import { InvalidInput } from "../Errors.js"
import { Git, type GitError } from "../platform/Git.js"
import { type Inspection, type InspectRequest, makeInspector } from "./worktreeInspect.js"
import { makeWorktreeLock } from "./worktreeLock.js"

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

export type { Inspection, InspectRequest } from "./worktreeInspect.js"

export interface RemoveRequest extends InspectRequest {
  /** Remove even when work would be lost, and delete the branch even when unmerged. */
  readonly force?: boolean | undefined
}

export interface BranchOutcome {
  readonly name: string
  readonly outcome: "deleted" | "kept" | "absent"
  /**
   * Why it could be deleted: `no-commits` (still at its base, or behind it), `merged` (another local branch
   * contains its tip), `elsewhere` (a remote or tag has its commits), `forced` (it had commits on no other
   * branch). Null when kept or absent.
   */
  readonly why: "no-commits" | "merged" | "elsewhere" | "forced" | null
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

export const make = Effect.gen(function*() {
  const git = yield* Git
  const fs = yield* FileSystem.FileSystem
  const pathApi = yield* Path.Path

  const realpath = (p: string) => fs.realPath(p).pipe(Effect.orElseSucceed(() => pathApi.resolve(p)))
  const exists = (p: string) => fs.exists(p).pipe(Effect.orElseSucceed(() => false))
  const { deletable, inspect, requireAbsolute } = yield* makeInspector
  const { withLock } = yield* makeWorktreeLock((key) => new WorktreeError({ reason: "LockTimeout", path: key }))

  // ---- git helpers -------------------------------------------------------------------------------------
  const listUnlocked = (repoPath: string) =>
    git.run(repoPath, ["worktree", "list", "--porcelain", "-z"]).pipe(Effect.map((r) => parseWorktreeList(r.stdout)))

  // ---- create ------------------------------------------------------------------------------------------
  /**
   * Check out a worktree made with `--no-checkout`: what `git worktree add` does after its metadata (git
   * 2.38–2.47, builtin/worktree.c): `reset --hard --no-recurse-submodules` in the new worktree, then the
   * repository's post-checkout hook with `<null oid> <head> 1`. A failure of either fails the creation, as
   * a failing `git worktree add` does.
   */
  const checkout = (repoPath: string, path: string, head: string) =>
    Effect.gen(function*() {
      const fail = (what: string, r: { stderr: string; exitCode: number }) =>
        new WorktreeError({ reason: "GitFailed", path, detail: `${what} failed (exit ${r.exitCode}): ${r.stderr.trim().split("\n").slice(-2).join(" / ")}` })
      const co = yield* git.run(path, ["reset", "--hard", "--no-recurse-submodules", "--quiet"], { okExitCodes: [0, 1, 128, 255] })
      if (co.exitCode !== 0) return yield* fail("checking out the worktree", co)
      const hookPath = yield* git.run(repoPath, ["rev-parse", "--path-format=absolute", "--git-path", "hooks/post-checkout"])
      if (!(yield* exists(hookPath.stdout.trim()))) return
      const hook = yield* git.run(path, ["hook", "run", "--ignore-missing", "post-checkout", "--", "0".repeat(head.length), head, "1"], {
        okExitCodes: Array.from({ length: 256 }, (_, i) => i)
      })
      if (hook.exitCode !== 0) return yield* fail("the post-checkout hook", hook)
    })

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
      // Only the worktree's metadata (`--no-checkout`) is made under the repository's lock: that is what
      // concurrent adds corrupt. Its files are checked out after, in parallel with other starts — the same
      // `reset --hard` that `git worktree add` runs itself, then its post-checkout hook (see checkout).
      const args = createBranch
        ? ["worktree", "add", "--no-checkout", "-b", branch, "--", path, start]
        : ["worktree", "add", "--no-checkout", "--", path, branch]
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
      yield* checkout(req.repoPath, path, head)
      return { path, branch, head } satisfies Created
    }).pipe(Effect.withSpan("Worktrees.create", { attributes: { path: req.path, branch: req.branch } }))

  // ---- remove ------------------------------------------------------------------------------------------
  const deleteBranch = (
    repoPath: string,
    insp: Inspection,
    force: boolean,
    base: string | null | undefined,
    target: string | null | undefined
  ) =>
    Effect.gen(function*() {
      const name = insp.branch
      if (name === null) return null
      if (insp.branchTip === null) return { name, outcome: "absent", why: null, tip: null, detail: "no such branch" } satisfies BranchOutcome
      const elsewhere = (yield* listUnlocked(repoPath)).find((w) => w.branch === name)
      if (elsewhere !== undefined) {
        return { name, outcome: "kept", why: null, tip: insp.branchTip, detail: `checked out at ${elsewhere.path}` } satisfies BranchOutcome
      }
      if (insp.uniqueCommits > 0 && !force) {
        return {
          name,
          outcome: "kept",
          why: null,
          tip: insp.branchTip,
          detail: `${plural(insp.uniqueCommits, "commit")} not on any other branch`
        } satisfies BranchOutcome
      }
      const reason = insp.uniqueCommits > 0
        ? { why: "forced" as const, detail: `deleted with ${plural(insp.uniqueCommits, "commit")} on no other branch (forced)` }
        : yield* deletable(repoPath, name, insp.branchTip, base, target)
      // Compare-and-delete: if a commit landed on the branch since the inspection, nothing is deleted.
      const r = yield* git.run(repoPath, ["update-ref", "-d", `refs/heads/${name}`, insp.branchTip], { okExitCodes: [0, 1, 128] })
      return r.exitCode === 0
        ? { name, outcome: "deleted", ...reason, tip: insp.branchTip } satisfies BranchOutcome
        : { name, outcome: "kept", why: null, tip: insp.branchTip, detail: `git refused: ${r.stderr.trim()}` } satisfies BranchOutcome
    })

  const remove = (req: RemoveRequest) =>
    Effect.gen(function*() {
      const path = yield* requireAbsolute(req.path)
      // The repository's own top level is no worktree to remove (asked before the lock: it does not change).
      const top = yield* git.toplevel(req.repoPath)
      if ((yield* realpath(top)) === (yield* realpath(path))) {
        return yield* new WorktreeError({ reason: "MainWorktree", path })
      }
      if (req.force !== true) {
        // A worktree with work is kept whatever else is true: that is decided without the repository's lock,
        // so that sessions ending together (a parallel run's tasks) do not queue for it. Only a worktree that
        // may go is inspected again under the lock, where its branch's commits are judged and it is removed.
        const insp = yield* inspect({ ...req, path })
        if (insp.exists && (!insp.isWorktree || !insp.lossless)) {
          return { outcome: "kept", inspection: insp, branch: null, detail: insp.summary } satisfies RemoveResult
        }
      }
      return yield* removeLocked(req, path)
    }).pipe(Effect.withSpan("Worktrees.remove", { attributes: { path: req.path, force: req.force === true } }))

  const removeLocked = (req: RemoveRequest, path: string) =>
    withLock(req.repoPath)(Effect.gen(function*() {
      const force = req.force === true
      const insp = yield* inspect({ ...req, path })
      if (!insp.exists) {
        yield* git.run(req.repoPath, ["worktree", "prune"])
        const branch = yield* deleteBranch(req.repoPath, insp, force, req.base, req.target)
        return { outcome: "missing", inspection: insp, branch, detail: insp.summary } satisfies RemoveResult
      }
      if (!insp.isWorktree) {
        return { outcome: "kept", inspection: insp, branch: null, detail: insp.summary } satisfies RemoveResult
      }
      if (!insp.lossless && !force) {
        return { outcome: "kept", inspection: insp, branch: null, detail: insp.summary } satisfies RemoveResult
      }
      // Without force, git itself refuses a worktree that got dirty since the inspection; copies of the
      // repository's own untracked files are the one thing we let it delete (single --force), and a worktree
      // with (clean) submodules, which git refuses to remove without it.
      const attempt = (single: boolean) =>
        git.run(req.repoPath, ["worktree", "remove", ...(force ? ["--force", "--force"] : single ? ["--force"] : []), "--", path], {
          okExitCodes: [0, 128, 255]
        })
      let r = yield* attempt(insp.copies > 0)
      if (r.exitCode !== 0 && !force && insp.copies === 0 && /submodule/.test(r.stderr)) r = yield* attempt(true)
      if (r.exitCode !== 0) {
        const detail = `git refused to remove it: ${r.stderr.trim().split("\n").slice(-1)[0] ?? ""}`
        if (force) return yield* new WorktreeError({ reason: "GitFailed", path, detail })
        return { outcome: "kept", inspection: insp, branch: null, detail } satisfies RemoveResult
      }
      const branch = yield* deleteBranch(req.repoPath, insp, force, req.base, req.target)
      return { outcome: "removed", inspection: insp, branch, detail: insp.summary } satisfies RemoveResult
    }))

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
