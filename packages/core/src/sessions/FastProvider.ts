/**
 * The start-up fast path of the `WorktreeCreate` hook (`parallel-cc worktree-hook`): what
 * `WorktreeProvider.create` does, in plain Node through {@link FastPath.register}, for the plain case only —
 * a well-formed payload without a base, asked from the main checkout's top level of a usable repository,
 * with a name that is plainly a branch and a session name (or none), and whatever `FastPath.register`
 * itself accepts (recorded configuration at its defaults, nothing to sweep or prepare, the name free). In
 * every other case it returns `undefined` having written nothing, and the caller runs the service, which
 * owns every decision and message. The requesting process and the watcher are the caller's.
 *
 * This module imports no Effect code on purpose; keep it that way.
 *
 * @since 0.2.0
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import * as FastPath from "./FastPath.js"
import { parseProcStat } from "../platform/procStat.js"

/** Same name as `WorktreeProvider.SESSION_MARKER` (a test keeps them equal). */
export const SESSION_MARKER = "parallel-cc-session"

/** The payload fields `WorktreeProvider.HookInput` knows; each must be a string when present. */
const FIELDS = ["hook_event_name", "session_id", "transcript_path", "cwd", "name", "worktree_name", "base_commit", "base_ref", "worktree_path"]

/** A worktree name this path takes: a branch name by construction whose session name (`/` → `-`) is valid as it is. */
const plainName = (name: string) =>
  /^[A-Za-z0-9_]+(?:[-/][A-Za-z0-9_]+)*$/.test(name) && /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/.test(name.replaceAll("/", "-"))

const SHELLS = new Set(["sh", "bash", "dash", "zsh", "ash", "busybox"])

/** The requesting Claude Code process: CLAUDE_PID, else our parent, skipping the shell that ran the hook. */
export const requesterPid = (env: Readonly<Record<string, string | undefined>>, ppid: number): number => {
  const fromEnv = Number(env.CLAUDE_PID)
  if (Number.isInteger(fromEnv) && fromEnv > 1) return fromEnv
  let me: ReturnType<typeof parseProcStat>
  try {
    me = parseProcStat(fs.readFileSync(`/proc/${ppid}/stat`, "utf8"))
  } catch {
    me = undefined
  }
  if (me !== undefined && SHELLS.has(me.comm) && me.ppid > 1) return me.ppid
  return ppid
}

export interface Created {
  /** The worktree's absolute path: the only line the hook prints on stdout. */
  readonly path: string
  /** What the service prints on stderr, line by line. */
  readonly notes: ReadonlyArray<string>
}

/** The payload as an object of strings, or undefined when it is anything else. */
const payloadOf = (json: string): Readonly<Record<string, string>> | undefined => {
  let u: unknown
  try {
    u = JSON.parse(json)
  } catch {
    return undefined
  }
  if (typeof u !== "object" || u === null || Array.isArray(u)) return undefined
  const o = u as Record<string, unknown>
  for (const k of FIELDS) if (k in o && typeof o[k] !== "string") return undefined
  return o as Record<string, string>
}

/** The top level of the main checkout containing `dir`, when it is usable (not bare, no rebase) and `dir` is it. */
const mainTopLevel = (ctx: FastPath.Context, dir: string): string | undefined => {
  const r = spawnSync("git", ["rev-parse", "--is-bare-repository", "--path-format=absolute", "--git-dir", "--git-common-dir", "--show-toplevel"], {
    cwd: dir,
    env: { ...ctx.env, LC_ALL: "C", GIT_TERMINAL_PROMPT: "0" },
    encoding: "utf8"
  })
  if (r.error !== undefined || r.status !== 0) return undefined
  const [bare, gitDir, commonDir, top] = r.stdout.trim().split("\n")
  if (bare !== "false" || gitDir === undefined || gitDir !== commonDir || top !== dir) return undefined
  if (["rebase-merge", "rebase-apply"].some((d) => fs.existsSync(path.join(gitDir, d)))) return undefined
  return top
}

/** `WorktreeProvider`'s marker in the worktree's git admin directory; false when it cannot be written. */
const writeMarker = (worktreePath: string, env: Readonly<Record<string, string>>, parent: string | null): boolean => {
  try {
    const dotGit = fs.readFileSync(path.join(worktreePath, ".git"), "utf8")
    const gitDir = path.resolve(worktreePath, dotGit.replace(/^gitdir:\s*/, "").trim())
    const lines = Object.entries(env).filter(([k]) => k.startsWith("PARALLEL_CC_") || k === "COMPOSE_PROJECT_NAME").map(([k, v]) => `${k}=${v}`)
    if (parent !== null) lines.push(`PARALLEL_CC_PARENT_SESSION_ID=${parent}`)
    fs.writeFileSync(path.join(gitDir, SESSION_MARKER), lines.join("\n") + "\n", { mode: 0o600 })
    return true
  } catch {
    return false
  }
}

/**
 * Serve a `WorktreeCreate` payload (JSON text) for the process `pid`, or undefined when the service must
 * (nothing is left behind then).
 */
export const create = (ctx: FastPath.Context, json: string, pid: number): Created | undefined => {
  const input = payloadOf(json)
  if (input === undefined || input.hook_event_name !== "WorktreeCreate") return undefined
  if (input.base_commit !== undefined || input.base_ref !== undefined) return undefined
  const dir = input.cwd ?? ctx.cwd
  const name = input.name ?? input.worktree_name
  if (!path.isAbsolute(dir) || (name !== undefined && !plainName(name))) return undefined
  if (mainTopLevel(ctx, dir) === undefined) return undefined
  const r = FastPath.register(ctx, { repo: dir, pid, worktree: "always", name: name?.replaceAll("/", "-"), parentFromPid: true })
  if (r === undefined) return undefined
  const parent = r.row.parent_id
  const notes: Array<string> = []
  if (!writeMarker(r.row.worktree_path, r.env, parent)) {
    notes.push(`parallel-cc: warning: could not write the session marker of ${r.row.worktree_path}`)
  }
  notes.push(
    `parallel-cc: session ${r.row.id}${parent !== null ? ` (child of ${parent})` : ""} works in ${r.row.worktree_path} (branch ${r.row.branch})`
  )
  return { path: r.row.worktree_path, notes }
}
