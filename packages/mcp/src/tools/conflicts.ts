/**
 * Conflict tools: preview a merge/rebase, classify its conflicts, get whole-file resolutions, apply one,
 * and look back at what was found and resolved.
 *
 * Branch defaults: the branch to check is the caller's (the branch of its worktree); the target is the
 * branch checked out in the main repository. Worktree defaults: the caller's session directory.
 *
 * @since 0.1.0
 */
import { Conflicts, Errors, Git } from "@parallel-cc/core"
import { Effect, Option } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { z } from "zod"
import { arrayOf, describe, objectOf, shapeOf, zodOf } from "../internal/schemaZod.js"
import { Caller } from "../Caller.js"
import * as Tool from "../Tool.js"
import { repoOption } from "./common.js"

// ---------------------------------------------------------------------------------------------------
// Wire shapes: core's Conflicts schemas, with the documentation agents see

const refInfo = describe(objectOf(Conflicts.RefInfo), { ref: "As given (or the branch it is the tip of)" })
const previewFile = describe(objectOf(Conflicts.PreviewFile), {
  kind: "What git reports: content, binary, modify/delete, rename/delete, …"
})
const conflict = describe(objectOf(Conflicts.Conflict), {
  hunks: "Each conflicting hunk: both sides' text, the declarations and commits involved, and the ways to resolve it with their confidence",
  source: "refs: predicted between two branches; worktree: left by a merge/rebase in progress",
  analyzer: "typescript (parsed with the TypeScript compiler), json, text or git",
  resolution: "The id of the suggestion applied"
})
const suggestion = describe(objectOf(Conflicts.Suggestion), {
  confidence: "0 to 1, calibrated on real merges: the share of such suggestions that were exactly right",
  autoApply: "true only for kinds of resolution ≥ 95 % exact on real merges: safe to apply without review",
  complete: "false: the hunks marked \"unresolved\" hold conflict markers for you to resolve",
  hunks: "Per hunk: the strategy chosen, its confidence, and the side whose change it drops (null: none)",
  parses: "Whether the resolved file parses (scripts, JSON); null when not checked",
  resolvedContent: "The whole resolved file (omitted when includeContent is false)",
  diff: "Unified diff from the current file to the resolved one"
})
const preview = shapeOf(Conflicts.Preview)
const conflictType = zodOf(Conflicts.ConflictType)

const branchArg = z.string().min(1).max(255)


// ---------------------------------------------------------------------------------------------------
// Helpers

/**
 * The directory a call works in: `input` (relative to the server's cwd), else the caller's session
 * directory, else the cwd; with the main repository when it is known without asking git (the session's).
 */
const workPlace = (input: string | undefined) =>
  Effect.gen(function*() {
    const caller = yield* Caller
    if (input !== undefined) {
      const abs = path.resolve(caller.cwd, input)
      const dir = yield* Effect.try({
        try: () => fs.realpathSync(abs),
        catch: () => new Errors.InvalidInput({ field: "worktree", detail: `${abs} does not exist` })
      })
      return { dir, main: undefined }
    }
    const me = yield* caller.sessionOption
    return Option.isSome(me)
      ? { dir: me.value.session.worktreePath, main: me.value.session.repoPath }
      : { dir: caller.cwd, main: undefined }
  })

/** The directory a call works in (see {@link workPlace}). */
const workDir = (input: string | undefined) => Effect.map(workPlace(input), (p) => p.dir)

const currentBranch = (dir: string) =>
  Effect.flatMap(Git.Git, (git) =>
    git.run(dir, ["symbolic-ref", "--short", "-q", "HEAD"], { okExitCodes: [0, 1] }).pipe(
      Effect.map((r) => (r.exitCode === 0 ? r.stdout.trim() : "HEAD"))
    ))

/**
 * The branches of a check made in `place.dir`: `current` (default: its branch) into `target` (default: the
 * branch of the main repository, `place.main` when known), both asked side by side.
 */
