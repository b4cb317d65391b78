/**
 * A read-only snapshot of the active sessions, for the one command that runs at every agent start and in
 * every status bar: `parallel-cc status --json`. It reads the store with better-sqlite3 directly and decides
 * liveness from `/proc`, so it needs neither Effect's runtime nor the services — a start costs little more
 * than starting Node.
 *
 * It answers only when answering changes nothing: the store exists at this build's schema version and every
 * active session is provably alive (its pid runs with the recorded start time). Otherwise it returns
 * `undefined` and the caller goes through the `Sessions` service, which owns every decision (releasing dead
 * sessions, stale heartbeats, migrations, a missing store). The output is exactly what `Sessions.status`
 * gives for the same state (tested side by side).
 *
 * This module imports no `effect` code on purpose; keep it that way (see docs/architecture.md).
 *
 * @since 0.1.0
 */
import Database from "better-sqlite3"
import * as fs from "node:fs"
import type { SessionJson } from "../Domain.js"
import { parseProcStat } from "../platform/procStat.js"
import { LATEST_SCHEMA_VERSION } from "../platform/schemaVersion.js"
import { branchTip } from "../platform/gitRefs.js"
import type { SessionUsage } from "../fleet/FleetDomain.js"
import { TranscriptReader } from "../fleet/transcriptUsage.js"
import { type UsageRowColumns, usageRowOf, usageView } from "../fleet/usageView.js"
import type { Row as FastPathRow } from "./FastPath.js"
import { keptReasonNow, type Landed, landedQuery, type LandedRow, latestLanded } from "./keptLanding.js"
import { type AgentStateName, Layout, readStateSync, sessionDirOf } from "./liveDir.js"

/**
 * A session as `status --json` prints it: the encoded `Domain.Session` (a type-only import: no `effect` code
 * is loaded), every field present.
 */
export type SessionEntry = Required<SessionJson>

/** What `status --json` prints. */
export interface Snapshot {
  readonly sessions: ReadonlyArray<
    SessionEntry & {
      readonly liveness: { readonly state: "alive"; readonly detail: string }
      readonly state: AgentStateName | null
      readonly stateSince: string | null
      readonly usage: SessionUsage | null
    }
  >
  readonly kept: ReadonlyArray<SessionEntry>
  readonly released: ReadonlyArray<never>
}

export interface Options {
  /** The store file (`AppConfig.dbPath`). */
  readonly dbPath: string
  /** The data directory (`AppConfig.dataDir`): heartbeat files live in `<dataDir>/heartbeats`. */
  readonly dataDir: string
  /** Only the sessions of this repository (its main top level, as stored). */
  readonly repoPath?: string | undefined
  readonly mode?: "local" | "sandbox" | undefined
  /** For tests: the current time in ms. */
  readonly now?: number | undefined
  /**
   * Whether prices are configured (`cost.models` in the environment or the config file): the snapshot
   * prices usage at the built-in table only, so then it declines.
   */
  readonly customPrices?: boolean | undefined
}

/** A `sessions` row (`FastPath.Row`), with the mode and status the schema allows. */
type Row = Omit<FastPathRow, "mode" | "status"> & { readonly mode: "local" | "sandbox"; readonly status: "active" | "released" }

/** Same marker as `SessionStore.RELEASE_IN_PROGRESS` (a test keeps them equal). */
const RELEASE_IN_PROGRESS = "release in progress"

const iso = (ms: number) => new Date(ms).toISOString()

const releaseReasons: ReadonlyArray<SessionEntry["releaseReason"]> = ["released", "dead", "stale", null]
/** The stored reason, checked like `SessionStore` decodes it; anything else throws (the snapshot then gives up). */
const releaseReasonOf = (text: string | null): SessionEntry["releaseReason"] => {
  const found = releaseReasons.find((r) => r === text)
  if (found === undefined) throw new Error(`unknown release reason ${text}`)
  return found
}

const entry = (r: Row, lastHeartbeat: number): SessionEntry => ({
  sessionId: r.id,
  repoPath: r.repo_path,
  worktreePath: r.worktree_path,
  worktreeName: r.worktree_name,
  branch: r.branch,
  isMainRepo: r.is_main === 1,
  pid: r.pid,
  pidStartTime: r.pid_start_time,
  mode: r.mode,
  status: r.status,
  createdAt: iso(r.created_at),
  lastHeartbeat: iso(lastHeartbeat),
  endedAt: r.ended_at === null ? null : iso(r.ended_at),
  portBase: r.port_base,
  releaseReason: releaseReasonOf(r.release_reason),
  keptReason: r.kept_reason,
  baseCommit: r.base_commit,
  baseBranch: r.base_branch,
  name: r.name,
  parentId: r.parent_id,
  agent: r.agent ?? null
})

