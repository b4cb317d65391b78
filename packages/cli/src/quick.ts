/**
 * The Effect-free start-up paths of the hot commands (bundled as `dist/quick.cjs`): `status` from the store
 * snapshot (see statusSnapshot.ts), `claims`, `sandbox list` and `sandbox status` from core's read-only
 * snapshots (`ClaimsSnapshot`, `RunsSnapshot`), `overlaps` from `OverlapsSnapshot` (when its live scan
 * provably finds nothing new), `register`, `release` and `heartbeat` through core's
 * `FastPath`, and the WorktreeCreate hook (`worktree-hook`) through core's `FastProvider`. Each understands
 * only the plain forms of its command and answers only when core's fast path does; otherwise `main` returns false having printed and changed nothing, and the loader starts the
 * regular path (`fast.cjs`, then the full CLI), which owns every help text, usage error and decision.
 * The output is byte for byte what the regular path prints (tested side by side).
 */
import { ClaimsSnapshot, FastPath, FastProvider, OverlapsSnapshot, RunsSnapshot, type Sessions } from "@parallel-cc/core"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as tty from "node:tty"
import { claimsText } from "./internal/ClaimsText.js"
import * as HookHandoff from "./internal/HookHandoff.js"
import { overlapsText } from "./internal/OverlapsText.js"
import { registeredLines, releasedLines } from "./internal/Render.js"
import { runStatusText, runsText, type RunView } from "./internal/SandboxText.js"
import * as StatusSnapshot from "./statusSnapshot.js"

interface Parsed {
  /** The words before and between the flags, e.g. `sandbox list`. */
  readonly command: string
  readonly flags: ReadonlyMap<string, string | true>
  readonly db: string | undefined
}

const VALUED = new Set(["--repo", "--pid", "--session-id", "--session", "--limit", "--db"])
const BOOLEAN = new Set(["--json", "--verbose", "--cached"])

/** `COMMAND` and flags from the sets above, each at most once (`--verbose` is ignored); anything else: undefined. */
const parse = (args: ReadonlyArray<string>): Parsed | undefined => {
  let command: string | undefined
  const flags = new Map<string, string | true>()
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!
    if (!a.startsWith("-")) {
      command = command === undefined ? a : `${command} ${a}`
      continue
    }
    const eq = a.startsWith("--") ? a.indexOf("=") : -1
    const name = eq > 0 ? a.slice(0, eq) : a
    if (name === "--verbose" && eq < 0) continue
    if (flags.has(name)) return undefined
    if (BOOLEAN.has(name) && eq < 0) flags.set(name, true)
    else if (VALUED.has(name)) {
      const value = eq > 0 ? a.slice(eq + 1) : args[++i]
      if (value === undefined || value === "" || (eq < 0 && value.startsWith("-"))) return undefined
      flags.set(name, value)
    } else return undefined
  }
  if (command === undefined) return undefined
  const db = flags.get("--db")
  flags.delete("--db")
  return { command, flags, db: typeof db === "string" ? db : undefined }
}

const only = (p: Parsed, allowed: ReadonlyArray<string>) => [...p.flags.keys()].every((k) => allowed.includes(k))

const text = (p: Parsed, name: string) => {
  const v = p.flags.get(name)
  return typeof v === "string" ? v : undefined
}

const pidOf = (p: Parsed) => {
  const v = text(p, "--pid")
  return v !== undefined && /^\d{1,10}$/.test(v) && Number(v) > 0 ? Number(v) : undefined
}

/** `--session-id ID` or `--pid N`, exactly one. */
const selector = (p: Parsed): { readonly sessionId: string } | { readonly pid: number } | undefined => {
  const id = text(p, "--session-id")
  const pid = pidOf(p)
  if (p.flags.has("--pid") === p.flags.has("--session-id")) return undefined
  if (id !== undefined) return { sessionId: id }
  return pid !== undefined ? { pid } : undefined
}

const out = (s: string) => void process.stdout.write(s + "\n")

const register = (ctx: FastPath.Context, p: Parsed): boolean => {
  const repo = text(p, "--repo")
  const pid = pidOf(p)
  if (!only(p, ["--repo", "--pid", "--json"]) || repo === undefined || pid === undefined) return false
  let dir: string
  try {
    dir = fs.realpathSync(path.resolve(ctx.cwd, repo))
  } catch {
    return false
  }
  const r = FastPath.register(ctx, { repo: dir, pid })
  if (r === undefined) return false
  const s = r.registration
  if (p.flags.has("--json")) out(JSON.stringify(s, null, 2))
  else out(registeredLines(s, { base: r.row.port_base, count: r.portCount }).join("\n"))
  return true
}

