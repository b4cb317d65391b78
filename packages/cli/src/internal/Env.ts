/**
 * What command handlers run with: the core layers, built lazily so that `--help`, `--version` and
 * `config` never open the database, and a handler can choose the layer it needs.
 */
import { AppConfig, Live } from "@parallel-cc/core"
import { Context, Effect, Layer } from "effect"

export class Layers extends Context.Tag("parallel-cc/cli/Layers")<Layers, {
  readonly core: Layer.Layer<Live.Services, unknown>
  readonly config: Layer.Layer<Layer.Layer.Success<typeof Live.configLayer>, unknown>
  readonly noMigrate: Layer.Layer<Layer.Layer.Success<typeof Live.layerNoMigrate>, unknown>
  /** The process environment as the edge saw it (only for passing on to child processes). */
  readonly env: Readonly<Record<string, string | undefined>>
  readonly cwd: string
  readonly verbose: boolean
  /** The home directory and the `--db` flag, for edges that build their own core (the MCP server). */
  readonly homeDir: string
  readonly dbPath: string | undefined
}>() {}

export type CliServices = Layers

export interface EdgeOptions {
  readonly env: Readonly<Record<string, string | undefined>>
  readonly homeDir: string
  readonly cwd: string
  readonly dbPath?: string | undefined
  readonly verbose: boolean
}

/** Build the Layers service for this process (nothing is opened until a handler asks). */
export const makeLayers = (opts: EdgeOptions): Context.Tag.Service<Layers> => {
  const provider = AppConfig.envProvider(opts.env, { homeDir: opts.homeDir, flags: { dbPath: opts.dbPath } })
  const withProvider = <A, E, R>(l: Layer.Layer<A, E, R>) => l.pipe(Layer.provide(Layer.setConfigProvider(provider)))
  return {
    core: withProvider(Live.layer),
    config: withProvider(Live.configLayer),
    noMigrate: withProvider(Live.layerNoMigrate),
    env: opts.env,
    cwd: opts.cwd,
    verbose: opts.verbose,
    homeDir: opts.homeDir,
    dbPath: opts.dbPath
  }
}

/** Run `effect` with the full core (store migrated and open). */
export const withCore = <A, E, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, unknown, Exclude<R, Live.Services> | Layers> =>
  Effect.flatMap(Layers, (l) => Effect.provide(effect, l.core as Layer.Layer<Live.Services, unknown>))

/** Run `effect` with configuration only. */
export const withConfig = <A, E, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, unknown, Exclude<R, Layer.Layer.Success<typeof Live.configLayer>> | Layers> =>
  Effect.flatMap(Layers, (l) => Effect.provide(effect, l.config))

/** Run `effect` with the store opened as found on disk (no automatic migration). */
export const withStoreAsIs = <A, E, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, unknown, Exclude<R, Layer.Layer.Success<typeof Live.layerNoMigrate>> | Layers> =>
  Effect.flatMap(Layers, (l) => Effect.provide(effect, l.noMigrate))