let bootId: string | undefined

/** `linux:<boot id>:<start ticks>` of a running pid (as `Processes.probe` records it), else undefined. */
const linuxStartTime = (pid: number): string | undefined => {
  if (!Number.isSafeInteger(pid) || pid <= 0 || pid >= 2 ** 31) return undefined
  let text: string
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
  } catch {
    return undefined
  }
  const stat = parseProcStat(text)
  if (stat === undefined || stat.state === "Z" || stat.state === "X") return undefined
  bootId ??= fs.readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim()
  return `linux:${bootId}:${stat.startTicks}`
}

const heartbeatOf = (dataDir: string, r: Row): number => {
  try {
    const m = fs.statSync(`${dataDir}/heartbeats/${r.id}`).mtime.getTime()
    return m > r.last_heartbeat ? m : r.last_heartbeat
  } catch {
    return r.last_heartbeat
  }
}

interface UsageStateRow {
  readonly known: number
  readonly reason: string | null
  readonly turns: number
  readonly transcripts: string
  readonly files: string
}

const readLines = (file: string): Array<string> => {
  try {
    return fs.readFileSync(file, "utf8").split("\n").filter((l) => l.startsWith("/"))
  } catch {
    return []
  }
}

/**
 * A session's usage as stored, when the store is provably current (the same transcripts, every file as it
 * was when read); null for a session without transcripts; undefined when the `Fleet` service must read them.
 */
const storedUsage = (db: Database.Database, options: Options, id: string): SessionUsage | null | undefined => {
  const dir = sessionDirOf(options.dataDir, id)
  const transcripts = [...new Set([...readLines(`${dir}/${Layout.transcripts}`), ...readLines(`${dir}/${Layout.transcript}`).slice(0, 1)])]
  const state = db.prepare("SELECT * FROM session_usage_state WHERE session_id = ?").get(id) as UsageStateRow | undefined
  if (state === undefined) return transcripts.length === 0 ? null : undefined
  if (options.customPrices === true || transcripts.length === 0) return undefined
  if (JSON.stringify(transcripts) !== state.transcripts) return undefined
  const marks = JSON.parse(state.files) as Array<{ path: string; size: number; mtimeMs: number }>
  const expected = transcripts.flatMap((t) => TranscriptReader.filesOf(t))
  if (expected.length !== marks.length || expected.some((f, i) => marks[i]?.path !== f)) return undefined
  for (const m of marks) {
    let st: fs.Stats
    try {
      st = fs.statSync(m.path)
    } catch {
      return undefined
    }
    if (st.size !== m.size || st.mtimeMs !== m.mtimeMs) return undefined
  }
  const rows = (db.prepare("SELECT * FROM session_usage WHERE session_id = ? ORDER BY bucket, model, long_context").all(id) as Array<UsageRowColumns>)
    .map(usageRowOf)
  return usageView(rows, { known: state.known === 1, reason: state.reason, turns: state.turns }, {})
}