const release = (ctx: FastPath.Context, p: Parsed): boolean => {
  const sel = selector(p)
  if (!only(p, ["--session-id", "--pid", "--json"]) || sel === undefined) return false
  const released = FastPath.release(ctx, sel)
  if (released === undefined) return false
  if (p.flags.has("--json")) out(JSON.stringify({ dryRun: false, released }, null, 2))
  // FastPath.Released is Sessions.Released in the cases the fast path handles (same keys; ids not branded).
  else for (const r of released) out(releasedLines(r as unknown as Sessions.Released).join("\n"))
  return true
}

const heartbeat = (ctx: FastPath.Context, p: Parsed): boolean => {
  const sel = selector(p)
  if (!only(p, ["--session-id", "--pid"]) || sel === undefined) return false
  const n = FastPath.heartbeat(ctx, sel)
  if (n === undefined) return false
  out(`Heartbeat recorded for ${n} session${n === 1 ? "" : "s"}.`)
  return true
}

/** The data directory as the regular path finds it (PARALLEL_CC_DATA_DIR, `~/.parallel-cc`). */
const dataDirOf = (ctx: FastPath.Context) => path.resolve(ctx.cwd, ctx.env.PARALLEL_CC_DATA_DIR || path.join(ctx.homeDir, ".parallel-cc"))

/** The store file as the regular path finds it (`--db`, PARALLEL_CC_DB_PATH, `<data dir>/coordinator.db`). */
const dbPathOf = (ctx: FastPath.Context) => {
  const dataDir = dataDirOf(ctx)
  const raw = ctx.dbFlag !== undefined ? ctx.dbFlag : ctx.env.PARALLEL_CC_DB_PATH
  return raw !== undefined && raw !== "" ? path.resolve(ctx.cwd, raw) : path.join(dataDir, "coordinator.db")
}

/** `Git.mainRoot`: the main working tree's top level of the repository containing `dir`. */
const mainRoot = (ctx: FastPath.Context, dir: string): string | undefined => {
  const git = (cwd: string, args: ReadonlyArray<string>) => {
    const r = spawnSync("git", args, { cwd, env: { ...ctx.env, LC_ALL: "C", GIT_TERMINAL_PROMPT: "0" }, encoding: "utf8" })
    return r.error === undefined && r.status === 0 ? r.stdout.trim().split("\n") : undefined
  }
  const where = git(dir, ["rev-parse", "--path-format=absolute", "--show-toplevel", "--git-common-dir"])
  const [top, common] = where ?? []
  if (top === undefined || common === undefined || !top.startsWith("/")) return undefined
  if (!common.endsWith("/.git")) return top
  const main = common.slice(0, -"/.git".length)
  return main === top ? top : (git(main, ["rev-parse", "--show-toplevel"])?.[0] ?? main)
}

const claims = (ctx: FastPath.Context, p: Parsed): boolean => {
  const repo = text(p, "--repo")
  const session = text(p, "--session")
  if (!only(p, ["--repo", "--session", "--json"]) || (session !== undefined && !/^[a-z0-9]{6,32}$/.test(session))) return false
  let repoPath: string | undefined
  if (repo !== undefined) {
    try {
      repoPath = mainRoot(ctx, fs.realpathSync(path.resolve(ctx.cwd, repo)))
    } catch {
      return false
    }
    if (repoPath === undefined) return false
  }
  const found = ClaimsSnapshot.read({ dbPath: dbPathOf(ctx), repoPath, sessionId: session })
  if (found === undefined) return false
  if (p.flags.has("--json")) out(JSON.stringify({ claims: found }, null, 2))
  else out(claimsText(found.map((c) => ({ ...c, expiresAt: new Date(c.expiresAt) })), Date.now()))
  return true
}

/**
 * `overlaps [--repo P] [--session ID] [--cached] [--json]` from `OverlapsSnapshot.read`, which answers only
 * when the live scan provably finds nothing new (see there).
 */
const overlaps = (ctx: FastPath.Context, p: Parsed): boolean | Promise<boolean> => {
  const repo = text(p, "--repo")
  const session = text(p, "--session")
  if (!only(p, ["--repo", "--session", "--cached", "--json"]) || (session !== undefined && !/^[a-z0-9]{6,32}$/.test(session))) return false
  let repoPath: string | undefined
  try {
    // As the full CLI: --repo must be a repository; the current directory need not be one (then: all).
    repoPath = mainRoot(ctx, repo !== undefined ? fs.realpathSync(path.resolve(ctx.cwd, repo)) : ctx.cwd)
  } catch {
    return false
  }
  if (repo !== undefined && repoPath === undefined) return false
  return OverlapsSnapshot.read({
    dbPath: dbPathOf(ctx),
    dataDir: dataDirOf(ctx),
    env: ctx.env,
    repoPath: session === undefined ? repoPath : undefined,
    sessionId: session,
    refresh: !p.flags.has("--cached")
  }).then((found) => {
    if (found === undefined) return false
    // The JSON of `OverlapStore.Overlap` (same keys, same order; times as ISO strings).
    const iso = (ms: number) => new Date(ms).toISOString()
    if (p.flags.has("--json")) out(JSON.stringify({ overlaps: found.map((o) => ({ ...o, firstSeen: iso(o.firstSeen), lastSeen: iso(o.lastSeen) })) }, null, 2))
    else out(overlapsText(found.map((o) => ({ ...o, firstSeen: new Date(o.firstSeen) })), Date.now()))
    return true
  })
}

