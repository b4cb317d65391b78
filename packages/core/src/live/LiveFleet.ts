/**
 * The production wiring of the fleet view — usage from transcripts, budgets across sessions and runs,
 * notifications and the per-session monitor — over {@link LiveOverlaps} (sessions, their watchers and
 * overlaps). A module of its own so that the hot start-up bundles, which use `LiveSessions` only, do not
 * carry it; the wrapper, `status`, `budget status`, `ui`, `watch session`, the MCP server and the Promise
 * facade use it (through {@link Live} or directly).
 *
 * @since 0.2.0
 */
import { Layer } from "effect"
import * as Fleet from "../fleet/Fleet.js"
import * as FleetMonitor from "../fleet/FleetMonitor.js"
import * as Notifier from "../fleet/Notifier.js"
import * as LiveOverlaps from "./LiveOverlaps.js"
import * as LiveSessions from "./LiveSessions.js"

/** Usage, budgets, notifications and monitors over the sessions layer's services (provide those underneath). */
export const services = FleetMonitor.layer.pipe(
  Layer.provideMerge(Notifier.layer),
  Layer.provideMerge(Fleet.layer)
)

/** The fleet over sessions only (for commands that need no overlaps: `status`, `budget status`). */
export const sessionsLayer = services.pipe(Layer.provideMerge(LiveSessions.layer))

/** The fleet over sessions, watchers and overlaps (the wrapper, `watch session`, `ui`). */
export const layer = services.pipe(Layer.provideMerge(LiveOverlaps.layer))

/** Everything {@link layer} provides. */
export type Services = Layer.Layer.Success<typeof layer>
