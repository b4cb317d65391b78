/**
 * The Effect-free start-up paths of the hot commands (bundled as `dist/quick.cjs`): `status --json` from the
 * store snapshot (see statusSnapshot.ts), and `register`, `release` and `heartbeat` through core's
 * `FastPath`. Each understands only the plain forms of its command and answers only when core's fast path
 * does; otherwise `main` returns false having printed and changed nothing, and the loader starts the
 * regular path (`fast.cjs`, then the full CLI), which owns every help text, usage error and decision.
 * The output is byte for byte what the regular path prints (tested side by side).
 */
import { FastPath, type Sessions } from "@parallel-cc/core"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { releasedLines } from "./internal/Render.js"
import * as StatusSnapshot from "./statusSnapshot.js"

interface Parsed {
  readonly command: string
  readonly flags: ReadonlyMap<string, string | true>
  readonly db: string | undefined
}

const VALUED = new Set(["--repo", "--pid", "--session-id", "--db"])
const BOOLEAN = new Set(["--json", "--verbose"])

/** `COMMAND` and flags from the sets above, each at most once (`--verbose` is ignored); anything else: undefined. */
const parse = (args: ReadonlyArray<string>): Parsed | undefined => {
  let command: string | undefined
  const flags = new Map<string, string | true>()
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!
    if (!a.startsWith("-")) {
      if (command !== undefined) return undefined
      command = a
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
  else {
    out(
      s.isMainRepo
        ? `Session ${s.sessionId}: working in the repository ${s.repoPath}`
        : `Session ${s.sessionId}: parallel session, working in the worktree ${s.worktreePath} (branch ${s.branch})`
    )
    const base = r.row.port_base
    if (base !== null) out(`Ports ${base}–${base + r.portCount - 1} (PARALLEL_CC_PORT_BASE)`)
  }
  return true
}

const release = (ctx: FastPath.Context, p: Parsed): boolean => {
  const sel = selector(p)
  if (!only(p, ["--session-id", "--pid", "--json"]) || sel === undefined) return false
  const released = FastPath.release(ctx, sel)
  if (released === undefined) return false
  if (p.flags.has("--json")) out(JSON.stringify({ released }, null, 2))
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

const commands: Record<string, (ctx: FastPath.Context, p: Parsed) => boolean> = { register, release, heartbeat }

/** Answer the command when a fast path can; false (nothing printed or changed) when the regular path must. */
export const main = (argv: ReadonlyArray<string>): boolean => {
  const args = argv.slice(2)
  if (args.includes("--")) return false
  if (args.find((a) => !a.startsWith("-")) === "status") return StatusSnapshot.main(argv)
  const parsed = parse(args)
  if (parsed === undefined) return false
  const run = Object.prototype.hasOwnProperty.call(commands, parsed.command) ? commands[parsed.command] : undefined
  if (run === undefined) return false
  const done = run({ env: process.env, cwd: process.cwd(), homeDir: os.homedir(), dbFlag: parsed.db }, parsed)
  if (!done && process.env.PARALLEL_CC_TRACE_FAST_PATH === "1") {
    process.stderr.write(`parallel-cc: fast path declined: ${FastPath.lastDecline() ?? "arguments"}\n`)
  }
  return done
}
