/**
 * `claude-parallel [--name NAME] [--base REF] [--worktree [NAME] | --no-worktree] [--session ID|NAME]
 * [--require-repo] [--] [agent args…]` (also `parallel-cc claude [--agent CMD] …`): run the agent in a
 * parallel-cc session (flags: internal/WrapperArgs.ts).
 *
 * Invocations of the agent that are not sessions on the repository (`claude --version`, `claude mcp list`,
 * `codex login`, … — `AgentArgs` in core, config `agents.passThrough`) run directly: no session, worktree,
 * setup or database. Outside a git repository the agent runs unchanged, with a one-line note
 * (`--require-repo` refuses instead). Inside, the wrapper registers a session (the repository itself, or a
 * fresh worktree; `--session` re-enters a kept one), starts the agent there with the session's environment
 * (PARALLEL_CC_SESSION_ID, _WORKTREE, _PORT_BASE/_PORT_COUNT, _HEARTBEAT_FILE, _SESSION_DIR, …), hands the
 * session over to the agent's pid, forwards SIGINT/SIGTERM/SIGHUP, and when the agent exits — however it
 * exits — releases the session under the never-lose-work rule and exits with the agent's exit code
 * (128 + signal number when the agent was killed by a signal).
 *
 * This module is the process side (signals, the agent's process, what is printed, the exit code) and
 * imports no Effect code: the session work is a {@link Backend} — core's Effect-free fast path
 * (wrapperFast.ts), which hands each step it declines to the `Sessions` service (wrapper.ts), loaded only
 * then. So a session start that needs no decision costs a Node start, git and SQLite, nothing more.
 *
 * The agent is started with node:child_process, not @effect/platform's Command: the platform executor
 * starts children in a new process group (detached), and an interactive agent outside the terminal's
 * foreground process group is stopped (SIGTTIN) as soon as it reads the terminal.
 */
import type { Sessions } from "@parallel-cc/core"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { keptLines, reenterCommand, releasedLines } from "./internal/Render.js"
import { parseWrapperArgs, type WrapperFlags } from "./internal/WrapperArgs.js"

const FORWARDED = ["SIGINT", "SIGTERM", "SIGHUP"] as const
type Forwarded = (typeof FORWARDED)[number]

export interface WrapperOptions {
  /** Everything after `claude-parallel` (or after `parallel-cc claude`): the wrapper's flags, then the agent's. */
  readonly args: ReadonlyArray<string>
  /** Accept `--agent CMD` and `--help` (the `parallel-cc claude` form). */
  readonly withAgentFlag?: boolean | undefined
  readonly dbPath?: string | undefined
  readonly verbose?: boolean | undefined
  /** The program name used in messages. */
  readonly name: string
}

/** A registered session as the wrapper needs it. */
export interface Registration {
  readonly session: {
    readonly sessionId: string
    readonly isMainRepo: boolean
    readonly worktreePath: string
    readonly branch: string | null
    readonly repoPath: string
    readonly name: string | null
  }
  /** A kept worktree re-entered (`--session`), not a new session. */
  readonly reentered: boolean
  readonly env: Readonly<Record<string, string>>
  /** Sessions of the repository found dead and released first. */
  readonly swept: ReadonlyArray<Sessions.Released>
  readonly warnings: ReadonlyArray<string>
}

/**
 * How a start went: the agent runs directly with no session (not an agent session, or not in a repository;
 * `note` is said first), registered, or failed (`hint`: say that the agent was not started and how to go on).
 */
export type Start =
  | { readonly _tag: "Direct"; readonly agent: string; readonly note: string | undefined }
  | { readonly _tag: "Registered"; readonly agent: string; readonly registration: Registration }
  | { readonly _tag: "Failed"; readonly error: string; readonly hint: boolean }

export type Result<A> = { readonly ok: true; readonly value: A } | { readonly ok: false; readonly error: string }

/** The session work of a wrapper run. */
export interface Backend {
  /** Which agent, and a session when there is one to start (the working directory is `process.cwd()`). */
  readonly start: (flags: WrapperFlags, agentArgs: ReadonlyArray<string>) => Promise<Start>
  /** Hand the session to the agent's process; an error text when it stays with the wrapper's pid. */
  readonly attach: (sessionId: string, pid: number, agent: string) => Promise<string | undefined>
  /**
   * Keep the session's changed files, overlaps and usage current, notify of its state, while the agent runs
   * (`hooked`: Claude Code, whose hooks write its state; else the state comes from `pid`'s activity);
   * returns the stopper.
   */
  readonly watch: (sessionId: string, agent: { readonly pid: number | undefined; readonly hooked: boolean }) => () => Promise<void>
  readonly release: (sessionId: string) => Promise<Result<ReadonlyArray<Sessions.Released>>>
  readonly dispose: () => Promise<void>
}

export const say = (name: string, text: string) => {
  try {
    process.stderr.write(text.split("\n").map((l) => `${name}: ${l}`).join("\n") + "\n")
  } catch {
    // The terminal may be gone (SIGHUP); nothing left to tell.
  }
}

