/**
 * What `git worktree add` leaves out of a new worktree of a real repository, filled in without the network:
 *
 * - Submodules: each one the main checkout has initialised is cloned from the main checkout's own module
 *   store (a local clone: objects hard-linked, `GIT_ALLOW_PROTOCOL=file` so nothing is fetched from the
 *   network), checked out at the commit the branch records, its `origin` pointed back at the real URL;
 *   recursively. Nothing in the repository's configuration changes.
 * - Git LFS: when the repository uses LFS and `git-lfs` is installed and configured, `git lfs checkout`
 *   replaces pointer files with the content from the local LFS store (shared by all worktrees).
 * - Sparse checkout: git ≥ 2.36 copies the main checkout's sparse-checkout patterns to a worktree added from
 *   it; when they are missing (older git), they are set from the main checkout's list.
 *
 * Problems are notes, never failures: the worktree is usable without a submodule, with LFS pointers, or
 * with every file checked out.
 */
import { FileSystem, Path } from "@effect/platform"
import { Effect } from "effect"
import { Git } from "../platform/Git.js"

export interface SubmoduleOutcome {
  /** Path relative to the worktree's top level. */
  readonly path: string
  readonly outcome: "initialised" | "skipped" | "failed"
  readonly detail: string
}

export interface ContentsReport {
  readonly submodules: ReadonlyArray<SubmoduleOutcome>
  /** LFS: `checked-out` (with the number of files still pointers), `unavailable` (git-lfs missing), `unused`. */
  readonly lfs: { readonly state: "unused" | "checked-out" | "unavailable" | "unconfigured"; readonly pointers: number }
  /** Sparse checkout: `none` (main checkout is not sparse), `carried` (by git), `applied` (set by us), `failed`. */
  readonly sparse: "none" | "carried" | "applied" | "failed"
  readonly notes: ReadonlyArray<string>
}

const MAX_DEPTH = 8
const lines = (s: string) => s.split("\n").map((l) => l.trim()).filter((l) => l !== "")

/** Submodules declared in `dir`'s `.gitmodules`: name and path. */
const declaredSubmodules = (dir: string) =>
  Effect.gen(function*() {
    const git = yield* Git
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    if (!(yield* fs.exists(path.join(dir, ".gitmodules")).pipe(Effect.orElseSucceed(() => false)))) return []
    const r = yield* git.run(dir, ["config", "-z", "-f", ".gitmodules", "--get-regexp", "^submodule\\..*\\.path$"], { okExitCodes: [0, 1] })
    return r.stdout.split("\0").filter((e) => e !== "").flatMap((e) => {
      const nl = e.indexOf("\n")
      if (nl < 0) return []
      const key = e.slice(0, nl)
      return [{ name: key.slice("submodule.".length, -".path".length), path: e.slice(nl + 1) }]
    })
  })

/** Initialise the submodules of `worktreeDir` from those of `mainDir` (recursively). */
const initSubmodules = (mainDir: string, worktreeDir: string, prefix: string, depth: number): Effect.Effect<
  ReadonlyArray<SubmoduleOutcome>,
  never,
  Git | FileSystem.FileSystem | Path.Path
> =>
  Effect.gen(function*() {
    const git = yield* Git
    const path = yield* Path.Path
    const out: Array<SubmoduleOutcome> = []
    for (const sub of yield* declaredSubmodules(worktreeDir)) {
      const shown = prefix + sub.path
      const mainSub = path.join(mainDir, sub.path)
      const store = yield* git.run(mainSub, ["rev-parse", "--path-format=absolute", "--git-dir", "--show-toplevel"], { okExitCodes: [0, 128] })
        .pipe(Effect.map((r) => {
          const [gitDir, top] = lines(r.stdout)
          return r.exitCode === 0 && top === mainSub ? gitDir ?? null : null
        }), Effect.orElseSucceed(() => null))
      if (store === null) {
        out.push({ path: shown, outcome: "skipped", detail: "not initialised in the main checkout (run `git submodule update --init` there)" })
        continue
      }
      const realUrl = yield* git.run(mainDir, ["config", "--get", `submodule.${sub.name}.url`], { okExitCodes: [0, 1] })
        .pipe(Effect.map((r) => r.stdout.trim()), Effect.orElseSucceed(() => ""))
      const r = yield* git.run(worktreeDir, [
        "-c",
        "protocol.file.allow=always",
        "-c",
        `submodule.${sub.name}.url=${store}`,
        "submodule",
        "update",
        "--init",
        "--",
        sub.path
      ], { okExitCodes: [0, 1, 128], env: { GIT_ALLOW_PROTOCOL: "file" } }).pipe(Effect.either)
      if (r._tag === "Left" || r.right.exitCode !== 0) {
        const why = r._tag === "Left" ? r.left.message : lines(r.right.stderr).slice(-2).join(" / ")
        out.push({
          path: shown,
          outcome: "failed",
          detail: `could not check it out from the main checkout's store (${why}); run \`git submodule update --init\` ` +
            "in the worktree (it may need the network)"
        })
        continue
      }
      const wtSub = path.join(worktreeDir, sub.path)
      if (realUrl !== "") yield* git.run(wtSub, ["remote", "set-url", "origin", realUrl]).pipe(Effect.ignore)
      out.push({ path: shown, outcome: "initialised", detail: `from ${store}` })
      if (depth < MAX_DEPTH) out.push(...(yield* initSubmodules(mainSub, wtSub, `${shown}/`, depth + 1)))
    }
    return out
  }).pipe(Effect.catchAll((e) => Effect.succeed([{ path: prefix || ".", outcome: "failed" as const, detail: e.message }])))

