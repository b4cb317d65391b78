/**
 * One session's finished work: find it by id, name or branch (`resolve`), look at it (`diff`, `open`),
 * throw it away (`discard`), or work on it again (`reenter`: the kept worktree becomes an active session
 * once more, for `claude-parallel --session`). Used by `Sessions.make`.
 */
import { FileSystem, Path } from "@effect/platform"
import { Effect, Option } from "effect"
import type { Session, SessionId } from "../Domain.js"
import { InvalidInput, SessionConflict, SessionNotFound } from "../Errors.js"
import { Git } from "../platform/Git.js"
import type { makeReleaser, Released } from "./sessionRelease.js"
import type { Registered, Registrar } from "./sessionRegister.js"
import { SessionStore } from "./SessionStore.js"
import { emptyPrepare } from "./worktreePrepare.js"
import { emptySetup } from "./worktreeSetup.js"
import { WorktreeError, Worktrees } from "./Worktrees.js"

/** One changed path of a session's diff. */
export interface DiffFile {
  readonly path: string
  /** git's status letter: A added, M modified, D deleted, R renamed, C copied, T type changed. */
  readonly status: string
  /** Lines added and deleted; null for a binary file. */
  readonly added: number | null
  readonly deleted: number | null
  /** The path before a rename or copy. */
  readonly from: string | null
}

export interface SessionDiff {
  readonly session: Session
  /** The commit the session started from. */
  readonly base: string
  /** A tree object of everything in the worktree now: committed, uncommitted and untracked (not ignored). */
  readonly tree: string
  readonly files: ReadonlyArray<DiffFile>
  /** `git diff` output (a patch, or `--stat` with `stat`). */
  readonly text: string
}

export interface DiffOptions {
  readonly stat?: boolean | undefined
  /** Colour the text as git would on a terminal. */
  readonly color?: boolean | undefined
}

/** Parse `git diff --name-status -z` and `--numstat -z` into one list. */
export const parseDiffFiles = (nameStatus: string, numstat: string): ReadonlyArray<DiffFile> => {
  const counts = new Map<string, { added: number | null; deleted: number | null }>()
  const n = numstat.split("\0")
  for (let i = 0; i < n.length; i++) {
    const entry = n[i]!
    if (entry === "") continue
    const [a, d, p] = entry.split("\t")
    const c = { added: a === "-" ? null : Number(a), deleted: d === "-" ? null : Number(d) }
    // A rename is `a\td\t` followed by the old and the new path.
    if (p === "" || p === undefined) {
      counts.set(n[i + 2] ?? "", c)
      i += 2
    } else counts.set(p, c)
  }
  const files: Array<DiffFile> = []
  const parts = nameStatus.split("\0")
  for (let i = 0; i < parts.length; i++) {
    const status = parts[i]!
    if (status === "") continue
    if (status.startsWith("R") || status.startsWith("C")) {
      const from = parts[i + 1] ?? ""
      const to = parts[i + 2] ?? ""
      files.push({ path: to, status: status[0]!, from, ...(counts.get(to) ?? { added: null, deleted: null }) })
      i += 2
    } else {
      const p = parts[i + 1] ?? ""
      files.push({ path: p, status: status[0]!, from: null, ...(counts.get(p) ?? { added: null, deleted: null }) })
      i += 1
    }
  }
  return files
}

