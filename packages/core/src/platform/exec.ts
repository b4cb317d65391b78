/**
 * The one place core starts child processes: @effect/platform Command with an argument array (never a
 * shell), stdout/stderr collected, the exit code returned. The process is killed when the scope closes,
 * so interruption never leaves it behind.
 */
import { Command, CommandExecutor } from "@effect/platform"
import type { PlatformError } from "@effect/platform/Error"
import { Chunk, Effect, type Scope, Stream } from "effect"

export interface ExecResult {
  readonly exitCode: number
  readonly stdout: string
  readonly stderr: string
}

export interface ExecOptions {
  readonly cwd?: string | undefined
  readonly env?: Readonly<Record<string, string>> | undefined
  /** Text written to the process's stdin (then closed). */
  readonly stdin?: string | Uint8Array | undefined
  /** Start from an empty environment instead of extending this process's (for sandboxed agents). */
  readonly clearEnv?: boolean | undefined
}

const collectBytes = (stream: Stream.Stream<Uint8Array, PlatformError>) =>
  Stream.runCollect(stream).pipe(
    Effect.map((chunks) => {
      const parts = Chunk.toReadonlyArray(chunks)
      const total = parts.reduce((n, p) => n + p.length, 0)
      const buf = new Uint8Array(total)
      let at = 0
      for (const p of parts) {
        buf.set(p, at)
        at += p.length
      }
      return buf
    })
  )

const collect = (stream: Stream.Stream<Uint8Array, PlatformError>) =>
  Effect.map(collectBytes(stream), (buf) => new TextDecoder().decode(buf))

/** Build a Command from an argument array and options. */
export const command = (argv: readonly [string, ...Array<string>], options: ExecOptions = {}): Command.Command => {
  let cmd = Command.make(argv[0], ...argv.slice(1))
  if (options.cwd !== undefined) cmd = Command.workingDirectory(cmd, options.cwd)
  if (options.env !== undefined || options.clearEnv === true) {
    cmd = Command.env(cmd, options.env ?? {}, { extendEnv: options.clearEnv !== true })
  }
  if (options.stdin !== undefined) {
    cmd = Command.feed(cmd, typeof options.stdin === "string" ? options.stdin : new TextDecoder().decode(options.stdin))
  }
  return cmd
}

/** Run a process to completion; a non-zero exit code is a result, not a failure. */
export const exec = (
  argv: readonly [string, ...Array<string>],
  options: ExecOptions = {}
): Effect.Effect<ExecResult, PlatformError, CommandExecutor.CommandExecutor> =>
  Effect.scoped(Effect.gen(function*() {
    const proc = yield* Command.start(command(argv, options))
    const [stdout, stderr, exitCode] = yield* Effect.all(
      [collect(proc.stdout), collect(proc.stderr), proc.exitCode],
      { concurrency: "unbounded" }
    )
    return { exitCode: Number(exitCode), stdout, stderr }
  }))

/** Like {@link exec}, with stdout as raw bytes (for binary output such as `git cat-file --batch`). */
export const execBytes = (
  argv: readonly [string, ...Array<string>],
  options: ExecOptions = {}
): Effect.Effect<{ readonly exitCode: number; readonly stdout: Uint8Array; readonly stderr: string }, PlatformError, CommandExecutor.CommandExecutor> =>
  Effect.scoped(Effect.gen(function*() {
    const proc = yield* Command.start(command(argv, options))
    const [stdout, stderr, exitCode] = yield* Effect.all(
      [collectBytes(proc.stdout), collect(proc.stderr), proc.exitCode],
      { concurrency: "unbounded" }
    )
    return { exitCode: Number(exitCode), stdout, stderr }
  }))

/**
 * Start a process in the current scope (its process group is stopped when the scope closes). The caller
 * reads `stdout`/`stderr` and awaits `exitCode`.
 *
 * Both pipes are read from the moment the process starts, into unbounded buffers the returned streams
 * drain: when a child exits, Node discards whatever its unread pipes hold (child_process `flushStdio`), so a
 * fast process whose output was read only after a slow step (a database write under load) lost all of it.
 */
export const start = (
  argv: readonly [string, ...Array<string>],
  options: ExecOptions = {}
): Effect.Effect<CommandExecutor.Process, PlatformError, CommandExecutor.CommandExecutor | Scope.Scope> =>
  Effect.gen(function*() {
    const proc = yield* Command.start(command(argv, options))
    const stdout = yield* readAhead(proc.stdout)
    const stderr = yield* readAhead(proc.stderr)
    return Object.assign(Object.create(Object.getPrototypeOf(proc)), proc, { stdout, stderr }) as CommandExecutor.Process
  })

/** A stream read into an unbounded queue by a fiber of the current scope, replayed from that queue. */
const readAhead = <A, E>(s: Stream.Stream<A, E>) =>
  Effect.map(Stream.toQueue(s, { strategy: "unbounded" }), (q) => Stream.flattenTake(Stream.fromQueue(q)))
