/**
 * Rebase assistance: predict whether rebasing a worktree's branch onto a target conflicts (the commits to
 * replay, how far behind, the files), or run the rebase and either stop with the exact commands to
 * continue or abort, or abort it.
 *
 * @since 0.2.0
 */
import { FileSystem } from "@effect/platform"
import { Effect } from "effect"
import { Git } from "../platform/Git.js"
import { ConflictError, type PreviewFile, type RebaseReport, type RebaseRequest } from "./ConflictModel.js"
import type { ConflictGit } from "./ConflictGit.js"
import { gitKindOf, guidanceFor } from "./conflicts/mergeTree.js"

/** The rebase assistant over the conflict engine's git plumbing. */
export const make = (cg: ConflictGit) => Effect.gen(function*() {
  const git = yield* Git
  const fs = yield* FileSystem.FileSystem
  const { gitFailed, locate, parseStages, previewIn } = cg
  return (req: RebaseRequest) =>
    Effect.gen(function*() {
      const { repo, top } = yield* locate(req.worktree)
      const gitDir = (name: string) =>
        git.run(top, ["rev-parse", "--path-format=absolute", "--git-path", name]).pipe(Effect.map((r) => r.stdout.trim()))
      const inProgress = (yield* fs.exists(yield* gitDir("rebase-merge")).pipe(Effect.orElseSucceed(() => false))) ||
        (yield* fs.exists(yield* gitDir("rebase-apply")).pipe(Effect.orElseSucceed(() => false)))
      if (inProgress) {
        return yield* new ConflictError({ reason: "RebaseInProgress", detail: `a rebase is already in progress in ${top}` })
      }
      const branchR = yield* git.run(top, ["symbolic-ref", "--short", "-q", "HEAD"], { okExitCodes: [0, 1] })
      const branch = branchR.exitCode === 0 ? branchR.stdout.trim() : null
      const head = yield* git.revParse(top, "HEAD")
      const pv = yield* previewIn(top, repo, { repo: top, ours: req.onto, theirs: "HEAD" })
      const onto = pv.preview.ours
      const log = yield* git.run(top, ["log", "--reverse", "--no-merges", "--format=%H%x00%s", `${onto.commit}..${head}`])
      const commits = log.stdout.split("\n").filter((l) => l !== "").map((l) => {
        const [commit, subject] = l.split("\0")
        return { commit: commit!, subject: subject ?? "" }
      })
      const behind = Number((yield* git.run(top, ["rev-list", "--count", `${head}..${onto.commit}`])).stdout.trim())
      const base = { worktree: top, branch, onto: { ref: req.onto, commit: onto.commit }, head, mode: req.mode, commits, behind }
      const abortHint = `git -C ${top} rebase --abort`
      if (behind === 0) {
        return { ...base, status: "up-to-date", conflicts: [], newHead: null, stoppedAt: null, message: `${branch ?? "HEAD"} already contains ${req.onto}; nothing to rebase`, nextSteps: [] } satisfies RebaseReport
      }
      if (req.mode === "check") {
        return {
          ...base,
          status: pv.preview.clean ? "clean" : "conflicts",
          conflicts: pv.preview.files,
          newHead: null,
          stoppedAt: null,
          message: pv.preview.clean
            ? `rebasing ${commits.length} commit(s) of ${branch ?? "HEAD"} onto ${req.onto} (${behind} commit(s) ahead) should apply cleanly`
            : `rebasing ${branch ?? "HEAD"} onto ${req.onto} would conflict in ${pv.preview.files.length} file(s): ${pv.preview.files.map((f) => f.path).join(", ")}`,
          nextSteps: pv.preview.clean
            ? [`rebase_assist with mode "perform", or git -C ${top} rebase ${req.onto}`]
            : ["get classifications and resolutions with detect_advanced_conflicts / get_auto_fix_suggestions", "or coordinate with the owner of the other branch before rebasing"]
        } satisfies RebaseReport
      }
      const dirty = yield* git.run(top, ["status", "--porcelain=v1", "-z", "--untracked-files=no"])
      if (dirty.stdout !== "") {
        return yield* new ConflictError({ reason: "DirtyWorktree", detail: `${top} has uncommitted changes to tracked files` })
      }
      const r = yield* git.run(top, ["-c", "core.editor=true", "rebase", "--no-autostash", onto.commit], {
        okExitCodes: [0, 1, 128],
        env: { GIT_EDITOR: "true", GIT_SEQUENCE_EDITOR: "true" }
      })
      if (r.exitCode === 0) {
        const newHead = yield* git.revParse(top, "HEAD")
        return { ...base, status: "rebased", conflicts: [], newHead, stoppedAt: null, message: `rebased ${commits.length} commit(s) of ${branch ?? "HEAD"} onto ${req.onto}`, nextSteps: [] } satisfies RebaseReport
      }
      const unmerged = yield* git.run(top, ["ls-files", "-u", "-z"])
      const stopped = yield* git.run(top, ["rev-parse", "--verify", "--quiet", "REBASE_HEAD"], { okExitCodes: [0, 1, 128] })
      const files = parseStages(unmerged.stdout).map((p) => {
        const kind = gitKindOf(p, [])
        return { path: p.path, kind, otherPaths: [], stages: { base: p.base, ours: p.ours, theirs: p.theirs }, messages: [], guidance: guidanceFor(kind, p.path, req.onto, branch ?? "HEAD") } satisfies PreviewFile
      })
      const stillRebasing = (yield* fs.exists(yield* gitDir("rebase-merge")).pipe(Effect.orElseSucceed(() => false))) ||
        (yield* fs.exists(yield* gitDir("rebase-apply")).pipe(Effect.orElseSucceed(() => false)))
      if (!stillRebasing) return yield* gitFailed(`git rebase failed: ${r.stderr.trim().split("\n").slice(-3).join(" / ")}`)
      if (req.onConflict === "abort") {
        yield* git.run(top, ["rebase", "--abort"])
        return {
          ...base,
          status: "aborted",
          conflicts: files,
          newHead: null,
          stoppedAt: stopped.exitCode === 0 ? stopped.stdout.trim() : null,
          message: `the rebase onto ${req.onto} conflicted in ${files.map((f) => f.path).join(", ")}; it was aborted and ${top} is back at ${head.slice(0, 12)}`,
          nextSteps: ["resolve the conflicts on a branch first, or rebase with mode perform and onConflict stop to resolve them in place"]
        } satisfies RebaseReport
      }
      return {
        ...base,
        status: "stopped",
        conflicts: files,
        newHead: null,
        stoppedAt: stopped.exitCode === 0 ? stopped.stdout.trim() : null,
        message: `the rebase stopped with conflicts in ${files.map((f) => f.path).join(", ")}; ${top} is in the middle of a rebase`,
        nextSteps: [
          "get resolutions: detect_advanced_conflicts with this worktree, then get_auto_fix_suggestions and apply_auto_fix (or edit the files)",
          `mark each resolved file: git -C ${top} add -- <file>`,
          `continue: git -C ${top} rebase --continue`,
          `or give up and restore the branch: ${abortHint}`
        ]
      } satisfies RebaseReport
    }).pipe(Effect.withSpan("Conflicts.rebaseAssist"))
})
