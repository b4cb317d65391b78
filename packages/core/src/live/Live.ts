/**
 * The production wiring: every service over the real platform (Node file system, processes) and the
 * SQLite store. The edges (CLI, MCP server, Promise facade) provide this once, with their ConfigProvider.
 * The sessions part lives in {@link LiveSessions}, which the CLI's start-up path uses on its own.
 *
 * @since 0.1.0
 */
import { Effect, Layer } from "effect"
import * as os from "node:os"
import * as AppConfig from "../platform/AppConfig.js"
import * as ConflictStore from "../coordination/ConflictStore.js"
import * as Conflicts from "../coordination/Conflicts.js"
import * as Doctor from "../setup/Doctor.js"
import * as Git from "../platform/Git.js"
import * as Installer from "../setup/Installer.js"
import * as Landing from "../landing/Landing.js"
import * as LiveFleet from "./LiveFleet.js"
import * as LiveSessions from "./LiveSessions.js"
import * as MergeWatcher from "../coordination/MergeWatcher.js"
import * as SandboxRuns from "../sandboxes/SandboxRuns.js"

export const Platform = LiveSessions.Platform
export const configLayer = LiveSessions.configLayer
export const layerNoMigrate = LiveSessions.layerNoMigrate

/** Every service, over the migrated store. */
export const layer = Layer.mergeAll(MergeWatcher.layer, Landing.layer.pipe(Layer.provide(SandboxRuns.layer))).pipe(
  Layer.provideMerge(Conflicts.layer),
  Layer.provideMerge(ConflictStore.layer),
  Layer.provideMerge(LiveFleet.layer)
)

/** Everything {@link layer} provides. */
export type Services = Layer.Layer.Success<typeof layer>

/**
 * Setup: the installer and the doctor, over configuration and git but not the store (they must work when it
 * is broken). The edge provides `Host` and `Installer.Artifacts`.
 */
export const setupLayer = Doctor.layer.pipe(
  Layer.provideMerge(Installer.layer),
  Layer.provideMerge(Git.layer),
  Layer.provideMerge(configLayer)
)

/**
 * {@link layer} configured from options rather than from an installed ConfigProvider: the data directory,
 * overrides of config keys, and (only when given) environment variables. `homeDir` (default: the user's
 * home directory) places the default data directory `<homeDir>/.parallel-cc`.
 *
 * @example
 * Effect.provide(program, Live.layerWith({ dataDir: "/tmp/pcc", config: { "worktree.prefix": "agent-" } }))
 */
export const layerWith = (options: AppConfig.Options & { readonly homeDir?: string | undefined } = {}) =>
  Layer.unwrapEffect(
    Effect.map(
      AppConfig.optionsProvider({ ...options, homeDir: options.homeDir ?? os.homedir() }),
      (provider) => layer.pipe(Layer.provide(Layer.setConfigProvider(provider)))
    )
  )
