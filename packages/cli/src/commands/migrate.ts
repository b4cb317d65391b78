import { AppConfig, Database, Errors, LegacyImport } from "@parallel-cc/core"
import { Effect, Option } from "effect"
import { defineCommand } from "../internal/Command.js"
import { withConfig, withStoreAsIs } from "../internal/Env.js"
import { print, printJson } from "../internal/Output.js"

const kinds = [
  ["sessions", "session"],
  ["fileClaims", "file claim"],
  ["mergeEvents", "merge event"],
  ["subscriptions", "merge subscription"]
] as const

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`

const describeImport = (r: LegacyImport.ImportResult): ReadonlyArray<string> => {
  const lines = [`Imported from the original parallel-cc's database (schema ${r.legacyVersion}), kept unchanged at ${r.source}:`]
  for (const [key, word] of kinds) {
    const k = r[key]
    if (k.found === 0) continue
    const parts = [`${k.imported} imported`]
    if (k.skipped > 0) parts.push(`${k.skipped} already there`)
    if (k.pending > 0) parts.push(`${k.pending} left in the original file for a later version to import`)
    lines.push(`  ${plural(k.found, word)}: ${parts.join(", ")}`)
  }
  const rest = Object.entries(r.notImported).filter(([, n]) => n > 0)
  if (rest.length > 0) lines.push(`  not imported (kept in the original file): ${rest.map(([k, n]) => `${k} ${n}`).join(", ")}`)
  return lines
}

export const migrate = defineCommand({
  name: "migrate",
  description: "Bring the database schema forward (to the latest version, or to --version N); imports the " +
    "original parallel-cc's database when it finds one",
  spec: {
    targetVersion: {
      kind: "integer",
      optional: true,
      description: "The schema version to bring the database to, forward only (default: the latest)"
    },
    json: { kind: "boolean", description: "Print the result as JSON" }
  },
  handler: (opts) =>
    Effect.gen(function*() {
      const toVersion = Option.getOrUndefined(opts.targetVersion)
      // Before the store opens the file: a database of the original tool is backed up and moved aside.
      const prepared = yield* withConfig(Effect.gen(function*() {
        const config = yield* AppConfig.AppConfig
        if (toVersion === undefined) return yield* LegacyImport.prepare(config.dbPath)
        const found = yield* LegacyImport.inspect(config.dbPath)
        if (Option.isSome(found) && found.value.kind === "legacy") {
          return yield* new Errors.DatabaseError({
            reason: "LegacySchema",
            path: config.dbPath,
            detail: "run `parallel-cc migrate` without --version to import it first"
          })
        }
        return Option.none<LegacyImport.Prepared>()
      }))
      yield* withStoreAsIs(Effect.gen(function*() {
        const db = yield* Database.Database
        const result = yield* db.migrate({ toVersion })
        const imports: Array<LegacyImport.ImportResult> = []
        if (toVersion === undefined) {
          const sources = [
            ...Option.toArray(prepared).map((p) => ({ source: p.source, original: p.original, backup: p.backup })),
            ...(yield* LegacyImport.pending).filter((p) => Option.isNone(prepared) || p.source !== prepared.value.source)
          ]
          for (const s of sources) imports.push(yield* LegacyImport.importFile(s))
        }
        if (opts.json) {
          return yield* printJson({
            ...result,
            legacy: Option.isSome(prepared)
              ? { found: prepared.value.original, movedTo: prepared.value.source, backup: prepared.value.backup, version: prepared.value.info.version }
              : null,
            imports
          })
        }
        if (Option.isSome(prepared)) {
          yield* print(
            `Found a database of the original parallel-cc at ${prepared.value.original} (schema ${prepared.value.info.version}).\n` +
              `Backed up to ${prepared.value.backup}; the original is kept unchanged at ${prepared.value.source}.`
          )
        }
        if (result.applied.length === 0) {
          yield* print(`Database ${result.path} is at schema version ${result.version} (latest ${result.latestVersion}); nothing to do.`)
        } else {
          yield* print(
            `Migrated ${result.path} from version ${result.fromVersion} to ${result.version}: ` +
              result.applied.map((m) => `${m.id}_${m.name}`).join(", ")
          )
        }
        for (const r of imports) for (const line of describeImport(r)) yield* print(line)
      }))
    })
})
