// How good are the conflict suggestions on REAL merges? Measured on the real-merge corpus
// (scripts/conflict-corpus/: build it first), by default on its TEST part — repositories never used to
// tune the engine — against what the maintainers committed, with the baselines in the same run.
//
//   node scripts/conflict-corpus/build.mjs
//   node scripts/conflict-quality.mjs [--part test|tuning] [--repo OWNER/NAME] [--out FILE.json] [--markdown]
//
// Comparison is whitespace-normalised: trailing whitespace on each line and trailing blank lines are
// ignored. Reported, for conflicted content files (and separately for modify/delete):
//   - exact top-1, exact within the top 3, exact per hunk (regions of the line three-way merge, read in
//     the committed file where its surroundings are unchanged), the parse rate of top suggestions, and
//     whether every suggestion that claims to parse does (checked again here, independently);
//   - per class (TRIVIAL, ADDITIVE, CONCURRENT_EDIT, STRUCTURAL, SEMANTIC);
//   - autoApply: on how many files it is offered, and how many of those are exact (its precision);
//   - the reliability table: of top suggestions with confidence ≥ x, the share that was exact;
//   - baselines: take-ours (`git merge-file --ours`), take-theirs (`--theirs`), union (`--union`), and
//     apply-both-non-overlapping (each hunk: both sides' edits when they do not overlap, else ours).
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { bundle, readCase, readManifest, readSplit } from "./conflict-corpus/lib.mjs"

const args = process.argv.slice(2)
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 ? args[i + 1] : dflt
}
const part = opt("part", "test")
const onlyRepo = opt("repo")
const outFile = opt("out")
const split = readSplit()
if (!(part in split)) throw new Error(`--part must be one of ${Object.keys(split).filter((k) => Array.isArray(split[k])).join(", ")}`)

const { analyze } = await bundle("packages/core/src/coordination/conflicts/analysis.ts")
const H = await bundle("packages/core/src/coordination/conflicts/hunks.ts")
const D = await bundle("packages/core/src/coordination/conflicts/diff.ts")
const ts = (await import("typescript")).default

const enc = new TextEncoder()
const dec = new TextDecoder()
const norm = H.normalizeText
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "pcc-quality-"))
const mergeFile = (c, flag) => {
  const ext = path.extname(c.entry.path)
  fs.writeFileSync(path.join(tmp, `o${ext}`), c.ours)
  fs.writeFileSync(path.join(tmp, `b${ext}`), c.base ?? "")
  fs.writeFileSync(path.join(tmp, `t${ext}`), c.theirs)
  return spawnSync("git", ["merge-file", "-p", flag, `o${ext}`, `b${ext}`, `t${ext}`], { cwd: tmp, encoding: "utf8", maxBuffer: 1 << 28 }).stdout
}
/** Each hunk: both sides' edits when they do not overlap (git conflicts on adjacent lines), else ours. */
const applyBothNonOverlapping = (c) => {
  const { chunks } = H.regionsOf(c.base ?? "", c.ours, c.theirs)
  let out = ""
  for (const ch of chunks) {
    if (ch.kind === "ok") out += ch.items.join("")
    else {
      const adj = H.hunkCandidates(ch).find((x) => x.strategies.includes("adjacent"))
      out += (adj ?? { lines: ch.ours }).lines.join("")
    }
  }
  return out
}
const reallyParses = (file, text) => {
  if (/\.json$/i.test(file)) {
    try {
      JSON.parse(text)
      return true
    } catch {
      return false
    }
  }
  const kind = /\.tsx$/i.test(file) ? ts.ScriptKind.TSX : /\.jsx$/i.test(file) ? ts.ScriptKind.JSX : /\.(m|c)?js$/i.test(file) ? ts.ScriptKind.JS : ts.ScriptKind.TS
  return ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, kind).parseDiagnostics.length === 0
}
const sidesOf = (c) =>
  c.history === null ? undefined : {
    ours: { commits: c.history.ours.commits, versions: c.history.ours.versions },
    theirs: { commits: c.history.theirs.commits, versions: c.history.theirs.versions }
  }

