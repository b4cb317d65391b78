/**
 * Per-worktree setup: copy files matched by `worktree.copy` globs from the repository into a new worktree
 * (files git does not carry, such as `.env`), then run the `worktree.setup` commands there, each as an
 * argument array (no shell). Their output is streamed line by line to the caller (`onOutput`) and written to
 * a log; a failing command stops the setup (the caller decides what that means: `worktree.setupFailure`)
 * unless `continueOnFailure`. Copy problems are warnings.
 */
import { CommandExecutor, FileSystem, Path } from "@effect/platform"
import { Effect, Stream } from "effect"
import { start } from "../platform/exec.js"

export interface SetupCommandResult {
  readonly argv: ReadonlyArray<string>
  readonly exitCode: number | null
  readonly ok: boolean
  /** The last lines of the command's output (stderr, else stdout). */
  readonly output: string
}

export interface SetupReport {
  /** Paths (relative to the worktree) copied in. */
  readonly copied: ReadonlyArray<string>
  readonly commands: ReadonlyArray<SetupCommandResult>
  readonly warnings: ReadonlyArray<string>
  /** The first command that failed (the later ones did not run unless the setup continues on failure). */
  readonly failed: SetupCommandResult | null
  /** The file with the commands' whole output (null when no command ran). */
  readonly log: string | null
}

export const emptySetup: SetupReport = { copied: [], commands: [], warnings: [], failed: null, log: null }

/** Progress of the setup commands, for a caller that shows it as it happens. */
export type SetupEvent =
  | { readonly _tag: "Start"; readonly argv: ReadonlyArray<string> }
  | { readonly _tag: "Output"; readonly argv: ReadonlyArray<string>; readonly stream: "stdout" | "stderr"; readonly line: string }
  | { readonly _tag: "Exit"; readonly argv: ReadonlyArray<string>; readonly exitCode: number | null; readonly ok: boolean }

export type SetupListener = (event: SetupEvent) => Effect.Effect<void>

const MAX_MATCHES = 1000
// `**` does not descend into these: git's own data and dependency trees that setup commands rebuild.
const SKIP_DIRS = new Set([".git", "node_modules"])

/** A glob segment (`*`, `?`, `[abc]`, `[!a-z]`) as a regular expression; `*` also matches leading dots. */
export const segmentRegExp = (segment: string): RegExp => {
  let re = ""
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i]!
    if (c === "*") re += "[^/]*"
    else if (c === "?") re += "[^/]"
    else if (c === "[") {
      const end = segment.indexOf("]", i + 2)
      if (end < 0) {
        re += "\\["
        continue
      }
      let body = segment.slice(i + 1, end)
      const negate = body.startsWith("!") || body.startsWith("^")
      if (negate) body = body.slice(1)
      re += `[${negate ? "^" : ""}${body.replace(/[\\\]]/g, "\\$&")}]`
      i = end
    } else re += c.replace(/[.+^${}()|\\]/g, "\\$&")
  }
  return new RegExp(`^${re}$`)
}

