/**
 * Hermetic git for tests: no user or system config leaks in, fixed identities and dates.
 */
import { execFileSync, spawnSync } from "node:child_process"

/** Environment for git (and for our CLI when it runs git) that ignores the developer's config. */
export const hermeticEnv = (home: string): Record<string, string> => ({
  PATH: process.env.PATH ?? "/usr/bin:/bin",
  HOME: home,
  GIT_CONFIG_GLOBAL: "/dev/null",
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_AUTHOR_NAME: "Test Author",
  GIT_AUTHOR_EMAIL: "author@example.com",
  GIT_COMMITTER_NAME: "Test Committer",
  GIT_COMMITTER_EMAIL: "committer@example.com",
  GIT_TERMINAL_PROMPT: "0",
  LANG: "C",
  LC_ALL: "C"
})

/** Run git with an argument array in `cwd`; throws with stderr on a non-zero exit. */
export const git = (cwd: string, args: ReadonlyArray<string>, env: Record<string, string> = hermeticEnv(cwd)): string =>
  execFileSync("git", args as Array<string>, { cwd, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })

/** Run git and return the exit status and output instead of throwing. */
export const gitTry = (cwd: string, args: ReadonlyArray<string>, env: Record<string, string> = hermeticEnv(cwd)) => {
  const r = spawnSync("git", args as Array<string>, { cwd, env, encoding: "utf8" })
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr }
}
