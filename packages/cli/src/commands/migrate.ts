import { Database } from "@parallel-cc/core"
import { Effect, Option } from "effect"
import { defineCommand } from "../internal/Command.js"
import { withStoreAsIs } from "../internal/Env.js"
import { print, printJson } from "../internal/Output.js"

export const migrate = defineCommand({
  name: "migrate",
  description: "Bring the database schema forward (to the latest version, or to --version N)",
  spec: {
    targetVersion: {
      kind: "integer",
      optional: true,
      description: "Target schema version, forward only (also accepted as `migrate --version N`)"
    },
    json: { kind: "boolean", description: "Print the result as JSON" }
  },
  handler: (opts) =>
    withStoreAsIs(Effect.gen(function*() {
      const db = yield* Database.Database
      const result = yield* db.migrate({ toVersion: Option.getOrUndefined(opts.targetVersion) })
      if (opts.json) return yield* printJson(result)
      if (result.applied.length === 0) {
        return yield* print(`Database ${result.path} is at schema version ${result.version} (latest ${result.latestVersion}); nothing to do.`)
      }
      yield* print(
        `Migrated ${result.path} from version ${result.fromVersion} to ${result.version}: ` +
          result.applied.map((m) => `${m.id}_${m.name}`).join(", ")
      )
    }))
})
