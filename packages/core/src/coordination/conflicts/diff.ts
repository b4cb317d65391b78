/**
 * Sequence diff (Myers), three-way merge (diff3) over any sequence, unified diffs, and a
 * whitespace-aware token merge used to resolve conflicting hunks at a finer grain than lines.
 */

/** One difference: `a[aStart, aEnd)` was replaced by `b[bStart, bEnd)`. */
export interface Hunk {
  readonly aStart: number
  readonly aEnd: number
  readonly bStart: number
  readonly bEnd: number
}

/** Myers' O((N+M)·D) diff; common prefix and suffix are trimmed first. */
export const diff = <T>(a: ReadonlyArray<T>, b: ReadonlyArray<T>, eq: (x: T, y: T) => boolean = Object.is): Array<Hunk> => {
  let pre = 0
  while (pre < a.length && pre < b.length && eq(a[pre]!, b[pre]!)) pre++
  let suf = 0
  while (suf < a.length - pre && suf < b.length - pre && eq(a[a.length - 1 - suf]!, b[b.length - 1 - suf]!)) suf++
  const n = a.length - pre - suf
  const m = b.length - pre - suf
  if (n === 0 && m === 0) return []
  if (n === 0 || m === 0) return [{ aStart: pre, aEnd: pre + n, bStart: pre, bEnd: pre + m }]
  const max = n + m
  const offset = max + 1
  const v = new Int32Array(2 * max + 3)
  const trace: Array<Int32Array> = []
  let found = false
  for (let d = 0; d <= max && !found; d++) {
    trace.push(v.slice(offset - d - 1, offset + d + 2))
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && v[offset + k - 1]! < v[offset + k + 1]!) ? v[offset + k + 1]! : v[offset + k - 1]! + 1
      let y = x - k
      while (x < n && y < m && eq(a[pre + x]!, b[pre + y]!)) {
        x++
        y++
      }
      v[offset + k] = x
      if (x >= n && y >= m) {
        found = true
        break
      }
    }
  }
  // Walk back through the saved frontiers to recover the matched diagonals.
  const matches: Array<[number, number]> = []
  let x = n
  let y = m
  for (let d = trace.length - 1; d > 0; d--) {
    const frame = trace[d]!
    const get = (k: number) => frame[k + d + 1]!
    const k = x - y
    const prevK = k === -d || (k !== d && get(k - 1) < get(k + 1)) ? k + 1 : k - 1
    const prevX = get(prevK)
    const prevY = prevX - prevK
    while (x > prevX && y > prevY) {
      x--
      y--
      matches.push([x, y])
    }
    x = prevX
    y = prevY
  }
  while (x > 0 && y > 0) {
    x--
    y--
    matches.push([x, y])
  }
  matches.reverse()
  const hunks: Array<Hunk> = []
  let ai = 0
  let bi = 0
  for (const [mx, my] of [...matches, [n, m] as [number, number]]) {
    if (mx > ai || my > bi) hunks.push({ aStart: pre + ai, aEnd: pre + mx, bStart: pre + bi, bEnd: pre + my })
    ai = mx + 1
    bi = my + 1
  }
  return hunks
}

/** A piece of a three-way merge: agreed content, or a conflict with each side's version. */
export type Chunk<T> =
  | {
    readonly kind: "ok"
    readonly items: ReadonlyArray<T>
    readonly from: "base" | "ours" | "theirs" | "both"
    /** How many base items this chunk stands for. */
    readonly baseCount: number
  }
  | {
    readonly kind: "conflict"
    readonly base: ReadonlyArray<T>
    readonly ours: ReadonlyArray<T>
    readonly theirs: ReadonlyArray<T>
    /** Position of the region in base / ours / theirs. */
    readonly baseStart: number
    readonly oursStart: number
    readonly theirsStart: number
  }

interface SideHunk extends Hunk {
  readonly side: 0 | 1
}

/**
 * Three-way merge of sequences. Changes of the two sides that overlap or touch in the base form one
 * region (as git and GNU diff3 do); a region changed identically by both sides is not a conflict.
 */
