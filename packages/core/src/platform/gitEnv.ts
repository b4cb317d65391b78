/**
 * The environments git runs with, for the `Git` service and for the Effect-free start-up paths alike.
 *
 * This module imports nothing on purpose (the start-up paths must not load Effect).
 */

/** Stable, parseable output and no interactive prompts whatever the user's locale and terminal. */
export const gitEnv: Readonly<Record<string, string>> = { LC_ALL: "C", GIT_TERMINAL_PROMPT: "0" }

/**
 * The environment of git commands that write objects nobody else sees (snapshot trees and commits of a
 * worktree's state): a fixed identity and date, so the same tree on the same parent is the same commit, and
 * no optional locks, so the worktree's own index is never refreshed or locked.
 */
export const syntheticCommitEnv: Readonly<Record<string, string>> = {
  GIT_AUTHOR_NAME: "parallel-cc",
  GIT_AUTHOR_EMAIL: "parallel-cc@localhost",
  GIT_AUTHOR_DATE: "@0 +0000",
  GIT_COMMITTER_NAME: "parallel-cc",
  GIT_COMMITTER_EMAIL: "parallel-cc@localhost",
  GIT_COMMITTER_DATE: "@0 +0000",
  GIT_OPTIONAL_LOCKS: "0"
}
