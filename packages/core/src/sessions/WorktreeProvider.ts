/**
 * parallel-cc as Claude Code's worktree provider: what the `WorktreeCreate` and `WorktreeRemove` hooks do.
 *
 * - **create**: a worktree session for the requesting Claude Code process (its pid), made the parallel-cc
 *   way (`Sessions.register` with a worktree always: naming, submodules, `.worktreeinclude`,
 *   `worktree.share`, `worktree.copy`, `worktree.setup`, a port block), linked to the session that process
 *   already has (a subagent's worktree is a child of its agent's session); a marker in the worktree's git
 *   admin directory lets hooks running there find the session without our environment variables.
 * - **remove**: the same never-lose-work release as every session's; a worktree with work is kept and said
 *   so (`kept`).
 * - **watch**: wait until the Claude Code process has exited, then release the sessions it still holds
 *   (Claude Code calls no WorktreeRemove after a `-p` run).
 *
 * Refused, with nothing created: a directory in no repository, a bare repository, a rebase in progress, a
 * name that is not a valid branch name, and everything `Sessions.register` refuses.
 *
 * Payload fields vary between Claude Code builds; every known spelling is accepted (`name` /
 * `worktree_name`, `base_commit` / `base_ref`).
 *
 * @since 0.2.0
 */
import { FileSystem, Path } from "@effect/platform"
import { Context, Duration, Effect, Layer, Option, Schema } from "effect"
import type { SessionId } from "../Domain.js"
import { InvalidInput } from "../Errors.js"
import { AppConfig } from "../platform/AppConfig.js"
import { Git, type GitError } from "../platform/Git.js"
import { Processes } from "../platform/Processes.js"
import { type Failure, type Registered, type Released, Sessions } from "./Sessions.js"
import { checkSessionName } from "./sessionRegister.js"
import { SessionStore } from "./SessionStore.js"
import { Worktrees } from "./Worktrees.js"

/** The hook payload on stdin, every known spelling of each field; unknown fields are ignored. */
export const HookInput = Schema.Struct({
  hook_event_name: Schema.String,
  session_id: Schema.optional(Schema.String),
  transcript_path: Schema.optional(Schema.String),
  cwd: Schema.optional(Schema.String),
  name: Schema.optional(Schema.String),
  worktree_name: Schema.optional(Schema.String),
  base_commit: Schema.optional(Schema.String),
  base_ref: Schema.optional(Schema.String),
  worktree_path: Schema.optional(Schema.String)
})
export type HookInput = typeof HookInput.Type

/** A worktree request parallel-cc cannot serve; the message says why and what to do. */
export class WorktreeProviderError extends Schema.TaggedError<WorktreeProviderError>()("WorktreeProviderError", {
  reason: Schema.Literal("BadPayload", "NotARepo", "BareRepository", "RebaseInProgress", "UnknownEvent"),
  path: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    switch (this.reason) {
      case "BadPayload":
        return `the worktree hook's input is not what Claude Code sends: ${this.detail}`
      case "NotARepo":
        return `${this.path} is not inside a git repository, so there is nothing to make a worktree of`
      case "BareRepository":
        return `${this.path} is a bare repository (no working tree): start Claude Code in a checkout of it instead`
      case "RebaseInProgress":
        return `${this.path} is in the middle of a rebase (${this.detail}): finish it (\`git rebase --continue\`) or ` +
          "abort it (`git rebase --abort`) before starting a worktree session"
      case "UnknownEvent":
        return `the worktree hook got the event ${JSON.stringify(this.detail)}; it handles WorktreeCreate and WorktreeRemove`
    }
  }
}

/** The name of the marker file in a worktree's git admin directory: `PARALLEL_CC_SESSION_ID=…` lines. */
export const SESSION_MARKER = "parallel-cc-session"

export interface Created {
  /** The absolute path of the worktree: the only thing the hook prints on stdout. */
  readonly path: string
  readonly registered: Registered
  /** The session of the requesting Claude Code process, when it had one (this one is its child). */
  readonly parent: SessionId | null
}

export interface Removed {
  /** `removed`, `kept` (it holds work), `missing` (already gone), `untracked` (not ours; handled by path). */
  readonly outcome: "removed" | "kept" | "missing"
  readonly path: string
  readonly released: ReadonlyArray<Released>
  /** When kept: what work is in it. */
  readonly detail: string
}

