/**
 * Output helpers: results go to stdout (one JSON document with --json), everything else to stderr.
 */
import { Console, Data, Effect } from "effect"

export { age, table } from "./Table.js"

export const printJson = (value: unknown) => Console.log(JSON.stringify(value, null, 2))

export const print = (text: string) => Console.log(text)

/** Write a warning line to stderr. */
export const warn = (text: string) => Console.error(`warning: ${text}`)

export const note = (text: string) => Effect.sync(() => process.stderr.write(text + "\n"))

/** A usage error found by a handler (e.g. two options that exclude each other): exit 2. */
export class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {}
