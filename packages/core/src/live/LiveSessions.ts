/**
 * The production wiring of what the hot paths need — sessions, worktrees, claims, liveness — over the real
 * platform and the SQLite store. Kept apart from {@link Live} (which adds every other service) so that the
 * CLI's start-up path bundles and evaluates only these modules; see docs/architecture.md.
 *
 * @since 0.1.0
 */
import * as NodeCommandExecutor from "@effect/platform-node/NodeCommandExecutor"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import { Layer } from "effect"
import * as AppConfig from "../platform/AppConfig.js"
import * as ClaimsLedger from "../coordination/ClaimsLedger.js"
import * as Database from "../platform/Database.js"
import * as Git from "../platform/Git.js"
import * as Processes from "../platform/Processes.js"
import * as SessionFiles from "../sessions/SessionFiles.js"
import * as Sessions from "../sessions/Sessions.js"
import * as SessionStore from "../sessions/SessionStore.js"
import * as WorktreeProvider from "../sessions/WorktreeProvider.js"
import * as Worktrees from "../sessions/Worktrees.js"

/** File system, paths and child processes from Node. */
export const Platform = Layer.mergeAll(NodeFileSystem.layer, NodePath.layer, NodeCommandExecutor.layer).pipe(
  Layer.provideMerge(NodeFileSystem.layer)
)

/** Configuration only (no database): for commands that must work even when the store is broken. */
export const configLayer = AppConfig.layer.pipe(Layer.provideMerge(Platform))

/** Sessions with their worktrees, liveness and claims, over the migrated store. */
export const layer = WorktreeProvider.layer.pipe(
  Layer.provideMerge(Sessions.layer),
  // Sessions end their claims when they end, so the ledger is under them.
  Layer.provideMerge(ClaimsLedger.layer),
  Layer.provideMerge(SessionFiles.layer),
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
