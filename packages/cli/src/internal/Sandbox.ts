/**
 * What the sandbox, templates and budget commands run with: the sessions core plus the sandbox services
 * (built only for these commands, so no other command loads them), and the host context core needs.
 */
import { LiveSandbox, type Sandboxes } from "@parallel-cc/core"
import { Effect, type Layer } from "effect"
import { configured, Layers } from "./Env.js"

/** Run `effect` with the sessions core and the sandbox services. */
export const withSandboxes = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(Layers, (l) =>
    Effect.provide(effect, configured(LiveSandbox.layer, l) as Layer.Layer<LiveSandbox.Services, unknown>))

/** This process's environment, home and working directory, as core's sandbox operations take them. */
export const hostContext = Effect.map(Layers, (l): Sandboxes.HostContext => ({ env: l.env, homeDir: l.homeDir, cwd: l.cwd }))