export const diff3 = <T>(
  base: ReadonlyArray<T>,
  ours: ReadonlyArray<T>,
  theirs: ReadonlyArray<T>,
  eq: (x: T, y: T) => boolean = Object.is
): Array<Chunk<T>> => {
  const hunks: Array<SideHunk> = [
    ...diff(base, ours, eq).map((h) => ({ ...h, side: 0 as const })),
    ...diff(base, theirs, eq).map((h) => ({ ...h, side: 1 as const }))
  ].sort((p, q) => p.aStart - q.aStart || p.aEnd - q.aEnd || p.side - q.side)
  const out: Array<Chunk<T>> = []
  const delta = [0, 0] // side index minus base index after the hunks consumed so far
  let at = 0
  const pushOk = (items: ReadonlyArray<T>, from: "base" | "ours" | "theirs" | "both", baseCount: number) => {
    if (items.length === 0 && baseCount === 0) return
    const last = out[out.length - 1]
    if (last?.kind === "ok" && last.from === from) {
      out[out.length - 1] = { kind: "ok", items: [...last.items, ...items], from, baseCount: last.baseCount + baseCount }
    } else out.push({ kind: "ok", items, from, baseCount })
  }
  let i = 0
  while (i < hunks.length) {
    const group: Array<SideHunk> = [hunks[i]!]
    const oStart = hunks[i]!.aStart
    let oEnd = hunks[i]!.aEnd
    i++
    // Hunks of one side are always separated by a common item, so only the other side chains regions.
    while (i < hunks.length && hunks[i]!.aStart <= oEnd) {
      group.push(hunks[i]!)
      oEnd = Math.max(oEnd, hunks[i]!.aEnd)
      i++
    }
    pushOk(base.slice(at, oStart), "base", oStart - at)
    const range = (side: 0 | 1): [number, number] => {
      const own = group.filter((g) => g.side === side)
      if (own.length === 0) return [oStart + delta[side]!, oEnd + delta[side]!]
      const f = own[0]!
      const l = own[own.length - 1]!
      return [f.bStart - (f.aStart - oStart), l.bEnd + (oEnd - l.aEnd)]
    }
    const sides = [ours, theirs] as const
    const [os, oe] = range(0)
    const [ts, te] = range(1)
    const oursItems = sides[0].slice(os, oe)
    const theirsItems = sides[1].slice(ts, te)
    const touched = new Set(group.map((g) => g.side))
    const count = oEnd - oStart
    if (touched.size === 1) pushOk(touched.has(0) ? oursItems : theirsItems, touched.has(0) ? "ours" : "theirs", count)
    else if (oursItems.length === theirsItems.length && oursItems.every((x, j) => eq(x, theirsItems[j]!))) {
      pushOk(oursItems, "both", count)
    } else {
      out.push({
        kind: "conflict",
        base: base.slice(oStart, oEnd),
        ours: oursItems,
        theirs: theirsItems,
        baseStart: oStart,
        oursStart: os,
        theirsStart: ts
      })
    }
    delta[0] = oe - oEnd
    delta[1] = te - oEnd
    at = oEnd
  }
  pushOk(base.slice(at), "base", base.length - at)
  return out
}

export const hasConflicts = <T>(chunks: ReadonlyArray<Chunk<T>>): boolean => chunks.some((c) => c.kind === "conflict")

/** Split text into lines, each keeping its line terminator (the last may lack one). */
export const splitLines = (text: string): Array<string> => {
  const out: Array<string> = []
  let start = 0
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      out.push(text.slice(start, i + 1))
      start = i + 1
    }
  }
  if (start < text.length) out.push(text.slice(start))
  return out
}

