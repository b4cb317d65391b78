/**
 * `claude-parallel [--name NAME] [--base REF] [--worktree [NAME] | --no-worktree] [--session ID|NAME]
 * [--require-repo] [--] [agent args…]` (also `parallel-cc claude [--agent CMD] …`): run the agent in a
 * parallel-cc session (flags: internal/WrapperArgs.ts).
 *
 * Invocations of the agent that are not sessions on the repository (`claude --version`, `claude mcp list`,
 * `codex login`, … — `AgentArgs` in core, config `agents.passThrough`) run directly: no session, worktree,
 * setup or database. Outside a git repository the agent runs unchanged, with a one-line note
 * (`--require-repo` refuses instead). Inside, the wrapper registers a session (the repository itself, or a
 * fresh worktree; `--session` re-enters a kept one), starts the agent there with PARALLEL_CC_SESSION_ID,
 * PARALLEL_CC_WORKTREE, PARALLEL_CC_PORT_BASE/_PORT_COUNT and PARALLEL_CC_HEARTBEAT_FILE set, hands the
 * session over to the agent's pid, forwards SIGINT/SIGTERM/SIGHUP, and when the agent exits — however it
 * exits — releases the session under the never-lose-work rule and exits with the agent's exit code
 * (128 + signal number when the agent was killed by a signal).
 *
 * The agent is started with node:child_process, not @effect/platform's Command: the platform executor
 * starts children in a new process group (detached), and an interactive agent outside the terminal's
 * foreground process group is stopped (SIGTTIN) as soon as it reads the terminal.
 */
import { AgentArgs, AppConfig, Git, LiveOverlaps, LiveSessions, Sessions, SessionWatcher } from "@parallel-cc/core"
import { Cause, Effect, Exit, Fiber, Layer, Logger, LogLevel, ManagedRuntime, Option } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { configured, makeLayers } from "./internal/Env.js"
import { keptLines, reenterCommand, releasedLines } from "./internal/Render.js"
import { setupPrinter } from "./internal/Setup.js"
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

const say = (name: string, text: string) => {
  try {
    process.stderr.write(text.split("\n").map((l) => `${name}: ${l}`).join("\n") + "\n")
  } catch {
    // The terminal may be gone (SIGHUP); nothing left to tell.
  }
}

const errorText = (cause: Cause.Cause<unknown>, verbose: boolean): string => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) {
    const e = failure.value as { message?: unknown }
    return typeof e?.message === "string" ? e.message : String(failure.value)
  }
  return verbose ? Cause.pretty(cause) : "internal error (run again with PARALLEL_CC_DEBUG=1 for details)"
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
const agentCommand = (agent: string, cwd: string): string => (agent.includes("/") ? path.resolve(cwd, agent) : agent)

type AgentResult = { code: number; pid: number | undefined; error?: string }

/** The session to work in: a new one (with the wrapper's flags) or a kept one re-entered. */
const startSession = (cwd: string, flags: WrapperFlags, name: string) =>
  Effect.flatMap(Sessions.Sessions, (s) =>
    flags.session !== undefined
      ? s.reenter({ session: flags.session, pid: process.pid, repo: cwd })
      : s.register({
        repo: cwd,
        pid: process.pid,
        name: flags.name,
        base: flags.base,
        worktree: flags.worktree,
        onSetupOutput: setupPrinter(`${name}: `)
      }))

const workingLine = (r: Sessions.Registered): string => {
  const s = r.session
  const who = `session ${s.sessionId}${s.name !== null ? ` (${s.name})` : ""}`
  if (r.registration.reentered) return `${who}: back in its worktree ${s.worktreePath} (branch ${s.branch})`
  return s.isMainRepo
    ? `${who}: working in the repository ${s.repoPath}`
    : `${who}: working in the worktree ${s.worktreePath} (branch ${s.branch})`
}