const entries = readManifest().filter((e) => split[part].includes(e.repo) && (onlyRepo === undefined || e.repo === onlyRepo))
const methods = ["engine", "take-ours", "take-theirs", "union", "apply-both-non-overlapping"]
const S = {
  part,
  repositories: [...new Set(entries.map((e) => e.repo))].sort(),
  files: 0,
  hunks: 0,
  top1: Object.fromEntries(methods.map((m) => [m, 0])),
  hunkExact: Object.fromEntries(methods.map((m) => [m, 0])),
  top3: 0,
  parse: { checked: 0, topParses: 0, claimsParse: 0, claimsButFails: 0 },
  autoApply: { offered: 0, exact: 0 },
  complete: { top: 0, partialOffered: 0 },
  byClass: {},
  byRepo: {},
  modifyDelete: { files: 0, topExact: 0 }
}
const rows = []
const t0 = Date.now()
for (const e of entries) {
  const c = readCase(e)
  if (c.ours === null && c.theirs === null) continue
  const v = {
    path: e.path,
    gitKind: e.kind,
    base: c.base === null ? null : enc.encode(c.base),
    ours: c.ours === null ? null : enc.encode(c.ours),
    theirs: c.theirs === null ? null : enc.encode(c.theirs),
    oursLabel: "ours",
    theirsLabel: "theirs",
    sides: sidesOf(c)
  }
  const a = analyze(ts, v)
  const texts = a.candidates.map((x) => (x.content === null ? null : norm(dec.decode(x.content))))
  const expected = c.resolved === null ? null : norm(c.resolved)
  if (e.kind === "modify/delete") {
    S.modifyDelete.files++
    S.modifyDelete.topExact += texts[0] === expected ? 1 : 0
    continue
  }
  S.files++
  const top = a.candidates[0]
  const exact = texts[0] === expected
  const results = {
    engine: dec.decode(top.content),
    "take-ours": mergeFile(c, "--ours"),
    "take-theirs": mergeFile(c, "--theirs"),
    union: mergeFile(c, "--union"),
    "apply-both-non-overlapping": applyBothNonOverlapping(c)
  }
  const { chunks, regions } = H.regionsOf(c.base ?? "", c.ours, c.theirs)
  const want = H.projectOntoRegions(chunks, D.splitLines(c.resolved))
  S.hunks += regions.length
  for (const m of methods) {
    S.top1[m] += norm(results[m]) === expected ? 1 : 0
    const got = H.projectOntoRegions(chunks, D.splitLines(results[m]))
    S.hunkExact[m] += regions.filter((_, i) => want[i] !== null && got[i] !== null && norm(want[i].join("")) === norm(got[i].join(""))).length
  }
  S.top3 += texts.slice(0, 3).includes(expected) ? 1 : 0
  if (/\.(json|[cm]?[jt]sx?)$/i.test(e.path)) {
    S.parse.checked++
    const topParses = reallyParses(e.path, dec.decode(top.content))
    S.parse.topParses += topParses ? 1 : 0
    for (const x of a.candidates) {
      if (x.parses !== true) continue
      S.parse.claimsParse++
      if (!reallyParses(e.path, dec.decode(x.content))) S.parse.claimsButFails++
    }
  }
  if (top.autoApply) {
    S.autoApply.offered++
    S.autoApply.exact += exact ? 1 : 0
  }
  S.complete.top += top.complete ? 1 : 0
  S.complete.partialOffered += a.candidates.some((x) => !x.complete) ? 1 : 0
  const cls = (S.byClass[a.classification.type] ??= { files: 0, top1: 0, top3: 0 })
  cls.files++
  cls.top1 += exact ? 1 : 0
  cls.top3 += texts.slice(0, 3).includes(expected) ? 1 : 0
  const rp = (S.byRepo[e.repo] ??= { files: 0, top1: 0, top3: 0, takeOurs: 0 })
  rp.files++
  rp.top1 += exact ? 1 : 0
  rp.top3 += texts.slice(0, 3).includes(expected) ? 1 : 0
  rp.takeOurs += norm(results["take-ours"]) === expected ? 1 : 0
  rows.push({ id: e.id, repo: e.repo, path: e.path, type: a.classification.type, strategy: top.strategy, confidence: top.confidence, autoApply: top.autoApply, exact, top3: texts.slice(0, 3).includes(expected) })
}
fs.rmSync(tmp, { recursive: true, force: true })

const pct = (n, d) => (d === 0 ? 0 : Math.round((n / d) * 1000) / 10)
const reliability = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0].map((x) => {
  const sel = rows.filter((r) => r.confidence >= x)
  return { atLeast: x, files: sel.length, exact: sel.filter((r) => r.exact).length, share: pct(sel.filter((r) => r.exact).length, sel.length) }
})
const report = {
  part: S.part,
  repositories: S.repositories,
  files: S.files,
  hunks: S.hunks,
  seconds: Math.round((Date.now() - t0) / 100) / 10,
  exactTop1: Object.fromEntries(methods.map((m) => [m, { files: S.top1[m], pct: pct(S.top1[m], S.files) }])),
  exactTop3: { files: S.top3, pct: pct(S.top3, S.files) },
  exactPerHunk: Object.fromEntries(methods.map((m) => [m, { hunks: S.hunkExact[m], pct: pct(S.hunkExact[m], S.hunks) }])),
  parse: { ...S.parse, topParsesPct: pct(S.parse.topParses, S.parse.checked) },
  autoApply: { offered: S.autoApply.offered, offeredPct: pct(S.autoApply.offered, S.files), exact: S.autoApply.exact, precisionPct: pct(S.autoApply.exact, S.autoApply.offered) },
  complete: S.complete,
  byClass: Object.fromEntries(Object.entries(S.byClass).map(([k, x]) => [k, { ...x, top1Pct: pct(x.top1, x.files), top3Pct: pct(x.top3, x.files) }])),
  byRepo: Object.fromEntries(Object.entries(S.byRepo).map(([k, x]) => [k, { ...x, top1Pct: pct(x.top1, x.files), takeOursPct: pct(x.takeOurs, x.files) }])),
  reliability,
  modifyDelete: S.modifyDelete
}
console.log(JSON.stringify(report, null, 1))
if (outFile !== undefined) fs.writeFileSync(outFile, JSON.stringify({ report, rows }, null, 1) + "\n")
if (args.includes("--markdown")) {
  const line = (cells) => `| ${cells.join(" | ")} |`
  console.log(`\n${line(["method", "exact top-1", "exact per hunk"])}\n${line(["---", "---", "---"])}`)
  for (const m of methods) console.log(line([m, `${report.exactTop1[m].pct} % (${report.exactTop1[m].files}/${S.files})`, `${report.exactPerHunk[m].pct} % (${report.exactPerHunk[m].hunks}/${S.hunks})`]))
  console.log(`\n${line(["confidence ≥", "files", "exact"])}\n${line(["---", "---", "---"])}`)
  for (const r of reliability) console.log(line([r.atLeast, r.files, `${r.share} %`]))
}
