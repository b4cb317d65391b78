import { AppConfig } from "@parallel-cc/core"
import { Effect } from "effect"
import { withConfig, withPlatform } from "../internal/Env.js"
import { print, printJson, table } from "../internal/Output.js"

const show = (v: unknown) => (typeof v === "string" ? v : JSON.stringify(v))

/** `config get KEY`: the effective value of one key. */
export const get = (key: string, json: boolean) =>
  withConfig(Effect.gen(function*() {
    const def = yield* AppConfig.lookup(key)
    const config = yield* AppConfig.AppConfig
    const name = def.key as AppConfig.KeyName
    const value = config.values[name]
    if (json) return yield* printJson({ key: name, value, source: config.sources[name], env: AppConfig.envName(name) })
    yield* print(show(value))
  }))

/** `config set KEY VALUE`: validate and store in the config file (works even when the file holds a bad value). */
export const set = (key: string, text: string, json: boolean) =>
  withPlatform(Effect.gen(function*() {
    const config = yield* AppConfig.locate
    const value = yield* AppConfig.setValue(config.configFile, key, text)
    if (json) return yield* printJson({ key, value, file: config.configFile })
    yield* print(`${key} = ${show(value)} (saved in ${config.configFile})`)
  }))

/** `config unset KEY`: remove a key from the config file (works even when the file holds a bad value). */
export const unset = (key: string, json: boolean) =>
  withPlatform(Effect.gen(function*() {
    const config = yield* AppConfig.locate
    yield* AppConfig.unsetValue(config.configFile, key)
    if (json) return yield* printJson({ key, file: config.configFile })
    yield* print(`${key} removed from ${config.configFile}`)
  }))

/** `config list`: every key with its value, where it came from, and its environment variable. */
export const list = (json: boolean) =>
  withConfig(Effect.gen(function*() {
    const config = yield* AppConfig.AppConfig
    const rows = AppConfig.keyNames.map((k) => ({
      key: k,
      value: config.values[k] as unknown,
      source: config.sources[k],
      env: AppConfig.envName(k),
      default: AppConfig.Keys[k].default as unknown,
      description: AppConfig.Keys[k].description
    }))
    if (json) return yield* printJson({ file: config.configFile, dataDir: config.dataDir, dbPath: config.dbPath, keys: rows })
    yield* print(table(["KEY", "VALUE", "SOURCE", "ENV"], rows.map((r) => [r.key, show(r.value), r.source, r.env])))
    yield* print(`\nconfig file: ${config.configFile}\ndatabase:    ${config.dbPath}`)
  }))
