/**
 * The one door to the host's file system for sandboxed and parallel runs: node's promise API
 * (`fs.promises`), wrapped as Effects whose failure is one private {@link FsFailure} (the caller maps it to
 * its domain error or decides that a missing file is no failure).
 *
 * Why not the platform `FileSystem` service, which the session half uses: this half checks every path it
 * writes or reads on behalf of a sandbox (untrusted content), and that needs `lstat` (the service's `stat`
 * follows symlinks), `open` with `O_NOFOLLOW | O_EXCL` and an exact mode, `copyFile` with `COPYFILE_EXCL`,
 * `link`, and directory entries with their types — none of which the service offers. Everything here is
 * asynchronous: nothing blocks the thread that the fibers of a parallel run share (a run log line, a
 * thousand-file copy and a `follow` poll all wait in libuv's pool, not on the event loop).
 *
 * Modules that do file work step by step with plain promises (`archive`, the copy of a work tree) use
 * {@link promises} and {@link constants} from here instead of importing `node:fs` themselves.
 *
 * @since 0.1.0
 * @internal
 */
import { Data, Effect, Option } from "effect"
import * as nodeFs from "node:fs"

/** node's promise API and flag constants, for the step-by-step helpers of this half (see the module doc). */
export const promises = nodeFs.promises
export const constants = nodeFs.constants
export type Stats = nodeFs.Stats
export type Dirent = nodeFs.Dirent

/** A file operation failed; `code` is node's (`ENOENT`, `EEXIST`, …) when it had one. */
export class FsFailure extends Data.TaggedError("FsFailure")<{
  readonly op: string
  readonly path: string
  readonly code: string | undefined
  readonly detail: string
}> {
  override get message(): string {
    return `${this.op} ${this.path}: ${this.detail}`
  }
}

const codeOf = (e: unknown): string | undefined =>
  e !== null && typeof e === "object" && typeof (e as { code?: unknown }).code === "string" ? (e as { code: string }).code : undefined

/** Whether a failure means the path (or one of its parents) does not exist. */
export const isMissing = (e: FsFailure): boolean => e.code === "ENOENT" || e.code === "ENOTDIR"

const attempt = <A>(op: string, file: string, f: () => Promise<A>): Effect.Effect<A, FsFailure> =>
  Effect.tryPromise({
    try: f,
    catch: (e) => new FsFailure({ op, path: file, code: codeOf(e), detail: e instanceof Error ? e.message : String(e) })
  })

/** `undefined` instead of a failure when the path does not exist. */
const orMissing = <A>(effect: Effect.Effect<A, FsFailure>): Effect.Effect<Option.Option<A>, FsFailure> =>
  effect.pipe(Effect.map(Option.some), Effect.catchIf(isMissing, () => Effect.succeed(Option.none<A>())))

export const readText = (file: string) => attempt("read", file, () => promises.readFile(file, "utf8"))

export const readBytes = (file: string) =>
  attempt("read", file, () => promises.readFile(file)).pipe(Effect.map((b) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength)))

/** The text of a file, or None when it does not exist. */
export const readTextOption = (file: string) => orMissing(readText(file))

export const writeFile = (
  file: string,
  data: string | Uint8Array,
  options: { readonly mode?: number | undefined; readonly flag?: string | undefined } = {}
) => attempt("write", file, () => promises.writeFile(file, data, { mode: options.mode ?? 0o600, flag: options.flag ?? "w" }))

/**
 * Replace `file` as a whole (a temporary file in the same directory, then a rename): a reader sees the old
 * text or the new one, never a half-written file. The new file gets `mode` (default 0600).
 */
