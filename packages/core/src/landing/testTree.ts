/**
 * Where the landing queue runs tests: a private, detached worktree of the repository (under the data
 * directory, never one of the user's), made usable exactly like a session's worktree — submodules, LFS
 * content and the sparse checkout, the ignored files `.worktreeinclude` names, the dependency folders of
 * `worktree.share`, then `worktree.copy` and `worktree.setup` (`sessions/worktreePrepare`,
 * `sessions/worktreeSetup`) — moved from commit to commit, and removed when the run ends.
 *
 * Moving to another commit resets tracked files and removes untracked ones the tests left, but keeps what
 * the preparation brought in (shared folders, copied and included files). When the move changes a file that
 * decides dependencies (a lockfile or manifest: `package-lock.json`, `uv.lock`, `go.sum`, …), the
 * `worktree.setup` commands run again first, in a tree whose shared folders were taken out (an install never
 * writes into the main checkout's folder); without setup commands the shared folders stay, with a warning.
 */
import { CommandExecutor, FileSystem, Path } from "@effect/platform"
import { Effect } from "effect"
import { Git } from "../platform/Git.js"
import { DEPENDENCY_FILES, type ShareMode } from "../sessions/sharedFolders.js"
import { prepareWorktree, type PrepareReport } from "../sessions/worktreePrepare.js"
import { runCommands, type SetupCommandResult, setupWorktree, type SetupReport } from "../sessions/worktreeSetup.js"
import { LandError } from "./LandDomain.js"

type GitApi = Git["Type"]

/** What moving the tree to a commit did about dependencies (null: nothing to do). */
export interface Reinstall {
  /** The dependency files that changed. */
  readonly changed: ReadonlyArray<string>
  /** Whether `worktree.setup` ran again (false: none configured; the shared folders were kept). */
  readonly ran: boolean
  /** The setup command that failed, if one did. */
  readonly failed: SetupCommandResult | null
  readonly log: string | null
  readonly durationMs: number
}

export interface TestTree {
  readonly path: string
  readonly prepared: PrepareReport
  readonly setup: SetupReport
  /**
   * Put the tree at `commit` (tracked files reset; untracked files left by earlier tests removed; ignored
   * ones and what the preparation brought in kept), installing dependencies again when they changed.
   */
  readonly checkout: (commit: string) => Effect.Effect<Reinstall | null, LandError>
}

export interface TestTreeOptions {
  readonly git: GitApi
  readonly repo: string
  readonly path: string
  readonly commit: string
  readonly copy: ReadonlyArray<string>
  readonly setupCommands: ReadonlyArray<ReadonlyArray<string>>
  readonly share: ReadonlyArray<string>
  readonly shareMode: ShareMode
  /** Where the setup commands' output goes: `${setupLog}.log`, then `${setupLog}-2.log`, … */
  readonly setupLog: string
  /** Runs `git worktree add/remove` under the repository's worktree lock. */
  readonly withLock: <A, E>(effect: Effect.Effect<A, E>) => Effect.Effect<A, E | LandError>
}

const SETUP_ENV = { PARALLEL_CC_LAND: "1" }

const gitFailed = (e: { readonly message: string }) => new LandError({ reason: "GitFailed", detail: e.message })

const setupFailed = (what: string, f: SetupCommandResult, log: string | null) =>
  new LandError({
    reason: "SetupFailed",
    detail: `the landing worktree's setup failed on ${what}: ${JSON.stringify(f.argv)} ` +
      `${f.exitCode === null ? "could not start" : `exited ${f.exitCode}`}${f.output !== "" ? `: ${f.output.split("\n").slice(-5).join(" / ")}` : ""}` +
      (log !== null ? ` (log: ${log})` : "")
  })

/** A path as a `git clean -e` pattern matching exactly it, from the top level. */
const exactPattern = (rel: string) => `/${rel.replace(/^\/+/, "").replace(/[\\*?[\]!#]/g, "\\$&")}`

/** Remove a worktree of the queue (force: it holds nothing but a checkout and test output) and its directory. */
export const removeTestTree = (git: GitApi, fs: FileSystem.FileSystem, repo: string, path: string, withLock: TestTreeOptions["withLock"]) =>
  withLock(
    git.run(repo, ["worktree", "remove", "--force", "--force", "--", path], { okExitCodes: [0, 128] }).pipe(
      Effect.zipRight(fs.remove(path, { recursive: true }).pipe(Effect.ignore)),
      Effect.zipRight(git.run(repo, ["worktree", "prune"])),
      Effect.mapError(gitFailed)
    )
  ).pipe(Effect.catchAll((e) => Effect.logWarning(`could not remove the landing worktree ${path}`, e)))

