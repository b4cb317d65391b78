/**
 * What the dashboard (`parallel-cc ui`) shows: one row per live session and per running sandboxed run, with
 * the agent's state, its branch and how far it is ahead of and behind its target, its changed files (as its
 * watcher last saw them), overlaps, claims, cost and age, and for the selected row the agent's last message
 * and a recent log. Dead sessions are shown, not released (that stays with `status` and `cleanup`).
 *
 * Cheap to ask often: {@link FleetView} `token` changes whenever anything shown may have changed (the store's
 * `data_version`, a session's state file, its transcripts' sizes), so a dashboard rebuilds only then; the
 * git counts are refreshed at most every 15 s per session.
 *
 * @since 0.2.0
 */
import { Clock, Context, Effect, Layer, Option } from "effect"
import * as fs from "node:fs"
import * as nodePath from "node:path"
import { ClaimsLedger } from "../coordination/ClaimsLedger.js"
import { OverlapStore } from "../coordination/OverlapStore.js"
import type { Session } from "../Domain.js"
import { AppConfig } from "../platform/AppConfig.js"
import { Database, type DbFailure } from "../platform/Database.js"
import { Git } from "../platform/Git.js"
import { SandboxRuns } from "../sandboxes/SandboxRuns.js"
import { Layout } from "../sessions/liveDir.js"
import { SessionFiles } from "../sessions/SessionFiles.js"
import { Sessions } from "../sessions/Sessions.js"
import { SessionStore } from "../sessions/SessionStore.js"
import { Fleet } from "./Fleet.js"
import type { SessionUsage } from "./FleetDomain.js"

/** One row of the dashboard. */
export interface FleetRow {
  readonly kind: "session" | "run"
  readonly id: string
  readonly name: string | null
  readonly parentId: string | null
  readonly repoPath: string
  readonly worktreePath: string | null
  readonly branch: string | null
  /** The agent: `claude`, the process's command name, or the run's agent. */
  readonly agent: string
  /** The agent state (`starting | working | needs-input | idle | exited`), a run's status, or `dead`/`stale`. */
  readonly state: string
  readonly stateSince: Date | null
  /** Commits on the branch that its target lacks, and the other way round (null: not known). */
  readonly ahead: number | null
  readonly behind: number | null
  readonly target: string | null
  readonly changed: ReadonlyArray<{ readonly path: string; readonly status: string }>
  readonly overlaps: number
  readonly conflicts: number
  readonly claims: number
  /** Null without a transcript (sessions) or a reported cost (runs). */
  readonly usage: SessionUsage | null
  readonly createdAt: Date
  readonly lastMessage: string | undefined
  /** The last lines of a run's log. */
  readonly log: ReadonlyArray<string>
}

export interface FleetSnapshot {
  readonly rows: ReadonlyArray<FleetRow>
  readonly repos: ReadonlyArray<string>
  readonly at: Date
}

export class FleetView extends Context.Tag("@parallel-cc/core/FleetView")<FleetView, {
  /** The rows now (of one repository, or all). */
  readonly snapshot: (filter?: { readonly repoPath?: string | undefined }) => Effect.Effect<FleetSnapshot, DbFailure>
  /** A value that changes whenever a snapshot may differ (cheap: one pragma and a few file stats). */
  readonly token: Effect.Effect<string, DbFailure>
}>() {}

const GIT_TTL_MS = 15_000
/** Counts whose refs did not move are still counted again this often. */
const REF_TTL_MS = 300_000

const comm = (pid: number): string | undefined => {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim() || undefined
  } catch {
    return undefined
  }
}

const tail = (file: string, lines: number): ReadonlyArray<string> => {
  try {
    const st = fs.statSync(file)
    const fd = fs.openSync(file, "r")
    try {
      const size = Math.min(st.size, 16_384)
      const buf = Buffer.alloc(size)
      fs.readSync(fd, buf, 0, size, st.size - size)
      return buf.toString("utf8").split("\n").filter((l) => l.trim() !== "").slice(-lines)
    } finally {
      fs.closeSync(fd)
    }
  } catch {
    return []
  }
}

const statMark = (file: string): string => {
  try {
    const st = fs.statSync(file)
    return `${st.size}:${st.mtimeMs}`
  } catch {
    return "-"
  }
}

/**
 * What changes when the branch or its target moves: their loose ref files and `packed-refs` in the
 * repository's git directory (size and mtime); undefined when the repository has no plain `.git` directory.
 */
const refMark = (repoPath: string, branch: string, target: string): string | undefined => {
  const gitDir = nodePath.join(repoPath, ".git")
  try {
    if (!fs.statSync(gitDir).isDirectory()) return undefined
  } catch {
    return undefined
  }
  return [nodePath.join(gitDir, "refs", "heads", branch), nodePath.join(gitDir, "refs", "heads", target), nodePath.join(gitDir, "packed-refs")]
    .map(statMark)
    .join("|")
}

