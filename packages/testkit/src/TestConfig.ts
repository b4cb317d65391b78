/**
 * Config for in-process tests: a ConfigProvider built the same way the CLI builds it, from a map
 * instead of the real environment, so tests never read or write the developer's ~/.parallel-cc.
 */
import { AppConfig, FileSync, Live, LocalProvider, ParallelRunner, Sandboxes, SandboxProvider, SandboxRuns, Templates } from "@parallel-cc/core"
import { Effect, Layer } from "effect"

const configProvider = (dataDir: string, env: Readonly<Record<string, string>>) =>
  Layer.setConfigProvider(AppConfig.envProvider({ PARALLEL_CC_DATA_DIR: dataDir, ...env }, { homeDir: dataDir }))

/** Core services over a temp data directory (pass extra PARALLEL_CC_* settings in `env`). */
export const layer = (dataDir: string, env: Readonly<Record<string, string>> = {}) =>
  Live.layer.pipe(Layer.provide(configProvider(dataDir, env)))

/**
 * Core services plus sandboxed and parallel runs over a temp data directory. `providers` adds to (or replaces) the real
 * local provider, e.g. `{ e2b: (ctx) => E2BProvider.provider(() => Promise.resolve(double), ctx) }`.
 */
export const sandboxLayer = (
  dataDir: string,
  env: Readonly<Record<string, string>> = {},
  providers: Readonly<Partial<Record<SandboxProvider.ProviderName, SandboxProvider.SandboxProvider | SandboxProvider.ProviderFactory>>> = {}
) => {
  const registry = Layer.effect(
    SandboxProvider.SandboxProviders,
    Effect.map(LocalProvider.LocalProvider, (local) => SandboxProvider.fromProviders({ local, ...providers }))
  ).pipe(Layer.provide(LocalProvider.layer))
  return ParallelRunner.layer.pipe(
    Layer.provideMerge(Sandboxes.layer),
    Layer.provideMerge(Layer.mergeAll(SandboxRuns.layer, FileSync.layer, Templates.layer, registry)),
    Layer.provideMerge(Live.layer),
    Layer.provide(configProvider(dataDir, env))
  )
}