export type ProviderFailure = WorktreeProviderError | Failure

const decode = Schema.decodeUnknown(HookInput)

export class WorktreeProvider extends Context.Tag("@parallel-cc/core/WorktreeProvider")<WorktreeProvider, {
  /** Parse a hook payload (JSON text). */
  readonly parse: (json: string) => Effect.Effect<HookInput, WorktreeProviderError>
  /** Serve a WorktreeCreate request for the Claude Code process `pid` started in `cwd` (payload cwd wins). */
  readonly create: (input: HookInput, context: { readonly pid: number; readonly cwd: string }) => Effect.Effect<Created, ProviderFailure>
  /** Serve a WorktreeRemove request. */
  readonly remove: (input: HookInput) => Effect.Effect<Removed, ProviderFailure>
  /** Release every session of `pid` once that process has exited (polls every `interval`). */
  readonly watch: (pid: number, options?: { readonly interval?: Duration.DurationInput }) => Effect.Effect<ReadonlyArray<Released>, Failure>
}>() {}

/**
 * Claude Code's worktree name as a session name (branch `parallel/NAME`, folder `NAME`, as `--name`
 * gives): a `/` becomes `-`; a name that still is not a session name keeps parallel-cc's own naming.
 */
const asSessionName = (name: string) =>
  checkSessionName(name.replaceAll("/", "-")).pipe(
    Effect.tapError((e) => Effect.logDebug(`worktree name ${name}: ${e.message}; parallel-cc's own naming instead`)),
    Effect.option,
    Effect.map(Option.getOrUndefined)
  )

