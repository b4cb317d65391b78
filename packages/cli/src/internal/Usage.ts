/**
 * Usage errors raised by handlers (conflicting flags): printed like @effect/cli's own, exit code 2. Kept out
 * of Output.ts so that the fast path never loads @effect/cli.
 */
import { HelpDoc, ValidationError } from "@effect/cli"
import { Effect } from "effect"

export const usageError = (text: string) =>
  Effect.zipRight(
    Effect.sync(() => process.stderr.write(`parallel-cc: error: ${text}\n`)),
    Effect.fail(ValidationError.invalidValue(HelpDoc.p(text)))
  )
