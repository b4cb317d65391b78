/**
 * Registering a session, and re-entering a kept one (used by `Sessions.make`).
 *
 * Register: resolve the repository and the start point (`base`) → release the repository's sessions whose
 * process is gone → reserve in one `BEGIN IMMEDIATE` transaction (main or worktree, name, port block) — the
 * row belongs to this (registering) process and is marked not ready → create the worktree → setup → hand the
 * row to the session's pid and mark it ready. A registration killed at any point leaves a row whose process
 * is gone and that is not ready: the next register, status or cleanup releases it and undoes what it had
 * created (`settleWorktree` with `interrupted`). A failure inside this process undoes it at once.
 */
import { CommandExecutor, FileSystem, Path } from "@effect/platform"
import { Cause, Effect, Option } from "effect"
import type { Registration, Session, SessionId, SessionMode } from "../Domain.js"
import { InvalidInput, SetupFailed } from "../Errors.js"
import { AppConfig } from "../platform/AppConfig.js"
import { Git } from "../platform/Git.js"
import { Processes } from "../platform/Processes.js"
import type { makeReleaser, Released } from "./sessionRelease.js"
import { planWorktree, SessionStore, type WorktreeChoice } from "./SessionStore.js"
import { emptyPrepare, prepareWorktree, type PrepareReport } from "./worktreePrepare.js"
import { emptySetup, type SetupListener, type SetupReport, setupWorktree } from "./worktreeSetup.js"
import { sessionSlug } from "./slug.js"
import { WorktreeError, Worktrees } from "./Worktrees.js"

export interface RegisterOptions {
  /** Any directory inside the repository. */
  readonly repo: string
  /** The process the session belongs to; it must be running (its start time is recorded). */
  readonly pid: number
  readonly mode?: SessionMode | undefined
  /** Always give this session a worktree, even when the repository itself is free (same as `worktree: "always"`). */
  readonly forceWorktree?: boolean | undefined
  /**
   * `always`: its own worktree even when the repository is free; `never`: the repository itself, refused
   * when another session has it; `auto`: the repository when free, else a worktree. Default: `always` when
   * config `worktree.always` is true, else `auto`. A name or a base implies a worktree.
   */
  readonly worktree?: WorktreeChoice | undefined
  /** Branch `parallel/NAME`, worktree folder `NAME`; refused when a session of the repository has it. */
  readonly name?: string | undefined
  /** A commit-ish the worktree starts from (default: the repository's HEAD). */
  readonly base?: string | undefined
  /** The session this one works for (a Claude Code subagent's worktree): same repository, shown nested. */
  readonly parent?: string | undefined
  /** The `worktree.setup` commands' progress, line by line. */
  readonly onSetupOutput?: SetupListener | undefined
  /** The branch of its worktree, exactly (the caller checked it); default: the planned `<prefix><id>`. */
  readonly branch?: string | undefined
  /**
   * Prepare a new worktree as people's sessions get it (default true): submodules, LFS, sparse checkout,
   * `.worktreeinclude`, `worktree.share`, `worktree.copy`, `worktree.setup`. A sandboxed run's worktree is
   * its agent's work tree and must hold nothing from outside the repository's files: false.
   */
  readonly prepare?: boolean | undefined
}

export interface Registered {
  readonly session: Session
  /** What `register --json` prints. */
  readonly registration: Registration
  /** The file the heartbeat hook rewrites (its mtime is the session's last heartbeat). */
  readonly heartbeatFile: string
  /** The session's directory (`<dataDir>/live/<id>`, see SessionFiles). */
  readonly sessionDir: string
  /**
   * Environment for the agent: PARALLEL_CC_SESSION_ID, _WORKTREE, _PORT_BASE, _PORT_COUNT, _HEARTBEAT_FILE,
   * _SESSION_DIR, _SLUG and COMPOSE_PROJECT_NAME.
   */
  readonly env: Readonly<Record<string, string>>
  readonly setup: SetupReport
  /** Submodules, LFS, sparse checkout, `.worktreeinclude` and `worktree.share` of a new worktree. */
  readonly prepared: PrepareReport
  /** Sessions of the same repository found dead and released first. */
  readonly swept: ReadonlyArray<Released>
}