export const make = Effect.gen(function*() {
  const sessions = yield* Sessions
  const config = yield* AppConfig
  const store = yield* SessionStore
  const git = yield* Git
  const worktrees = yield* Worktrees
  const processes = yield* Processes
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path

  const parse = (json: string) =>
    Effect.try({ try: () => JSON.parse(json) as unknown, catch: (e) => String(e) }).pipe(
      Effect.flatMap((u) => decode(u).pipe(Effect.mapError((e) => e.message))),
      Effect.mapError((detail) => new WorktreeProviderError({ reason: "BadPayload", path: "", detail }))
    )

  /** The repository at `dir`, checked: a working tree, no rebase under way. */
  const usableRepo = (dir: string) =>
    Effect.gen(function*() {
      const r = yield* git.run(dir, [
        "rev-parse",
        "--is-bare-repository",
        "--path-format=absolute",
        "--git-dir",
        "--git-common-dir",
        "--show-toplevel"
      ], { okExitCodes: [0, 128] }).pipe(
        Effect.catchTag("GitError", (e) => e.reason === "NotInstalled" ? Effect.fail(e) : Effect.succeed({ exitCode: 128, stdout: "", stderr: "" }))
      )
      const [bare, gitDir, commonDir, top] = r.stdout.trim().split("\n")
      if (r.exitCode !== 0 && bare !== "true") return yield* new WorktreeProviderError({ reason: "NotARepo", path: dir, detail: "" })
      if (bare === "true" || top === undefined) return yield* new WorktreeProviderError({ reason: "BareRepository", path: dir, detail: "" })
      for (const d of ["rebase-merge", "rebase-apply"]) {
        if (yield* fs.exists(path.join(gitDir!, d)).pipe(Effect.orElseSucceed(() => false))) {
          return yield* new WorktreeProviderError({ reason: "RebaseInProgress", path: top, detail: `${path.join(gitDir!, d)} exists` })
        }
      }
      // A request from inside a linked worktree (a subagent of a `claude -w` session) belongs to the repository:
      // the usual layout names it without another process (`<main>/.git` is the common dir).
      if (gitDir === commonDir) return top
      if (commonDir !== undefined && path.basename(commonDir) === ".git") return path.dirname(commonDir)
      return yield* git.mainRoot(top)
    })

  const writeMarker = (worktreePath: string, reg: Registered, parent: SessionId | null) =>
    Effect.gen(function*() {
      // A linked worktree's `.git` is a file: `gitdir: <its admin directory>`.
      const dotGit = yield* fs.readFileString(path.join(worktreePath, ".git"))
      const gitDir = path.resolve(worktreePath, dotGit.replace(/^gitdir:\s*/, "").trim())
      const lines = Object.entries(reg.env).filter(([k]) => k.startsWith("PARALLEL_CC_") || k === "COMPOSE_PROJECT_NAME")
        .map(([k, v]) => `${k}=${v}`)
      if (parent !== null) lines.push(`PARALLEL_CC_PARENT_SESSION_ID=${parent}`)
      yield* fs.writeFileString(path.join(gitDir, SESSION_MARKER), lines.join("\n") + "\n", { mode: 0o600 })
    }).pipe(Effect.catchAll((e) => Effect.logWarning(`could not write the session marker of ${worktreePath}: ${e.message}`)))

  const create = (input: HookInput, context: { readonly pid: number; readonly cwd: string }) =>
    Effect.gen(function*() {
      if (input.hook_event_name !== "WorktreeCreate") {
        return yield* new WorktreeProviderError({ reason: "UnknownEvent", path: "", detail: input.hook_event_name })
      }
      const dir = input.cwd ?? context.cwd
      const repo = yield* usableRepo(dir)
      const name = input.name ?? input.worktree_name
      if (name !== undefined) {
        yield* git.checkBranchName(name).pipe(
          Effect.mapError((e) => e._tag === "InvalidInput" ? new InvalidInput({ field: "worktree name", detail: e.detail }) : e)
        )
      }
      // The session of the requesting process in this repository (a subagent's worktree is its child).
      const parent = (yield* store.findActiveByPid(context.pid)).find((s) => s.repoPath === repo)
      const sessionName = name === undefined ? undefined : yield* asSessionName(name)
      const kept = sessionName === undefined
        ? undefined
        : (yield* store.listKept({ repoPath: repo })).find((s) => s.name === sessionName && !s.isMainRepo)
      const registered = kept !== undefined
        // `claude -w feature-x` again after its worktree was kept: back into it, like `--session feature-x`.
        ? yield* sessions.reenter({ session: kept.sessionId, pid: context.pid, repo })
        : yield* sessions.register({
          repo,
          pid: context.pid,
          worktree: "always",
          name: sessionName,
          base: input.base_commit ?? input.base_ref ?? (parent !== undefined && dir !== repo ? yield* headOf(dir) : undefined),
          parent: parent?.sessionId
        })
      const parentId = parent !== undefined && parent.sessionId !== registered.session.sessionId ? parent.sessionId : null
      yield* writeMarker(registered.session.worktreePath, registered, parentId)
      return { path: registered.session.worktreePath, registered, parent: parentId } satisfies Created
    }).pipe(Effect.withSpan("WorktreeProvider.create"))

  /**
   * Where a request from inside a linked worktree (a subagent of a `claude -w` session) starts: that
   * worktree's branch (so its work merges back there), else its commit.
   */
  const headOf = (dir: string) =>
    git.run(dir, ["rev-parse", "--symbolic-full-name", "HEAD", "HEAD"], { okExitCodes: [0, 128] }).pipe(
      Effect.map((r) => {
        const [ref, sha] = r.stdout.trim().split("\n")
        if (r.exitCode !== 0) return undefined
        return ref?.startsWith("refs/heads/") ? ref.slice("refs/heads/".length) : sha
      }),
      Effect.orElseSucceed(() => undefined)
    )

  const samePath = (a: string, b: string) =>
    Effect.gen(function*() {
      if (a === b) return true
      const ra = yield* fs.realPath(a).pipe(Effect.orElseSucceed(() => a))
      const rb = yield* fs.realPath(b).pipe(Effect.orElseSucceed(() => b))
      return ra === rb
    })

  const remove = (input: HookInput) =>
    Effect.gen(function*() {
      if (input.hook_event_name !== "WorktreeRemove") {
        return yield* new WorktreeProviderError({ reason: "UnknownEvent", path: "", detail: input.hook_event_name })
      }
      const target = input.worktree_path
      if (target === undefined || !path.isAbsolute(target)) {
        return yield* new WorktreeProviderError({ reason: "BadPayload", path: "", detail: "worktree_path must be an absolute path" })
      }
      const active = yield* store.list({})
      const kept = yield* store.listKept({})
      let owner = Option.none<SessionId>()
      for (const s of [...active, ...kept]) {
        if (!s.isMainRepo && (yield* samePath(s.worktreePath, target))) {
          owner = Option.some(s.sessionId)
          break
        }
      }
      if (Option.isSome(owner)) {
        const released = yield* sessions.release({ sessionId: owner.value }).pipe(Effect.catchTag("SessionNotFound", () => Effect.succeed([])))
        const k = released.find((r) => r.worktree === "kept")
        return {
          outcome: k !== undefined ? "kept" : released.some((r) => r.worktree === "removed") ? "removed" : "missing",
          path: target,
          released,
          detail: k?.kept?.detail ?? ""
        } satisfies Removed
      }
      // A worktree parallel-cc did not make (created before the hooks were installed): the same rule, by path.
      if (!(yield* fs.exists(target).pipe(Effect.orElseSucceed(() => false)))) {
        return { outcome: "missing", path: target, released: [], detail: "" } satisfies Removed
      }
      const repo = yield* git.mainRoot(target).pipe(
        Effect.mapError(() => new WorktreeProviderError({ reason: "NotARepo", path: target, detail: "" }))
      )
      const info = (yield* worktrees.list(repo)).find((w) => w.path === target)
      const r = yield* worktrees.remove({ repoPath: repo, path: target, branch: info?.branch ?? null, copiesFrom: repo })
      return {
        outcome: r.outcome,
        path: target,
        released: [],
        detail: r.outcome === "kept" ? r.detail : ""
      } satisfies Removed
    }).pipe(Effect.withSpan("WorktreeProvider.remove"))

  /**
   * One watcher per Claude Code process, however many worktrees it asks for: `<dataDir>/live/watch-<pid>`
   * names the watcher (created exclusively; taken over when its watcher is gone). False: another one watches.
   */
  const claimWatch = (pid: number) =>
    Effect.gen(function*() {
      const dir = path.join(config.dataDir, "live")
      const file = path.join(dir, `watch-${pid}`)
      yield* fs.makeDirectory(dir, { recursive: true, mode: 0o700 }).pipe(Effect.ignore)
      const take = fs.writeFileString(file, String(process.pid), { flag: "wx", mode: 0o600 }).pipe(Effect.isSuccess)
      if (yield* take) return Option.some(file)
      const holder = Number((yield* fs.readFileString(file).pipe(Effect.orElseSucceed(() => ""))).trim())
      if (Number.isInteger(holder) && holder > 0 && (yield* processes.probe(holder))._tag === "Running") return Option.none<string>()
      yield* fs.remove(file, { force: true }).pipe(Effect.ignore)
      return (yield* take) ? Option.some(file) : Option.none<string>()
    })

  const watch = (pid: number, options: { readonly interval?: Duration.DurationInput } = {}) =>
    Effect.gen(function*() {
      const claimed = yield* claimWatch(pid)
      if (Option.isNone(claimed)) return [] as ReadonlyArray<Released>
      return yield* watchClaimed(pid, options).pipe(Effect.ensuring(fs.remove(claimed.value, { force: true }).pipe(Effect.ignore)))
    })

  const watchClaimed = (pid: number, options: { readonly interval?: Duration.DurationInput }) =>
    Effect.gen(function*() {
      const first = yield* processes.probe(pid)
      const startTime = first._tag === "Running" ? first.startTime : null
      for (;;) {
        const p = yield* processes.probe(pid)
        if (p._tag !== "Running" || (startTime !== null && p.startTime !== startTime)) break
        if ((yield* store.findActiveByPid(pid)).length === 0) return []
        yield* Effect.sleep(options.interval ?? Duration.seconds(1))
      }
      return yield* sessions.release({ pid }).pipe(Effect.catchTag("SessionNotFound", () => Effect.succeed([] as ReadonlyArray<Released>)))
    })

  return WorktreeProvider.of({ parse, create, remove, watch })
})

/** The provider over Sessions, the store, git, worktrees and the process table. */
export const layer = Layer.effect(WorktreeProvider, make)

export type { GitError }
