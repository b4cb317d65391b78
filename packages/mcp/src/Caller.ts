/**
 * Who is calling: the parallel-cc session of the agent that started this MCP server. Found from
 * `PARALLEL_CC_SESSION_ID` (the wrapper sets it), else from the working directory — the active session
 * whose worktree (or repository) contains it, the deepest one when several do.
 *
 * It is looked up on every call, not once at start: the server may start before its session registers,
 * and a session may end while the server lives on.
 *
 * @since 0.1.0
 */
import { Domain, Git, SessionStore } from "@parallel-cc/core"
import type { Database } from "@parallel-cc/core"
import { Context, Effect, Layer, Option, Schema } from "effect"
import * as fs from "node:fs"

/** No session could be found for the caller. */
export class NoCallingSession extends Schema.TaggedError<NoCallingSession>()("NoCallingSession", {
  cwd: Schema.String,
  envSessionId: Schema.optional(Schema.String)
}) {
  override get message(): string {
    const env = this.envSessionId !== undefined
      ? `PARALLEL_CC_SESSION_ID=${this.envSessionId} is not an active session, and `
      : "PARALLEL_CC_SESSION_ID is not set, and "
    return `${env}no active session works in ${this.cwd}. Start the agent with claude-parallel ` +
      "(or register the session with `parallel-cc register`), or set PARALLEL_CC_SESSION_ID."
  }
}

/** How the calling session was found. */
export type ResolvedBy = "env" | "cwd"

export interface CallerSession {
  readonly session: Domain.Session
  readonly resolvedBy: ResolvedBy
}

export class Caller extends Context.Tag("@parallel-cc/mcp/Caller")<Caller, {
  /** The server process's working directory (canonical). */
  readonly cwd: string
  /** `PARALLEL_CC_SESSION_ID` as the server saw it. */
  readonly envSessionId: string | undefined
  /** The server process's environment and home directory (what a sandbox provider needs to reconnect). */
  readonly env: Readonly<Record<string, string | undefined>>
  readonly homeDir: string
  /** The calling session, or NoCallingSession. */
  readonly session: Effect.Effect<CallerSession, NoCallingSession | Database.DbFailure>
  /** The calling session when there is one. */
  readonly sessionOption: Effect.Effect<Option.Option<CallerSession>, Database.DbFailure>
  /**
   * The repository the caller works on: its session's repository, else the main repository containing
   * the working directory; None outside any repository.
   */
  readonly repoPath: Effect.Effect<Option.Option<string>, Database.DbFailure>
  /** {@link repoPath} for a calling session already looked up (one store read per call instead of two). */
  readonly repoPathOf: (found: Option.Option<CallerSession>) => Effect.Effect<Option.Option<string>>
}>() {}

const within = (dir: string, root: string) => dir === root || dir.startsWith(root.endsWith("/") ? root : `${root}/`)

const canonical = (dir: string) => {
  try {
    return fs.realpathSync(dir)
  } catch {
    return dir
  }
}

/** The Caller for a server started in `cwd` with `env`. */
export interface Options {
  readonly cwd: string
  readonly env: Readonly<Record<string, string | undefined>>
  readonly homeDir: string
}

export const make = (options: Options) =>
  Effect.gen(function*() {
    const store = yield* SessionStore.SessionStore
    const git = yield* Git.Git
    const cwd = canonical(options.cwd)
    const raw = options.env["PARALLEL_CC_SESSION_ID"]?.trim()
    const envSessionId = raw !== undefined && raw !== "" ? raw : undefined

    const fromEnv = Effect.gen(function*() {
      if (envSessionId === undefined) return Option.none<CallerSession>()
      const id = Schema.decodeUnknownOption(Domain.SessionId)(envSessionId)
      if (Option.isNone(id)) return Option.none<CallerSession>()
      const found = yield* store.get(id.value).pipe(
        Effect.map(Option.some),
        Effect.catchTag("SessionNotFound", () => Effect.succeed(Option.none<Domain.Session>()))
      )
      return Option.filter(found, (s) => s.status === "active").pipe(
        Option.map((session): CallerSession => ({ session, resolvedBy: "env" }))
      )
    })

    const fromCwd = Effect.gen(function*() {
      const active = yield* store.list({ status: "active" })
      const best = active
        .filter((s) => within(cwd, s.worktreePath))
        .sort((a, b) => b.worktreePath.length - a.worktreePath.length || Number(a.isMainRepo) - Number(b.isMainRepo))[0]
      return Option.fromNullable(best).pipe(Option.map((session): CallerSession => ({ session, resolvedBy: "cwd" })))
    })

    const sessionOption = Effect.flatMap(fromEnv, (found) => Option.isSome(found) ? Effect.succeed(found) : fromCwd)

    const session = Effect.flatMap(
      sessionOption,
      Option.match({
        onNone: () => Effect.fail(new NoCallingSession({ cwd, ...(envSessionId !== undefined ? { envSessionId } : {}) })),
        onSome: Effect.succeed
      })
    )

    // The main repository of the working directory: three git processes, asked once. Only a found repository
    // is remembered, and only while its `.git` and the working directory are still there (a directory that
    // becomes a repository later is found by the next call).
    let cwdRoot: string | undefined
    const cwdRepo = Effect.suspend(() =>
      cwdRoot !== undefined && fs.existsSync(cwd) && fs.existsSync(`${cwdRoot}/.git`)
        ? Effect.succeed(Option.some(cwdRoot))
        : git.mainRoot(cwd).pipe(
          Effect.tap((root) => Effect.sync(() => (cwdRoot = root))),
          Effect.map(Option.some),
          Effect.orElseSucceed(() => Option.none<string>())
        )
    )

    const repoPathOf = (found: Option.Option<CallerSession>) =>
      Option.isSome(found) ? Effect.succeed(Option.some(found.value.session.repoPath)) : cwdRepo

    const repoPath = Effect.flatMap(sessionOption, repoPathOf)

    return Caller.of({ cwd, envSessionId, env: options.env, homeDir: options.homeDir, session, sessionOption, repoPath, repoPathOf })
  })

/** The Caller layer for one server process. */
export const layer = (options: Options) =>
  Layer.effect(Caller, make(options))
