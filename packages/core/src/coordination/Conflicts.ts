/**
 * Conflicts between branches: preview with `git merge-tree --write-tree` (no work tree is touched),
 * classification of each conflicted file (TRIVIAL / CONCURRENT_EDIT / STRUCTURAL / SEMANTIC, with the
 * TypeScript parser for scripts), proposed resolutions (each a whole resolved file with a diff and a
 * confidence), applying one to a worktree, and rebase assistance.
 *
 * Nothing here calls a model: classification and resolutions are deterministic algorithms.
 *
 * @since 0.1.0
 */
import { CommandExecutor, FileSystem, Path } from "@effect/platform"
import { Clock, Context, Effect, Layer, Schema } from "effect"
import { Database, type DbFailure } from "../platform/Database.js"
import { Git, type GitError } from "../platform/Git.js"
import { analyze, type BrokenUse, type Candidate, needsTypeScript } from "./conflicts/analysis.js"
import { unifiedDiff } from "./conflicts/diff.js"
import { type ConflictedPath, type GitConflictKind, gitKindOf, guidanceFor, parseMergeTree } from "./conflicts/mergeTree.js"
import { exportedGone, identifierUses, isScriptFile, parseFile, type Ts } from "./conflicts/typescript.js"
import { ConflictType, GitKind, Severity, Strategy } from "./conflicts/vocabulary.js"
import { execBytes } from "../platform/exec.js"

// ---------------------------------------------------------------------------------------------------
// Domain

export { ConflictType, GitKind, Severity, Strategy } from "./conflicts/vocabulary.js"

/** A ref as given and the commit it resolved to. */
export const RefInfo = Schema.Struct({ ref: Schema.String, commit: Schema.String })
export type RefInfo = typeof RefInfo.Type

const Stage = Schema.NullOr(Schema.Struct({ mode: Schema.String, oid: Schema.String }))

/** One conflicted path of a preview. */
export const PreviewFile = Schema.Struct({
  path: Schema.String,
  kind: GitKind,
  /** Other paths git mentions with this one (the old name of a rename). */
  otherPaths: Schema.Array(Schema.String),
  stages: Schema.Struct({ base: Stage, ours: Stage, theirs: Stage }),
  messages: Schema.Array(Schema.String),
  guidance: Schema.String
})
export type PreviewFile = typeof PreviewFile.Type

/** Whether merging `theirs` into `ours` (or rebasing `theirs` onto `ours`) conflicts, and where. */
export const Preview = Schema.Struct({
  repo: Schema.String,
  ours: RefInfo,
  theirs: RefInfo,
  mergeBase: Schema.String,
  clean: Schema.Boolean,
  /** The merged tree git computed (with conflict markers in conflicted files). */
  tree: Schema.String,
  files: Schema.Array(PreviewFile),
  guidance: Schema.String
})
export type Preview = typeof Preview.Type

export const SymbolChange = Schema.Struct({ symbol: Schema.String, ours: Schema.String, theirs: Schema.String })

/** A classified conflict in one file, as recorded. */
export const Conflict = Schema.Struct({
  id: Schema.String,
  repo: Schema.String,
  path: Schema.String,
  ours: RefInfo,
  theirs: RefInfo,
  mergeBase: Schema.NullOr(Schema.String),
  source: Schema.Literal("refs", "worktree"),
  gitKind: GitKind,
  type: ConflictType,
  severity: Severity,
  language: Schema.String,
  analyzer: Schema.String,
  summary: Schema.String,
  reasons: Schema.Array(Schema.String),
  symbols: Schema.Array(SymbolChange),
  regions: Schema.Number,
  guidance: Schema.String,
  sessionId: Schema.NullOr(Schema.String),
  detectedAt: Schema.String,
  resolvedAt: Schema.NullOr(Schema.String),
  resolution: Schema.NullOr(Schema.String)
})
export type Conflict = typeof Conflict.Type

export const DetectReport = Schema.Struct({
  repo: Schema.String,
  ours: RefInfo,
  theirs: RefInfo,
  mergeBase: Schema.NullOr(Schema.String),
  source: Schema.Literal("refs", "worktree"),
  clean: Schema.Boolean,
  conflicts: Schema.Array(Conflict)
})
export type DetectReport = typeof DetectReport.Type

/** A proposed resolution: the whole resolved file, and its diff against the file as it was. */
export const Suggestion = Schema.Struct({
  id: Schema.String,
  conflictId: Schema.String,
  path: Schema.String,
  strategy: Strategy,
  confidence: Schema.Number,
  description: Schema.String,
  /** Whether the resolved file parses (scripts, JSON); null when not checked. */
  parses: Schema.NullOr(Schema.Boolean),
  deletesFile: Schema.Boolean,
  encoding: Schema.Literal("utf8", "base64"),
  resolvedContent: Schema.NullOr(Schema.String),
  diff: Schema.String,
  /** sha256 of the file the diff is against ("absent" when it did not exist). */
  currentHash: Schema.String,
  worktree: Schema.NullOr(Schema.String),
  createdAt: Schema.String,
  appliedAt: Schema.NullOr(Schema.String),
  appliedWorktree: Schema.NullOr(Schema.String)
})
export type Suggestion = typeof Suggestion.Type

