/**
 * Session tools: who works where.
 *
 * @since 0.1.0
 */
import { ClaimsLedger, type Domain, Fleet, Overlaps, Sessions, SessionStore } from "@parallel-cc/core"
import { Effect, Option } from "effect"
import { z } from "zod"
import { Caller } from "../Caller.js"
import * as Tool from "../Tool.js"
import { repoOption } from "./common.js"
import { claim, claimWire, fleetFields, fleetFieldsWire, overlap, overlapWire, session, sessionWire } from "./shapes.js"

/**
 * A session as `parallel-cc status` shows it: its last heartbeat is the newest of the store's and the
 * heartbeat file's (the session hook touches the file on every tool call; the row keeps its creation time).
 */
const shown = (s: Domain.Session) =>
  Effect.flatMap(Sessions.Sessions, (sessions) => sessions.liveness(s)).pipe(
    Effect.map((v) => sessionWire({ ...s, lastHeartbeat: v.lastHeartbeat }))
  )

export const getParallelStatus = Tool.define({
  name: "get_parallel_status",
  title: "Parallel sessions",
  description: "List the active parallel-cc sessions of a repository (default: the caller's): who works in " +
    "which directory, on which branch, since when, with the last heartbeat, what each agent is doing (state: " +
    "working, needs-input, idle…) and what it has cost so far. allRepos lists every repository.",
  input: {
    repo: z.string().min(1).optional().describe("A path inside the repository (default: the caller's repository)"),
    allRepos: z.boolean().optional().describe("List the sessions of every repository")
  },
  output: {
    repoPath: z.string().nullable().describe("The repository listed; null with allRepos"),
    you: z.string().nullable().describe("The caller's session id, when the caller has a session"),
    sessions: z.array(session.extend(fleetFields.shape).extend({
      isYou: z.boolean(),
      claims: z.number().int().describe("How many files the session has claimed")
    })),
    total: z.number().int()
  },
  readOnly: true,
  handler: (input) =>
    Effect.gen(function*() {
      const store = yield* SessionStore.SessionStore
      const caller = yield* Caller
      const me = yield* caller.sessionOption
      const repo = input.allRepos === true ? Option.none<string>() : yield* repoOption(input.repo)
      const sessions = yield* store.list({ repoPath: Option.getOrUndefined(repo), status: "active" })
      const claims = yield* Effect.flatMap(ClaimsLedger.ClaimsLedger, (l) => l.list({ repoPath: Option.getOrUndefined(repo) }))
      const you = Option.map(me, (m) => m.session.sessionId).pipe(Option.getOrNull)
      const fleet = yield* Fleet.Fleet
      const rows = yield* Effect.forEach(sessions, (s) =>
        Effect.flatMap(Sessions.Sessions, (x) => x.liveness(s)).pipe(
          Effect.flatMap((v) =>
            Effect.map(fleet.fields(v), ({ lastMessage: _, ...f }) => ({
              ...sessionWire({ ...s, lastHeartbeat: v.lastHeartbeat }),
              ...fleetFieldsWire(f)
            }))
          )
        ))
      return {
        repoPath: Option.getOrNull(repo),
        you,
        sessions: sessions.map((s, i) => ({
          ...rows[i]!,
          isYou: s.sessionId === you,
          claims: claims.filter((c) => c.sessionId === s.sessionId).length
        })),
        total: sessions.length
      }
    }),
  summarize: (o) =>
    `${o.total} active session${o.total === 1 ? "" : "s"}${o.repoPath !== null ? ` in ${o.repoPath}` : ""}` +
    (o.you !== null ? `; you are ${o.you}` : "")
})

export const getMySession = Tool.define({
  name: "get_my_session",
  title: "My session",
  description: "The caller's own parallel-cc session (from PARALLEL_CC_SESSION_ID, else the worktree that " +
    "contains the server's working directory): its id, directory, branch, how many other sessions " +
    "work on the same repository, your claims, and the files another live session changes too (as last scanned; " +
    "get_overlaps scans now).",
  input: {},
  output: {
    session,
    resolvedBy: z.enum(["env", "cwd"]).describe("How the session was found"),
    otherSessions: z.number().int().describe("Other active sessions of the same repository"),
    claims: z.array(claim).describe("Your active file claims"),
    overlaps: z.array(overlap).describe("Files you and another live session both change")
  },
  readOnly: true,
  handler: () =>
    Effect.gen(function*() {
      const caller = yield* Caller
      const store = yield* SessionStore.SessionStore
      const me = yield* caller.session
      const all = yield* store.list({ repoPath: me.session.repoPath, status: "active" })
      const claims = yield* Effect.flatMap(ClaimsLedger.ClaimsLedger, (l) => l.list({ sessionId: me.session.sessionId }))
      const overlaps = yield* Effect.flatMap(Overlaps.Overlaps, (o) => o.list({ sessionId: me.session.sessionId }))
      return {
        session: yield* shown(me.session),
        resolvedBy: me.resolvedBy,
        otherSessions: all.filter((s) => s.sessionId !== me.session.sessionId).length,
        claims: claims.map(claimWire),
        overlaps: overlaps.map(overlapWire)
      }
    }),
  summarize: (o) =>
    `You are session ${o.session.sessionId} in ${o.session.worktreePath}` +
    (o.session.branch !== null ? ` on branch ${o.session.branch}` : "") +
    `; ${o.otherSessions} other session${o.otherSessions === 1 ? "" : "s"} on this repository` +
    (o.overlaps.length > 0 ? `; ${o.overlaps.length} file${o.overlaps.length === 1 ? "" : "s"} overlap with other sessions` : "")
})

export const tools: ReadonlyArray<Tool.AnyTool> = [getParallelStatus, getMySession]
