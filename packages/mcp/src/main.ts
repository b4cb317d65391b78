/**
 * Entry of the MCP server on stdio (bundled as `packages/cli/dist/mcp.cjs`, started by
 * `parallel-cc mcp serve`; the MCP SDK and zod load only here).
 *
 * @since 0.1.0
 */
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js"
import * as os from "node:os"
import * as Server from "./Server.js"

export interface ServeOptions extends Omit<Server.Options, "homeDir"> {
  readonly homeDir?: string | undefined
}

export interface Handle {
  /** Resolves once the server stopped: the client closed stdin, or {@link Handle.close} was called. */
  readonly closed: Promise<void>
  readonly close: () => Promise<void>
}

/**
 * Serve MCP on this process's stdin/stdout until the client goes away. stdout belongs to the protocol
 * from here on: `console.log` is redirected to stderr so that no stray print can corrupt it.
 */
export const serve = async (options: ServeOptions): Promise<Handle> => {
  console.log = console.error
  console.info = console.error
  console.debug = console.error
  const { dispose, server } = Server.make({ ...options, homeDir: options.homeDir ?? os.homedir() })
  let resolveClosed!: () => void
  const closed = new Promise<void>((resolve) => (resolveClosed = resolve))
  let closing: Promise<void> | undefined
  const close = () => {
    closing ??= (async () => {
      process.stdin.off("end", onEnd)
      process.stdin.off("close", onEnd)
      await server.close().catch(() => undefined)
      await dispose().catch(() => undefined)
      resolveClosed()
    })()
    return closing
  }
  const onEnd = () => void close()
  // The SDK's stdio transport does not notice the end of stdin; a client that goes away must stop us.
  process.stdin.once("end", onEnd)
  process.stdin.once("close", onEnd)
  server.server.onclose = () => void close()
  await server.connect(new StdioServerTransport(process.stdin, process.stdout))
  return { closed, close }
}

/** Standalone start (`node dist/mcp.cjs [--db FILE] [--verbose]`): serve, then exit when done. */
export const main = (argv: ReadonlyArray<string>): void => {
  const args = argv.slice(2)
  let dbPath: string | undefined
  let verbose = false
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!
    if (a === "--verbose") verbose = true
    else if (a === "--db" && args[i + 1] !== undefined) dbPath = args[++i]
    else if (a.startsWith("--db=")) dbPath = a.slice(5)
    else {
      process.stderr.write(`parallel-cc mcp: unknown argument ${JSON.stringify(a)} (accepted: --db FILE, --verbose)\n`)
      process.exit(2)
    }
  }
  serve({ env: process.env, cwd: process.cwd(), dbPath, verbose }).then(
    (handle) => {
      const stop = () => void handle.close()
      process.once("SIGINT", stop)
      process.once("SIGTERM", stop)
      return handle.closed.then(() => process.exit(0))
    },
    (e: unknown) => {
      process.stderr.write(`parallel-cc mcp: cannot start: ${e instanceof Error ? e.message : String(e)}\n`)
      process.exit(1)
    }
  )
}

declare const require: { readonly main?: unknown } | undefined
declare const module: unknown
// `node dist/mcp.cjs` starts the server; required by the CLI, this module only exports.
if (typeof require !== "undefined" && typeof module !== "undefined" && require.main === module) main(process.argv)
