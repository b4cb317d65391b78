/**
 * `worktree.share`: dependency folders (`node_modules`, `.venv`, …) that a new worktree takes from the main
 * checkout instead of installing them again.
 *
 * - `symlink`: the worktree's folder is a symlink to the main checkout's (instant, no space; both share one
 *   folder, so an install in either changes both).
 * - `clone`: a copy-on-write clone (reflink) where the file system supports it; else hard links (package
 *   managers replace files rather than editing them in place, so the trees part on the first install; an
 *   in-place edit of a linked file shows in both); else a plain copy.
 *
 * A folder is shared only when the lockfiles next to it are byte-identical in the main checkout and in the
 * worktree: when they differ the branch has other dependencies, so nothing is shared and the configured
 * `worktree.setup` commands install them instead. A folder the main checkout lacks is not shared either; when
 * nothing would install it (no `worktree.setup`), the worktree is refused with the reason.
 */
import { CommandExecutor, FileSystem, Path } from "@effect/platform"
import { Effect, Schema } from "effect"
import { Git, type GitError } from "../platform/Git.js"
import { canReflink, CopyError, type CopyMethod, copyTree } from "./copyTree.js"

export type ShareMode = "symlink" | "clone"

/** The lockfiles (and, first, the manifests) that decide a dependency folder's contents, by folder name. */
const ECOSYSTEMS: Record<string, { readonly lockfiles: ReadonlyArray<string>; readonly manifests: ReadonlyArray<string> }> = {
  node_modules: {
    lockfiles: ["package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml", "bun.lock", "bun.lockb"],
    manifests: ["package.json"]
  },
  ".venv": {
    lockfiles: ["uv.lock", "poetry.lock", "Pipfile.lock", "pdm.lock", "requirements.txt"],
    manifests: ["pyproject.toml", "requirements.txt", "Pipfile", "setup.py"]
  },
  venv: {
    lockfiles: ["uv.lock", "poetry.lock", "Pipfile.lock", "pdm.lock", "requirements.txt"],
    manifests: ["pyproject.toml", "requirements.txt", "Pipfile", "setup.py"]
  },
  vendor: { lockfiles: ["composer.lock", "Gemfile.lock", "go.sum"], manifests: ["composer.json", "Gemfile", "go.mod"] },
  ".bundle": { lockfiles: ["Gemfile.lock"], manifests: ["Gemfile"] }
}

/**
 * Every file name that decides a dependency folder's contents (lockfiles and manifests of all the
 * ecosystems above): a checkout that changes one of them needs its dependencies installed again.
 */
export const DEPENDENCY_FILES: ReadonlySet<string> = new Set(
  Object.values(ECOSYSTEMS).flatMap((e) => [...e.lockfiles, ...e.manifests])
)

/** A `worktree.share` entry that cannot be shared, and nothing else would provide it. */
export class ShareError extends Schema.TaggedError<ShareError>()("ShareError", {
  reason: Schema.Literal("InvalidEntry", "Tracked", "Missing"),
  path: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    switch (this.reason) {
      case "InvalidEntry":
        return `worktree.share entry ${JSON.stringify(this.path)} ${this.detail}; use a folder path relative to the repository`
      case "Tracked":
        return `worktree.share entry ${JSON.stringify(this.path)} holds files tracked by git (${this.detail}); only ` +
          "untracked dependency folders can be shared — remove it from worktree.share"
      case "Missing":
        return `worktree.share lists ${this.path}, but ${this.detail} does not exist (dependencies not installed in the ` +
          "main checkout) and no worktree.setup command is configured to install them: install them in the main " +
          "checkout, add a worktree.setup command, or remove the entry from worktree.share (the worktree was not created)"
    }
  }
}

export interface ShareOutcome {
  readonly path: string
  /** `shared` (with `method`), `fallback` (left to worktree.setup), `absent` (not used by this repository). */
  readonly outcome: "shared" | "fallback" | "absent"
  readonly method: CopyMethod | null
  readonly detail: string
  readonly ms: number
}

export interface ShareReport {
  readonly folders: ReadonlyArray<ShareOutcome>
  /** Some folder could not be shared: the worktree.setup commands must run. */
  readonly needsSetup: boolean
}

const sameFile = (fs: FileSystem.FileSystem, a: string, b: string) =>
  Effect.gen(function*() {
    const [ea, eb] = yield* Effect.all([fs.exists(a), fs.exists(b)])
    if (ea !== eb) return false
    if (!ea) return true
    const [ba, bb] = yield* Effect.all([fs.readFile(a), fs.readFile(b)])
    return Buffer.compare(Buffer.from(ba), Buffer.from(bb)) === 0
  }).pipe(Effect.orElseSucceed(() => false))

/** Check an entry: relative, inside the repository, not tracked. */
const checkEntry = (repoPath: string, entry: string) =>
  Effect.gen(function*() {
    const git = yield* Git
    const rel = entry.trim().replace(/^\.\/+/, "").replace(/\/+$/, "")
    if (rel === "" || rel === ".") return yield* new ShareError({ reason: "InvalidEntry", path: entry, detail: "is empty" })
    if (rel.startsWith("/")) return yield* new ShareError({ reason: "InvalidEntry", path: entry, detail: "is an absolute path" })
    if (rel.split("/").includes("..") || rel.split("/")[0] === ".git") {
      return yield* new ShareError({ reason: "InvalidEntry", path: entry, detail: "points outside the repository's work tree" })
    }
    const tracked = yield* git.run(repoPath, ["ls-files", "-z", "--", rel])
    const first = tracked.stdout.split("\0")[0]
    if (first !== undefined && first !== "") return yield* new ShareError({ reason: "Tracked", path: rel, detail: first })
    return rel
  })