export const writeAtomic = (file: string, data: string | Uint8Array, mode = 0o600) =>
  Effect.suspend(() => {
    const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2, 8)}.tmp`
    return attempt("write", file, async () => {
      try {
        await promises.writeFile(tmp, data, { mode, flag: "wx" })
        await promises.chmod(tmp, mode)
        await promises.rename(tmp, file)
      } catch (e) {
        await promises.rm(tmp, { force: true }).catch(() => undefined)
        throw e
      }
    })
  })

export const appendFile = (file: string, data: string, mode = 0o600) =>
  attempt("append", file, () => promises.appendFile(file, data, { mode }))

export const makeDirectory = (dir: string, options: { readonly recursive?: boolean; readonly mode?: number } = {}) =>
  attempt("mkdir", dir, () => promises.mkdir(dir, { recursive: options.recursive ?? false, mode: options.mode ?? 0o700 })).pipe(Effect.asVoid)

export const makeTempDirectory = (prefix: string) => attempt("mkdtemp", prefix, () => promises.mkdtemp(prefix))

/** The entry itself (a symlink is not followed), or None when it does not exist. */
export const lstat = (file: string) => orMissing(attempt("lstat", file, () => promises.lstat(file)))

/** What the path points at (symlinks followed), or None when it does not exist. */
export const stat = (file: string) => orMissing(attempt("stat", file, () => promises.stat(file)))

export const exists = (file: string) => Effect.map(lstat(file), Option.isSome).pipe(Effect.orElseSucceed(() => false))

export const readDirectory = (dir: string) => attempt("readdir", dir, () => promises.readdir(dir))

export const readDirectoryTypes = (dir: string) => attempt("readdir", dir, () => promises.readdir(dir, { withFileTypes: true }))

export const remove = (file: string, options: { readonly recursive?: boolean } = {}) =>
  attempt("remove", file, () => promises.rm(file, { recursive: options.recursive ?? false, force: true, maxRetries: 2 }))

export const chmod = (file: string, mode: number) => attempt("chmod", file, () => promises.chmod(file, mode))

export const rename = (from: string, to: string) => attempt("rename", from, () => promises.rename(from, to))

export const copyFile = (from: string, to: string, flags = 0) => attempt("copy", from, () => promises.copyFile(from, to, flags))

/**
 * Copy a file and give the copy the source's access and modification times. For a git index copied to
 * be used elsewhere: git trusts an entry's stat data only when the file is older than the index ("racy
 * git"), so a copy stamped now would hide a same-size change made in the same second as the original.
 */
export const copyFileWithTimes = (from: string, to: string) =>
  attempt("copy", from, async () => {
    await promises.copyFile(from, to)
    const st = await promises.stat(from)
    await promises.utimes(to, st.atime, st.mtime)
  })

export const realPath = (file: string) => attempt("realpath", file, () => promises.realpath(file))

/** Whether `file` is a regular file this process may execute. */
export const isExecutableFile = (file: string) =>
  attempt("access", file, async () => {
    const st = await promises.stat(file)
    if (!st.isFile()) return false
    await promises.access(file, constants.X_OK)
    return true
  }).pipe(Effect.orElseSucceed(() => false))

/** The bytes of `file` from `from` to its current end (empty when it is not longer than `from`). */
export const readFrom = (file: string, from: number) =>
  attempt("read", file, async () => {
    const handle = await promises.open(file, "r")
    try {
      const { size } = await handle.stat()
      if (size <= from) return { bytes: new Uint8Array(0), size }
      const buf = Buffer.alloc(size - from)
      const { bytesRead } = await handle.read(buf, 0, buf.length, from)
      return { bytes: new Uint8Array(buf.buffer, buf.byteOffset, bytesRead), size: from + bytesRead }
    } finally {
      await handle.close()
    }
  })

/**
 * A file written a line at a time by several fibers: the appends go out one after another, in the order
 * asked (a run log must not interleave or reorder its lines), and never block the event loop. A failure to
 * write is swallowed: a log that cannot be written must not stop what it logs.
 */
export interface Appender {
  readonly append: (text: string) => Effect.Effect<void>
}

export const makeAppender = (file: string, mode = 0o600): Effect.Effect<Appender> =>
  Effect.map(Effect.makeSemaphore(1), (lock) => ({
    append: (text: string) => lock.withPermits(1)(appendFile(file, text, mode).pipe(Effect.ignore))
  }))