/** A unified diff of two texts (`a` → `b`), with `context` lines around each change. */
export const unifiedDiff = (a: string, b: string, opts: { readonly path: string; readonly context?: number }): string => {
  if (a === b) return ""
  const la = splitLines(a)
  const lb = splitLines(b)
  const hunks = diff(la, lb)
  const ctx = opts.context ?? 3
  const groups: Array<Array<Hunk>> = []
  for (const h of hunks) {
    const g = groups[groups.length - 1]
    if (g !== undefined && h.aStart - g[g.length - 1]!.aEnd <= 2 * ctx) g.push(h)
    else groups.push([h])
  }
  const line = (prefix: string, s: string) => prefix + (s.endsWith("\n") ? s : s + "\n\\ No newline at end of file\n")
  let out = `--- a/${opts.path}\n+++ b/${opts.path}\n`
  for (const g of groups) {
    const aS = Math.max(0, g[0]!.aStart - ctx)
    const aE = Math.min(la.length, g[g.length - 1]!.aEnd + ctx)
    const bS = g[0]!.bStart - (g[0]!.aStart - aS)
    const bE = g[g.length - 1]!.bEnd + (aE - g[g.length - 1]!.aEnd)
    const fmt = (s: number, n: number) => (n === 1 ? `${s + 1}` : `${n === 0 ? s : s + 1},${n}`)
    out += `@@ -${fmt(aS, aE - aS)} +${fmt(bS, bE - bS)} @@\n`
    let ai = aS
    for (const h of g) {
      for (; ai < h.aStart; ai++) out += line(" ", la[ai]!)
      for (let k = h.aStart; k < h.aEnd; k++) out += line("-", la[k]!)
      for (let k = h.bStart; k < h.bEnd; k++) out += line("+", lb[k]!)
      ai = h.aEnd
    }
    for (; ai < aE; ai++) out += line(" ", la[ai]!)
  }
  return out
}

/** A token with the whitespace before it; tokens compare by `text` only. */
export interface Token {
  readonly ws: string
  readonly text: string
}

const tokenRe = /(\s*)([A-Za-z0-9_$]+|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|[^\sA-Za-z0-9_$]|$)/gy

/** Words, string literals and single punctuation characters, each with its leading whitespace. */
export const tokenize = (text: string): Array<Token> => {
  const out: Array<Token> = []
  tokenRe.lastIndex = 0
  while (tokenRe.lastIndex < text.length) {
    const m = tokenRe.exec(text)
    if (m === null) break
    out.push({ ws: m[1]!, text: m[2]! })
    if (m[2] === "") break
  }
  if (out.length === 0 || out[out.length - 1]!.text !== "") out.push({ ws: "", text: "" })
  return out
}

const tokEq = (x: Token, y: Token) => x.text === y.text

export interface TokenMerge {
  readonly text: string
  /** Token regions both sides changed differently (0 when the merge is clean). */
  readonly conflicts: number
  /** How many separate changes each side made, at token level. */
  readonly changes: number
}

/**
 * Merge three texts token by token, comparing tokens without their whitespace: one side's reformatting
 * and the other side's edits combine (whitespace of unchanged tokens is merged three-way too).
 */
export const mergeTokens = (base: string, ours: string, theirs: string): TokenMerge => {
  const b = tokenize(base)
  const o = tokenize(ours)
  const t = tokenize(theirs)
  // Align unchanged tokens of each side with the base, to merge their whitespace.
  const align = (side: ReadonlyArray<Token>) => {
    const map = new Map<number, number>()
    let bi = 0
    let si = 0
    for (const h of diff(b, side, tokEq)) {
      for (; bi < h.aStart; bi++, si++) map.set(bi, si)
      bi = h.aEnd
      si = h.bEnd
    }
    for (; bi < b.length; bi++, si++) map.set(bi, si)
    return map
  }
  const oMap = align(o)
  const tMap = align(t)
  const chunks = diff3(b, o, t, tokEq)
  let text = ""
  let conflicts = 0
  let changes = 0
  let bi = 0
  for (const c of chunks) {
    if (c.kind === "conflict") {
      conflicts++
      text += c.ours.map((x) => x.ws + x.text).join("")
      bi += c.base.length
    } else if (c.from === "base") {
      for (let k = 0; k < c.items.length; k++, bi++) {
        const bt = b[bi]!
        const ow = o[oMap.get(bi) ?? -1]?.ws ?? bt.ws
        const tw = t[tMap.get(bi) ?? -1]?.ws ?? bt.ws
        text += (ow !== bt.ws ? ow : tw) + bt.text
      }
    } else {
      changes++
      text += c.items.map((x) => x.ws + x.text).join("")
      bi += c.baseCount
    }
  }
  return { text, conflicts, changes }
}
