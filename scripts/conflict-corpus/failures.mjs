// Where the engine's hunk choices go wrong on the TUNING part (it refuses the test part: studying test
// failures would be tuning on the test set). Per region: is the committed text among the candidates
// (coverage), is it the top choice, and — for regions no candidate covers — the situation they are in and
// a few examples to read.
//
//   node scripts/conflict-corpus/failures.mjs [--examples N] [--situation KEY] [--repo OWNER/NAME]
import { bundle, readCase, readManifest, readSplit } from "./lib.mjs"

const args = process.argv.slice(2)
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 ? args[i + 1] : dflt
}
const split = readSplit()
const onlyRepo = opt("repo")
if (onlyRepo !== undefined && !split.tuning.includes(onlyRepo)) throw new Error(`${onlyRepo} is not in the tuning part`)
const examples = Number(opt("examples", "0"))
const onlySituation = opt("situation")
const engine = await bundle("packages/core/src/coordination/conflicts/resolve.ts")
const H = await bundle("packages/core/src/coordination/conflicts/hunks.ts")
const D = await bundle("packages/core/src/coordination/conflicts/diff.ts")
const ts = (await import("typescript")).default
const norm = H.normalizeText

const sidesOf = (c) =>
  c.history === null ? undefined : {
    ours: { commits: c.history.ours.commits, versions: c.history.ours.versions },
    theirs: { commits: c.history.theirs.commits, versions: c.history.theirs.versions }
  }
const entries = readManifest().filter((e) => split.tuning.includes(e.repo) && (onlyRepo === undefined || e.repo === onlyRepo) && e.kind !== "modify/delete")
const S = { files: 0, filesAllCovered: 0, filesTopExact: 0, hunks: 0, projected: 0, covered: 0, top: 0 }
const bySit = new Map()
const byStrategy = new Map()
const shown = []
for (const e of entries) {
  const c = readCase(e)
  if (c.ours === null || c.theirs === null || c.resolved === null) continue
  const input = { path: e.path, base: c.base ?? "", ours: c.ours, theirs: c.theirs, oursLabel: "ours", theirsLabel: "theirs", sides: sidesOf(c) }
  const r = engine.resolveText(ts, input)
  const p = engine.prepare(ts, input)
  const want = H.projectOntoRegions(p.chunks, D.splitLines(c.resolved))
  S.files++
  S.filesTopExact += norm(r.suggestions[0]?.text ?? "") === norm(c.resolved) ? 1 : 0
  let all = true
  r.hunks.forEach((h, i) => {
    S.hunks++
    const w = want[i]
    if (w === null) {
      all = false
      return
    }
    S.projected++
    const wt = norm(w.join(""))
    const hit = h.options.findIndex((o) => norm(o.text) === wt)
    const key = `${h.situation.shape}/${h.situation.relation}/${h.situation.language}`
    const s = bySit.get(key) ?? { n: 0, covered: 0, top: 0 }
    s.n++
    if (hit >= 0) {
      S.covered++
      s.covered++
      const st = h.options[hit].strategies.join("+")
      const b = byStrategy.get(st) ?? { right: 0, top: 0 }
      b.right++
      if (hit === 0) b.top++
      byStrategy.set(st, b)
    } else all = false
    if (hit === 0) {
      S.top++
      s.top++
    }
    bySit.set(key, s)
    if (hit < 0 && shown.length < examples && (onlySituation === undefined || key === onlySituation)) {
      shown.push(`=== ${e.repo} ${e.id} ${e.path} hunk ${i + 1} [${key}]\n--- base\n${h.base}--- ours\n${h.ours}--- theirs\n${h.theirs}--- committed\n${w.join("")}`)
    }
  })
  if (all) S.filesAllCovered++
}
console.log(JSON.stringify(S))
console.log("situation: regions, covered by some candidate, top choice exact")
for (const [k, s] of [...bySit].sort((a, b) => b[1].n - a[1].n)) console.log(`${k.padEnd(40)} ${String(s.n).padStart(5)} ${String(s.covered).padStart(5)} ${String(s.top).padStart(5)}`)
console.log("\nstrategies of the right candidate: times right, times it was the top choice")
for (const [k, s] of [...byStrategy].sort((a, b) => b[1].right - a[1].right)) console.log(`${k.padEnd(60)} ${String(s.right).padStart(5)} ${String(s.top).padStart(5)}`)
for (const x of shown) console.log(x)
