// SYNTHETIC conflicts: a regression check of the engine, not a measure of real merges (for that, see
// scripts/conflict-quality.mjs on the real-merge corpus). Every case here is one real edit split in two,
// so the right answer is nearly always "apply both"; a naive apply-both merge scores about as well.
//
//   node scripts/conflict-synthetic.mjs [--out FILE.json] [--sample N FILE] DIR_V1 DIR_V2 …
//
// DIRs are published source trees of successive versions of a project (e.g. `npm pack effect@3.17.0` and
// extract `package/src`). For each pair of versions (v[i], v[i+1]) and each changed TypeScript file, every
// change hunk the maintainers made that can be split in two is replayed as two parallel branches from the
// old file: "ours" takes the first part of the hunk, "theirs" the rest (and, as a second case, the other
// way round); every other hunk goes to ours. The two halves touch, so git reports a conflict, and the
// right resolution is known: the new file as the maintainers published it. Splits:
//   - an insertion of several blocks (declarations separated by blank lines): first blocks / last blocks;
//   - a replacement of n lines by n lines: the first changed lines / the others (edits on adjacent lines);
//   - a replacement followed by an insertion: the replacement / the insertion.
// Reported: how often git conflicts, the class we give, whether the top suggestion is exactly the
// maintainers' file, whether any suggestion is, and whether the top one parses.
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const { bundle } = await import(path.join(root, "scripts/conflict-corpus/lib.mjs"))
const { analyze } = await bundle("packages/core/src/coordination/conflicts/analysis.ts")
const { diff, splitLines } = await bundle("packages/core/src/coordination/conflicts/diff.ts")
const ts = (await import("typescript")).default

const args = process.argv.slice(2)
let out
let sample
const dirs = []
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--out") out = args[++i]
  else if (args[i] === "--sample") sample = { n: Number(args[++i]), file: args[++i] }
  else dirs.push(args[i])
}
if (dirs.length < 2) {
  console.error("usage: node scripts/conflict-synthetic.mjs [--out FILE] [--sample N FILE] DIR_V1 DIR_V2 …")
  process.exit(2)
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "pcc-quality-"))
const gitConflicts = (base, ours, theirs) => {
  fs.writeFileSync(path.join(tmp, "o"), ours)
  fs.writeFileSync(path.join(tmp, "b"), base)
  fs.writeFileSync(path.join(tmp, "t"), theirs)
  return spawnSync("git", ["merge-file", "-p", "o", "b", "t"], { cwd: tmp, encoding: "utf8", maxBuffer: 1 << 26 }).status !== 0
}

const walk = (dir, rel = "", acc = []) => {
  for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name
    if (e.isDirectory()) walk(dir, r, acc)
    else if (/\.(ts|tsx|mts|js|mjs)$/.test(e.name)) acc.push(r)
  }
  return acc
}

/** Ways to cut one hunk in two: [firstPart, secondPart] as replacement line arrays over the same base range. */
const splits = (A, C, h) => {
  const oldLines = A.slice(h.aStart, h.aEnd)
  const newLines = C.slice(h.bStart, h.bEnd)
  const outSplits = []
  if (oldLines.length === 0) {
    // Insertion: cut at blank lines between blocks.
    const cuts = []
    for (let i = 1; i < newLines.length; i++) if (newLines[i - 1].trim() === "" && newLines[i].trim() !== "") cuts.push(i)
    if (cuts.length > 0) {
      const at = cuts[Math.floor(cuts.length / 2)]
      outSplits.push({ kind: "insertions", ours: { at: h.aStart, del: 0, add: newLines.slice(0, at) }, theirs: { at: h.aStart, del: 0, add: newLines.slice(at) } })
    }
  } else if (oldLines.length === newLines.length && oldLines.length >= 2) {
    const at = Math.ceil(oldLines.length / 2)
    outSplits.push({
      kind: "adjacent-edits",
      ours: { at: h.aStart, del: at, add: newLines.slice(0, at) },
      theirs: { at: h.aStart + at, del: oldLines.length - at, add: newLines.slice(at) }
    })
  } else if (newLines.length > oldLines.length && oldLines.length >= 1) {
    const n = oldLines.length
    outSplits.push({
      kind: "edit-and-insert",
      ours: { at: h.aStart, del: n, add: newLines.slice(0, n) },
      theirs: { at: h.aStart + n, del: 0, add: newLines.slice(n) }
    })
  }
  return outSplits
}