/** Where the agent starts: the same subdirectory of the session's directory, when it exists there. */
const agentCwd = (cwd: string, repoPath: string, worktreePath: string): string => {
  const rel = path.relative(repoPath, cwd)
  if (rel === "" || rel.startsWith("..") || path.isAbsolute(rel)) return worktreePath
  const candidate = path.join(worktreePath, rel)
  try {
    return fs.statSync(candidate).isDirectory() ? candidate : worktreePath
  } catch {
    return worktreePath
  }
}

/**
 * `claude -w [NAME]` / `--worktree`: Claude Code makes the session's worktree itself — through parallel-cc's
 * WorktreeCreate hook when the worktree provider is installed, which registers the session then. A session
 * of the wrapper would hold the repository (or a worktree) that the agent never works in.
 */
export const claudeMakesItsWorktree = (agent: string, args: ReadonlyArray<string>): boolean => {
  if (path.basename(agent) !== "claude") return false
  for (const a of args) {
    if (a === "--") return false
    if (a === "-w" || a === "--worktree" || a.startsWith("--worktree=")) return true
  }
  return false
}

/** Resolve the agent command: a path (relative to where the wrapper was started) or a name on PATH. */
export const agentCommand = (agent: string, cwd: string): string => (agent.includes("/") ? path.resolve(cwd, agent) : agent)

interface AgentExit {
  readonly code: number
  readonly pid: number | undefined
  readonly error?: string
}

/** Forward signals to the agent; a signal before the agent runs is remembered and ends the wrapper. */
const signals = () => {
  const state: { pending: Forwarded | undefined; child: ReturnType<typeof spawn> | undefined } = { pending: undefined, child: undefined }
  const handlers = new Map<Forwarded, () => void>()
  for (const sig of FORWARDED) {
    const h = () => {
      const c = state.child
      if (c !== undefined && c.exitCode === null && c.signalCode === null) {
        try {
          c.kill(sig)
        } catch {
          // Already gone: its exit is being handled.
        }
      } else state.pending ??= sig
    }
    handlers.set(sig, h)
    process.on(sig, h)
  }
  return { state, off: () => handlers.forEach((h, sig) => process.off(sig, h)) }
}

const startAgent = (
  sig: ReturnType<typeof signals>,
  cmd: { readonly agent: string; readonly name: string; readonly args: ReadonlyArray<string> },
  dir: string,
  env: NodeJS.ProcessEnv
) =>
  new Promise<AgentExit>((resolve) => {
    let settled = false
    const c = spawn(cmd.agent, [...cmd.args], { cwd: dir, env, stdio: "inherit" })
    sig.state.child = c
    c.once("error", (e: NodeJS.ErrnoException) => {
      if (settled) return
      settled = true
      const code = e.code === "ENOENT" ? 127 : e.code === "EACCES" ? 126 : 1
      const hint = e.code === "ENOENT"
        ? `agent command ${JSON.stringify(cmd.name)} not found; install it, or choose another with ` +
          "PARALLEL_CC_AGENT=… or `parallel-cc config set agent …`"
        : `cannot start the agent ${JSON.stringify(cmd.agent)}: ${e.message}`
      resolve({ code, pid: undefined, error: hint })
    })
    c.once("exit", (code, signal) => {
      if (settled) return
      settled = true
      resolve({ code: code ?? 128 + (signal !== null ? os.constants.signals[signal] ?? 0 : 0), pid: c.pid })
    })
    if (sig.state.pending !== undefined && c.pid !== undefined) c.kill(sig.state.pending)
  })

const signalCode = (sig: Forwarded) => 128 + (os.constants.signals[sig] ?? 0)

/** What the wrapper says once the session is there (nothing for an unnamed session in the repository itself). */
const workingLine = (r: Registration): string | undefined => {
  const s = r.session
  if (s.isMainRepo && s.name === null) return undefined
  const who = `session ${s.sessionId}${s.name !== null ? ` (${s.name})` : ""}`
  if (r.reentered) return `${who}: back in its worktree ${s.worktreePath} (branch ${s.branch})`
  return s.isMainRepo
    ? `${who}: working in the repository ${s.repoPath}`
    : `${who}: working in the worktree ${s.worktreePath} (branch ${s.branch})`
}

