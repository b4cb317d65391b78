/**
 * `--git-live`: push a run's committed branch to `origin` and open a pull request with the GitHub CLI. It
 * happens on this machine, with the user's remote and `GITHUB_TOKEN`; the sandbox never sees either. A
 * failure is a result (the commit stays in its worktree and branch), with a redacted reason.
 *
 * @since 0.1.0
 */
import { CommandExecutor } from "@effect/platform"
import { Effect } from "effect"
import { exec } from "../platform/exec.js"
import type { Git } from "../platform/Git.js"
import type * as Redact from "../platform/redact.js"

/** What opening a pull request gave: its URL, or why there is none. */
export interface PullRequestOutcome {
  readonly url: string | null
  readonly error: string | null
}

export interface PullRequestInput {
  readonly worktreePath: string
  readonly branch: string
  /** The pull request's base branch. */
  readonly target: string
  readonly prompt: string
  /** The run (session) id, named in the body. */
  readonly id: string
  readonly agent: string
  readonly redact: Redact.Redactor
}

/** The title: the prompt's first line, at most 72 characters. */
export const titleOf = (prompt: string): string => {
  const first = prompt.trim().split("\n")[0] ?? "Sandboxed run"
  return first.length > 72 ? `${first.slice(0, 71)}…` : first
}

/** The body: who made it, and the prompt quoted. */
export const bodyOf = (input: Pick<PullRequestInput, "prompt" | "id" | "agent">): string =>
  `Made by an unattended ${input.agent} run in a parallel-cc sandbox (session ${input.id}).\n\n` +
  `Prompt:\n\n${input.prompt.trim().split("\n").map((l) => `> ${l}`).join("\n")}\n`

/** Push `branch` from the worktree to origin and open a pull request against `target` with gh. */
export const open = (
  git: Git["Type"],
  executor: CommandExecutor.CommandExecutor,
  input: PullRequestInput
): Effect.Effect<PullRequestOutcome> =>
  Effect.gen(function*() {
    const { branch, redact, worktreePath } = input
    const push = yield* git.run(worktreePath, ["push", "--porcelain", "-u", "origin", `refs/heads/${branch}:refs/heads/${branch}`]).pipe(Effect.either)
    if (push._tag === "Left") return { url: null, error: redact(`pushing ${branch} failed: ${push.left.message}`) }
    const gh = yield* exec(["gh", "pr", "create", "--base", input.target, "--head", branch, "--title", titleOf(input.prompt), "--body-file", "-"], {
      cwd: worktreePath,
      stdin: bodyOf(input)
    }).pipe(Effect.provideService(CommandExecutor.CommandExecutor, executor), Effect.either)
    if (gh._tag === "Left") return { url: null, error: redact(`gh could not be started: ${gh.left.message}`) }
    if (gh.right.exitCode !== 0) {
      const tail = gh.right.stderr.trim().split("\n").slice(-3).join(" / ")
      return { url: null, error: redact(`gh pr create failed (exit ${gh.right.exitCode}): ${tail}; the branch ${branch} is pushed`) }
    }
    const url = /https?:\/\/\S+/.exec(gh.right.stdout)?.[0] ?? gh.right.stdout.trim()
    return { url: url !== "" ? url : null, error: url !== "" ? null : "gh printed no pull request URL" }
  })
