/**
 * Classification of one conflicted file and the resolutions we can propose for it. Pure functions over
 * the three versions; the TypeScript compiler is optional (passed in when the file is a script).
 */
import { type Chunk, diff, diff3, mergeTokens, splitLines } from "./diff.js"
import type { HunkStrategy } from "./hunks.js"
import { mergeJson } from "./json.js"
import type { GitConflictKind } from "./mergeTree.js"
import { type FileSuggestion, type HunkDetail, parsesAs, resolveText, type SideContext } from "./resolve.js"
import { type Entity, isScriptFile, parseFile, rewriteRenamed, sideChanges, type Ts, withParseCache } from "./typescript.js"

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
  /** What is known about each side's branch (commits that changed the file, earlier versions of it). */
  readonly sides?: { readonly ours: SideContext; readonly theirs: SideContext } | undefined
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

/** The choice a suggestion made for one hunk. */
export interface HunkChoice {
  readonly index: number
  readonly strategy: HunkStrategy | "unresolved"
  readonly confidence: number
  readonly autoApply: boolean
  readonly drops: "ours" | "theirs" | null
}

export interface Candidate {
  readonly strategy: Strategy
  readonly confidence: number
  readonly description: string
  /** The whole resolved file; null means the resolution deletes the file. */
  readonly content: Uint8Array | null
  /** Whether the resolved file parses (scripts and JSON); null when not checked. */
  readonly parses: boolean | null
  /** Safe to apply without review: this kind of resolution was ≥ 95 % exact on the tuning part of the corpus. */
  readonly autoApply: boolean
  /** Every hunk resolved (false: some are left as diff3 conflict markers). */
  readonly complete: boolean
  readonly hunks: ReadonlyArray<HunkChoice>
}

export interface Analysis {
  readonly classification: Classification
  readonly candidates: ReadonlyArray<Candidate>
  /** The conflicting hunks, with what a person needs to resolve each (empty for binary and delete/modify). */
  readonly hunks: ReadonlyArray<HunkDetail>
}

/** Files larger than this (any version) are not analysed line by line. */
export const MAX_ANALYSED_BYTES = 2 * 1024 * 1024

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

type Region = Extract<Chunk<string>, { kind: "conflict" }>

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

