/**
 * The git side of the conflict engine, over the object database only where it can be: locating a
 * repository, resolving refs, reading blobs in one `cat-file --batch`, previewing a merge with
 * `git merge-tree --write-tree`, the stages of a merge stopped in a worktree, names renamed in one file
 * and used in another, and what each side's history says about a conflicted file (its commits and
 * earlier versions, and the commits that changed a hunk's lines).
 *
 * @since 0.2.0
 */
import { CommandExecutor, Path } from "@effect/platform"
import { Effect } from "effect"
import { Git } from "../platform/Git.js"
import { execBytes } from "../platform/exec.js"
import { ConflictError, type PreviewFile, type PreviewRequest, type Preview, type RefInfo } from "./ConflictModel.js"
import type { BrokenUse } from "./ConflictStore.js"
import { type ConflictedPath, gitKindOf, guidanceFor, parseMergeTree } from "./conflicts/mergeTree.js"
import type { SideContext } from "./conflicts/resolve.js"
import { MAX_ANALYSED_BYTES } from "./conflicts/analysis.js"
import { exportedGone, identifierUses, isScriptFile, parseFile, type Ts, withParseCache } from "./conflicts/typescript.js"

const dec = new TextDecoder()

/** How many earlier versions of a conflicted file are read per side (the engine's history facts). */
const VERSIONS_PER_SIDE = 8

// Helpers that need no state of `make` (the unmerged stages of a stopped merge) or only the services
// passed to them (the cross-file check, the bulk of the git work of `detect`, reading both sides' trees):
// kept out of `make` so that it stays a short list of the plumbing it offers.

/** The unmerged stages of `git ls-files -u -z`, per path. */
const parseStages = (stdout: string): Array<ConflictedPath> => {
  const byPath = new Map<string, { base: ConflictedPath["base"]; ours: ConflictedPath["ours"]; theirs: ConflictedPath["theirs"] }>()
  for (const rec of stdout.split("\0").filter((x) => x !== "")) {
    const tab = rec.indexOf("\t")
    const [mode, oid, stage] = rec.slice(0, tab).split(" ")
    const p = rec.slice(tab + 1)
    const e = byPath.get(p) ?? { base: null, ours: null, theirs: null }
    const v = { mode: mode!, oid: oid! }
    if (stage === "1") e.base = v
    else if (stage === "2") e.ours = v
    else e.theirs = v
    byPath.set(p, e)
  }
  return [...byPath].map(([path, e]) => ({ path, ...e }))
}

/** `readBlobs` of {@link make}: each object's bytes, read with one `git cat-file --batch`. */
type ReadBlobs = (cwd: string, oids: ReadonlyArray<string>) => Effect.Effect<Map<string, Uint8Array>, ConflictError>

/**
 * Names one side renamed or deleted in a script file, whose uses the other side adds in a script file
 * (possibly one git merges cleanly): such a merge compiles to broken references.
 */
const brokenAcrossFiles = (
  git: Git["Type"],
  readBlobs: ReadBlobs,
  typescript: Effect.Effect<Ts>,
  cwd: string,
  mergeBase: string,
  ours: RefInfo,
  theirs: RefInfo,
  conflicted: ReadonlySet<string>
) =>
  Effect.gen(function*() {
    const out = new Map<string, { stages: Omit<ConflictedPath, "path">; uses: Array<BrokenUse> }>()
    const changed = (commit: string) =>
      git.run(cwd, ["diff", "--name-only", "-z", "--no-renames", mergeBase, commit]).pipe(
        Effect.map((r) => r.stdout.split("\0").filter((p) => p !== "" && isScriptFile(p) && !p.includes("\n")))
      )
    const sides = [{ info: ours, files: yield* changed(ours.commit) }, { info: theirs, files: yield* changed(theirs.commit) }]
    if (sides[0]!.files.length === 0 || sides[1]!.files.length === 0) return out
    const all = [...new Set([...sides[0]!.files, ...sides[1]!.files])]
    const lsTree = (commit: string) =>
      git.run(cwd, ["ls-tree", "-z", commit, "--", ...all]).pipe(Effect.map((r) => {
        const m = new Map<string, { mode: string; oid: string }>()
        for (const rec of r.stdout.split("\0").filter((x) => x !== "")) {
          const tab = rec.indexOf("\t")
          const [mode, type, oid] = rec.slice(0, tab).split(" ")
          if (type === "blob") m.set(rec.slice(tab + 1), { mode: mode!, oid: oid! })
        }
        return m
      }))
    const trees = { base: yield* lsTree(mergeBase), ours: yield* lsTree(ours.commit), theirs: yield* lsTree(theirs.commit) }
    const blobs = yield* readBlobs(cwd, [...trees.base.values(), ...trees.ours.values(), ...trees.theirs.values()].map((e) => e.oid))
    // A file too large for the engine to analyse is not parsed here either (a 2 MB file took a minute).
    const text = (e: { oid: string } | undefined) => {
      const b = e === undefined ? undefined : blobs.get(e.oid)
      return b === undefined || b.length > MAX_ANALYSED_BYTES ? null : new TextDecoder().decode(b)
    }
    const ts = yield* typescript
    // Each version is parsed once for both directions (`withParseCache`).
    withParseCache(() => usesOfGone(ts, sides, trees, text, conflicted, out))
    return out
  })

