/**
 * The MCP server: an `McpServer` from the official SDK whose tools (src/tools/*) run through one
 * `ManagedRuntime` built from core's production layer plus the {@link Caller}.
 *
 * stdout is the protocol, so every log goes to stderr. The store is opened on the first tool call, not at
 * start: a server whose database is locked or broken still starts, lists its tools, and answers each call
 * with a tool error that says what to do — and retries the store on the next call.
 *
 * @since 0.1.0
 */
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js"
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js"
import { AppConfig, Live, LiveSandbox } from "@parallel-cc/core"
import { Cause, Effect, Exit, Layer, Logger, LogLevel, ManagedRuntime, Option } from "effect"
import * as Caller from "./Caller.js"
import * as Tool from "./Tool.js"
import { groups } from "./tools/index.js"

declare const PCC_VERSION: string

/** The version reported to clients. */
export const version = typeof PCC_VERSION === "string" ? PCC_VERSION : "0.0.0-dev"

export interface Options {
  /** The environment of the server process (`PARALLEL_CC_*` configures core; the session id is read). */
  readonly env: Readonly<Record<string, string | undefined>>
  /** The server's working directory: where the calling agent works. */
  readonly cwd: string
  /** Home directory, for the default data directory `~/.parallel-cc`. */
  readonly homeDir: string
  /** Database file (the CLI's `--db`). */
  readonly dbPath?: string | undefined
  readonly verbose?: boolean | undefined
  /** Where log lines go (default: stderr). */
  readonly writeLog?: ((line: string) => void) | undefined
}

const instructions = [
  "parallel-cc coordinates several coding agents working on one git repository, each in its own",
  "session (the repository itself or a git worktree on its own branch).",
  "Use get_my_session / get_parallel_status to see who works where; claim_file before editing a file",
  "others may touch (EXCLUSIVE blocks everyone, SHARED blocks EXCLUSIVE, INTENT only informs) and",
  "release_file when done; notify_when_merged / check_merge_status / get_merge_events to learn when a",
  "branch reached its target.",
  "check_conflicts predicts whether your branch merges into the target; detect_advanced_conflicts classifies",
  "the conflicts (between branches, or of a merge/rebase stopped in your worktree); get_auto_fix_suggestions",
  "proposes whole resolved files with a diff and a confidence, and apply_auto_fix writes one;",
  "rebase_assist checks or performs a rebase onto the target.",
  "When your work is committed and ready, request_land queues your branch for the test-gated landing queue",
  "(`parallel-cc land` integrates, tests and lands it, or sends it back); get_land_status says which, and why."
].join(" ")

/** Every tool of this server, in listing order. */
export const tools: ReadonlyArray<Tool.AnyTool> = groups.flat()

/** The layer tool calls run with. */
export const layer = (options: Options): Layer.Layer<Tool.Services, unknown> => {
  const provider = AppConfig.envProvider(options.env, { homeDir: options.homeDir, flags: { dbPath: options.dbPath } })
  const write = options.writeLog ?? ((line: string) => void process.stderr.write(line.endsWith("\n") ? line : `${line}\n`))
  const logger = Logger.replace(
    Logger.defaultLogger,
    Logger.map(Logger.logfmtLogger, (line) => write(`parallel-cc-mcp ${line}`))
  )
  const verbose = options.verbose === true || options.env["PARALLEL_CC_DEBUG"] === "1"
  return Caller.layer({ cwd: options.cwd, env: options.env, homeDir: options.homeDir }).pipe(
    Layer.provideMerge(LiveSandbox.services),
    Layer.provideMerge(Live.layer),
    Layer.provide(Layer.setConfigProvider(provider)),
    Layer.provide(Layer.mergeAll(logger, Logger.minimumLogLevel(verbose ? LogLevel.Debug : LogLevel.Warning)))
  )
}

export interface Handle {
  readonly server: McpServer
  /** Resolves once the server is closed (the client went away, or {@link Handle.close}). */
  readonly closed: Promise<void>
  readonly close: () => Promise<void>
}

/**
 * The tool runner over a runtime that is rebuilt after a failed build, so that a store that was locked
 * or missing at one call is tried again at the next.
 */
const makeRunner = (build: () => ManagedRuntime.ManagedRuntime<Tool.Services, unknown>) => {
  let current = build()
  const run: Tool.Runner = async (effect, signal) => {
    const rt = current
    const ready = await Effect.runPromiseExit(rt.runtimeEffect)
    if (Exit.isFailure(ready)) {
      if (current === rt) current = build()
      void rt.dispose().catch(() => undefined)
      const wire = Cause.failureOption(ready.cause).pipe(Option.flatMap(Tool.toWire))
      return Tool.errorResult(Option.getOrElse(wire, () => Tool.internalError))
    }
    const exit = await rt.runPromiseExit(effect, signal !== undefined ? { signal } : undefined)
    return Exit.isSuccess(exit)
      ? exit.value
      : Tool.errorResult({ _tag: "Interrupted", message: "the call was cancelled" }) satisfies CallToolResult
  }
  return { run, dispose: () => current.dispose() }
}

/** Build the server with every tool registered; connect it to a transport to serve. */
export const make = (options: Options): { readonly server: McpServer; readonly dispose: () => Promise<void> } => {
  const runner = makeRunner(() => ManagedRuntime.make(layer(options)))
  const server = new McpServer(
    { name: "parallel-cc", title: "parallel-cc", version },
    { capabilities: { tools: {} }, instructions }
  )
  for (const tool of tools) Tool.register(server, runner.run)(tool)
  return { server, dispose: runner.dispose }
}
