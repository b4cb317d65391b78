/**
 * The sessions area of the Promise facade (`client.sessions`): register, list, status, get, environment,
 * release, heartbeat, cleanup.
 *
 * @since 0.2.0
 */
import { Effect, Schema } from "effect"
import * as AppConfig from "../platform/AppConfig.js"
import * as Domain from "../Domain.js"
import * as Fleet from "../fleet/Fleet.js"
import type * as FleetDomain from "../fleet/FleetDomain.js"
import type * as SessionFiles from "../sessions/SessionFiles.js"
import * as Sessions from "../sessions/Sessions.js"
import { SessionStore } from "../sessions/SessionStore.js"
import { InvalidInput } from "../Errors.js"
import { opt, Pid, strict, Text } from "./input.js"
import type { CallOptions, Facade } from "./runtime.js"

/** What `register --json` prints. For the first session of a repository `worktreePath` is the repository. */
export type Registration = typeof Domain.Registration.Encoded
/** A session as stored (`status --json` `kept`, `sessions.get`). */
export type SessionJson = Domain.SessionJson
/** An active session with its liveness, as in `status --json` `sessions`. */
export type SessionEntry = SessionJson & {
  /** The later of the stored heartbeat and the heartbeat file's mtime. */
  readonly lastHeartbeat: string
  readonly liveness: Domain.Liveness
  /** The agent's state: `starting | working | needs-input | idle | exited`; null when unknown. */
  readonly state: SessionFiles.AgentState | null
  /** When the agent entered `state` (ISO-8601); null when unknown. */
  readonly stateSince: string | null
  /** Tokens and cost from the session's Claude Code transcripts; null without a transcript. */
  readonly usage: FleetDomain.SessionUsage | null
}

/** A change among the active sessions (`sessions.watch`). */
export type SessionChange =
  | { readonly type: "added"; readonly session: SessionEntry }
  | { readonly type: "changed"; readonly session: SessionEntry; readonly previous: SessionEntry }
  | { readonly type: "removed"; readonly session: SessionEntry }
/** What `status --json` prints. */
export interface StatusReport {
  readonly sessions: ReadonlyArray<SessionEntry>
  /** Released sessions whose worktree was kept because it holds work. */
  readonly kept: ReadonlyArray<SessionJson>
  /** Sessions this call found dead or stale and released. */
  readonly released: ReadonlyArray<Sessions.Released>
}
export type Released = Sessions.Released
export type CleanupReport = Sessions.CleanupReport

const RegisterInput = strict({
  repoPath: Text,
  pid: Pid,
  forceWorktree: opt(Schema.Boolean),
  worktree: opt(Schema.Literal("always", "never", "auto")),
  name: opt(Text),
  base: opt(Text),
  parent: opt(Text)
})
const ListInput = strict({ repoPath: opt(Text), mode: opt(Domain.SessionMode) })
const StatusInput = strict({ repoPath: opt(Text), sandboxOnly: opt(Schema.Boolean) })
const GetInput = strict({ sessionId: Domain.SessionId })
const SelectInput = strict({ sessionId: opt(Domain.SessionId), pid: opt(Pid) })
const ReleaseInput = strict({ sessionId: opt(Domain.SessionId), pid: opt(Pid), force: opt(Schema.Boolean) })
const CleanupInput = strict({ dryRun: opt(Schema.Boolean), force: opt(Schema.Boolean) })

const encodeSession = Schema.encodeSync(Domain.Session)
const encodeRegistration = Schema.encodeSync(Domain.Registration)

const entries = (views: ReadonlyArray<Sessions.SessionView>) =>
  Effect.flatMap(Fleet.Fleet, (fleet) =>
    Effect.forEach(views, (v) =>
      Effect.map(fleet.fields(v), (f): SessionEntry => ({
        ...encodeSession(v.session),
        lastHeartbeat: v.lastHeartbeat.toISOString(),
        liveness: v.liveness,
        state: f.state,
        stateSince: f.stateSince,
        usage: f.usage
      }))))

