/**
 * Hunk-level resolution: the conflicting regions of a line three-way merge, the ways each one can be
 * resolved (one side, both sides' insertions, list entries merged, the two edits re-applied token by
 * token, a version bump, …), and the facts about a region that tell which way is likely right (its
 * situation). Pure functions; the choice between candidates is made from the table fitted on real merges
 * (`calibration.ts`).
 */
import { type Chunk, diff, diff3, mergeTokens, splitLines } from "./diff.js"

export type Region = Extract<Chunk<string>, { kind: "conflict" }>

/** How one region can be resolved. */
export const hunkStrategies = [
  "ours",
  "theirs",
  "both-ours-first",
  "both-theirs-first",
  "list-union",
  "adjacent",
  "tokens",
  "version",
  "symbol",
  "json"
] as const
export type HunkStrategy = typeof hunkStrategies[number]

export interface HunkCandidate {
  readonly strategies: ReadonlyArray<HunkStrategy>
  /** The lines that replace the region. */
  readonly lines: ReadonlyArray<string>
}

/** The facts about a region that the fitted table is keyed by. */
export interface Situation {
  /** insert: both sides only add lines; delete: a side removed the whole region; edit: anything else. */
  readonly shape: "insert" | "delete" | "edit"
  /** What one side's change is, relative to the other's. */
  readonly relation: "ws-equal" | "ours-ws-only" | "theirs-ws-only" | "ours-contains" | "theirs-contains" | "independent"
  /** Whether one side's lines were, earlier on the other side's branch, what that side then changed. */
  readonly history: "ours-older" | "theirs-older" | "none"
  readonly language: "script" | "json" | "text"
}

export const situationKey = (s: Situation): string => `${s.shape}/${s.relation}/${s.history}/${s.language}`

const squash = (s: string) => s.replace(/\s+/g, " ").trim()
const noWs = (s: string) => s.replace(/\s+/g, "")
const joined = (ls: ReadonlyArray<string>) => ls.join("")

const onlyInserts = (base: ReadonlyArray<string>, side: ReadonlyArray<string>) => diff(base, side).every((h) => h.aStart === h.aEnd)

/** A line that carries code: not blank, not only a comment or punctuation. */
const meaningful = (line: string) => {
  const t = line.trim()
  return t.length >= 8 && !/^(\/\/|\/\*|\*)/.test(t) && /[A-Za-z0-9]/.test(t)
}

/**
 * Whether `big` already holds `small`'s change: every block of lines `small` added is in `big` as it is
 * (whitespace aside), and every block it removed is gone from `big`.
 */
const holds = (base: ReadonlyArray<string>, big: ReadonlyArray<string>, small: ReadonlyArray<string>) => {
  const hunks = diff(base, small)
  if (hunks.length === 0) return false
  const inBig = squash(joined(big))
  let changed = false
  for (const h of hunks) {
    // A block of comments, braces or blank lines says nothing about whose change it was.
    if (h.bEnd > h.bStart && !small.slice(h.bStart, h.bEnd).some(meaningful)) return false
    const added = squash(joined(small.slice(h.bStart, h.bEnd)))
    const removed = squash(joined(base.slice(h.aStart, h.aEnd)))
    if (added !== "" && !inBig.includes(added)) return false
    if (removed !== "" && inBig.includes(removed) && !added.includes(removed)) return false
    changed ||= added !== "" || removed !== ""
  }
  return changed
}

/** Earlier versions of the file on each side's branch (newest first, the tip excluded), when known. */
export interface SideHistory {
  readonly ours: ReadonlyArray<string>
  readonly theirs: ReadonlyArray<string>
}

