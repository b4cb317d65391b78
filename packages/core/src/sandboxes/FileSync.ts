/**
 * File sync for sandboxed runs. Upload: what git considers the work tree — tracked files plus untracked
 * files that are not ignored (`git ls-files -z --cached --others --exclude-standard`), so build output,
 * dependencies and secrets in ignored files never leave the machine — as ONE gzipped tar for a remote
 * sandbox; a sandbox on this machine copies the same listed files directly (`list`). Download: only the
 * added, modified and deleted files, applied with every path checked so nothing lands outside the target.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Schema } from "effect"
import * as path from "node:path"
import { Git, type GitError } from "../platform/Git.js"
import * as NodeFs from "../platform/nodeFs.js"
import * as Archive from "./archive.js"
import type { ChangeList, Changes } from "./SandboxProvider.js"

/** The work tree as listed for upload: what would be packed. */
export interface Listed {
  readonly root: string
  readonly files: ReadonlyArray<string>
  /** Submodules and other non-file entries git listed but that are not uploaded. */
  readonly skipped: ReadonlyArray<string>
  /** Initialised submodules whose files are listed with the rest (a fresh worktree would not have them). */
  readonly submodules?: ReadonlyArray<string> | undefined
  /** Ignore patterns that applied in the repository but do not travel with the files. */
  readonly excludes: string
  /** The size of the files (symlinks count as their target's text). */
  readonly bytes: number
}

/** The work tree at a glance (see `FileSync.survey`). */
export interface Survey {
  readonly root: string
  /**
   * The paths that differ from HEAD — modified, added, deleted, type-changed, untracked and not ignored — as
   * git status sees them (submodules' own contents aside).
   */
  readonly dirty: ReadonlyArray<string>
  /** How many files `list` would list (tracked ones still there, untracked ones not ignored), submodules aside. */
  readonly files: number
  /** The size of the dirty paths that are files or symlinks. */
  readonly dirtyBytes: number
  /** Initialised submodules (with a `.git`): `list` uploads their files, a fresh worktree lacks them. */
  readonly submodules: ReadonlyArray<string>
  /** Submodules that are not initialised: not part of any upload. */
  readonly skipped: ReadonlyArray<string>
}

/** The work tree packed for upload. */
export interface Packed extends Listed {
  readonly archive: Uint8Array
}

/** What `list` and `pack` may reuse from an earlier call on the same repository. */
export interface ListOptions {
  /** The ignore patterns from `excludes(root)`, when the caller has them already. */
  readonly excludes?: string | undefined
}

/** A path that was not applied, and why. */
export interface Refusal {
  readonly path: string
  readonly reason: string
}

/** What applying changes did. */
export interface Applied {
  readonly written: ReadonlyArray<string>
  readonly deleted: ReadonlyArray<string>
  readonly refused: ReadonlyArray<Refusal>
}

/** Packing or applying failed. */
export class FileSyncError extends Schema.TaggedError<FileSyncError>()("FileSyncError", {
  reason: Schema.Literal("PackFailed", "BadArchive", "TooLarge", "ApplyFailed"),
  path: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    switch (this.reason) {
      case "PackFailed":
        return `could not pack the work tree of ${this.path}: ${this.detail}`
      case "BadArchive":
        return `the changes archive is not a valid gzipped tar (${this.detail}); nothing was applied to ${this.path}`
      case "TooLarge":
        return `the changes archive is too large (${this.detail}); nothing was applied to ${this.path}`
      case "ApplyFailed":
        return `could not apply the changes to ${this.path}: ${this.detail}`
    }
  }
}