interface Decision {
  readonly rel: string
  readonly share: boolean
  readonly outcome: ShareOutcome["outcome"]
  readonly detail: string
}

/** Decide, for one entry, whether it can be shared (read-only). */
const decide = (repoPath: string, worktreePath: string, rel: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const eco = ECOSYSTEMS[path.basename(rel)]
    const dir = path.dirname(rel)
    const src = path.join(repoPath, rel)
    const info = yield* fs.stat(src).pipe(Effect.option)
    if (info._tag === "None" || info.value.type !== "Directory") {
      const manifests = eco?.manifests ?? []
      let used = eco === undefined
      for (const m of manifests) if (yield* fs.exists(path.join(repoPath, dir, m)).pipe(Effect.orElseSucceed(() => false))) used = true
      return used
        ? { rel, share: false, outcome: "fallback", detail: `${src} does not exist` } satisfies Decision
        : { rel, share: false, outcome: "absent", detail: "not used by this repository" } satisfies Decision
    }
    if (yield* fs.exists(path.join(worktreePath, rel)).pipe(Effect.orElseSucceed(() => true))) {
      return { rel, share: false, outcome: "fallback", detail: "the worktree already has it" } satisfies Decision
    }
    for (const lock of eco?.lockfiles ?? []) {
      const a = path.join(repoPath, dir, lock)
      const b = path.join(worktreePath, dir, lock)
      if (!(yield* sameFile(fs, a, b))) {
        const shown = path.join(dir, lock)
        return {
          rel,
          share: false,
          outcome: "fallback",
          detail: `${shown} differs from the main checkout's (this branch has other dependencies)`
        } satisfies Decision
      }
    }
    return { rel, share: true, outcome: "shared", detail: "" } satisfies Decision
  })

/** Bring one folder over: a symlink, or a clone with the cheapest method the file system allows. */
const bring = (src: string, dst: string, rel: string, mode: ShareMode) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    if (mode === "symlink") {
      yield* fs.makeDirectory(path.dirname(dst), { recursive: true }).pipe(Effect.zipRight(fs.symlink(src, dst)), Effect.mapError((e) =>
        new CopyError({ reason: /ENOSPC/.test(e.message) ? "DiskFull" : "Failed", path: rel, detail: e.message })
      ))
      return "symlink" as CopyMethod
    }
    const order: Array<Exclude<CopyMethod, "symlink">> = (yield* canReflink(path.dirname(dst)))
      ? ["reflink", "hardlink", "copy"]
      : ["hardlink", "copy"]
    let last: CopyError | undefined
    for (const method of order) {
      const r = yield* copyTree(src, dst, method, rel).pipe(Effect.either)
      if (r._tag === "Right") return method as CopyMethod
      last = r.left
      if (r.left.reason === "DiskFull") break
    }
    return yield* Effect.fail(last!)
  })

/**
 * Share the `entries` of `repoPath` into `worktreePath`. All or nothing: when any folder needs
 * `worktree.setup` (lockfile differs, missing in the main checkout), none is shared, so that the setup
 * commands never run against another checkout's folder.
 */
export const shareFolders = (options: {
  readonly repoPath: string
  readonly worktreePath: string
  readonly entries: ReadonlyArray<string>
  readonly mode: ShareMode
  /** Whether worktree.setup commands are configured (they install what cannot be shared). */
  readonly hasSetup: boolean
}): Effect.Effect<
  ShareReport,
  ShareError | CopyError | GitError,
  Git | FileSystem.FileSystem | Path.Path | CommandExecutor.CommandExecutor
> =>
  Effect.gen(function*() {
    const path = yield* Path.Path
    if (options.entries.length === 0) return { folders: [], needsSetup: false }
    const decisions: Array<Decision> = []
    for (const entry of options.entries) {
      const rel = yield* checkEntry(options.repoPath, entry)
      decisions.push(yield* decide(options.repoPath, options.worktreePath, rel))
    }
    const fallback = decisions.filter((d) => d.outcome === "fallback")
    const missing = fallback.find((d) => d.detail.endsWith("does not exist"))
    if (missing !== undefined && !options.hasSetup) {
      return yield* new ShareError({ reason: "Missing", path: missing.rel, detail: path.join(options.repoPath, missing.rel) })
    }
    const folders: Array<ShareOutcome> = []
    for (const d of decisions) {
      if (!d.share || fallback.length > 0) {
        const detail = d.share ? `not shared: ${fallback[0]!.rel} cannot be, and worktree.setup installs them all` : d.detail
        folders.push({ path: d.rel, outcome: d.share ? "fallback" : d.outcome, method: null, detail, ms: 0 })
        continue
      }
      const started = Date.now()
      const method = yield* bring(path.join(options.repoPath, d.rel), path.join(options.worktreePath, d.rel), d.rel, options.mode)
      folders.push({ path: d.rel, outcome: "shared", method, detail: `from ${path.join(options.repoPath, d.rel)}`, ms: Date.now() - started })
    }
    return { folders, needsSetup: fallback.length > 0 }
  })
