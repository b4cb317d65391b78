// Shared helpers of the conflict corpus scripts: git on a fetched snapshot (objects git writes go to a
// scratch object directory, so the snapshot itself is never modified), `git merge-tree -z` parsing, and the
// cache layout.
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")
export const manifestPath = path.join(root, "scripts/conflict-corpus/manifest.jsonl")
export const cacheDir = process.env.CONFLICT_CORPUS_DIR ?? path.join(root, ".cache/conflict-corpus")
export const mirrorsDir = process.env.CONFLICT_CORPUS_MIRRORS ?? "/work/.mirror"

/** Kept: scripts and JSON, the languages the engine targets. */
export const KEPT = /\.(ts|tsx|js|jsx|mjs|cjs|json)$/i
/** Generated or vendored files: conflicts there are resolved by regenerating, not merging. */
export const SKIPPED = /(^|\/)(package-lock\.json|npm-shrinkwrap\.json|yarn\.lock|pnpm-lock\.yaml)$|(^|\/)(dist|build|vendor|node_modules)\/|\.min\.js$|\.bundle\.js$/i
export const MAX_BYTES = 256 * 1024

/**
 * Repositories reserved for an independent evaluation are never mined: their owner/name, and (to keep
 * forks and mirrors out too) their bare name, as FNV-1a digests so that this file does not spell them out.
 */
const reservedFull = new Set(["117f804c", "3cbb6dc3", "e993dd7e", "d2e070ec", "77f44888", "92f91d64", "d738b9fa", "a184c037"])
const reservedName = new Set(["a48a688c", "c8caf167", "6cf7bb37", "6887a90e", "02bac966", "57ab65de", "6e6e8d54", "581bb82d"])
/** A short, stable digest of a name (FNV-1a, lower case). */
export const nameHash = (s) => {
  let h = 0x811c9dc5
  for (const c of Buffer.from(s.toLowerCase())) h = Math.imul(h ^ c, 0x01000193) >>> 0
  return h.toString(16).padStart(8, "0")
}
export const isReserved = (repo) => reservedFull.has(nameHash(repo)) || reservedName.has(nameHash(repo.split("/")[1] ?? ""))

export const mirrorOf = (repo) => path.join(mirrorsDir, repo.replace("/", "+"), "repo")

/** A git runner on a snapshot whose new objects go to a scratch directory. */
export const snapshotGit = (gitDir) => {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "pcc-corpus-objects-"))
  const env = {
    PATH: process.env.PATH,
    HOME: scratch,
    GIT_CONFIG_GLOBAL: "/dev/null",
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_DIR: gitDir,
    GIT_OBJECT_DIRECTORY: scratch,
    GIT_ALTERNATE_OBJECT_DIRECTORIES: path.join(gitDir, "objects"),
    GIT_AUTHOR_NAME: "corpus",
    GIT_AUTHOR_EMAIL: "corpus@example.com",
    GIT_COMMITTER_NAME: "corpus",
    GIT_COMMITTER_EMAIL: "corpus@example.com",
    LC_ALL: "C"
  }
  const run = (args, opts = {}) => {
    const r = spawnSync("git", args, { env, maxBuffer: 1 << 28, timeout: opts.timeout ?? 60_000, input: opts.input, encoding: opts.encoding ?? "utf8" })
    return { status: r.status, stdout: r.stdout, stderr: typeof r.stderr === "string" ? r.stderr : String(r.stderr ?? "") }
  }
  /** Blob contents by oid, with one `cat-file --batch`. */
  const blobs = (oids) => {
    const unique = [...new Set(oids)]
    const out = new Map()
    if (unique.length === 0) return out
    const r = spawnSync("git", ["cat-file", "--batch"], { env, input: unique.join("\n") + "\n", maxBuffer: 1 << 30 })
    const buf = r.stdout
    let at = 0
    for (const oid of unique) {
      let nl = at
      while (nl < buf.length && buf[nl] !== 10) nl++
      const header = buf.subarray(at, nl).toString("latin1").split(" ")
      if (header[1] === "missing") throw new Error(`object ${oid} is missing`)
      const size = Number(header[2])
      out.set(oid, buf.subarray(nl + 1, nl + 1 + size))
      at = nl + 1 + size + 1
    }
    return out
  }
  const dispose = () => fs.rmSync(scratch, { recursive: true, force: true })
  return { run, blobs, dispose, env }
}

/** `git merge-tree --write-tree -z` of two commits: conflicted paths with their stages, or null when it failed. */
export const mergeTree = (git, ours, theirs) => {
  const r = git.run(["merge-tree", "--write-tree", "-z", ours, theirs], { timeout: 120_000 })
  if (r.status !== 0 && r.status !== 1) return null
  const fields = r.stdout.split("\0")
  const byPath = new Map()
  let i = 1
  if (r.status === 1) {
    for (; i < fields.length && fields[i] !== ""; i++) {
      const rec = fields[i]
      const tab = rec.indexOf("\t")
      const [mode, oid, stage] = rec.slice(0, tab).split(" ")
      const p = rec.slice(tab + 1)
      const e = byPath.get(p) ?? { path: p, base: null, ours: null, theirs: null }
      e[stage === "1" ? "base" : stage === "2" ? "ours" : "theirs"] = { mode, oid }
      byPath.set(p, e)
    }
    i++
  }
  const messages = []
  while (i < fields.length) {
    const n = Number(fields[i])
    if (!Number.isInteger(n) || n <= 0) break
    messages.push({ paths: fields.slice(i + 1, i + 1 + n), type: fields[i + 1 + n] ?? "" })
    i += n + 3
  }
  return { tree: fields[0], paths: [...byPath.values()], messages }
}

export const readManifest = () =>
  fs.existsSync(manifestPath)
    ? fs.readFileSync(manifestPath, "utf8").split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l))
    : []

/** The folder of one case in the cache. */
export const caseDir = (entry) => path.join(cacheDir, entry.repo.replace("/", "+"), entry.id)

export const ext = (p) => (path.extname(p) || ".txt").toLowerCase()

/** Read a case back from the cache: { entry, base, ours, theirs, resolved } as strings (null when absent). */
export const readCase = (entry) => {
  const dir = caseDir(entry)
  const e = ext(entry.path)
  const read = (name) => {
    const f = path.join(dir, name + e)
    return fs.existsSync(f) ? fs.readFileSync(f, "utf8") : null
  }
  const hist = path.join(dir, "history.json")
  const history = fs.existsSync(hist) ? JSON.parse(fs.readFileSync(hist, "utf8")) : null
  return { entry, dir, base: read("base"), ours: read("ours"), theirs: read("theirs"), resolved: read("resolved"), history }
}

/** The split of the corpus by repository (scripts/conflict-corpus/split.json). */
export const readSplit = () => JSON.parse(fs.readFileSync(path.join(root, "scripts/conflict-corpus/split.json"), "utf8"))

/** Bundle a TypeScript module of the engine (and what it imports) for a script; the compiler stays external. */
export const bundle = async (entry) => {
  const esbuild = await import("esbuild")
  const out = path.join(os.tmpdir(), `pcc-engine-${process.pid}-${path.basename(entry, ".ts")}.mjs`)
  await esbuild.build({ entryPoints: [path.join(root, entry)], bundle: true, format: "esm", platform: "node", external: ["typescript"], outfile: out, logLevel: "error" })
  const mod = await import(out)
  fs.rmSync(out, { force: true })
  return mod
}
