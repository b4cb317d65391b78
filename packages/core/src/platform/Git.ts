/**
 * git, run with argument arrays. Every ref name from outside is validated with git's own rules before
 * use, and `--` separates options from paths, so a value like `--upload-pack=…` is never an option.
 *
 * @since 0.1.0
 */
import { CommandExecutor } from "@effect/platform"
import { Context, Effect, Layer, Schema } from "effect"
import { InvalidInput } from "../Errors.js"
import { exec, type ExecOptions, type ExecResult } from "./exec.js"
import { gitEnv, syntheticCommitEnv } from "./gitEnv.js"

export type { ExecOptions, ExecResult } from "./exec.js"

/** A git command failed, or the directory is not inside a repository. */
export class GitError extends Schema.TaggedError<GitError>()("GitError", {
  reason: Schema.Literal("NotARepo", "CommandFailed", "NotInstalled"),
  args: Schema.Array(Schema.String),
  cwd: Schema.String,
  exitCode: Schema.optional(Schema.Number),
  stderr: Schema.optional(Schema.String)
}) {
  override get message(): string {
    switch (this.reason) {
      case "NotARepo":
        return `${this.cwd} is not inside a git repository`
      case "NotInstalled":
        return "git is not installed or not on PATH; install git ≥ 2.38"
      case "CommandFailed":
        return `git ${this.args.join(" ")} failed in ${this.cwd} (exit ${this.exitCode})` +
          (this.stderr ? `: ${this.stderr.trim().split("\n").slice(-3).join(" / ")}` : "")
    }
  }
}

export interface RunOptions extends Omit<ExecOptions, "cwd"> {
  /** Exit codes that count as success (default: only 0). */
  readonly okExitCodes?: ReadonlyArray<number>
}


export class Git extends Context.Tag("@parallel-cc/core/Git")<Git, {
  /** Run `git <args>` in `cwd`. Fails with GitError unless the exit code is in `okExitCodes`. */
  readonly run: (cwd: string, args: ReadonlyArray<string>, options?: RunOptions) => Effect.Effect<ExecResult, GitError>
  /** The canonical top level of the repository containing `dir`. */
  readonly toplevel: (dir: string) => Effect.Effect<string, GitError>
  /**
   * Validate a branch name with git's rules, and also refuse names starting with '-' and names with
   * whitespace or shell metacharacters; returns it unchanged.
   */
  readonly checkBranchName: (name: string) => Effect.Effect<string, InvalidInput | GitError>
  /** The commit a ref points to, or fails with CommandFailed. */
  readonly revParse: (cwd: string, ref: string) => Effect.Effect<string, GitError>
  /**
   * The canonical top level of the main working tree of the repository containing `dir` — the repository
   * itself even when `dir` is inside one of its linked worktrees.
   */
  readonly mainRoot: (dir: string) => Effect.Effect<string, GitError>
  /** The git version as [major, minor, patch]. */
  readonly version: Effect.Effect<readonly [number, number, number], GitError>
}>() {}

export { syntheticCommitEnv }

/** Branch names that are valid for git by construction (see `checkBranchName`). */
export const plainBranchName = /^[A-Za-z0-9_]+(?:[-/][A-Za-z0-9_]+)*$/

export const make = Effect.gen(function*() {
  const executor = yield* CommandExecutor.CommandExecutor

  const run = (cwd: string, args: ReadonlyArray<string>, options: RunOptions = {}) =>
    exec(["git", ...args], { cwd, env: { ...gitEnv, ...options.env }, stdin: options.stdin }).pipe(
      Effect.provideService(CommandExecutor.CommandExecutor, executor),
      Effect.mapError((e) =>
        new GitError({
          reason: e._tag === "SystemError" && e.reason === "NotFound" && e.method !== "workingDirectory"
            ? "NotInstalled"
            : "CommandFailed",
          args: [...args],
          cwd,
          stderr: e.message
        })
      ),
      Effect.flatMap((r) =>
        (options.okExitCodes ?? [0]).includes(r.exitCode)
          ? Effect.succeed(r)
          : Effect.fail(new GitError({ reason: "CommandFailed", args: [...args], cwd, exitCode: r.exitCode, stderr: r.stderr }))
      ),
      Effect.withSpan("git", { attributes: { args } })
    )

  const toplevel = (dir: string) =>
    run(dir, ["rev-parse", "--show-toplevel"]).pipe(
      Effect.map((r) => r.stdout.trim()),
      Effect.catchIf(
        (e) => e.reason === "CommandFailed",
        (e) => Effect.fail(new GitError({ reason: "NotARepo", args: e.args, cwd: dir, exitCode: e.exitCode, stderr: e.stderr }))
      )
    )

  const checkBranchName = (name: string) =>
    Effect.gen(function*() {
      const invalid = (detail: string) => new InvalidInput({ field: "branch name", detail: `${JSON.stringify(name)} ${detail}` })
      if (name.length === 0) return yield* invalid("is empty")
      if (name.startsWith("-")) return yield* invalid("starts with '-'")
      // eslint-disable-next-line no-control-regex
      if (/[\u0000-\u001f\u007f]/.test(name)) return yield* invalid("contains control characters")
      if (name.length > 200) return yield* invalid("is longer than 200 characters")
      // git allows some of these, but a branch name that a shell would interpret is a trap for every
      // script and terminal it ends up in; we never need one.
      if (/[\s`$;&|<>()'"!{}\\]/.test(name)) return yield* invalid("contains whitespace or shell metacharacters")
      // Names made only of letters, digits and '_' joined by single '-' or '/' pass every rule of
      // git-check-ref-format (no dots, '@', '~^:?*[', empty or dot-led components); HEAD is special. They
      // need no git process: every sandboxed run and parallel task plans one such branch.
      if (plainBranchName.test(name) && name !== "HEAD") return name
      const branch = yield* run("/", ["check-ref-format", "--branch", name], { okExitCodes: [0, 1, 128] })
      if (branch.exitCode !== 0 || branch.stdout.trim() !== name) return yield* invalid("is not a valid git branch name")
      const full = yield* run("/", ["check-ref-format", `refs/heads/${name}`], { okExitCodes: [0, 1, 128] })
      if (full.exitCode !== 0) return yield* invalid("is not a valid git ref name")
      return name
    })

  const revParse = (cwd: string, ref: string) =>
    run(cwd, ["rev-parse", "--verify", "--quiet", "--end-of-options", `${ref}^{commit}`]).pipe(
      Effect.map((r) => r.stdout.trim())
    )

  const version = run("/", ["--version"]).pipe(
    Effect.map((r) => {
      const m = r.stdout.match(/(\d+)\.(\d+)(?:\.(\d+))?/)
      return [Number(m?.[1] ?? 0), Number(m?.[2] ?? 0), Number(m?.[3] ?? 0)] as const
    })
  )

  const mainRoot = (dir: string) =>
    Effect.gen(function*() {
      const top = yield* toplevel(dir)
      const common = yield* run(top, ["rev-parse", "--path-format=absolute", "--git-common-dir"]).pipe(
        Effect.map((r) => r.stdout.trim())
      )
      // A non-bare repository keeps its common dir at <main worktree>/.git.
      if (!common.endsWith("/.git")) return top
      const main = common.slice(0, -"/.git".length)
      return yield* run(main, ["rev-parse", "--show-toplevel"]).pipe(
        Effect.map((r) => r.stdout.trim()),
        Effect.orElseSucceed(() => main)
      )
    })

  return Git.of({ run, toplevel, checkBranchName, revParse, mainRoot, version })
})

/** Git over the platform's CommandExecutor. */
export const layer = Layer.effect(Git, make)