const hasMagic = (segment: string) => /[*?[]/.test(segment)

/** Check a pattern: relative, no `..`; returns its segments or a reason. */
export const patternSegments = (pattern: string): { readonly segments: ReadonlyArray<string> } | { readonly error: string } => {
  const p = pattern.trim().replace(/^\.\/+/, "")
  if (p === "" || p.startsWith("/")) return { error: "must be a relative path pattern" }
  const segments = p.split("/").filter((s) => s !== "" && s !== ".")
  if (segments.includes("..")) return { error: "must not contain '..'" }
  if (segments.length === 0) return { error: "matches nothing" }
  return { segments }
}

/** Paths (relative to `root`) matching the glob `pattern`, `.git` excluded. */
export const expandGlob = (root: string, pattern: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const parsed = patternSegments(pattern)
    if ("error" in parsed) return { matches: [] as Array<string>, error: parsed.error }
    const matches = new Set<string>()
    const list = (rel: string) =>
      fs.readDirectory(path.join(root, rel)).pipe(Effect.orElseSucceed(() => [] as Array<string>))
    const isDir = (rel: string) =>
      fs.stat(path.join(root, rel)).pipe(Effect.map((s) => s.type === "Directory"), Effect.orElseSucceed(() => false))
    const walk = (rel: string, segs: ReadonlyArray<string>): Effect.Effect<void> =>
      Effect.gen(function*() {
        if (matches.size >= MAX_MATCHES) return
        if (segs.length === 0) {
          if (rel !== "") matches.add(rel)
          return
        }
        const [seg, ...rest] = segs as [string, ...Array<string>]
        const join = (name: string) => (rel === "" ? name : `${rel}/${name}`)
        if (seg === "**") {
          yield* walk(rel, rest)
          for (const name of yield* list(rel)) {
            if (SKIP_DIRS.has(name)) continue
            if (yield* isDir(join(name))) yield* walk(join(name), segs)
          }
          return
        }
        if (!hasMagic(seg)) {
          if (seg === ".git") return
          const exists = yield* fs.exists(path.join(root, join(seg))).pipe(Effect.orElseSucceed(() => false))
          if (exists) yield* walk(join(seg), rest)
          return
        }
        const re = segmentRegExp(seg)
        for (const name of (yield* list(rel)).sort()) {
          if (name === ".git" || !re.test(name)) continue
          yield* walk(join(name), rest)
        }
      })
    yield* walk("", parsed.segments)
    return { matches: [...matches], error: undefined }
  })

/** Copy what `patterns` match in `from` to the same place in `to`; never overwrites. */
export const copyMatches = (from: string, to: string, patterns: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const copied: Array<string> = []
    const warnings: Array<string> = []
    for (const pattern of patterns) {
      const { error, matches } = yield* expandGlob(from, pattern)
      if (error !== undefined) {
        warnings.push(`worktree.copy pattern ${JSON.stringify(pattern)} ignored: it ${error}`)
        continue
      }
      for (const rel of matches) {
        const dst = path.join(to, rel)
        if (yield* fs.exists(dst).pipe(Effect.orElseSucceed(() => true))) continue
        const result = yield* Effect.gen(function*() {
          yield* fs.makeDirectory(path.dirname(dst), { recursive: true })
          const info = yield* fs.stat(path.join(from, rel))
          if (info.type === "File") yield* fs.copyFile(path.join(from, rel), dst)
          else if (info.type === "Directory") yield* fs.copy(path.join(from, rel), dst)
          else return false
          return true
        }).pipe(Effect.either)
        if (result._tag === "Left") warnings.push(`could not copy ${rel}: ${result.left.message}`)
        else if (result.right) copied.push(rel)
      }
    }
    return { copied, warnings }
  })

const TAIL_LINES = 20

/** Run one command, streaming its lines to `emit` and `log`; resolves with its exit code and last lines. */
const runOne = (
  argv: readonly [string, ...Array<string>],
  cwd: string,
  env: Readonly<Record<string, string>>,
  emit: SetupListener,
  log: (line: string) => Effect.Effect<void>
) =>
  Effect.scoped(Effect.gen(function*() {
    const proc = yield* start(argv, { cwd, env })
    const last: Array<string> = []
    const pump = (stream: "stdout" | "stderr", s: Stream.Stream<Uint8Array, unknown>) =>
      s.pipe(
        Stream.decodeText(),
        Stream.splitLines,
        Stream.runForEach((line) =>
          Effect.gen(function*() {
            last.push(line)
            if (last.length > TAIL_LINES) last.shift()
            yield* log(`${stream === "stderr" ? "! " : "  "}${line}`)
            yield* emit({ _tag: "Output", argv, stream, line })
          })
        ),
        Effect.ignore
      )
    const [, , exitCode] = yield* Effect.all([pump("stdout", proc.stdout), pump("stderr", proc.stderr), proc.exitCode], {
      concurrency: "unbounded"
    })
    return { exitCode: Number(exitCode), output: last.join("\n") }
  }))

