/**
 * What one side changed in one file, relative to a base — the changed line ranges (in the base's
 * numbering) and, for TypeScript/JavaScript, the symbols (top-level declarations and the members of classes,
 * interfaces, enums and namespaces, from the TypeScript parser) — and how two sides' changes meet: the same
 * symbols, or line ranges that touch (git conflicts on adjacent lines too). Pure: the parser is passed in.
 */
import { diff, splitLines } from "../conflicts/diff.js"
import { type Entity, isScriptFile, parseFile, sideChanges, type Ts } from "../conflicts/typescript.js"

/** Lines `start..end` of the base (1-based, inclusive); an insertion after line n is `{ start: n + 1, end: n }`. */
export interface LineRange {
  readonly start: number
  readonly end: number
}

export interface FileChange {
  readonly symbols: ReadonlyArray<string>
  readonly ranges: ReadonlyArray<LineRange>
}

/** Files above this size (either side) get no line or symbol analysis: the file level is all we say. */
export const MAX_ANALYSED_BYTES = 1_000_000

/** The base line ranges that `side` changed. */
export const changedRanges = (base: string, side: string): ReadonlyArray<LineRange> =>
  diff(splitLines(base), splitLines(side)).map((h) => ({ start: h.aStart + 1, end: h.aEnd }))

const label = (e: Entity): string => e.name ?? e.kind

/** Names of the entities one side added, removed, renamed or changed (beyond formatting), members qualified. */
const changedNames = (base: ReadonlyArray<Entity>, side: ReadonlyArray<Entity>, prefix: string): Array<string> => {
  const ch = sideChanges(base, side)
  const byKey = new Map(base.map((e) => [e.key, e]))
  const out: Array<string> = []
  for (const e of ch.added) out.push(prefix + label(e))
  for (const e of ch.removed) out.push(prefix + label(e))
  for (const k of ch.renamed.keys()) out.push(prefix + label(byKey.get(k)!))
  for (const [k, s] of ch.modified) {
    const b = byKey.get(k)!
    if (b.container !== null && s.container !== null) {
      const inner = changedNames(b.container.members, s.container.members, `${prefix}${label(b)}.`)
      const outer = b.container.header !== s.container.header || b.container.footer !== s.container.footer
      if (outer || inner.length === 0) out.push(prefix + label(b))
      out.push(...inner)
    } else out.push(prefix + label(b))
  }
  return [...new Set(out)]
}

/** What `side` changed in `path` relative to `base` (null: the file is absent on that side). */
export const fileChange = (ts: Ts | null, path: string, base: string | null, side: string | null): FileChange => {
  const b = base ?? ""
  const s = side ?? ""
  if (b.length > MAX_ANALYSED_BYTES || s.length > MAX_ANALYSED_BYTES || b.includes("\u0000") || s.includes("\u0000")) {
    return { symbols: [], ranges: [] }
  }
  const ranges = changedRanges(b, s)
  if (ts === null || !isScriptFile(path) || ranges.length === 0) return { symbols: [], ranges }
  try {
    return { symbols: changedNames(parseFile(ts, path, b).entities, parseFile(ts, path, s).entities, ""), ranges }
  } catch {
    return { symbols: [], ranges }
  }
}

/** Whether two ranges overlap or are adjacent. */
export const touches = (a: LineRange, b: LineRange): boolean => a.start <= b.end + 1 && b.start <= a.end + 1

/** How two sides' changes to one file meet. */
export interface Meeting {
  readonly level: "file" | "hunk" | "symbol"
  /** Symbols both sides changed. */
  readonly symbols: ReadonlyArray<string>
  /** The span of lines (base numbering) where both changed, when they do. */
  readonly lines: LineRange | null
}

export const meet = (a: FileChange, b: FileChange): Meeting => {
  const theirs = new Set(b.symbols)
  const symbols = a.symbols.filter((s) => theirs.has(s))
  let lines: LineRange | null = null
  for (const x of a.ranges) {
    for (const y of b.ranges) {
      if (!touches(x, y)) continue
      const start = Math.min(x.start, y.start)
      const end = Math.max(x.end, y.end, start)
      lines = lines === null ? { start, end } : { start: Math.min(lines.start, start), end: Math.max(lines.end, end) }
    }
  }
  return { level: symbols.length > 0 ? "symbol" : lines !== null ? "hunk" : "file", symbols, lines }
}

/** "lines 3–9", "line 4", "after line 7". */
export const describeRange = (r: LineRange): string =>
  r.end < r.start ? `after line ${r.end}` : r.start === r.end ? `line ${r.start}` : `lines ${r.start}–${r.end}`