/** What makes a session "changed" for `watch` (the heartbeat alone does not). */
const watched = (e: SessionEntry) => JSON.stringify([e.state, e.stateSince, e.usage, e.liveness, e.branch, e.pid, e.worktreePath])

/** Sessions: register, list, release, heartbeat, clean up. */
export interface SessionsApi {
  /**
   * Register a session for a running process: the first live session of a repository works in the
   * repository itself, every other one in a new worktree on a new branch. Resolves to `register --json`.
   */
  readonly register: (
    input: {
      readonly repoPath: string
      readonly pid: number
      readonly forceWorktree?: boolean
      /** `always` (its own worktree), `never` (the repository itself, refused when taken) or `auto`. */
      readonly worktree?: "always" | "never" | "auto"
      /** Branch `parallel/NAME`, folder `NAME` (refused while taken). */
      readonly name?: string
      /** The commit, branch or tag the worktree starts from. */
      readonly base?: string
      /** The session this one works for. */
      readonly parent?: string
    },
    options?: CallOptions
  ) => Promise<Registration>
  /** The active sessions (of one repository, or all), with liveness; dead ones are released first. */
  readonly list: (
    input?: { readonly repoPath?: string; readonly mode?: "local" | "sandbox" },
    options?: CallOptions
  ) => Promise<ReadonlyArray<SessionEntry>>
  /**
   * Changes among the active sessions as they happen: first one `added` per session, then `added`,
   * `changed` (agent state, usage, liveness…; not heartbeats) and `removed`, looked at every `intervalMs`
   * (default 500). Stops when the loop breaks, or with `signal`.
   *
   * ```ts
   * for await (const c of client.sessions.watch()) if (c.session.state === "needs-input") console.log(c.session.sessionId)
   * ```
   */
  readonly watch: (
    input?: { readonly repoPath?: string; readonly intervalMs?: number },
    options?: CallOptions
  ) => AsyncIterable<SessionChange>
  /** What `status --json` prints: active sessions, worktrees kept with work, sessions just released. */
  readonly status: (
    input?: { readonly repoPath?: string; readonly sandboxOnly?: boolean },
    options?: CallOptions
  ) => Promise<StatusReport>
  /** One session by id, active or released. */
  readonly get: (input: { readonly sessionId: string }, options?: CallOptions) => Promise<SessionJson>
  /**
   * The environment variables to give the session's agent process, as `claude-parallel` does:
   * `PARALLEL_CC_SESSION_ID`, `PARALLEL_CC_WORKTREE`, `PARALLEL_CC_HEARTBEAT_FILE` (the heartbeat hook
   * touches it) and, with a port block, `PARALLEL_CC_PORT_BASE` / `PARALLEL_CC_PORT_COUNT`.
   */
  readonly environment: (input: { readonly sessionId: string }, options?: CallOptions) => Promise<Readonly<Record<string, string>>>
  /**
   * End a session (by id, or every active session of a pid). Its worktree is removed only if that loses
   * no work; `force` removes it anyway and deletes an unmerged session branch.
   */
  readonly release: (
    input: { readonly sessionId?: string; readonly pid?: number; readonly force?: boolean },
    options?: CallOptions
  ) => Promise<ReadonlyArray<Released>>
  /** Mark a session alive now; resolves to how many sessions were touched. */
  readonly heartbeat: (
    input: { readonly sessionId?: string; readonly pid?: number },
    options?: CallOptions
  ) => Promise<{ readonly touched: number }>
  /** Release sessions whose process is gone, look again at kept worktrees, prune git's worktree records. */
  readonly cleanup: (
    input?: { readonly dryRun?: boolean; readonly force?: boolean },
    options?: CallOptions
  ) => Promise<CleanupReport>
}