export const situationOf = (r: Region, language: Situation["language"], history?: SideHistory): Situation => {
  const o = joined(r.ours)
  const t = joined(r.theirs)
  const b = joined(r.base)
  // Entries of a list count as inserted when only the separator of the entry before them changed.
  const entries = (ls: ReadonlyArray<string>) => ls.map(entryOf)
  const shape: Situation["shape"] = r.base.length > 0 && (r.ours.length === 0 || r.theirs.length === 0)
    ? "delete"
    : (onlyInserts(r.base, r.ours) && onlyInserts(r.base, r.theirs)) ||
        (onlyInserts(entries(r.base), entries(r.ours)) && onlyInserts(entries(r.base), entries(r.theirs)))
    ? "insert"
    : "edit"
  const oc = holds(r.base, r.ours, r.theirs)
  const tc = holds(r.base, r.theirs, r.ours)
  const relation: Situation["relation"] = noWs(o) === noWs(t)
    ? "ws-equal"
    : noWs(o) === noWs(b)
    ? "ours-ws-only"
    : noWs(t) === noWs(b)
    ? "theirs-ws-only"
    : oc && !tc
    ? "ours-contains"
    : tc && !oc
    ? "theirs-contains"
    : "independent"
  let hist: Situation["history"] = "none"
  if (history !== undefined) {
    const so = squash(o)
    const st = squash(t)
    const oursInTheirs = so !== "" && history.theirs.some((v) => v.includes(so))
    const theirsInOurs = st !== "" && history.ours.some((v) => v.includes(st))
    if (oursInTheirs && !theirsInOurs) hist = "ours-older"
    else if (theirsInOurs && !oursInTheirs) hist = "theirs-older"
  }
  return { shape, relation, history: hist, language }
}

/** Both sides' insertions in each gap of the base region, in the given order, each line once. */
const unionInsertions = (r: Region, first: "ours" | "theirs"): Array<string> => {
  const gaps = (side: ReadonlyArray<string>) => {
    const m = new Map<number, Array<string>>()
    for (const h of diff(r.base, side)) m.set(h.aStart, [...(m.get(h.aStart) ?? []), ...side.slice(h.bStart, h.bEnd)])
    return m
  }
  const og = gaps(r.ours)
  const tg = gaps(r.theirs)
  const out: Array<string> = []
  for (let i = 0; i <= r.base.length; i++) {
    const a = og.get(i) ?? []
    const b = tg.get(i) ?? []
    const [x, y] = first === "ours" ? [a, b] : [b, a]
    // A line both sides added is kept once (an import, an entry); comments and punctuation may repeat.
    const seen = new Set(x.filter(meaningful).map((l) => l.trim()))
    out.push(...x, ...y.filter((l) => l.trim() === "" ? !x.some((z) => z.trim() === "") || y.length > 1 : !seen.has(l.trim())))
    if (i < r.base.length) out.push(r.base[i]!)
  }
  return out
}

/** Every change of both sides applied, when they touch but do not overlap (git conflicts on adjacent lines). */
const applyAdjacent = (r: Region): Array<string> | null => {
  const edits = [
    ...diff(r.base, r.ours).map((h) => ({ ...h, side: r.ours })),
    ...diff(r.base, r.theirs).map((h) => ({ ...h, side: r.theirs }))
  ]
  for (let i = 0; i < edits.length; i++) {
    for (let j = i + 1; j < edits.length; j++) {
      const [x, y] = [edits[i]!, edits[j]!]
      if (x.side === y.side) continue
      const overlap = Math.max(x.aStart, y.aStart) < Math.min(x.aEnd, y.aEnd)
      const sameInsertPoint = x.aStart === x.aEnd && y.aStart === y.aEnd && x.aStart === y.aStart
      const inside = (p: typeof x, q: typeof x) => p.aStart === p.aEnd && p.aStart > q.aStart && p.aStart < q.aEnd
      if (overlap || sameInsertPoint || inside(x, y) || inside(y, x)) return null
    }
  }
  edits.sort((x, y) => x.aStart - y.aStart || (x.aStart === x.aEnd ? 1 : 0) - (y.aStart === y.aEnd ? 1 : 0))
  const out: Array<string> = []
  let at = 0
  for (const e of edits) {
    if (e.aStart < at) return null
    out.push(...r.base.slice(at, e.aStart), ...e.side.slice(e.bStart, e.bEnd))
    at = e.aEnd
  }
  return [...out, ...r.base.slice(at)]
}

