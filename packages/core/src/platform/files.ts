/**
 * File helpers for editing files that belong to the user (Claude Code settings, ~/.claude.json, shell rc
 * files): read without ever modifying on a parse error, write atomically (temp file + rename in the same
 * directory) keeping the file's mode, write through symlinks (dotfile managers link these files), and
 * find executables on PATH.
 */
import type { FileSystem, Path } from "@effect/platform"
import type { PlatformError } from "@effect/platform/Error"
import { Effect, Option } from "effect"
import { InstallError } from "../Errors.js"

type Fs = FileSystem.FileSystem
type P = Path.Path

const describe = (e: PlatformError): string =>
  e._tag === "SystemError" ? `${e.reason}${e.description ? ` (${e.description})` : ""}` : e.message

/** A text file as found on disk. */
export interface TextFile {
  /** The path as addressed (may be a symlink). */
  readonly path: string
  /** Where writes go: the symlink's target, or the path itself. */
  readonly realPath: string
  readonly exists: boolean
  readonly text: string
  /** Permission bits of the existing file. */
  readonly mode: number | undefined
}

const isNotFound = (e: PlatformError) => e._tag === "SystemError" && e.reason === "NotFound"

/** Read a text file; a missing file is `exists: false`, an unreadable one an InstallError. */
export const readText = (fs: Fs, file: string): Effect.Effect<TextFile, InstallError> =>
  Effect.gen(function*() {
    const info = yield* fs.stat(file).pipe(
      Effect.map(Option.some),
      Effect.catchIf(isNotFound, () => Effect.succeed(Option.none())),
      Effect.mapError((e) => new InstallError({ reason: "FileUnreadable", path: file, detail: describe(e) }))
    )
    if (Option.isNone(info)) return { path: file, realPath: file, exists: false, text: "", mode: undefined }
    if (info.value.type !== "File") {
      return yield* new InstallError({ reason: "FileUnreadable", path: file, detail: "not a regular file" })
    }
    const text = yield* fs.readFileString(file).pipe(
      Effect.mapError((e) => new InstallError({ reason: "FileUnreadable", path: file, detail: describe(e) }))
    )
    const realPath = yield* fs.realPath(file).pipe(Effect.orElseSucceed(() => file))
    return { path: file, realPath, exists: true, text, mode: info.value.mode & 0o7777 }
  })

/** A JSON file whose top level must be an object. */
export interface JsonFile extends TextFile {
  readonly value: Record<string, unknown>
}

/** Read and parse a JSON object file. Invalid JSON is an InstallError and the file is not touched. */
export const readJsonObject = (fs: Fs, file: string): Effect.Effect<JsonFile, InstallError> =>
  Effect.flatMap(readText(fs, file), (t) => {
    if (!t.exists || t.text.trim() === "") return Effect.succeed({ ...t, value: {} })
    let value: unknown
    try {
      value = JSON.parse(t.text)
    } catch (e) {
      return Effect.fail(
        new InstallError({ reason: "FileInvalid", path: file, detail: `not valid JSON (${(e as Error).message})` })
      )
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      return Effect.fail(new InstallError({ reason: "FileInvalid", path: file, detail: "the top level is not a JSON object" }))
    }
    return Effect.succeed({ ...t, value: value as Record<string, unknown> })
  })

/** Serialise `value` the way the file was written: same indentation, same final newline. */
export const renderJson = (file: TextFile, value: unknown): string => {
  const compact = file.exists && file.text.trim() !== "" && !file.text.trim().includes("\n")
  const indent = compact ? "" : /\n([ \t]+)"/.exec(file.text)?.[1] ?? "  "
  const newline = !file.exists || file.text === "" || file.text.endsWith("\n") ? "\n" : ""
  return JSON.stringify(value, null, indent) + newline
}

/** Deep structural equality of JSON values (key order ignored). */
export const jsonEqual = (a: unknown, b: unknown): boolean => {
  if (a === b) return true
  if (typeof a !== typeof b || a === null || b === null || typeof a !== "object") return false
  if (Array.isArray(a) !== Array.isArray(b)) return false
  if (Array.isArray(a)) {
    const bb = b as Array<unknown>
    return a.length === bb.length && a.every((x, i) => jsonEqual(x, bb[i]))
  }
  const ka = Object.keys(a as object)
  const kb = Object.keys(b as object)
  return ka.length === kb.length &&
    ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && jsonEqual((a as any)[k], (b as any)[k]))
}

/** The closest existing directory at or above `dir`. */
export const existingAncestor = (fs: Fs, path: P, dir: string): Effect.Effect<string> =>
  Effect.gen(function*() {
    let cur = path.resolve(dir)
    for (;;) {
      const exists = yield* fs.exists(cur).pipe(Effect.orElseSucceed(() => false))
      if (exists) return cur
      const parent = path.dirname(cur)
      if (parent === cur) return cur
      cur = parent
    }
  })