export const make = Effect.gen(function*() {
  const store = yield* SessionStore
  const sessions = yield* Sessions
  const fleet = yield* Fleet
  const files = yield* SessionFiles
  const overlapsStore = yield* OverlapStore
  const claimsLedger = yield* ClaimsLedger
  const runs = yield* SandboxRuns
  const git = yield* Git
  const db = yield* Database
  const config = yield* AppConfig
  const gitCache = new Map<string, { at: number; mark: string | undefined; ahead: number | null; behind: number | null; target: string | null }>()
  /** The files whose change the token watches: each active session's state file and transcripts. */
  let watched: ReadonlyArray<string> = []

  const counts = (s: Session, now: number) =>
    Effect.gen(function*() {
      const target = config.values["merges.targetBranch"] || s.baseBranch
      // Counted again only when a ref involved may have moved (or, where the refs cannot be looked at, every
      // GIT_TTL_MS): an idle dashboard starts no git process.
      const mark = target !== null && s.branch !== null ? refMark(s.repoPath, s.branch, target) : undefined
      const cached = gitCache.get(s.sessionId)
      if (cached !== undefined && (mark !== undefined ? cached.mark === mark && now - cached.at < REF_TTL_MS : now - cached.at < GIT_TTL_MS)) {
        return cached
      }
      let ahead: number | null = null
      let behind: number | null = null
      if (target !== null && s.branch !== null && s.branch !== target) {
        const r = yield* git.run(s.repoPath, ["rev-list", "--left-right", "--count", `refs/heads/${target}...refs/heads/${s.branch}`], {
          env: { GIT_OPTIONAL_LOCKS: "0" }
        }).pipe(Effect.option)
        const m = Option.isSome(r) ? /^(\d+)\s+(\d+)/.exec(r.value.stdout.trim()) : null
        if (m !== null) {
          behind = Number(m[1])
          ahead = Number(m[2])
        }
      }
      const out = { at: now, mark, ahead, behind, target }
      gitCache.set(s.sessionId, out)
      return out
    })

  const snapshot = (filter: { readonly repoPath?: string | undefined } = {}) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const all = yield* store.list({ status: "active" })
      const marks: Array<string> = []
      for (const s of all) {
        marks.push(nodePath.join(files.dir(s.sessionId), Layout.state), nodePath.join(files.dir(s.sessionId), Layout.transcripts))
        marks.push(...(yield* files.transcripts(s.sessionId)))
      }
      watched = marks
      const list = all.filter((s) => filter.repoPath === undefined || s.repoPath === filter.repoPath)
      const overlaps = yield* overlapsStore.list({ repoPath: filter.repoPath })
      const changes = yield* overlapsStore.changes(filter.repoPath !== undefined ? { repoPath: filter.repoPath } : {})
      const claims = yield* claimsLedger.list(filter.repoPath !== undefined ? { repoPath: filter.repoPath } : {})
      const rows: Array<FleetRow> = []
      for (const s of list) {
        const view = yield* sessions.liveness(s)
        const f = yield* fleet.fields(view)
        const g = s.mode === "sandbox" ? { ahead: null, behind: null, target: null } : yield* counts(s, now)
        const mine = overlaps.filter((o) => o.sessionA === s.sessionId || o.sessionB === s.sessionId)
        rows.push({
          kind: "session",
          id: s.sessionId,
          name: s.name,
          parentId: s.parentId,
          repoPath: s.repoPath,
          worktreePath: s.worktreePath,
          branch: s.branch,
          agent: f.usage !== null ? "claude" : comm(s.pid) ?? "-",
          state: view.liveness.state !== "alive" ? view.liveness.state : f.state ?? "unknown",
          stateSince: view.liveness.state !== "alive" ? view.lastHeartbeat : view.agent?.since ?? null,
          ahead: g.ahead,
          behind: g.behind,
          target: g.target,
          changed: changes.filter((c) => c.sessionId === s.sessionId).map((c) => ({ path: c.filePath, status: c.status })),
          overlaps: new Set(mine.map((o) => o.filePath)).size,
          conflicts: mine.filter((o) => o.conflict === true).length,
          claims: claims.filter((c) => c.sessionId === s.sessionId).length,
          usage: f.usage,
          createdAt: s.createdAt,
          lastMessage: f.lastMessage,
          log: []
        })
      }
      const live = yield* runs.list({ repoPath: filter.repoPath, liveOnly: true })
      for (const r of live) {
        if (rows.some((x) => x.id === r.sessionId)) continue
        rows.push({
          kind: "run",
          id: r.sessionId,
          name: null,
          parentId: null,
          repoPath: r.repoPath,
          worktreePath: r.worktreePath,
          branch: r.branch,
          agent: r.agent,
          state: r.status,
          stateSince: r.startedAt ?? r.createdAt,
          ahead: null,
          behind: null,
          target: null,
          changed: [],
          overlaps: 0,
          conflicts: 0,
          claims: 0,
          usage: r.costUsd === null ? null : {
            known: true,
            reason: null,
            costUsd: r.totalCostUsd ?? r.costUsd,
            tokens: null,
            requests: null,
            turns: r.numTurns,
            models: []
          },
          createdAt: r.createdAt,
          lastMessage: r.prompt.slice(0, 300),
          log: tail(r.logPath, 8)
        })
      }
      const repos = [...new Set([...all.map((s) => s.repoPath), ...live.map((r) => r.repoPath)])].sort()
      return { rows, repos, at: new Date(now) }
    }).pipe(Effect.withSpan("FleetView.snapshot"))

  const token = Effect.gen(function*() {
    const v = yield* db.orFail(db.sql<{ data_version: number }>`PRAGMA data_version`)
    return [String(v[0]?.data_version ?? 0), ...watched.map(statMark)].join("|")
  })

  return FleetView.of({ snapshot, token })
})

/** The dashboard's data over sessions, fleet usage, overlaps, claims and sandboxed runs. */
export const layer = Layer.effect(FleetView, make)
