/**
 * Config for in-process tests: a ConfigProvider built the same way the CLI builds it, from a map
 * instead of the real environment, so tests never read or write the developer's ~/.parallel-cc.
 */
import { AppConfig, Live } from "@parallel-cc/core"
import { Layer } from "effect"

/** Core services over a temp data directory (pass extra PARALLEL_CC_* settings in `env`). */
export const layer = (dataDir: string, env: Readonly<Record<string, string>> = {}) =>
  Live.layer.pipe(
    Layer.provide(
      Layer.setConfigProvider(AppConfig.envProvider({ PARALLEL_CC_DATA_DIR: dataDir, ...env }, { homeDir: dataDir }))
    )
  )
