/**
 * The resolution engine for a text file that conflicts: each conflicting region (hunk) is resolved on
 * its own — its candidates scored by the fitted model — and the file is composed from the hunks' choices.
 * Up to three complete files, best first, plus (when some hunk's best choice drops one side's change
 * with little confidence) a partial file with those hunks left as diff3 conflict markers.
 */
import { splitLines } from "./diff.js"
import { type HunkCandidate, hunkCandidates, type HunkStrategy, normalizeText, projectOntoRegions, type Region, regionsOf, type Situation, situationOf } from "./hunks.js"
import { mergeJson } from "./json.js"
import { autoApplies, calibrateWith, confidenceOf, kindOf, type MoreWork } from "./model.js"
import { fitted } from "./calibration.js"
import { type Entity, isScriptFile, parseFile, sideChanges, symbolMerge, syntaxErrorCount, type Ts } from "./typescript.js"

/** What is known about one side's branch: its commits that changed the file (newest first) and earlier versions of it. */
export interface SideContext {
  readonly commits: ReadonlyArray<{ readonly subject: string; readonly time: number }>
  readonly versions: ReadonlyArray<string>
}

export interface ResolveInput {
  readonly path: string
  /** The merge base's text ("" when the file was added on both sides). */
  readonly base: string
  readonly ours: string
  readonly theirs: string
  readonly oursLabel: string
  readonly theirsLabel: string
  readonly sides?: { readonly ours: SideContext; readonly theirs: SideContext } | undefined
}

/** One way to resolve a hunk, with its calibrated confidence. */
export interface HunkOption {
  readonly strategy: HunkStrategy
  /** Every strategy that gives this same text. */
  readonly strategies: ReadonlyArray<HunkStrategy>
  readonly confidence: number
  readonly autoApply: boolean
  /** The side whose change to this hunk the option throws away (null: keeps both, or one holds the other's). */
  readonly drops: "ours" | "theirs" | null
  readonly text: string
}

/** 1-based first line and line count. */
export interface LineSpan {
  readonly start: number
  readonly lines: number
}

/** A conflicting hunk with everything needed to resolve it by hand. */
export interface HunkDetail {
  readonly index: number
  /** 1-based first line and line count of the hunk in each version. */
  readonly at: { readonly base: LineSpan; readonly ours: LineSpan; readonly theirs: LineSpan }
  readonly kind: "formatting" | "insertions" | "deletion" | "edit"
  readonly situation: Situation
  readonly base: string
  readonly ours: string
  readonly theirs: string
  /** Declarations the hunk touches (in ours or theirs). */
  readonly symbols: ReadonlyArray<string>
  readonly options: ReadonlyArray<HunkOption>
}

/** The file-level name of a composition, compatible with the strategies of earlier releases. */
export type FileStrategy = "take-ours" | "take-theirs" | "keep-both" | "reapply" | "symbol-merge" | "json-merge" | "hunk-merge"

export interface FileSuggestion {
  readonly strategy: FileStrategy
  readonly confidence: number
  readonly autoApply: boolean
  readonly complete: boolean
  readonly text: string
  readonly description: string
  /** The choice made for each hunk (strategy "unresolved" where conflict markers were left). */
  readonly hunks: ReadonlyArray<{
    readonly index: number
    readonly strategy: HunkStrategy | "unresolved"
    readonly confidence: number
    readonly autoApply: boolean
    readonly drops: "ours" | "theirs" | null
  }>
}

export interface Resolution {
  readonly hunks: ReadonlyArray<HunkDetail>
  /** Best first; complete suggestions, then the partial one (if any). */
  readonly suggestions: ReadonlyArray<FileSuggestion>
}

const joined = (ls: ReadonlyArray<string>) => ls.join("")
const squashWs = (s: string) => s.replace(/\s+/g, " ")

const moreWorkOf = (sides: ResolveInput["sides"]): MoreWork => {
  if (sides === undefined) return "same"
  const o = sides.ours.commits.length
  const t = sides.theirs.commits.length
  return o > t ? "ours" : t > o ? "theirs" : "same"
}

const languageOf = (path: string): Situation["language"] => (/\.json$/i.test(path) ? "json" : isScriptFile(path) ? "script" : "text")

const hunkKind = (r: Region, s: Situation): HunkDetail["kind"] =>
  s.relation === "ws-equal" || s.relation === "ours-ws-only" || s.relation === "theirs-ws-only"
    ? "formatting"
    : s.shape === "insert"
    ? "insertions"
    : s.shape === "delete"
    ? "deletion"
    : r.base.length === 0 ? "insertions" : "edit"

