// Rebuild the conflict corpus files from fetched snapshots into the cache (never committed).
//
//   node scripts/conflict-corpus/build.mjs [OWNER/NAME …]
//
// For every entry of scripts/conflict-corpus/manifest.jsonl (or only those of the named repositories) the
// merge is re-run with `git merge-tree --write-tree -z P1 P2` on the snapshot (which recreates git's
// virtual merge base of criss-cross merges), the blob ids are checked against the manifest, and the four
// versions are written to $CONFLICT_CORPUS_DIR (default .cache/conflict-corpus)/<owner+name>/<id>/ as
// base|ours|theirs|resolved<ext> (a side that does not exist is not written), with meta.json.
// Snapshots are looked up in $CONFLICT_CORPUS_MIRRORS (default /work/.mirror)/<owner+name>/repo: bring
// each repository there first (the `fetch` tool, or any bare clone).
import * as fs from "node:fs"
import * as path from "node:path"
import { cacheDir, caseDir, ext, isReserved, mergeTree, mirrorOf, readManifest, snapshotGit } from "./lib.mjs"

/**
 * What the engine may know about each side besides the three versions (as it does in a repository):
 * the commits of that side since the merge base that touched the file (subject, time), and the file as
 * it was at up to 8 of them (newest first, the tip excluded).
 */
const sideHistory = (git, e) => {
  const mb = git.run(["merge-base", e.parents[0], e.parents[1]]).stdout.trim().split("\n")[0]
  const side = (tip) => {
    const log = git.run(["log", "--format=%H%x00%ct%x00%s", "-n", "50", `${mb}..${tip}`, "--", e.path]).stdout
    const commits = log.split("\n").filter(Boolean).map((l) => {
      const [commit, time, subject] = l.split("\0")
      return { commit, time: Number(time), subject }
    })
    const ls = git.run(["cat-file", "--batch-check"], { input: commits.slice(1, 9).map((c) => `${c.commit}:${e.path}`).join("\n") + "\n" })
    const oids = ls.stdout.split("\n").filter((l) => / blob /.test(l)).map((l) => l.split(" ")[0])
    const blobs = git.blobs(oids)
    return { commits: commits.map(({ time, subject }) => ({ time, subject })), versions: oids.map((o) => blobs.get(o).toString("utf8")) }
  }
  return { mergeBase: mb, ours: side(e.parents[0]), theirs: side(e.parents[1]) }
}

const only = process.argv.slice(2)
const entries = readManifest().filter((e) => only.length === 0 || only.includes(e.repo))
const byRepo = new Map()
for (const e of entries) byRepo.set(e.repo, [...(byRepo.get(e.repo) ?? []), e])
const report = { cache: cacheDir, repos: {}, missingSnapshots: [], mismatches: [] }
for (const [repo, list] of byRepo) {
  if (isReserved(repo)) throw new Error(`${repo} is reserved for the independent evaluation`)
  const gitDir = mirrorOf(repo)
  if (!fs.existsSync(gitDir)) {
    report.missingSnapshots.push(repo)
    continue
  }
  const git = snapshotGit(gitDir)
  let written = 0
  try {
    const byMerge = new Map()
    for (const e of list) byMerge.set(e.merge, [...(byMerge.get(e.merge) ?? []), e])
    for (const [, group] of byMerge) {
      const mt = mergeTree(git, group[0].parents[0], group[0].parents[1])
      for (const e of group) {
        const p = mt?.paths.find((x) => x.path === e.path)
        const got = { base: p?.base?.oid ?? null, ours: p?.ours?.oid ?? null, theirs: p?.theirs?.oid ?? null }
        if (p === undefined || got.base !== e.oids.base || got.ours !== e.oids.ours || got.theirs !== e.oids.theirs) {
          report.mismatches.push({ id: e.id, repo, expected: e.oids, got })
          continue
        }
        const blobs = git.blobs(Object.values(e.oids).filter((o) => o !== null))
        const dir = caseDir(e)
        fs.rmSync(dir, { recursive: true, force: true })
        fs.mkdirSync(dir, { recursive: true })
        for (const k of ["base", "ours", "theirs", "resolved"]) {
          if (e.oids[k] !== null) fs.writeFileSync(path.join(dir, k + ext(e.path)), blobs.get(e.oids[k]))
        }
        fs.writeFileSync(path.join(dir, "meta.json"), JSON.stringify(e, null, 1) + "\n")
        fs.writeFileSync(path.join(dir, "history.json"), JSON.stringify(sideHistory(git, e)) + "\n")
        written++
      }
    }
  } finally {
    git.dispose()
  }
  report.repos[repo] = { entries: list.length, written }
}
console.log(JSON.stringify(report, null, 1))
if (report.missingSnapshots.length > 0 || report.mismatches.length > 0) process.exitCode = 1
