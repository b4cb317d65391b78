// Fit the conflict engine's choice model on the TUNING part of the corpus (never the test part) and
// rewrite packages/core/src/coordination/conflicts/calibration.ts.
//
//   node scripts/conflict-corpus/build.mjs        # once: the corpus files in the cache
//   node scripts/conflict-corpus/tune.mjs [--dry-run]
//
// For every conflicting region of every tuning file, each candidate resolution the engine proposes is
// a training row: its features (model.ts `featuresOf`) and whether it equals what the maintainers
// committed for that region (whitespace-normalised). A logistic model is fitted by gradient descent.
// Calibration is fitted on held-out predictions (leave one repository out): a monotone map
// (pool-adjacent-violators) from the model's score to the share of exact choices, per hunk and — from
// the product of a file's hunk confidences — per file. A kind of resolution (the strategies that give
// it, per language) joins the auto-apply tier when it was exact in ≥ 95 % of at least 20 tuning hunks
// from at least 3 repositories; the script then checks the tier's file-level precision on held-out
// repositories and prints it.
import * as fs from "node:fs"
import * as path from "node:path"
import { bundle, readCase, readManifest, readSplit, root } from "./lib.mjs"

const dryRun = process.argv.includes("--dry-run")
const split = readSplit()
const engine = await bundle("packages/core/src/coordination/conflicts/resolve.ts")
const model = await bundle("packages/core/src/coordination/conflicts/model.ts")
const hunksMod = await bundle("packages/core/src/coordination/conflicts/hunks.ts")
const diffMod = await bundle("packages/core/src/coordination/conflicts/diff.ts")
const ts = (await import("typescript")).default

const sidesOf = (c) =>
  c.history === null ? undefined : {
    ours: { commits: c.history.ours.commits, versions: c.history.ours.versions },
    theirs: { commits: c.history.theirs.commits, versions: c.history.theirs.versions }
  }

const cases = readManifest().filter((e) => split.tuning.includes(e.repo) && (e.kind === "content" || e.kind === "add/add"))
// TUNE_CACHE=FILE keeps the prepared regions between runs (the slow part) while the model is developed.
const cacheFile = process.env.TUNE_CACHE
let files = []
if (cacheFile !== undefined && fs.existsSync(cacheFile)) files = JSON.parse(fs.readFileSync(cacheFile, "utf8"))
else {
  for (const e of cases) {
    const c = readCase(e)
    if (c.ours === null || c.theirs === null || c.resolved === null) continue
    const input = { path: e.path, base: c.base ?? "", ours: c.ours, theirs: c.theirs, oursLabel: "ours", theirsLabel: "theirs", sides: sidesOf(c) }
    const p = engine.prepare(ts, input)
    const expected = hunksMod.projectOntoRegions(p.chunks, diffMod.splitLines(c.resolved))
    files.push({
      repo: e.repo,
      id: e.id,
      more: p.more,
      commits: c.history === null ? null : { ours: c.history.ours.commits, theirs: c.history.theirs.commits },
      resolved: hunksMod.normalizeText(c.resolved),
      chunks: p.chunks,
      wholeFile: p.wholeFile.map((w) => ({ strategy: w.strategy, exact: hunksMod.normalizeText(w.text) === hunksMod.normalizeText(c.resolved) })),
      hunks: p.hunks.map((h, i) => ({
        situation: h.situation,
        expected: expected[i] === null ? null : hunksMod.normalizeText(expected[i].join("")),
        candidates: h.candidates.map((cd) => ({ strategies: cd.strategies, lines: cd.lines }))
      }))
    })
  }
  if (cacheFile !== undefined) fs.writeFileSync(cacheFile, JSON.stringify(files))
}
// The line strategies are cheap: recompute them from the cached regions, so a cache survives a change to
// them (the symbol and JSON merges, the slow part, are kept from the cache).
if (cacheFile !== undefined) {
  for (const f of files) {
    const regions = f.chunks.filter((c) => c.kind === "conflict")
    f.hunks.forEach((h, i) => {
      const kept = (st) => ({ strategy: st, lines: h.candidates.find((cd) => cd.strategies.includes(st))?.lines ?? null })
      h.candidates = hunksMod.hunkCandidates(regions[i], [kept("symbol"), kept("json")]).map((cd) => ({ strategies: cd.strategies, lines: cd.lines }))
    })
  }
}
for (const f of files) {
  for (const h of f.hunks) {
    for (const cd of h.candidates) {
      cd.features = model.featuresOf(cd, h.situation, f.more)
      cd.kind = `${model.kindOf(cd)}|${h.situation.language}`
    }
  }
}
for (const f of files) for (const h of f.hunks) for (const cd of h.candidates) cd.ok = h.expected !== null && hunksMod.normalizeText(cd.lines.join("")) === h.expected

