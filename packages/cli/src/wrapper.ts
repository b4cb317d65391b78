/**
 * `claude-parallel [agent args…]` (also `parallel-cc claude [--agent CMD] [--] [agent args…]`): run the
 * agent in a parallel-cc session.
 *
 * Outside a git repository the agent runs unchanged. Inside, the wrapper registers a session (the
 * repository itself, or a fresh worktree), starts the agent there with PARALLEL_CC_SESSION_ID,
 * PARALLEL_CC_WORKTREE, PARALLEL_CC_PORT_BASE/_PORT_COUNT and PARALLEL_CC_HEARTBEAT_FILE set, hands the
 * session over to the agent's pid, forwards SIGINT/SIGTERM/SIGHUP, and when the agent exits — however it
 * exits — releases the session under the never-lose-work rule and exits with the agent's exit code
 * (128 + signal number when the agent was killed by a signal).
 *
 * The agent is started with node:child_process, not @effect/platform's Command: the platform executor
 * starts children in a new process group (detached), and an interactive agent outside the terminal's
 * foreground process group is stopped (SIGTTIN) as soon as it reads the terminal.
 */
import { AppConfig, Git, LiveOverlaps, LiveSessions, Sessions, SessionWatcher } from "@parallel-cc/core"
import { Cause, Effect, Exit, Fiber, Layer, Logger, LogLevel, ManagedRuntime, Option } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { configured, makeLayers } from "./internal/Env.js"
import { keptLines, releasedLines } from "./internal/Render.js"

const FORWARDED = ["SIGINT", "SIGTERM", "SIGHUP"] as const
type Forwarded = (typeof FORWARDED)[number]

