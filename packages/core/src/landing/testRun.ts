/**
 * The landing queue's test command, run in the private test worktree (`testTree`) with a timeout (its
 * process group is stopped: SIGTERM, then SIGKILL), its output kept in a log.
 */
import { FileSystem } from "@effect/platform"
import { Duration, Effect, Option, Stream } from "effect"
import { start } from "../platform/exec.js"

export interface TestOutcome {
  readonly passed: boolean
  readonly timedOut: boolean
  readonly exitCode: number | null
  readonly durationMs: number
  /** The last lines of the output. */
  readonly tail: string
}

export interface TestRequest {
  readonly argv: readonly [string, ...Array<string>]
  readonly cwd: string
  readonly logPath: string
  /** Written at the top of the log. */
  readonly header: string
  readonly timeout: Duration.Duration
  readonly env: Readonly<Record<string, string>>
  /** Called with the test's pid once it started (for cleanup after a crash). */
  readonly onStart: (pid: number) => Effect.Effect<void>
}

/** Enough for a failing test report with its stack (node --test prints ~30 lines for one failed assertion). */
const TAIL_LINES = 60
const KILL_GRACE = Duration.seconds(5)

const tailOf = (text: string) => text.replace(/\s+$/, "").split("\n").slice(-TAIL_LINES).join("\n")

/** Run the test command; its output goes to `logPath` (appended). A command that cannot start fails the test. */
export const runTest = (req: TestRequest) =>
  Effect.scoped(Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const file = yield* fs.open(req.logPath, { flag: "a", mode: 0o600 })
    const enc = new TextEncoder()
    yield* file.writeAll(enc.encode(`${req.header}\n`))
    const started = Date.now()
    let tailText = ""
    const keep = (chunk: Uint8Array) =>
      Effect.sync(() => {
        tailText = (tailText + new TextDecoder().decode(chunk)).slice(-16_384)
      }).pipe(Effect.zipRight(file.writeAll(chunk)))
    const proc = yield* start(req.argv, { cwd: req.cwd, env: req.env, stdin: "" }).pipe(Effect.either)
    if (proc._tag === "Left") {
      const msg = `could not start ${req.argv[0]}: ${proc.left.message}\n`
      yield* file.writeAll(enc.encode(msg))
      return { passed: false, timedOut: false, exitCode: null, durationMs: Date.now() - started, tail: msg.trim() } satisfies TestOutcome
    }
    const p = proc.right
    yield* req.onStart(Number(p.pid))
    const output = yield* Effect.forkScoped(
      Stream.runForEach(Stream.merge(p.stdout, p.stderr), keep).pipe(Effect.ignore)
    )
    const exit = yield* p.exitCode.pipe(Effect.timeoutOption(req.timeout), Effect.orElseSucceed(() => Option.some(-1)))
    let timedOut = false
    if (Option.isNone(exit)) {
      timedOut = true
      yield* p.kill("SIGTERM").pipe(
        Effect.timeout(KILL_GRACE),
        Effect.catchAll(() => p.kill("SIGKILL").pipe(Effect.timeout(KILL_GRACE), Effect.ignore))
      )
    }
    yield* output.await.pipe(Effect.timeout(KILL_GRACE), Effect.ignore)
    const durationMs = Date.now() - started
    const exitCode = Option.isSome(exit) ? Number(exit.value) : null
    const footer = timedOut
      ? `\n[parallel-cc land] stopped after ${Duration.format(req.timeout)} (land.testTimeoutMinutes)\n`
      : `\n[parallel-cc land] exit ${exitCode} after ${(durationMs / 1000).toFixed(1)}s\n`
    yield* file.writeAll(enc.encode(footer))
    return {
      passed: !timedOut && exitCode === 0,
      timedOut,
      exitCode,
      durationMs,
      tail: tailOf(tailText + footer)
    } satisfies TestOutcome
  })).pipe(
    Effect.catchAll((e) =>
      Effect.succeed({ passed: false, timedOut: false, exitCode: null, durationMs: 0, tail: `the test could not run: ${e.message}` } satisfies TestOutcome)
    )
  )