const branches = (
  place: { readonly dir: string; readonly main: string | undefined },
  input: { readonly currentBranch?: string | undefined; readonly targetBranch?: string | undefined }
) =>
  Effect.gen(function*() {
    const mainBranch = Effect.gen(function*() {
      const main = place.main ?? (yield* Effect.flatMap(Git.Git, (git) => git.mainRoot(place.dir)))
      const branch = yield* currentBranch(main)
      if (branch === "HEAD") {
        return yield* new Errors.InvalidInput({ field: "targetBranch", detail: "the main repository has no branch checked out; pass targetBranch" })
      }
      return branch
    })
    const [currentOr, targetOr] = yield* Effect.all([
      input.currentBranch !== undefined ? Effect.succeed(input.currentBranch) : currentBranch(place.dir),
      input.targetBranch !== undefined ? Effect.succeed(input.targetBranch) : mainBranch
    ], { concurrency: 2, mode: "either" })
    // Failures in the order they were asked in before (the branch to check first).
    const current = yield* currentOr
    const target = yield* targetOr
    if (target === current) {
      return yield* new Errors.InvalidInput({
        field: "targetBranch",
        detail: `the branch to check and the target are both ${target}; pass currentBranch and/or targetBranch`
      })
    }
    return { current, target }
  })

// ---------------------------------------------------------------------------------------------------
// Tools

export const checkConflicts = Tool.define({
  name: "check_conflicts",
  title: "Check for merge conflicts",
  description: "Predict whether merging (or rebasing) a branch onto a target would conflict, and in which " +
    "files, without touching any work tree (git merge-tree). Defaults: currentBranch = your worktree's " +
    "branch, targetBranch = the branch checked out in the main repository. Each conflicted file comes with " +
    "git's conflict kind and what to do; classify them with detect_advanced_conflicts.",
  input: {
    currentBranch: branchArg.optional().describe("The branch to be merged/rebased (default: yours)"),
    targetBranch: branchArg.optional().describe("The branch it goes into (default: the main repository's branch)"),
    repo: z.string().min(1).optional().describe("A path inside the repository (default: your worktree)")
  },
  output: {
    ...preview,
    ours: refInfo.describe("The target (git's ours)"),
    theirs: refInfo.describe("The branch checked (git's theirs)"),
    files: arrayOf(previewFile)
  },
  readOnly: true,
  idempotent: true,
  handler: (input) =>
    Effect.gen(function*() {
      const place = yield* workPlace(input.repo)
      const b = yield* branches(place, input)
      const service = yield* Conflicts.Conflicts
      return (yield* service.preview({ repo: place.dir, ours: b.target, theirs: b.current }))
    }),
  summarize: (o) =>
    o.clean
      ? `${o.theirs.ref} merges cleanly into ${o.ours.ref}`
      : `${o.files.length} conflicted file(s) merging ${o.theirs.ref} into ${o.ours.ref}: ${o.files.map((f) => `${f.path} (${f.kind})`).join(", ")}`
})

export const rebaseAssist = Tool.define({
  name: "rebase_assist",
  title: "Rebase assistance",
  description: "Rebase your worktree's branch onto a target. checkOnly (default true) only predicts: the " +
    "commits to replay, how far behind you are, and the files that would conflict. With checkOnly false " +
    "the rebase runs in your worktree (it must have no uncommitted changes); on conflicts it stops " +
    "(onConflict \"stop\", default) and reports the files and the exact commands to continue or abort, or " +
    "aborts it (onConflict \"abort\") leaving the branch as it was.",
  input: {
    targetBranch: branchArg.optional().describe("The branch to rebase onto (default: the main repository's branch)"),
    checkOnly: z.boolean().optional().describe("Only predict (default true)"),
    onConflict: z.enum(["stop", "abort"]).optional().describe("When the rebase conflicts: stop for resolution (default) or abort"),
    worktree: z.string().min(1).optional().describe("The worktree to rebase (default: yours)")
  },
  output: { ...shapeOf(Conflicts.RebaseReport), onto: refInfo, conflicts: arrayOf(previewFile) },
  handler: (input) =>
    Effect.gen(function*() {
      const place = yield* workPlace(input.worktree)
      const dir = place.dir
      const b = yield* branches(place, { targetBranch: input.targetBranch })
      const service = yield* Conflicts.Conflicts
      return (yield* service.rebaseAssist({
        worktree: dir,
        onto: b.target,
        mode: input.checkOnly === false ? "perform" : "check",
        onConflict: input.onConflict
      }))
    }),
  summarize: (o) => o.message
})