const runView = (r: RunsSnapshot.RunEntry) => r as unknown as RunView

const sandboxList = (ctx: FastPath.Context, p: Parsed): boolean => {
  const repo = text(p, "--repo")
  const limit = text(p, "--limit")
  if (!only(p, ["--repo", "--limit", "--json"]) || (limit !== undefined && !/^\d{1,9}$/.test(limit))) return false
  let repoPath: string | undefined
  if (repo !== undefined) {
    const abs = path.resolve(ctx.cwd, repo)
    try {
      repoPath = fs.realpathSync(abs)
    } catch {
      repoPath = abs
    }
  }
  const runs = RunsSnapshot.list({ dbPath: dbPathOf(ctx), repoPath, limit: limit !== undefined ? Number(limit) : 20 })
  if (runs === undefined) return false
  if (p.flags.has("--json")) out(JSON.stringify({ runs }, null, 2))
  else out(runsText(runs.map(runView), Date.now()))
  return true
}

const sandboxStatus = (ctx: FastPath.Context, p: Parsed): boolean => {
  const id = text(p, "--session-id")
  if (!only(p, ["--session-id", "--json"]) || id === undefined) return false
  const s = RunsSnapshot.status({ dbPath: dbPathOf(ctx), sessionId: id })
  if (s === undefined) return false
  if (p.flags.has("--json")) out(JSON.stringify(s, null, 2))
  else out(runStatusText(runView(s.run), s.sandbox))
  return true
}

/** All of stdin, read synchronously (a pipe or file); `complete` false when reading stopped early. */
const readAll = (): HookHandoff.Handoff => {
  const chunks: Array<Buffer> = []
  const buf = Buffer.alloc(1 << 16)
  try {
    for (;;) {
      const n = fs.readSync(0, buf, 0, buf.length, null)
      if (n === 0) return { bytes: Buffer.concat(chunks), complete: true }
      chunks.push(Buffer.from(buf.subarray(0, n)))
    }
  } catch {
    return { bytes: Buffer.concat(chunks), complete: false }
  }
}

/** `worktree-hook` (a WorktreeCreate request on stdin) through core's FastProvider. */
const worktreeHook = (ctx: FastPath.Context, p: Parsed): boolean => {
  // isatty, not process.stdin.isTTY: making process.stdin would turn a piped stdin non-blocking.
  if (p.flags.size > 0 || tty.isatty(0)) return false
  const input = readAll()
  // Whatever happens next, the regular path (same process) reads the request from here, not from stdin.
  HookHandoff.handOver(input)
  if (!input.complete) return false
  const pid = FastProvider.requesterPid(ctx.env, process.ppid)
  const created = FastProvider.create(ctx, input.bytes.toString("utf8"), pid)
  if (created === undefined) return false
  for (const n of created.notes) process.stderr.write(n + "\n")
  HookHandoff.startWatcher(pid, ctx.env)
  out(created.path)
  return true
}

const commands: Record<string, (ctx: FastPath.Context, p: Parsed) => boolean | Promise<boolean>> = {
  "worktree-hook": worktreeHook,
  register,
  release,
  heartbeat,
  claims,
  overlaps,
  "sandbox list": sandboxList,
  "sandbox status": sandboxStatus
}

/**
 * Answer the command when a fast path can; false (nothing printed or changed) when the regular path must.
 * `overlaps` answers with a promise (its sessions are snapshotted side by side), settled once every git
 * process it started has ended.
 */
export const main = (argv: ReadonlyArray<string>): boolean | Promise<boolean> => {
  const args = argv.slice(2)
  if (args.includes("--")) return false
  if (args.find((a) => !a.startsWith("-")) === "status") return StatusSnapshot.main(argv)
  const parsed = parse(args)
  if (parsed === undefined) return false
  const run = Object.prototype.hasOwnProperty.call(commands, parsed.command) ? commands[parsed.command] : undefined
  if (run === undefined) return false
  const trace = (done: boolean) => {
    if (!done && process.env.PARALLEL_CC_TRACE_FAST_PATH === "1") {
      const why = parsed.command === "overlaps" ? OverlapsSnapshot.lastDecline() : FastPath.lastDecline()
      process.stderr.write(`parallel-cc: fast path declined: ${why ?? "arguments"}\n`)
    }
    return done
  }
  const done = run({ env: process.env, cwd: process.cwd(), homeDir: os.homedir(), dbFlag: parsed.db }, parsed)
  return typeof done === "boolean" ? trace(done) : done.then(trace, () => trace(false))
}