/**
 * Whether the checkout at `dir` sends files through the LFS filter: its top-level `.gitattributes` says
 * `filter=lfs` (read directly: no process on the path of every new worktree; nested `.gitattributes` files
 * alone are not looked at).
 */
const usesLfs = (dir: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const text = yield* fs.readFileString(path.join(dir, ".gitattributes")).pipe(Effect.orElseSucceed(() => ""))
    return /filter=lfs\b/.test(text)
  })

/** Whether `git-lfs` is installed (git finds it on PATH). */
export const lfsInstalled = (cwd: string) =>
  Effect.flatMap(Git, (git) => git.run(cwd, ["lfs", "version"], { okExitCodes: [0, 1, 128, 129] })).pipe(
    Effect.map((r) => r.exitCode === 0),
    Effect.orElseSucceed(() => false)
  )

/** Whether the repository containing `cwd` uses Git LFS (any tracked .gitattributes with filter=lfs). */
export const repositoryUsesLfs = usesLfs

const checkoutLfs = (worktreePath: string) =>
  Effect.gen(function*() {
    const git = yield* Git
    if (!(yield* usesLfs(worktreePath))) return { lfs: { state: "unused", pointers: 0 } as const, notes: [] }
    if (!(yield* lfsInstalled(worktreePath))) {
      return {
        lfs: { state: "unavailable", pointers: 0 } as const,
        notes: ["this repository uses Git LFS but git-lfs is not installed: LFS files in the worktree are pointer files (install git-lfs, then run `git lfs checkout` there)"]
      }
    }
    const filter = yield* git.run(worktreePath, ["config", "--get", "filter.lfs.process"], { okExitCodes: [0, 1] })
    if (filter.exitCode !== 0) {
      return {
        lfs: { state: "unconfigured", pointers: 0 } as const,
        notes: ["this repository uses Git LFS but its filter is not configured: run `git lfs install`, then `git lfs checkout` in the worktree"]
      }
    }
    yield* git.run(worktreePath, ["lfs", "checkout"], { okExitCodes: [0, 1, 2], env: { GIT_LFS_SKIP_SMUDGE: "0" } })
    const list = yield* git.run(worktreePath, ["lfs", "ls-files"], { okExitCodes: [0, 1, 2] })
    const pointers = lines(list.stdout).filter((l) => / - /.test(l)).length
    return {
      lfs: { state: "checked-out", pointers } as const,
      notes: pointers > 0
        ? [`${pointers} Git LFS file(s) are pointers: their content is not in the local LFS store (run \`git lfs pull\` in the worktree)`]
        : []
    }
  }).pipe(Effect.catchAll((e) => Effect.succeed({ lfs: { state: "unavailable", pointers: 0 } as const, notes: [`Git LFS checkout failed: ${e.message}`] })))

const carrySparse = (repoPath: string, worktreePath: string) =>
  Effect.gen(function*() {
    const git = yield* Git
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    // The usual layout answers without a process: no patterns file in `<repo>/.git/info`, no sparse checkout.
    const dotGit = path.join(repoPath, ".git")
    const plainLayout = yield* fs.stat(dotGit).pipe(Effect.map((st) => st.type === "Directory"), Effect.orElseSucceed(() => false))
    if (plainLayout && !(yield* fs.exists(path.join(dotGit, "info", "sparse-checkout")).pipe(Effect.orElseSucceed(() => true)))) {
      return { sparse: "none" as const, notes: [] }
    }
    const bool = (dir: string, key: string) =>
      git.run(dir, ["config", "--bool", "--get", key], { okExitCodes: [0, 1] }).pipe(Effect.map((r) => r.stdout.trim() === "true"))
    if (!(yield* bool(repoPath, "core.sparseCheckout"))) return { sparse: "none" as const, notes: [] }
    const list = (dir: string) => git.run(dir, ["sparse-checkout", "list"], { okExitCodes: [0, 128] }).pipe(Effect.map((r) => r.exitCode === 0 ? lines(r.stdout) : []))
    const main = yield* list(repoPath)
    const here = (yield* bool(worktreePath, "core.sparseCheckout")) ? yield* list(worktreePath) : []
    if (here.length > 0 && here.join("\n") === main.join("\n")) return { sparse: "carried" as const, notes: [] }
    const cone = yield* bool(repoPath, "core.sparseCheckoutCone")
    yield* git.run(worktreePath, ["sparse-checkout", "set", cone ? "--cone" : "--no-cone", "--stdin"], { stdin: main.join("\n") + "\n" })
    return { sparse: "applied" as const, notes: [] }
  }).pipe(
    Effect.catchAll((e) =>
      Effect.succeed({ sparse: "failed" as const, notes: [`could not carry the sparse checkout over: ${e.message}; every file is checked out`] })
    )
  )

/** Fill in submodules, LFS content and the sparse checkout of a new worktree. Never fails. */
export const fillWorktree = (repoPath: string, worktreePath: string): Effect.Effect<
  ContentsReport,
  never,
  Git | FileSystem.FileSystem | Path.Path
> =>
  Effect.gen(function*() {
    const sparse = yield* carrySparse(repoPath, worktreePath)
    const submodules = yield* initSubmodules(repoPath, worktreePath, "", 0)
    const lfs = yield* checkoutLfs(worktreePath)
    const notes = [
      ...sparse.notes,
      ...submodules.filter((s) => s.outcome !== "initialised").map((s) => `submodule ${s.path}: ${s.detail}`),
      ...lfs.notes
    ]
    return { submodules, lfs: lfs.lfs, sparse: sparse.sparse, notes }
  })
