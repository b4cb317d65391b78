/**
 * What command handlers run with: the core layers, built lazily so that `--help`, `--version` and
 * `config` never open the database, and a handler can choose the layer it needs.
 */
import { AppConfig, Fleet, Host, Installer, Live, LiveOverlaps, LiveSessions } from "@parallel-cc/core"
import { type ConfigProvider, Context, Effect, Layer } from "effect"
import * as path from "node:path"

export class Layers extends Context.Tag("parallel-cc/cli/Layers")<Layers, {
  /** The ConfigProvider built from the environment and the global flags. */
  readonly provider: ConfigProvider.ConfigProvider
  /** What `install` registers: absolute paths derived from where this CLI is installed. */
  readonly artifacts: Installer.ArtifactPaths
  /** Whether stdin and stdout are terminals (prompts are only ever shown with --interactive on a TTY). */
  readonly interactive: boolean
  readonly nodeVersion: string
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
  /** The directory of the running CLI bundle (`<package>/dist`); default: this bundle's directory. */
  readonly distDir?: string | undefined
  /** The Node executable running this process (absolute); default: process.execPath. */
  readonly execPath?: string | undefined
  readonly nodeVersion?: string | undefined
  /** Whether prompts may be shown (stdin and stdout are terminals); default false. */
  readonly interactive?: boolean | undefined
}

/** The files this installation of the CLI registers with Claude Code, from the bundle's own location. */
export const artifactsFor = (distDir: string, execPath: string): Installer.ArtifactPaths => ({
  hookScript: path.join(path.dirname(distDir), "hooks", "heartbeat.sh"),
  mcpServer: { command: execPath, args: [path.join(distDir, "bin.cjs"), "mcp", "serve"] },
  wrapper: path.join(distDir, "wrapper.cjs")
})

/** Build the Layers service for this process (nothing is opened until a handler asks). */
export const makeLayers = (opts: EdgeOptions): Context.Tag.Service<Layers> => {
  const provider = AppConfig.envProvider(opts.env, { homeDir: opts.homeDir, flags: { dbPath: opts.dbPath } })
  // The bundles (cli.cjs, fast.cjs, wrapper.cjs) live in <package>/dist next to bin.cjs.
  const distDir = opts.distDir ?? (typeof __dirname === "string" ? __dirname : opts.cwd)
  return {
    provider,
    artifacts: artifactsFor(distDir, opts.execPath ?? process.execPath),
    interactive: opts.interactive === true,
    nodeVersion: opts.nodeVersion ?? process.versions.node,
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
    (l) =>
      Effect.provide(
        // Record the resolved configuration for the next start's fast path (sessions/FastPath).
        Effect.zipRight(Effect.withConfigProvider(AppConfig.recordSnapshot, l.provider), effect),
        configured(LiveSessions.layer, l) as Layer.Layer<LiveSessions.Services, unknown>
      )
  )

const sessionsAndFleet = Fleet.layer.pipe(Layer.provideMerge(LiveSessions.layer))

/** Run `effect` with the sessions part plus usage and budgets (`Fleet`): `status`, `budget status`. */
export const withFleet = <A, E, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, unknown, Exclude<R, Layer.Layer.Success<typeof sessionsAndFleet>> | Layers> =>
  Effect.flatMap(
    Layers,
    (l) =>
      Effect.provide(
        // Record the resolved configuration for the next start's fast path (sessions/FastPath), as withSessions.
        Effect.zipRight(Effect.withConfigProvider(AppConfig.recordSnapshot, l.provider), effect),
        configured(sessionsAndFleet, l) as Layer.Layer<Layer.Layer.Success<typeof sessionsAndFleet>, unknown>
      )
  )

/** Run `effect` with the sessions part plus overlap detection and the session watcher (no merges, conflicts, sandboxes). */
export const withOverlaps = <A, E, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, unknown, Exclude<R, LiveOverlaps.Services> | Layers> =>
  Effect.flatMap(
    Layers,
    (l) => Effect.provide(effect, configured(LiveOverlaps.layer, l) as Layer.Layer<LiveOverlaps.Services, unknown>)
  )

/** Run `effect` with configuration only. */
export const withConfig = <A, E, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, unknown, Exclude<R, Layer.Layer.Success<typeof LiveSessions.configLayer>> | Layers> =>
  Effect.flatMap(Layers, (l) => Effect.provide(effect, configured(LiveSessions.configLayer, l)))

/** Run `effect` with the platform and this process's ConfigProvider only (no key is decoded). */
export const withPlatform = <A, E, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, unknown, Exclude<R, Layer.Layer.Success<typeof LiveSessions.Platform>> | Layers> =>
  Effect.flatMap(Layers, (l) => Effect.provide(effect, configured(LiveSessions.Platform, l)))

/** Run `effect` with the store opened as found on disk (no automatic migration). */
export const withStoreAsIs = <A, E, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, unknown, Exclude<R, Layer.Layer.Success<typeof LiveSessions.layerNoMigrate>> | Layers> =>
  Effect.flatMap(Layers, (l) => Effect.provide(effect, configured(LiveSessions.layerNoMigrate, l)))

/** Run `effect` with the installer and the doctor (configuration and git; no store). */
export const withSetup = <A, E, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, unknown, Exclude<R, Layer.Layer.Success<typeof Live.setupLayer>> | Layers> =>
  Effect.flatMap(Layers, (l) =>
    Effect.provide(
      effect,
      configured(
        Live.setupLayer.pipe(
          Layer.provide(Host.layer({ homeDir: l.homeDir, cwd: l.cwd, env: l.env, nodeVersion: l.nodeVersion })),
          Layer.provide(Layer.succeed(Installer.Artifacts, l.artifacts))
        ),
        l
      )
    ))
