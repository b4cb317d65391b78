/**
 * The production wiring: every service over the real platform (Node file system, processes) and the
 * SQLite store. The edges (CLI, MCP server, Promise facade) provide this once, with their ConfigProvider.
 *
 * @since 0.1.0
 */
import * as NodeCommandExecutor from "@effect/platform-node/NodeCommandExecutor"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import { Layer } from "effect"
import * as AppConfig from "./AppConfig.js"
import * as ClaimsLedger from "./ClaimsLedger.js"
import * as Conflicts from "./Conflicts.js"
import * as Database from "./Database.js"
import * as Git from "./Git.js"
import * as MergeWatcher from "./MergeWatcher.js"
import * as Processes from "./Processes.js"
import * as Sessions from "./Sessions.js"
import * as SessionStore from "./SessionStore.js"
import * as Worktrees from "./Worktrees.js"

/** File system, paths and child processes from Node. */
export const Platform = Layer.mergeAll(NodeFileSystem.layer, NodePath.layer, NodeCommandExecutor.layer).pipe(
  Layer.provideMerge(NodeFileSystem.layer)
)

/** Configuration only (no database): for commands that must work even when the store is broken. */
export const configLayer = AppConfig.layer.pipe(Layer.provideMerge(Platform))

/** The store and the services over it. */
export const layer = Layer.mergeAll(Sessions.layer, ClaimsLedger.layer, MergeWatcher.layer, Conflicts.layer).pipe(
  Layer.provideMerge(Worktrees.layer),
  Layer.provideMerge(SessionStore.layer),
  Layer.provideMerge(Processes.layer),
  Layer.provideMerge(Git.layer),
  Layer.provideMerge(Database.layer),
  Layer.provideMerge(configLayer)
)

/** The store without automatic migration, for `migrate --version N` and diagnostics. */
export const layerNoMigrate = Database.layerNoMigrate.pipe(Layer.provideMerge(configLayer))

/** Everything {@link layer} provides. */
export type Services = Layer.Layer.Success<typeof layer>
