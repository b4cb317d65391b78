/**
 * What can be landed, and the commit that stands for it: a session's branch (its committed work), a plain
 * branch, or a sandboxed run's result (its branch, plus the uncommitted files of its review worktree as one
 * snapshot commit made with a private index — the run's worktree and branch are never touched).
 */
import type { FileSystem, Path } from "@effect/platform"
import { Effect, Option } from "effect"
import type { Session } from "../Domain.js"
import type { Git } from "../platform/Git.js"
import type { SandboxRun, SandboxRuns } from "../sandboxes/SandboxRuns.js"
import type { SessionStore } from "../sessions/SessionStore.js"
import { parseStatus } from "../sessions/Worktrees.js"
import { type CandidateKind, LandError, type Skipped } from "./LandDomain.js"

type GitApi = Git["Type"]

export interface Deps {
  readonly git: GitApi
  readonly fs: FileSystem.FileSystem
  readonly path: Path.Path
  readonly sessions: SessionStore["Type"]
  readonly runs: SandboxRuns["Type"]
  readonly scratchDir: string
  readonly identityEnv: Readonly<Record<string, string>>
}

/** A candidate as found now. */
export interface Candidate {
  readonly kind: CandidateKind
  readonly spec: string
  readonly name: string
  readonly sessionId: string | null
  readonly branch: string | null
  readonly worktreePath: string | null
  /** The commit to land. */
  readonly head: string
  /** Commits (or snapshot) the target lacks; 0 means nothing to land; null when not counted (a refresh). */
  readonly ahead: number | null
  readonly warnings: ReadonlyArray<string>
}

const gitFailed = (e: { readonly message: string }) => new LandError({ reason: "GitFailed", detail: e.message })

const branchTip = (d: Deps, repo: string, branch: string) =>
  d.git.run(repo, ["rev-parse", "-q", "--verify", `refs/heads/${branch}^{commit}`], { okExitCodes: [0, 1] }).pipe(
    Effect.map((r) => (r.exitCode === 0 ? r.stdout.trim() : null)),
    Effect.mapError(gitFailed)
  )

const aheadOf = (d: Deps, repo: string, targetTip: string, head: string) =>
  d.git.run(repo, ["rev-list", "--count", head, "--not", targetTip]).pipe(
    Effect.map((r) => Number(r.stdout.trim()) || 0),
    Effect.mapError(gitFailed)
  )

const exists = (d: Deps, p: string) => d.fs.exists(p).pipe(Effect.orElseSucceed(() => false))

/** Uncommitted work in a worktree: changed tracked files and untracked (not ignored) files. */
const uncommitted = (d: Deps, worktree: string) =>
  d.git.run(worktree, ["status", "--porcelain=v1", "-z", "--untracked-files=normal"], { env: { GIT_OPTIONAL_LOCKS: "0" }, okExitCodes: [0, 128] }).pipe(
    Effect.map((r) => (r.exitCode === 0 ? parseStatus(r.stdout) : { changes: [], untracked: [] })),
    Effect.mapError(gitFailed)
  )

/**
 * A commit holding everything in `worktree` (tracked changes and untracked, not ignored files) on top of its
 * HEAD, written through a private index: the worktree's own index and files stay as they are. None when the
 * worktree has nothing uncommitted.
 */
const snapshot = (d: Deps, worktree: string, message: string, date: Date) =>
  Effect.gen(function*() {
    const index = d.path.join(d.scratchDir, `${globalThis.crypto.randomUUID()}.index`)
    const env = { GIT_INDEX_FILE: index }
    return yield* Effect.gen(function*() {
      const head = (yield* d.git.run(worktree, ["rev-parse", "HEAD"])).stdout.trim()
      yield* d.git.run(worktree, ["read-tree", "HEAD"], { env })
      yield* d.git.run(worktree, ["add", "-A", "--", "."], { env })
      const tree = (yield* d.git.run(worktree, ["write-tree"], { env })).stdout.trim()
      const headTree = (yield* d.git.run(worktree, ["rev-parse", "HEAD^{tree}"])).stdout.trim()
      if (tree === headTree) return Option.none<string>()
      // A fixed date makes the same result the same commit, so a run queued twice is recognised.
      const when = `${Math.floor(date.getTime() / 1000)} +0000`
      const commit = yield* d.git.run(worktree, ["commit-tree", tree, "-p", head, "-F", "-"], {
        stdin: message,
        env: { ...d.identityEnv, GIT_AUTHOR_DATE: when, GIT_COMMITTER_DATE: when }
      })
      return Option.some(commit.stdout.trim())
    }).pipe(Effect.mapError(gitFailed), Effect.ensuring(d.fs.remove(index).pipe(Effect.ignore)))
  })