export const detectAdvancedConflicts = Tool.define({
  name: "detect_advanced_conflicts",
  title: "Classify conflicts",
  description: "Classify each conflicted file as TRIVIAL (whitespace/formatting), ADDITIVE (both sides only " +
    "inserted lines, e.g. imports, list entries, tests), CONCURRENT_EDIT (both sides changed the same lines), " +
    "STRUCTURAL (code moved, renamed or deleted on one side) or SEMANTIC (a symbol changed incompatibly, e.g. " +
    "renamed on one side and used under its old name on the other), with a severity, the reasons and the " +
    "symbols involved. Each conflict lists its hunks: where they are on each side, their kind, each side's " +
    "text, the declarations they touch, the subjects of each side's commits that changed those lines, and " +
    "the ways to resolve each with a calibrated confidence. TypeScript/JavaScript files are parsed with the " +
    "TypeScript compiler. Works on a merge/rebase stopped in your worktree, or (when none is in progress, or " +
    "with source \"branches\") between currentBranch and targetBranch. Each conflict gets an id for " +
    "get_auto_fix_suggestions.",
  input: {
    source: z.enum(["auto", "worktree", "branches"]).optional()
      .describe("worktree: the merge/rebase in progress; branches: predict between branches; auto (default): worktree if one is in progress"),
    currentBranch: branchArg.optional().describe("With branches: the branch to be merged (default: yours)"),
    targetBranch: branchArg.optional().describe("With branches: the branch it goes into (default: the main repository's branch)"),
    worktree: z.string().min(1).optional().describe("The worktree (default: yours)")
  },
  output: { ...shapeOf(Conflicts.DetectReport), ours: refInfo, theirs: refInfo, conflicts: arrayOf(conflict) },
  handler: (input) =>
    Effect.gen(function*() {
      const service = yield* Conflicts.Conflicts
      const me = yield* Effect.flatMap(Caller, (c) => c.sessionOption)
      const sessionId = Option.isSome(me) ? me.value.session.sessionId : undefined
      const dir = yield* workDir(input.worktree)
      const source = input.source ?? "auto"
      const fromBranches = Effect.gen(function*() {
        const b = yield* branches({ dir, main: undefined }, input)
        return yield* service.detect({ repo: dir, ours: b.target, theirs: b.current, sessionId })
      })
      if (source === "branches") return (yield* fromBranches)
      const inWorktree = service.detect({ worktree: dir, sessionId })
      if (source === "worktree") return (yield* inWorktree)
      return (
        yield* inWorktree.pipe(
          Effect.catchIf((e) => e._tag === "ConflictError" && e.reason === "NoMergeInProgress", () => fromBranches)
        )
      )
    }),
  summarize: (o) =>
    o.clean
      ? `no conflicts between ${o.ours.ref} and ${o.theirs.ref}`
      : o.conflicts.map((c) => `${c.path}: ${c.type} (${c.severity}) [${c.id}]`).join("; ")
})

export const getAutoFixSuggestions = Tool.define({
  name: "get_auto_fix_suggestions",
  title: "Suggest conflict resolutions",
  description: "Propose resolutions for a classified conflict (by conflictId, or the latest open conflict " +
    "on filePath), best first: each a WHOLE resolved file with a unified diff against your worktree's file, " +
    "whether it parses, and per hunk the strategy chosen, its confidence and which side's change it drops " +
    "(if any). Confidence is calibrated on real merges: of suggestions with confidence x, about x were " +
    "exactly what maintainers committed. WHEN TO TRUST: apply without reading only when autoApply is true " +
    "(that kind of resolution was ≥ 95 % exact on real merges). Otherwise review the diff; for any hunk " +
    "whose confidence is low or that drops a side's change, resolve it yourself from the conflict's hunks " +
    "(both sides' text and the commits that changed them, from detect_advanced_conflicts) — or apply the " +
    "suggestion with complete: false, which leaves exactly those hunks as conflict markers. These come " +
    "from deterministic algorithms, not from a model.",
  input: {
    conflictId: z.string().min(1).max(64).optional().describe("From detect_advanced_conflicts"),
    filePath: z.string().min(1).max(4096).optional().describe("Instead of conflictId: the latest open conflict on this file (relative to the repository root)"),
    minConfidence: z.number().min(0).max(1).optional().describe("Only suggestions at least this confident"),
    includeContent: z.boolean().optional().describe("Include each resolved file (default true)"),
    worktree: z.string().min(1).optional().describe("Diff against this worktree's file (default: yours)")
  },
  output: {
    conflict,
    suggestions: arrayOf(suggestion),
    total: z.number().int()
  },
  handler: (input) =>
    Effect.gen(function*() {
      const service = yield* Conflicts.Conflicts
      if ((input.conflictId === undefined) === (input.filePath === undefined)) {
        return yield* new Errors.InvalidInput({ field: "arguments", detail: "give either conflictId or filePath" })
      }
      const dir = yield* workDir(input.worktree)
      let conflictId = input.conflictId
      if (conflictId === undefined) {
        const repo = yield* repoOption(input.worktree ?? dir)
        const open = yield* service.history({ repo: Option.getOrUndefined(repo), path: input.filePath, resolved: false, limit: 1 })
        if (open.length === 0) {
          return yield* new Errors.InvalidInput({ field: "filePath", detail: `no open conflict on ${input.filePath}; run detect_advanced_conflicts first` })
        }
        conflictId = open[0]!.id
      }
      const found = yield* service.get(conflictId)
      const all = yield* service.suggest({ conflictId, worktree: dir })
      const kept = all
        .filter((s) => input.minConfidence === undefined || s.confidence >= input.minConfidence)
        .map((s) => (input.includeContent === false ? { ...s, resolvedContent: null } : s))
      return ({ conflict: found, suggestions: kept, total: kept.length })
    }),
  summarize: (o) =>
    `${o.total} suggestion(s) for ${o.conflict.path} (${o.conflict.type}): ` +
    o.suggestions.map((s) => `${s.id} ${s.strategy} ${s.confidence.toFixed(2)}`).join(", ")
})