/**
 * Run each command in `cwd` with `env` added, in order; stops at the first failure unless
 * `continueOnFailure`. Every line goes to `onOutput` and to the log file `log` (when given).
 */
export const runCommands = (
  cwd: string,
  commands: ReadonlyArray<ReadonlyArray<string>>,
  env: Readonly<Record<string, string>>,
  options: {
    readonly onOutput?: SetupListener | undefined
    readonly log?: string | undefined
    readonly continueOnFailure?: boolean | undefined
  } = {}
) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const emit: SetupListener = (e) => options.onOutput !== undefined ? options.onOutput(e).pipe(Effect.catchAllCause(() => Effect.void)) : Effect.void
    const results: Array<SetupCommandResult> = []
    const warnings: Array<string> = []
    let failed: SetupCommandResult | null = null
    const logFile = options.log
    if (logFile !== undefined && commands.length > 0) {
      yield* fs.makeDirectory(path.dirname(logFile), { recursive: true, mode: 0o700 }).pipe(Effect.ignore)
      yield* fs.writeFileString(logFile, "", { mode: 0o600 }).pipe(Effect.ignore)
    }
    const log = (line: string) =>
      logFile === undefined ? Effect.void : fs.writeFileString(logFile, line + "\n", { flag: "a", mode: 0o600 }).pipe(Effect.ignore)
    for (const argv of commands) {
      if (argv.length === 0) continue
      yield* emit({ _tag: "Start", argv })
      yield* log(`$ ${JSON.stringify(argv)}`)
      const r = yield* runOne(argv as [string, ...Array<string>], cwd, env, emit, log).pipe(Effect.either)
      const result: SetupCommandResult = r._tag === "Left"
        ? { argv, exitCode: null, ok: false, output: String((r.left as { message?: unknown }).message ?? r.left) }
        : { argv, exitCode: r.right.exitCode, ok: r.right.exitCode === 0, output: r.right.output }
      results.push(result)
      yield* log(result.exitCode === null ? `could not start: ${result.output}` : `exit ${result.exitCode}`)
      yield* emit({ _tag: "Exit", argv, exitCode: result.exitCode, ok: result.ok })
      if (result.ok) continue
      failed ??= result
      const tail = result.output.split("\n").slice(-5).join("\n")
      warnings.push(
        result.exitCode === null
          ? `setup command ${JSON.stringify(argv)} could not start: ${result.output}`
          : `setup command ${JSON.stringify(argv)} exited ${result.exitCode}${tail ? `: ${tail}` : ""}`
      )
      if (options.continueOnFailure !== true) break
    }
    return { commands: results, warnings, failed, log: results.length > 0 ? logFile ?? null : null }
  })

/** The whole setup of a new worktree. */
export const setupWorktree = (options: {
  readonly repoPath: string
  readonly worktreePath: string
  readonly copy: ReadonlyArray<string>
  readonly commands: ReadonlyArray<ReadonlyArray<string>>
  readonly env: Readonly<Record<string, string>>
  readonly onOutput?: SetupListener | undefined
  /** Where to keep the commands' output. */
  readonly log?: string | undefined
  readonly continueOnFailure?: boolean | undefined
}): Effect.Effect<SetupReport, never, FileSystem.FileSystem | Path.Path | CommandExecutor.CommandExecutor> =>
  Effect.gen(function*() {
    const copy = yield* copyMatches(options.repoPath, options.worktreePath, options.copy)
    const cmds = yield* runCommands(options.worktreePath, options.commands, options.env, options)
    return {
      copied: copy.copied,
      commands: cmds.commands,
      warnings: [...copy.warnings, ...cmds.warnings],
      failed: cmds.failed,
      log: cmds.log
    }
  })