export class FileSync extends Context.Tag("@parallel-cc/core/FileSync")<FileSync, {
  /** The ignore patterns of the repository at `root` that do not travel with its files (info/exclude, core.excludesFile). */
  readonly excludes: (root: string) => Effect.Effect<string, GitError>
  /** List the work tree of the repository at `root` (its top level): tracked and untracked-not-ignored files. */
  readonly list: (root: string, options?: ListOptions) => Effect.Effect<Listed, GitError>
  /**
   * What a fresh worktree of HEAD lacks to hold the work tree at `root` as `list` would list it — without
   * reading every file: the paths that differ from HEAD, the file count, and the submodules.
   */
  readonly survey: (root: string) => Effect.Effect<Survey, GitError>
  /** One gzipped tar of listed files. */
  readonly archive: (listed: Listed) => Effect.Effect<Uint8Array, FileSyncError>
  /** Pack the work tree of the repository at `root` (its top level). */
  readonly pack: (root: string, options?: ListOptions) => Effect.Effect<Packed, FileSyncError | GitError>
  /** Apply changes from a sandbox (untrusted) to the directory `target` (created if missing). */
  readonly apply: (changes: Changes, target: string) => Effect.Effect<Applied, FileSyncError>
}>() {}

/** `lstat` of each of `rels` under `root` (undefined where missing), a few at a time, off the event loop. */
const lstatAll = (root: string, rels: ReadonlyArray<string>): Effect.Effect<Array<NodeFs.Stats | undefined>> =>
  Effect.promise(async () => {
    const out: Array<NodeFs.Stats | undefined> = new Array(rels.length)
    let next = 0
    const worker = async () => {
      while (next < rels.length) {
        const i = next++
        out[i] = await NodeFs.promises.lstat(path.join(root, rels[i]!)).catch(() => undefined)
      }
    }
    await Promise.all(Array.from({ length: Math.min(16, rels.length) }, worker))
    return out
  })

