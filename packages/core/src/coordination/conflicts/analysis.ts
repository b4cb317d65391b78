/**
 * Classification of one conflicted file and the resolutions we can propose for it. Pure functions over
 * the three versions; the TypeScript compiler is optional (passed in when the file is a script).
 */
import { type Chunk, diff, diff3, mergeTokens, splitLines } from "./diff.js"
import { mergeJson } from "./json.js"
import type { GitConflictKind } from "./mergeTree.js"
import { type Entity, isScriptFile, parseFile, rewriteRenamed, sideChanges, symbolMerge, syntaxErrorCount, type Ts } from "./typescript.js"

import type { ConflictType, Severity, Strategy as AnyStrategy } from "./vocabulary.js"

export type { ConflictType, Severity } from "./vocabulary.js"
export type Language = "typescript" | "javascript" | "json" | "text" | "binary"
/** The strategies the algorithms propose (`manual` is the service's word for "none"). */
export type Strategy = Exclude<AnyStrategy, "manual">

export interface FileVersions {
  readonly path: string
  readonly gitKind: GitConflictKind
  readonly base: Uint8Array | null
  readonly ours: Uint8Array | null
  readonly theirs: Uint8Array | null
  readonly oursLabel: string
  readonly theirsLabel: string
  /** Names renamed (to) or deleted (null) in other files by one side, whose uses the other side adds here. */
  readonly brokenUses?: ReadonlyArray<BrokenUse> | undefined
  /** Internal: git merges this file cleanly (set when a "clean" file is re-analysed as content). */
  readonly cleanMerge?: boolean | undefined
}

export interface BrokenUse {
  readonly name: string
  readonly to: string | null
  readonly file: string
  readonly by: string
  readonly usedBy: string
}

export interface SymbolChange {
  readonly symbol: string
  readonly ours: string
  readonly theirs: string
}

export interface Classification {
  readonly type: ConflictType
  readonly severity: Severity
  readonly language: Language
  readonly analyzer: "typescript" | "json" | "text" | "git"
  readonly summary: string
  readonly reasons: ReadonlyArray<string>
  /** Conflicting regions of a line-based three-way merge. */
  readonly regions: number
  readonly symbols: ReadonlyArray<SymbolChange>
}

export interface Candidate {
  readonly strategy: Strategy
  readonly confidence: number
  readonly description: string
  /** The whole resolved file; null means the resolution deletes the file. */
  readonly content: Uint8Array | null
  /** Whether the resolved file parses (scripts and JSON); null when not checked. */
  readonly parses: boolean | null
}

export interface Analysis {
  readonly classification: Classification
  readonly candidates: ReadonlyArray<Candidate>
}

const enc = new TextEncoder()
const dec = new TextDecoder("utf-8", { fatal: false })

export const isBinary = (bytes: Uint8Array | null): boolean => {
  if (bytes === null) return false
  const n = Math.min(bytes.length, 8000)
  for (let i = 0; i < n; i++) if (bytes[i] === 0) return true
  return false
}

export const languageOf = (path: string, binary: boolean): Language => {
  if (binary) return "binary"
  if (/\.(tsx?|mts|cts)$/i.test(path)) return "typescript"
  if (/\.(jsx?|mjs|cjs)$/i.test(path)) return "javascript"
  if (/\.json$/i.test(path)) return "json"
  return "text"
}

/** Whether classifying this file needs the TypeScript compiler. */
export const needsTypeScript = (path: string): boolean => isScriptFile(path)

const ws = (lines: ReadonlyArray<string>) => lines.join("").replace(/\s+/g, " ").trim()

type Region = Extract<Chunk<string>, { kind: "conflict" }>

/** Whether `side` only adds lines around the base lines of the region (keeps them all, in order). */
const onlyInserts = (base: ReadonlyArray<string>, side: ReadonlyArray<string>) =>
  diff(base, side).every((h) => h.aStart === h.aEnd)

const regionKind = (r: Region): "formatting" | "insertions" | "edit" => {
  if (ws(r.ours) === ws(r.theirs) || ws(r.ours) === ws(r.base) || ws(r.theirs) === ws(r.base)) return "formatting"
  if (onlyInserts(r.base, r.ours) && onlyInserts(r.base, r.theirs)) return "insertions"
  return "edit"
}

