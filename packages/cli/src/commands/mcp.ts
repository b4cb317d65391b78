/**
 * `parallel-cc mcp serve`: the MCP server on stdio. The server is its own bundle (dist/mcp.cjs), loaded
 * only here, so that no other command pays for the MCP SDK and zod.
 */
import { Effect } from "effect"
import * as path from "node:path"
import { Layers } from "../internal/Env.js"

interface McpHandle {
  readonly closed: Promise<void>
  readonly close: () => Promise<void>
}

interface McpModule {
  readonly serve: (options: {
    readonly env: Readonly<Record<string, string | undefined>>
    readonly cwd: string
    readonly homeDir: string
    readonly dbPath: string | undefined
    readonly verbose: boolean
  }) => Promise<McpHandle>
}

declare const __dirname: string
declare const require: (id: string) => unknown

// The bundle lives next to this one; a computed path keeps esbuild from inlining it.
const loadServer = (): McpModule => require(path.join(__dirname, "mcp.cjs")) as McpModule

/** Serve until the client closes stdin (or the command is interrupted). */
export const serve = Effect.flatMap(Layers, (layers) =>
  Effect.acquireUseRelease(
    Effect.tryPromise({
      try: () =>
        loadServer().serve({
          env: layers.env,
          cwd: layers.cwd,
          homeDir: layers.homeDir,
          dbPath: layers.dbPath,
          verbose: layers.verbose
        }),
      catch: (e) => new Error(`cannot start the MCP server: ${e instanceof Error ? e.message : String(e)}`)
    }),
    (handle) => Effect.promise(() => handle.closed),
    (handle) => Effect.promise(() => handle.close())
  ))
