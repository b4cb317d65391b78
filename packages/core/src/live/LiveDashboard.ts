/**
 * The production wiring of the dashboard's data (`FleetView`: sessions, their usage, overlaps and claims,
 * and running sandboxed runs) over {@link LiveFleet}. Its own module so that only `parallel-cc ui` carries it.
 *
 * @since 0.2.0
 */
import { Layer } from "effect"
import * as FleetView from "../fleet/FleetView.js"
import * as SandboxRuns from "../sandboxes/SandboxRuns.js"
import * as LiveFleet from "./LiveFleet.js"

/** FleetView (and the sandboxed runs' rows) over the fleet, its watchers and the sessions. */
export const layer = FleetView.layer.pipe(
  Layer.provideMerge(SandboxRuns.layer),
  Layer.provideMerge(LiveFleet.layer)
)

/** Everything {@link layer} provides. */
export type Services = Layer.Layer.Success<typeof layer>
