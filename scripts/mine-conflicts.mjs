// Mine realistic merge conflicts from successive published versions of a project's sources.
//
//   node scripts/mine-conflicts.mjs OUT.json DIR_V1 DIR_V2 DIR_V3 …   (directories in version order)
//
// Versions are taken k apart (A = v[i], B = v[i+k], C = v[i+2k]) for k = 1 … MINE_MAX_STEP (default 6),
// since successive patch releases rarely edit the same lines.
//
// For versions A → B → C of a file, the maintainers made edit e1 (A→B), then e2 (B→C). We replay them as
// two parallel branches from A: "ours" = B (e1), "theirs" = C with e1 reverted (e2 alone, computed by
// `git merge-file` C ← B → A and kept only when that is clean). When ours and theirs conflict, the
// maintainers' own resolution is known: C. Each record: { file, versions, base, ours, theirs, expected }.
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const [out, ...dirs] = process.argv.slice(2)
if (out === undefined || dirs.length < 3) {
  console.error("usage: node scripts/mine-conflicts.mjs OUT.json DIR_V1 DIR_V2 DIR_V3 …")
  process.exit(2)
}
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "pcc-mine-"))
const mergeFile = (current, base, other) => {
  fs.writeFileSync(path.join(tmp, "current"), current)
  fs.writeFileSync(path.join(tmp, "base"), base)
  fs.writeFileSync(path.join(tmp, "other"), other)
  const r = spawnSync("git", ["merge-file", "-p", "current", "base", "other"], { cwd: tmp, encoding: "utf8", maxBuffer: 1 << 26 })
  return { clean: r.status === 0, text: r.stdout }
}
const files = (dir) => {
  const outFiles = []
  const walk = (d, rel) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name
      if (e.isDirectory()) walk(path.join(d, e.name), r)
      else if (/\.(ts|tsx|js|mjs|cjs|json|md)$/.test(e.name)) outFiles.push(r)
    }
  }
  walk(dir, "")
  return outFiles
}
const read = (dir, f) => {
  try {
    return fs.readFileSync(path.join(dir, f), "utf8")
  } catch {
    return undefined
  }
}
const seen = new Set()
const records = []
const maxStep = Number(process.env.MINE_MAX_STEP ?? 6)
for (let k = 1; k <= maxStep; k++) for (let i = 0; i + 2 * k < dirs.length; i++) {
  const [a, b, c] = [dirs[i], dirs[i + k], dirs[i + 2 * k]]
  for (const f of files(b)) {
    const [A, B, C] = [read(a, f), read(b, f), read(c, f)]
    if (A === undefined || C === undefined || A === B || B === C) continue
    const theirs = mergeFile(C, B, A)
    if (!theirs.clean || theirs.text === A || theirs.text === C) continue
    const merged = mergeFile(B, A, theirs.text)
    if (merged.clean) continue
    const key = `${f}\0${A.length}\0${B.length}\0${theirs.text.length}`
    if (seen.has(key)) continue
    seen.add(key)
    records.push({ file: f, versions: [a, b, c].map((d) => path.basename(d)), base: A, ours: B, theirs: theirs.text, expected: C })
  }
}
fs.rmSync(tmp, { recursive: true, force: true })
fs.writeFileSync(out, JSON.stringify(records, null, 1))
console.error(`${records.length} conflicts written to ${out}`)
