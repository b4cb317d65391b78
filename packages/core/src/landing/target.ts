/**
 * The target branch of a landing: which branch it is, where it is checked out, whether that work tree is
 * clean, whether any work tree is in the middle of a merge or rebase that involves it, and moving it.
 *
 * Moving is always a compare-and-swap: `git update-ref refs/heads/T NEW OLD` when the branch is checked out
 * nowhere, or `git merge --ff-only NEW` inside the work tree that has it checked out (clean), which updates
 * that work tree's files and index and then the ref, refusing whatever is not a fast-forward. The target is
 * never moved backwards or sideways, and a work tree with changes is never touched.
 */
import type { FileSystem, Path } from "@effect/platform"
import { Effect } from "effect"
import type { Git } from "../platform/Git.js"
import { parseStatus, parseWorktreeList, type WorktreeInfo } from "../sessions/Worktrees.js"
import { LandError } from "./LandDomain.js"

type GitApi = Git["Type"]

export interface Target {
  readonly branch: string
  readonly ref: string
  readonly tip: string
}

const gitFailed = (e: { readonly message: string }) => new LandError({ reason: "GitFailed", detail: e.message })

/** The branch to land into: `into`, else the branch checked out in the repository. */
export const resolveTarget = (git: GitApi, repo: string, into: string | undefined) =>
  Effect.gen(function*() {
    let branch = into
    if (branch === undefined) {
      const head = yield* git.run(repo, ["symbolic-ref", "-q", "--short", "HEAD"], { okExitCodes: [0, 1] }).pipe(
        Effect.mapError(gitFailed)
      )
      if (head.exitCode !== 0) {
        return yield* new LandError({ reason: "DetachedHead", detail: `the repository ${repo} is not on a branch (detached HEAD)` })
      }
      branch = head.stdout.trim()
    }
    yield* git.checkBranchName(branch).pipe(
      Effect.mapError((e) => new LandError({ reason: "TargetNotFound", detail: e.message }))
    )
    const ref = `refs/heads/${branch}`
    const tip = yield* git.run(repo, ["rev-parse", "-q", "--verify", `${ref}^{commit}`], { okExitCodes: [0, 1] }).pipe(
      Effect.mapError(gitFailed)
    )
    if (tip.exitCode === 0) return { branch, ref, tip: tip.stdout.trim() } satisfies Target
    const other = yield* git.run(repo, ["rev-parse", "-q", "--verify", "--end-of-options", `${branch}^{commit}`], { okExitCodes: [0, 1, 128] }).pipe(
      Effect.mapError(gitFailed)
    )
    return yield* other.exitCode === 0
      ? new LandError({ reason: "NotABranch", detail: `${branch} names a commit (a tag or a remote branch?) but no local branch` })
      : new LandError({ reason: "TargetNotFound", detail: `there is no branch ${branch} in ${repo}` })
  })

/** The current commit of the target (it may have moved since it was resolved). */
export const tipOf = (git: GitApi, repo: string, ref: string) =>
  git.run(repo, ["rev-parse", "-q", "--verify", `${ref}^{commit}`]).pipe(
    Effect.map((r) => r.stdout.trim()),
    Effect.mapError(gitFailed)
  )

/** Every work tree of the repository (read-only; no lock needed). */
export const worktreesOf = (git: GitApi, repo: string) =>
  git.run(repo, ["worktree", "list", "--porcelain", "-z"]).pipe(
    Effect.map((r) => parseWorktreeList(r.stdout)),
    Effect.mapError(gitFailed)
  )

const operations = [
  ["MERGE_HEAD", "a merge"],
  ["rebase-merge", "a rebase"],
  ["rebase-apply", "a rebase (or git am)"],
  ["CHERRY_PICK_HEAD", "a cherry-pick"],
  ["REVERT_HEAD", "a revert"]
] as const

/** What a work tree is in the middle of (`a merge`, `a rebase`, …), and the branch a rebase is rewriting. */
const inProgress = (git: GitApi, fs: FileSystem.FileSystem, path: Path.Path, worktree: string) =>
  Effect.gen(function*() {
    const dir = yield* git.run(worktree, ["rev-parse", "--absolute-git-dir"], { env: { GIT_OPTIONAL_LOCKS: "0" } }).pipe(
      Effect.map((r) => r.stdout.trim()),
      Effect.orElseSucceed(() => null)
    )
    if (dir === null) return null
    for (const [file, what] of operations) {
      if (!(yield* fs.exists(path.join(dir, file)).pipe(Effect.orElseSucceed(() => false)))) continue
      const headName = file.startsWith("rebase")
        ? yield* fs.readFileString(path.join(dir, file, "head-name")).pipe(Effect.map((s) => s.trim()), Effect.orElseSucceed(() => ""))
        : ""
      return { what, headName }
    }
    return null
  })