/** The snapshot from an open read-only connection (see {@link read}); throws where `read` gives up. */
const readFrom = (db: Database.Database, options: Options): Snapshot | undefined => {
  if (db.pragma("user_version", { simple: true }) !== LATEST_SCHEMA_VERSION) return undefined
  const where = ["status = 'active'"]
  const params: Array<string> = []
  if (options.repoPath !== undefined) {
    where.push("repo_path = ?")
    params.push(options.repoPath)
  }
  if (options.mode !== undefined) {
    where.push("mode = ?")
    params.push(options.mode)
  }
  const active = db.prepare(`SELECT * FROM sessions WHERE ${where.join(" AND ")} ORDER BY created_at, id`).all(...params) as Array<Row>
  const sessions: Array<Snapshot["sessions"][number]> = []
  for (const r of active) {
    if (r.pid_start_time === null || linuxStartTime(r.pid) !== r.pid_start_time) return undefined
    const agent = readStateSync(options.dataDir, r.id)
    const usage = storedUsage(db, options, r.id)
    if (usage === undefined) return undefined
    sessions.push({
      ...entry(r, heartbeatOf(options.dataDir, r)),
      liveness: { state: "alive", detail: `pid ${r.pid} runs` },
      state: agent?.state ?? null,
      stateSince: agent?.since.toISOString() ?? null,
      usage
    })
  }
  let kept: Array<SessionEntry> = []
  if (options.mode !== "sandbox") {
    const now = options.now ?? Date.now()
    const rows = (options.repoPath !== undefined
      ? db.prepare(
        "SELECT * FROM sessions WHERE kept_reason IS NOT NULL AND status = 'released' AND repo_path = ? ORDER BY ended_at, id"
      ).all(options.repoPath)
      : db.prepare("SELECT * FROM sessions WHERE kept_reason IS NOT NULL AND status = 'released' ORDER BY ended_at, id").all()) as Array<Row>
    const shown = rows.filter((r) => r.kept_reason !== RELEASE_IN_PROGRESS || (r.ended_at !== null && now - r.ended_at > 120_000))
    const reasons = keptReasons(db, shown)
    if (reasons === undefined) return undefined
    kept = shown.map((r, i) => ({ ...entry(r, r.last_heartbeat), keptReason: reasons[i]! }))
  }
  return { sessions, kept, released: [] }
}

/**
 * The kept reasons as status shows them (`keptLanding`): undefined when a landed branch's tip cannot be
 * read from its files (git must say, so the service answers).
 */
const keptReasons = (db: Database.Database, rows: ReadonlyArray<Row>): Array<string | null> | undefined => {
  const candidates = rows.filter((r) => r.kept_reason !== null && r.branch !== null && r.kept_reason.includes(" only on branch "))
  const landed = candidates.length === 0
    ? new Map<string, Landed>()
    : latestLanded(db.prepare(landedQuery(candidates.length)).all(...candidates.map((r) => r.id)) as Array<LandedRow>)
  const out: Array<string | null> = []
  for (const r of rows) {
    const l = landed.get(r.id)
    if (r.kept_reason === null || r.branch === null || l === undefined || l.head === null) {
      out.push(r.kept_reason)
      continue
    }
    const tip = branchTip(r.repo_path, r.branch)
    if (tip === undefined) return undefined
    out.push(keptReasonNow(r.kept_reason, r.branch, l, tip))
  }
  return out
}

const open = (dbPath: string) => new Database(dbPath, { readonly: true, fileMustExist: true, timeout: 250 })

/**
 * The snapshot, or `undefined` when the `Sessions` service must answer (no store yet, another schema
 * version, a session that is not provably alive, the store busy, no `/proc`). Never writes anything.
 * `also` reads more through the same connection (e.g. `OverlapsSnapshot.listFrom` for the status table);
 * when it throws, the answer is `undefined` too.
 */
export const read = (options: Options, also?: (db: Database.Database) => void): Snapshot | undefined => {
  if (process.platform !== "linux") return undefined
  let db: Database.Database | undefined
  try {
    db = open(options.dbPath)
    const snapshot = readFrom(db, options)
    if (snapshot !== undefined) also?.(db)
    return snapshot
  } catch {
    return undefined
  } finally {
    db?.close()
  }
}

/**
 * {@link read} for a long-lived process (the MCP server): the read-only connection stays open between
 * reads (opening one costs more than the read), for one store file; any failure closes it and the next read
 * opens it again. Every read reads the store afresh: nothing but the connection is kept.
 */
export const reader = (): { readonly read: (options: Options) => Snapshot | undefined; readonly close: () => void } => {
  let held: { readonly path: string; readonly ino: number; readonly db: Database.Database } | undefined
  const close = () => {
    const h = held
    held = undefined
    try {
      h?.db.close()
    } catch {
      // Closing a connection that failed is best effort.
    }
  }
  return {
    read: (options) => {
      if (process.platform !== "linux") return undefined
      try {
        // A store file replaced since (removed and created again) is opened anew.
        const ino = fs.statSync(options.dbPath).ino
        if (held !== undefined && (held.path !== options.dbPath || held.ino !== ino)) close()
        held ??= { path: options.dbPath, ino, db: open(options.dbPath) }
        return readFrom(held.db, options)
      } catch {
        close()
        return undefined
      }
    },
    close
  }
}
