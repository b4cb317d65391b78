/**
 * Temporary git repositories with a few commits, for tests that need the real thing.
 */
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { git, hermeticEnv } from "./Git.js"
import * as TempDir from "./TempDir.js"

export interface TempRepo {
  /** The parent temp directory (worktree siblings `<root>-worktrees` land inside it too). */
  readonly base: string
  /** The repository's top level. */
  readonly root: string
  /** An isolated HOME for commands run against this repo. */
  readonly home: string
  readonly env: Record<string, string>
  readonly git: (args: ReadonlyArray<string>, cwd?: string) => string
  readonly write: (file: string, content: string, cwd?: string) => void
  readonly commitAll: (message: string, cwd?: string) => string
}

export interface Options {
  /** Files of the first commit (default: README.md). */
  readonly files?: Readonly<Record<string, string>>
  readonly branch?: string
}

export const makeSync = (base: string, options: Options = {}): TempRepo => {
  const root = path.join(base, "repo")
  const home = path.join(base, "home")
  fs.mkdirSync(root, { recursive: true })
  fs.mkdirSync(home, { recursive: true })
  const env = hermeticEnv(home)
  const run = (args: ReadonlyArray<string>, cwd = root) => git(cwd, args, env)
  const write = (file: string, content: string, cwd = root) => {
    const full = path.join(cwd, file)
    fs.mkdirSync(path.dirname(full), { recursive: true })
    fs.writeFileSync(full, content)
  }
  const commitAll = (message: string, cwd = root) => {
    run(["add", "-A"], cwd)
    run(["commit", "-q", "-m", message], cwd)
    return run(["rev-parse", "HEAD"], cwd).trim()
  }
  run(["init", "-q", "-b", options.branch ?? "main"])
  for (const [file, content] of Object.entries(options.files ?? { "README.md": "# test repo\n" })) write(file, content)
  commitAll("initial commit")
  return { base, root, home, env, git: run, write, commitAll }
}

/** A temp repo for the current scope. */
export const make = (options: Options = {}) =>
  Effect.map(TempDir.make("pcc-repo-"), (base) => makeSync(base, options))
