/**
 * `claude-parallel` and `parallel-cc claude` as started (bundled as `dist/wrapq.cjs`, no Effect code): the
 * wrapper (wrapperRun.ts) over core's Effect-free fast path, which registers, hands over and releases the
 * session itself whenever nothing needs deciding. Each step it declines goes to the `Sessions` service
 * (wrapper.ts, `dist/wrap.cjs`), loaded only then.
 */
import { AgentArgs, FastPath, type Sessions } from "@parallel-cc/core"
import * as os from "node:os"
import {
  agentCommand,
  type Backend,
  claudeMakesItsWorktree,
  finish,
  run,
  subcommandOptions,
  type WrapperOptions
} from "./wrapperRun.js"

/** Loads another bundle of this CLI (through the loader's code cache). */
export type Load = (bundle: string) => { readonly serviceBackend: (options: WrapperOptions) => Backend }

/** The options the fast path handles: these, and nothing else set (an option it does not know makes it step aside). */
const FAST_OPTIONS = new Set(["args", "withAgentFlag", "dbPath", "verbose", "name"])

/** How long after the agent's start its session's watcher starts. */
const WATCH_DELAY_MS = 1_000

/** The fast path's backend; `service` gives the `Sessions` service's, for every step the fast path declines. */
export const fastBackend = (options: WrapperOptions, service: () => Backend): Backend => {
  const env = process.env
  const cwd = process.cwd()
  // One store connection for the whole run (register, hand-over, release), closed at dispose.
  const store = FastPath.keptStore()
  const ctx: FastPath.Context = { env, cwd, homeDir: os.homedir(), dbFlag: options.dbPath, store }
  const eligible = env.PARALLEL_CC_NO_FAST_PATH !== "1" &&
    Object.entries(options).every(([k, v]) => FAST_OPTIONS.has(k) || v === undefined)
  let delegate: Backend | undefined
  const svc = () => (delegate ??= service())
  return {
    start: async (flags, agentArgs) => {
      // A named, based, forced or re-entered session is the service's to decide.
      const plain = flags.name === undefined && flags.base === undefined && flags.worktree === undefined &&
        flags.session === undefined
      const settings = eligible && plain ? FastPath.settings(ctx) : undefined
      if (settings === undefined) return svc().start(flags, agentArgs)
      const agent = flags.agent ?? settings.agent
      // `settings` declines unless agents.passThrough is its default: the built-in rules decide.
      if (AgentArgs.classify(AgentArgs.ruleFor(agent), agentArgs)._tag === "Direct") return { _tag: "Direct", agent, note: undefined }
      if (claudeMakesItsWorktree(agentCommand(agent, cwd), agentArgs)) return { _tag: "Direct", agent, note: undefined }
      const r = FastPath.register(ctx, { repo: cwd, pid: process.pid })
      if (r === undefined) return svc().start(flags, agentArgs)
      return {
        _tag: "Registered",
        agent,
        registration: { session: r.registration, reentered: false, env: r.env, swept: [], warnings: [] }
      }
    },
    attach: async (sessionId, pid, agent) =>
      eligible && FastPath.attach(ctx, sessionId, pid, agent) ? undefined : svc().attach(sessionId, pid, agent),
    // The watcher is the service's. It starts once the agent has had WATCH_DELAY_MS to start up, so that
    // loading its bundle and runtime does not compete with the agent's own start (on a loaded machine that
    // doubled the agent's start); its first scan sees whatever the agent changed meanwhile. An agent that is
    // done before then never needed one.
    watch: (sessionId, agent) => {
      let stop: (() => Promise<void>) | undefined
      const timer = setTimeout(() => (stop = svc().watch(sessionId, agent)), WATCH_DELAY_MS)
      return async () => {
        clearTimeout(timer)
        await stop?.()
      }
    },
    release: async (sessionId) => {
      const r = eligible ? FastPath.release(ctx, { sessionId }) : undefined
      // FastPath.Released is Sessions.Released in the cases the fast path handles (same keys; ids not branded).
      return r !== undefined ? { ok: true, value: r as unknown as ReadonlyArray<Sessions.Released> } : svc().release(sessionId)
    },
    dispose: async () => {
      try {
        FastPath.closeStore(store)
      } finally {
        await delegate?.dispose()
      }
    }
  }
}

const start = (options: WrapperOptions, load: Load) =>
  finish(run(options, fastBackend(options, () => load("wrap.cjs").serviceBackend(options))))

/** `claude-parallel …`: the wrapper's flags, then the agent's arguments. */
export const main = (argv: ReadonlyArray<string>, load: Load): void => start({ args: argv.slice(2), name: "claude-parallel" }, load)

/** `parallel-cc [--db FILE] [--verbose] claude [--agent CMD] [flags] [--] [agent args…]` (args after `claude`). */
export const mainSubcommand = (
  args: ReadonlyArray<string>,
  load: Load,
  globals: { readonly dbPath?: string | undefined; readonly verbose?: boolean | undefined } = {}
): void => start(subcommandOptions(args, globals), load)