export const run = async (options: WrapperOptions): Promise<number> => {
  const env = process.env
  const cwd = process.cwd()
  const verbose = options.verbose === true || env.PARALLEL_CC_DEBUG === "1"
  const name = options.name
  const parsed = parseWrapperArgs(options.args, { withAgent: options.withAgentFlag === true })
  if (parsed._tag === "Usage") {
    say(name, `error: ${parsed.message}`)
    return 2
  }
  if (parsed.flags.help) {
    process.stdout.write(usage + "\n")
    return 0
  }
  const { agentArgs, flags } = parsed
  const layers = makeLayers({ env, homeDir: os.homedir(), cwd, dbPath: options.dbPath, verbose })
  const logging = Logger.replace(Logger.defaultLogger, Logger.prettyLogger({ stderr: true, colors: false })).pipe(
    Layer.merge(Logger.minimumLogLevel(verbose ? LogLevel.Debug : LogLevel.Warning))
  )

  // Signals that arrive before the agent runs end the wrapper once the session is set up (and released).
  let pendingSignal: Forwarded | undefined
  let child: ReturnType<typeof spawn> | undefined
  const handlers = new Map<Forwarded, () => void>()
  for (const sig of FORWARDED) {
    const h = () => {
      if (child !== undefined && child.exitCode === null && child.signalCode === null) {
        try {
          child.kill(sig)
        } catch {
          // Already gone: its exit is being handled.
        }
      } else pendingSignal ??= sig
    }
    handlers.set(sig, h)
    process.on(sig, h)
  }
  const cleanupHandlers = () => {
    for (const [sig, h] of handlers) process.off(sig, h)
  }

  // Phase 1, configuration (and git, when it matters) only, no database: which agent, is this invocation a
  // session at all, are we in a repository?
  const light = ManagedRuntime.make(
    Git.layer.pipe(Layer.provideMerge(configured(LiveSessions.configLayer, layers)), Layer.provide(logging))
  )
  const probe = await light.runPromiseExit(Effect.gen(function*() {
    const config = yield* AppConfig.AppConfig
    const agent = flags.agent ?? config.values.agent
    const invocation = AgentArgs.classify(AgentArgs.ruleFor(agent, config.values["agents.passThrough"]), agentArgs)
    if (invocation._tag === "Direct" || flags.session !== undefined) return { agent, invocation, inRepo: true }
    const top = yield* Effect.flatMap(Git.Git, (git) => git.toplevel(cwd)).pipe(Effect.option)
    return { agent, invocation, inRepo: Option.isSome(top) }
  }))
  await light.dispose()
  if (Exit.isFailure(probe)) {
    say(name, `error: ${errorText(probe.cause, verbose)}`)
    cleanupHandlers()
    return 1
  }
  const agent = agentCommand(probe.value.agent, cwd)

  const startAgent = (dir: string, extraEnv: Readonly<Record<string, string>>) =>
    new Promise<AgentResult>((resolve) => {
      let settled = false
      const c = spawn(agent, [...agentArgs], { cwd: dir, env: { ...env, ...extraEnv }, stdio: "inherit" })
      child = c
      c.once("error", (e: NodeJS.ErrnoException) => {
        if (settled) return
        settled = true
        const code = e.code === "ENOENT" ? 127 : e.code === "EACCES" ? 126 : 1
        const hint = e.code === "ENOENT"
          ? `agent command ${JSON.stringify(probe.value.agent)} not found; install it, or choose another with ` +
            "PARALLEL_CC_AGENT=… or `parallel-cc config set agent …`"
          : `cannot start the agent ${JSON.stringify(agent)}: ${e.message}`
        resolve({ code, pid: undefined, error: hint })
      })
      c.once("exit", (code, signal) => {
        if (settled) return
        settled = true
        resolve({ code: code ?? 128 + (signal !== null ? os.constants.signals[signal] ?? 0 : 0), pid: c.pid })
      })
      if (pendingSignal !== undefined && c.pid !== undefined) c.kill(pendingSignal)
    })

  /** The agent as it is, no session: its own output and exit code. */
  const direct = async () => {
    if (pendingSignal !== undefined) {
      cleanupHandlers()
      return 128 + (os.constants.signals[pendingSignal] ?? 0)
    }
    const r = await startAgent(cwd, {})
    if (r.error !== undefined) say(name, `error: ${r.error}`)
    cleanupHandlers()
    return r.code
  }

  const sessionFlags = flags.name !== undefined || flags.base !== undefined || flags.worktree !== undefined || flags.session !== undefined
  if (probe.value.invocation._tag === "Direct") {
    if (sessionFlags) say(name, `note: \`${probe.value.invocation.because}\` is not an agent session; --name, --base, --worktree and --session are ignored`)
    return direct()
  }
  if (flags.session === undefined && claudeMakesItsWorktree(agent, agentArgs)) return direct()
  if (!probe.value.inRepo) {
    if (flags.requireRepo || sessionFlags) {
      say(name, `error: ${cwd} is not inside a git repository, so there is no session to start; the agent was not started`)
      cleanupHandlers()
      return 1
    }
    say(name, `note: ${cwd} is not inside a git repository: running ${probe.value.agent} without a parallel-cc session (--require-repo refuses instead)`)
    return direct()
  }

  // Phase 2: register (or re-enter), run the agent in the session's directory, release.
  const core = ManagedRuntime.make(configured(LiveOverlaps.layer, layers).pipe(Layer.provide(logging)))
  try {
    const reg = await core.runPromiseExit(startSession(cwd, flags, name))
    if (Exit.isFailure(reg)) {
      const failure = Cause.failureOption(reg.cause)
      say(name, `error: ${errorText(reg.cause, verbose)}`)
      const tag = Option.isSome(failure) ? (failure.value as { _tag?: string })._tag : undefined
      if (tag !== "SetupFailed") say(name, "the agent was not started; run it directly, or fix the problem above")
      return 1
    }
    const r = reg.value
    for (const s of r.swept) say(name, releasedLines(s).join("\n"))
    for (const w of r.setup.warnings) say(name, `warning: ${w}`)
    if (!r.session.isMainRepo || r.session.name !== null) say(name, workingLine(r))
    const result = await runAgent(core, r, startAgent, () => child, () => pendingSignal, { cwd, name, verbose })
    if (result.error !== undefined) say(name, `error: ${result.error}`)
    await releaseAndReport(core, r.session, probe.value.agent, { name, verbose })
    return result.code
  } finally {
    cleanupHandlers()
    await core.dispose().catch(() => undefined)
  }
}

