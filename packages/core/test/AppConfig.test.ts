import { assert, describe, it } from "@effect/vitest"
import { AppConfig, Live } from "@parallel-cc/core"
import { TempDir } from "@parallel-cc/testkit"
import { Effect, Either, Layer } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"

const load = (dataDir: string, env: Record<string, string> = {}) =>
  AppConfig.AppConfig.pipe(
    Effect.provide(
      Live.configLayer.pipe(
        Layer.provide(Layer.setConfigProvider(AppConfig.envProvider({ PARALLEL_CC_DATA_DIR: dataDir, ...env }, { homeDir: "/nonexistent" })))
      )
    )
  )

const setIn = (dataDir: string, key: string, value: string) =>
  AppConfig.setValue(path.join(dataDir, "config.json"), key, value).pipe(Effect.provide(Live.Platform))

describe("AppConfig", () => {
  it.scopedLive("defaults, then file, then environment, each reported with its source", () =>
    Effect.gen(function*() {
      const dir = yield* TempDir.make()
      const d = yield* load(dir)
      assert.strictEqual(d.values["worktree.prefix"], "parallel-")
      assert.strictEqual(d.sources["worktree.prefix"], "default")
      assert.strictEqual(d.dbPath, path.join(dir, "coordinator.db"))
      yield* setIn(dir, "worktree.prefix", "wt-")
      yield* setIn(dir, "sessions.staleMinutes", "25")
      yield* setIn(dir, "worktree.copy", "[\".env*\"]")
      const f = yield* load(dir)
      assert.strictEqual(f.values["worktree.prefix"], "wt-")
      assert.strictEqual(f.sources["worktree.prefix"], "file")
      assert.strictEqual(f.values["sessions.staleMinutes"], 25)
      assert.deepStrictEqual(f.values["worktree.copy"], [".env*"])
      assert.deepStrictEqual(JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8")), {
        worktree: { prefix: "wt-", copy: [".env*"] },
        sessions: { staleMinutes: 25 }
      })
      assert.strictEqual(fs.statSync(path.join(dir, "config.json")).mode & 0o777, 0o600)
      const e = yield* load(dir, { PARALLEL_CC_WORKTREE_PREFIX: "env-", PARALLEL_CC_SESSIONS_STALE_MINUTES: "3" })
      assert.strictEqual(e.values["worktree.prefix"], "env-")
      assert.strictEqual(e.sources["worktree.prefix"], "env")
      assert.strictEqual(e.values["sessions.staleMinutes"], 3)
    }))

  it.scopedLive("unknown key, wrong type and out-of-range values are typed errors naming the key; the file is untouched", () =>
    Effect.gen(function*() {
      const dir = yield* TempDir.make()
      yield* setIn(dir, "agent", "codex")
      const file = path.join(dir, "config.json")
      const before = fs.readFileSync(file, "utf8")

      const unknown = yield* setIn(dir, "worktree.prefx", "x").pipe(Effect.flip)
      assert.strictEqual(unknown._tag, "ConfigError")
      assert.strictEqual(unknown.reason, "UnknownKey")
      assert.include(unknown.message, "worktree.prefx")
      assert.include(unknown.message, "worktree.prefix")

      const wrongType = yield* setIn(dir, "sessions.staleMinutes", "soon").pipe(Effect.flip)
      assert.strictEqual(wrongType.reason, "InvalidValue")
      assert.include(wrongType.message, "sessions.staleMinutes")
      assert.include(wrongType.message, "an integer from 1 to 10080")

      const outOfRange = yield* setIn(dir, "db.busyTimeoutMs", "-5").pipe(Effect.flip)
      assert.strictEqual(outOfRange.reason, "InvalidValue")
      assert.include(outOfRange.message, "db.busyTimeoutMs")

      const badList = yield* setIn(dir, "worktree.setup", "[[]]").pipe(Effect.flip)
      assert.strictEqual(badList.reason, "InvalidValue")

      assert.strictEqual(fs.readFileSync(file, "utf8"), before)
    }))

  it.scopedLive("a bad environment value or a corrupt file fails with the key and the source named", () =>
    Effect.gen(function*() {
      const dir = yield* TempDir.make()
      const env = yield* load(dir, { PARALLEL_CC_PORTS_BASE: "80" }).pipe(Effect.flip)
      assert.strictEqual(env._tag, "ConfigError")
      assert.include(env.message, "ports.base")
      assert.include(env.message, "PARALLEL_CC_PORTS_BASE")

      fs.writeFileSync(path.join(dir, "config.json"), "{ not json")
      const corrupt = yield* load(dir).pipe(Effect.flip)
      assert.strictEqual(corrupt.reason, "FileInvalid")
      assert.strictEqual(fs.readFileSync(path.join(dir, "config.json"), "utf8"), "{ not json")
      const setOnCorrupt = yield* setIn(dir, "agent", "x").pipe(Effect.either)
      assert.isTrue(Either.isLeft(setOnCorrupt))
      assert.strictEqual(fs.readFileSync(path.join(dir, "config.json"), "utf8"), "{ not json")

      fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify({ sessions: { staleMinutes: "ten" } }))
      const typed = yield* load(dir).pipe(Effect.flip)
      assert.strictEqual(typed.reason, "InvalidValue")
      assert.include(typed.message, "sessions.staleMinutes")
      assert.include(typed.message, "config.json")
    }))

  it("derives environment variable names from keys", () => {
    assert.strictEqual(AppConfig.envName("db.busyTimeoutMs"), "PARALLEL_CC_DB_BUSY_TIMEOUT_MS")
    assert.strictEqual(AppConfig.envName("agent"), "PARALLEL_CC_AGENT")
    assert.isTrue(Either.isLeft(AppConfig.lookup("nope")))
  })
})
