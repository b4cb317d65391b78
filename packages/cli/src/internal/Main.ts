/**
 * The process edge shared by the full CLI and the fast path: global flags, logging to stderr, error
 * rendering and exit codes (0 ok, 1 domain error, 2 usage error, 70 internal error, 130 interrupted).
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Cause, Effect, Exit, Layer, Logger, LogLevel, Option, Predicate } from "effect"
import * as os from "node:os"
import { Layers, makeLayers } from "./Env.js"
import { UsageError } from "./Output.js"

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

/**
 * How a run can end, by the kind of error that ended it, and the exit code of each: a usage error (one
 * @effect/cli reported while parsing — it has printed it with the relevant help — or a handler's
 * {@link UsageError}), a typed failure (core's errors and the commands' own: a `_tag` and a message that
 * says what to do), an interruption, or a defect (a bug: the details only with --verbose).
 */
export type Ending =
  | { readonly _tag: "Usage"; readonly message: string | undefined }
  | { readonly _tag: "Failure"; readonly message: string }
  | { readonly _tag: "Interrupted" }
  | { readonly _tag: "Defect" }

export const exitCodes: { readonly [K in Ending["_tag"]]: number } = { Usage: 2, Failure: 1, Interrupted: 130, Defect: 70 }

/** The errors @effect/cli reports while parsing (its `ValidationError` cases), recognised without loading it. */
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
interface ValidationErrorLike {
  readonly _tag: string
  readonly error: unknown
}
const isValidationError = (e: unknown): e is ValidationErrorLike =>
  Predicate.hasProperty(e, "_tag") && Predicate.hasProperty(e, "error") && typeof e._tag === "string" && validationTags.has(e._tag)

/** A typed error: a tag and a message (Schema.TaggedError, Data.TaggedError). */
interface TypedError {
  readonly _tag: string
  readonly message: string
}
const isTypedError = (e: unknown): e is TypedError =>
  Predicate.hasProperty(e, "_tag") && Predicate.hasProperty(e, "message") && typeof e._tag === "string" &&
  typeof e.message === "string"

/** What ended a failed run. */
export const ending = (cause: Cause.Cause<unknown>): Ending => {
  if (Cause.isInterruptedOnly(cause)) return { _tag: "Interrupted" }
  const failure = Cause.failureOption(cause)
  if (Option.isNone(failure)) return { _tag: "Defect" }
  const e = failure.value
  if (isValidationError(e)) return { _tag: "Usage", message: undefined }
  if (e instanceof UsageError) return { _tag: "Usage", message: e.message }
  if (isTypedError(e)) return { _tag: "Failure", message: e.message }
  return { _tag: "Failure", message: String(e) }
}

/** Exit code for a failed run, printing what the user needs on stderr. */
const report = (cause: Cause.Cause<unknown>, verbose: boolean): Effect.Effect<number> =>
  Effect.sync(() => {
    const end = ending(cause)
    switch (end._tag) {
      case "Interrupted":
        process.stderr.write("parallel-cc: interrupted\n")
        break
      case "Usage":
        if (end.message !== undefined) process.stderr.write(`parallel-cc: error: ${end.message}\n`)
        break
      case "Failure":
        process.stderr.write(`parallel-cc: error: ${end.message}\n`)
        if (verbose) process.stderr.write(Cause.pretty(cause) + "\n")
        break
      case "Defect":
        process.stderr.write(
          verbose
            ? `parallel-cc: internal error\n${Cause.pretty(cause)}\n`
            : "parallel-cc: internal error (run again with --verbose or PARALLEL_CC_DEBUG=1 for details)\n"
        )
    }
    return exitCodes[end._tag]
  })

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
    // runMain would otherwise add its own pretty logger on stdout beside ours on stderr: with --verbose every
    // log line came twice, once into the command's output (breaking --json).
    disablePrettyLogger: true,
    teardown: (exit, onExit) => onExit(Exit.isSuccess(exit) && typeof exit.value === "number" ? exit.value : 130)
  })
}
