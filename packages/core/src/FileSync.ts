/**
 * File sync for sandboxed runs. Upload: ONE gzipped tar of what git considers the work tree — tracked files
 * plus untracked files that are not ignored (`git ls-files -z --cached --others --exclude-standard`), so
 * build output, dependencies and secrets in ignored files never leave the machine. Download: only the
 * added, modified and deleted files, applied with every path checked so nothing lands outside the target.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Schema } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { Git, type GitError } from "./Git.js"
import * as Archive from "./internal/archive.js"
import type { ChangeList, Changes } from "./SandboxProvider.js"

/** The work tree packed for upload. */
export interface Packed {
  readonly root: string
  readonly files: ReadonlyArray<string>
  readonly archive: Uint8Array
  /** Submodules and other non-file entries git listed but that are not uploaded. */
  readonly skipped: ReadonlyArray<string>
  /** Ignore patterns that applied in the repository but do not travel with the files. */
  readonly excludes: string
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
  /** Pack the work tree of the repository at `root` (its top level). */
  readonly pack: (root: string) => Effect.Effect<Packed, FileSyncError | GitError>
  /** Apply changes from a sandbox (untrusted) to the directory `target` (created if missing). */
  readonly apply: (changes: Changes, target: string) => Effect.Effect<Applied, FileSyncError>
}>() {}

const lstat = (p: string) => {
  try {
    return fs.lstatSync(p)
  } catch {
    return undefined
  }
}

export const make = Effect.gen(function*() {
  const git = yield* Git

  const readIfFile = (p: string) => {
    try {
      return fs.readFileSync(p, "utf8")
    } catch {
      return ""
    }
  }

  const pack = (root: string) =>
    Effect.gen(function*() {
      const listed = yield* git.run(root, ["ls-files", "-z", "--cached", "--others", "--exclude-standard"])
      const unique = [...new Set(listed.stdout.split("\0").filter((p) => p !== ""))].sort()
      const files: Array<string> = []
      const skipped: Array<string> = []
      for (const rel of unique) {
        const st = lstat(path.join(root, rel))
        if (st === undefined) continue // deleted in the work tree: not part of it
        if (st.isFile() || st.isSymbolicLink()) files.push(rel)
        else skipped.push(rel)
      }
      const excludeFile = (yield* git.run(root, ["rev-parse", "--git-path", "info/exclude"])).stdout.trim()
      const globalFile = (yield* git.run(root, ["config", "--path", "core.excludesFile"], { okExitCodes: [0, 1] })).stdout.trim()
      const excludes = [
        readIfFile(path.resolve(root, excludeFile)),
        globalFile !== "" ? readIfFile(globalFile) : ""
      ].filter((s) => s.trim() !== "").join("\n")
      const archive = yield* Effect.tryPromise({
        try: () => Archive.pack(root, files),
        catch: (e) => new FileSyncError({ reason: "PackFailed", path: root, detail: e instanceof Error ? e.message : String(e) })
      })
      return { root, files, archive, skipped, excludes } satisfies Packed
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
      return yield* Effect.try({
        try: () => {
          fs.mkdirSync(target, { recursive: true })
          const applied = Archive.apply(target, checked.entries, changes.deleted)
          return {
            written: applied.written,
            deleted: applied.deleted,
            refused: [...changes.refused, ...checked.refused, ...applied.refused]
          } satisfies Applied
        },
        catch: (e) => new FileSyncError({ reason: "ApplyFailed", path: target, detail: e instanceof Error ? e.message : String(e) })
      })
    }).pipe(Effect.withSpan("FileSync.apply"))

  return FileSync.of({ pack, apply })
})

/** FileSync over Git. */
export const layer = Layer.effect(FileSync, make)

/** Counts of a change list, for messages. */
export const summary = (c: ChangeList): string =>
  `${c.added.length} added, ${c.modified.length} modified, ${c.deleted.length} deleted`