export const makeReview = (releaser: Effect.Effect.Success<typeof makeReleaser>, registrar: Registrar) =>
  Effect.gen(function*() {
    const store = yield* SessionStore
    const git = yield* Git
    const worktrees = yield* Worktrees
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const exists = (p: string) => fs.exists(p).pipe(Effect.orElseSucceed(() => false))
    const label = (s: Session) => s.name ?? s.sessionId

    /**
     * The session an id, name or branch means: an id is exact; a name or branch prefers sessions of the
     * repository `repo` is in, then the one that is running or whose worktree is kept, then the newest.
     */
    const resolve = (ref: string, options: { readonly repo?: string | undefined } = {}) =>
      Effect.gen(function*() {
        if (ref.trim() === "") return yield* new InvalidInput({ field: "session", detail: "give a session id, name or branch" })
        const found = yield* store.findByRef(ref)
        if (found.length === 0) return yield* new SessionNotFound({ ref })
        const exact = found.find((s) => s.sessionId === ref)
        if (exact !== undefined) return exact
        const here = options.repo !== undefined ? yield* git.mainRoot(options.repo).pipe(Effect.option) : Option.none()
        const inRepo = Option.isSome(here) ? found.filter((s) => s.repoPath === here.value) : []
        const candidates = inRepo.length > 0 ? inRepo : found
        const live = candidates.filter((s) => s.status === "active" || s.keptReason !== null)
        if (live.length > 1) {
          return yield* new SessionConflict({
            reason: "Ambiguous",
            subject: ref,
            detail: live.map((s) => `${s.sessionId} in ${s.repoPath}`).join(", ")
          })
        }
        return live[0] ?? candidates[0]!
      })

    /** An active session that is alive refuses; a dead one is released first (under the never-lose-work rule). */
    const settled = (s: Session) =>
      Effect.gen(function*() {
        if (s.status !== "active") return s
        const v = yield* releaser.view(s)
        if (v.liveness.state === "alive") {
          return yield* new SessionConflict({ reason: "StillRunning", subject: label(s), detail: `pid ${s.pid}` })
        }
        yield* releaser.releaseOne(s, v.liveness.state === "stale" ? "stale" : "dead", { force: false, liveness: v.liveness })
        return yield* store.get(s.sessionId)
      })

    const branchExists = (s: Session) =>
      s.branch === null
        ? Effect.succeed(false)
        : git.run(s.repoPath, ["rev-parse", "-q", "--verify", `refs/heads/${s.branch}`], { okExitCodes: [0, 1, 128] })
          .pipe(Effect.map((r) => r.exitCode === 0))

    const reenter = (options: { readonly session: string; readonly pid: number; readonly repo?: string | undefined }) =>
      Effect.gen(function*() {
        const found = yield* resolve(options.session, { repo: options.repo })
        if (found.mode === "sandbox") {
          return yield* new SessionConflict({
            reason: "NoWorktree",
            subject: label(found),
            detail: "it is a sandboxed run; look at its results with `parallel-cc diff` and `parallel-cc open`"
          })
        }
        if (found.isMainRepo) {
          return yield* new SessionConflict({
            reason: "NoWorktree",
            subject: label(found),
            detail: `it worked in the repository itself; start claude-parallel in ${found.repoPath}`
          })
        }
        const s = yield* settled(found)
        const dirThere = yield* exists(s.worktreePath)
        if (s.keptReason === null && !(yield* branchExists(s))) {
          return yield* new SessionConflict({
            reason: "NoWorktree",
            subject: label(s),
            detail: "its worktree was removed when it ended (it held no work) and its branch is gone"
          })
        }
        const pidStart = yield* registrar.running(options.pid)
        const selfStart = yield* registrar.self
        const active = yield* store.reactivate(s.sessionId, process.pid, selfStart)
        const session = yield* Effect.gen(function*() {
          if (!dirThere) {
            // git still has the removed directory on record until it is pruned.
            yield* worktrees.prune(s.repoPath)
            yield* worktrees.create({ repoPath: s.repoPath, path: s.worktreePath, branch: s.branch!, createBranch: false })
          } else {
            const insp = yield* worktrees.inspect({ repoPath: s.repoPath, path: s.worktreePath })
            if (!insp.isWorktree) {
              return yield* new SessionConflict({
                reason: "NoWorktree",
                subject: label(s),
                detail: `${s.worktreePath} is not a git worktree of ${s.repoPath} any more`
              })
            }
          }
          yield* releaser.createHeartbeatFile(s.sessionId)
          const ready = yield* store.markReady(s.sessionId, options.pid, pidStart)
          yield* releaser.createSessionDir(ready)
          return ready
        }).pipe(
          Effect.onError(() =>
            Effect.gen(function*() {
              const recreated = !dirThere && (yield* exists(s.worktreePath))
              yield* store.restoreReleased(recreated && s.keptReason === null ? { ...s, keptReason: "re-created for a re-entry that failed" } as Session : s)
                .pipe(Effect.ignore)
            })
          )
        )
        return {
          session,
          registration: registrar.registration(session, true),
          heartbeatFile: releaser.heartbeatFile(session.sessionId),
          sessionDir: releaser.sessionDir(session.sessionId),
          env: registrar.envFor(active),
          setup: emptySetup,
          prepared: emptyPrepare,
          swept: []
        } satisfies Registered
      }).pipe(Effect.withSpan("Sessions.reenter"))

    /** The worktree of a session (refused when it has none any more). */
    const open = (ref: string, options: { readonly repo?: string | undefined } = {}) =>
      Effect.gen(function*() {
        const s = yield* resolve(ref, options)
        if (!(yield* exists(s.worktreePath))) {
          return yield* new SessionConflict({ reason: "NoWorktree", subject: label(s), detail: `${s.worktreePath} was removed` })
        }
        return s
      })

    /** A tree of everything in `dir` now (committed, staged, unstaged, untracked), via a throw-away index. */
    const snapshotTree = (dir: string) =>
      Effect.scoped(Effect.gen(function*() {
        const tmp = yield* fs.makeTempDirectoryScoped({ prefix: "pcc-diff-" })
        const index = path.join(tmp, "index")
        const real = yield* git.run(dir, ["rev-parse", "--path-format=absolute", "--git-path", "index"])
        // Start from a copy of the worktree's own index (its stat data makes `add -A` fast); the real index
        // and the agent's staging are never touched.
        yield* fs.copyFile(real.stdout.trim(), index).pipe(Effect.catchAll(() => Effect.void))
        const env = { GIT_INDEX_FILE: index, GIT_OPTIONAL_LOCKS: "0" }
        yield* git.run(dir, ["add", "-A", "--", "."], { env })
        return (yield* git.run(dir, ["write-tree"], { env })).stdout.trim()
      })).pipe(
        Effect.catchTag("BadArgument", "SystemError", (e) =>
          Effect.fail(new WorktreeError({ reason: "GitFailed", path: dir, detail: `could not snapshot it: ${e.message}` })))
      )

    const diff = (ref: string, options: DiffOptions & { readonly repo?: string | undefined } = {}) =>
      Effect.gen(function*() {
        const s = yield* resolve(ref, options)
        if (s.baseCommit === null) {
          return yield* new SessionConflict({ reason: "NoWorktree", subject: label(s), detail: "it has no recorded base commit" })
        }
        const there = yield* exists(s.worktreePath)
        const tree = there
          ? yield* snapshotTree(s.worktreePath)
          : (yield* branchExists(s))
          ? (yield* git.run(s.repoPath, ["rev-parse", `refs/heads/${s.branch}^{tree}`])).stdout.trim()
          : yield* new SessionConflict({ reason: "NoWorktree", subject: label(s), detail: "its worktree and branch were removed" })
        const cwd = there ? s.worktreePath : s.repoPath
        const range = [s.baseCommit, tree]
        const nameStatus = yield* git.run(cwd, ["diff", "--name-status", "-z", "-M", ...range])
        const numstat = yield* git.run(cwd, ["diff", "--numstat", "-z", "-M", ...range])
        const text = yield* git.run(cwd, [
          "diff",
          options.color === true ? "--color=always" : "--no-color",
          "-M",
          ...(options.stat === true ? ["--stat"] : []),
          ...range
        ])
        return {
          session: s,
          base: s.baseCommit,
          tree,
          files: parseDiffFiles(nameStatus.stdout, numstat.stdout),
          text: text.stdout
        } satisfies SessionDiff
      }).pipe(Effect.withSpan("Sessions.diff"))

    /**
     * Throw a session's worktree away: refused (`WouldLoseWork`, naming the work) unless nothing would be lost
     * or `force`; the result lists exactly what was (with `dryRun`: would be) thrown away.
     */
    const discard = (
      ref: string,
      options: { readonly force?: boolean | undefined; readonly dryRun?: boolean | undefined; readonly repo?: string | undefined } = {}
    ) =>
      Effect.gen(function*() {
        const force = options.force === true
        const dryRun = options.dryRun === true
        const found = yield* resolve(ref, options)
        if (found.isMainRepo) {
          return yield* new SessionConflict({ reason: "NoWorktree", subject: label(found), detail: "it worked in the repository itself" })
        }
        if (found.status === "active") {
          const v = yield* releaser.view(found)
          if (v.liveness.state === "alive") {
            return yield* new SessionConflict({ reason: "StillRunning", subject: label(found), detail: `pid ${found.pid}` })
          }
        }
        const insp = yield* worktrees.inspect({
          repoPath: found.repoPath,
          path: found.worktreePath,
          branch: found.branch,
          copiesFrom: found.repoPath,
          base: found.baseCommit,
          target: found.baseBranch
        })
        if (!insp.lossless && !force) {
          return yield* new SessionConflict({ reason: "WouldLoseWork", subject: label(found), detail: insp.summary })
        }
        if (found.status === "active") {
          if (dryRun) {
            const fate = yield* releaser.settleWorktree(found, { force, dryRun: true })
            return releaser.toReleased(found, "dead", fate, null, false)
          }
          const r = yield* releaser.releaseOne(found, "dead", { force })
          if (Option.isSome(r)) return r.value
        }
        const s = yield* store.get(found.sessionId)
        if (s.keptReason === null) {
          return yield* new SessionConflict({ reason: "NoWorktree", subject: label(s), detail: "its worktree was removed when it ended" })
        }
        const r = yield* releaser.recheckKept(s, { force, dryRun })
        if (Option.isNone(r)) return yield* new SessionConflict({ reason: "BeingReleased", subject: label(s) })
        return r.value satisfies Released
      }).pipe(Effect.withSpan("Sessions.discard"))

    return { resolve, reenter, open, diff, discard }
  })

export type SessionRef = SessionId | string
