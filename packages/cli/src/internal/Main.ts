/**
 * The process edge shared by the full CLI and the fast path: global flags, logging to stderr, error
 * rendering and exit codes (0 ok, 1 domain error, 2 usage error, 70 internal error, 130 interrupted).
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Cause, Effect, Exit, Layer, Logger, LogLevel, Option } from "effect"
import * as os from "node:os"
import { Layers, makeLayers } from "./Env.js"

export interface Globals {
  readonly args: ReadonlyArray<string>
  readonly dbPath: string | undefined
  readonly verbose: boolean
}

/**
 * Take the global flags `--db FILE` and `--verbose` out of the arguments (anywhere before a `--`).
 * Returns `None` when `--db` lacks its value, so that the caller can report a usage error.
 */
export const extractGlobals = (args: ReadonlyArray<string>): Option.Option<Globals> => {
  const rest: Array<string> = []
  let dbPath: string | undefined
  let verbose = false
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!
    if (a === "--") {
      rest.push(...args.slice(i))
      break
    }
    if (a === "--verbose") verbose = true
    else if (a === "--db") {
      const v = args[++i]
      if (v === undefined) return Option.none()
      dbPath = v
    } else if (a.startsWith("--db=")) dbPath = a.slice(5)
    else rest.push(a)
  }
  return Option.some({ args: rest, dbPath, verbose })
}

const errorMessage = (e: unknown): string => {
  if (e !== null && typeof e === "object" && "message" in e && typeof (e as any).message === "string") {
    return (e as any).message
  }
  return String(e)
}

/** Exit code for a failed run, printing what the user needs on stderr. */
const report = (cause: Cause.Cause<unknown>, verbose: boolean): Effect.Effect<number> =>
  Effect.sync(() => {
    if (Cause.isInterruptedOnly(cause)) {
      process.stderr.write("parallel-cc: interrupted\n")
      return 130
    }
    const failure = Cause.failureOption(cause)
    if (Option.isSome(failure)) {
      const e = failure.value as { _tag?: string }
      // @effect/cli has already printed its usage error with the relevant help.
      if (e !== null && typeof e === "object" && typeof e._tag === "string" && isValidationError(e)) return 2
      if (e !== null && typeof e === "object" && e._tag === "UsageError") {
        process.stderr.write(`parallel-cc: error: ${errorMessage(e)}\n`)
        return 2
      }
      process.stderr.write(`parallel-cc: error: ${errorMessage(e)}\n`)
      if (verbose) process.stderr.write(Cause.pretty(cause) + "\n")
      return 1
    }
    process.stderr.write(
      verbose
        ? `parallel-cc: internal error\n${Cause.pretty(cause)}\n`
        : "parallel-cc: internal error (run again with --verbose or PARALLEL_CC_DEBUG=1 for details)\n"
    )
    return 70
  })

const validationTags = new Set([
  "CommandMismatch",
  "CorrectedFlag",
  "HelpRequested",
  "InvalidArgument",
  "InvalidValue",
  "MissingValue",
  "MissingFlag",
  "MultipleValuesDetected",
  "MissingSubcommand",
  "NoBuiltInMatch",
  "UnclusteredFlag"
])
const isValidationError = (e: { _tag?: string }) =>
  "error" in e && e._tag !== undefined && validationTags.has(e._tag)

/** Run a CLI program with the edge's services, logging and exit code handling. Never returns. */
export const run = <E, R>(
  program: Effect.Effect<void, E, Layers | R>,
  globals: Globals,
  platform: Layer.Layer<R>
): void => {
  const env = process.env
  const verbose = globals.verbose || env.PARALLEL_CC_DEBUG === "1"
  const layers = makeLayers({
    env,
    homeDir: os.homedir(),
    cwd: process.cwd(),
    dbPath: globals.dbPath,
    verbose,
    interactive: process.stdin.isTTY === true && process.stdout.isTTY === true
  })
  const logger = Logger.replace(Logger.defaultLogger, Logger.prettyLogger({ stderr: true, colors: false }))
  const main = program.pipe(
    Effect.as(0),
    Effect.catchAllCause((c) => report(c, verbose)),
    Effect.provideService(Layers, layers),
    Effect.provide(platform),
    Effect.provide(logger),
    Logger.withMinimumLogLevel(verbose ? LogLevel.Debug : LogLevel.Warning)
  )
  NodeRuntime.runMain(main, {
    disableErrorReporting: true,
    teardown: (exit, onExit) => onExit(Exit.isSuccess(exit) && typeof exit.value === "number" ? exit.value : 130)
  })
}
