/**
 * The production wiring of sandboxed runs, on top of {@link LiveSessions.layer} (sessions, worktrees,
 * liveness, the store). It is a module of its own so that no other command loads the sandbox code, the
 * archive library or a provider SDK.
 *
 * @since 0.1.0
 */
import { Effect, Layer } from "effect"
import * as E2BProvider from "../sandboxes/E2BProvider.js"
import * as FileSync from "../sandboxes/FileSync.js"
import * as LiveSessions from "./LiveSessions.js"
import * as LocalProvider from "../sandboxes/LocalProvider.js"
import * as ParallelRunner from "../parallel/ParallelRunner.js"
import * as Sandboxes from "../sandboxes/Sandboxes.js"
import * as SandboxProvider from "../sandboxes/SandboxProvider.js"
import * as SandboxRuns from "../sandboxes/SandboxRuns.js"
import * as Templates from "../sandboxes/Templates.js"

/** The sandbox providers: `local`, and `e2b` over the real SDK (loaded on first use). */
export const providers = Layer.effect(
  SandboxProvider.SandboxProviders,
  Effect.map(LocalProvider.LocalProvider, (local) =>
    SandboxProvider.fromProviders({
      local,
      e2b: (context) => E2BProvider.provider(E2BProvider.loadSdk, context)
    }))
).pipe(Layer.provide(LocalProvider.layer))

/** Sandboxed runs and parallel runs over {@link LiveSessions.layer}'s services (provide those underneath). */
export const services = ParallelRunner.layer.pipe(
  Layer.provideMerge(Sandboxes.layer),
  Layer.provideMerge(Layer.mergeAll(SandboxRuns.layer, FileSync.layer, Templates.layer, providers))
)

/** {@link LiveSessions.layer} plus sandboxed and parallel runs. */
export const layer = services.pipe(Layer.provideMerge(LiveSessions.layer))

/** Everything {@link layer} provides. */
export type Services = Layer.Layer.Success<typeof layer>