/** For each side, the names it renamed or deleted that the other side adds uses of in another file. */
const usesOfGone = (
  ts: Ts,
  sides: ReadonlyArray<{ readonly info: RefInfo; readonly files: ReadonlyArray<string> }>,
  trees: Record<"base" | "ours" | "theirs", Map<string, { mode: string; oid: string }>>,
  text: (e: { oid: string } | undefined) => string | null,
  conflicted: ReadonlySet<string>,
  out: Map<string, { stages: Omit<ConflictedPath, "path">; uses: Array<BrokenUse> }>
) => {
  for (const [x, y] of [[0, 1], [1, 0]] as const) {
    const tx = x === 0 ? trees.ours : trees.theirs
    const ty = y === 0 ? trees.ours : trees.theirs
    const gone: Array<{ name: string; to: string | null; file: string }> = []
    for (const f of sides[x]!.files) {
      const b = text(trees.base.get(f))
      const side = text(tx.get(f))
      if (b === null || side === null) continue
      for (const [name, to] of exportedGone(ts, f, b, side)) gone.push({ name, to, file: f })
    }
    if (gone.length === 0) continue
    const names = [...new Set(gone.map((g) => g.name))]
    for (const g of sides[y]!.files) {
      const after = text(ty.get(g))
      const inBase = trees.base.get(g)
      const before = inBase === undefined ? "" : text(inBase)
      if (after === null || before === null) continue
      const declaredHere = new Set(parseFile(ts, g, after).entities.map((e) => e.name))
      const was = identifierUses(ts, g, before, names)
      const now = identifierUses(ts, g, after, names)
      for (const u of gone) {
        if (declaredHere.has(u.name) || now.get(u.name)! <= was.get(u.name)!) continue
        // In the file that did the rename, the in-file analysis of a textual conflict covers it.
        if (u.file === g && conflicted.has(g)) continue
        const entry = out.get(g) ?? {
          stages: { base: trees.base.get(g) ?? null, ours: trees.ours.get(g) ?? null, theirs: trees.theirs.get(g) ?? null },
          uses: []
        }
        entry.uses.push({ name: u.name, to: u.to, file: u.file, by: sides[x]!.info.ref, usedBy: sides[y]!.info.ref })
        out.set(g, entry)
      }
    }
  }
}

const isRefHex = (ref: string) => /^[0-9a-f]{7,64}$/i.test(ref)
const isOid = (line: string) => /^[0-9a-f]{40}(?:[0-9a-f]{24})?$/.test(line)

/** The commit `ref` names in `cwd` (UnknownRef when it names none). */
const refOf = (git: Git["Type"], cwd: string, ref: string) =>
  Effect.gen(function*() {
    if (ref !== "HEAD" && !isRefHex(ref)) {
      yield* git.checkBranchName(ref).pipe(
        Effect.catchTag("InvalidInput", (e) => Effect.fail(new ConflictError({ reason: "UnknownRef", detail: e.message })))
      )
    }
    // git ≤ 2.39 merge-tree exits 1 for a bad ref, like a conflict: resolve every ref first.
    const r = yield* git.run(cwd, ["rev-parse", "--verify", "--quiet", "--end-of-options", `${ref}^{commit}`], {
      okExitCodes: [0, 1, 128]
    })
    if (r.exitCode !== 0) return yield* new ConflictError({ reason: "UnknownRef", detail: `${JSON.stringify(ref)} is not a commit in ${cwd}` })
    return r.stdout.trim()
  })

