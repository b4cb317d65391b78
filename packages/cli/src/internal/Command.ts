/**
 * A command definition that both the full CLI and the fast path understand.
 */
import { Effect } from "effect"
import type { CliServices } from "./Env.js"
import { decodeOptions, type Parsed, type Raw, type Spec } from "./Spec.js"

export interface CommandDef<S extends Spec> {
  readonly name: string
  readonly description: string
  readonly spec: S
  readonly handler: (opts: Parsed<S>) => Effect.Effect<void, unknown, CliServices>
}

export const defineCommand = <S extends Spec>(def: CommandDef<S>): CommandDef<S> => def

/** Run `def` on options as parsed: those with a Schema are decoded first. */
export const runDef = <S extends Spec>(def: CommandDef<S>, raw: Raw<S>): Effect.Effect<void, unknown, CliServices> =>
  Effect.flatMap(decodeOptions(def.spec, raw), def.handler)
