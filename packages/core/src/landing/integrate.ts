/**
 * Integrating a candidate onto a commit without any work tree or index of the user's: every step works on
 * git objects (`git merge-tree --write-tree`, `git commit-tree`; a private index file only to write a tree
 * with resolved files). A killed process leaves at most unreachable objects behind, which git collects.
 *
 * - merge: a merge commit (parents: the target, the candidate);
 * - squash: one commit on the target with the candidate's combined change;
 * - rebase: the candidate's commits replayed one by one (cherry-pick semantics: each commit merged with its
 *   parent as the base, through a synthetic commit because git 2.39 has no `merge-tree --merge-base`),
 *   keeping authors and messages; a candidate already on top of the target with a linear history lands as is.
 */
import type { FileSystem, Path } from "@effect/platform"
import { Effect } from "effect"
import type { Git } from "../platform/Git.js"
import { gitKindOf, parseMergeTree } from "../coordination/conflicts/mergeTree.js"
import { type ConflictFile, LandError, type Resolution, type Strategy } from "./LandDomain.js"
import type { FileVerdict, Resolver } from "./resolve.js"

type GitApi = Git["Type"]

export interface Context {
  readonly git: GitApi
  readonly fs: FileSystem.FileSystem
  readonly path: Path.Path
  readonly repo: string
  /** A private directory for temporary index files. */
  readonly scratchDir: string
  /** Identity variables for commit-tree when git has no user configured (else empty). */
  readonly identityEnv: Readonly<Record<string, string>>
  readonly resolver: Resolver
}

export interface Candidate {
  readonly head: string
  readonly name: string
  readonly sessionId: string | null
}

export type Integration =
  | {
    readonly _tag: "Clean"
    readonly commit: string
    /** The commit's tree, when known without asking git again. */
    readonly tree?: string | undefined
    readonly resolutions: ReadonlyArray<Resolution>
  }
  /** Nothing to add: the target already has the candidate's changes. */
  | { readonly _tag: "Empty" }
  | { readonly _tag: "Conflict"; readonly files: ReadonlyArray<ConflictFile>; readonly resolutions: ReadonlyArray<Resolution> }
  /** The candidate shares no history with the target. */
  | { readonly _tag: "Unrelated" }

const gitFailed = (e: { readonly message: string }) => new LandError({ reason: "GitFailed", detail: e.message })

const treeOf = (ctx: Context, commit: string) =>
  ctx.git.run(ctx.repo, ["rev-parse", `${commit}^{tree}`]).pipe(Effect.map((r) => r.stdout.trim()), Effect.mapError(gitFailed))

type Merged =
  | { readonly _tag: "Tree"; readonly tree: string; readonly resolutions: ReadonlyArray<Resolution> }
  | { readonly _tag: "Conflict"; readonly files: ReadonlyArray<ConflictFile>; readonly resolutions: ReadonlyArray<Resolution> }
  | { readonly _tag: "Unrelated" }

/** Write a tree: `base` with the resolved files of `verdicts` put in (through a private index file). */
const writeResolvedTree = (ctx: Context, base: string, verdicts: ReadonlyArray<FileVerdict>, modes: ReadonlyMap<string, string>) =>
  Effect.gen(function*() {
    const id = globalThis.crypto.randomUUID()
    const index = ctx.path.join(ctx.scratchDir, `${id}.index`)
    const env = { GIT_INDEX_FILE: index }
    return yield* Effect.gen(function*() {
      yield* ctx.git.run(ctx.repo, ["read-tree", base], { env })
      const lines: Array<string> = []
      for (const [i, v] of verdicts.entries()) {
        if (v.content === null) {
          lines.push(`0 ${"0".repeat(40)}\t${v.path}`)
          continue
        }
        const file = ctx.path.join(ctx.scratchDir, `${id}.${i}.blob`)
        yield* ctx.fs.writeFile(file, v.content, { mode: 0o600 })
        const blob = yield* ctx.git.run(ctx.repo, ["hash-object", "-w", "--no-filters", "--", file])
        lines.push(`${modes.get(v.path) ?? "100644"} ${blob.stdout.trim()}\t${v.path}`)
      }
      yield* ctx.git.run(ctx.repo, ["update-index", "-z", "--index-info"], { env, stdin: lines.map((l) => `${l}\0`).join("") })
      return (yield* ctx.git.run(ctx.repo, ["write-tree"], { env })).stdout.trim()
    }).pipe(
      Effect.mapError(gitFailed),
      Effect.ensuring(
        ctx.fs.readDirectory(ctx.scratchDir).pipe(
          Effect.flatMap((names) =>
            Effect.forEach(names.filter((n) => n.startsWith(id)), (n) => ctx.fs.remove(ctx.path.join(ctx.scratchDir, n)), { discard: true })
          ),
          Effect.ignore
        )
      )
    )
  })