/** Lines one side deleted in a region that reappear among the lines it inserted elsewhere: moved code. */
const movedLines = (base: ReadonlyArray<string>, side: ReadonlyArray<string>, region: [number, number]): number => {
  const hunks = diff(base, side)
  const inserted = new Set<string>()
  const deleted: Array<string> = []
  for (const h of hunks) {
    const inRegion = h.aStart < region[1] && h.aEnd > region[0] || (h.aStart === h.aEnd && h.aStart >= region[0] && h.aStart <= region[1])
    for (let i = h.aStart; i < h.aEnd; i++) if (inRegion) deleted.push(base[i]!.trim())
    if (!inRegion) for (let i = h.bStart; i < h.bEnd; i++) inserted.add(side[i]!.trim())
  }
  return deleted.filter((l) => l.length > 3 && inserted.has(l)).length
}

const offsets = (lines: ReadonlyArray<string>) => {
  const out = [0]
  for (const l of lines) out.push(out[out.length - 1]! + l.length)
  return out
}

const rank: Record<ConflictType, number> = { TRIVIAL: 0, CONCURRENT_EDIT: 1, STRUCTURAL: 2, SEMANTIC: 3 }

interface TsFacts {
  readonly type: ConflictType
  readonly reasons: Array<string>
  readonly symbols: Array<SymbolChange>
  readonly renames: Array<readonly [string, string]>
}