export interface WrapperOptions {
  readonly agentArgs: ReadonlyArray<string>
  /** `--agent CMD` of `parallel-cc claude`; else config `agent` / PARALLEL_CC_AGENT. */
  readonly agent?: string | undefined
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

export const run = async (options: WrapperOptions): Promise<number> => {
  const env = process.env
  const cwd = process.cwd()
  const verbose = options.verbose === true || env.PARALLEL_CC_DEBUG === "1"
  const name = options.name
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

  // Phase 1, configuration and git only (no database): which agent, and are we in a repository?
  const light = ManagedRuntime.make(
    Git.layer.pipe(Layer.provideMerge(configured(LiveSessions.configLayer, layers)), Layer.provide(logging))
  )
  const probe = await light.runPromiseExit(Effect.gen(function*() {
    const config = yield* AppConfig.AppConfig
    const git = yield* Git.Git
    const top = yield* git.toplevel(cwd).pipe(Effect.option)
    return { agent: options.agent ?? config.values.agent, inRepo: Option.isSome(top) }
  }))
  await light.dispose()
  if (Exit.isFailure(probe)) {
    say(name, `error: ${errorText(probe.cause, verbose)}`)
    return 1
  }
  const agent = agentCommand(probe.value.agent, cwd)

  const startAgent = (dir: string, extraEnv: Readonly<Record<string, string>>) =>
    new Promise<{ code: number; pid: number | undefined; error?: string }>((resolve) => {
      let settled = false
      const c = spawn(agent, [...options.agentArgs], { cwd: dir, env: { ...env, ...extraEnv }, stdio: "inherit" })
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

  const cleanupHandlers = () => {
    for (const [sig, h] of handlers) process.off(sig, h)
  }

  if (!probe.value.inRepo || claudeMakesItsWorktree(agent, options.agentArgs)) {
    if (pendingSignal !== undefined) return 128 + (os.constants.signals[pendingSignal] ?? 0)
    const r = await startAgent(cwd, {})
    if (r.error !== undefined) say(name, `error: ${r.error}`)
    cleanupHandlers()
    return r.code
  }

  // Phase 2: register, run the agent in the session's directory, release.
  const core = ManagedRuntime.make(configured(LiveOverlaps.layer, layers).pipe(Layer.provide(logging)))
  try {
    const reg = await core.runPromiseExit(
      Effect.flatMap(Sessions.Sessions, (s) => s.register({ repo: cwd, pid: process.pid }))
    )
    if (Exit.isFailure(reg)) {
      say(name, `error: ${errorText(reg.cause, verbose)}`)
      say(name, "the agent was not started; run it directly, or fix the problem above")
      return 1
    }
    const r = reg.value
    for (const s of r.swept) say(name, releasedLines(s).join("\n"))
    for (const w of r.setup.warnings) say(name, `warning: ${w}`)
    if (!r.session.isMainRepo) {
      say(
        name,
        `session ${r.session.sessionId}: another session has the repository, so this one works in the worktree ` +
          `${r.session.worktreePath} (branch ${r.session.branch})`
      )
    }
    const sessionId = r.session.sessionId

    let result: { code: number; pid: number | undefined; error?: string }
    if (pendingSignal !== undefined) {
      result = { code: 128 + (os.constants.signals[pendingSignal] ?? 0), pid: undefined }
    } else {
      const running = startAgent(agentCwd(cwd, r.session.repoPath, r.session.worktreePath), r.env)
      // Hand the session to the agent's process, so that if this wrapper is killed, the session stays alive
      // exactly as long as the agent does (and the next register/status/cleanup releases it after that).
      if (child?.pid !== undefined) {
        const attached = await core.runPromiseExit(Effect.flatMap(Sessions.Sessions, (s) => s.attach(sessionId, child!.pid!)))
        if (Exit.isFailure(attached) && verbose) say(name, `note: session stays with the wrapper's pid: ${errorText(attached.cause, verbose)}`)
      }
      // While the agent runs, its watcher keeps the session's changed files and overlaps current (any agent:
      // it watches the worktree; with the session hook it also sees edits as they are made).
      const watcher = core.runFork(Effect.flatMap(SessionWatcher.SessionWatcher, (w) => w.watch(sessionId)))
      result = await running
      await core.runPromise(Fiber.interrupt(watcher)).catch(() => undefined)
    }
    if (result.error !== undefined) say(name, `error: ${result.error}`)

    const rel = await core.runPromiseExit(Effect.flatMap(Sessions.Sessions, (s) => s.release({ sessionId })))
    if (Exit.isFailure(rel)) {
      say(name, `warning: could not release session ${sessionId}: ${errorText(rel.cause, verbose)}`)
      say(name, "`parallel-cc cleanup` will release it (its process is gone)")
    } else {
      for (const x of rel.value) {
        if (x.worktree === "kept" && x.kept !== null) {
          say(name, [`session ${sessionId} ended; its worktree is kept because removing it would lose work:`, ...keptLines(sessionId, x.kept)].join("\n"))
        } else if (x.worktree !== "main") {
          say(name, releasedLines(x).join("\n"))
        }
      }
    }
    return result.code
  } finally {
    cleanupHandlers()
    await core.dispose().catch(() => undefined)
  }
}

const usage = `Usage: claude-parallel [agent args…]
       parallel-cc claude [--agent CMD] [--] [agent args…]

Runs the agent (config \`agent\`, PARALLEL_CC_AGENT, default claude) in a parallel-cc session: the first
session of a repository works in the repository, every other one in its own worktree and branch. All
arguments go to the agent unchanged. The session is released when the agent exits; a worktree with
uncommitted or unmerged work is kept and the way to merge or remove it is printed.`

const finish = (p: Promise<number>) => {
  p.then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`claude-parallel: internal error: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`)
      process.exit(70)
    }
  )
}

/** `claude-parallel …`: every argument goes to the agent. */
export const main = (argv: ReadonlyArray<string>): void => {
  finish(run({ agentArgs: argv.slice(2), name: "claude-parallel" }))
}

/** `parallel-cc [--db FILE] [--verbose] claude [--agent CMD] [--] [agent args…]` (args after `claude`). */
export const mainSubcommand = (
  args: ReadonlyArray<string>,
  globals: { readonly dbPath?: string | undefined; readonly verbose?: boolean | undefined } = {}
): void => {
  let agent: string | undefined
  let i = 0
  for (; i < args.length; i++) {
    const a = args[i]!
    if (a === "--") {
      i++
      break
    }
    if (a === "--help" || a === "-h") {
      process.stdout.write(usage + "\n")
      process.exit(0)
    }
    if (a === "--agent") {
      const v = args[i + 1]
      if (v === undefined || v === "") {
        process.stderr.write("parallel-cc: error: --agent needs a command\n")
        process.exit(2)
      }
      agent = v
      i++
    } else if (a.startsWith("--agent=")) agent = a.slice("--agent=".length)
    else break
  }
  finish(run({ agentArgs: args.slice(i), agent, dbPath: globals.dbPath, verbose: globals.verbose, name: "parallel-cc" }))
}