const train = (rows, epochs = 30, rate = 0.05, l2 = 1e-2) => {
  const w = new Map()
  for (let ep = 0; ep < epochs; ep++) {
    for (const { f, y } of rows) {
      let z = 0
      for (const k of f) z += w.get(k) ?? 0
      const g = 1 / (1 + Math.exp(-z)) - y
      for (const k of f) {
        const v = w.get(k) ?? 0
        w.set(k, v - rate * (g + l2 * v))
      }
    }
  }
  return Object.fromEntries([...w].map(([k, v]) => [k, Math.round(v * 1e4) / 1e4]))
}
const rowsOf = (fs_) => fs_.flatMap((f) => f.hunks.filter((h) => h.expected !== null).flatMap((h) => h.candidates.map((cd) => ({ f: cd.features, y: cd.ok ? 1 : 0 }))))

/**
 * Pool-adjacent-violators: a non-decreasing step map from score to exact share, as [threshold, share]
 * pairs. A step holds at least `minN` points (a smaller one is pooled with its neighbour below, or above
 * for the lowest): a share read from a handful of cases is what made high confidences lie on new
 * repositories. Pooling neighbours of a non-decreasing sequence keeps it non-decreasing.
 */
const isotonic = (points, minN = 30) => {
  const sorted = [...points].sort((a, b) => a.x - b.x)
  const blocks = []
  for (const p of sorted) {
    blocks.push({ lo: p.x, n: 1, sum: p.y })
    while (blocks.length > 1 && blocks[blocks.length - 2].sum / blocks[blocks.length - 2].n >= blocks[blocks.length - 1].sum / blocks[blocks.length - 1].n) {
      const b = blocks.pop()
      const a = blocks[blocks.length - 1]
      a.n += b.n
      a.sum += b.sum
    }
  }
  for (let i = blocks.findIndex((b) => b.n < minN); i >= 0 && blocks.length > 1; i = blocks.findIndex((b) => b.n < minN)) {
    const [a, b] = i > 0 ? [blocks[i - 1], blocks[i]] : [blocks[0], blocks[1]]
    a.n += b.n
    a.sum += b.sum
    blocks.splice(blocks.indexOf(b), 1)
  }
  return blocks.map((b) => [Math.round(b.lo * 1e4) / 1e4, Math.round((b.sum / b.n) * 1000) / 1000])
}

// Held-out scores: each repository scored by a model fitted on the others.
const repos = [...new Set(files.map((f) => f.repo))]
for (const held of repos) {
  const w = train(rowsOf(files.filter((f) => f.repo !== held)))
  for (const f of files.filter((x) => x.repo === held)) for (const h of f.hunks) for (const cd of h.candidates) cd.cvRaw = model.scoreWith(w, cd.features)
}
const hunkPoints = []
for (const f of files) {
  for (const h of f.hunks) {
    if (h.candidates.length === 0 || h.expected === null) continue
    const top = [...h.candidates].sort((a, b) => b.cvRaw - a.cvRaw)[0]
    hunkPoints.push({ x: top.cvRaw, y: top.ok ? 1 : 0 })
  }
}
const hunkReliability = isotonic(hunkPoints)

// Auto-apply tier: kinds of hunk resolution exact in ≥ 95 % of ≥ 20 tuning hunks from ≥ 3 repositories.
const kinds = new Map()
for (const f of files) {
  for (const h of f.hunks) {
    if (h.expected === null) continue
    for (const cd of h.candidates) {
      const k = kinds.get(cd.kind) ?? { n: 0, ok: 0, repos: new Set() }
      k.n++
      k.ok += cd.ok ? 1 : 0
      k.repos.add(f.repo)
      kinds.set(cd.kind, k)
    }
  }
}
const autoApplyKinds = [...kinds].filter(([, k]) => k.n >= 20 && k.repos.size >= 3 && k.ok / k.n >= 0.95).map(([kind]) => kind).sort()

