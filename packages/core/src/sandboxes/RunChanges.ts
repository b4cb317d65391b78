/**
 * A run's changes on this machine: collected from its sandbox, saved next to its log (for `sandbox download`
 * after the sandbox is gone), and put in a worktree of the repository for review — as uncommitted changes,
 * or committed on the run's branch (`--branch`). The outcome is recorded on the run.
 *
 * @since 0.1.0
 */
import { Effect, Option } from "effect"
import * as path from "node:path"
import type { SessionId } from "../Domain.js"
import * as NodeFs from "../platform/nodeFs.js"
import type * as Redact from "../platform/redact.js"
import { planWorktree } from "../sessions/SessionStore.js"
import * as RunArtifacts from "./RunArtifacts.js"
import type { RunDeps } from "./RunDeps.js"
import { type Collected, SandboxRunError } from "./RunModel.js"
import type { ChangeList, Changes, Sandbox } from "./SandboxProvider.js"
import type { SandboxRun } from "./SandboxRuns.js"
import { SandboxError } from "./SandboxProvider.js"

/** The git identity of a run's commit. */
export interface Identity {
  readonly name: string
  readonly email: string
}

export interface CollectOptions {
  /** Commit the changes on the run's branch (a successful `--branch` run). */
  readonly commit: boolean
  readonly identity?: Identity | undefined
  readonly redact: Redact.Redactor
}

/** The commit message of a run: the prompt's first line, and which run made it. */
export const commitMessage = (run: Pick<SandboxRun, "prompt" | "sessionId" | "agent" | "provider">): string => {
  const firstLine = run.prompt.trim().split("\n")[0] ?? "sandbox run"
  const subject = firstLine.length > 72 ? `${firstLine.slice(0, 71)}…` : firstLine
  return `${subject}\n\nSandboxed run ${run.sessionId} (agent ${run.agent}, ${run.provider} provider).\n`
}

const isEmptyDirectory = (dir: string) =>
  NodeFs.readDirectory(dir).pipe(Effect.map((names) => names.length === 0), Effect.orElseSucceed(() => true))

/** Commit everything in the worktree on its branch, as the run's identity; the commit, or null when nothing changed. */
const commitIn = (deps: RunDeps, wtPath: string, run: SandboxRun, identity: Identity | undefined) =>
  Effect.gen(function*() {
    const fail = (detail: string) => new SandboxRunError({ reason: "WorktreeFailed", sessionId: run.sessionId, detail })
    const id = identity ?? { name: "parallel-cc", email: "parallel-cc@localhost" }
    const env = { GIT_AUTHOR_NAME: id.name, GIT_AUTHOR_EMAIL: id.email, GIT_COMMITTER_NAME: id.name, GIT_COMMITTER_EMAIL: id.email }
    yield* deps.git.run(wtPath, ["add", "-A", "--", "."]).pipe(Effect.mapError((e) => fail(e.message)))
    const staged = yield* deps.git.run(wtPath, ["diff", "--cached", "--quiet"], { okExitCodes: [0, 1] }).pipe(Effect.mapError((e) => fail(e.message)))
    if (staged.exitCode === 0) return null
    yield* deps.git.run(wtPath, ["commit", "-q", "--no-verify", "-F", "-"], { env, stdin: commitMessage(run) }).pipe(
      Effect.mapError((e) => fail(e.message))
    )
    return yield* deps.git.revParse(wtPath, "HEAD").pipe(Effect.mapError((e) => fail(e.message)))
  })

/**
 * Apply collected changes to the run's worktree — the one its session has (a fresh checkout of the base
 * commit), or a new one for a session registered without (an earlier version's run) — and commit when asked.
 */