/** A list entry: the line without its trailing separator. */
const entryOf = (line: string) => line.replace(/,?\s*$/, "")
/** The key of an object entry (`key: …`, `"key": …`), or null for an entry without one. */
const keyOfEntry = (entry: string): string | null => {
  const m = /^\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|([\w$]+)\??)\s*:(?!:)/.exec(entry)
  return m === null ? null : (m[1] ?? m[2] ?? m[3])!
}
const isListy = (lines: ReadonlyArray<string>) =>
  lines.length > 0 && lines.every((l) => l.trim() === "" || /^\s*[\w$@'"`.*{[<(-]/.test(l) && !/[;{]\s*$/.test(l) && !/^\s*(import|export|const|let|var|function|class|return|if|for|while)\b/.test(l))

/**
 * Entries added by both sides to a comma-separated list (imports, object and array entries, union
 * members written one per line): the base entries with both sides' additions and removals, ours'
 * additions first, separators as the sides write them (every entry followed by a comma, or all but the
 * last).
 */
const listUnion = (r: Region): Array<string> | null => {
  const all = [...r.base, ...r.ours, ...r.theirs]
  if (!isListy(all) || !all.some((l) => /,\s*$/.test(l))) return null
  const strip = (ls: ReadonlyArray<string>) => ls.filter((l) => l.trim() !== "").map(entryOf)
  const b = strip(r.base)
  const o = strip(r.ours)
  const t = strip(r.theirs)
  const key = (s: string) => s.trim()
  const removed = new Set([...b.filter((x) => !o.some((y) => key(y) === key(x))), ...b.filter((x) => !t.some((y) => key(y) === key(x)))].map(key))
  const out = o.filter((x) => !removed.has(key(x)))
  for (const x of t) {
    if (out.some((y) => key(y) === key(x)) || removed.has(key(x))) continue
    out.push(x)
  }
  if (out.length === 0) return null
  // Two entries under one key (`"dep": "^1"` and `"dep": "^2"`) mean both sides changed the same entry:
  // keeping both is never the resolution (a duplicate key), so this is not a list union.
  const keys = out.map(keyOfEntry).filter((k): k is string => k !== null)
  if (new Set(keys).size < keys.length) return null
  const lastHasComma = (ls: ReadonlyArray<string>) => {
    const nonBlank = ls.filter((l) => l.trim() !== "")
    return nonBlank.length === 0 || /,\s*$/.test(nonBlank[nonBlank.length - 1]!)
  }
  const trailing = lastHasComma(r.ours) && lastHasComma(r.theirs)
  const eol = (r.ours[0] ?? r.theirs[0] ?? "\n").endsWith("\r\n") ? "\r\n" : "\n"
  const lastEndsLine = [r.ours, r.theirs].every((s) => s.length === 0 || s[s.length - 1]!.endsWith("\n"))
  return out.map((x, i) => x + (i < out.length - 1 || trailing ? "," : "") + (i < out.length - 1 || lastEndsLine ? eol : ""))
}

const versionRe = /\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?/g
const cmpVersion = (a: string, b: string) => {
  const pa = a.split(/[.-]/)
  const pb = b.split(/[.-]/)
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i]
    const y = pb[i]
    if (x === undefined) return 1 // a release sorts after its pre-releases
    if (y === undefined) return -1
    const nx = Number(x)
    const ny = Number(y)
    const c = Number.isNaN(nx) || Number.isNaN(ny) ? x.localeCompare(y) : nx - ny
    if (c !== 0) return c
  }
  return 0
}

