/**
 * Copying files and folders into a new worktree: a plain copy (copy-on-write where the file system does it
 * for free), a copy-on-write clone (reflink, FICLONE), hard links, or a symlink. Folders go through GNU `cp`
 * (one process for 50 000 files instead of 50 000 JavaScript calls) with an argument array; elsewhere the
 * platform's recursive copy. A full disk is its own error, so that the caller can undo everything.
 */
import { CommandExecutor, FileSystem, Path } from "@effect/platform"
import { Effect, Schema } from "effect"
import { exec } from "../platform/exec.js"

/** How a folder was brought into the worktree. */
export type CopyMethod = "reflink" | "hardlink" | "copy" | "symlink"

/** A copy into a new worktree failed; `DiskFull` when the file system ran out of space. */
export class CopyError extends Schema.TaggedError<CopyError>()("CopyError", {
  reason: Schema.Literal("DiskFull", "Failed"),
  path: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return this.reason === "DiskFull"
      ? `no space left on the device while copying ${this.path} into the new worktree (${this.detail}); free some ` +
        "space, or share the folder with worktree.shareMode \"symlink\""
      : `could not copy ${this.path} into the new worktree: ${this.detail}`
  }
}

const isDiskFull = (text: string) => /ENOSPC|No space left on device|EDQUOT|Disk quota exceeded/i.test(text)

const gnuCp = process.platform === "linux"

const cp = (args: ReadonlyArray<string>, rel: string) =>
  exec(["cp", ...args]).pipe(
    Effect.mapError((e) => new CopyError({ reason: isDiskFull(e.message) ? "DiskFull" : "Failed", path: rel, detail: e.message })),
    Effect.flatMap((r) => {
      if (r.exitCode === 0) return Effect.succeed(r)
      const detail = r.stderr.trim().split("\n").slice(0, 3).join(" / ")
      return Effect.fail(new CopyError({ reason: isDiskFull(r.stderr) ? "DiskFull" : "Failed", path: rel, detail }))
    })
  )

/** Remove what a failed copy left behind at `dst` (never anything else). */
const removePartial = (dst: string) =>
  Effect.flatMap(FileSystem.FileSystem, (fs) => fs.remove(dst, { recursive: true, force: true })).pipe(Effect.ignore)

/**
 * Copy `src` (a file or a folder; symlinks are copied as symlinks) to `dst`, which must not exist.
 * `reflink` and `hardlink` fail (nothing left at `dst`) when the file system cannot do them.
 */
export const copyTree = (
  src: string,
  dst: string,
  method: Exclude<CopyMethod, "symlink">,
  rel: string
): Effect.Effect<void, CopyError, FileSystem.FileSystem | Path.Path | CommandExecutor.CommandExecutor> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    yield* fs.makeDirectory(path.dirname(dst), { recursive: true }).pipe(
      Effect.mapError((e) => new CopyError({ reason: isDiskFull(e.message) ? "DiskFull" : "Failed", path: rel, detail: e.message }))
    )
    if (gnuCp) {
      const flag = method === "reflink" ? ["--reflink=always"] : method === "hardlink" ? ["--link"] : ["--reflink=auto"]
      yield* cp(["-a", "--no-target-directory", ...flag, "--", src, dst], rel)
      return
    }
    if (method !== "copy") return yield* new CopyError({ reason: "Failed", path: rel, detail: `${method} needs GNU cp` })
    yield* fs.copy(src, dst, { preserveTimestamps: true }).pipe(
      Effect.mapError((e) => new CopyError({ reason: isDiskFull(e.message) ? "DiskFull" : "Failed", path: rel, detail: e.message }))
    )
  }).pipe(Effect.tapError(() => removePartial(dst)))

/** Copy a regular file (copy-on-write where the file system does it for free); never overwrites. */
export const copyFile = (src: string, dst: string, rel: string) => copyTree(src, dst, "copy", rel)

const probes = new Map<string, boolean>()

/**
 * Whether `dir`'s file system clones files (FICLONE): one tiny file is cloned next to it and removed. The
 * answer is remembered per directory for the life of the process.
 */
export const canReflink = (dir: string) =>
  Effect.gen(function*() {
    if (!gnuCp) return false
    const cached = probes.get(dir)
    if (cached !== undefined) return cached
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const tag = globalThis.crypto.randomUUID()
    const a = path.join(dir, `.parallel-cc-reflink-${tag}`)
    const b = `${a}.clone`
    const ok = yield* Effect.gen(function*() {
      yield* fs.writeFileString(a, "x")
      const r = yield* exec(["cp", "--reflink=always", "--", a, b])
      return r.exitCode === 0
    }).pipe(
      Effect.orElseSucceed(() => false),
      Effect.ensuring(Effect.all([fs.remove(a, { force: true }), fs.remove(b, { force: true })]).pipe(Effect.ignore))
    )
    probes.set(dir, ok)
    return ok
  })
