/**
 * Input checking for the Promise facade: the building blocks of every method's input Schema, and the decoder
 * that turns a mismatch into an `InvalidInput` naming the method and the field.
 *
 * @since 0.2.0
 */
import { Effect, ParseResult, Schema } from "effect"
import { InvalidInput } from "../Errors.js"

export const Text = Schema.String.pipe(Schema.minLength(1, { message: () => "must not be empty" }))
export const Pid = Schema.Int.pipe(Schema.positive())
export const opt = <S extends Schema.Schema.Any>(s: S) => Schema.optional(s)
/** A method's input: a struct whose excess properties are refused (see {@link decodeInput}). */
export const strict = <F extends Schema.Struct.Fields>(fields: F) => Schema.Struct(fields)
export const Limit = Schema.Int.pipe(Schema.between(1, 10_000))

/** Decode a method's input; a mismatch is an InvalidInput naming the method and the field. */
export const decodeInput = <A, I>(method: string, schema: Schema.Schema<A, I>, input: unknown) =>
  Schema.decodeUnknown(schema, { onExcessProperty: "error" })(input === undefined ? {} : input).pipe(
    Effect.mapError((e) => {
      const issue = ParseResult.ArrayFormatter.formatErrorSync(e)[0]
      const where = issue !== undefined && issue.path.length > 0 ? `.${issue.path.join(".")}` : ""
      return new InvalidInput({ field: `${method}${where}`, detail: issue?.message ?? "invalid input" })
    })
  )

/** The inputs a sandboxed run (`sandbox.run`) and a parallel run's tasks (`parallel.run`) share. */
export const agentRunFields = {
  provider: opt(Schema.Literal("local", "e2b")),
  agent: opt(Text),
  template: opt(Text),
  useTemplate: opt(Text),
  budgetUsd: opt(Schema.Number.pipe(Schema.positive())),
  timeoutMinutes: opt(Schema.Number.pipe(Schema.greaterThan(0), Schema.lessThanOrEqualTo(24 * 60))),
  gitUser: opt(Text),
  gitEmail: opt(Text),
  authMethod: opt(Schema.Literal("api-key", "oauth")),
  env: opt(Schema.Record({ key: Schema.String, value: Schema.UndefinedOr(Schema.String) }))
}

/** Those inputs as the library's run options (minutes become `timeoutMs`; `env` is the caller's to use). */
export const agentRunOptions = (i: Schema.Struct.Type<typeof agentRunFields>) => ({
  provider: i.provider,
  agent: i.agent,
  template: i.template,
  useTemplate: i.useTemplate,
  budgetUsd: i.budgetUsd,
  timeoutMs: i.timeoutMinutes !== undefined ? Math.round(i.timeoutMinutes * 60_000) : undefined,
  gitUser: i.gitUser,
  gitEmail: i.gitEmail,
  authMethod: i.authMethod
})