/** A session name: a folder name and the last part of the branch `parallel/NAME`. */
export const checkSessionName = (name: string): Effect.Effect<string, InvalidInput> => {
  const invalid = (detail: string) => new InvalidInput({ field: "session name", detail: `${JSON.stringify(name)} ${detail}` })
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(name)) {
    return Effect.fail(invalid("must be 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit"))
  }
  if (name.includes("..") || name.endsWith(".") || name.endsWith(".lock")) return Effect.fail(invalid("must not contain '..' or end with '.' or '.lock'"))
  return Effect.succeed(name)
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/

export const makeRegistrar = (releaser: Effect.Effect.Success<typeof makeReleaser>) =>
  Effect.gen(function*() {
    const store = yield* SessionStore
    const config = yield* AppConfig
    const git = yield* Git
    const worktrees = yield* Worktrees
    const processes = yield* Processes
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const executor = yield* CommandExecutor.CommandExecutor
    const values = config.values
    const { createHeartbeatFile, heartbeatFile, settleWorktree, sweepSessions } = releaser

    const envFor = (s: Session): Record<string, string> => {
      const env: Record<string, string> = {
        PARALLEL_CC_SESSION_ID: s.sessionId,
        PARALLEL_CC_WORKTREE: s.worktreePath,
        PARALLEL_CC_HEARTBEAT_FILE: heartbeatFile(s.sessionId),
        PARALLEL_CC_SLUG: sessionSlug(s.repoPath, s.sessionId),
        COMPOSE_PROJECT_NAME: sessionSlug(s.repoPath, s.sessionId),
        PARALLEL_CC_SESSION_DIR: releaser.sessionDir(s.sessionId)
      }
      if (s.portBase !== null) {
        env.PARALLEL_CC_PORT_BASE = String(s.portBase)
        env.PARALLEL_CC_PORT_COUNT = String(values["ports.blockSize"])
      }
      return env
    }

    /**
     * The repository's top level, and the commit and branch a worktree would start from, in one git call
     * (every process start counts when 32 sessions start at once). An unborn HEAD has no commit. A top level
     * with a line break cannot be told apart in git's line-based answers: refused with a clear error.
     */
    const repoInfo = (dir: string) =>
      Effect.gen(function*() {
        const r = yield* git.run(
          dir,
          ["rev-parse", "--path-format=absolute", "--show-toplevel", "--git-common-dir", "HEAD", "--symbolic-full-name", "HEAD", "--"],
          { okExitCodes: [0, 128] }
        )
        const lines = r.stdout.split("\n")
        const top = lines[0]?.trim() ?? ""
        const unsafe = CONTROL.test(dir) || (r.exitCode === 0 && lines.length !== 6)
        if (unsafe) {
          const where = yield* git.toplevel(dir).pipe(Effect.orElseSucceed(() => dir))
          if (CONTROL.test(where) || r.exitCode === 0) {
            return yield* new InvalidInput({
              field: "repository path",
              detail: `${JSON.stringify(where)} contains a line break or another control character, which git's ` +
                "line-based output cannot carry safely; rename the directory (or one of its parents) and try again"
            })
          }
        }
        if (!top.startsWith("/")) {
          return yield* git.toplevel(dir).pipe(Effect.map((repoPath) => ({ repoPath, baseCommit: null, baseBranch: null })))
        }
        const sha = r.exitCode === 0 ? lines[2]?.trim() ?? "" : ""
        const ref = r.exitCode === 0 ? lines[3]?.trim() ?? "" : ""
        return {
          repoPath: top,
          baseCommit: /^[0-9a-f]{40,64}$/.test(sha) ? sha : null,
          baseBranch: ref.startsWith("refs/heads/") ? ref.slice("refs/heads/".length) : null
        }
      })

    /** `--base REF`: the commit it names, and the branch when it is a local branch (where merges go). */
    const resolveBase = (repoPath: string, base: string) =>
      Effect.gen(function*() {
        if (base.startsWith("-") || CONTROL.test(base) || base.trim() === "") {
          return yield* new InvalidInput({ field: "base", detail: `${JSON.stringify(base)} is not a commit, branch or tag name` })
        }
        const commit = yield* git.revParse(repoPath, base).pipe(
          Effect.mapError(() =>
            new InvalidInput({ field: "base", detail: `${JSON.stringify(base)} is not a commit, branch or tag of ${repoPath}` })
          )
        )
        const local = yield* git.run(repoPath, ["rev-parse", "-q", "--verify", "--end-of-options", `refs/heads/${base}`], {
          okExitCodes: [0, 1, 128]
        })
        return { baseCommit: commit, baseBranch: local.exitCode === 0 ? base : null }
      })

    const registration = (s: Session, reentered: boolean): Registration => ({
      sessionId: s.sessionId,
      isMainRepo: s.isMainRepo,
      worktreePath: s.worktreePath,
      worktreeName: s.worktreeName,
      branch: s.branch,
      repoPath: s.repoPath,
      name: s.name,
      baseCommit: s.baseCommit,
      reentered
    })

    const self = Effect.flatMap(processes.probe(process.pid), (p) => Effect.succeed(p._tag === "Running" ? p.startTime : null))
    const running = (pid: number) =>
      Effect.flatMap(processes.probe(pid), (p) =>
        p._tag === "Gone"
          ? Effect.fail(new InvalidInput({ field: "pid", detail: `no running process has pid ${pid}` }))
          : Effect.succeed(p.startTime))

    /**
     * Undo a registration that failed in this process: the worktree (unless the failure says nothing was
     * created: an existing path or branch is never touched) and the row.
     */
    const undo = (s: Session, cause: Cause.Cause<unknown>) =>
      Effect.gen(function*() {
        const error = Option.getOrUndefined(Cause.failureOption(cause))
        const nothingCreated = error instanceof WorktreeError &&
          ["PathExists", "BranchExists", "BranchCheckedOut", "NoCommits", "BadStartPoint", "LockTimeout"].includes(error.reason)
        if (!s.isMainRepo && !nothingCreated) {
          const fate = yield* settleWorktree(s, { force: false, dryRun: false, interrupted: true })
          if (fate.worktree === "kept") {
            yield* Effect.logWarning(`could not remove the partial worktree ${s.worktreePath}: ${fate.kept?.detail ?? ""}`)
          }
        }
        yield* store.remove(s.sessionId).pipe(
          Effect.catchAll((e) => Effect.logWarning(`could not remove the reservation ${s.sessionId}: ${e.message}`))
        )
        yield* fs.remove(heartbeatFile(s.sessionId), { force: true }).pipe(Effect.ignore)
        yield* releaser.removeSessionDir(s).pipe(Effect.ignore)
      })

    /**
     * Create the reserved worktree, make it usable (submodules, LFS, sparse checkout, `.worktreeinclude`,
     * `worktree.share`), and run its setup; fails with SetupFailed when setup stops.
     */
    const makeWorktree = (session: Session, env: Record<string, string>, options: RegisterOptions) =>
      Effect.gen(function*() {
        if (session.baseCommit === null) return yield* new WorktreeError({ reason: "NoCommits", path: session.repoPath })
        yield* worktrees.create({
          repoPath: session.repoPath,
          path: session.worktreePath,
          branch: session.branch!,
          startPoint: session.baseCommit
        })
        if (options.prepare === false) return { setup: emptySetup, prepared: emptyPrepare }
        const prepared = yield* prepareWorktree({
          repoPath: session.repoPath,
          worktreePath: session.worktreePath,
          share: values["worktree.share"],
          shareMode: values["worktree.shareMode"],
          hasSetup: values["worktree.setup"].length > 0
        }).pipe(
          Effect.provideService(Git, git),
          Effect.provideService(CommandExecutor.CommandExecutor, executor),
          Effect.provideService(FileSystem.FileSystem, fs),
          Effect.provideService(Path.Path, path)
        )
        const continueOnFailure = values["worktree.setupFailure"] === "continue"
        const setup = yield* setupWorktree({
          repoPath: session.repoPath,
          worktreePath: session.worktreePath,
          copy: values["worktree.copy"],
          commands: prepared.runSetup ? values["worktree.setup"] : [],
          env,
          onOutput: options.onSetupOutput,
          log: path.join(config.dataDir, "logs", `setup-${session.sessionId}.log`),
          continueOnFailure
        }).pipe(
          Effect.provideService(CommandExecutor.CommandExecutor, executor),
          Effect.provideService(FileSystem.FileSystem, fs),
          Effect.provideService(Path.Path, path)
        )
        if (setup.failed !== null && !continueOnFailure) {
          const f = setup.failed
          return yield* new SetupFailed({ argv: [...f.argv], exitCode: f.exitCode, output: f.output, log: setup.log })
        }
        return { setup: { ...setup, warnings: [...prepared.notes, ...setup.warnings] }, prepared }
      })

    const register = (options: RegisterOptions) =>
      Effect.gen(function*() {
        const name = options.name !== undefined ? yield* checkSessionName(options.name) : null
        const configured: WorktreeChoice = values["worktree.always"] ? "always" : "auto"
        let choice: WorktreeChoice = options.worktree ?? (options.forceWorktree === true ? "always" : configured)
        if ((name !== null || options.base !== undefined) && choice === "never") {
          return yield* new InvalidInput({
            field: "worktree",
            detail: "--name and --base give the session its own branch and worktree; they cannot be combined with --no-worktree"
          })
        }
        if (name !== null || options.base !== undefined) choice = "always"
        const head = yield* repoInfo(options.repo)
        const repoPath = head.repoPath
        const start = options.base !== undefined ? yield* resolveBase(repoPath, options.base) : head
        const parentId = options.parent !== undefined ? yield* checkParent(options.parent, repoPath) : null
        const pidStart = yield* running(options.pid)
        const selfStart = yield* self
        const { released: swept } = yield* sweepSessions(yield* store.list({ repoPath }), { force: false, dryRun: false })
        // The row belongs to this process until the registration is complete (see the module doc).
        const reserved = yield* store.register({
          repoPath,
          pid: process.pid,
          pidStartTime: selfStart,
          mode: options.mode,
          worktree: choice,
          name,
          parentId,
          registering: true,
          planWorktree: options.branch === undefined
            ? planWorktree(values, repoPath)
            : (id: SessionId, n?: string | null) => ({ ...planWorktree(values, repoPath)(id, n), branch: options.branch! }),
          baseCommit: start.baseCommit,
          baseBranch: start.baseBranch
        })
        const env = envFor(reserved)
        const done = yield* Effect.gen(function*() {
          const made = reserved.isMainRepo ? { setup: emptySetup, prepared: emptyPrepare } : yield* makeWorktree(reserved, env, options)
          yield* createHeartbeatFile(reserved.sessionId)
          const session = yield* store.markReady(reserved.sessionId, options.pid, pidStart)
          yield* releaser.createSessionDir(session)
          return { session, ...made }
        }).pipe(Effect.onError((cause) => undo(reserved, cause)))
        return {
          session: done.session,
          registration: registration(done.session, false),
          heartbeatFile: heartbeatFile(reserved.sessionId),
          sessionDir: releaser.sessionDir(reserved.sessionId),
          env,
          setup: done.setup,
          prepared: done.prepared,
          swept
        } satisfies Registered
      }).pipe(Effect.withSpan("Sessions.register"))

    const checkParent = (ref: string, repoPath: string) =>
      Effect.gen(function*() {
        const parent = yield* store.get(ref as SessionId)
        if (parent.repoPath !== repoPath) {
          return yield* new InvalidInput({
            field: "parent",
            detail: `session ${ref} works on ${parent.repoPath}, not on ${repoPath}`
          })
        }
        return parent.sessionId
      })

    return { register, registration, envFor, running, self, repoInfo, undo }
  })

export type Registrar = Effect.Effect.Success<ReturnType<typeof makeRegistrar>>
