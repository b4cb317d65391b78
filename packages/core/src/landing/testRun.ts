/**
 * Where the landing queue runs tests: a private, detached worktree of the repository (under the data
 * directory, never one of the user's), prepared like a session's worktree (`worktree.copy`,
 * `worktree.setup`), moved from commit to commit, and removed when the run ends. The test command runs
 * there with a timeout (its process group is stopped: SIGTERM, then SIGKILL), its output kept in a log.
 */
import { type CommandExecutor, FileSystem, type Path } from "@effect/platform"
import { Duration, Effect, Option, type Scope, Stream } from "effect"
import type { Git } from "../platform/Git.js"
import { start } from "../platform/exec.js"
import { setupWorktree, type SetupReport } from "../sessions/worktreeSetup.js"
import { LandError } from "./LandDomain.js"

type GitApi = Git["Type"]

export interface TestTree {
  readonly path: string
  readonly setup: SetupReport
  /** Put the tree at `commit` (tracked files reset, untracked files left by earlier tests removed; ignored ones kept). */
  readonly checkout: (commit: string) => Effect.Effect<void, LandError>
}

export interface TestTreeOptions {
  readonly git: GitApi
  readonly repo: string
  readonly path: string
  readonly commit: string
  readonly copy: ReadonlyArray<string>
  readonly setupCommands: ReadonlyArray<ReadonlyArray<string>>
  /** Runs `git worktree add/remove` under the repository's worktree lock. */
  readonly withLock: <A, E>(effect: Effect.Effect<A, E>) => Effect.Effect<A, E | LandError>
}

const gitFailed = (e: { readonly message: string }) => new LandError({ reason: "GitFailed", detail: e.message })

/** Remove a worktree of the queue (force: it holds nothing but a checkout and test output) and its directory. */
export const removeTestTree = (git: GitApi, fs: FileSystem.FileSystem, repo: string, path: string, withLock: TestTreeOptions["withLock"]) =>
  withLock(
    git.run(repo, ["worktree", "remove", "--force", "--force", "--", path], { okExitCodes: [0, 128] }).pipe(
      Effect.zipRight(fs.remove(path, { recursive: true }).pipe(Effect.ignore)),
      Effect.zipRight(git.run(repo, ["worktree", "prune"])),
      Effect.mapError(gitFailed)
    )
  ).pipe(Effect.catchAll((e) => Effect.logWarning(`could not remove the landing worktree ${path}`, e)))

/** A private worktree for tests, removed when the scope closes. */
export const testTree = (options: TestTreeOptions) =>
  Effect.gen(function*() {
    const { git, path, repo } = options
    const fs = yield* FileSystem.FileSystem
    yield* Effect.acquireRelease(
      options.withLock(
        git.run(repo, ["worktree", "add", "--detach", "--", path, options.commit]).pipe(Effect.mapError(gitFailed))
      ),
      () => removeTestTree(git, fs, repo, path, options.withLock)
    )
    const setup = yield* setupWorktree({
      repoPath: repo,
      worktreePath: path,
      copy: options.copy,
      commands: options.setupCommands,
      env: { PARALLEL_CC_LAND: "1" }
    })
    let at = options.commit
    const checkout = (commit: string) =>
      commit === at
        ? Effect.void
        : git.run(path, ["checkout", "-q", "--detach", "-f", commit]).pipe(
          Effect.zipRight(git.run(path, ["clean", "-fdq"])),
          Effect.tap(() => Effect.sync(() => (at = commit))),
          Effect.asVoid,
          Effect.mapError(gitFailed)
        )
    return { path, setup, checkout } satisfies TestTree
  })

export interface TestOutcome {
  readonly passed: boolean
  readonly timedOut: boolean
  readonly exitCode: number | null
  readonly durationMs: number
  /** The last lines of the output. */
  readonly tail: string
}

export interface TestRequest {
  readonly argv: readonly [string, ...Array<string>]
  readonly cwd: string
  readonly logPath: string
  /** Written at the top of the log. */
  readonly header: string
  readonly timeout: Duration.Duration
  readonly env: Readonly<Record<string, string>>
  /** Called with the test's pid once it started (for cleanup after a crash). */
  readonly onStart: (pid: number) => Effect.Effect<void>
}

const TAIL_LINES = 30
const KILL_GRACE = Duration.seconds(5)

const tailOf = (text: string) => text.replace(/\s+$/, "").split("\n").slice(-TAIL_LINES).join("\n")

/** Run the test command; its output goes to `logPath` (appended). A command that cannot start fails the test. */
export const runTest = (req: TestRequest) =>
  Effect.scoped(Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const file = yield* fs.open(req.logPath, { flag: "a", mode: 0o600 })
    const enc = new TextEncoder()
    yield* file.writeAll(enc.encode(`${req.header}\n`))
    const started = Date.now()
    let tailText = ""
    const keep = (chunk: Uint8Array) =>
      Effect.sync(() => {
        tailText = (tailText + new TextDecoder().decode(chunk)).slice(-16_384)
      }).pipe(Effect.zipRight(file.writeAll(chunk)))
    const proc = yield* start(req.argv, { cwd: req.cwd, env: req.env, stdin: "" }).pipe(Effect.either)
    if (proc._tag === "Left") {
      const msg = `could not start ${req.argv[0]}: ${proc.left.message}\n`
      yield* file.writeAll(enc.encode(msg))
      return { passed: false, timedOut: false, exitCode: null, durationMs: Date.now() - started, tail: msg.trim() } satisfies TestOutcome
    }
    const p = proc.right
    yield* req.onStart(Number(p.pid))
    const output = yield* Effect.forkScoped(
      Stream.runForEach(Stream.merge(p.stdout, p.stderr), keep).pipe(Effect.ignore)
    )
    const exit = yield* p.exitCode.pipe(Effect.timeoutOption(req.timeout), Effect.orElseSucceed(() => Option.some(-1)))
    let timedOut = false
    if (Option.isNone(exit)) {
      timedOut = true
      yield* p.kill("SIGTERM").pipe(
        Effect.timeout(KILL_GRACE),
        Effect.catchAll(() => p.kill("SIGKILL").pipe(Effect.timeout(KILL_GRACE), Effect.ignore))
      )
    }
    yield* output.await.pipe(Effect.timeout(KILL_GRACE), Effect.ignore)
    const durationMs = Date.now() - started
    const exitCode = Option.isSome(exit) ? Number(exit.value) : null
    const footer = timedOut
      ? `\n[parallel-cc land] stopped after ${Duration.format(req.timeout)} (land.testTimeoutMinutes)\n`
      : `\n[parallel-cc land] exit ${exitCode} after ${(durationMs / 1000).toFixed(1)}s\n`
    yield* file.writeAll(enc.encode(footer))
    return {
      passed: !timedOut && exitCode === 0,
      timedOut,
      exitCode,
      durationMs,
      tail: tailOf(tailText + footer)
    } satisfies TestOutcome
  })).pipe(
    Effect.catchAll((e) =>
      Effect.succeed({ passed: false, timedOut: false, exitCode: null, durationMs: 0, tail: `the test could not run: ${e.message}` } satisfies TestOutcome)
    )
  )

export type Requirements = FileSystem.FileSystem | Path.Path | CommandExecutor.CommandExecutor | Scope.Scope