export const ApplyResult = Schema.Struct({
  suggestion: Suggestion,
  file: Schema.String,
  action: Schema.Literal("written", "deleted"),
  nextSteps: Schema.Array(Schema.String)
})
export type ApplyResult = typeof ApplyResult.Type

export const RebaseReport = Schema.Struct({
  worktree: Schema.String,
  branch: Schema.NullOr(Schema.String),
  onto: RefInfo,
  head: Schema.String,
  mode: Schema.Literal("check", "perform"),
  status: Schema.Literal("up-to-date", "clean", "conflicts", "rebased", "stopped", "aborted"),
  /** Commits of the branch that a rebase replays, oldest first. */
  commits: Schema.Array(Schema.Struct({ commit: Schema.String, subject: Schema.String })),
  behind: Schema.Number,
  conflicts: Schema.Array(PreviewFile),
  newHead: Schema.NullOr(Schema.String),
  stoppedAt: Schema.NullOr(Schema.String),
  message: Schema.String,
  nextSteps: Schema.Array(Schema.String)
})
export type RebaseReport = typeof RebaseReport.Type

/** The top resolution of one conflicted file of a merge, as the landing queue consumes it. */
export const FileResolution = Schema.Struct({
  path: Schema.String,
  gitKind: GitKind,
  type: ConflictType,
  reasons: Schema.Array(Schema.String),
  strategy: Strategy,
  confidence: Schema.Number,
  /** Safe to apply without a person: only for kinds of resolution measured ≥ 95 % exact on real merges. */
  autoApply: Schema.Boolean,
  /** Every conflicting hunk is resolved (false: unresolved hunks are left as diff3 conflict markers). */
  complete: Schema.Boolean,
  parses: Schema.NullOr(Schema.Boolean),
  deletesFile: Schema.Boolean,
  encoding: Schema.Literal("utf8", "base64"),
  /** The whole resolved file (null when the resolution deletes it). */
  resolvedContent: Schema.NullOr(Schema.String),
  description: Schema.String
})
export type FileResolution = typeof FileResolution.Type

/** Resolutions of every file that conflicts when merging `theirs` into `ours`. Nothing is recorded or written. */
export const MergeResolution = Schema.Struct({
  repo: Schema.String,
  ours: RefInfo,
  theirs: RefInfo,
  mergeBase: Schema.String,
  /** git merges the two cleanly: no file needs resolving. */
  clean: Schema.Boolean,
  /** Every conflicted file has a resolution with `autoApply: true` (false when clean is false and any file lacks one). */
  autoApply: Schema.Boolean,
  files: Schema.Array(FileResolution)
})
export type MergeResolution = typeof MergeResolution.Type

// ---------------------------------------------------------------------------------------------------
// Errors

export class ConflictError extends Schema.TaggedError<ConflictError>()("ConflictError", {
  reason: Schema.Literal(
    "UnknownRef",
    "UnrelatedHistories",
    "NotSameRepo",
    "FileChanged",
    "AlreadyApplied",
    "NoMergeInProgress",
    "DirtyWorktree",
    "RebaseInProgress",
    "UnsafePath",
    "GitFailed"
  ),
  detail: Schema.String
}) {
  override get message(): string {
    const hint = {
      UnknownRef: "check the branch or commit name (git branch -a)",
      UnrelatedHistories: "the two branches share no commit; they cannot be merged or rebased onto each other",
      NotSameRepo: "pass a worktree of the repository the conflict was found in",
      FileChanged: "ask for new suggestions (get_auto_fix_suggestions / parallel-cc suggestions) and apply one of those",
      AlreadyApplied: "this suggestion was applied already; see `parallel-cc suggestions --applied`",
      NoMergeInProgress: "start the merge or rebase first, or compare two branches instead",
      DirtyWorktree: "commit or stash the changes first",
      RebaseInProgress: "finish it with `git rebase --continue` or undo it with `git rebase --abort`",
      UnsafePath: "the file must be inside the worktree",
      GitFailed: "run the git command by hand to see what it says"
    }[this.reason]
    return `${this.detail} (${hint})`
  }
}

/** No conflict or suggestion with this id. */
export class ConflictNotFound extends Schema.TaggedError<ConflictNotFound>()("ConflictNotFound", {
  what: Schema.Literal("conflict", "suggestion"),
  id: Schema.String
}) {
  override get message(): string {
    return `no ${this.what} with id ${this.id}; list them with \`parallel-cc ${this.what === "conflict" ? "conflicts" : "suggestions"}\``
  }
}

export type ConflictFailure = ConflictError | ConflictNotFound | GitError | DbFailure

// ---------------------------------------------------------------------------------------------------
// Requests

export interface PreviewRequest {
  /** Any directory inside the repository (or one of its worktrees). */
  readonly repo: string
  /** The branch merged into (or rebased onto): git's "ours". */
  readonly ours: string
  /** The branch being merged (or rebased): git's "theirs". */
  readonly theirs: string
}

export type DetectRequest =
  | (PreviewRequest & { readonly sessionId?: string | undefined })
  | { readonly worktree: string; readonly sessionId?: string | undefined }

export interface HistoryFilter {
  readonly repo?: string | undefined
  readonly type?: ConflictType | undefined
  readonly resolved?: boolean | undefined
  readonly path?: string | undefined
  readonly limit?: number | undefined
}