/**
 * One `rev-parse` for the outputs of `options` (one line each) followed by the commit of each ref; undefined
 * unless it gives exactly that (a bad ref, not a repository, a bare repository, a path with a line break):
 * the caller then asks one fact at a time as before, which names what is wrong with the same error. Refs go
 * in only when `checkBranchName` accepts them (or HEAD, or hexadecimal): never starting with '-', so they
 * need no `--end-of-options` (which `rev-parse` without `--verify` takes as an argument before git 2.43).
 */
const revParseAll = (git: Git["Type"], cwd: string, options: ReadonlyArray<string>, lines: number, refs: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    for (const ref of refs) {
      if (ref !== "HEAD" && !isRefHex(ref)) yield* git.checkBranchName(ref)
    }
    const r = yield* git.run(cwd, ["rev-parse", ...options, ...refs.map((ref) => `${ref}^{commit}`)], { okExitCodes: [0, 1, 128] })
    const out = r.stdout.split("\n")
    if (out.at(-1) === "") out.pop()
    if (r.exitCode !== 0 || out.length !== lines + refs.length || !out.slice(lines).every(isOid)) return undefined
    return out.map((l) => l.trim())
  }).pipe(Effect.orElseSucceed(() => undefined))

/** Both refs' commits with one `rev-parse`; when that fails, each ref on its own says which one is bad. */
const refsOf = (git: Git["Type"], cwd: string, a: string, b: string) =>
  Effect.gen(function*() {
    const both = yield* revParseAll(git, cwd, [], 0, [a, b])
    if (both !== undefined) return [both[0]!, both[1]!] as const
    return [yield* refOf(git, cwd, a), yield* refOf(git, cwd, b)] as const
  })

/** The repository's main directory (shared by all its worktrees) from its common dir. */
const repoOfCommon = (pathApi: Path.Path, common: string) => pathApi.basename(common) === ".git" ? pathApi.dirname(common) : common

/** The repository's main directory and the top level of `dir`, asked fact by fact. */
const locateIn = (git: Git["Type"], pathApi: Path.Path, dir: string) =>
  Effect.gen(function*() {
    const top = yield* git.toplevel(dir)
    const common = (yield* git.run(top, ["rev-parse", "--path-format=absolute", "--git-common-dir"])).stdout.trim()
    return { top, repo: repoOfCommon(pathApi, common), common }
  })

