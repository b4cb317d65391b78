/**
 * The start-up path of `parallel-cc status [--json]`: answered from `StatusSnapshot` (better-sqlite3 and
 * `/proc`, no Effect runtime) when that changes nothing. Returns false whenever the arguments are anything
 * else or the snapshot declines (a session to release, no store yet, another schema version…); the loader
 * then starts the regular path, which owns every decision and every error message.
 */
import { OverlapsSnapshot, StatusSnapshot } from "@parallel-cc/core"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { statusText } from "./internal/StatusText.js"

interface Parsed {
  readonly json: boolean
  readonly repo: string | undefined
  readonly db: string | undefined
  readonly sandboxOnly: boolean
}

/** `status [--json] [--repo P] [--sandbox-only] [--db P] [--verbose]`, in any order; anything else: undefined. */
const parse = (args: ReadonlyArray<string>): Parsed | undefined => {
  let command = false
  let json = false
  let sandboxOnly = false
  let repo: string | undefined
  let db: string | undefined
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!
    if (a === "status" && !command) command = true
    else if (a === "--json" && !json) json = true
    else if (a === "--sandbox-only" && !sandboxOnly) sandboxOnly = true
    else if (a === "--verbose") continue
    else if ((a === "--repo" || a === "--db") && args[i + 1] !== undefined && !args[i + 1]!.startsWith("-")) {
      if (a === "--repo") repo = args[++i]
      else db = args[++i]
    } else if (a.startsWith("--repo=") && a.length > 7) repo = a.slice(7)
    else if (a.startsWith("--db=") && a.length > 5) db = a.slice(5)
    else return undefined
  }
  return command ? { json, repo, db, sandboxOnly } : undefined
}

/** Whether `cost.models` is set (then usage is priced by the service, which reads the configuration). */
const customPrices = (env: NodeJS.ProcessEnv, dataDir: string): boolean => {
  if (env.PARALLEL_CC_COST_MODELS !== undefined) return true
  let text: string
  try {
    text = fs.readFileSync(path.join(dataDir, "config.json"), "utf8")
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== "ENOENT"
  }
  if (text.trim() === "") return false
  try {
    const json = JSON.parse(text) as { cost?: { models?: unknown } } | null
    return json?.cost?.models !== undefined
  } catch {
    return true
  }
}

export const main = (argv: ReadonlyArray<string>): boolean => {
  const parsed = parse(argv.slice(2))
  if (parsed === undefined) return false
  const env = process.env
  const cwd = process.cwd()
  const dataDir = path.resolve(cwd, env.PARALLEL_CC_DATA_DIR || path.join(os.homedir(), ".parallel-cc"))
  const dbFlag = parsed.db ?? (env.PARALLEL_CC_DB_PATH || undefined)
  const dbPath = dbFlag !== undefined ? path.resolve(cwd, dbFlag) : path.join(dataDir, "coordinator.db")
  let repoPath: string | undefined
  if (parsed.repo !== undefined) {
    try {
      repoPath = fs.realpathSync(path.resolve(cwd, parsed.repo))
    } catch {
      return false
    }
  }
  // The status table also shows the open overlaps: read through the same connection.
  let overlaps: ReadonlyArray<OverlapsSnapshot.OverlapEntry> | undefined
  const snapshot = StatusSnapshot.read({
    dbPath,
    dataDir,
    repoPath,
    mode: parsed.sandboxOnly ? "sandbox" : undefined,
    customPrices: customPrices(env, dataDir)
  }, parsed.json ? undefined : (db) => (overlaps = OverlapsSnapshot.listFrom(db, repoPath)))
  if (snapshot === undefined) return false
  if (parsed.json) process.stdout.write(JSON.stringify(snapshot, null, 2) + "\n")
  else {
    // A sandboxed run's kind shows the run's state, which the SandboxRuns service may have to reconcile.
    if ([...snapshot.sessions, ...snapshot.kept].some((s) => s.mode === "sandbox")) return false
    const date = (iso: string) => new Date(iso)
    const sessions = snapshot.sessions.map((s) => ({
      ...s,
      name: s.name ?? null,
      parentId: s.parentId ?? null,
      createdAt: date(s.createdAt),
      lastHeartbeat: date(s.lastHeartbeat),
      liveness: s.liveness.state
    }))
    const kept = snapshot.kept.map((s) => ({
      ...s,
      name: s.name ?? null,
      keptReason: s.keptReason ?? null,
      agent: s.agent ?? null,
      endedAt: s.endedAt === null ? null : date(s.endedAt)
    }))
    if (overlaps === undefined) return false
    process.stdout.write(statusText(sessions, kept, overlaps, Date.now(), new Map()) + "\n")
  }
  return true
}