/** Look again at a queued candidate: no count of commits, no look at its worktree (both were done when queued). */
interface Quick {
  readonly quick?: boolean
}

const fromSession = (d: Deps, repo: string, targetTip: string, s: Session, spec: string, opts: Quick = {}) =>
  Effect.gen(function*() {
    if (s.branch === null) {
      return yield* new LandError({ reason: "NoSessionBranch", detail: `session ${s.sessionId} works in the repository itself` })
    }
    const head = yield* branchTip(d, repo, s.branch)
    if (head === null) {
      return yield* new LandError({ reason: "UnknownCandidate", detail: `the branch ${s.branch} of session ${s.sessionId} no longer exists` })
    }
    const warnings: Array<string> = []
    // An ended session's worktree was inspected at its release (keptReason says what it held): look again
    // only when that found uncommitted work, or the agent may still be writing.
    const look = s.status === "active" || s.keptReason === null || /uncommitted|untracked/.test(s.keptReason)
    if (opts.quick !== true && look && (yield* exists(d, s.worktreePath))) {
      const work = yield* uncommitted(d, s.worktreePath)
      const n = work.changes.length + work.untracked.length
      if (n > 0) {
        warnings.push(
          `${n} uncommitted file${n === 1 ? "" : "s"} in ${s.worktreePath} ${n === 1 ? "is" : "are"} not part of this landing (only commits are landed)`
        )
      }
    }
    const ahead = opts.quick === true ? null : yield* aheadOf(d, repo, targetTip, head)
    return {
      kind: "session",
      spec,
      name: s.branch,
      sessionId: s.sessionId,
      branch: s.branch,
      worktreePath: s.worktreePath,
      head,
      ahead,
      warnings
    } satisfies Candidate
  })

const fromRun = (d: Deps, repo: string, targetTip: string, run: SandboxRun, spec: string, opts: Quick = {}) =>
  Effect.gen(function*() {
    const name = `run ${run.sessionId}`
    let head = run.branch !== null ? yield* branchTip(d, repo, run.branch) : null
    const warnings: Array<string> = []
    if (run.worktreePath !== null && (yield* exists(d, run.worktreePath))) {
      const first = run.prompt.trim().split("\n")[0] ?? "sandboxed run"
      const subject = first.length > 72 ? `${first.slice(0, 71)}…` : first
      const snap = yield* snapshot(d, run.worktreePath, `${subject}\n\nResult of sandboxed run ${run.sessionId} (${run.agent}, ${run.provider}).\n`,
        run.endedAt ?? run.createdAt
      )
      if (Option.isSome(snap)) {
        head = snap.value
        warnings.push(`the uncommitted result in ${run.worktreePath} is landed as one commit (the worktree is left as it is)`)
      }
    }
    if (head === null) {
      return yield* new LandError({ reason: "NoCommits", detail: `sandboxed run ${run.sessionId} left no branch or worktree with changes` })
    }
    const ahead = opts.quick === true ? null : yield* aheadOf(d, repo, targetTip, head)
    return {
      kind: "run",
      spec,
      name,
      sessionId: run.sessionId,
      branch: run.branch,
      worktreePath: run.worktreePath,
      head,
      ahead,
      warnings
    } satisfies Candidate
  })

const fromBranch = (d: Deps, repo: string, targetTip: string, branch: string, spec: string, opts: Quick = {}) =>
  Effect.gen(function*() {
    const head = yield* branchTip(d, repo, branch)
    if (head === null) return yield* new LandError({ reason: "UnknownCandidate", detail: `no branch ${branch}` })
    const ahead = opts.quick === true ? null : yield* aheadOf(d, repo, targetTip, head)
    return { kind: "branch", spec, name: branch, sessionId: null, branch, worktreePath: null, head, ahead, warnings: [] } satisfies Candidate
  })

const runOf = (d: Deps, id: string, repo: string) =>
  d.runs.get(id).pipe(
    Effect.map((r) => (r.repoPath === repo ? Option.some(r) : Option.none<SandboxRun>())),
    Effect.catchTag("SandboxRunNotFound", () => Effect.succeed(Option.none<SandboxRun>()))
  )