/** Git plumbing for conflicts; `typescript` loads the compiler (once) for the cross-file check. */
export const make = (typescript: Effect.Effect<Ts>) => Effect.gen(function*() {
  const git = yield* Git
  const pathApi = yield* Path.Path
  const executor = yield* CommandExecutor.CommandExecutor

  const gitFailed = (detail: string) => new ConflictError({ reason: "GitFailed", detail })

  const repoOf = (common: string) => repoOfCommon(pathApi, common)
  const locate = (dir: string) => locateIn(git, pathApi, dir)
  const resolveRef = (cwd: string, ref: string) => refOf(git, cwd, ref)

  const readBlobs = (cwd: string, oids: ReadonlyArray<string>) =>
    Effect.gen(function*() {
      const unique = [...new Set(oids)]
      const out = new Map<string, Uint8Array>()
      if (unique.length === 0) return out
      const r = yield* execBytes(["git", "cat-file", "--batch"], { cwd, env: { LC_ALL: "C" }, stdin: unique.join("\n") + "\n" }).pipe(
        Effect.provideService(CommandExecutor.CommandExecutor, executor),
        Effect.mapError((e) => gitFailed(`git cat-file failed: ${e.message}`))
      )
      if (r.exitCode !== 0) return yield* gitFailed(`git cat-file --batch exited ${r.exitCode}: ${r.stderr}`)
      const buf = r.stdout
      let at = 0
      for (const oid of unique) {
        let nl = at
        while (nl < buf.length && buf[nl] !== 10) nl++
        const header = dec.decode(buf.subarray(at, nl)).split(" ")
        if (header[1] === "missing" || header.length < 3) return yield* gitFailed(`object ${oid} is missing`)
        const size = Number(header[2])
        out.set(oid, buf.slice(nl + 1, nl + 1 + size))
        at = nl + 1 + size + 1
      }
      return out
    })

  /**
   * The preview of `req` in the top level `top` of repository `repo`; `commits` are the two refs' commits
   * when the caller resolved them already.
   */
  const previewIn = (top: string, repo: string, req: PreviewRequest, commits?: readonly [string, string]) =>
    Effect.gen(function*() {
      const [ours, theirs] = commits ?? (yield* refsOf(git, top, req.ours, req.theirs))
      // The merge base and the merge of the same two commits, side by side. A failed merge-tree is reported
      // after the merge base is checked (unrelated histories make both fail; their error names the cause).
      const [mb, tree] = yield* Effect.all([
        git.run(top, ["merge-base", ours, theirs], { okExitCodes: [0, 1] }),
        Effect.either(git.run(top, ["merge-tree", "--write-tree", "-z", ours, theirs], { okExitCodes: [0, 1] }))
      ], { concurrency: 2 })
      if (mb.exitCode !== 0) {
        return yield* new ConflictError({ reason: "UnrelatedHistories", detail: `${req.ours} and ${req.theirs} have no common ancestor` })
      }
      const r = yield* tree
      const parsed = parseMergeTree(r.stdout, r.exitCode === 1)
      const files: Array<PreviewFile> = parsed.paths.map((p) => {
        const kind = gitKindOf(p, parsed.messages)
        const msgs = parsed.messages.filter((m) => m.paths.includes(p.path) && m.type !== "Auto-merging")
        return {
          path: p.path,
          kind,
          otherPaths: [...new Set(msgs.flatMap((m) => m.paths).filter((x) => x !== p.path))],
          stages: { base: p.base, ours: p.ours, theirs: p.theirs },
          messages: msgs.map((m) => m.message),
          guidance: guidanceFor(kind, p.path, req.ours, req.theirs)
        }
      })
      // Conflicts without stages (e.g. rename/rename of a directory) still show in the messages.
      for (const m of parsed.messages) {
        if (!m.type.startsWith("CONFLICT") || m.paths.some((p) => files.some((f) => f.path === p))) continue
        files.push({
          path: m.paths[0] ?? "",
          kind: "other",
          otherPaths: m.paths.slice(1),
          stages: { base: null, ours: null, theirs: null },
          messages: [m.message],
          guidance: guidanceFor("other", m.paths[0] ?? "", req.ours, req.theirs)
        })
      }
      const clean = r.exitCode === 0
      const guidance = clean
        ? `${req.theirs} merges cleanly into ${req.ours}${ours === mb.stdout.trim() ? " (fast-forward)" : ""}`
        : `${files.length} file(s) would conflict when merging ${req.theirs} into ${req.ours}. ` +
          "Classify them and get resolutions with detect_advanced_conflicts / get_auto_fix_suggestions, " +
          `or coordinate with whoever works on ${req.ours} before rebasing.`
      return {
        preview: {
          repo,
          ours: { ref: req.ours, commit: ours },
          theirs: { ref: req.theirs, commit: theirs },
          mergeBase: mb.stdout.trim(),
          clean,
          tree: parsed.tree,
          files,
          guidance
        } satisfies Preview,
        paths: parsed.paths,
        messages: parsed.messages
      }
    })

  /**
   * The preview of `req` made in `dir`: top level, common dir and both commits from one `rev-parse`, asked
   * on every call (nothing is remembered); when it does not answer, fact by fact, with the same errors.
   */
  const previewAt = (dir: string, req: PreviewRequest) =>
    Effect.gen(function*() {
      const facts = yield* revParseAll(git, dir, ["--show-toplevel", "--path-format=absolute", "--git-common-dir"], 2, [req.ours, req.theirs])
      if (facts === undefined) {
        const { repo, top } = yield* locate(dir)
        return yield* previewIn(top, repo, req)
      }
      return yield* previewIn(facts[0]!, repoOf(facts[1]!), req, [facts[2]!, facts[3]!])
    })

  /** The conflicts left by a merge, rebase, cherry-pick or revert stopped in a worktree. */
  const stoppedMerge = (worktree: string) =>
    Effect.gen(function*() {
      const loc = yield* locate(worktree)
      const cwd = loc.top
      let other: { ref: string; commit: string } | undefined
      for (const ref of ["MERGE_HEAD", "REBASE_HEAD", "CHERRY_PICK_HEAD", "REVERT_HEAD"]) {
        const r = yield* git.run(cwd, ["rev-parse", "--verify", "--quiet", ref], { okExitCodes: [0, 1, 128] })
        if (r.exitCode === 0) {
          other = { ref, commit: r.stdout.trim().split("\n")[0]! }
          break
        }
      }
      const unmerged = yield* git.run(cwd, ["ls-files", "-u", "-z"])
      if (other === undefined || unmerged.stdout === "") {
        return yield* new ConflictError({ reason: "NoMergeInProgress", detail: `no merge, rebase or cherry-pick with conflicts is in progress in ${cwd}` })
      }
      // Name the sides after the branches they are the tips of, when they are (HEAD is detached in a rebase).
      const branchAt = (commit: string, fallback: string) =>
        git.run(cwd, ["name-rev", "--name-only", "--no-undefined", "--refs=refs/heads/*", commit], { okExitCodes: [0, 128] }).pipe(
          Effect.map((r) => {
            const name = r.stdout.trim()
            return r.exitCode === 0 && name !== "" && !/[~^]/.test(name) ? name : fallback
          })
        )
      const headCommit = yield* git.revParse(cwd, "HEAD")
      const ours = { ref: yield* branchAt(headCommit, "HEAD"), commit: headCommit }
      const theirs = { ref: yield* branchAt(other.commit, other.ref), commit: other.commit }
      const mb = yield* git.run(cwd, ["merge-base", ours.commit, theirs.commit], { okExitCodes: [0, 1] })
      const mergeBase = mb.exitCode === 0 ? mb.stdout.trim() : null
      const paths = parseStages(unmerged.stdout).map((p) => {
        const kind = gitKindOf(p, [])
        return { ...p, kind, guidance: guidanceFor(kind, p.path, ours.ref, theirs.ref) }
      })
      return { repo: loc.repo, cwd, ours, theirs, mergeBase, paths }
    })

  /** What each side's branch says about `path` since the merge base: its commits (newest first) and earlier versions. */
  const sideContexts = (cwd: string, mergeBase: string | null, ours: string, theirs: string, path: string) =>
    Effect.gen(function*() {
      if (mergeBase === null) return undefined
      const side = (tip: string) =>
        Effect.gen(function*() {
          const log = yield* git.run(cwd, ["log", "--format=%H%x00%ct%x00%s", "-n", "50", `${mergeBase}..${tip}`, "--", path])
          const commits = log.stdout.split("\n").filter((l) => l !== "").map((l) => {
            const [commit, time, subject] = l.split("\0")
            return { commit: commit!, time: Number(time), subject: subject ?? "" }
          })
          const check = yield* execBytes(["git", "cat-file", "--batch-check"], {
            cwd,
            env: { LC_ALL: "C" },
            stdin: commits.slice(1, 1 + VERSIONS_PER_SIDE).map((c) => `${c.commit}:${path}`).join("\n") + "\n"
          }).pipe(Effect.provideService(CommandExecutor.CommandExecutor, executor), Effect.orElseSucceed(() => ({ stdout: new Uint8Array(0) })))
          const oids = dec.decode(check.stdout).split("\n").filter((l) => / blob /.test(l)).map((l) => l.split(" ")[0]!)
          const blobs = yield* readBlobs(cwd, oids)
          return { commits: commits.map(({ subject, time }) => ({ subject, time })), versions: oids.map((o) => dec.decode(blobs.get(o)!)) } satisfies SideContext
        })
      return { ours: yield* side(ours), theirs: yield* side(theirs) }
    }).pipe(Effect.orElseSucceed(() => undefined))

  /** Subjects of the commits of `mergeBase..tip` that changed lines [start, start + count) of `path` at `tip` (newest first). */
  const commitsTouching = (cwd: string, mergeBase: string | null, tip: string, path: string, start: number, count: number) =>
    Effect.gen(function*() {
      if (mergeBase === null) return []
      const first = Math.max(1, start)
      const last = Math.max(first, start + Math.max(count, 1) - 1)
      const r = yield* git.run(cwd, ["log", "--no-patch", "--format=%s", `-L${first},${last}:${path}`, `${mergeBase}..${tip}`], { okExitCodes: [0, 128] })
      return r.exitCode === 0 ? r.stdout.split("\n").filter((l) => l !== "").slice(0, 5) : []
    }).pipe(Effect.orElseSucceed((): Array<string> => []))

  return {
    gitFailed,
    locate,
    resolveRef,
    readBlobs,
    previewIn,
    previewAt,
    parseStages,
    stoppedMerge,
    brokenAcrossFiles: (cwd: string, mergeBase: string, ours: RefInfo, theirs: RefInfo, conflicted: ReadonlySet<string>) =>
      brokenAcrossFiles(git, readBlobs, typescript, cwd, mergeBase, ours, theirs, conflicted),
    sideContexts,
    commitsTouching
  }
})

export type ConflictGit = Effect.Effect.Success<ReturnType<typeof make>>