export const applyAutoFix = Tool.define({
  name: "apply_auto_fix",
  title: "Apply a conflict resolution",
  description: "Write a suggestion's resolved file into your worktree (only that file). Refused " +
    "(FileChanged) if the file changed since the suggestion was made — ask for new suggestions then — and " +
    "refused if it was applied already. The application is recorded. Stage the file afterwards " +
    "(git add) and continue the merge or rebase.",
  input: {
    suggestionId: z.string().min(1).max(64).describe("From get_auto_fix_suggestions"),
    worktree: z.string().min(1).optional().describe("Where to write (default: yours)")
  },
  output: { ...shapeOf(Conflicts.ApplyResult), suggestion },
  idempotent: false,
  handler: (input) =>
    Effect.gen(function*() {
      const service = yield* Conflicts.Conflicts
      const me = yield* Effect.flatMap(Caller, (c) => c.sessionOption)
      const dir = yield* workDir(input.worktree)
      return (
        yield* service.apply({
          suggestionId: input.suggestionId,
          worktree: dir,
          sessionId: Option.isSome(me) ? me.value.session.sessionId : undefined
        })
      )
    }),
  summarize: (o) => `${o.action} ${o.file} (${o.suggestion.strategy}, confidence ${o.suggestion.confidence.toFixed(2)})`
})

export const conflictHistory = Tool.define({
  name: "conflict_history",
  title: "Conflict history",
  description: "Conflicts recorded for a repository (default: yours), newest first, with their class, " +
    "severity and resolution; filter by type, resolved state or file.",
  input: {
    repo: z.string().min(1).optional().describe("A path inside the repository (default: yours)"),
    type: conflictType.optional(),
    resolved: z.boolean().optional().describe("true: only resolved ones; false: only open ones; default: both"),
    filePath: z.string().min(1).max(4096).optional(),
    limit: z.number().int().min(1).max(500).optional().describe("At most this many (default 50)")
  },
  output: {
    repo: z.string().nullable(),
    conflicts: arrayOf(conflict),
    total: z.number().int()
  },
  readOnly: true,
  handler: (input) =>
    Effect.gen(function*() {
      const service = yield* Conflicts.Conflicts
      const repo = Option.getOrUndefined(yield* repoOption(input.repo))
      const list = yield* service.history({
        repo,
        type: input.type,
        resolved: input.resolved,
        path: input.filePath,
        limit: input.limit ?? 50
      })
      return ({ repo: repo ?? null, conflicts: list, total: list.length })
    }),
  summarize: (o) => `${o.total} conflict(s)${o.repo !== null ? ` in ${o.repo}` : ""}`
})

export const tools: ReadonlyArray<Tool.AnyTool> = [
  checkConflicts,
  rebaseAssist,
  detectAdvancedConflicts,
  getAutoFixSuggestions,
  applyAutoFix,
  conflictHistory
]