const applyEdits = (lines, edits) => {
  const sorted = [...edits].sort((x, y) => y.at - x.at || y.del - x.del)
  const res = [...lines]
  for (const e of sorted) res.splice(e.at, e.del, ...e.add)
  return res.join("")
}

const versionName = (d) => (path.basename(d) === "src" ? path.basename(path.dirname(d)) : path.basename(d))
const cases = []
for (let v = 0; v + 1 < dirs.length; v++) {
  const [da, dc] = [dirs[v], dirs[v + 1]]
  for (const f of walk(dc)) {
    let a
    try {
      a = fs.readFileSync(path.join(da, f), "utf8")
    } catch {
      continue
    }
    const c = fs.readFileSync(path.join(dc, f), "utf8")
    if (a === c) continue
    const A = splitLines(a)
    const C = splitLines(c)
    const hunks = diff(A, C)
    for (const h of hunks) {
      for (const s of splits(A, C, h)) {
        const rest = hunks.filter((x) => x !== h).map((x) => ({ at: x.aStart, del: x.aEnd - x.aStart, add: C.slice(x.bStart, x.bEnd) }))
        for (const [first, second, order] of [[s.ours, s.theirs, "ours-first"], [s.theirs, s.ours, "theirs-first"]]) {
          const ours = applyEdits(A, [...rest, first])
          const theirs = applyEdits(A, [second])
          if (!gitConflicts(a, ours, theirs)) continue
          cases.push({ file: f, versions: [versionName(da), versionName(dc)], kind: s.kind, order, base: a, ours, theirs, expected: c })
        }
      }
    }
  }
}

const enc = new TextEncoder()
const dec = new TextDecoder()
const summary = { cases: cases.length, topExact: 0, anyExact: 0, topParses: 0, byKind: {}, byClass: {}, byStrategy: {} }
const results = []
for (const k of cases) {
  const a = analyze(ts, {
    path: k.file,
    gitKind: "content",
    base: enc.encode(k.base),
    ours: enc.encode(k.ours),
    theirs: enc.encode(k.theirs),
    oursLabel: "ours",
    theirsLabel: "theirs"
  })
  const texts = a.candidates.map((c) => (c.content === null ? null : dec.decode(c.content)))
  const top = a.candidates[0]
  const topExact = texts[0] === k.expected
  const anyExact = texts.includes(k.expected)
  const kindStats = (summary.byKind[`${k.kind} (${k.order})`] ??= { cases: 0, topExact: 0, anyExact: 0 })
  kindStats.cases++
  kindStats.topExact += topExact ? 1 : 0
  kindStats.anyExact += anyExact ? 1 : 0
  summary.byClass[a.classification.type] = (summary.byClass[a.classification.type] ?? 0) + 1
  if (topExact) summary.byStrategy[top.strategy] = (summary.byStrategy[top.strategy] ?? 0) + 1
  summary.topExact += topExact ? 1 : 0
  summary.anyExact += anyExact ? 1 : 0
  summary.topParses += top?.parses === true ? 1 : 0
  results.push({ file: k.file, versions: k.versions, kind: k.kind, order: k.order, type: a.classification.type, reasons: a.classification.reasons, top: top?.strategy, confidence: top?.confidence, topExact, anyExact })
}
fs.rmSync(tmp, { recursive: true, force: true })
const pct = (n) => (cases.length === 0 ? 0 : Math.round((n / cases.length) * 1000) / 10)
console.log(JSON.stringify({ ...summary, topExactPct: pct(summary.topExact), anyExactPct: pct(summary.anyExact), topParsesPct: pct(summary.topParses) }, null, 2))
if (out !== undefined) fs.writeFileSync(out, JSON.stringify(results, null, 1))
if (sample !== undefined) {
  // A deterministic sample of small cases: the smallest files of each kind and order, distinct files.
  const groups = new Map()
  for (const k of [...cases].filter((k) => k.base.length < 16000).sort((x, y) => x.base.length - y.base.length)) {
    const key = `${k.kind}/${k.order}`
    const list = groups.get(key) ?? []
    if (list.length < Math.ceil(sample.n / 6) && !list.some((x) => x.file === k.file)) list.push(k)
    groups.set(key, list)
  }
  fs.writeFileSync(sample.file, JSON.stringify([...groups.values()].flat(), null, 1) + "\n")
}
