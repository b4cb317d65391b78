/**
 * Which tasks of a parallel run changed the same files, whether their patches apply together, and an order
 * in which they land cleanest — for the run's summary.
 *
 * Each compared task's patch (`changes.patch`, against the run's base commit) is applied to the base in a
 * temporary index of our own (never a worktree's or the user's) and written as a commit on the base; each
 * pair that changed a common file is merged with `git merge-tree --write-tree` (pairs with no common file
 * apply together by construction). A task whose files are known (the caller wrote its patch and listed them)
 * and shared with no other task is in no pair, so its patch is not applied at all. The landing order: a task lands clean when no task it conflicts with
 * landed before it, so tasks are taken one by one — dependencies first, then the fewest conflicts with what
 * already landed, then the fewest conflicts with what is left, then the run's order. Pure apart from git.
 *
 * @since 0.2.0
 */
import { Effect } from "effect"
import * as os from "node:os"
import * as path from "node:path"
import { type Git, type GitError, syntheticCommitEnv } from "../platform/Git.js"
import * as NodeFs from "../platform/nodeFs.js"
import type { RunOverlapsJson, TaskResultJson } from "./ParallelSummary.js"

type G = Git["Type"]

const identity = syntheticCommitEnv

interface Applied {
  readonly id: string
  /** Undefined for a task in no pair (its patch was not applied). */
  readonly commit: string | undefined
  readonly files: ReadonlySet<string>
}

/** The tasks whose results are compared: those that succeeded with a non-empty patch. */
export const comparable = (tasks: ReadonlyArray<TaskResultJson>): ReadonlyArray<TaskResultJson> =>
  tasks.filter((t) => t.status === "succeeded" && t.patch !== null)

/** The task's patch applied to `base` in a temporary index, as a commit on `base`; undefined when empty. */
const applyPatch = (git: G, repo: string, base: string, patchFile: string, tmp: string, id: string) =>
  Effect.gen(function*() {
    const env = { ...identity, GIT_INDEX_FILE: path.join(tmp, `${id.replace(/[^A-Za-z0-9_-]/g, "_")}.index`) }
    yield* git.run(repo, ["read-tree", base], { env })
    yield* git.run(repo, ["apply", "--cached", "--binary", "--whitespace=nowarn", patchFile], { env })
    const tree = (yield* git.run(repo, ["write-tree"], { env })).stdout.trim()
    const names = yield* git.run(repo, ["diff-tree", "-r", "-z", "--no-renames", "--name-only", base, tree, "--"], { env: identity })
    const files = new Set(names.stdout.split("\0").filter((p) => p !== ""))
    if (files.size === 0) return undefined
    const commit = (yield* git.run(repo, ["commit-tree", tree, "-p", base, "-m", `parallel-cc task ${id}`], { env: identity })).stdout.trim()
    return { id, commit, files } satisfies Applied
  })

/** The files `git merge-tree` leaves conflicted merging the two commits (empty: clean). */
const conflictsOf = (git: G, repo: string, a: string, b: string) =>
  Effect.map(
    git.run(repo, ["merge-tree", "--write-tree", "--name-only", "-z", "--no-messages", a, b], { okExitCodes: [0, 1], env: identity }),
    (r) => (r.exitCode === 0 ? [] : [...new Set(r.stdout.split("\0").slice(1).filter((p) => p !== ""))].sort())
  )

/**
 * The order to land `ids` in (see the module comment) and which of them land clean in it. `conflicts` holds
 * each conflicting pair as `a\0b` both ways; `dependsOn` the run's dependencies.
 */
export const landingOrder = (
  ids: ReadonlyArray<string>,
  conflicts: ReadonlySet<string>,
  dependsOn: ReadonlyMap<string, ReadonlyArray<string>>
): { readonly order: ReadonlyArray<string>; readonly clean: ReadonlyArray<string> } => {
  const order: Array<string> = []
  const clean: Array<string> = []
  const left = [...ids]
  const against = (id: string, others: Iterable<string>) => {
    let n = 0
    for (const o of others) if (o !== id && conflicts.has(`${id}\0${o}`)) n++
    return n
  }
  while (left.length > 0) {
    const ready = left.filter((id) => (dependsOn.get(id) ?? []).every((d) => !left.includes(d)))
    const pool = ready.length > 0 ? ready : left
    const score = (id: string) => [against(id, order), against(id, left), left.indexOf(id)] as const
    const next = pool.reduce((best, id) => {
      const [a, b, c] = score(id)
      const [x, y, z] = score(best)
      return a < x || (a === x && (b < y || (b === y && c < z))) ? id : best
    })
    if (against(next, order) === 0) clean.push(next)
    order.push(next)
    left.splice(left.indexOf(next), 1)
  }
  return { order, clean }
}

/** Compare the tasks' patches (see the module comment). */
export const compare = (
  git: G,
  options: {
    readonly repo: string
    readonly baseCommit: string
    readonly outputDir: string
    readonly tasks: ReadonlyArray<TaskResultJson>
    /** The files a task's patch changes (by the patch's path), when the caller knows them. */
    readonly filesOfPatch?: ((patchPath: string) => ReadonlySet<string> | undefined) | undefined
  }
): Effect.Effect<RunOverlapsJson, GitError> =>
  Effect.acquireUseRelease(
    NodeFs.makeTempDirectory(path.join(os.tmpdir(), "parallel-cc-overlaps-")).pipe(Effect.orDie),
    (tmp) =>
      Effect.gen(function*() {
        const tasks = comparable(options.tasks)
        const patchPath = (t: TaskResultJson) => path.join(options.outputDir, t.resultDir, t.patch!)
        const known = new Map(tasks.map((t) => [t.id, options.filesOfPatch?.(patchPath(t))]))
        // How many tasks change each file; with any task's files unknown, every patch is applied.
        const changedBy = new Map<string, number>()
        for (const files of known.values()) for (const f of files ?? []) changedBy.set(f, (changedBy.get(f) ?? 0) + 1)
        const allKnown = [...known.values()].every((files) => files !== undefined)
        const applied: Array<Applied> = []
        for (const t of tasks) {
          const files = known.get(t.id)
          if (allKnown && files !== undefined && files.size > 0 && [...files].every((f) => changedBy.get(f) === 1)) {
            applied.push({ id: t.id, commit: undefined, files })
            continue
          }
          const a = yield* applyPatch(git, options.repo, options.baseCommit, patchPath(t), tmp, t.id)
          if (a !== undefined) applied.push(a)
        }
        const pairs: Array<RunOverlapsJson["pairs"][number]> = []
        const conflicting = new Set<string>()
        for (const [i, a] of applied.entries()) {
          for (const b of applied.slice(i + 1)) {
            const files = [...a.files].filter((f) => b.files.has(f)).sort()
            if (files.length === 0) continue
            // Both share a file, so both patches were applied.
            const conflicts = yield* conflictsOf(git, options.repo, a.commit!, b.commit!)
            if (conflicts.length > 0) conflicting.add(`${a.id}\0${b.id}`).add(`${b.id}\0${a.id}`)
            pairs.push({ tasks: [a.id, b.id], files, conflicts, applyTogether: conflicts.length === 0 })
          }
        }
        const ids = applied.map((a) => a.id)
        const deps = new Map(tasks.map((t) => [t.id, t.dependsOn]))
        const { clean, order } = landingOrder(ids, conflicting, deps)
        return { tasks: ids, pairs, landingOrder: [...order], landsClean: [...clean], error: null }
      }),
    (tmp) => NodeFs.remove(tmp, { recursive: true }).pipe(Effect.ignore)
  )