const describe = (key: string) => key.replace(/^(\w+)(?:-\w+)?:/, "$1 ").replace(/#\d+$/, "")

/** Classify with the parser: which symbols each side touched, moved, renamed, or re-signed. */
const tsFacts = (ts: Ts, path: string, base: string, ours: string, theirs: string, regions: ReadonlyArray<Region>, labels: [string, string]): TsFacts | null => {
  const pb = parseFile(ts, path, base)
  const po = parseFile(ts, path, ours)
  const pt = parseFile(ts, path, theirs)
  if (po.syntaxErrors > 0 || pt.syntaxErrors > 0) return null
  const reasons: Array<string> = []
  const symbols: Array<SymbolChange> = []
  const renames: Array<readonly [string, string]> = []
  let type: ConflictType = "TRIVIAL"
  const raise = (t: ConflictType) => {
    if (rank[t] > rank[type]) type = t
  }
  const lists: Array<[string, ReadonlyArray<Entity>, ReadonlyArray<Entity>, ReadonlyArray<Entity>]> = [["", pb.entities, po.entities, pt.entities]]
  // One level down: members of classes, interfaces, enums and namespaces present on all sides.
  for (const b of pb.entities) {
    const o = po.entities.find((e) => e.key === b.key)
    const t = pt.entities.find((e) => e.key === b.key)
    if (b.container && o?.container && t?.container) lists.push([`${b.name}.`, b.container.members, o.container.members, t.container.members])
  }
  const bo = offsets(splitLines(base))
  const oo = offsets(splitLines(ours))
  const to = offsets(splitLines(theirs))
  const ranges = regions.map((r) => ({
    b: [bo[r.baseStart]!, bo[r.baseStart + r.base.length]!] as const,
    o: [oo[r.oursStart]!, oo[r.oursStart + r.ours.length]!] as const,
    t: [to[r.theirsStart]!, to[r.theirsStart + r.theirs.length]!] as const
  }))
  const overlaps = (e: Entity, which: "b" | "o" | "t") =>
    ranges.some((r) => e.start < r[which][1] && e.end > r[which][0])
  const sideName = [labels[0], labels[1]]
  for (const [prefix, b, o, t] of lists) {
    const oc = sideChanges(b, o)
    const tc = sideChanges(b, t)
    const changes = [oc, tc]
    const involved = new Set<string>()
    for (const e of b) if (overlaps(e, "b")) involved.add(e.key)
    for (const e of o) if (overlaps(e, "o")) involved.add(oc.identity.get(e.key) ?? `+${e.key}`)
    for (const e of t) if (overlaps(e, "t")) involved.add(tc.identity.get(e.key) ?? `+${e.key}`)
    const what = (c: typeof oc, key: string): string => {
      if (c.renamed.has(key)) return `renamed to ${c.renamed.get(key)!.name}`
      if (c.removed.some((e) => e.key === key)) return "deleted"
      const parts: Array<string> = []
      if (c.moved.has(key)) parts.push("moved")
      if (c.signatureChanged.has(key)) parts.push("signature changed")
      else if (c.modified.has(key)) parts.push("changed")
      else if (c.reformatted.has(key)) parts.push("reformatted")
      return parts.length > 0 ? parts.join(", ") : "unchanged"
    }
    for (const key of involved) {
      if (key.startsWith("+")) continue
      const [ow, tw] = [what(oc, key), what(tc, key)]
      symbols.push({ symbol: prefix + describe(key), ours: ow, theirs: tw })
      for (let s = 0; s < 2; s++) {
        const c = changes[s]!
        const other = changes[1 - s]!
        const otherTouched = other.modified.has(key) || other.reformatted.has(key) || other.renamed.has(key)
        if ((c.moved.has(key) || c.renamed.has(key)) && otherTouched) {
          raise("STRUCTURAL")
          reasons.push(`${sideName[s]} ${c.renamed.has(key) ? "renamed" : "moved"} ${prefix}${describe(key)}, which ${sideName[1 - s]} edited`)
        }
      }
      if (oc.signatureChanged.has(key) && tc.signatureChanged.has(key)) {
        const os = oc.modified.get(key)?.sig
        const tsig = tc.modified.get(key)?.sig
        if (os !== undefined && tsig !== undefined && os !== tsig) {
          const be = b.find((x) => x.key === key)!
          // Signature edits that combine token by token are concurrent edits; those that collide are semantic.
          if (mergeTokens(be.text, oc.modified.get(key)!.text, tc.modified.get(key)!.text).conflicts > 0) {
            raise("SEMANTIC")
            reasons.push(`both sides changed the signature of ${prefix}${describe(key)} incompatibly`)
          } else {
            raise("CONCURRENT_EDIT")
            reasons.push(`both sides changed the signature of ${prefix}${describe(key)}; the changes combine`)
          }
        }
      }
    }
    // A name one side renamed or deleted, that the other side's new code still uses, breaks the merge.
    for (let s = 0; s < 2; s++) {
      const c = changes[s]!
      const other = changes[1 - s]!
      const otherList = s === 0 ? t : o
      const gone: Array<[string, string | null]> = [
        ...[...c.renamed].map(([k, e]) => [b.find((x) => x.key === k)!.name!, e.name] as [string, string | null]),
        ...c.removed.filter((e) => e.name !== null && !e.kind.startsWith("import") && !e.kind.startsWith("export")).map((e) => [e.name!, null] as [string, null])
      ]
      for (const [name, to] of gone) {
        if (name.includes(",")) continue
        if (to !== null) renames.push([name, to])
        const usesBefore = b.reduce((n, e) => n + (e.idents.get(name) ?? 0), 0)
        const usesAfter = otherList.reduce((n, e) => n + (e.idents.get(name) ?? 0), 0)
        const removedByOther = other.removed.some((e) => e.name === name)
        if (usesAfter > usesBefore && !removedByOther) {
          raise("SEMANTIC")
          reasons.push(
            `${sideName[s]} ${to !== null ? `renamed ${prefix}${name} to ${to}` : `deleted ${prefix}${name}`}, ` +
              `but ${sideName[1 - s]} adds new uses of ${name}`
          )
        }
      }
      for (const key of c.signatureChanged) {
        const e = b.find((x) => x.key === key)
        if (e?.name == null || e.name.includes(",") || other.signatureChanged.has(key)) continue
        const usesBefore = b.reduce((n, x) => n + (x.key === key ? 0 : x.idents.get(e.name!) ?? 0), 0)
        const usesAfter = otherList.reduce((n, x) => n + ((other.identity.get(x.key) ?? "") === key ? 0 : x.idents.get(e.name!) ?? 0), 0)
        if (usesAfter > usesBefore) {
          raise("SEMANTIC")
          reasons.push(`${sideName[s]} changed the signature of ${prefix}${e.name}, and ${sideName[1 - s]} adds calls to it`)
        }
      }
    }
  }
  return { type, reasons, symbols, renames }
}

const textOf = (b: Uint8Array | null) => (b === null ? "" : dec.decode(b))

const build = (chunks: ReadonlyArray<Chunk<string>>, resolve: (r: Region) => string | null): string | null => {
  let out = ""
  for (const c of chunks) {
    if (c.kind === "ok") out += c.items.join("")
    else {
      const r = resolve(c)
      if (r === null) return null
      out += r
    }
  }
  return out
}

/** Both sides' insertions in each gap of the base region, in the given order. */
const unionInsertions = (r: Region, first: "ours" | "theirs"): string => {
  const gaps = (side: ReadonlyArray<string>) => {
    const m = new Map<number, Array<string>>()
    for (const h of diff(r.base, side)) m.set(h.aStart, [...(m.get(h.aStart) ?? []), ...side.slice(h.bStart, h.bEnd)])
    return m
  }
  const og = gaps(r.ours)
  const tg = gaps(r.theirs)
  let out = ""
  for (let i = 0; i <= r.base.length; i++) {
    const a = og.get(i) ?? []
    const b = tg.get(i) ?? []
    const [x, y] = first === "ours" ? [a, b] : [b, a]
    const same = x.join("") === y.join("")
    out += x.join("") + (same ? "" : y.join(""))
    if (i < r.base.length) out += r.base[i]
  }
  return out
}

/**
 * Both sides' changes to a region when they only touch (git conflicts on adjacent changes): every
 * change applied in base order; an insertion at the end of the other side's replaced lines goes after
 * them, at their start before them. Null when changes really overlap or both insert at one place.
 */
const applyTouching = (r: Region): string | null => {
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
  // Sort by position; at a shared boundary a replacement ending there comes before an insertion there.
  edits.sort((x, y) => x.aStart - y.aStart || (x.aStart === x.aEnd ? 1 : 0) - (y.aStart === y.aEnd ? 1 : 0))
  let out = ""
  let at = 0
  for (const e of edits) {
    if (e.aStart < at) return null
    out += r.base.slice(at, e.aStart).join("") + e.side.slice(e.bStart, e.bEnd).join("")
    at = e.aEnd
  }
  return out + r.base.slice(at).join("")
}

const sortedWithin = (lines: ReadonlyArray<string>) =>
  lines.length > 1 && lines.every((l, i) => i === 0 || lines[i - 1]!.trim().localeCompare(l.trim()) <= 0)

/** Classify a conflicted file and propose resolutions, best first. */
export const analyze = (ts: Ts | null, v: FileVersions): Analysis => {
  const binary = isBinary(v.base) || isBinary(v.ours) || isBinary(v.theirs) || v.gitKind === "binary"
  const language = languageOf(v.path, binary)
  const [oL, tL] = [v.oursLabel, v.theirsLabel]
  const candidates: Array<Candidate> = []
  const whole = (side: "ours" | "theirs", confidence: number, description: string): Candidate => ({
    strategy: side === "ours" ? "take-ours" : "take-theirs",
    confidence,
    description,
    content: side === "ours" ? v.ours : v.theirs,
    parses: null
  })

  if (v.gitKind === "clean" && (v.ours === null || v.base === null)) {
    // A file one side added (or that only one side has) and git merges cleanly: compare with empty text.
    const empty = new Uint8Array(0)
    return analyze(ts, { ...v, gitKind: "content", base: v.base ?? empty, ours: v.ours ?? empty, theirs: v.theirs ?? empty, cleanMerge: true })
  }
  if (v.ours === null || v.theirs === null) {
    const deletedBy = v.ours === null ? oL : tL
    const keptBy = v.ours === null ? tL : oL
    const kept = v.ours ?? v.theirs
    const kind = v.gitKind === "rename/delete" ? "renamed" : "modified"
    return {
      classification: {
        type: "STRUCTURAL",
        severity: "HIGH",
        language,
        analyzer: "git",
        summary: `${v.path} was deleted on ${deletedBy} and ${kind} on ${keptBy}`,
        reasons: [`${deletedBy} deleted the file (or moved its code elsewhere); ${keptBy} still changes it`],
        regions: 0,
        symbols: []
      },
      candidates: finish(ts, v.path, language, null, kept === null || isBinary(kept) ? null : textOf(kept), [
        { strategy: "keep-file", confidence: 0.4, description: `keep ${keptBy}'s ${kind} file`, content: kept, parses: null },
        { strategy: "delete-file", confidence: 0.35, description: `delete the file as ${deletedBy} did (carry ${keptBy}'s changes over by hand if its code moved)`, content: null, parses: null }
      ])
    }
  }

  if (binary) {
    return {
      classification: {
        type: "CONCURRENT_EDIT",
        severity: "HIGH",
        language,
        analyzer: "git",
        summary: `binary file ${v.path} changed on both ${oL} and ${tL}`,
        reasons: ["a binary file cannot be merged line by line; one version has to win (or the file must be regenerated)"],
        regions: 1,
        symbols: []
      },
      candidates: [
        whole("ours", 0.3, `keep ${oL}'s version of the binary file`),
        whole("theirs", 0.3, `keep ${tL}'s version of the binary file`)
      ]
    }
  }

  const base = textOf(v.base)
  const ours = textOf(v.ours)
  const theirs = textOf(v.theirs)
  const bl = splitLines(base)
  const ol = splitLines(ours)
  const tl = splitLines(theirs)
  const chunks = diff3(bl, ol, tl)
  const regions = chunks.filter((c): c is Region => c.kind === "conflict")
  const kinds = regions.map(regionKind)
  const reasons: Array<string> = []
  // Ignoring whitespace, does the merge still conflict? If not, every conflict is formatting.
  const wsEq = (x: string, y: string) => x === y || x.replace(/\s+/g, "") === y.replace(/\s+/g, "")
  const formattingOnly = regions.length > 0 && !diff3(bl, ol, tl, wsEq).some((c) => c.kind === "conflict")
  if (formattingOnly) kinds.fill("formatting")
  let type: ConflictType = regions.length === 0 || kinds.every((k) => k === "formatting") ? "TRIVIAL" : "CONCURRENT_EDIT"
  let analyzer: Classification["analyzer"] = "text"
  let symbols: Array<SymbolChange> = []
  let renames: Array<readonly [string, string]> = []
  if (regions.length === 0) {
    reasons.push(v.gitKind === "clean" || v.cleanMerge === true ? "git merges this file cleanly" : "the lines merge cleanly here; git's conflict comes from its different diff alignment")
  }
  if (kinds.includes("formatting")) reasons.push(`${kinds.filter((k) => k === "formatting").length} region(s) differ only in whitespace or formatting`)
  if (kinds.includes("insertions")) reasons.push(`${kinds.filter((k) => k === "insertions").length} region(s) are independent insertions at the same place`)
  if (kinds.includes("edit")) reasons.push(`${kinds.filter((k) => k === "edit").length} region(s) where both sides changed the same lines`)
  const script = ts !== null && isScriptFile(v.path)
  if (script) {
    const facts = tsFacts(ts, v.path, base, ours, theirs, regions, [oL, tL])
    if (facts !== null) {
      analyzer = "typescript"
      symbols = facts.symbols
      renames = facts.renames
      // Token-equal regions are formatting-only even when comments or line breaks moved.
      if (type !== "TRIVIAL" && rank[facts.type] > rank[type]) type = facts.type
      reasons.push(...facts.reasons)
    } else reasons.push("one side does not parse as TypeScript/JavaScript; classified as text")
  }
  for (const u of v.brokenUses ?? []) {
    type = "SEMANTIC"
    reasons.push(`${u.by} ${u.to !== null ? `renamed ${u.name} to ${u.to}` : `deleted ${u.name}`} (in ${u.file}), but ${u.usedBy} adds uses of ${u.name} here`)
    if (u.to !== null && !renames.some(([f]) => f === u.name)) renames.push([u.name, u.to])
  }
  if (rank[type] < rank.STRUCTURAL && regions.length > 0) {
    const moved = regions.reduce((n, r) => n + movedLines(bl, ol, [r.baseStart, r.baseStart + r.base.length]) + movedLines(bl, tl, [r.baseStart, r.baseStart + r.base.length]), 0)
    if (moved >= 2) {
      type = "STRUCTURAL"
      reasons.push(`${moved} line(s) in the conflict were moved elsewhere by one side`)
    }
  }
  let jsonResult: ReturnType<typeof mergeJson> | null = null
  if (language === "json") {
    jsonResult = mergeJson(base, ours, theirs)
    analyzer = "json"
    if (jsonResult.ok && type !== "TRIVIAL") reasons.push("as data, the two sides changed different keys")
    if (!jsonResult.ok) reasons.push(`as data, both sides changed ${jsonResult.conflicts.join(", ")}`)
  }
  // Both sides only added lines (one side's may be blank lines only, which counts as formatting).
  const allInsertions = regions.length > 0 && regions.every((r) => onlyInserts(r.base, r.ours) && onlyInserts(r.base, r.theirs))
  const severity: Severity = type === "TRIVIAL"
    ? "LOW"
    : type === "SEMANTIC"
    ? "HIGH"
    : type === "STRUCTURAL"
    ? "MEDIUM"
    : allInsertions || jsonResult?.ok === true
    ? "LOW"
    : "MEDIUM"
  const summary = `${type} conflict in ${v.path}: ${regions.length} conflicting region(s)` +
    (symbols.length > 0 ? `, around ${symbols.slice(0, 3).map((s) => s.symbol).join(", ")}${symbols.length > 3 ? "…" : ""}` : "")

  // Resolutions
  const add = (strategy: Strategy, confidence: number, description: string, text: string | null) => {
    if (text !== null) candidates.push({ strategy, confidence, description, content: enc.encode(text), parses: null })
  }
  const rename = (text: string | null) =>
    text !== null && script && renames.length > 0 ? rewriteRenamed(ts!, v.path, text, renames, (v.brokenUses ?? []).length > 0).text : text
  if (regions.length === 0 && (v.brokenUses ?? []).some((u) => u.to !== null) && script) {
    const renamed = (v.brokenUses ?? []).filter((u) => u.to !== null).map((u) => `${u.name} → ${u.to}`).join(", ")
    add("reapply", 0.75, `the clean merge, with the new uses renamed as the other side renamed them (${renamed})`, rename(build(chunks, () => null)))
  }
  add("take-ours", kinds.every((k) => k === "formatting") ? 0.5 : 0.3, `merge, and in each conflicting region keep ${oL}'s lines (like git merge -X ours)`, build(chunks, (r) => r.ours.join("")))
  add("take-theirs", kinds.every((k) => k === "formatting") ? 0.45 : 0.28, `merge, and in each conflicting region keep ${tL}'s lines (like git merge -X theirs)`, build(chunks, (r) => r.theirs.join("")))
  if (allInsertions) {
    const sorted = regions.every((r) => sortedWithin([...r.ours, ...r.theirs.filter((l) => !r.ours.includes(l))].filter((l) => !r.base.includes(l)).sort()))
    const sortedText = build(chunks, (r) => {
      const lines = [...r.base, ...r.ours.filter((l) => !r.base.includes(l)), ...r.theirs.filter((l) => !r.base.includes(l) && !r.ours.includes(l))]
      return sortedWithin(r.ours) && sortedWithin(r.theirs) ? [...lines].sort((x, y) => x.trim().localeCompare(y.trim())).join("") : null
    })
    if (sorted && sortedText !== null) add("keep-both", 0.75, "keep both sides' insertions, in sorted order (both sides keep these lines sorted)", sortedText)
    add(
      "keep-both",
      type === "TRIVIAL" ? 0.86 : 0.7,
      `keep both sides' insertions: ${oL}'s first, then ${tL}'s`,
      rename(build(chunks, (r) => unionInsertions(r, "ours")))
    )
    add("keep-both", 0.5, `keep both sides' insertions: ${tL}'s first, then ${oL}'s`, rename(build(chunks, (r) => unionInsertions(r, "theirs"))))
  }
  if (regions.length > 0 && !allInsertions) {
    const touching = build(chunks, applyTouching)
    if (touching !== null) {
      add("reapply", 0.7, "apply both sides' changes: they touch but do not overlap (git conflicts on adjacent lines)", rename(touching))
    }
  }
  if (regions.length > 0) {
    let tokenConflicts = 0
    const reapplied = build(chunks, (r) => {
      const m = mergeTokens(r.base.join(""), r.ours.join(""), r.theirs.join(""))
      tokenConflicts += m.conflicts
      return m.conflicts === 0 ? m.text : null
    })
    if (reapplied !== null) {
      const conf = kinds.every((k) => k === "formatting") ? 0.8 : type === "STRUCTURAL" ? 0.55 : 0.65
      add("reapply", conf, "re-apply each side's edits onto the other's version word by word (whitespace and formatting changes combine with edits)", rename(reapplied))
    }
    void tokenConflicts
  }
  if (script) {
    const sm = symbolMerge(ts!, v.path, base, ours, theirs)
    if (sm.ok) {
      add(
        "symbol-merge",
        sm.rewrites.length > 0 ? 0.8 : 0.85,
        "merge declaration by declaration: independent declarations from both sides, moved code with the other side's edits" +
          (sm.notes.length > 0 ? ` (${sm.notes.join("; ")})` : ""),
        (v.brokenUses ?? []).length > 0 ? rename(sm.text) : sm.text
      )
    } else if (sm.failures.length > 0) reasons.push(`no symbol-level merge: ${sm.failures.join("; ")}`)
  }
  if (jsonResult?.ok === true) add("json-merge", 0.9, "merge the JSON as data: each side's keys and values, written in ours' formatting", jsonResult.text)

  return {
    classification: { type, severity, language, analyzer, summary, reasons, regions: regions.length, symbols },
    candidates: finish(ts, v.path, language, ours, theirs, candidates)
  }
}

/** Check that results parse (penalising those that do not), fold identical results together, sort. */
const finish = (ts: Ts | null, path: string, language: Language, ours: string | null, theirs: string | null, candidates: ReadonlyArray<Candidate>): Array<Candidate> => {
  const script = ts !== null && isScriptFile(path)
  const parsesAll = (xs: ReadonlyArray<string | null>) =>
    xs.every((x) => x === null || (script ? syntaxErrorCount(ts!, path, x) === 0 : language === "json" ? canParseJson(x) : false))
  const parsesBoth = (script || language === "json") && parsesAll([ours, theirs])
  const checked = candidates.map((c) => {
    if (c.content === null || language === "binary") return c
    const text = dec.decode(c.content)
    const parses = script ? syntaxErrorCount(ts!, path, text) === 0 : language === "json" ? canParseJson(text) : null
    return { ...c, parses, confidence: parses === false && parsesBoth ? c.confidence * 0.3 : c.confidence }
  })
  const folded = new Map<string, Candidate & { also: Array<Strategy> }>()
  for (const c of [...checked].sort((a, b) => b.confidence - a.confidence)) {
    const key = c.content === null ? "\0delete" : dec.decode(c.content)
    const prev = folded.get(key)
    if (prev === undefined) folded.set(key, { ...c, also: [] })
    // Agreement of two independent methods raises confidence; agreement with a long shot does not.
    else if (!prev.also.includes(c.strategy) && prev.strategy !== c.strategy && c.confidence >= 0.6) prev.also.push(c.strategy)
  }
  return [...folded.values()].map(({ also, ...c }) => ({
    ...c,
    confidence: Math.round(Math.min(0.97, c.confidence + 0.04 * also.length) * 100) / 100,
    description: also.length > 0 ? `${c.description} — the same result as ${also.join(", ")}` : c.description
  })).sort((a, b) => b.confidence - a.confidence)
}

const canParseJson = (text: string) => {
  try {
    JSON.parse(text)
    return true
  } catch {
    return false
  }
}
