/**
 * The resolved configuration, remembered for the start-up fast path (`sessions/FastPath`), which must not
 * load the key registry's schemas (they are Effect code).
 *
 * The regular path resolves and validates every key (`AppConfig`); the CLI then records the result here
 * together with exactly what it was resolved from: the build, the value of every key's environment
 * variable, and the config file's text. The fast path trusts a record only when all of that is identical
 * now; anything else (another build, another environment, an edited config file, no record) makes it step
 * aside, and the regular path resolves again and records anew. So no key is validated twice, and a value
 * is never used unless the regular path accepted it from the same inputs.
 *
 * The record lives in `<dataDir>/cache/config-snapshot.json` (0600 in the 0700 cache directory, written
 * atomically). Plain Node on purpose (no Effect).
 */
import * as fs from "node:fs"
import * as path from "node:path"

declare const PCC_BUILD_ID: string | undefined

/** The build this code belongs to (set by the CLI's bundler); undefined when running from sources. */
export const buildId: string | undefined = typeof PCC_BUILD_ID === "string" ? PCC_BUILD_ID : undefined

/** What the regular path records. */
export interface Record {
  readonly format: 1
  readonly build: string
  /** Every key's environment variable (`PARALLEL_CC_…`) and its value then (null: unset). */
  readonly vars: { readonly [name: string]: string | null }
  /** The config file's text then (null: no file). */
  readonly file: string | null
  /** The resolved value of every key. */
  readonly values: { readonly [key: string]: unknown }
  /** Every key's default (for keys a reader does not know: it may use them only at their default). */
  readonly defaults: { readonly [key: string]: unknown }
}

export const fileOf = (dataDir: string) => path.join(dataDir, "cache", "config-snapshot.json")

const readText = (file: string): string | null | undefined => {
  try {
    return fs.readFileSync(file, "utf8")
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ENOENT" ? null : undefined
  }
}

/**
 * The recorded values when they were resolved by this build from the same environment and config file;
 * otherwise undefined.
 */
export const read = (
  dataDir: string,
  env: Readonly<{ [name: string]: string | undefined }>
): Pick<Record, "values" | "defaults"> | undefined => {
  if (buildId === undefined) return undefined
  const text = readText(fileOf(dataDir))
  if (typeof text !== "string") return undefined
  let rec: Record
  try {
    rec = JSON.parse(text)
  } catch {
    return undefined
  }
  if (rec?.format !== 1 || rec.build !== buildId || typeof rec.vars !== "object" || rec.vars === null) return undefined
  for (const [name, value] of Object.entries(rec.vars)) if ((env[name] ?? null) !== value) return undefined
  const config = readText(path.join(dataDir, "config.json"))
  if (config === undefined || config !== rec.file) return undefined
  return { values: rec.values, defaults: rec.defaults }
}

/** Record a resolution (skipped when running from sources, when the data directory does not exist, or when it is unchanged). */
export const write = (dataDir: string, rec: Omit<Record, "format" | "build">): void => {
  if (buildId === undefined) return
  const full: Record = { format: 1, build: buildId, ...rec }
  const text = JSON.stringify(full)
  const file = fileOf(dataDir)
  try {
    if (!fs.statSync(dataDir).isDirectory()) return
    if (readText(file) === text) return
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 })
    const tmp = `${file}.${process.pid}.tmp`
    fs.writeFileSync(tmp, text, { mode: 0o600 })
    fs.renameSync(tmp, file)
  } catch {
    // Only the next start's speed depends on it.
  }
}