/** Refuse when the repository's own work tree is in the middle of a merge, rebase, cherry-pick or revert. */
export const checkRepoQuiet = (git: GitApi, fs: FileSystem.FileSystem, path: Path.Path, repo: string) =>
  Effect.gen(function*() {
    const busy = yield* inProgress(git, fs, path, repo)
    if (busy !== null) {
      return yield* new LandError({
        reason: "RepositoryBusy",
        detail: `${repo} is in the middle of ${busy.what}${busy.headName !== "" ? ` of ${busy.headName.replace(/^refs\/heads\//, "")}` : ""}`
      })
    }
  })

export interface TargetPlace {
  /** The work tree that has the target checked out, if any. */
  readonly checkedOut: WorktreeInfo | null
}

/**
 * Refuse when the repository, or the work tree with the target, is in the middle of a merge, rebase,
 * cherry-pick or revert, or when a rebase anywhere is rewriting the target. Returns where the target is.
 */
export const checkQuiet = (git: GitApi, fs: FileSystem.FileSystem, path: Path.Path, repo: string, target: Target) =>
  Effect.gen(function*() {
    const trees = yield* worktreesOf(git, repo)
    const checkedOut = trees.find((w) => w.branch === target.branch) ?? null
    const toCheck = trees.filter((w) => w.isMain || w === checkedOut || w.branch === null)
    for (const w of toCheck) {
      const busy = yield* inProgress(git, fs, path, w.path)
      if (busy === null) continue
      const rewritesTarget = busy.headName === target.ref
      if (w.isMain || w === checkedOut || rewritesTarget) {
        return yield* new LandError({
          reason: "RepositoryBusy",
          detail: `${w.path} is in the middle of ${busy.what}${rewritesTarget ? ` of ${target.branch}` : ""}`
        })
      }
    }
    return { checkedOut } satisfies TargetPlace
  })

/** Tracked files with changes in a work tree (staged or not), read without taking any lock. */
export const changesIn = (git: GitApi, worktree: string) =>
  git.run(worktree, ["status", "--porcelain=v1", "-z", "--untracked-files=no", "--ignore-submodules=none"], {
    env: { GIT_OPTIONAL_LOCKS: "0" }
  }).pipe(
    Effect.map((r) => parseStatus(r.stdout).changes),
    Effect.mapError(gitFailed)
  )

/** Refuse when the work tree that has the target checked out has uncommitted changes. */
export const checkClean = (git: GitApi, target: Target, place: TargetPlace) =>
  Effect.gen(function*() {
    if (place.checkedOut === null) return
    const changes = yield* changesIn(git, place.checkedOut.path)
    if (changes.length === 0) return
    const shown = changes.slice(0, 5).join(", ") + (changes.length > 5 ? `, … (${changes.length} in all)` : "")
    return yield* new LandError({
      reason: "TargetDirty",
      detail: `${target.branch} is checked out at ${place.checkedOut.path} with uncommitted changes (${shown})`
    })
  })

export type MoveOutcome =
  | { readonly _tag: "Moved"; readonly worktree: string | null }
  /** The target is no longer at `from`: someone else moved it. Nothing was changed. */
  | { readonly _tag: "TargetMoved"; readonly found: string }

/**
 * Move the target from `from` to `to` (a descendant of `from`). Fails with TargetDirty when the work tree
 * that has it checked out refuses (changes in the way); nothing is changed then.
 */
export const moveTarget = (git: GitApi, repo: string, target: Target, place: TargetPlace, from: string, to: string) =>
  Effect.gen(function*() {
    if (place.checkedOut === null) {
      const r = yield* git.run(repo, ["update-ref", "-m", "parallel-cc land", target.ref, to, from], { okExitCodes: [0, 1, 128] }).pipe(
        Effect.mapError(gitFailed)
      )
      if (r.exitCode === 0) return { _tag: "Moved", worktree: null } satisfies MoveOutcome
      const found = yield* tipOf(git, repo, target.ref)
      if (found !== from) return { _tag: "TargetMoved", found } satisfies MoveOutcome
      return yield* new LandError({ reason: "GitFailed", detail: `git update-ref ${target.ref} failed: ${r.stderr.trim()}` })
    }
    const wt = place.checkedOut.path
    const found = yield* tipOf(git, repo, target.ref)
    if (found !== from) return { _tag: "TargetMoved", found } satisfies MoveOutcome
    yield* checkClean(git, target, place)
    const r = yield* git.run(wt, ["merge", "--ff-only", "-q", "--no-edit", to], {
      okExitCodes: [0, 1, 128],
      env: { GIT_MERGE_AUTOEDIT: "no" }
    }).pipe(Effect.mapError(gitFailed))
    if (r.exitCode === 0) return { _tag: "Moved", worktree: wt } satisfies MoveOutcome
    const now = yield* tipOf(git, repo, target.ref)
    if (now !== from) return { _tag: "TargetMoved", found: now } satisfies MoveOutcome
    return yield* new LandError({
      reason: "TargetDirty",
      detail: `${target.branch} is checked out at ${wt} and git refused to bring it forward: ` +
        r.stderr.trim().split("\n").slice(0, 4).join(" / ")
    })
  })
