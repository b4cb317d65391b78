/**
 * Has a branch reached its target? Read-only git, on commit ids only (refs are resolved and validated by
 * the caller). In order:
 *
 * 1. The branch head is an ancestor of the target:
 *    - not on the target's first-parent line → merged by a merge commit (the oldest first-parent commit
 *      of the target that descends from the head);
 *    - on it → a fast-forward, but only if the head is the branch's own work: a branch that was created
 *      at a target commit and never committed to is also "on the line". Own work is known from the
 *      watcher having seen the head unmerged before, or from the branch's reflog (the entry that first
 *      recorded the head was a commit, not "branch: Created", a fast-forward or a reset).
 * 2. Otherwise the branch has commits the target lacks (by id). Then:
 *    - every one of them has a patch-equivalent commit in the target (`git log --cherry-mark`) → rebase;
 *    - the whole branch diff (merge base → head) has the patch-id of one target commit → squash;
 *    - merging it would not change the target's tree (`git merge-tree --write-tree`) → "content": the
 *      changes are in, by some other route (a squash with edits, a cherry-pick series, …).
 */
import { Effect, Option } from "effect"
import type { Git, GitError } from "../platform/Git.js"
import type { MergeMethod } from "./MergeStore.js"


export interface Detection {
  /** The merge, when the head is in the target. */
  readonly merged: Option.Option<{ readonly method: MergeMethod; readonly mergeCommit: string | null }>
  /** The head has commits that the target lacks (so it is the branch's own, unmerged work). */
  readonly unmerged: boolean
}

type GitRun = Git["Type"]["run"]

const lines = (text: string) => text.split("\n").map((l) => l.trim()).filter((l) => l !== "")

/** patch-id → commit, for the output of `git patch-id --stable`. */
const patchIds = (output: string): Map<string, string> => {
  const map = new Map<string, string>()
  for (const line of lines(output)) {
    const [pid, commit] = line.split(" ")
    if (pid !== undefined && commit !== undefined && !map.has(pid)) map.set(pid, commit)
  }
  return map
}

/** How a reflog entry moved the ref: true when it recorded a commit made on this branch. */
const isOwnCommit = (subject: string): boolean =>
  !(subject.startsWith("branch: Created") || subject.startsWith("branch: Reset") || subject.startsWith("reset:") ||
    subject.includes("Fast-forward") || subject.startsWith("fetch") || subject.startsWith("push") ||
    subject.startsWith("update by push") || subject.startsWith("branch: renamed"))

/**
 * Whether `head` was made on `branch`, from its reflog. None when the reflog does not tell (no reflog, or
 * the head is not in it).
 */
const ownWorkFromReflog = (run: GitRun, repo: string, branch: string, head: string) =>
  run(repo, ["log", "-g", "--format=%H%x09%gs", `refs/heads/${branch}`, "--"], { okExitCodes: [0, 128] }).pipe(
    Effect.map((r) => {
      if (r.exitCode !== 0) return Option.none<boolean>()
      const entries = lines(r.stdout).map((l) => {
        const tab = l.indexOf("\t")
        return { commit: tab < 0 ? l : l.slice(0, tab), subject: tab < 0 ? "" : l.slice(tab + 1) }
      })
      // Newest first: the last entry for `head` is the one that first recorded it.
      const first = entries.filter((e) => e.commit === head).pop()
      return first === undefined ? Option.none<boolean>() : Option.some(isOwnCommit(first.subject))
    })
  )

export interface DetectRequest {
  readonly repo: string
  /** The branch name (for its reflog); None when the branch no longer exists. */
  readonly branch: Option.Option<string>
  readonly head: string
  readonly target: string
  /** A head the watcher saw unmerged before (proof that it is the branch's own work). */
  readonly pendingHead: string | null
}

export const detect = (run: GitRun, req: DetectRequest): Effect.Effect<Detection, GitError> =>
  Effect.gen(function*() {
    const { head, repo, target } = req
    const git = (args: ReadonlyArray<string>, okExitCodes: ReadonlyArray<number> = [0]) => run(repo, args, { okExitCodes })
    const notMerged = (unmerged: boolean): Detection => ({ merged: Option.none(), unmerged })
    const merged = (method: MergeMethod, mergeCommit: string | null): Detection => ({
      merged: Option.some({ method, mergeCommit }),
      unmerged: false
    })

    const ancestor = yield* git(["merge-base", "--is-ancestor", head, target], [0, 1])
    if (ancestor.exitCode === 0) {
      const descendants = lines((yield* git(["rev-list", "--first-parent", "--ancestry-path", `${head}..${target}`])).stdout)
      const oldest = descendants[descendants.length - 1]
      if (oldest !== undefined) {
        const parents = lines((yield* git(["rev-list", "--parents", "-n", "1", oldest])).stdout)[0]?.split(" ") ?? []
        if (parents[1] !== head) return merged("merge-commit", oldest)
      }
      if (req.pendingHead === head) return merged("fast-forward", head)
      const own = Option.isSome(req.branch)
        ? yield* ownWorkFromReflog(run, repo, req.branch.value, head)
        : Option.none<boolean>()
      return Option.getOrElse(own, () => false) ? merged("fast-forward", head) : notMerged(false)
    }

    const base = yield* git(["merge-base", target, head], [0, 1])
    const mergeBase = base.stdout.trim()
    if (base.exitCode !== 0 || mergeBase === "") return notMerged(true)
    const emptyDiff = yield* git(["diff", "--quiet", mergeBase, head, "--"], [0, 1])
    if (emptyDiff.exitCode === 0) return notMerged(true)

    const targetPatches = yield* Effect.suspend(() =>
      git(["log", "-p", "--no-merges", "--no-color", "--max-count=2000", "--format=commit %H", `${mergeBase}..${target}`])
    ).pipe(
      Effect.flatMap((log) => run(repo, ["patch-id", "--stable"], { stdin: log.stdout })),
      Effect.map((r) => patchIds(r.stdout)),
      Effect.cached
    )

    const marks = lines((yield* git(["log", "--format=%m", "--cherry-mark", "--right-only", "--no-merges", `${target}...${head}`])).stdout)
    if (marks.length > 0 && marks.every((m) => m === "=")) {
      const headPatch = yield* git(["show", "--no-color", "--format=commit %H", head]).pipe(
        Effect.flatMap((show) => run(repo, ["patch-id", "--stable"], { stdin: show.stdout })),
        Effect.map((r) => lines(r.stdout)[0]?.split(" ")[0])
      )
      const patches = yield* targetPatches
      return merged("rebase", headPatch !== undefined ? patches.get(headPatch) ?? null : null)
    }

    const branchPatch = yield* git(["diff", "--no-color", mergeBase, head, "--"]).pipe(
      Effect.flatMap((diff) => run(repo, ["patch-id", "--stable"], { stdin: diff.stdout })),
      Effect.map((r) => lines(r.stdout)[0]?.split(" ")[0])
    )
    if (branchPatch !== undefined) {
      const squash = (yield* targetPatches).get(branchPatch)
      if (squash !== undefined) return merged("squash", squash)
    }

    const mergeTree = yield* git(["merge-tree", "--write-tree", "--no-messages", target, head], [0, 1])
    if (mergeTree.exitCode === 0) {
      const tree = lines(mergeTree.stdout)[0]
      const targetTree = (yield* git(["rev-parse", `${target}^{tree}`])).stdout.trim()
      if (tree === targetTree) return merged("content", null)
    }
    return notMerged(true)
  })