export interface SuggestionFilter {
  readonly repo?: string | undefined
  readonly conflictId?: string | undefined
  readonly minConfidence?: number | undefined
  readonly applied?: boolean | undefined
  readonly limit?: number | undefined
}

export interface RebaseRequest {
  readonly worktree: string
  readonly onto: string
  readonly mode: "check" | "perform"
  /** After a conflicting `perform`: leave the rebase stopped for resolution (default) or abort it. */
  readonly onConflict?: "stop" | "abort" | undefined
}

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
  readonly history: (filter?: HistoryFilter) => Effect.Effect<ReadonlyArray<Conflict>, DbFailure>
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

// ---------------------------------------------------------------------------------------------------
// Implementation

const alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
const newId = (prefix: string) => {
  const bytes = new Uint8Array(10)
  globalThis.crypto.getRandomValues(bytes)
  let id = prefix
  for (const b of bytes) id += alphabet[b % 36]
  return id
}

const sha256 = (bytes: Uint8Array | null) =>
  bytes === null
    ? Effect.succeed("absent")
    : Effect.promise(() => globalThis.crypto.subtle.digest("SHA-256", bytes)).pipe(
      Effect.map((d) => [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, "0")).join(""))
    )

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString())

const bytesEqual = (a: Uint8Array | null, b: Uint8Array | null) =>
  a === null || b === null ? a === b : a.length === b.length && a.every((x, i) => x === b[i])

const toBase64 = (b: Uint8Array) => Buffer.from(b).toString("base64")
const dec = new TextDecoder()

interface ConflictRow {
  readonly id: string
  readonly repo_path: string
  readonly path: string
  readonly ours_ref: string
  readonly ours_commit: string
  readonly theirs_ref: string
  readonly theirs_commit: string
  readonly merge_base: string | null
  readonly source: "refs" | "worktree"
  readonly git_kind: string
  readonly conflict_type: ConflictType
  readonly severity: Severity
  readonly language: string
  readonly analyzer: string
  readonly summary: string
  readonly details: string
  readonly base_oid: string | null
  readonly ours_oid: string | null
  readonly theirs_oid: string | null
  readonly session_id: string | null
  readonly detected_at: number
  readonly resolved_at: number | null
  readonly resolution: string | null
}

interface SuggestionRow {
  readonly id: string
  readonly conflict_id: string
  readonly path: string
  readonly strategy: Strategy
  readonly confidence: number
  readonly description: string
  readonly content: Uint8Array | null
  readonly is_binary: number
  readonly parses: number | null
  readonly diff: string
  readonly worktree_path: string | null
  readonly current_hash: string
  readonly created_at: number
  readonly applied_at: number | null
  readonly applied_worktree: string | null
}

const toConflict = (r: ConflictRow): Conflict => {
  const d = JSON.parse(r.details) as { reasons: Array<string>; symbols: Array<typeof SymbolChange.Type>; regions: number; guidance: string }
  return {
    id: r.id,
    repo: r.repo_path,
    path: r.path,
    ours: { ref: r.ours_ref, commit: r.ours_commit },
    theirs: { ref: r.theirs_ref, commit: r.theirs_commit },
    mergeBase: r.merge_base,
    source: r.source,
    gitKind: r.git_kind as GitConflictKind,
    type: r.conflict_type,
    severity: r.severity,
    language: r.language,
    analyzer: r.analyzer,
    summary: r.summary,
    reasons: d.reasons,
    symbols: d.symbols,
    regions: d.regions,
    guidance: d.guidance,
    sessionId: r.session_id,
    detectedAt: iso(r.detected_at)!,
    resolvedAt: iso(r.resolved_at),
    resolution: r.resolution
  }
}

const toSuggestion = (r: SuggestionRow): Suggestion => {
  const content = r.content === null ? null : new Uint8Array(r.content)
  return {
    id: r.id,
    conflictId: r.conflict_id,
    path: r.path,
    strategy: r.strategy,
    confidence: r.confidence,
    description: r.description,
    parses: r.parses === null ? null : r.parses === 1,
    deletesFile: content === null,
    encoding: r.is_binary === 1 ? "base64" : "utf8",
    resolvedContent: content === null ? null : r.is_binary === 1 ? toBase64(content) : dec.decode(content),
    diff: r.diff,
    currentHash: r.current_hash,
    worktree: r.worktree_path,
    createdAt: iso(r.created_at)!,
    appliedAt: iso(r.applied_at),
    appliedWorktree: r.applied_worktree
  }
}

const loadTypeScript: Effect.Effect<Ts> = Effect.promise(() => import("typescript")).pipe(
  Effect.map((m) => ((m as unknown as { default?: Ts }).default ?? (m as unknown as Ts)))
)

