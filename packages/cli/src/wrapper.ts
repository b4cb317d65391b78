/**
 * The wrapper's session work through the `Sessions` service (bundled as `dist/wrap.cjs`): the
 * {@link Backend} that `wrapperRun.ts` uses when core's Effect-free fast path declines a step
 * (wrapperFast.ts), and `main`/`mainSubcommand` for running the wrapper entirely this way.
 */
import {
  AgentArgs,
  AppConfig,
  Fleet,
  FleetMonitor,
  Git,
  Host,
  LiveFleet,
  LiveSessions,
  SessionFiles,
  Sessions,
  SessionStore,
  SessionWatcher
} from "@parallel-cc/core"
import { Cause, Effect, Exit, Fiber, Layer, Logger, LogLevel, ManagedRuntime, Option } from "effect"
import * as os from "node:os"
import { configured, makeLayers } from "./internal/Env.js"
import { setupPrinter } from "./internal/Setup.js"
import type { WrapperFlags } from "./internal/WrapperArgs.js"
import {
  agentCommand,
  type Backend,
  claudeMakesItsWorktree,
  finish,
  run,
  type Start,
  subcommandOptions,
  type WrapperOptions
} from "./wrapperRun.js"

export { claudeMakesItsWorktree, type WrapperOptions } from "./wrapperRun.js"

const errorText = (cause: Cause.Cause<unknown>, verbose: boolean): string => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) {
    const e = failure.value as { message?: unknown }
    return typeof e?.message === "string" ? e.message : String(failure.value)
  }
  return verbose ? Cause.pretty(cause) : "internal error (run again with PARALLEL_CC_DEBUG=1 for details)"
}