export const makeSessions = (f: Facade): SessionsApi => {
  const { method, mainRoot, selector, abs } = f
  const list = method("sessions.list", ListInput, (input) =>
    Effect.gen(function*() {
      const s = yield* Sessions.Sessions
      const repoPath = input.repoPath !== undefined ? yield* mainRoot(input.repoPath) : undefined
      const report = yield* s.status({ repoPath, mode: input.mode })
      return yield* entries(report.sessions)
    }))
  const watch = (input: { readonly repoPath?: string; readonly intervalMs?: number } = {}, options?: CallOptions): AsyncIterable<SessionChange> => ({
    async *[Symbol.asyncIterator]() {
      const every = input.intervalMs ?? 500
      if (!(every >= 50 && every <= 3_600_000)) {
        throw new InvalidInput({ field: "intervalMs", detail: "must be a number of milliseconds from 50 to 3600000" })
      }
      let known = new Map<string, SessionEntry>()
      while (options?.signal?.aborted !== true) {
        const now = await list(input.repoPath !== undefined ? { repoPath: input.repoPath } : {}, options)
        const next = new Map(now.map((e) => [e.sessionId, e] as const))
        for (const [id, e] of next) {
          const before = known.get(id)
          if (before === undefined) yield { type: "added", session: e }
          else if (watched(before) !== watched(e)) yield { type: "changed", session: e, previous: before }
        }
        for (const [id, e] of known) if (!next.has(id)) yield { type: "removed", session: e }
        known = next
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, every)
          options?.signal?.addEventListener("abort", () => {
            clearTimeout(t)
            resolve()
          }, { once: true })
        })
      }
    }
  })
  return {
    watch,
    register: method("sessions.register", RegisterInput, (input) =>
      Effect.flatMap(Sessions.Sessions, (s) =>
        s.register({
          repo: abs(input.repoPath),
          pid: input.pid,
          forceWorktree: input.forceWorktree,
          worktree: input.worktree,
          name: input.name,
          base: input.base,
          parent: input.parent
        })).pipe(
          Effect.map((r) => encodeRegistration(r.registration))
        )),
    list,
    status: method("sessions.status", StatusInput, (input) =>
      Effect.gen(function*() {
        const s = yield* Sessions.Sessions
        const repoPath = input.repoPath !== undefined ? yield* mainRoot(input.repoPath) : undefined
        const report = yield* s.status({ repoPath, mode: input.sandboxOnly === true ? "sandbox" : undefined })
        return {
          sessions: yield* entries(report.sessions),
          kept: report.kept.map((k) => encodeSession(k)),
          released: report.released
        } satisfies StatusReport
      })),
    get: method("sessions.get", GetInput, (input) =>
      Effect.flatMap(SessionStore, (store) => store.get(input.sessionId)).pipe(Effect.map((s) => encodeSession(s)))),
    environment: method("sessions.environment", GetInput, (input) =>
      Effect.gen(function*() {
        const s = yield* Effect.flatMap(SessionStore, (store) => store.get(input.sessionId))
        const sessionsService = yield* Sessions.Sessions
        const config = yield* AppConfig.AppConfig
        const env: Record<string, string> = {
          PARALLEL_CC_SESSION_ID: s.sessionId,
          PARALLEL_CC_WORKTREE: s.worktreePath,
          PARALLEL_CC_HEARTBEAT_FILE: sessionsService.heartbeatFile(s.sessionId)
        }
        if (s.portBase !== null) {
          env.PARALLEL_CC_PORT_BASE = String(s.portBase)
          env.PARALLEL_CC_PORT_COUNT = String(config.values["ports.blockSize"])
        }
        return env
      })),
    release: method("sessions.release", ReleaseInput, (input) =>
      Effect.gen(function*() {
        const sel = yield* selector("sessions.release", input)
        const s = yield* Sessions.Sessions
        return yield* s.release(sel, { force: input.force })
      })),
    heartbeat: method("sessions.heartbeat", SelectInput, (input) =>
      Effect.gen(function*() {
        const sel = yield* selector("sessions.heartbeat", input)
        const s = yield* Sessions.Sessions
        return { touched: yield* s.heartbeat(sel) }
      })),
    cleanup: method("sessions.cleanup", CleanupInput, (input) =>
      Effect.flatMap(Sessions.Sessions, (s) => s.cleanup({ dryRun: input.dryRun, force: input.force })))
  }
}
