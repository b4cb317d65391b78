/**
 * Session tools: who works where.
 *
 * @since 0.1.0
 */
import { AppConfig, ClaimsLedger, type Domain, Fleet, Overlaps, Sessions, SessionStore, StatusSnapshot } from "@parallel-cc/core"
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

type Row = ReturnType<typeof sessionWire> & ReturnType<typeof fleetFieldsWire>

/**
 * The rows from core's read-only store snapshot (the one `status --json` answers from at start-up), when it
 * can answer: every session provably alive and its usage as stored (it steps aside otherwise, and on
 * configured prices). Plain synchronous reads instead of a fiber per file: the same rows as
 * {@link serviceRows}, read fresh on every call (a test compares the two byte for byte).
 * `PARALLEL_CC_NO_FAST_PATH=1` always takes the services; `PARALLEL_CC_TRACE_FAST_PATH=1` says on stderr which
 * answered.
 */
// One read-only connection for the snapshot per server process (see StatusSnapshot.reader).
const snapshots = StatusSnapshot.reader()

const snapshotRows = (repo: Option.Option<string>) =>
  Effect.gen(function*() {
    const caller = yield* Caller
    if (caller.env["PARALLEL_CC_NO_FAST_PATH"] === "1") return undefined
    const config = yield* AppConfig.AppConfig
    const snapshot = yield* Effect.sync(() =>
      snapshots.read({
        dbPath: config.dbPath,
        dataDir: config.dataDir,
        repoPath: Option.getOrUndefined(repo),
        customPrices: Object.keys(config.values["cost.models"]).length > 0
      })
    )
    if (caller.env["PARALLEL_CC_TRACE_FAST_PATH"] === "1") {
      process.stderr.write(`parallel-cc-mcp: ${snapshot !== undefined ? "answered from the store snapshot" : "store snapshot declined"}\n`)
    }
    return snapshot?.sessions.map((s): Row => ({
      sessionId: s.sessionId,
      repoPath: s.repoPath,
      worktreePath: s.worktreePath,
      worktreeName: s.worktreeName,
      branch: s.branch,
      isMainRepo: s.isMainRepo,
      pid: s.pid,
      mode: s.mode,
      status: s.status,
      createdAt: s.createdAt,
      lastHeartbeat: s.lastHeartbeat,
      endedAt: s.endedAt,
      state: s.state,
      stateSince: s.stateSince,
      usage: s.usage as Row["usage"]
    }))
  })

/** The rows through the services: the stored sessions, each with its liveness and fleet fields. */
const serviceRows = (repo: Option.Option<string>) =>
  Effect.gen(function*() {
    const store = yield* SessionStore.SessionStore
    const fleet = yield* Fleet.Fleet
    const sessions = yield* store.list({ repoPath: Option.getOrUndefined(repo), status: "active" })
    // Each session's files and process are looked at side by side (a call waits for the slowest, not the sum).
    return yield* Effect.forEach(sessions, (s) =>
      Effect.flatMap(Sessions.Sessions, (x) => x.liveness(s)).pipe(
        Effect.flatMap((v) =>
          Effect.map(fleet.fields(v), ({ lastMessage: _, ...f }): Row => ({
            ...sessionWire({ ...s, lastHeartbeat: v.lastHeartbeat }),
            ...fleetFieldsWire(f)
          }))
        )
      ), { concurrency: "unbounded" })
  })

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
      const caller = yield* Caller
      const me = yield* caller.sessionOption
      const repo = input.allRepos === true ? Option.none<string>() : yield* repoOption(input.repo, me)
      const rows = (yield* snapshotRows(repo)) ?? (yield* serviceRows(repo))
      const claims = yield* Effect.flatMap(ClaimsLedger.ClaimsLedger, (l) => l.list({ repoPath: Option.getOrUndefined(repo) }))
      const you = Option.map(me, (m) => m.session.sessionId).pipe(Option.getOrNull)
      return {
        repoPath: Option.getOrNull(repo),
        you,
        sessions: rows.map((row) => ({
          ...row,
          isYou: row.sessionId === you,
          claims: claims.filter((c) => c.sessionId === row.sessionId).length
        })),
        total: rows.length
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