/** A private worktree for tests at `options.commit`, prepared and set up; removed when the scope closes. */
export const testTree = (options: TestTreeOptions) =>
  Effect.gen(function*() {
    const { git, path, repo } = options
    const fs = yield* FileSystem.FileSystem
    const paths = yield* Path.Path
    const executor = yield* CommandExecutor.CommandExecutor
    yield* Effect.acquireRelease(
      options.withLock(
        git.run(repo, ["worktree", "add", "--detach", "--", path, options.commit]).pipe(Effect.mapError(gitFailed))
      ),
      () => removeTestTree(git, fs, repo, path, options.withLock)
    )
    const prepared = yield* prepareWorktree({
      repoPath: repo,
      worktreePath: path,
      share: options.share,
      shareMode: options.shareMode,
      hasSetup: options.setupCommands.length > 0
    }).pipe(
      Effect.provideService(Git, git),
      Effect.mapError((e) => new LandError({ reason: "SetupFailed", detail: `the landing worktree could not be prepared: ${e.message}` }))
    )
    let logs = 0
    const nextLog = () => `${options.setupLog}${++logs === 1 ? "" : `-${logs}`}.log`
    const setupLog = nextLog()
    const setup = yield* setupWorktree({
      repoPath: repo,
      worktreePath: path,
      copy: options.copy,
      commands: prepared.runSetup ? options.setupCommands : [],
      env: SETUP_ENV,
      log: setupLog
    })
    if (setup.failed !== null) return yield* setupFailed(`${options.commit.slice(0, 12)} (the target)`, setup.failed, setup.log)

    let shared = prepared.share.folders.filter((f) => f.outcome === "shared").map((f) => f.path)
    // Kept across checkouts: what the preparation brought in (shared folders, included and copied files).
    const keep = [...options.share, ...prepared.included, ...setup.copied].flatMap((p) => ["-e", exactPattern(p)])
    const watchDeps = options.setupCommands.length > 0 || shared.length > 0

    const dependencyChanges = (from: string, to: string) =>
      git.run(path, ["diff", "--name-only", "-z", "--no-renames", from, to, "--"]).pipe(
        Effect.map((r) => r.stdout.split("\0").filter((f) => f !== "" && DEPENDENCY_FILES.has(paths.basename(f)))),
        Effect.mapError(gitFailed)
      )

    const reinstall = (changed: ReadonlyArray<string>) =>
      Effect.gen(function*() {
        if (options.setupCommands.length === 0) {
          return { changed, ran: false, failed: null, log: null, durationMs: 0 } satisfies Reinstall
        }
        const started = Date.now()
        // Taken out first: a symlinked folder is the main checkout's, a clone would mix two dependency sets.
        for (const rel of shared) yield* fs.remove(paths.join(path, rel), { recursive: true }).pipe(Effect.ignore)
        shared = []
        const r = yield* runCommands(path, options.setupCommands, SETUP_ENV, { log: nextLog() })
        return { changed, ran: true, failed: r.failed, log: r.log, durationMs: Date.now() - started } satisfies Reinstall
      })

    let at = options.commit
    // Dependency files whose install failed: the next checkout installs again, wherever it goes.
    let pending: ReadonlyArray<string> = []
    const checkout = (commit: string): Effect.Effect<Reinstall | null, LandError> =>
      commit === at && pending.length === 0 ? Effect.succeed(null) : Effect.gen(function*() {
        const moved = watchDeps && commit !== at ? yield* dependencyChanges(at, commit) : []
        if (commit !== at) {
          yield* git.run(path, ["checkout", "-q", "--detach", "-f", commit]).pipe(
            Effect.zipRight(git.run(path, ["clean", "-fdq", ...keep])),
            Effect.mapError(gitFailed)
          )
          at = commit
        }
        const changed = [...new Set([...pending, ...moved])]
        if (changed.length === 0) return null
        const r = yield* reinstall(changed)
        pending = r.failed !== null ? changed : []
        return r
      }).pipe(
        Effect.provideService(FileSystem.FileSystem, fs),
        Effect.provideService(Path.Path, paths),
        Effect.provideService(CommandExecutor.CommandExecutor, executor)
      )
    return { path, prepared, setup, checkout } satisfies TestTree
  })