/** Run the session: register (through `backend`), the agent, release; resolves with the exit code. */
export const run = async (options: WrapperOptions, backend: Backend): Promise<number> => {
  const env = process.env
  const cwd = process.cwd()
  const name = options.name
  const parsed = parseWrapperArgs(options.args, { withAgent: options.withAgentFlag === true })
  if (parsed._tag === "Usage") {
    say(name, `error: ${parsed.message}`)
    await backend.dispose().catch(() => undefined)
    return 2
  }
  if (parsed.flags.help) {
    process.stdout.write(usage + "\n")
    await backend.dispose().catch(() => undefined)
    return 0
  }
  const sig = signals()
  try {
    const start = await backend.start(parsed.flags, parsed.agentArgs)
    if (start._tag === "Failed") {
      say(name, `error: ${start.error}`)
      if (start.hint) say(name, "the agent was not started; run it directly, or fix the problem above")
      return 1
    }
    const cmd = { agent: agentCommand(start.agent, cwd), name: start.agent, args: parsed.agentArgs }
    if (start._tag === "Direct") {
      if (start.note !== undefined) say(name, start.note)
      if (sig.state.pending !== undefined) return signalCode(sig.state.pending)
      const r = await startAgent(sig, cmd, cwd, env)
      if (r.error !== undefined) say(name, `error: ${r.error}`)
      return r.code
    }
    const r = start.registration
    for (const s of r.swept) say(name, releasedLines(s).join("\n"))
    for (const w of r.warnings) say(name, `warning: ${w}`)
    const working = workingLine(r)
    if (working !== undefined) say(name, working)
    const sessionId = r.session.sessionId
    let result: AgentExit
    if (sig.state.pending !== undefined) result = { code: signalCode(sig.state.pending), pid: undefined }
    else {
      const running = startAgent(sig, cmd, agentCwd(cwd, r.session.repoPath, r.session.worktreePath), { ...env, ...r.env })
      // Hand the session to the agent's process, so that if this wrapper is killed, the session stays alive
      // exactly as long as the agent does (and the next register/status/cleanup releases it after that).
      const pid = sig.state.child?.pid
      if (pid !== undefined) {
        const error = await backend.attach(sessionId, pid, cmd.agent)
        if (error !== undefined && (options.verbose === true || env.PARALLEL_CC_DEBUG === "1")) {
          say(name, `note: session stays with the wrapper's pid: ${error}`)
        }
      }
      const stopWatching = backend.watch(sessionId, { pid, hooked: path.basename(cmd.agent) === "claude" })
      result = await running
      await stopWatching()
    }
    if (result.error !== undefined) say(name, `error: ${result.error}`)
    await releaseAndReport(backend, r.session, start.agent, name)
    return result.code
  } finally {
    sig.off()
    await backend.dispose().catch(() => undefined)
  }
}

/** Release the session; a kept worktree is explained, with the command that re-enters it. */
const releaseAndReport = async (backend: Backend, session: Registration["session"], agent: string, name: string) => {
  const sessionId = session.sessionId
  const rel = await backend.release(sessionId)
  if (!rel.ok) {
    say(name, `warning: could not release session ${sessionId}: ${rel.error}`)
    say(name, "`parallel-cc cleanup` will release it (its process is gone)")
    return
  }
  for (const x of rel.value) {
    if (x.worktree === "kept" && x.kept !== null) {
      say(name, [
        `session ${sessionId} ended; its worktree is kept because removing it would lose work.`,
        `to go on where its files are: ${reenterCommand(session.name ?? sessionId, agent)}` +
        (/(^|\/)claude$/.test(agent) ? "   (or --resume <conversation id>)" : ""),
        ...keptLines(sessionId, x.kept).filter((l) => !l.includes("to go on:"))
      ].join("\n"))
    } else if (x.worktree !== "main") {
      say(name, releasedLines(x).join("\n"))
    }
  }
}

export const usage = `Usage: claude-parallel [options] [--] [agent args…]
       parallel-cc claude [--agent CMD] [options] [--] [agent args…]

Runs the agent (config \`agent\`, PARALLEL_CC_AGENT, default claude) in a parallel-cc session: the first
session of a repository works in the repository, every other one in its own worktree and branch. The
session is released when the agent exits; a worktree with uncommitted or unmerged work is kept, and the
command to go on there is printed.

Options (before the agent's arguments; \`--\` ends them):
  --name NAME          name the session: branch parallel/NAME in the worktree folder NAME
  --base REF           start the worktree from REF (a branch, tag or commit)
  --worktree [NAME]    give this session its own worktree even when the repository is free
  --no-worktree        work in the repository itself; refused when another session has it
  --session ID|NAME    re-enter a kept worktree (e.g. --session feat-x --resume <conversation id>)
  --require-repo       refuse to run outside a git repository instead of running the agent plainly

Invocations that are not agent sessions (claude --version, claude mcp …, claude doctor, …; config
agents.passThrough for other agents) run the agent directly, with no session.`

/** Exit with the code `p` resolves with (70 on an internal error). */
export const finish = (p: Promise<number>) => {
  p.then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`claude-parallel: internal error: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`)
      process.exit(70)
    }
  )
}

/** The options of `parallel-cc [--db FILE] [--verbose] claude [--agent CMD] [flags] [--] [agent args…]` (given the arguments after `claude`). */
export const subcommandOptions = (
  args: ReadonlyArray<string>,
  globals: { readonly dbPath?: string | undefined; readonly verbose?: boolean | undefined } = {}
): WrapperOptions => ({ args, withAgentFlag: true, dbPath: globals.dbPath, verbose: globals.verbose, name: "parallel-cc" })