export const make = Effect.gen(function*() {
  const git = yield* Git

  const readIfFile = (p: string) => NodeFs.readText(p).pipe(Effect.orElseSucceed(() => ""))

  const excludes = (root: string) =>
    Effect.gen(function*() {
      const excludeFile = (yield* git.run(root, ["rev-parse", "--git-path", "info/exclude"])).stdout.trim()
      const globalFile = (yield* git.run(root, ["config", "--path", "core.excludesFile"], { okExitCodes: [0, 1] })).stdout.trim()
      return [
        yield* readIfFile(path.resolve(root, excludeFile)),
        globalFile !== "" ? yield* readIfFile(globalFile) : ""
      ].filter((s) => s.trim() !== "").join("\n")
    })

  const list = (root: string, options: ListOptions = {}) =>
    Effect.gen(function*() {
      const listed = yield* git.run(root, ["ls-files", "-z", "--cached", "--others", "--exclude-standard"])
      const unique = [...new Set(listed.stdout.split("\0").filter((p) => p !== ""))].sort()
      const stats = yield* lstatAll(root, unique)
      const files: Array<string> = []
      const skipped: Array<string> = []
      let bytes = 0
      unique.forEach((rel, i) => {
        const st = stats[i]
        if (st === undefined) return // deleted in the work tree: not part of it
        if (st.isFile() || st.isSymbolicLink()) {
          files.push(rel)
          bytes += st.size
        } else skipped.push(rel)
      })
      return yield* withSubmodules({ root, files, skipped, excludes: options.excludes ?? (yield* excludes(root)), bytes })
    }).pipe(Effect.withSpan("FileSync.list"))

  /** An initialised submodule (one entry in the superproject's listing) is uploaded with its own files. */
  const withSubmodules = (listed: Listed): Effect.Effect<Listed, GitError> =>
    Effect.gen(function*() {
      if (listed.skipped.length === 0) return listed
      const files = [...listed.files]
      const skipped: Array<string> = []
      const submodules: Array<string> = []
      let bytes = listed.bytes
      for (const rel of listed.skipped) {
        const sub = path.join(listed.root, rel)
        if ((yield* lstatAll(sub, [".git"]))[0] === undefined) {
          skipped.push(rel)
          continue
        }
        const inner = yield* list(sub, { excludes: "" })
        files.push(...inner.files.map((f) => `${rel}/${f}`))
        skipped.push(...inner.skipped.map((f) => `${rel}/${f}`))
        submodules.push(rel, ...(inner.submodules ?? []).map((f) => `${rel}/${f}`))
        bytes += inner.bytes
      }
      return { ...listed, files: files.sort(), skipped, submodules, bytes }
    })

  const survey = (root: string) =>
    Effect.gen(function*() {
      // Two git processes at once: the index (mode of each entry: 160000 is a submodule) and the status.
      const [staged, status] = yield* Effect.all([
        git.run(root, ["ls-files", "-z", "--stage"]),
        git.run(root, ["--no-optional-locks", "status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames", "--ignore-submodules=all"])
      ], { concurrency: 2 })
      const gitlinks: Array<string> = []
      const tracked = new Set<string>()
      for (const rec of staged.stdout.split("\0")) {
        const tab = rec.indexOf("\t")
        if (tab < 0) continue
        const p = rec.slice(tab + 1)
        if (rec.startsWith("160000 ")) gitlinks.push(p)
        else tracked.add(p)
      }
      const dirty = new Set<string>()
      for (const rec of status.stdout.split("\0")) {
        if (rec.length > 3) dirty.add(rec.slice(3).replace(/\/$/, ""))
      }
      const sorted = [...dirty].sort()
      const stats = yield* lstatAll(root, sorted)
      let files = tracked.size
      let dirtyBytes = 0
      sorted.forEach((p, i) => {
        const st = stats[i]
        const isFile = st !== undefined && (st.isFile() || st.isSymbolicLink())
        // A tracked path that is gone (or a directory now) is not a file of the work tree; an untracked
        // file is one more (an untracked directory is a nested repository, which is not uploaded).
        if (isFile) dirtyBytes += st.size
        if (tracked.has(p) && !isFile) files--
        else if (!tracked.has(p) && isFile) files++
      })
      const inited = yield* lstatAll(root, gitlinks.map((g) => `${g}/.git`))
      return {
        root,
        dirty: sorted,
        files,
        dirtyBytes,
        submodules: gitlinks.filter((_, i) => inited[i] !== undefined),
        skipped: gitlinks.filter((_, i) => inited[i] === undefined)
      } satisfies Survey
    }).pipe(Effect.withSpan("FileSync.survey"))

  const archive = (listed: Listed) =>
    Effect.tryPromise({
      try: () => Archive.pack(listed.root, listed.files),
      catch: (e) => new FileSyncError({ reason: "PackFailed", path: listed.root, detail: e instanceof Error ? e.message : String(e) })
    })

  const pack = (root: string, options: ListOptions = {}) =>
    Effect.gen(function*() {
      const listed = yield* list(root, options)
      return { ...listed, archive: yield* archive(listed) } satisfies Packed
    }).pipe(Effect.withSpan("FileSync.pack"))

  const apply = (changes: Changes, target: string) =>
    Effect.gen(function*() {
      const raw = yield* Effect.tryPromise({
        try: () => Archive.read(changes.archive),
        catch: (e) =>
          e instanceof Archive.ArchiveTooLarge
            ? new FileSyncError({ reason: "TooLarge", path: target, detail: e.message })
            : new FileSyncError({ reason: "BadArchive", path: target, detail: e instanceof Error ? e.message : String(e) })
      })
      const checked = Archive.check(raw)
      return yield* Effect.tryPromise({
        try: async () => {
          await NodeFs.promises.mkdir(target, { recursive: true })
          const applied = await Archive.apply(target, checked.entries, changes.deleted)
          return {
            written: applied.written,
            deleted: applied.deleted,
            refused: [...changes.refused, ...checked.refused, ...applied.refused]
          } satisfies Applied
        },
        catch: (e) => new FileSyncError({ reason: "ApplyFailed", path: target, detail: e instanceof Error ? e.message : String(e) })
      })
    }).pipe(Effect.withSpan("FileSync.apply"))

  return FileSync.of({ excludes, list, survey, archive, pack, apply })
})

/** FileSync over Git. */
export const layer = Layer.effect(FileSync, make)

/** Counts of a change list, for messages. */
export const summary = (c: ChangeList): string =>
  `${c.added.length} added, ${c.modified.length} modified, ${c.deleted.length} deleted`