/** Find what `spec` names in `repo`: a session (id, worktree name or branch), a sandboxed run, or a branch. */
export const resolveSpec = (d: Deps, repo: string, targetTip: string, spec: string) =>
  Effect.gen(function*() {
    const all = yield* d.sessions.list({ repoPath: repo, status: "all" })
    const matches = all.filter((s) => s.sessionId === spec || s.worktreeName === spec || s.branch === spec)
    const session = matches.find((s) => s.status === "active") ?? matches[matches.length - 1]
    if (session !== undefined && session.mode === "sandbox") {
      const run = yield* runOf(d, session.sessionId, repo)
      if (Option.isSome(run)) return yield* fromRun(d, repo, targetTip, run.value, spec)
    }
    if (session !== undefined) return yield* fromSession(d, repo, targetTip, session, spec)
    const run = yield* runOf(d, spec, repo)
    if (Option.isSome(run)) return yield* fromRun(d, repo, targetTip, run.value, spec)
    const valid = yield* d.git.checkBranchName(spec).pipe(Effect.option)
    if (Option.isSome(valid) && (yield* branchTip(d, repo, spec)) !== null) return yield* fromBranch(d, repo, targetTip, spec, spec)
    return yield* new LandError({
      reason: "UnknownCandidate",
      detail: `no session, sandboxed run or branch ${JSON.stringify(spec)} in ${repo}`
    })
  })

/** The candidate again, as it is now (its branch may have moved; a run's worktree may have changed). */
export const refresh = (d: Deps, repo: string, targetTip: string, c: { readonly kind: CandidateKind; readonly spec: string; readonly sessionId: string | null; readonly branch: string | null }) =>
  Effect.gen(function*() {
    if (c.kind === "run" && c.sessionId !== null) {
      const run = yield* runOf(d, c.sessionId, repo)
      if (Option.isSome(run)) return yield* fromRun(d, repo, targetTip, run.value, c.spec, { quick: true })
    }
    if (c.kind === "session" && c.sessionId !== null) {
      const s = yield* d.sessions.get(c.sessionId as Session["sessionId"]).pipe(Effect.option)
      if (Option.isSome(s)) return yield* fromSession(d, repo, targetTip, s.value, c.spec, { quick: true })
    }
    if (c.branch !== null) return yield* fromBranch(d, repo, targetTip, c.branch, c.spec, { quick: true })
    return yield* new LandError({ reason: "UnknownCandidate", detail: `${c.spec} is gone` })
  })

/**
 * Every finished candidate of `repo`: ended sessions whose branch has commits the target lacks, and sandboxed
 * runs that succeeded with a result. Active sessions, and runs whose branch went to a pull request, are
 * reported as skipped.
 */
export const discover = (d: Deps, repo: string, targetBranch: string, targetTip: string) =>
  Effect.gen(function*() {
    const found: Array<Candidate> = []
    const skipped: Array<Skipped> = []
    const sessions = yield* d.sessions.list({ repoPath: repo, status: "all", mode: "local" })
    // In the order the sessions finished (a merge queue takes work in the order it was done).
    const finished = [...sessions]
      .filter((s) => s.branch !== null && !s.isMainRepo && s.branch !== targetBranch)
      .sort((a, b) => (a.endedAt ?? a.createdAt).getTime() - (b.endedAt ?? b.createdAt).getTime())
    const seen = new Set<string>()
    const unique = finished.filter((s) => !seen.has(s.branch!) && (seen.add(s.branch!), true))
    const looked = yield* Effect.forEach(
      unique,
      (s) =>
        fromSession(d, repo, targetTip, s, s.sessionId).pipe(
          Effect.map((c) => ({ s, c })),
          Effect.catchIf((e) => e._tag === "LandError" && e.reason === "UnknownCandidate", () => Effect.succeed(null))
        ),
      { concurrency: 4 }
    )
    for (const x of looked) {
      if (x === null || x.c.ahead === 0) continue
      if (x.s.status === "active") {
        skipped.push({ name: x.c.name, reason: `session ${x.s.sessionId} is still active (name it to land its commits anyway)` })
        continue
      }
      found.push(x.c)
    }
    const runs = yield* d.runs.list({ repoPath: repo, limit: 500 })
    for (const r of [...runs].reverse()) {
      if (r.status !== "succeeded" || (r.branch === null && r.worktreePath === null)) continue
      if (r.pullRequestUrl !== null) {
        skipped.push({ name: `run ${r.sessionId}`, reason: `its branch went to a pull request (${r.pullRequestUrl}); name it to land it here anyway` })
        continue
      }
      if (r.branch !== null && (seen.has(r.branch) || r.branch === targetBranch)) continue
      const c = yield* fromRun(d, repo, targetTip, r, r.sessionId).pipe(Effect.option)
      if (Option.isSome(c) && c.value.ahead !== 0) found.push(c.value)
    }
    return { found, skipped }
  })