/** Fail unless `file` could be replaced atomically (its directory, or the closest existing ancestor, is writable). */
export const checkWritable = (fs: Fs, path: P, file: TextFile): Effect.Effect<void, InstallError> =>
  Effect.gen(function*() {
    const dir = yield* existingAncestor(fs, path, path.dirname(file.realPath))
    yield* fs.access(dir, { writable: true }).pipe(
      Effect.mapError((e) =>
        new InstallError({ reason: "FileUnwritable", path: file.path, detail: `${dir} is not writable (${describe(e)})` })
      )
    )
    if (file.exists) {
      yield* fs.access(file.realPath, { writable: true }).pipe(
        Effect.mapError((e) => new InstallError({ reason: "FileUnwritable", path: file.path, detail: describe(e) }))
      )
    }
  })

/**
 * Create the missing directories above `dir` (mode `mode`), returning the ones created, outermost first,
 * so that an uninstall can remove exactly those.
 */
export const makeDirs = (fs: Fs, path: P, dir: string, mode = 0o755): Effect.Effect<ReadonlyArray<string>, InstallError> =>
  Effect.gen(function*() {
    const missing: Array<string> = []
    let cur = path.resolve(dir)
    for (;;) {
      const exists = yield* fs.exists(cur).pipe(Effect.orElseSucceed(() => false))
      if (exists) break
      missing.unshift(cur)
      const parent = path.dirname(cur)
      if (parent === cur) break
      cur = parent
    }
    for (const d of missing) {
      yield* fs.makeDirectory(d, { mode }).pipe(
        Effect.catchIf((e) => e._tag === "SystemError" && e.reason === "AlreadyExists", () => Effect.void),
        Effect.mapError((e) => new InstallError({ reason: "FileUnwritable", path: d, detail: describe(e) }))
      )
    }
    return missing
  })

/**
 * Replace `file` with `text` atomically: a temp file in the same directory, then a rename. Keeps the mode of
 * the existing file (new files get `newMode`) and writes through a symlink to its target.
 */
export const writeAtomic = (
  fs: Fs,
  path: P,
  file: TextFile,
  text: string,
  newMode = 0o644
): Effect.Effect<void, InstallError> =>
  Effect.gen(function*() {
    const target = file.realPath
    const dir = path.dirname(target)
    const tmp = path.join(dir, `.${path.basename(target)}.pcc-${globalThis.crypto.randomUUID().slice(0, 8)}.tmp`)
    const mode = file.mode ?? newMode
    const fail = (e: PlatformError) => new InstallError({ reason: "FileUnwritable", path: file.path, detail: describe(e) })
    yield* fs.writeFileString(tmp, text, { mode }).pipe(Effect.mapError(fail))
    yield* fs.chmod(tmp, mode).pipe(Effect.ignore)
    yield* fs.rename(tmp, target).pipe(
      Effect.mapError(fail),
      Effect.tapError(() => fs.remove(tmp).pipe(Effect.ignore))
    )
  })

/** Remove a file (through a symlink: the link itself goes only when the target is gone too). */
export const removeFile = (fs: Fs, file: TextFile): Effect.Effect<void, InstallError> =>
  fs.remove(file.realPath).pipe(
    Effect.zipRight(file.realPath !== file.path ? fs.remove(file.path).pipe(Effect.ignore) : Effect.void),
    Effect.mapError((e) => new InstallError({ reason: "FileUnwritable", path: file.path, detail: describe(e) }))
  )

/** Remove the directories (innermost first) that are empty; never anything with content. */
export const removeEmptyDirs = (fs: Fs, dirs: ReadonlyArray<string>): Effect.Effect<void> =>
  Effect.forEach([...dirs].reverse(), (d) =>
    fs.readDirectory(d).pipe(
      // `remove` is rm(1): an (empty, just checked) directory needs `recursive`.
      Effect.flatMap((entries) => (entries.length === 0 ? fs.remove(d, { recursive: true }) : Effect.void)),
      Effect.ignore
    ), { discard: true })

/** Is `file` an existing regular file with an execute bit? */
export const isExecutable = (fs: Fs, file: string): Effect.Effect<boolean> =>
  fs.stat(file).pipe(
    Effect.map((i) => i.type === "File" && (i.mode & 0o111) !== 0),
    Effect.orElseSucceed(() => false)
  )

/**
 * Find an executable like the shell would: a name with a slash is taken as a path (relative to `cwd`),
 * anything else is searched in the PATH directories.
 */
export const which = (
  fs: Fs,
  path: P,
  name: string,
  dirs: ReadonlyArray<string>,
  cwd: string
): Effect.Effect<Option.Option<string>> =>
  Effect.gen(function*() {
    if (name === "") return Option.none()
    if (name.includes("/")) {
      const p = path.resolve(cwd, name)
      return (yield* isExecutable(fs, p)) ? Option.some(p) : Option.none()
    }
    for (const d of dirs) {
      const p = path.resolve(cwd, d, name)
      if (yield* isExecutable(fs, p)) return Option.some(p)
    }
    return Option.none()
  })

/** Quote a word for POSIX sh (bash, zsh): unchanged when it is plainly safe. */
export const shQuote = (s: string): string => /^[A-Za-z0-9_./:@%+=,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`

/** Quote a word for fish. */
export const fishQuote = (s: string): string => /^[A-Za-z0-9_./:@%+=,-]+$/.test(s) ? s : `'${s.replace(/[\\']/g, "\\$&")}'`
