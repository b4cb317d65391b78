/**
 * Helpers shared by the tool groups.
 *
 * @since 0.1.0
 */
import { type Database, Errors, Git } from "@parallel-cc/core"
import { Effect, Option } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { Caller, type CallerSession } from "../Caller.js"

/**
 * The repository a call is about: `input` (a path, relative to the server's working directory; any
 * directory inside the repository or one of its worktrees) when given, else the caller's repository.
 * None when neither is known.
 */
export const repoOption = (
  input: string | undefined,
  /** The calling session when the call already looked it up. */
  me?: Option.Option<CallerSession>
): Effect.Effect<Option.Option<string>, Errors.InvalidInput | Database.DbFailure, Caller | Git.Git> =>
  Effect.gen(function*() {
    const caller = yield* Caller
    if (input === undefined) return yield* (me !== undefined ? caller.repoPathOf(me) : caller.repoPath)
    const git = yield* Git.Git
    const abs = path.resolve(caller.cwd, input)
    const real = yield* Effect.try({
      try: () => fs.realpathSync(abs),
      catch: () => new Errors.InvalidInput({ field: "repo", detail: `${abs} does not exist` })
    })
    return Option.some(
      yield* git.mainRoot(real).pipe(
        Effect.catchTag("GitError", (e) =>
          Effect.fail(new Errors.InvalidInput({ field: "repo", detail: `${real} is not inside a git repository (${e.reason})` })))
      )
    )
  })

/** Like {@link repoOption}, but a repository is required. */
export const repoRequired = (
  input: string | undefined
): Effect.Effect<string, Errors.InvalidInput | Database.DbFailure, Caller | Git.Git> =>
  Effect.flatMap(repoOption(input), Option.match({
    onNone: () =>
      Effect.fail(new Errors.InvalidInput({
        field: "repo",
        detail: "no repository given, and the server's working directory is not in a repository with a session; pass repo"
      })),
    onSome: Effect.succeed
  }))
