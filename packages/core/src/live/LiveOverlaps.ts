/**
 * The production wiring of live overlap detection — `Overlaps`, its store and the per-session watcher — over
 * {@link LiveSessions}. A module of its own so that the CLI's hot start-up bundles, which use
 * `LiveSessions` only, do not carry it; the wrapper, `overlaps`, `watch session`, the MCP server and the
 * Promise facade use it (through {@link Live} or directly).
 *
 * @since 0.2.0
 */
import { Layer } from "effect"
import * as OverlapStore from "../coordination/OverlapStore.js"
import * as Overlaps from "../coordination/Overlaps.js"
import * as SessionWatcher from "../coordination/SessionWatcher.js"
import * as LiveSessions from "./LiveSessions.js"

/** Overlaps and watchers over the sessions layer (and everything it provides). */
export const layer = SessionWatcher.layer.pipe(
  Layer.provideMerge(Overlaps.layer),
  Layer.provideMerge(OverlapStore.layer),
  Layer.provideMerge(LiveSessions.layer)
)

/** Everything {@link layer} provides. */
export type Services = Layer.Layer.Success<typeof layer>