/** Both sides changed the same version numbers (and nothing else) on the same lines: the higher of each. */
const higherVersions = (r: Region): Array<string> | null => {
  if (r.ours.length !== r.theirs.length || r.ours.length === 0) return null
  const out: Array<string> = []
  let any = false
  for (let i = 0; i < r.ours.length; i++) {
    const o = r.ours[i]!
    const t = r.theirs[i]!
    if (o === t) {
      out.push(o)
      continue
    }
    if (o.replace(versionRe, "V") !== t.replace(versionRe, "V")) return null
    const ov = o.match(versionRe) ?? []
    const tv = t.match(versionRe) ?? []
    let k = 0
    out.push(o.replace(versionRe, (v) => {
      const w = tv[k++]!
      return cmpVersion(w, v) > 0 ? w : v
    }))
    any ||= ov.length > 0
  }
  return any ? out : null
}

/** The ways to resolve one region, identical results folded together (strategies listed in order). */
export const hunkCandidates = (r: Region, extra: ReadonlyArray<{ strategy: HunkStrategy; lines: ReadonlyArray<string> | null }> = []): Array<HunkCandidate> => {
  const raw: Array<{ strategy: HunkStrategy; lines: ReadonlyArray<string> | null }> = [
    { strategy: "ours", lines: r.ours },
    { strategy: "theirs", lines: r.theirs }
  ]
  const insert = onlyInserts(r.base, r.ours) && onlyInserts(r.base, r.theirs)
  raw.push({ strategy: "both-ours-first", lines: insert ? unionInsertions(r, "ours") : [...r.ours, ...r.theirs] })
  raw.push({ strategy: "both-theirs-first", lines: insert ? unionInsertions(r, "theirs") : [...r.theirs, ...r.ours] })
  raw.push({ strategy: "list-union", lines: listUnion(r) })
  raw.push({ strategy: "adjacent", lines: applyAdjacent(r) })
  const tok = mergeTokens(joined(r.base), joined(r.ours), joined(r.theirs))
  raw.push({ strategy: "tokens", lines: tok.conflicts === 0 ? splitLines(tok.text) : null })
  raw.push({ strategy: "version", lines: higherVersions(r) })
  raw.push(...extra)
  const out: Array<{ strategies: Array<HunkStrategy>; lines: ReadonlyArray<string>; text: string }> = []
  for (const c of raw) {
    if (c.lines === null) continue
    const text = joined(c.lines)
    const same = out.find((x) => x.text === text)
    if (same !== undefined) {
      if (!same.strategies.includes(c.strategy)) same.strategies.push(c.strategy)
    } else out.push({ strategies: [c.strategy], lines: c.lines, text })
  }
  return out.map(({ lines, strategies }) => ({ strategies, lines }))
}

/**
 * The lines of `file` that stand where each region of `chunks` stood, when `file` keeps every agreed
 * chunk around it unchanged (null for a region whose surroundings were edited too). Used to read a
 * whole-file merge (symbol-level, JSON) or a committed resolution region by region.
 */
export const projectOntoRegions = (chunks: ReadonlyArray<Chunk<string>>, file: ReadonlyArray<string>): Array<Array<string> | null> => {
  const skeleton: Array<string> = []
  const at: Array<number> = []
  chunks.forEach((c, i) => {
    if (c.kind === "ok") skeleton.push(...c.items)
    else {
      at.push(skeleton.length)
      skeleton.push(`\u0000region ${i}\u0000\n`)
    }
  })
  const hunks = diff(skeleton, file)
  return at.map((p) => {
    const h = hunks.find((x) => x.aStart <= p && p < x.aEnd)
    return h === undefined || h.aEnd - h.aStart !== 1 ? null : file.slice(h.bStart, h.bEnd)
  })
}

/** The regions of a line three-way merge, with the chunks they sit in. */
export const regionsOf = (base: string, ours: string, theirs: string) => {
  const chunks = diff3(splitLines(base), splitLines(ours), splitLines(theirs))
  return { chunks, regions: chunks.filter((c): c is Region => c.kind === "conflict") }
}

/** Whitespace-normalised text for comparing resolutions: trailing whitespace per line and trailing blank lines ignored. */
export const normalizeText = (s: string): string => s.split("\n").map((l) => l.replace(/\s+$/, "")).join("\n").replace(/\n+$/, "")