/** The side an option throws away, if any: it is one side's lines, and the other side's change is not already in them. */
const dropsOf = (text: string, r: Region, s: Situation): HunkOption["drops"] => {
  if (text === joined(r.ours) && text !== joined(r.theirs)) {
    return s.relation === "ours-contains" || s.relation === "theirs-ws-only" || s.relation === "ws-equal" ? null : "theirs"
  }
  if (text === joined(r.theirs) && text !== joined(r.ours)) {
    return s.relation === "theirs-contains" || s.relation === "ours-ws-only" || s.relation === "ws-equal" ? null : "ours"
  }
  return null
}

const lineSpan = (start: number, lines: ReadonlyArray<string>): LineSpan => ({ start: start + 1, lines: lines.length })

/** Names of the declarations (and members) overlapping lines [from, to) of `text`. */
const symbolsAt = (ts: Ts, path: string, text: string, from: number, to: number): Array<string> => {
  const lines = splitLines(text)
  let a = 0
  for (let i = 0; i < from && i < lines.length; i++) a += lines[i]!.length
  let b = a
  for (let i = from; i < to && i < lines.length; i++) b += lines[i]!.length
  if (b === a) b = a + 1
  const out: Array<string> = []
  const visit = (es: ReadonlyArray<Entity>, prefix: string) => {
    for (const e of es) {
      if (e.end <= a || e.start >= b || e.name === null || e.kind.startsWith("import")) continue
      out.push(prefix + e.name)
      if (e.container !== null) visit(e.container.members, `${prefix}${e.name}.`)
    }
  }
  visit(parseFile(ts, path, text).entities, "")
  return [...new Set(out)]
}

const fileStrategyOf = (choices: ReadonlyArray<HunkStrategy>): FileStrategy => {
  const all = (xs: ReadonlyArray<HunkStrategy>) => choices.length > 0 && choices.every((c) => xs.includes(c))
  if (all(["ours"])) return "take-ours"
  if (all(["theirs"])) return "take-theirs"
  if (all(["both-ours-first", "both-theirs-first", "list-union"])) return "keep-both"
  if (all(["tokens", "adjacent"])) return "reapply"
  if (all(["symbol"])) return "symbol-merge"
  if (all(["json"])) return "json-merge"
  return "hunk-merge"
}

const describeHunkChoice = (h: HunkDetail, o: HunkOption, labels: readonly [string, string]): string => {
  const n = `hunk ${h.index + 1}`
  const what: Record<HunkStrategy, string> = {
    ours: `${labels[0]}'s lines`,
    theirs: `${labels[1]}'s lines`,
    "both-ours-first": `both sides' lines, ${labels[0]}'s first`,
    "both-theirs-first": `both sides' lines, ${labels[1]}'s first`,
    "list-union": "both sides' list entries",
    adjacent: "both sides' adjacent edits",
    tokens: "both sides' edits re-applied word by word",
    version: "the higher version numbers",
    symbol: "the declaration-by-declaration merge",
    json: "the JSON merged as data"
  }
  const drop = o.drops === null ? "" : `, DROPPING ${o.drops === "ours" ? labels[0] : labels[1]}'s change`
  return `${n}: ${what[o.strategy]}${drop} (${o.confidence.toFixed(2)})`
}

/** A whole-file merge that changes lines outside the conflicting hunks. */
export interface WholeFile {
  readonly strategy: "symbol-merge" | "symbol-merge/moved" | "json-merge"
  readonly text: string
}

/** Whether one side moved a top-level declaration that the other side changed. */
const movedAndEdited = (ts: Ts, input: ResolveInput): boolean => {
  const b = parseFile(ts, input.path, input.base)
  const o = parseFile(ts, input.path, input.ours)
  const t = parseFile(ts, input.path, input.theirs)
  if (o.syntaxErrors > 0 || t.syntaxErrors > 0) return false
  const oc = sideChanges(b.entities, o.entities)
  const tc = sideChanges(b.entities, t.entities)
  return [...oc.moved].some((k) => tc.modified.has(k)) || [...tc.moved].some((k) => oc.modified.has(k))
}

/** A region with its situation and candidates, before scoring. */
export interface PreparedHunk {
  readonly region: Region
  readonly situation: Situation
  readonly candidates: ReadonlyArray<HunkCandidate>
}