/** The session work of a wrapper run through the `Sessions` service (runtimes built on first use). */
export const serviceBackend = (options: WrapperOptions): Backend => {
  const env = process.env
  const cwd = process.cwd()
  const verbose = options.verbose === true || env.PARALLEL_CC_DEBUG === "1"
  const layers = makeLayers({ env, homeDir: os.homedir(), cwd, dbPath: options.dbPath, verbose })
  const logging = Logger.replace(Logger.defaultLogger, Logger.prettyLogger({ stderr: true, colors: false })).pipe(
    Layer.merge(Logger.minimumLogLevel(verbose ? LogLevel.Debug : LogLevel.Warning))
  )
  const host = Host.layer({ homeDir: os.homedir(), cwd, env, nodeVersion: process.versions.node })
  let runtime: ManagedRuntime.ManagedRuntime<LiveFleet.Services, unknown> | undefined
  const core = () =>
    (runtime ??= ManagedRuntime.make(configured(LiveFleet.layer.pipe(Layer.provide(host)), layers).pipe(Layer.provide(logging))))

  const start = async (flags: WrapperFlags, agentArgs: ReadonlyArray<string>): Promise<Start> => {
    // Configuration (and git, when it matters) only, no database: which agent, is this invocation a session
    // at all, are we in a repository?
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
    if (Exit.isFailure(probe)) return { _tag: "Failed", error: errorText(probe.cause, verbose), hint: false }
    const { agent, invocation, inRepo } = probe.value
    const sessionFlags = flags.name !== undefined || flags.base !== undefined || flags.worktree !== undefined ||
      flags.session !== undefined
    if (invocation._tag === "Direct") {
      const note = sessionFlags
        ? `note: \`${invocation.because}\` is not an agent session; --name, --base, --worktree and --session are ignored`
        : undefined
      return { _tag: "Direct", agent, note }
    }
    if (flags.session === undefined && claudeMakesItsWorktree(agentCommand(agent, cwd), agentArgs)) {
      return { _tag: "Direct", agent, note: undefined }
    }
    if (!inRepo) {
      if (flags.requireRepo || sessionFlags) {
        const error = `${cwd} is not inside a git repository, so there is no session to start; the agent was not started`
        return { _tag: "Failed", error, hint: false }
      }
      const note = `note: ${cwd} is not inside a git repository: running ${agent} without a parallel-cc session (--require-repo refuses instead)`
      return { _tag: "Direct", agent, note }
    }
    const reg = await core().runPromiseExit(
      Effect.flatMap(Sessions.Sessions, (s) =>
        flags.session !== undefined
          ? s.reenter({ session: flags.session, pid: process.pid, repo: cwd })
          : s.register({
            repo: cwd,
            pid: process.pid,
            name: flags.name,
            base: flags.base,
            worktree: flags.worktree,
            onSetupOutput: setupPrinter(`${options.name}: `)
          })).pipe(
          // Recorded for the next start's fast path (sessions/FastPath).
          Effect.tap(() => Effect.withConfigProvider(AppConfig.recordSnapshot, layers.provider))
        )
    )
    if (Exit.isFailure(reg)) {
      const failure = Cause.failureOption(reg.cause)
      const tag = Option.isSome(failure) ? (failure.value as { _tag?: string })._tag : undefined
      return { _tag: "Failed", error: errorText(reg.cause, verbose), hint: tag !== "SetupFailed" }
    }
    const r = reg.value
    return {
      _tag: "Registered",
      agent,
      registration: {
        session: r.session,
        reentered: r.registration.reentered,
        env: r.env,
        swept: r.swept,
        warnings: r.setup.warnings
      }
    }
  }

  return {
    start,
    attach: async (sessionId, pid, agent) => {
      const attached = await core().runPromiseExit(
        Effect.flatMap(Sessions.Sessions, (s) => s.attach(sessionId as Sessions.Released["sessionId"], pid, agent))
      )
      return Exit.isFailure(attached) ? errorText(attached.cause, verbose) : undefined
    },
    release: async (sessionId) => {
      const rel = await core().runPromiseExit(
        Effect.flatMap(Sessions.Sessions, (s) => s.release({ sessionId: sessionId as Sessions.Released["sessionId"] }))
      )
      return Exit.isFailure(rel) ? { ok: false, error: errorText(rel.cause, verbose) } : { ok: true, value: rel.value }
    },
    watch: (sessionId, agent) => {
      const id = sessionId as Sessions.Released["sessionId"]
      // While the agent runs, its watcher keeps the session's changed files and overlaps current (any agent:
      // it watches the worktree; with the session hook it also sees edits as they are made).
      const watcher = core().runFork(Effect.flatMap(SessionWatcher.SessionWatcher, (w) => w.watch(id)))
      // The fleet monitor: notifications (to this terminal too), usage from the transcripts, budgets, and the
      // state of an agent without hooks from what we can see of its process.
      const monitor = core().runFork(Effect.flatMap(FleetMonitor.FleetMonitor, (m) =>
        m.watch(id, {
          terminal: process.stderr.isTTY === true ? (seq) => process.stderr.write(seq) : undefined,
          activityPid: agent.hooked ? undefined : agent.pid
        })))
      return () =>
        core().runPromise(Effect.gen(function*() {
          yield* Fiber.interrupt(monitor)
          yield* Fiber.interrupt(watcher)
          // The agent's last words: its state, and the usage up to its end (stored before the release).
          const files = yield* SessionFiles.SessionFiles
          if (!agent.hooked) yield* files.setState(id, "exited").pipe(Effect.ignore)
          const session = yield* Effect.flatMap(SessionStore.SessionStore, (st) => st.get(id))
          yield* Effect.flatMap(Fleet.Fleet, (f) => f.usage(session))
        })).then(() => undefined, () => undefined)
    },
    dispose: async () => {
      await runtime?.dispose()
    }
  }
}

/** `claude-parallel …` through the service: the wrapper's flags, then the agent's arguments. */
export const main = (argv: ReadonlyArray<string>): void => {
  const options = { args: argv.slice(2), name: "claude-parallel" }
  finish(run(options, serviceBackend(options)))
}

/** `parallel-cc [--db FILE] [--verbose] claude [--agent CMD] [flags] [--] [agent args…]` (args after `claude`). */
export const mainSubcommand = (
  args: ReadonlyArray<string>,
  globals: { readonly dbPath?: string | undefined; readonly verbose?: boolean | undefined } = {}
): void => {
  const options = subcommandOptions(args, globals)
  finish(run(options, serviceBackend(options)))
}
