/**
 * Making a freshly added worktree usable, before `worktree.copy` and `worktree.setup` run: submodules, LFS
 * content and the sparse checkout (`worktreeContents`), the ignored files `.worktreeinclude` names
 * (`worktreeInclude`), and the shared dependency folders of `worktree.share` (`sharedFolders`).
 *
 * Notes never fail a worktree; these do, so that the caller removes the worktree, its branch and its
 * session (nothing half-created is left): a `.worktreeinclude` line that climbs out of the repository, a
 * `worktree.share` entry that is invalid, tracked, or missing with nothing to install it, and a full disk.
 */
import { CommandExecutor, FileSystem, Path } from "@effect/platform"
import { Effect } from "effect"
import { Git, type GitError } from "../platform/Git.js"
import { type CopyError, copyFile, copyTree } from "./copyTree.js"
import { type ShareError, type ShareMode, type ShareReport, shareFolders } from "./sharedFolders.js"
import { type ContentsReport, fillWorktree } from "./worktreeContents.js"
import { type IncludeError, planInclude, skippedNotes } from "./worktreeInclude.js"

export { CopyError, type CopyMethod } from "./copyTree.js"
export { type ShareMode, type ShareOutcome, ShareError, type ShareReport } from "./sharedFolders.js"
export type { ContentsReport, SubmoduleOutcome } from "./worktreeContents.js"
export { IncludeError, INCLUDE_FILE, type IncludePlan } from "./worktreeInclude.js"
export { sessionSlug } from "./slug.js"

export interface PrepareReport {
  readonly contents: ContentsReport
  /** Paths copied because `.worktreeinclude` names them (relative to the worktree). */
  readonly included: ReadonlyArray<string>
  readonly share: ShareReport
  /** Whether `worktree.setup` should run: no `worktree.share`, or something could not be shared. */
  readonly runSetup: boolean
  /** What the user should know (printed as warnings by the shells). */
  readonly notes: ReadonlyArray<string>
}

export type PrepareError = IncludeError | ShareError | CopyError | GitError

export const emptyPrepare: PrepareReport = {
  contents: { submodules: [], lfs: { state: "unused", pointers: 0 }, sparse: "none", notes: [] },
  included: [],
  share: { folders: [], needsSetup: false },
  runSetup: true,
  notes: []
}

/** Prepare the new worktree `worktreePath` of `repoPath` (see the module doc). */
export const prepareWorktree = (options: {
  readonly repoPath: string
  readonly worktreePath: string
  readonly share: ReadonlyArray<string>
  readonly shareMode: ShareMode
  readonly hasSetup: boolean
}): Effect.Effect<PrepareReport, PrepareError, Git | FileSystem.FileSystem | Path.Path | CommandExecutor.CommandExecutor> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    // Refusals first, before anything is copied.
    const plan = yield* planInclude(options.repoPath)
    const contents = yield* fillWorktree(options.repoPath, options.worktreePath)
    const included: Array<string> = []
    for (const rel of plan.copy) {
      const dst = path.join(options.worktreePath, rel)
      if (yield* fs.exists(dst).pipe(Effect.orElseSucceed(() => true))) continue
      const src = path.join(options.repoPath, rel)
      const isDir = yield* fs.stat(src).pipe(Effect.map((s) => s.type === "Directory"), Effect.orElseSucceed(() => false))
      yield* (isDir ? copyTree(src, dst, "copy", rel) : copyFile(src, dst, rel))
      included.push(rel)
    }
    const share = yield* shareFolders({
      repoPath: options.repoPath,
      worktreePath: options.worktreePath,
      entries: options.share,
      mode: options.shareMode,
      hasSetup: options.hasSetup
    })
    const notes = [
      ...contents.notes,
      ...skippedNotes(plan),
      ...share.folders.filter((f) => f.outcome === "fallback").map((f) => `worktree.share: ${f.path} not shared: ${f.detail}`)
    ]
    if (share.needsSetup && options.hasSetup) notes.push("worktree.share: running worktree.setup to install dependencies instead")
    const shared = share.folders.some((f) => f.outcome === "shared")
    return { contents, included, share, runSetup: !shared || share.needsSetup, notes }
  }).pipe(Effect.withSpan("worktreePrepare"))