export const make = Effect.gen(function*() {
  const git = yield* Git
  const db = yield* Database
  const fs = yield* FileSystem.FileSystem
  const pathApi = yield* Path.Path
  const executor = yield* CommandExecutor.CommandExecutor
  const sql = db.sql
  const typescript = yield* Effect.cached(loadTypeScript)

  const gitFailed = (detail: string) => new ConflictError({ reason: "GitFailed", detail })

  /** The repository's main directory (shared by all its worktrees) and the top level of `dir`. */
  const locate = (dir: string) =>
    Effect.gen(function*() {
      const top = yield* git.toplevel(dir)
      const common = (yield* git.run(top, ["rev-parse", "--path-format=absolute", "--git-common-dir"])).stdout.trim()
      const repo = pathApi.basename(common) === ".git" ? pathApi.dirname(common) : common
      return { top, repo, common }
    })

  const resolveRef = (cwd: string, ref: string) =>
    Effect.gen(function*() {
      if (ref !== "HEAD" && !/^[0-9a-f]{7,64}$/i.test(ref)) {
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

  const previewIn = (top: string, repo: string, req: PreviewRequest) =>
    Effect.gen(function*() {
      const ours = yield* resolveRef(top, req.ours)
      const theirs = yield* resolveRef(top, req.theirs)
      const mb = yield* git.run(top, ["merge-base", ours, theirs], { okExitCodes: [0, 1] })
      if (mb.exitCode !== 0) {
        return yield* new ConflictError({ reason: "UnrelatedHistories", detail: `${req.ours} and ${req.theirs} have no common ancestor` })
      }
      const r = yield* git.run(top, ["merge-tree", "--write-tree", "-z", ours, theirs], { okExitCodes: [0, 1] })
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

  const preview = (req: PreviewRequest) =>
    Effect.gen(function*() {
      const { repo, top } = yield* locate(req.repo)
      return (yield* previewIn(top, repo, req)).preview
    }).pipe(Effect.withSpan("Conflicts.preview"))

  const analyzeAll = (
    cwd: string,
    paths: ReadonlyArray<ConflictedPath & { kind: GitConflictKind }>,
    labels: [string, string],
    broken: ReadonlyMap<string, ReadonlyArray<BrokenUse>> = new Map()
  ) =>
    Effect.gen(function*() {
      const oids = paths.flatMap((p) => [p.base?.oid, p.ours?.oid, p.theirs?.oid]).filter((x): x is string => x !== undefined)
      const blobs = yield* readBlobs(cwd, oids)
      const ts = paths.some((p) => needsTypeScript(p.path)) ? yield* typescript : null
      return paths.map((p) => ({
        path: p,
        analysis: analyze(ts, {
          path: p.path,
          gitKind: p.kind,
          base: p.base ? blobs.get(p.base.oid)! : null,
          ours: p.ours ? blobs.get(p.ours.oid)! : null,
          theirs: p.theirs ? blobs.get(p.theirs.oid)! : null,
          oursLabel: labels[0],
          theirsLabel: labels[1],
          brokenUses: broken.get(p.path)
        }),
        blobs
      }))
    })

  const conflictRows = (effect: Effect.Effect<ReadonlyArray<unknown>, any>) =>
    db.orFail(effect).pipe(Effect.map((rows) => (rows as ReadonlyArray<ConflictRow>).map(toConflict)))

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

  /**
   * Names one side renamed or deleted in a script file, whose uses the other side adds in a script file
   * (possibly one git merges cleanly): such a merge compiles to broken references.
   */
  const brokenAcrossFiles = (cwd: string, mergeBase: string, ours: RefInfo, theirs: RefInfo, conflicted: ReadonlySet<string>) =>
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
      const text = (e: { oid: string } | undefined) => (e === undefined ? null : new TextDecoder().decode(blobs.get(e.oid)!))
      const ts = yield* typescript
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
          if (after === null) continue
          const before = text(trees.base.get(g)) ?? ""
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
      return out
    })

  const detect = (req: DetectRequest) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      let repo: string
      let cwd: string
      let ours: RefInfo
      let theirs: RefInfo
      let mergeBase: string | null
      let source: "refs" | "worktree"
      let paths: Array<ConflictedPath & { kind: GitConflictKind; guidance: string }>
      if ("worktree" in req) {
        const loc = yield* locate(req.worktree)
        repo = loc.repo
        cwd = loc.top
        source = "worktree"
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
        ours = { ref: yield* branchAt(headCommit, "HEAD"), commit: headCommit }
        theirs = { ref: yield* branchAt(other.commit, other.ref), commit: other.commit }
        const mb = yield* git.run(cwd, ["merge-base", ours.commit, theirs.commit], { okExitCodes: [0, 1] })
        mergeBase = mb.exitCode === 0 ? mb.stdout.trim() : null
        paths = parseStages(unmerged.stdout).map((p) => {
          const kind = gitKindOf(p, [])
          return { ...p, kind, guidance: guidanceFor(kind, p.path, ours.ref, theirs.ref) }
        })
      } else {
        const loc = yield* locate(req.repo)
        repo = loc.repo
        cwd = loc.top
        source = "refs"
        const pv = yield* previewIn(cwd, repo, req)
        ours = pv.preview.ours
        theirs = pv.preview.theirs
        mergeBase = pv.preview.mergeBase
        paths = pv.preview.files.map((f) => ({ path: f.path, base: f.stages.base, ours: f.stages.ours, theirs: f.stages.theirs, kind: f.kind, guidance: f.guidance }))
      }
      const broken = mergeBase !== null
        ? yield* brokenAcrossFiles(cwd, mergeBase, ours, theirs, new Set(paths.map((p) => p.path)))
        : new Map<string, { stages: Omit<ConflictedPath, "path">; uses: Array<BrokenUse> }>()
      for (const [path, b] of broken) {
        if (paths.some((p) => p.path === path)) continue
        paths.push({ path, ...b.stages, kind: "clean", guidance: guidanceFor("clean", path, ours.ref, theirs.ref) })
      }
      const analysed = yield* analyzeAll(cwd, paths, [ours.ref, theirs.ref], new Map([...broken].map(([k, v]) => [k, v.uses])))
      const conflicts: Array<Conflict> = []
      for (const { path: p, analysis } of analysed) {
        const c = analysis.classification
        const guidance = (p as { guidance?: string }).guidance ?? ""
        const details = JSON.stringify({ reasons: c.reasons, symbols: c.symbols, regions: c.regions, guidance, brokenUses: broken.get(p.path)?.uses ?? [] })
        const rows = yield* db.orFail(sql`
          INSERT INTO conflicts ${
          sql.insert({
            id: newId("cf"),
            repo_path: repo,
            path: p.path,
            ours_ref: ours.ref,
            ours_commit: ours.commit,
            theirs_ref: theirs.ref,
            theirs_commit: theirs.commit,
            merge_base: mergeBase,
            source,
            git_kind: p.kind,
            conflict_type: c.type,
            severity: c.severity,
            language: c.language,
            analyzer: c.analyzer,
            summary: c.summary,
            details,
            base_oid: p.base?.oid ?? null,
            ours_oid: p.ours?.oid ?? null,
            theirs_oid: p.theirs?.oid ?? null,
            session_id: req.sessionId ?? null,
            detected_at: now
          })
        }
          ON CONFLICT (repo_path, ours_commit, theirs_commit, path) DO UPDATE SET
            source = excluded.source, git_kind = excluded.git_kind,
            conflict_type = excluded.conflict_type, severity = excluded.severity, language = excluded.language,
            analyzer = excluded.analyzer, summary = excluded.summary, details = excluded.details,
            base_oid = excluded.base_oid, ours_oid = excluded.ours_oid, theirs_oid = excluded.theirs_oid,
            session_id = COALESCE(excluded.session_id, conflicts.session_id), detected_at = excluded.detected_at
          RETURNING *`)
        conflicts.push(toConflict(rows[0] as unknown as ConflictRow))
      }
      return { repo, ours, theirs, mergeBase, source, clean: conflicts.length === 0, conflicts } satisfies DetectReport
    }).pipe(Effect.withSpan("Conflicts.detect"))

  const getRow = (id: string) =>
    db.orFail(sql`SELECT * FROM conflicts WHERE id = ${id}`).pipe(
      Effect.flatMap((rows) =>
        rows.length === 0 ? Effect.fail(new ConflictNotFound({ what: "conflict", id })) : Effect.succeed(rows[0] as unknown as ConflictRow)
      )
    )

  const get = (id: string) => Effect.map(getRow(id), toConflict)

  /** The worktree's top level, checked to belong to the repository of `repo`. */
  const sameRepoWorktree = (worktree: string, repo: string) =>
    Effect.gen(function*() {
      const loc = yield* locate(worktree)
      if (loc.repo !== repo) {
        return yield* new ConflictError({ reason: "NotSameRepo", detail: `${worktree} belongs to ${loc.repo}, not to ${repo}` })
      }
      return loc.top
    })

  /** Absolute path of `rel` inside `top`, refusing anything that resolves outside (symlinked folders). */
  const fileIn = (top: string, rel: string) =>
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

  const readMaybe = (file: string) =>
    fs.readFile(file).pipe(
      Effect.map((b): Uint8Array | null => b),
      Effect.catchIf((e) => e._tag === "SystemError" && e.reason === "NotFound", () => Effect.succeed(null)),
      Effect.mapError((e) => gitFailed(`cannot read ${file}: ${e.message}`))
    )

  const suggest = (req: { readonly conflictId: string; readonly worktree?: string | undefined }) =>
    Effect.gen(function*() {
      const row = yield* getRow(req.conflictId)
      const cwd = row.repo_path
      const blobs = yield* readBlobs(cwd, [row.base_oid, row.ours_oid, row.theirs_oid].filter((x): x is string => x !== null))
      const ts = needsTypeScript(row.path) ? yield* typescript : null
      const analysis = analyze(ts, {
        path: row.path,
        gitKind: row.git_kind as GitConflictKind,
        base: row.base_oid !== null ? blobs.get(row.base_oid)! : null,
        ours: row.ours_oid !== null ? blobs.get(row.ours_oid)! : null,
        theirs: row.theirs_oid !== null ? blobs.get(row.theirs_oid)! : null,
        oursLabel: row.ours_ref,
        theirsLabel: row.theirs_ref,
        brokenUses: (JSON.parse(row.details) as { brokenUses?: Array<BrokenUse> }).brokenUses
      })
      let current: Uint8Array | null = row.ours_oid !== null ? blobs.get(row.ours_oid)! : null
      let worktree: string | null = null
      if (req.worktree !== undefined) {
        worktree = yield* sameRepoWorktree(req.worktree, row.repo_path)
        current = yield* readMaybe(yield* fileIn(worktree, row.path))
      }
      const currentHash = yield* sha256(current)
      const now = yield* Clock.currentTimeMillis
      const isBin = (c: Candidate) => c.content !== null && c.content.includes(0)
      const diffOf = (c: Candidate) => {
        if (bytesEqual(c.content, current)) return ""
        if (c.content === null) return `--- a/${row.path}\n+++ /dev/null\n(file deleted)\n`
        if (isBin(c) || (current !== null && current.includes(0))) return `Binary files a/${row.path} and b/${row.path} differ\n`
        return unifiedDiff(current === null ? "" : dec.decode(current), dec.decode(c.content), { path: row.path })
      }
      return yield* db.immediate(Effect.gen(function*() {
        yield* sql`DELETE FROM conflict_suggestions WHERE conflict_id = ${row.id} AND applied_at IS NULL AND worktree_path IS ${worktree}`
        const out: Array<Suggestion> = []
        for (const c of analysis.candidates) {
          const rows = yield* sql`INSERT INTO conflict_suggestions ${
            sql.insert({
              id: newId("sg"),
              conflict_id: row.id,
              strategy: c.strategy,
              confidence: c.confidence,
              description: c.description,
              content: c.content === null ? null : Buffer.from(c.content),
              is_binary: isBin(c) ? 1 : 0,
              parses: c.parses === null ? null : c.parses ? 1 : 0,
              diff: diffOf(c),
              worktree_path: worktree,
              current_hash: currentHash,
              created_at: now
            })
          } RETURNING *`
          out.push(toSuggestion({ ...(rows[0] as unknown as SuggestionRow), path: row.path }))
        }
        return out
      }))
    }).pipe(Effect.withSpan("Conflicts.suggest"))

  const getSuggestionRow = (id: string) =>
    db.orFail(sql`SELECT s.*, c.path AS path FROM conflict_suggestions s JOIN conflicts c ON c.id = s.conflict_id WHERE s.id = ${id}`).pipe(
      Effect.flatMap((rows) =>
        rows.length === 0 ? Effect.fail(new ConflictNotFound({ what: "suggestion", id })) : Effect.succeed(rows[0] as unknown as SuggestionRow)
      )
    )

  const apply = (req: { readonly suggestionId: string; readonly worktree: string; readonly sessionId?: string | undefined }) =>
    Effect.gen(function*() {
      const s = yield* getSuggestionRow(req.suggestionId)
      const conflict = yield* getRow(s.conflict_id)
      const top = yield* sameRepoWorktree(req.worktree, conflict.repo_path)
      const file = yield* fileIn(top, conflict.path)
      return yield* db.immediate(Effect.gen(function*() {
        const fresh = yield* getSuggestionRow(req.suggestionId)
        if (fresh.applied_at !== null) {
          return yield* new ConflictError({ reason: "AlreadyApplied", detail: `suggestion ${s.id} was applied at ${iso(fresh.applied_at)} in ${fresh.applied_worktree}` })
        }
        const current = yield* readMaybe(file)
        const hash = yield* sha256(current)
        if (hash !== s.current_hash) {
          return yield* new ConflictError({
            reason: "FileChanged",
            detail: `${conflict.path} in ${top} changed since suggestion ${s.id} was made (sha256 ${hash.slice(0, 12)}, expected ${s.current_hash.slice(0, 12)}); nothing was written`
          })
        }
        const content = s.content === null ? null : new Uint8Array(s.content)
        if (content === null) {
          yield* fs.remove(file).pipe(Effect.catchAll((e) => e._tag === "SystemError" && e.reason === "NotFound" ? Effect.void : Effect.fail(gitFailed(`cannot delete ${file}: ${e.message}`))))
        } else {
          const mode = current !== null ? yield* fs.stat(file).pipe(Effect.map((i) => i.mode & 0o777), Effect.orElseSucceed(() => 0o644)) : 0o644
          yield* fs.makeDirectory(pathApi.dirname(file), { recursive: true }).pipe(Effect.mapError((e) => gitFailed(e.message)))
          const tmp = `${file}.pcc-${newId("")}.tmp`
          yield* fs.writeFile(tmp, content, { mode }).pipe(
            Effect.zipRight(fs.chmod(tmp, mode)),
            Effect.zipRight(fs.rename(tmp, file)),
            Effect.tapError(() => fs.remove(tmp).pipe(Effect.ignore)),
            Effect.mapError((e) => gitFailed(`cannot write ${file}: ${e.message}`))
          )
        }
        const now = yield* Clock.currentTimeMillis
        yield* sql`UPDATE conflict_suggestions SET applied_at = ${now}, applied_worktree = ${top}, applied_by = ${req.sessionId ?? null} WHERE id = ${s.id}`
        yield* sql`UPDATE conflicts SET resolved_at = ${now}, resolution = ${s.id} WHERE id = ${conflict.id}`
        const updated = toSuggestion((yield* getSuggestionRow(s.id)) as SuggestionRow)
        return {
          suggestion: updated,
          file,
          action: content === null ? "deleted" as const : "written" as const,
          nextSteps: [
            `review the file: git -C ${top} diff -- ${conflict.path}`,
            content === null ? `stage the deletion: git -C ${top} rm --cached -- ${conflict.path}` : `stage it: git -C ${top} add -- ${conflict.path}`,
            "then continue the merge or rebase (git merge --continue / git rebase --continue), or commit"
          ]
        } satisfies ApplyResult
      }))
    }).pipe(Effect.withSpan("Conflicts.apply"))

  const history = (filter: HistoryFilter = {}) =>
    Effect.gen(function*() {
      const repo = filter.repo !== undefined ? (yield* locate(filter.repo).pipe(Effect.map((l) => l.repo), Effect.orElseSucceed(() => filter.repo!))) : undefined
      const conds = [
        repo !== undefined ? sql`repo_path = ${repo}` : undefined,
        filter.type !== undefined ? sql`conflict_type = ${filter.type}` : undefined,
        filter.resolved === true ? sql`resolved_at IS NOT NULL` : filter.resolved === false ? sql`resolved_at IS NULL` : undefined,
        filter.path !== undefined ? sql`path = ${filter.path}` : undefined
      ].filter((c) => c !== undefined)
      return yield* conflictRows(
        sql`SELECT * FROM conflicts WHERE ${sql.and(conds)} ORDER BY detected_at DESC, path LIMIT ${filter.limit ?? 100}`
      )
    })

  const suggestions = (filter: SuggestionFilter = {}) =>
    Effect.gen(function*() {
      const repo = filter.repo !== undefined ? (yield* locate(filter.repo).pipe(Effect.map((l) => l.repo), Effect.orElseSucceed(() => filter.repo!))) : undefined
      const conds = [
        repo !== undefined ? sql`c.repo_path = ${repo}` : undefined,
        filter.conflictId !== undefined ? sql`s.conflict_id = ${filter.conflictId}` : undefined,
        filter.minConfidence !== undefined ? sql`s.confidence >= ${filter.minConfidence}` : undefined,
        filter.applied === true ? sql`s.applied_at IS NOT NULL` : filter.applied === false ? sql`s.applied_at IS NULL` : undefined
      ].filter((c) => c !== undefined)
      const rows = yield* db.orFail(
        sql`SELECT s.*, c.path AS path FROM conflict_suggestions s JOIN conflicts c ON c.id = s.conflict_id
            WHERE ${sql.and(conds)} ORDER BY s.created_at DESC, s.confidence DESC LIMIT ${filter.limit ?? 100}`
      )
      return (rows as unknown as ReadonlyArray<SuggestionRow>).map(toSuggestion)
    })

  /** Strategies that keep one side's lines where both changed: never complete (the other side's change is lost). */
  const oneSided: ReadonlySet<Strategy> = new Set(["take-ours", "take-theirs", "keep-file", "delete-file"])

  const resolveMerge = (req: PreviewRequest) =>
    Effect.gen(function*() {
      const { repo, top } = yield* locate(req.repo)
      const pv = (yield* previewIn(top, repo, req)).preview
      const withStages = pv.files.filter((f) => f.stages.ours !== null || f.stages.theirs !== null)
      const analysed = yield* analyzeAll(
        top,
        withStages.map((f) => ({ path: f.path, base: f.stages.base, ours: f.stages.ours, theirs: f.stages.theirs, kind: f.kind })),
        [pv.ours.ref, pv.theirs.ref]
      )
      const files: Array<FileResolution> = pv.files.map((f) => {
        const a = analysed.find((x) => x.path.path === f.path)?.analysis
        const top = a?.candidates[0]
        if (a === undefined || top === undefined) {
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
            description: `no resolution proposed: ${f.guidance}`
          } satisfies FileResolution
        }
        const binary = top.content !== null && top.content.includes(0)
        return {
          path: f.path,
          gitKind: f.kind,
          type: a.classification.type,
          reasons: a.classification.reasons,
          strategy: top.strategy,
          confidence: top.confidence,
          autoApply: false,
          complete: !oneSided.has(top.strategy),
          parses: top.parses,
          deletesFile: top.content === null,
          encoding: binary ? "base64" : "utf8",
          resolvedContent: top.content === null ? null : binary ? toBase64(top.content) : dec.decode(top.content),
          description: top.description
        } satisfies FileResolution
      })
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

  const rebaseAssist = (req: RebaseRequest) =>
    Effect.gen(function*() {
      const { repo, top } = yield* locate(req.worktree)
      const gitDir = (name: string) =>
        git.run(top, ["rev-parse", "--path-format=absolute", "--git-path", name]).pipe(Effect.map((r) => r.stdout.trim()))
      const inProgress = (yield* fs.exists(yield* gitDir("rebase-merge")).pipe(Effect.orElseSucceed(() => false))) ||
        (yield* fs.exists(yield* gitDir("rebase-apply")).pipe(Effect.orElseSucceed(() => false)))
      if (inProgress) {
        return yield* new ConflictError({ reason: "RebaseInProgress", detail: `a rebase is already in progress in ${top}` })
      }
      const branchR = yield* git.run(top, ["symbolic-ref", "--short", "-q", "HEAD"], { okExitCodes: [0, 1] })
      const branch = branchR.exitCode === 0 ? branchR.stdout.trim() : null
      const head = yield* git.revParse(top, "HEAD")
      const pv = yield* previewIn(top, repo, { repo: top, ours: req.onto, theirs: "HEAD" })
      const onto = pv.preview.ours
      const log = yield* git.run(top, ["log", "--reverse", "--no-merges", "--format=%H%x00%s", `${onto.commit}..${head}`])
      const commits = log.stdout.split("\n").filter((l) => l !== "").map((l) => {
        const [commit, subject] = l.split("\0")
        return { commit: commit!, subject: subject ?? "" }
      })
      const behind = Number((yield* git.run(top, ["rev-list", "--count", `${head}..${onto.commit}`])).stdout.trim())
      const base = { worktree: top, branch, onto: { ref: req.onto, commit: onto.commit }, head, mode: req.mode, commits, behind }
      const abortHint = `git -C ${top} rebase --abort`
      if (behind === 0) {
        return { ...base, status: "up-to-date", conflicts: [], newHead: null, stoppedAt: null, message: `${branch ?? "HEAD"} already contains ${req.onto}; nothing to rebase`, nextSteps: [] } satisfies RebaseReport
      }
      if (req.mode === "check") {
        return {
          ...base,
          status: pv.preview.clean ? "clean" : "conflicts",
          conflicts: pv.preview.files,
          newHead: null,
          stoppedAt: null,
          message: pv.preview.clean
            ? `rebasing ${commits.length} commit(s) of ${branch ?? "HEAD"} onto ${req.onto} (${behind} commit(s) ahead) should apply cleanly`
            : `rebasing ${branch ?? "HEAD"} onto ${req.onto} would conflict in ${pv.preview.files.length} file(s): ${pv.preview.files.map((f) => f.path).join(", ")}`,
          nextSteps: pv.preview.clean
            ? [`rebase_assist with mode "perform", or git -C ${top} rebase ${req.onto}`]
            : ["get classifications and resolutions with detect_advanced_conflicts / get_auto_fix_suggestions", "or coordinate with the owner of the other branch before rebasing"]
        } satisfies RebaseReport
      }
      const dirty = yield* git.run(top, ["status", "--porcelain=v1", "-z", "--untracked-files=no"])
      if (dirty.stdout !== "") {
        return yield* new ConflictError({ reason: "DirtyWorktree", detail: `${top} has uncommitted changes to tracked files` })
      }
      const r = yield* git.run(top, ["-c", "core.editor=true", "rebase", "--no-autostash", onto.commit], {
        okExitCodes: [0, 1, 128],
        env: { GIT_EDITOR: "true", GIT_SEQUENCE_EDITOR: "true" }
      })
      if (r.exitCode === 0) {
        const newHead = yield* git.revParse(top, "HEAD")
        return { ...base, status: "rebased", conflicts: [], newHead, stoppedAt: null, message: `rebased ${commits.length} commit(s) of ${branch ?? "HEAD"} onto ${req.onto}`, nextSteps: [] } satisfies RebaseReport
      }
      const unmerged = yield* git.run(top, ["ls-files", "-u", "-z"])
      const stopped = yield* git.run(top, ["rev-parse", "--verify", "--quiet", "REBASE_HEAD"], { okExitCodes: [0, 1, 128] })
      const files = parseStages(unmerged.stdout).map((p) => {
        const kind = gitKindOf(p, [])
        return { path: p.path, kind, otherPaths: [], stages: { base: p.base, ours: p.ours, theirs: p.theirs }, messages: [], guidance: guidanceFor(kind, p.path, req.onto, branch ?? "HEAD") } satisfies PreviewFile
      })
      const stillRebasing = (yield* fs.exists(yield* gitDir("rebase-merge")).pipe(Effect.orElseSucceed(() => false))) ||
        (yield* fs.exists(yield* gitDir("rebase-apply")).pipe(Effect.orElseSucceed(() => false)))
      if (!stillRebasing) return yield* gitFailed(`git rebase failed: ${r.stderr.trim().split("\n").slice(-3).join(" / ")}`)
      if (req.onConflict === "abort") {
        yield* git.run(top, ["rebase", "--abort"])
        return {
          ...base,
          status: "aborted",
          conflicts: files,
          newHead: null,
          stoppedAt: stopped.exitCode === 0 ? stopped.stdout.trim() : null,
          message: `the rebase onto ${req.onto} conflicted in ${files.map((f) => f.path).join(", ")}; it was aborted and ${top} is back at ${head.slice(0, 12)}`,
          nextSteps: ["resolve the conflicts on a branch first, or rebase with mode perform and onConflict stop to resolve them in place"]
        } satisfies RebaseReport
      }
      return {
        ...base,
        status: "stopped",
        conflicts: files,
        newHead: null,
        stoppedAt: stopped.exitCode === 0 ? stopped.stdout.trim() : null,
        message: `the rebase stopped with conflicts in ${files.map((f) => f.path).join(", ")}; ${top} is in the middle of a rebase`,
        nextSteps: [
          "get resolutions: detect_advanced_conflicts with this worktree, then get_auto_fix_suggestions and apply_auto_fix (or edit the files)",
          `mark each resolved file: git -C ${top} add -- <file>`,
          `continue: git -C ${top} rebase --continue`,
          `or give up and restore the branch: ${abortHint}`
        ]
      } satisfies RebaseReport
    }).pipe(Effect.withSpan("Conflicts.rebaseAssist"))

  return Conflicts.of({ preview, detect, suggest, apply, get, history, suggestions, resolveMerge, rebaseAssist })
})

/** Conflicts over Git, the Database and the platform's file system. */
export const layer = Layer.effect(Conflicts, make)
