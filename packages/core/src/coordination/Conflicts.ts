/**
 * Conflicts between branches: preview with `git merge-tree --write-tree` (no work tree is touched),
 * classification of each conflicted file (TRIVIAL / ADDITIVE / CONCURRENT_EDIT / STRUCTURAL / SEMANTIC),
 * hunk-level resolutions with calibrated confidence and an auto-apply tier (the engine in `conflicts/`),
 * applying one to a worktree, the top resolution per file for the landing queue, and rebase assistance.
 * Storage is {@link ConflictStore}; git plumbing `ConflictGit`; rebases `RebaseAssist`.
 *
 * Nothing here calls a model: classification and resolutions are deterministic algorithms, whose choice
 * between candidates was fitted on real merges (see docs/architecture.md, "Conflicts").
 *
 * @since 0.1.0
 */
import { FileSystem, Path } from "@effect/platform"
import { Clock, Context, Effect, Layer } from "effect"
import type { DbFailure } from "../platform/Database.js"
import { Git } from "../platform/Git.js"
import * as ConflictGit from "./ConflictGit.js"
import {
  type ApplyResult,
  type Conflict,
  ConflictError,
  type ConflictFailure,
  type ConflictNotFound,
  type DetectReport,
  type DetectRequest,
  type FileResolution,
  type HistoryFilter,
  type HunkDetail,
  type MergeResolution,
  type Preview,
  type PreviewFile,
  type PreviewRequest,
  type RebaseReport,
  type RebaseRequest,
  type RefInfo,
  type Suggestion,
  type SuggestionFilter
} from "./ConflictModel.js"
import { type BrokenUse, ConflictStore, contentOf, newId, type StoredConflict } from "./ConflictStore.js"
import * as RebaseAssist from "./RebaseAssist.js"
import { type Analysis, analyze, type Candidate, needsTypeScript } from "./conflicts/analysis.js"
import { unifiedDiff } from "./conflicts/diff.js"
import { type ConflictedPath, type GitConflictKind, guidanceFor } from "./conflicts/mergeTree.js"
import type { HunkDetail as EngineHunk } from "./conflicts/resolve.js"
import type { Ts } from "./conflicts/typescript.js"

export * from "./ConflictModel.js"

export class Conflicts extends Context.Tag("@parallel-cc/core/Conflicts")<Conflicts, {
  /** Would merging `theirs` into `ours` conflict, in which files? Reads objects only. */
  readonly preview: (req: PreviewRequest) => Effect.Effect<Preview, ConflictFailure>
  /** Classify every conflicted file (between two refs, or of a merge/rebase stopped in a worktree) and record them. */
  readonly detect: (req: DetectRequest) => Effect.Effect<DetectReport, ConflictFailure>
  /** Propose resolutions for a recorded conflict; with `worktree`, diffs are against that worktree's file. */
  readonly suggest: (req: { readonly conflictId: string; readonly worktree?: string | undefined }) => Effect.Effect<ReadonlyArray<Suggestion>, ConflictFailure>
  /** Write a suggestion's resolved file into a worktree, unless the file changed since the suggestion was made. */
  readonly apply: (req: { readonly suggestionId: string; readonly worktree: string; readonly sessionId?: string | undefined }) => Effect.Effect<ApplyResult, ConflictFailure>
  readonly get: (conflictId: string) => Effect.Effect<Conflict, ConflictNotFound | DbFailure>
  /**
   * Recorded conflicts, newest first. Open ones are checked first: a conflict whose worktree is gone or no
   * longer conflicted, or whose branches moved on or are gone, is closed (resolution "stale: …").
   */
  readonly history: (filter?: HistoryFilter) => Effect.Effect<ReadonlyArray<Conflict>, DbFailure>
  /** Suggestions, newest first; unapplied ones only while their conflict is open and their worktree exists. */
  readonly suggestions: (filter?: SuggestionFilter) => Effect.Effect<ReadonlyArray<Suggestion>, DbFailure>
  /**
   * For each file that conflicts when merging `theirs` (the candidate) into `ours` (the target), the top
   * resolution with whether it may be applied unattended (`autoApply`) and whether it resolves every hunk
   * (`complete`). Reads objects only; records nothing.
   */
  readonly resolveMerge: (req: PreviewRequest) => Effect.Effect<MergeResolution, ConflictFailure>
  /** Check whether rebasing a worktree's branch onto `onto` conflicts, or do it and report. */
  readonly rebaseAssist: (req: RebaseRequest) => Effect.Effect<RebaseReport, ConflictFailure>
}>() {}