/** Merge `theirs` into `ours` at the object level; resolve conflicts only with what the engine auto-applies. */
const mergeTrees = (ctx: Context, ours: string, theirs: string, candidate: Candidate, replaying: string | null) =>
  Effect.gen(function*() {
    const r = yield* ctx.git.run(ctx.repo, ["merge-tree", "--write-tree", "-z", ours, theirs], { okExitCodes: [0, 1, 128] }).pipe(
      Effect.mapError(gitFailed)
    )
    if (r.exitCode === 128) {
      if (/unrelated histories/.test(r.stderr)) return { _tag: "Unrelated" } satisfies Merged
      return yield* new LandError({ reason: "GitFailed", detail: `git merge-tree failed: ${r.stderr.trim()}` })
    }
    const out = parseMergeTree(r.stdout, r.exitCode === 1)
    if (r.exitCode === 0) return { _tag: "Tree", tree: out.tree, resolutions: [] } satisfies Merged
    const files = out.paths.map((p) => ({ path: p.path, kind: gitKindOf(p, out.messages) }))
    const verdicts = yield* ctx.resolver({ repo: ctx.repo, ours, theirs, sessionId: candidate.sessionId, files })
    const byPath = new Map(verdicts.map((v) => [v.path, v]))
    const usable = (v: FileVerdict | undefined): v is FileVerdict => v !== undefined && v.autoApply && v.complete
    const resolutions = verdicts.filter(usable).map((v): Resolution => ({
      path: v.path,
      strategy: v.strategy,
      confidence: v.confidence,
      class: v.class,
      commit: replaying
    }))
    if (!files.every((f) => usable(byPath.get(f.path)))) {
      return {
        _tag: "Conflict",
        resolutions,
        files: files.filter((f) => !usable(byPath.get(f.path))).map((f): ConflictFile => ({
          path: f.path,
          kind: f.kind,
          class: byPath.get(f.path)?.class ?? null,
          note: byPath.get(f.path)?.note ?? "not resolvable automatically"
        }))
      } satisfies Merged
    }
    const modes = new Map(out.paths.map((p) => [p.path, p.ours?.mode ?? p.theirs?.mode ?? "100644"]))
    const tree = yield* writeResolvedTree(ctx, out.tree, files.map((f) => byPath.get(f.path)!), modes)
    return { _tag: "Tree", tree, resolutions } satisfies Merged
  })

interface CommitMeta {
  readonly sha: string
  readonly parents: ReadonlyArray<string>
  readonly authorName: string
  readonly authorEmail: string
  readonly authorDate: string
  readonly message: string
}

/** The commits of `head` that `onto` lacks, oldest first (merges included, flagged by their parents). */
const commitsOf = (ctx: Context, onto: string, head: string) =>
  ctx.git.run(ctx.repo, ["log", "--reverse", "--topo-order", "--format=%H%x00%P%x00%an%x00%ae%x00%ad%x00%B%x01", "--date=raw", `${onto}..${head}`]).pipe(
    Effect.mapError(gitFailed),
    Effect.map((r) =>
      r.stdout.split("\x01").map((rec) => rec.replace(/^\n/, "")).filter((rec) => rec !== "").map((rec): CommitMeta => {
        const [sha, parents, authorName, authorEmail, authorDate, ...message] = rec.split("\0")
        return {
          sha: sha!,
          parents: (parents ?? "").split(" ").filter((p) => p !== ""),
          authorName: authorName ?? "",
          authorEmail: authorEmail ?? "",
          authorDate: authorDate ?? "",
          message: message.join("\0")
        }
      })
    )
  )

const commitTree = (ctx: Context, tree: string, parents: ReadonlyArray<string>, message: string, author?: CommitMeta) =>
  ctx.git.run(ctx.repo, ["commit-tree", tree, ...parents.flatMap((p) => ["-p", p]), "-F", "-"], {
    stdin: message.endsWith("\n") ? message : `${message}\n`,
    env: {
      ...ctx.identityEnv,
      ...(author !== undefined
        ? { GIT_AUTHOR_NAME: author.authorName, GIT_AUTHOR_EMAIL: author.authorEmail, GIT_AUTHOR_DATE: author.authorDate }
        : {})
    }
  }).pipe(Effect.map((r) => r.stdout.trim()), Effect.mapError(gitFailed))

