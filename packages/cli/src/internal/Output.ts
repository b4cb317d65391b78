/**
 * Output helpers: results go to stdout (one JSON document with --json), everything else to stderr.
 */
import { Console, Data, Effect } from "effect"

export const printJson = (value: unknown) => Console.log(JSON.stringify(value, null, 2))

export const print = (text: string) => Console.log(text)

/** A plain left-aligned table; the last column is never padded. */
export const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const all = [header, ...rows]
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? "").length)))
  return all
    .map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("  ").trimEnd())
    .join("\n")
}

/** "3m", "2h 5m", "4d 1h". */
export const age = (from: Date, now: number): string => {
  const s = Math.max(0, Math.round((now - from.getTime()) / 1000))
  if (s < 60) return `${s}s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m}m`
  const h = Math.floor(m / 60)
  if (h < 24) return `${h}h ${m % 60}m`
  return `${Math.floor(h / 24)}d ${h % 24}h`
}

/** Write a warning line to stderr. */
export const warn = (text: string) => Console.error(`warning: ${text}`)

export const note = (text: string) => Effect.sync(() => process.stderr.write(text + "\n"))

/** A usage error found by a handler (e.g. two options that exclude each other): exit 2. */
export class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {}