const sha256 = (bytes: Uint8Array | null) =>
  bytes === null
    ? Effect.succeed("absent")
    : Effect.promise(() => globalThis.crypto.subtle.digest("SHA-256", bytes)).pipe(
      Effect.map((d) => [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, "0")).join(""))
    )

const bytesEqual = (a: Uint8Array | null, b: Uint8Array | null) =>
  a === null || b === null ? a === b : a.length === b.length && a.every((x, i) => x === b[i])

const toBase64 = (b: Uint8Array) => Buffer.from(b).toString("base64")
const dec = new TextDecoder()
const strictUtf8 = new TextDecoder("utf-8", { fatal: true })
const isUtf8 = (b: Uint8Array) => {
  try {
    strictUtf8.decode(b)
    return true
  } catch {
    return false
  }
}
/** Content kept as base64: NUL bytes, or not valid UTF-8 (as text, its bytes would not survive a round trip). */
const isBin = (c: Candidate) => c.content !== null && (c.content.includes(0) || !isUtf8(c.content))

const loadTypeScript: Effect.Effect<Ts> = Effect.promise(() => import("typescript")).pipe(
  Effect.map((m) => ((m as unknown as { default?: Ts }).default ?? (m as unknown as Ts)))
)

/** One conflicted path to analyse, with git's kind and guidance. */
type PathToAnalyse = ConflictedPath & { readonly kind: GitConflictKind; readonly guidance?: string }

/** The top resolution of one file of a preview for the landing queue (manual when the engine proposed none). */
const fileResolution = (f: PreviewFile, a: Analysis | undefined): FileResolution => {
  const best = a?.candidates[0]
  if (a === undefined || best === undefined) {
    return {
      path: f.path,
      gitKind: f.kind,
      type: "STRUCTURAL",
      reasons: [...f.messages],
      strategy: "manual",
      confidence: 0,
      autoApply: false,
      complete: false,
      parses: null,
      deletesFile: false,
      encoding: "utf8",
      resolvedContent: null,
      description: `no resolution proposed: ${f.guidance}`,
      hunks: []
    } satisfies FileResolution
  }
  const binary = isBin(best)
  return {
    path: f.path,
    gitKind: f.kind,
    type: a.classification.type,
    reasons: a.classification.reasons,
    strategy: best.strategy,
    confidence: best.confidence,
    autoApply: best.autoApply,
    complete: best.complete,
    parses: best.parses,
    deletesFile: best.content === null,
    encoding: binary ? "base64" : "utf8",
    resolvedContent: best.content === null ? null : binary ? toBase64(best.content) : dec.decode(best.content),
    description: best.description,
    hunks: best.hunks
  } satisfies FileResolution
}

// The engine run over git's objects: each conflicted path's three versions and its sides' history, for
// `detect` and `resolveMerge` (`analyzeAll`, `withCommits`) and for `suggest` (`reanalyse`).

