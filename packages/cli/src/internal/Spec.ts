/**
 * Declarative option specs shared by the two ways a command is parsed: the full @effect/cli tree
 * (help, completions, validation messages) and the start-up fast path of the hot commands
 * (`status`, `heartbeat`, `register`, `release`), which must not pay for loading @effect/cli.
 *
 * The fast parser is deliberately strict: anything it does not fully understand — an unknown flag, a
 * missing value, `--help` — makes it step aside, and the full CLI handles the arguments instead, so
 * both paths accept exactly the same language and all errors come from one place.
 */
import { Errors } from "@parallel-cc/core"
import { Effect, Option, Schema } from "effect"

export type OptSpec =
  | { readonly kind: "boolean"; readonly description: string; readonly alias?: string }
  | {
    readonly kind: "text" | "integer"
    readonly description: string
    readonly alias?: string
    /** Optional options decode to `Option`. Required ones must be given. */
    readonly optional?: boolean
  }
  | {
    /** Text decoded by a Schema before the handler runs (see {@link decodeOptions}). */
    readonly kind: "text"
    readonly schema: Schema.Schema<any, string>
    /** What a valid value is, for the error: "a session id", "one of A, B". */
    readonly expected: string
    readonly description: string
    readonly alias?: string
    readonly optional?: boolean
  }

export type Spec = Readonly<Record<string, OptSpec>>

type ValueOf<O extends OptSpec> = O extends { kind: "boolean" } ? boolean
  : O extends { schema: Schema.Schema<infer A, string>; optional: true } ? Option.Option<A>
  : O extends { schema: Schema.Schema<infer A, string> } ? A
  : O extends { kind: "integer"; optional: true } ? Option.Option<number>
  : O extends { kind: "integer" } ? number
  : O extends { optional: true } ? Option.Option<string>
  : string

export type Parsed<S extends Spec> = { readonly [K in keyof S]: ValueOf<S[K]> }

/** The options as parsed, before their Schemas decode them. */
export type Raw<S extends Spec> = { readonly [K in keyof S]: unknown }

/**
 * Decode the options that have a Schema (both ways of parsing call this before the handler). A value that
 * does not decode is an `InvalidInput` naming the option and what it should be.
 */
export const decodeOptions = <S extends Spec>(spec: S, raw: Raw<S>): Effect.Effect<Parsed<S>, Errors.InvalidInput> =>
  Effect.gen(function*() {
    const out: Record<string, unknown> = { ...raw }
    for (const [key, opt] of Object.entries(spec)) {
      if (!("schema" in opt)) continue
      const value = raw[key as keyof S]
      const text = Option.isOption(value) ? Option.getOrUndefined(value as Option.Option<string>) : (value as string | undefined)
      if (text === undefined) continue
      const decoded = yield* Schema.decodeUnknown(opt.schema)(text).pipe(
        Effect.mapError(() =>
          new Errors.InvalidInput({ field: `--${flagName(key)}`, detail: `${JSON.stringify(text)} is not ${opt.expected}` })
        )
      )
      out[key] = Option.isOption(value) ? Option.some(decoded) : decoded
    }
    return out as Parsed<S>
  })

/** `sessionId` → `session-id`. */
export const flagName = (key: string): string => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)

/** Parse `args` against `spec`; `None` when the fast path should hand over to the full CLI. */
export const parseFast = <S extends Spec>(spec: S, args: ReadonlyArray<string>): Option.Option<Raw<S>> => {
  const byFlag = new Map<string, [string, OptSpec]>()
  for (const [key, opt] of Object.entries(spec)) {
    byFlag.set(`--${flagName(key)}`, [key, opt])
    if (opt.alias !== undefined) byFlag.set(`-${opt.alias}`, [key, opt])
  }
  const out: Record<string, unknown> = {}
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    const eq = arg.startsWith("--") ? arg.indexOf("=") : -1
    const flag = eq > 0 ? arg.slice(0, eq) : arg
    const entry = byFlag.get(flag)
    if (entry === undefined) return Option.none()
    const [key, opt] = entry
    if (key in out) return Option.none()
    if (opt.kind === "boolean") {
      if (eq > 0) return Option.none()
      out[key] = true
      continue
    }
    const raw = eq > 0 ? arg.slice(eq + 1) : args[++i]
    if (raw === undefined) return Option.none()
    if (opt.kind === "integer") {
      if (!/^-?\d+$/.test(raw)) return Option.none()
      out[key] = Number(raw)
    } else {
      out[key] = raw
    }
  }
  for (const [key, opt] of Object.entries(spec)) {
    if (key in out) {
      if (opt.kind !== "boolean" && opt.optional === true) out[key] = Option.some(out[key])
      continue
    }
    if (opt.kind === "boolean") out[key] = false
    else if (opt.optional === true) out[key] = Option.none()
    else return Option.none()
  }
  return Option.some(out as Raw<S>)
}