const squashMessage = (candidate: Candidate, target: string, commits: ReadonlyArray<CommitMeta>): string => {
  if (commits.length === 1) return commits[0]!.message
  const lines = commits.filter((c) => c.parents.length < 2).map((c) => `* ${c.message.split("\n")[0]}`)
  return `Squashed ${candidate.name} into ${target} (${commits.length} commits)\n\n${lines.join("\n")}\n`
}

const rebase = (ctx: Context, onto: string, candidate: Candidate) =>
  Effect.gen(function*() {
    const commits = yield* commitsOf(ctx, onto, candidate.head)
    const linear = commits.every((c) => c.parents.length === 1)
    const isAncestor = yield* ctx.git.run(ctx.repo, ["merge-base", "--is-ancestor", onto, candidate.head], { okExitCodes: [0, 1] }).pipe(
      Effect.mapError(gitFailed)
    )
    if (linear && isAncestor.exitCode === 0) {
      return commits.length === 0
        ? { _tag: "Empty" } satisfies Integration
        : { _tag: "Clean", commit: candidate.head, resolutions: [] } satisfies Integration
    }
    let cur = onto
    let curTree = yield* treeOf(ctx, onto)
    const resolutions: Array<Resolution> = []
    for (const c of commits.filter((x) => x.parents.length === 1)) {
      // Cherry-pick c onto cur: a synthetic commit with cur's tree and c's parent makes that parent the base.
      const synthetic = yield* commitTree(ctx, curTree, [c.parents[0]!], "parallel-cc land: replay base")
      const merged = yield* mergeTrees(ctx, synthetic, c.sha, candidate, c.sha)
      if (merged._tag === "Unrelated") return { _tag: "Unrelated" } satisfies Integration
      if (merged._tag === "Conflict") {
        return { _tag: "Conflict", files: merged.files, resolutions: [...resolutions, ...merged.resolutions] } satisfies Integration
      }
      resolutions.push(...merged.resolutions)
      if (merged.tree === curTree) continue
      cur = yield* commitTree(ctx, merged.tree, [cur], c.message, c)
      curTree = merged.tree
    }
    return cur === onto ? { _tag: "Empty" } satisfies Integration : { _tag: "Clean", commit: cur, tree: curTree, resolutions } satisfies Integration
  })

/**
 * Put `candidate` onto `onto` with `strategy`; `target` names the branch in commit messages. `ontoTree`, when
 * known (the previous link of a chain), saves asking git for it.
 */
export const integrate = (ctx: Context, onto: string, candidate: Candidate, strategy: Strategy, target: string, ontoTree?: string) =>
  Effect.gen(function*() {
    if (strategy === "rebase") return yield* rebase(ctx, onto, candidate)
    const merged = yield* mergeTrees(ctx, onto, candidate.head, candidate, null)
    if (merged._tag !== "Tree") return merged satisfies Integration
    if (merged.tree === (ontoTree ?? (yield* treeOf(ctx, onto)))) return { _tag: "Empty" } satisfies Integration
    if (strategy === "merge") {
      const message = `Merge ${candidate.name} into ${target}\n\nLanded by parallel-cc land.\n`
      const commit = yield* commitTree(ctx, merged.tree, [onto, candidate.head], message)
      return { _tag: "Clean", commit, tree: merged.tree, resolutions: merged.resolutions } satisfies Integration
    }
    const commits = yield* commitsOf(ctx, onto, candidate.head)
    const tip = commits[commits.length - 1]
    const commit = yield* commitTree(ctx, merged.tree, [onto], squashMessage(candidate, target, commits), tip)
    return { _tag: "Clean", commit, tree: merged.tree, resolutions: merged.resolutions } satisfies Integration
  })

/**
 * Environment that gives commit-tree an identity when git has none configured for this repository (the
 * user's own identity is used whenever there is one).
 */
export const identityEnv = (git: GitApi, repo: string) =>
  git.run(repo, ["var", "GIT_COMMITTER_IDENT"], { okExitCodes: [0, 128] }).pipe(
    Effect.zip(git.run(repo, ["var", "GIT_AUTHOR_IDENT"], { okExitCodes: [0, 128] })),
    Effect.map(([c, a]): Record<string, string> => ({
      ...(c.exitCode === 0 ? {} : { GIT_COMMITTER_NAME: "parallel-cc", GIT_COMMITTER_EMAIL: "parallel-cc@localhost" }),
      ...(a.exitCode === 0 ? {} : { GIT_AUTHOR_NAME: "parallel-cc", GIT_AUTHOR_EMAIL: "parallel-cc@localhost" })
    })),
    Effect.mapError(gitFailed)
  )