/** The regions of a conflicting text file, each with its situation and candidate resolutions. */
export const prepare = (ts: Ts | null, input: ResolveInput) => {
  const language = languageOf(input.path)
  const script = ts !== null && language === "script"
  const { chunks, regions } = regionsOf(input.base, input.ours, input.theirs)
  const history = input.sides === undefined
    ? undefined
    : { ours: input.sides.ours.versions.map(squashWs), theirs: input.sides.theirs.versions.map(squashWs) }
  // Whole-file merges, read back region by region when they change nothing else; otherwise (code moved
  // elsewhere with the other side's edits, keys rewritten) they stand as whole-file suggestions.
  const wholeFile: Array<WholeFile> = []
  const byRegion = (strategy: WholeFile["strategy"], text: string): Array<Array<string> | null> => {
    const projected = projectOntoRegions(chunks, splitLines(text))
    let k = 0
    let composed = ""
    for (const c of chunks) composed += c.kind === "ok" ? joined(c.items) : joined(projected[k++] ?? ["\u0000"])
    if (composed !== text) wholeFile.push({ strategy, text })
    return projected
  }
  let symbolRegions: Array<Array<string> | null> | null = null
  if (script && regions.length > 0) {
    const sm = symbolMerge(ts, input.path, input.base, input.ours, input.theirs)
    // Code one side moved and the other edited: the declaration-level merge carries the edit over.
    if (sm.ok) symbolRegions = byRegion(movedAndEdited(ts, input) ? "symbol-merge/moved" : "symbol-merge", sm.text)
  }
  let jsonRegions: Array<Array<string> | null> | null = null
  if (language === "json" && regions.length > 0) {
    const jm = mergeJson(input.base, input.ours, input.theirs)
    if (jm.ok) jsonRegions = byRegion("json-merge", jm.text)
  }
  const hunks: Array<PreparedHunk> = regions.map((region, i) => ({
    region,
    situation: situationOf(region, language, history),
    candidates: hunkCandidates(region, [
      { strategy: "symbol", lines: symbolRegions?.[i] ?? null },
      { strategy: "json", lines: jsonRegions?.[i] ?? null }
    ])
  }))
  return { language, script, chunks, hunks, wholeFile, more: moreWorkOf(input.sides) }
}

/** Resolve a conflicting text file hunk by hunk. */
export const resolveText = (ts: Ts | null, input: ResolveInput): Resolution => {
  const labels = [input.oursLabel, input.theirsLabel] as const
  const p = prepare(ts, input)
  const hunks: Array<HunkDetail> = p.hunks.map(({ candidates, region: r, situation }, i) => {
    const options = candidates.map((c): HunkOption => ({
      strategy: c.strategies[0]!,
      strategies: c.strategies,
      confidence: confidenceOf(c, situation, p.more).confidence,
      autoApply: autoApplies(c, situation),
      drops: dropsOf(joined(c.lines), r, situation),
      text: joined(c.lines)
    })).sort((a, b) => b.confidence - a.confidence || (a.drops === null ? 0 : 1) - (b.drops === null ? 0 : 1))
    const symbols = p.script
      ? [...new Set([
        ...symbolsAt(ts!, input.path, input.ours, r.oursStart, r.oursStart + r.ours.length),
        ...symbolsAt(ts!, input.path, input.theirs, r.theirsStart, r.theirsStart + r.theirs.length)
      ])]
      : []
    return {
      index: i,
      at: { base: lineSpan(r.baseStart, r.base), ours: lineSpan(r.oursStart, r.ours), theirs: lineSpan(r.theirsStart, r.theirs) },
      kind: hunkKind(r, situation),
      situation,
      base: joined(r.base),
      ours: joined(r.ours),
      theirs: joined(r.theirs),
      symbols,
      options
    }
  })
  return { hunks, suggestions: compose(ts, input, p.chunks, hunks, p.wholeFile, labels) }
}

/** A suggestion whose parse check, and so its final confidence, is made only when its rank matters. */
interface Pending {
  readonly index: number
  /** Its confidence when its text parses: the most the check can leave it. */
  readonly upper: number
  /** Strategy and drops per hunk, known before the check. */
  readonly hunks: FileSuggestion["hunks"]
  readonly settle: () => FileSuggestion
  settled: FileSuggestion | null
}

const settled = (p: Pending): FileSuggestion => (p.settled ??= p.settle())

/**
 * The first `n` suggestions whose hunks satisfy `keep`, best confidence first and earlier first on ties —
 * the order a stable sort of all of them gives — checking only the parses that decide that order.
 */