/** Analyse each path's three versions (read with one cat-file), with what each side's history says about it. */
const analyzeAll = (
  cg: ConflictGit.ConflictGit,
  typescript: Effect.Effect<Ts>,
  cwd: string,
  paths: ReadonlyArray<PathToAnalyse>,
  sides: { readonly ours: RefInfo; readonly theirs: RefInfo; readonly mergeBase: string | null },
  broken: ReadonlyMap<string, ReadonlyArray<BrokenUse>> = new Map()
) =>
  Effect.gen(function*() {
    const oids = paths.flatMap((p) => [p.base?.oid, p.ours?.oid, p.theirs?.oid]).filter((x): x is string => x !== undefined)
    const blobs = yield* cg.readBlobs(cwd, oids)
    const ts = paths.some((p) => needsTypeScript(p.path)) ? yield* typescript : null
    return yield* Effect.forEach(paths, (p) =>
      Effect.gen(function*() {
        const context = p.ours !== null && p.theirs !== null
          ? yield* cg.sideContexts(cwd, sides.mergeBase, sides.ours.commit, sides.theirs.commit, p.path)
          : undefined
        const analysis = analyze(ts, {
          path: p.path,
          gitKind: p.kind,
          base: p.base ? blobs.get(p.base.oid)! : null,
          ours: p.ours ? blobs.get(p.ours.oid)! : null,
          theirs: p.theirs ? blobs.get(p.theirs.oid)! : null,
          oursLabel: sides.ours.ref,
          theirsLabel: sides.theirs.ref,
          brokenUses: broken.get(p.path),
          sides: context
        })
        return { path: p, analysis, blobs }
      }), { concurrency: 4 })
  })

/** The engine's hunks with the subjects of each side's commits that changed their lines. */
const withCommits = (
  cg: ConflictGit.ConflictGit,
  cwd: string,
  path: string,
  sides: { readonly ours: RefInfo; readonly theirs: RefInfo; readonly mergeBase: string | null },
  hunks: ReadonlyArray<EngineHunk>
) =>
  Effect.forEach(hunks, (h) =>
    Effect.gen(function*() {
      const ours = yield* cg.commitsTouching(cwd, sides.mergeBase, sides.ours.commit, path, h.at.ours.start, h.at.ours.lines)
      const theirs = yield* cg.commitsTouching(cwd, sides.mergeBase, sides.theirs.commit, path, h.at.theirs.start, h.at.theirs.lines)
      const { situation: _situation, ...rest } = h
      return { ...rest, commits: { ours, theirs } } satisfies HunkDetail
    }), { concurrency: 4 })

/** Re-analyse a recorded conflict from its blobs (and its sides' history). */
const reanalyse = (cg: ConflictGit.ConflictGit, typescript: Effect.Effect<Ts>, stored: StoredConflict) =>
  Effect.gen(function*() {
    const c = stored.conflict
    const blobs = yield* cg.readBlobs(c.repo, [stored.oids.base, stored.oids.ours, stored.oids.theirs].filter((x): x is string => x !== null))
    const ts = needsTypeScript(c.path) ? yield* typescript : null
    const context = stored.oids.ours !== null && stored.oids.theirs !== null
      ? yield* cg.sideContexts(c.repo, c.mergeBase, c.ours.commit, c.theirs.commit, c.path)
      : undefined
    const analysis: Analysis = analyze(ts, {
      path: c.path,
      gitKind: c.gitKind,
      base: stored.oids.base !== null ? blobs.get(stored.oids.base)! : null,
      ours: stored.oids.ours !== null ? blobs.get(stored.oids.ours)! : null,
      theirs: stored.oids.theirs !== null ? blobs.get(stored.oids.theirs)! : null,
      oursLabel: c.ours.ref,
      theirsLabel: c.theirs.ref,
      brokenUses: stored.brokenUses,
      sides: context
    })
    return { analysis, ours: stored.oids.ours !== null ? blobs.get(stored.oids.ours)! : null }
  })

// Worktree files, for `suggest` (diffs against the worktree's file) and `apply` (writes it): outside `make`,
// with the services they use as parameters, so that `make` stays a list of the operations it offers.

/** The worktree's top level, checked to belong to the repository of `repo`. */
const sameRepoWorktree = (cg: ConflictGit.ConflictGit, worktree: string, repo: string) =>
  Effect.gen(function*() {
    const loc = yield* cg.locate(worktree)
    if (loc.repo !== repo) {
      return yield* new ConflictError({ reason: "NotSameRepo", detail: `${worktree} belongs to ${loc.repo}, not to ${repo}` })
    }
    return loc.top
  })

