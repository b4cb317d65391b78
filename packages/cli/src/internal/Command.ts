/**
 * A command definition that both the full CLI and the fast path understand.
 */
import type { Effect } from "effect"
import type { CliServices } from "./Env.js"
import type { Parsed, Spec } from "./Spec.js"

export interface CommandDef<S extends Spec> {
  readonly name: string
  readonly description: string
  readonly spec: S
  readonly handler: (opts: Parsed<S>) => Effect.Effect<void, unknown, CliServices>
}

export const defineCommand = <S extends Spec>(def: CommandDef<S>): CommandDef<S> => def