type Core = ManagedRuntime.ManagedRuntime<Layer.Layer.Success<typeof LiveOverlaps.layer>, unknown>

/** Start the agent in the session's directory, hand the session to it, keep its watcher running meanwhile. */
const runAgent = async (
  core: Core,
  r: Sessions.Registered,
  startAgent: (dir: string, env: Readonly<Record<string, string>>) => Promise<AgentResult>,
  child: () => ReturnType<typeof spawn> | undefined,
  pending: () => Forwarded | undefined,
  ctx: { readonly cwd: string; readonly name: string; readonly verbose: boolean }
): Promise<AgentResult> => {
  const signal = pending()
  if (signal !== undefined) return { code: 128 + (os.constants.signals[signal] ?? 0), pid: undefined }
  const sessionId = r.session.sessionId
  const running = startAgent(agentCwd(ctx.cwd, r.session.repoPath, r.session.worktreePath), r.env)
  // Hand the session to the agent's process, so that if this wrapper is killed, the session stays alive
  // exactly as long as the agent does (and the next register/status/cleanup releases it after that).
  const pid = child()?.pid
  if (pid !== undefined) {
    const attached = await core.runPromiseExit(Effect.flatMap(Sessions.Sessions, (s) => s.attach(sessionId, pid)))
    if (Exit.isFailure(attached) && ctx.verbose) {
      say(ctx.name, `note: session stays with the wrapper's pid: ${errorText(attached.cause, ctx.verbose)}`)
    }
  }
  // While the agent runs, its watcher keeps the session's changed files and overlaps current (any agent:
  // it watches the worktree; with the session hook it also sees edits as they are made).
  const watcher = core.runFork(Effect.flatMap(SessionWatcher.SessionWatcher, (w) => w.watch(sessionId)))
  const result = await running
  await core.runPromise(Fiber.interrupt(watcher)).catch(() => undefined)
  return result
}

/** Release the session; a kept worktree is explained, with the command that re-enters it. */
const releaseAndReport = async (
  core: Core,
  session: Sessions.Registered["session"],
  agent: string,
  ctx: { readonly name: string; readonly verbose: boolean }
) => {
  const sessionId = session.sessionId
  const rel = await core.runPromiseExit(Effect.flatMap(Sessions.Sessions, (s) => s.release({ sessionId })))
  if (Exit.isFailure(rel)) {
    say(ctx.name, `warning: could not release session ${sessionId}: ${errorText(rel.cause, ctx.verbose)}`)
    say(ctx.name, "`parallel-cc cleanup` will release it (its process is gone)")
    return
  }
  for (const x of rel.value) {
    if (x.worktree === "kept" && x.kept !== null) {
      say(ctx.name, [
        `session ${sessionId} ended; its worktree is kept because removing it would lose work.`,
        `to go on where its files are: ${reenterCommand(session.name ?? sessionId, agent)}` +
        (/(^|\/)claude$/.test(agent) ? "   (or --resume <conversation id>)" : ""),
        ...keptLines(sessionId, x.kept).filter((l) => !l.includes("to go on:"))
      ].join("\n"))
    } else if (x.worktree !== "main") {
      say(ctx.name, releasedLines(x).join("\n"))
    }
  }
}

const usage = `Usage: claude-parallel [options] [--] [agent args…]
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

const finish = (p: Promise<number>) => {
  p.then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`claude-parallel: internal error: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`)
      process.exit(70)
    }
  )
}

/** \`claude-parallel …\`: the wrapper's flags, then the agent's arguments. */
export const main = (argv: ReadonlyArray<string>): void => {
  finish(run({ args: argv.slice(2), name: "claude-parallel" }))
}

/** \`parallel-cc [--db FILE] [--verbose] claude [--agent CMD] [flags] [--] [agent args…]\` (args after \`claude\`). */
export const mainSubcommand = (
  args: ReadonlyArray<string>,
  globals: { readonly dbPath?: string | undefined; readonly verbose?: boolean | undefined } = {}
): void => {
  finish(run({ args, withAgentFlag: true, dbPath: globals.dbPath, verbose: globals.verbose, name: "parallel-cc" }))
}