/** Absolute path of `rel` inside `top`, refusing anything that resolves outside (symlinked folders). */
const fileIn = (fs: FileSystem.FileSystem, pathApi: Path.Path, top: string, rel: string) =>
  Effect.gen(function*() {
    const full = pathApi.resolve(top, rel)
    const parent = pathApi.dirname(full)
    const realTop = yield* fs.realPath(top).pipe(Effect.orElseSucceed(() => top))
    const realParent = yield* fs.realPath(parent).pipe(Effect.orElseSucceed(() => parent))
    const inside = (p: string) => p === realTop || p.startsWith(realTop + pathApi.sep)
    if (!inside(realParent) || pathApi.relative(top, full).startsWith("..")) {
      return yield* new ConflictError({ reason: "UnsafePath", detail: `${rel} resolves outside ${top}` })
    }
    // A file that is a symbolic link is only followed when it stays inside the worktree.
    const real = yield* fs.realPath(full).pipe(Effect.option)
    if (real._tag === "Some" && !inside(real.value)) {
      return yield* new ConflictError({ reason: "UnsafePath", detail: `${rel} is a link to ${real.value}, outside ${top}` })
    }
    return full
  })

const readMaybe = (fs: FileSystem.FileSystem, cg: ConflictGit.ConflictGit, file: string) =>
  fs.readFile(file).pipe(
    Effect.map((b): Uint8Array | null => b),
    Effect.catchIf((e) => e._tag === "SystemError" && e.reason === "NotFound", () => Effect.succeed(null)),
    Effect.mapError((e) => cg.gitFailed(`cannot read ${file}: ${e.message}`))
  )

/** Write `content` to `file` through a temporary file (keeping an existing file's mode), or delete it (null). */
const writeResolved = (
  fs: FileSystem.FileSystem,
  pathApi: Path.Path,
  cg: ConflictGit.ConflictGit,
  file: string,
  existed: boolean,
  content: Uint8Array | null
) =>
  Effect.gen(function*() {
    if (content === null) {
      yield* fs.remove(file).pipe(Effect.catchAll((e) => e._tag === "SystemError" && e.reason === "NotFound" ? Effect.void : Effect.fail(cg.gitFailed(`cannot delete ${file}: ${e.message}`))))
    } else {
      const mode = existed ? yield* fs.stat(file).pipe(Effect.map((i) => i.mode & 0o777), Effect.orElseSucceed(() => 0o644)) : 0o644
      yield* fs.makeDirectory(pathApi.dirname(file), { recursive: true }).pipe(Effect.mapError((e) => cg.gitFailed(e.message)))
      const tmp = `${file}.pcc-${newId("")}.tmp`
      yield* fs.writeFile(tmp, content, { mode }).pipe(
        Effect.zipRight(fs.chmod(tmp, mode)),
        Effect.zipRight(fs.rename(tmp, file)),
        Effect.tapError(() => fs.remove(tmp).pipe(Effect.ignore)),
        Effect.mapError((e) => cg.gitFailed(`cannot write ${file}: ${e.message}`))
      )
    }
  })

// Staleness of recorded conflicts, checked by `history` and `suggestions` before they list anything.