const bestFirst = (all: ReadonlyArray<Pending>, keep: (hunks: Pending["hunks"]) => boolean, n: number): Array<FileSuggestion> => {
  const byUpper = all.filter((p) => keep(p.hunks)).sort((a, b) => b.upper - a.upper || a.index - b.index)
  const ready: Array<Pending> = []
  const out: Array<FileSuggestion> = []
  let next = 0
  while (out.length < n) {
    let best: Pending | undefined
    for (const p of ready) {
      if (best === undefined || settled(p).confidence > settled(best).confidence ||
        (settled(p).confidence === settled(best).confidence && p.index < best.index)) best = p
    }
    const head = byUpper[next]
    if (best !== undefined && (head === undefined || settled(best).confidence > head.upper ||
      (settled(best).confidence === head.upper && best.index < head.index))) {
      out.push(settled(best))
      ready.splice(ready.indexOf(best), 1)
    } else if (head !== undefined) {
      settled(head)
      ready.push(head)
      next++
    } else break
  }
  return out
}

/** A hunk is left for a person when its best option throws a side's change away with less than this confidence. */
export const UNRESOLVED_BELOW = 0.6

const compose = (
  ts: Ts | null,
  input: ResolveInput,
  chunks: ReturnType<typeof regionsOf>["chunks"],
  hunks: ReadonlyArray<HunkDetail>,
  wholeFile: ReadonlyArray<WholeFile>,
  labels: readonly [string, string]
): Array<FileSuggestion> => {
  const build = (pick: (h: HunkDetail) => HunkOption | null): string => {
    let out = ""
    let k = 0
    for (const c of chunks) {
      if (c.kind === "ok") out += joined(c.items)
      else {
        const h = hunks[k++]!
        const o = pick(h)
        out += o !== null ? o.text : markers(h, labels)
      }
    }
    return out
  }
  // Choices: the best option per hunk, each single hunk switched to its runner-up, and one side throughout.
  const choiceSets: Array<ReadonlyArray<HunkOption>> = [hunks.map((h) => h.options[0]!)]
  hunks.forEach((h, i) => {
    for (const alt of h.options.slice(1, 3)) choiceSets.push(hunks.map((x, j) => (j === i ? alt : x.options[0]!)))
  })
  // Both sides' changes kept wherever some option does that.
  const keepBoth = hunks.map((h) => h.options.find((o) => o.drops === null) ?? h.options[0]!)
  choiceSets.push(keepBoth)
  // Both sides' lines in each order, where the hunk has such an option.
  for (const order of ["both-ours-first", "both-theirs-first"] as const) {
    choiceSets.push(hunks.map((h, i) => h.options.find((o) => o.strategies.includes(order)) ?? keepBoth[i]!))
  }
  for (const side of ["ours", "theirs"] as const) {
    choiceSets.push(hunks.map((h) => h.options.find((o) => o.strategies.includes(side)) ?? h.options[0]!))
  }
  const sidesParse = ts !== null && isScriptFile(input.path)
    ? syntaxErrorCount(ts, input.path, input.ours) === 0 && syntaxErrorCount(ts, input.path, input.theirs) === 0
    : /\.json$/i.test(input.path) ? canParseJson(input.ours) && canParseJson(input.theirs) : false
  // Each distinct text waits for its parse check (which can only lower its confidence) until its rank matters.
  const seen = new Set<string>()
  const pending: Array<Pending> = []
  const add = (upper: number, hunksOf: Pending["hunks"], settle: () => FileSuggestion) =>
    pending.push({ index: pending.length, upper: round(upper), hunks: hunksOf, settle, settled: null })
  for (const choice of choiceSets) {
    const text = build((h) => choice[h.index]!)
    const key = normalizeText(text)
    if (seen.has(key)) continue
    seen.add(key)
    const product = choice.reduce((p, o) => p * o.confidence, 1)
    const calibrated = hunks.length === 0 ? fitted.noRegions : calibrateWith(fitted.fileReliability, product)
    const dropped = choice.filter((o) => o.drops !== null).length
    const chosen = hunks.map((h) => {
      const o = choice[h.index]!
      return { index: h.index, strategy: o.strategy, confidence: o.confidence, autoApply: o.autoApply, drops: o.drops }
    })
    add(calibrated, chosen, () => {
      const parses = parsesAs(ts, input.path, text)
      const confidence = parses === false && sidesParse ? calibrated * 0.3 : calibrated
      return {
        strategy: fileStrategyOf(choice.map((o) => o.strategy)),
        confidence: round(confidence),
        autoApply: hunks.length > 0 && parses !== false && (choice.every((o) => o.autoApply) || confidence >= fitted.autoApplyFileAbove),
        complete: true,
        text,
        description: hunks.length === 0
          ? "the lines merge cleanly here (git's conflict comes from a different alignment of the same changes)"
          : (dropped > 0 ? `drops one side's change in ${dropped} of ${hunks.length} hunk(s) — check those: ` : "keeps both sides' changes: ") +
            hunks.map((h) => describeHunkChoice(h, choice[h.index]!, labels)).join("; "),
        hunks: chosen
      }
    })
  }
  for (const w of wholeFile) {
    const key = normalizeText(w.text)
    if (seen.has(key)) continue
    seen.add(key)
    const hunkStrategy = w.strategy === "json-merge" ? "json" as const : "symbol" as const
    const hunksAt = (confidence: number) => hunks.map((h) => ({ index: h.index, strategy: hunkStrategy, confidence: round(confidence), autoApply: false, drops: null }))
    add(fitted.wholeFile[w.strategy], hunksAt(fitted.wholeFile[w.strategy]), () => {
      const confidence = fitted.wholeFile[w.strategy] * (parsesAs(ts, input.path, w.text) === false && sidesParse ? 0.3 : 1)
      return {
        strategy: w.strategy === "json-merge" ? "json-merge" : "symbol-merge",
        confidence: round(confidence),
        autoApply: false,
        complete: true,
        text: w.text,
        description: w.strategy !== "json-merge"
          ? "merge declaration by declaration: independent declarations from both sides, code one side moved carried over with the other side's edits"
          : "merge the JSON as data: each side's keys and values, written in ours' formatting",
        hunks: hunksAt(confidence)
      }
    })
  }
  const top = bestFirst(pending, () => true, 3)
  // The best resolution that keeps both sides' changes is always offered, even when less likely, and the
  // two best that combine both sides' lines in every hunk (rather than taking one side's lines, which
  // "keeps" the other side's change only when that change was formatting or is already held there).
  const keeper = bestFirst(pending, (x) => x.every((h) => h.drops === null), 1)[0]
  if (keeper !== undefined && !top.includes(keeper)) top.push(keeper)
  const combines = (x: Pending["hunks"]) => x.every((h) => h.strategy !== "ours" && h.strategy !== "theirs" && h.drops === null)
  for (const x of bestFirst(pending, combines, 2)) if (!top.includes(x)) top.push(x)
  const hard = hunks.filter((h) => h.options[0]!.drops !== null && h.options[0]!.confidence < UNRESOLVED_BELOW)
  if (hard.length > 0) {
    const pick = (h: HunkDetail) => (hard.includes(h) ? null : h.options[0]!)
    top.push({
      strategy: "hunk-merge",
      confidence: 0,
      autoApply: false,
      complete: false,
      text: build(pick),
      description: `${hunks.length - hard.length} of ${hunks.length} hunk(s) resolved; ${hard.length} left as conflict markers to resolve by hand ` +
        `(${hard.map((h) => `hunk ${h.index + 1}`).join(", ")}: both sides changed the same lines and no combination of the two is likely right)`,
      hunks: hunks.map((h) => {
        const o = pick(h)
        return o === null
          ? { index: h.index, strategy: "unresolved" as const, confidence: 0, autoApply: false, drops: null }
          : { index: h.index, strategy: o.strategy, confidence: o.confidence, autoApply: o.autoApply, drops: o.drops }
      })
    })
  }
  return top
}

/** diff3-style conflict markers for a hunk left to a person. */
const markers = (h: HunkDetail, labels: readonly [string, string]): string => {
  const nl = (s: string) => (s === "" || s.endsWith("\n") ? s : s + "\n")
  return `<<<<<<< ${labels[0]}\n${nl(h.ours)}||||||| base\n${nl(h.base)}=======\n${nl(h.theirs)}>>>>>>> ${labels[1]}\n`
}

const round = (x: number) => Math.round(x * 100) / 100

const canParseJson = (text: string) => {
  try {
    JSON.parse(text)
    return true
  } catch {
    return false
  }
}

/** Whether `text` parses as what its path says (scripts, JSON); null when not checked. */
export const parsesAs = (ts: Ts | null, path: string, text: string): boolean | null =>
  ts !== null && isScriptFile(path) ? syntaxErrorCount(ts, path, text) === 0 : /\.json$/i.test(path) ? canParseJson(text) : null

export { kindOf }