// Files: compose the held-out choice of every hunk and compare with the committed file.
const compose = (f, pick) => {
  let out = ""
  let k = 0
  for (const c of f.chunks) out += c.kind === "ok" ? c.items.join("") : pick(f.hunks[k++]).lines.join("")
  return out
}
const calibrated = (raw) => model.calibrateWith(hunkReliability, raw)
const filePoints = []
const noRegionPoints = []
for (const f of files) {
  if (f.hunks.some((h) => h.candidates.length === 0)) continue
  const best = (h) => [...h.candidates].sort((a, b) => b.cvRaw - a.cvRaw)[0]
  const exact = hunksMod.normalizeText(compose(f, best)) === f.resolved
  // Git conflicts where the engine's line merge does not: how often that clean merge is what was committed.
  if (f.hunks.length === 0) noRegionPoints.push(exact ? 1 : 0)
  else filePoints.push({ x: f.hunks.reduce((p, h) => p * calibrated(best(h).cvRaw), 1), y: exact ? 1 : 0, kinds: f.hunks.every((h) => autoApplyKinds.includes(best(h).kind)) })
}
const fileReliability = isotonic(filePoints)
const noRegions = Math.round(((noRegionPoints.filter((y) => y === 1).length + 1) / (noRegionPoints.length + 2)) * 1000) / 1000
console.error(`files without regions: ${noRegionPoints.filter((y) => y === 1).length}/${noRegionPoints.length} exact`)
// Auto-apply by file confidence: the lowest calibrated confidence above which held-out files were exact in
// ≥ 97 % of at least 30 cases (a margin over the 95 % promise, for repositories unlike the tuning ones).
const fileConf = (p) => model.calibrateWith(fileReliability, p.x)
let autoApplyFileAbove = 2
for (const t of [...new Set(filePoints.map(fileConf))].sort((a, b) => a - b)) {
  const sel = filePoints.filter((p) => fileConf(p) >= t)
  if (sel.length >= 30 && sel.filter((p) => p.y === 1).length / sel.length >= 0.97) {
    autoApplyFileAbove = t
    break
  }
}
const autoSel = filePoints.filter((p) => p.kinds || fileConf(p) >= autoApplyFileAbove)
const autoFiles = autoSel.length
const autoExact = autoSel.filter((p) => p.y === 1).length

// Whole-file merges that change lines outside the hunks: their exact share (Laplace-smoothed) is their confidence.
const wholeFile = {}
for (const strategy of ["symbol-merge", "symbol-merge/moved", "json-merge"]) {
  const seen = files.flatMap((f) => f.wholeFile.filter((w) => w.strategy === strategy))
  wholeFile[strategy] = Math.round(((seen.filter((w) => w.exact).length + 1) / (seen.length + 2)) * 1000) / 1000
  console.error(`${strategy} whole-file: ${seen.filter((w) => w.exact).length}/${seen.length}`)
}

const weights = train(rowsOf(files))
const summary = {
  repositories: repos.sort(),
  files: files.length,
  hunks: files.reduce((n, f) => n + f.hunks.length, 0),
  heldOut: {
    hunkTop1: Math.round((hunkPoints.filter((p) => p.y === 1).length / hunkPoints.length) * 1000) / 10,
    fileTop1: Math.round(((filePoints.filter((p) => p.y === 1).length + noRegionPoints.filter((y) => y === 1).length) / files.length) * 1000) / 10,
    autoApply: { files: autoFiles, exact: autoExact, of: files.length, fileAbove: autoApplyFileAbove }
  },
  fileReliability,
  autoApplyKinds
}
console.log(JSON.stringify(summary, null, 1))
const out = `/**
 * Fitted on the tuning part of the real-merge corpus by \`node scripts/conflict-corpus/tune.mjs\`, which
 * rewrites this file. Do not edit by hand.
 */
export const fitted = {
  fittedOn: ${JSON.stringify({ repositories: summary.repositories, files: summary.files, hunks: summary.hunks, date: new Date().toISOString().slice(0, 10) })} as {
    readonly repositories: ReadonlyArray<string>
    readonly files: number
    readonly hunks: number
    readonly date: string
  },
  weights: ${JSON.stringify(weights, null, 2).replace(/\n/g, "\n  ")} as Readonly<Record<string, number>>,
  /** Raw model score → share of held-out choices with at least that score that were exact. */
  hunkReliability: ${JSON.stringify(hunkReliability)} as ReadonlyArray<readonly [number, number]>,
  /** The product of a file's hunk confidences → share of held-out files with at least that product that were exact. */
  fileReliability: ${JSON.stringify(fileReliability)} as ReadonlyArray<readonly [number, number]>,
  /** Share of tuning files without conflicting regions in the engine's line merge (git's alignment differs) whose clean merge was exact. */
  noRegions: ${noRegions} as number,
  /** A complete file suggestion with at least this calibrated confidence is auto-applied (above 1: never). */
  autoApplyFileAbove: ${autoApplyFileAbove} as number,
  /** Share of tuning files whose whole-file merge (changing lines outside the conflicting hunks) was exact. */
  wholeFile: ${JSON.stringify(wholeFile)} as { readonly "symbol-merge": number; readonly "symbol-merge/moved": number; readonly "json-merge": number },
  /** \`kind|language\` of hunk resolutions exact in ≥ 95 % of their tuning cases. */
  autoApplyKinds: ${JSON.stringify(autoApplyKinds)} as ReadonlyArray<string>
}
`
if (!dryRun) fs.writeFileSync(path.join(root, "packages/core/src/coordination/conflicts/calibration.ts"), out)
