// Mine the two-parent merge commits of a fetched snapshot for conflicted script and JSON files.
//
//   node scripts/conflict-corpus/mine.mjs OWNER/NAME [--max-files 80] [--per-merge 4] [--minutes 15] [--git DIR]
//
// Each merge M = (P1, P2) is re-merged with `git merge-tree --write-tree -z P1 P2` (git's merge, on the
// objects only). Every conflicted .ts/.tsx/.js/.jsx/.mjs/.cjs/.json path (no lock files, no build output,
// no file over 256 KB) whose committed resolution exists and has no conflict markers becomes one entry:
// the repository, the merge commit, its parents, the path, git's conflict kind and the blob ids of base
// (stage 1, which may be git's virtual merge base), ours (P1), theirs (P2) and the resolution (M:path).
// Identical conflicts (same path and blobs) are kept once. Merges are visited in an order fixed by their
// ids (spread over the whole history), and a repository stops at --max-files entries.
// The entries replace that repository's lines in scripts/conflict-corpus/manifest.jsonl.
import * as fs from "node:fs"
import { caseDir, isReserved, KEPT, manifestPath, MAX_BYTES, mergeTree, mirrorOf, readManifest, SKIPPED, snapshotGit } from "./lib.mjs"
import { createHash } from "node:crypto"

const args = process.argv.slice(2)
const repo = args.find((a) => !a.startsWith("--") && a.includes("/") && !args[args.indexOf(a) - 1]?.startsWith("--"))
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 ? args[i + 1] : dflt
}
if (repo === undefined) {
  console.error("usage: node scripts/conflict-corpus/mine.mjs OWNER/NAME [--max-files N] [--per-merge N] [--minutes N] [--git DIR]")
  process.exit(2)
}
if (isReserved(repo)) {
  console.error(`${repo} is reserved for the independent evaluation (or is a fork of one that is): not mined`)
  process.exit(2)
}
const maxFiles = Number(opt("max-files", 80))
const perMerge = Number(opt("per-merge", 4))
const deadline = Date.now() + Number(opt("minutes", 15)) * 60_000
const gitDir = opt("git", mirrorOf(repo))
const git = snapshotGit(gitDir)

const order = (sha) => createHash("sha1").update(sha).digest("hex")
const log = git.run(["log", "--all", "--min-parents=2", "--max-parents=2", "--format=%H %P %ct"])
const merges = log.stdout.split("\n").filter((l) => l !== "").map((l) => {
  const [merge, p1, p2, ct] = l.split(" ")
  return { merge, parents: [p1, p2], date: new Date(Number(ct) * 1000).toISOString().slice(0, 10) }
}).sort((a, b) => order(a.merge).localeCompare(order(b.merge)))

const kindOf = (p, messages) => {
  const types = messages.filter((m) => m.paths.includes(p.path)).map((m) => m.type)
  if (types.some((t) => t.includes("rename"))) return "rename"
  if (p.ours === null || p.theirs === null) return "modify/delete"
  if (types.includes("CONFLICT (binary)")) return "binary"
  if (p.base === null) return "add/add"
  return "content"
}

const entries = []
const seen = new Set()
let visited = 0
let conflicted = 0
const skipped = { filtered: 0, deletedInResolution: 0, markers: 0, large: 0, duplicate: 0, binary: 0, otherKind: 0 }
try {
  for (const m of merges) {
    if (entries.length >= maxFiles || Date.now() > deadline) break
    visited++
    const mt = mergeTree(git, m.parents[0], m.parents[1])
    if (mt === null || mt.paths.length === 0) continue
    conflicted++
    let taken = 0
    const cands = mt.paths.filter((p) => KEPT.test(p.path) && !SKIPPED.test(p.path))
    skipped.filtered += mt.paths.length - cands.length
    if (cands.length === 0) continue
    const ls = git.run(["ls-tree", "-z", m.merge, "--", ...cands.map((p) => p.path)])
    const resolved = new Map()
    for (const rec of ls.stdout.split("\0").filter((x) => x !== "")) {
      const tab = rec.indexOf("\t")
      const [, type, oid] = rec.slice(0, tab).split(" ")
      if (type === "blob") resolved.set(rec.slice(tab + 1), oid)
    }
    const check = git.run(["cat-file", "--batch-check"], {
      input: cands.flatMap((p) => [p.base?.oid, p.ours?.oid, p.theirs?.oid, resolved.get(p.path)]).filter(Boolean).join("\n") + "\n"
    })
    const sizes = new Map(check.stdout.split("\n").filter((l) => l !== "").map((l) => {
      const [oid, , size] = l.split(" ")
      return [oid, Number(size)]
    }))
    for (const p of cands) {
      if (taken >= perMerge || entries.length >= maxFiles) break
      const kind = kindOf(p, mt.messages)
      if (kind === "binary") {
        skipped.binary++
        continue
      }
      if (kind === "rename") {
        skipped.otherKind++
        continue
      }
      const res = resolved.get(p.path) ?? null
      if (res === null && kind !== "modify/delete") {
        skipped.deletedInResolution++
        continue
      }
      const oids = { base: p.base?.oid ?? null, ours: p.ours?.oid ?? null, theirs: p.theirs?.oid ?? null, resolved: res }
      if (Object.values(oids).some((o) => o !== null && (sizes.get(o) ?? Infinity) > MAX_BYTES)) {
        skipped.large++
        continue
      }
      const key = `${p.path}\0${oids.base}\0${oids.ours}\0${oids.theirs}`
      if (seen.has(key)) {
        skipped.duplicate++
        continue
      }
      if (res !== null) {
        const text = git.blobs([res]).get(res).toString("utf8")
        if (/^(<{7}|>{7}) /m.test(text) || /^={7}$/m.test(text) && /^<{7}/m.test(text)) {
          skipped.markers++
          continue
        }
      }
      seen.add(key)
      taken++
      entries.push({
        id: `${m.merge.slice(0, 12)}-${createHash("sha1").update(p.path).digest("hex").slice(0, 8)}`,
        repo,
        merge: m.merge,
        parents: m.parents,
        date: m.date,
        path: p.path,
        kind,
        oids
      })
    }
  }
} finally {
  git.dispose()
}

const others = readManifest().filter((e) => e.repo !== repo)
const all = [...others, ...entries].sort((a, b) => a.repo.localeCompare(b.repo) || a.id.localeCompare(b.id))
fs.writeFileSync(manifestPath, all.map((e) => JSON.stringify(e)).join("\n") + "\n")
const byKind = {}
for (const e of entries) byKind[e.kind] = (byKind[e.kind] ?? 0) + 1
console.log(JSON.stringify({ repo, merges: merges.length, visited, conflictedMerges: conflicted, entries: entries.length, byKind, skipped }))
void caseDir
