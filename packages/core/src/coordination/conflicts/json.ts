/**
 * JSON merged as data: objects key by key, arrays of scalars as ordered sets, written back in the
 * formatting (indentation, key order, final newline) of the "ours" version.
 */
import { mergeNameLists } from "./typescript.js"

type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [k: string]: Json }

export interface JsonMerge {
  readonly ok: boolean
  readonly text: string
  /** JSON paths both sides changed differently. */
  readonly conflicts: ReadonlyArray<string>
}

const isObj = (x: unknown): x is Record<string, Json> => typeof x === "object" && x !== null && !Array.isArray(x)
const eq = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b)
const ABSENT = Symbol("absent")
type Slot = Json | typeof ABSENT

const mergeValue = (b: Slot, o: Slot, t: Slot, at: string, conflicts: Array<string>): Slot => {
  if (eq(o, t)) return o
  if (eq(o, b)) return t
  if (eq(t, b)) return o
  if (isObj(o) && isObj(t) && (b === ABSENT || isObj(b))) {
    const bo = (b === ABSENT ? {} : b) as Record<string, Json>
    const order = mergeNameLists(Object.keys(bo), Object.keys(o), Object.keys(t))
    const all = [...new Set([...order, ...Object.keys(bo), ...Object.keys(o), ...Object.keys(t)])]
    const out: Record<string, Json> = {}
    for (const k of all) {
      const v = mergeValue(k in bo ? bo[k]! : ABSENT, k in o ? o[k]! : ABSENT, k in t ? t[k]! : ABSENT, `${at}/${k}`, conflicts)
      if (v !== ABSENT) out[k] = v
    }
    return out
  }
  const scalar = (x: unknown) => x === null || ["string", "number", "boolean"].includes(typeof x)
  if (Array.isArray(o) && Array.isArray(t) && (b === ABSENT || Array.isArray(b))) {
    const ba = (b === ABSENT ? [] : b) as ReadonlyArray<Json>
    if ([...ba, ...o, ...t].every(scalar)) {
      const enc = (xs: ReadonlyArray<Json>) => xs.map((x) => JSON.stringify(x))
      return mergeNameLists(enc(ba), enc(o), enc(t)).map((s) => JSON.parse(s) as Json)
    }
  }
  conflicts.push(at === "" ? "/" : at)
  return o
}

const detectIndent = (text: string): string | number => {
  const m = text.match(/^[ \t]+(?=")/m)
  if (m === null) return 2
  return m[0].includes("\t") ? "\t" : m[0].length
}

/** Merge three JSON texts; `ok` is false when a text does not parse or both sides changed one value. */
export const mergeJson = (base: string, ours: string, theirs: string): JsonMerge => {
  let b: Json
  let o: Json
  let t: Json
  try {
    b = base.trim() === "" ? {} : JSON.parse(base)
    o = JSON.parse(ours)
    t = JSON.parse(theirs)
  } catch {
    return { ok: false, text: "", conflicts: ["(a version is not valid JSON)"] }
  }
  const conflicts: Array<string> = []
  const merged = mergeValue(b, o, t, "", conflicts)
  const compact = !ours.trimEnd().includes("\n")
  const body = JSON.stringify(merged, null, compact ? undefined : detectIndent(ours))
  const eol = ours.includes("\r\n") ? "\r\n" : "\n"
  const text = (eol === "\r\n" ? body.replace(/\n/g, "\r\n") : body) + (ours.endsWith("\n") ? eol : "")
  return { ok: conflicts.length === 0, text, conflicts }
}
