/**
 * What command handlers run with: the core layers, built lazily so that `--help`, `--version` and
 * `config` never open the database, and a handler can choose the layer it needs.
 */
import { AppConfig, Live, LiveSessions } from "@parallel-cc/core"
import { type ConfigProvider, Context, Effect, Layer } from "effect"

export class Layers extends Context.Tag("parallel-cc/cli/Layers")<Layers, {
  /** The ConfigProvider built from the environment and the global flags. */
  readonly provider: ConfigProvider.ConfigProvider
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
  return {
    provider,
    env: opts.env,
    cwd: opts.cwd,
    verbose: opts.verbose,
    homeDir: opts.homeDir,
    dbPath: opts.dbPath
  }
}

/** `layer` with this process's ConfigProvider. */
export const configured = <A, E, R>(layer: Layer.Layer<A, E, R>, l: Context.Tag.Service<Layers>) =>
  layer.pipe(Layer.provide(Layer.setConfigProvider(l.provider)))

/** Run `effect` with every core service (store migrated and open). */
export const withCore = <A, E, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, unknown, Exclude<R, Live.Services> | Layers> =>
  Effect.flatMap(Layers, (l) => Effect.provide(effect, configured(Live.layer, l) as Layer.Layer<Live.Services, unknown>))

/**
 * Run `effect` with the sessions part of the core only (sessions, worktrees, claims, liveness): what the hot
 * commands need. Keeping them off {@link withCore} keeps the other services out of the start-up bundle.
 */
export const withSessions = <A, E, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, unknown, Exclude<R, LiveSessions.Services> | Layers> =>
  Effect.flatMap(
    Layers,
    (l) => Effect.provide(effect, configured(LiveSessions.layer, l) as Layer.Layer<LiveSessions.Services, unknown>)
  )

/** Run `effect` with configuration only. */
export const withConfig = <A, E, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, unknown, Exclude<R, Layer.Layer.Success<typeof LiveSessions.configLayer>> | Layers> =>
  Effect.flatMap(Layers, (l) => Effect.provide(effect, configured(LiveSessions.configLayer, l)))

/** Run `effect` with the store opened as found on disk (no automatic migration). */
export const withStoreAsIs = <A, E, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, unknown, Exclude<R, Layer.Layer.Success<typeof LiveSessions.layerNoMigrate>> | Layers> =>
  Effect.flatMap(Layers, (l) => Effect.provide(effect, configured(LiveSessions.layerNoMigrate, l)))