/** Why an open conflict no longer holds (null: it still does). */
const staleReason = (fs: FileSystem.FileSystem, git: Git["Type"], c: Conflict, refs: Map<string, string | null>) =>
  Effect.gen(function*() {
    if (!(yield* fs.exists(c.repo).pipe(Effect.orElseSucceed(() => false)))) return "the repository is gone"
    if (c.source === "worktree") {
      if (c.worktree === null) return null
      if (!(yield* fs.exists(c.worktree).pipe(Effect.orElseSucceed(() => false)))) return `its worktree ${c.worktree} is gone`
      const u = yield* git.run(c.worktree, ["ls-files", "-u", "--", c.path], { okExitCodes: [0, 128] }).pipe(Effect.orElseSucceed(() => ({ stdout: "x", exitCode: 0 })))
      return u.stdout.trim() === "" ? "no longer conflicted in its worktree" : null
    }
    for (const side of [c.ours, c.theirs]) {
      const key = `${c.repo}\0${side.ref}`
      if (!refs.has(key)) {
        const r = yield* git.run(c.repo, ["rev-parse", "--verify", "--quiet", "--end-of-options", `${side.ref}^{commit}`], { okExitCodes: [0, 1, 128] }).pipe(
          Effect.orElseSucceed(() => ({ exitCode: 1, stdout: "" }))
        )
        refs.set(key, r.exitCode === 0 ? r.stdout.trim() : null)
      }
      const now = refs.get(key)!
      if (now === null) return `${side.ref} no longer exists`
      if (now !== side.commit) return `${side.ref} moved on since (check again)`
    }
    return null
  })

/** Close open conflicts that no longer hold. */
const sweep = (fs: FileSystem.FileSystem, git: Git["Type"], store: ConflictStore["Type"], repo: string | undefined) =>
  Effect.gen(function*() {
    const open = yield* store.list({ repo, resolved: false, limit: 1000 })
    const refs = new Map<string, string | null>()
    const closed: Array<{ id: string; resolution: string }> = []
    for (const { conflict } of open) {
      const why = yield* staleReason(fs, git, conflict, refs)
      if (why !== null) closed.push({ id: conflict.id, resolution: `stale: ${why}` })
    }
    yield* store.close(closed, yield* Clock.currentTimeMillis)
  })