export const land = (deps: RunDeps, run: SandboxRun, changes: Changes, options: Omit<CollectOptions, "redact">) =>
  Effect.gen(function*() {
    const session = yield* deps.sessions.get(run.sessionId as SessionId).pipe(Effect.option)
    const plan = planWorktree(deps.config.values, run.repoPath)(run.sessionId as SessionId)
    const wtPath = Option.match(session, { onNone: () => plan.path, onSome: (s) => s.worktreePath })
    const branch = Option.match(session, { onNone: () => run.branch ?? plan.branch, onSome: (s) => s.branch ?? run.branch ?? plan.branch })
    const fail = (detail: string) => new SandboxRunError({ reason: "WorktreeFailed", sessionId: run.sessionId, detail })
    if (run.baseCommit === null) return yield* fail("the run has no base commit")
    const own = Option.isSome(session) && session.value.worktreeName !== null && (yield* NodeFs.exists(path.join(wtPath, ".git")))
    if (!own) {
      if ((yield* NodeFs.exists(wtPath)) && !(yield* isEmptyDirectory(wtPath))) return yield* fail(`${wtPath} already exists`)
      yield* deps.worktrees.create({ repoPath: run.repoPath, path: wtPath, branch, startPoint: run.baseCommit }).pipe(
        Effect.mapError((e) => fail(e.message))
      )
    }
    const applied = yield* deps.fileSync.apply(changes, wtPath)
    const commit = options.commit && (applied.written.length > 0 || applied.deleted.length > 0)
      ? yield* commitIn(deps, wtPath, run, options.identity)
      : null
    return { refused: applied.refused, worktreePath: wtPath, branch, commit }
  })

/** The sandbox worked in the run's worktree itself: settle it there (see `local/workTree`), commit when asked. */
const settleInPlace = (deps: RunDeps, run: SandboxRun, sandbox: Sandbox, changes: Changes, options: Omit<CollectOptions, "redact">) =>
  Effect.gen(function*() {
    const wtPath = sandbox.workTree!
    const removed = yield* sandbox.settleWorkTree!(changes)
    const session = yield* deps.sessions.get(run.sessionId as SessionId).pipe(Effect.option)
    const branch = Option.match(session, { onNone: () => run.branch, onSome: (s) => s.branch ?? run.branch })
    const commit = options.commit ? yield* commitIn(deps, wtPath, run, options.identity) : null
    return { refused: [...changes.refused, ...removed], worktreePath: wtPath, branch, commit }
  })

/**
 * Collect the changes of `sandbox` for `run`: save them, and (unless dry run or nothing changed) put them
 * in the run's worktree. Records the outcome on the run.
 */
export const collect = (deps: RunDeps, run: SandboxRun, sandbox: Sandbox, options: CollectOptions) =>
  Effect.gen(function*() {
    const changes = yield* sandbox.changes
    const changesPath = yield* RunArtifacts.saveChanges(run, changes).pipe(
      Effect.mapError((e) => new SandboxError({ reason: "DownloadFailed", provider: run.provider, sandboxId: sandbox.id, detail: `saving the changes: ${e.message}` }))
    )
    const lists: ChangeList = { added: changes.added, modified: changes.modified, deleted: changes.deleted }
    const total = changes.added.length + changes.modified.length + changes.deleted.length
    yield* deps.runs.update(run.sessionId, {
      changesPath,
      filesAdded: changes.added.length,
      filesModified: changes.modified.length,
      filesDeleted: changes.deleted.length
    })
    const inPlace = sandbox.workTree !== undefined && sandbox.settleWorkTree !== undefined
    if (inPlace && (run.dryRun || total === 0)) {
      // Nothing to review: the worktree goes back to the base commit (and goes with the session).
      const removed = yield* sandbox.settleWorkTree!(changes)
      return { changes: lists, refused: [...changes.refused, ...removed], worktreePath: null, branch: null, commit: null } satisfies Collected
    }
    if (run.dryRun || total === 0) {
      return { changes: lists, refused: changes.refused, worktreePath: null, branch: null, commit: null } satisfies Collected
    }
    const landed = inPlace ? yield* settleInPlace(deps, run, sandbox, changes, options) : yield* land(deps, run, changes, options)
    yield* deps.runs.update(run.sessionId, { worktreePath: landed.worktreePath, branch: landed.branch })
    return {
      changes: lists,
      refused: landed.refused,
      worktreePath: landed.worktreePath,
      branch: landed.branch,
      commit: landed.commit
    } satisfies Collected
  })