const rank: Record<ConflictType, number> = { TRIVIAL: 0, ADDITIVE: 1, CONCURRENT_EDIT: 1, STRUCTURAL: 2, SEMANTIC: 3 }

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
  const oByKey = new Map(po.entities.map((e) => [e.key, e]))
  const tByKey = new Map(pt.entities.map((e) => [e.key, e]))
  for (const b of pb.entities) {
    const o = oByKey.get(b.key)
    const t = tByKey.get(b.key)
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
const strict = new TextDecoder("utf-8", { fatal: true })
const validUtf8 = (b: Uint8Array | null) => {
  if (b === null) return true
  try {
    strict.decode(b)
    return true
  } catch {
    return false
  }
}

const classification = (
  language: Language,
  type: ConflictType,
  severity: Severity,
  summary: string,
  reasons: ReadonlyArray<string>,
  analyzer: Classification["analyzer"] = "git"
): Classification => ({ type, severity, language, analyzer, summary, reasons, regions: 0, symbols: [] })

/** One side's whole file, said to throw the other side's version away. */
const wholeSide = (v: FileVersions, side: "ours" | "theirs", confidence: number, why: string): Candidate => {
  const [keep, drop] = side === "ours" ? [v.oursLabel, v.theirsLabel] : [v.theirsLabel, v.oursLabel]
  return {
    strategy: side === "ours" ? "take-ours" : "take-theirs",
    confidence,
    description: `keep ${keep}'s version of the whole file, DROPPING ${drop}'s changes to it (${why})`,
    content: side === "ours" ? v.ours : v.theirs,
    parses: null,
    autoApply: false,
    complete: true,
    hunks: []
  }
}

/** Files that are not merged line by line: deleted on one side, binary, not UTF-8, or too large. */
const analyzeSpecial = (ts: Ts | null, v: FileVersions, language: Language, binary: boolean): Analysis | null => {
  const [oL, tL] = [v.oursLabel, v.theirsLabel]
  if (v.ours === null || v.theirs === null) {
    const deletedBy = v.ours === null ? oL : tL
    const keptBy = v.ours === null ? tL : oL
    const kept = v.ours ?? v.theirs
    const kind = v.gitKind === "rename/delete" ? "renamed" : "modified"
    const keptText = kept === null || isBinary(kept) ? null : textOf(kept)
    return {
      classification: classification(language, "STRUCTURAL", "HIGH", `${v.path} was deleted on ${deletedBy} and ${kind} on ${keptBy}`, [
        `${deletedBy} deleted the file (or moved its code elsewhere); ${keptBy} still changes it`
      ]),
      candidates: [
        {
          strategy: "keep-file",
          confidence: 0.4,
          description: `keep ${keptBy}'s ${kind} file, UNDOING ${deletedBy}'s deletion`,
          content: kept,
          parses: keptText === null ? null : parsesAs(ts, v.path, keptText),
          autoApply: false,
          complete: true,
          hunks: []
        },
        {
          strategy: "delete-file",
          confidence: 0.35,
          description: `delete the file as ${deletedBy} did, DROPPING ${keptBy}'s changes to it (carry them over by hand if its code moved)`,
          content: null,
          parses: null,
          autoApply: false,
          complete: true,
          hunks: []
        }
      ],
      hunks: []
    }
  }
  const size = Math.max(v.base?.length ?? 0, v.ours.length, v.theirs.length)
  const why = binary
    ? "a binary file cannot be merged line by line; one version has to win (or the file must be regenerated)"
    : !validUtf8(v.base) || !validUtf8(v.ours) || !validUtf8(v.theirs)
    ? "a version is not valid UTF-8 text, so it is not merged line by line; pick a version or convert the file and merge by hand"
    : size > MAX_ANALYSED_BYTES
    ? `the file is too large to analyse (${size} bytes, over ${MAX_ANALYSED_BYTES}); merge it by hand`
    : null
  if (why === null) return null
  return {
    classification: classification(binary ? "binary" : language, "CONCURRENT_EDIT", "HIGH", `${v.path} changed on both ${oL} and ${tL} and cannot be merged line by line`, [why]),
    candidates: [wholeSide(v, "ours", 0.3, why), wholeSide(v, "theirs", 0.3, why)],
    hunks: []
  }
}

/** Classify a text conflict from its hunks and (for scripts) the parser's facts. */
const classifyText = (ts: Ts | null, v: FileVersions, texts: { base: string; ours: string; theirs: string }, hunks: ReadonlyArray<HunkDetail>) => {
  const { base, ours, theirs } = texts
  const language = languageOf(v.path, false)
  const [oL, tL] = [v.oursLabel, v.theirsLabel]
  const bl = splitLines(base)
  const ol = splitLines(ours)
  const tl = splitLines(theirs)
  const regions = diff3(bl, ol, tl).filter((c): c is Region => c.kind === "conflict")
  // Ignoring whitespace, does the merge still conflict? If not, every hunk is formatting.
  const wsEq = (x: string, y: string) => x === y || x.replace(/\s+/g, "") === y.replace(/\s+/g, "")
  const formattingOnly = regions.length > 0 && !diff3(bl, ol, tl, wsEq).some((c) => c.kind === "conflict")
  const kinds = hunks.map((h) => (formattingOnly ? "formatting" : h.kind))
  const count = (k: HunkDetail["kind"]) => kinds.filter((x) => x === k).length
  const reasons: Array<string> = []
  if (hunks.length === 0) {
    reasons.push(v.gitKind === "clean" || v.cleanMerge === true ? "git merges this file cleanly" : "the lines merge cleanly here; git's conflict comes from its different diff alignment")
  }
  if (count("formatting") > 0) reasons.push(`${count("formatting")} hunk(s) where one side only reformatted (or both made the same change up to whitespace)`)
  if (count("insertions") > 0) reasons.push(`${count("insertions")} hunk(s) of independent insertions at the same place`)
  if (count("deletion") > 0) reasons.push(`${count("deletion")} hunk(s) where one side deleted lines the other side changed`)
  if (count("edit") > 0) reasons.push(`${count("edit")} hunk(s) where both sides changed the same lines`)
  let type: ConflictType = hunks.length === 0 || kinds.every((k) => k === "formatting")
    ? "TRIVIAL"
    : kinds.every((k) => k === "insertions" || k === "formatting")
    ? "ADDITIVE"
    : "CONCURRENT_EDIT"
  let analyzer: Classification["analyzer"] = "text"
  let symbols: Array<SymbolChange> = []
  let renames: Array<readonly [string, string]> = []
  const script = ts !== null && isScriptFile(v.path)
  if (script) {
    const facts = tsFacts(ts, v.path, base, ours, theirs, regions, [oL, tL])
    if (facts !== null) {
      analyzer = "typescript"
      symbols = facts.symbols
      renames = facts.renames
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
  let jsonMerges = false
  if (language === "json") {
    const jr = mergeJson(base, ours, theirs)
    jsonMerges = jr.ok
    analyzer = "json"
    if (jr.ok && type !== "TRIVIAL") reasons.push("as data, the two sides changed different keys")
    if (!jr.ok) reasons.push(`as data, both sides changed ${jr.conflicts.join(", ")}`)
  }
  const severity: Severity = type === "TRIVIAL" || type === "ADDITIVE"
    ? "LOW"
    : type === "SEMANTIC"
    ? "HIGH"
    : type === "STRUCTURAL" || (count("edit") + count("deletion") > 0 && !jsonMerges)
    ? "MEDIUM"
    : "LOW"
  const summary = `${type} conflict in ${v.path}: ${hunks.length} conflicting hunk(s)` +
    (symbols.length > 0 ? `, around ${symbols.slice(0, 3).map((x) => x.symbol).join(", ")}${symbols.length > 3 ? "…" : ""}` : "")
  const c: Classification = { type, severity, language, analyzer, summary, reasons, regions: hunks.length, symbols }
  return { classification: c, renames }
}

/** Classify a conflicted file and propose resolutions, best first (each distinct text parsed once). */
export const analyze = (ts: Ts | null, v: FileVersions): Analysis => withParseCache(() => analyzeFile(ts, v))

const analyzeFile = (ts: Ts | null, v: FileVersions): Analysis => {
  const binary = isBinary(v.base) || isBinary(v.ours) || isBinary(v.theirs) || v.gitKind === "binary"
  const language = languageOf(v.path, binary)
  if (v.gitKind === "clean" && (v.ours === null || v.base === null)) {
    // A file one side added (or that only one side has) and git merges cleanly: compare with empty text.
    const empty = new Uint8Array(0)
    return analyze(ts, { ...v, gitKind: "content", base: v.base ?? empty, ours: v.ours ?? empty, theirs: v.theirs ?? empty, cleanMerge: true })
  }
  const special = analyzeSpecial(ts, v, language, binary)
  if (special !== null) return special
  const texts = { base: textOf(v.base), ours: textOf(v.ours), theirs: textOf(v.theirs) }
  const resolution = resolveText(ts, { path: v.path, ...texts, oursLabel: v.oursLabel, theirsLabel: v.theirsLabel, sides: v.sides })
  const { classification: c, renames } = classifyText(ts, v, texts, resolution.hunks)
  const script = ts !== null && isScriptFile(v.path)
  const acrossFiles = (v.brokenUses ?? []).length > 0
  const rename = (text: string) => (script && renames.length > 0 ? rewriteRenamed(ts!, v.path, text, renames, acrossFiles).text : text)
  const candidates = resolution.suggestions.map((sg: FileSuggestion): Candidate => {
    const text = rename(sg.text)
    const renamed = text !== sg.text
    const renamedNote = `, with the uses of renamed names updated (${renames.map(([f, t]) => `${f} → ${t}`).join(", ")})`
    return {
      strategy: renamed && resolution.hunks.length === 0 ? "reapply" : sg.strategy,
      confidence: sg.confidence,
      description: resolution.hunks.length === 0 && renamed
        ? `the clean merge${renamedNote}`
        : sg.description + (renamed ? renamedNote : ""),
      content: enc.encode(text),
      parses: sg.complete ? parsesAs(ts, v.path, text) : false,
      autoApply: sg.autoApply && !renamed,
      complete: sg.complete,
      hunks: sg.hunks
    }
  })
  return { classification: c, candidates, hunks: resolution.hunks }
}