export const make = Effect.gen(function*() {
  const git = yield* Git
  const fs = yield* FileSystem.FileSystem
  const pathApi = yield* Path.Path
  const store = yield* ConflictStore
  const typescript = yield* Effect.cached(loadTypeScript)
  const cg = yield* ConflictGit.make(typescript)
  const rebaseAssist = yield* RebaseAssist.make(cg)
  const { brokenAcrossFiles, locate, previewAt, previewIn, stoppedMerge } = cg

  const preview = (req: PreviewRequest) =>
    previewAt(req.repo, req).pipe(Effect.map((pv) => pv.preview as Preview), Effect.withSpan("Conflicts.preview"))

  const detect = (req: DetectRequest) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const found = "worktree" in req
        ? { ...(yield* stoppedMerge(req.worktree)), source: "worktree" as const }
        : yield* Effect.gen(function*() {
          const loc = yield* locate(req.repo)
          const pv = yield* previewIn(loc.top, loc.repo, req)
          return {
            repo: loc.repo,
            cwd: loc.top,
            source: "refs" as const,
            ours: pv.preview.ours,
            theirs: pv.preview.theirs,
            mergeBase: pv.preview.mergeBase as string | null,
            paths: pv.preview.files.map((f) => ({ path: f.path, base: f.stages.base, ours: f.stages.ours, theirs: f.stages.theirs, kind: f.kind, guidance: f.guidance }))
          }
        })
      const { cwd, mergeBase, ours, repo, source, theirs } = found
      const paths: Array<PathToAnalyse> = [...found.paths]
      const broken = mergeBase !== null
        ? yield* brokenAcrossFiles(cwd, mergeBase, ours, theirs, new Set(paths.map((p) => p.path)))
        : new Map<string, { stages: Omit<ConflictedPath, "path">; uses: Array<BrokenUse> }>()
      for (const [path, b] of broken) {
        if (!paths.some((p) => p.path === path)) paths.push({ path, ...b.stages, kind: "clean" })
      }
      const sides = { ours, theirs, mergeBase }
      const analysed = yield* analyzeAll(cg, typescript, cwd, paths, sides, new Map([...broken].map(([k, v]) => [k, v.uses])))
      const conflicts: Array<Conflict> = []
      for (const { analysis, path: p } of analysed) {
        const c = analysis.classification
        const hunks = yield* withCommits(cg, cwd, p.path, sides, analysis.hunks)
        const stored = yield* store.record({
          repo,
          path: p.path,
          ours,
          theirs,
          mergeBase,
          source,
          worktree: source === "worktree" ? cwd : null,
          gitKind: p.kind,
          type: c.type,
          severity: c.severity,
          language: c.language,
          analyzer: c.analyzer,
          summary: c.summary,
          details: { reasons: c.reasons, symbols: c.symbols, regions: c.regions, guidance: p.guidance ?? guidanceFor(p.kind, p.path, ours.ref, theirs.ref), brokenUses: broken.get(p.path)?.uses ?? [], hunks },
          oids: { base: p.base?.oid ?? null, ours: p.ours?.oid ?? null, theirs: p.theirs?.oid ?? null },
          sessionId: req.sessionId ?? null
        }, now)
        conflicts.push(stored.conflict)
      }
      return { repo, ours, theirs, mergeBase, source, clean: conflicts.length === 0, conflicts } satisfies DetectReport
    }).pipe(Effect.withSpan("Conflicts.detect"))

  const suggest = (req: { readonly conflictId: string; readonly worktree?: string | undefined }) =>
    Effect.gen(function*() {
      const stored = yield* store.get(req.conflictId)
      const c = stored.conflict
      const { analysis, ours } = yield* reanalyse(cg, typescript, stored)
      let current: Uint8Array | null = ours
      let worktree: string | null = null
      if (req.worktree !== undefined) {
        worktree = yield* sameRepoWorktree(cg, req.worktree, c.repo)
        current = yield* readMaybe(fs, cg, yield* fileIn(fs, pathApi, worktree, c.path))
      }
      const diffOf = (x: Candidate) => {
        if (bytesEqual(x.content, current)) return ""
        if (x.content === null) return `--- a/${c.path}\n+++ /dev/null\n(file deleted)\n`
        if (isBin(x) || (current !== null && (current.includes(0) || !isUtf8(current)))) return `Binary files a/${c.path} and b/${c.path} differ\n`
        return unifiedDiff(current === null ? "" : dec.decode(current), dec.decode(x.content), { path: c.path })
      }
      return yield* store.replaceSuggestions(
        c.id,
        worktree,
        yield* sha256(current),
        analysis.candidates.map((x) => ({
          strategy: x.strategy,
          confidence: x.confidence,
          description: x.description,
          content: x.content,
          binary: isBin(x),
          parses: x.parses,
          autoApply: x.autoApply,
          complete: x.complete,
          hunks: x.hunks,
          diff: diffOf(x)
        })),
        yield* Clock.currentTimeMillis
      )
    }).pipe(Effect.withSpan("Conflicts.suggest"))

  const apply = (req: { readonly suggestionId: string; readonly worktree: string; readonly sessionId?: string | undefined }) =>
    Effect.gen(function*() {
      const s = yield* store.suggestion(req.suggestionId)
      const { conflict } = yield* store.get(s.conflictId)
      if (conflict.resolution?.startsWith("stale:") === true) {
        return yield* new ConflictError({ reason: "NotOpen", detail: `conflict ${conflict.id} on ${conflict.path} is closed (${conflict.resolution}); nothing was written` })
      }
      const top = yield* sameRepoWorktree(cg, req.worktree, conflict.repo)
      const file = yield* fileIn(fs, pathApi, top, conflict.path)
      return yield* store.transaction(Effect.gen(function*() {
        const fresh = yield* store.suggestion(req.suggestionId)
        if (fresh.appliedAt !== null) {
          return yield* new ConflictError({ reason: "AlreadyApplied", detail: `suggestion ${s.id} was applied at ${fresh.appliedAt} in ${fresh.appliedWorktree}` })
        }
        const current = yield* readMaybe(fs, cg, file)
        const hash = yield* sha256(current)
        if (hash !== s.currentHash) {
          return yield* new ConflictError({
            reason: "FileChanged",
            detail: `${conflict.path} in ${top} changed since suggestion ${s.id} was made (sha256 ${hash.slice(0, 12)}, expected ${s.currentHash.slice(0, 12)}); ` +
              `nothing was written. New suggestions against the file as it is now: \`parallel-cc suggestions --conflict ${conflict.id} --worktree ${/^[\w./@%+=:,-]+$/.test(top) ? top : JSON.stringify(top)}\``
          })
        }
        const content = contentOf(s)
        yield* writeResolved(fs, pathApi, cg, file, current !== null, content)
        const updated = yield* store.markApplied(s, top, req.sessionId ?? null, yield* Clock.currentTimeMillis)
        return {
          suggestion: updated,
          file,
          action: content === null ? "deleted" as const : "written" as const,
          nextSteps: [
            ...(s.complete ? [] : [`resolve the hunks left as conflict markers (<<<<<<< … >>>>>>>) in ${conflict.path}`]),
            `review the file: git -C ${top} diff -- ${conflict.path}`,
            content === null ? `stage the deletion: git -C ${top} rm --cached -- ${conflict.path}` : `stage it: git -C ${top} add -- ${conflict.path}`,
            "then continue the merge or rebase (git merge --continue / git rebase --continue), or commit"
          ]
        } satisfies ApplyResult
      }))
    }).pipe(Effect.withSpan("Conflicts.apply"))

  const repoOf = (dir: string | undefined) =>
    dir === undefined ? Effect.succeed(undefined) : locate(dir).pipe(Effect.map((l) => l.repo), Effect.orElseSucceed(() => dir))

  const history = (filter: HistoryFilter = {}) =>
    Effect.gen(function*() {
      const repo = yield* repoOf(filter.repo)
      if (filter.resolved !== true) yield* sweep(fs, git, store, repo)
      return (yield* store.list({ ...filter, repo })).map((x) => x.conflict)
    })

  const suggestions = (filter: SuggestionFilter = {}) =>
    Effect.gen(function*() {
      const repo = yield* repoOf(filter.repo)
      if (filter.applied !== true) yield* sweep(fs, git, store, repo)
      const list = yield* store.suggestions({ ...filter, repo, openOnly: filter.applied === false })
      if (filter.applied !== false) return list
      // Unapplied suggestions made against a worktree that is gone are no longer listed.
      const gone = new Set<string>()
      for (const w of new Set(list.map((s) => s.worktree).filter((w): w is string => w !== null))) {
        if (!(yield* fs.exists(w).pipe(Effect.orElseSucceed(() => false)))) gone.add(w)
      }
      return list.filter((s) => s.worktree === null || !gone.has(s.worktree))
    })

  const get = (id: string) => Effect.map(store.get(id), (s) => s.conflict)

  const resolveMerge = (req: PreviewRequest) =>
    Effect.gen(function*() {
      const { repo, top } = yield* locate(req.repo)
      const pv = (yield* previewIn(top, repo, req)).preview
      const withStages = pv.files.filter((f) => f.stages.ours !== null || f.stages.theirs !== null)
      const analysed = yield* analyzeAll(
        cg,
        typescript,
        top,
        withStages.map((f) => ({ path: f.path, base: f.stages.base, ours: f.stages.ours, theirs: f.stages.theirs, kind: f.kind })),
        { ours: pv.ours, theirs: pv.theirs, mergeBase: pv.mergeBase }
      )
      const files: Array<FileResolution> = pv.files.map((f) => fileResolution(f, analysed.find((x) => x.path.path === f.path)?.analysis))
      return {
        repo,
        ours: pv.ours,
        theirs: pv.theirs,
        mergeBase: pv.mergeBase,
        clean: pv.clean,
        autoApply: files.every((f) => f.autoApply),
        files
      } satisfies MergeResolution
    }).pipe(Effect.withSpan("Conflicts.resolveMerge"))

  return Conflicts.of({ preview, detect, suggest, apply, get, history, suggestions, resolveMerge, rebaseAssist })
})

/** Conflicts over Git, the conflict store and the platform's file system. */
export const layer = Layer.effect(Conflicts, make)
