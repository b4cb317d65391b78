/**
 * How a tool is defined and served. A tool is a name, zod input and output shapes (the SDK validates both
 * and publishes them as JSON Schema), and an Effect handler over core's services. The shell around it is
 * the same for every tool:
 *
 * - the handler's result becomes `structuredContent` plus a text copy (for clients without structured
 *   output);
 * - a typed failure (anything with `_tag` and `message`, i.e. core's errors) becomes a tool error
 *   (`isError: true`) whose text is the error's message and whose `_meta["parallel-cc/error"]` carries the
 *   encoded error `{ _tag, reason?, message }` — never a cause or a stack;
 * - a defect becomes a tool error "internal error", with the full cause logged to stderr;
 * - the request's abort signal interrupts the handler.
 *
 * Conventions for all tools: snake_case tool names (as the original tool), camelCase argument and result
 * fields (as the CLI's `--json`), times as ISO-8601 strings, paths as given by git (relative, `/`).
 *
 * @since 0.1.0
 */
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js"
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js"
import type { Live, LiveSandbox } from "@parallel-cc/core"
import { Cause, Effect, Exit, Option } from "effect"
import { z } from "zod"
import type { Caller } from "./Caller.js"

/** What a tool handler may use: every core service (sandboxed runs included) and the caller. */
export type Services = Live.Services | LiveSandbox.Services | Caller

/** The wire form of a failure, as in the CLI's JSON errors. */
export interface WireError {
  readonly _tag: string
  readonly reason?: string
  readonly message: string
}

export interface ToolSpec<I extends z.ZodRawShape, O extends z.ZodRawShape> {
  readonly name: string
  readonly title: string
  readonly description: string
  readonly input: I
  readonly output: O
  /** The tool only reads state (MCP `readOnlyHint`). */
  readonly readOnly?: boolean
  /** Calling it again with the same arguments has no further effect (MCP `idempotentHint`). */
  readonly idempotent?: boolean
  readonly handler: (input: z.output<z.ZodObject<I>>) => Effect.Effect<z.input<z.ZodObject<O>>, unknown, Services>
  /** One human line put before the JSON in the text content. */
  readonly summarize?: (output: z.input<z.ZodObject<O>>) => string
}

/** A tool with its types erased, as kept in a group. */
export interface AnyTool {
  readonly name: string
  readonly title: string
  readonly description: string
  readonly input: z.ZodRawShape
  readonly output: z.ZodRawShape
  readonly readOnly?: boolean
  readonly idempotent?: boolean
  readonly handler: (input: any) => Effect.Effect<unknown, unknown, Services>
  readonly summarize?: (output: any) => string
}

/** Define a tool (an identity function that keeps the handler typed against its shapes). */
export const define = <I extends z.ZodRawShape, O extends z.ZodRawShape>(spec: ToolSpec<I, O>): AnyTool =>
  spec as unknown as AnyTool

/**
 * Runs a tool call through the server's runtime; resolves with the result of `effect`, or with a tool
 * error when the runtime cannot be built (e.g. the store is locked) or the call is aborted.
 */
export type Runner = (
  effect: Effect.Effect<CallToolResult, never, Services>,
  signal: AbortSignal | undefined
) => Promise<CallToolResult>

/** The encoded form of a typed failure, or None for anything that is not one. */
export const toWire = (e: unknown): Option.Option<WireError> => {
  if (e === null || typeof e !== "object") return Option.none()
  const tag = (e as { _tag?: unknown })._tag
  const message = (e as { message?: unknown }).message
  if (typeof tag !== "string" || typeof message !== "string") return Option.none()
  const reason = (e as { reason?: unknown }).reason
  return Option.some(typeof reason === "string" ? { _tag: tag, reason, message } : { _tag: tag, message })
}

/** A tool error result. */
export const errorResult = (error: WireError): CallToolResult => ({
  isError: true,
  content: [{ type: "text", text: `${error._tag}${error.reason !== undefined ? ` (${error.reason})` : ""}: ${error.message}` }],
  _meta: { "parallel-cc/error": { ...error } }
})

export const internalError: WireError = {
  _tag: "InternalError",
  message: "internal error in the parallel-cc MCP server; the details are in its log (stderr)"
}

/** Turn a handler's exit into a CallToolResult. Never throws. */
export const toResult = (tool: AnyTool, exit: Exit.Exit<unknown, unknown>): Effect.Effect<CallToolResult> =>
  Exit.match(exit, {
    onSuccess: (value) =>
      Effect.sync((): CallToolResult => {
        const json = JSON.stringify(value, null, 2)
        const summary = tool.summarize?.(value)
        return {
          content: [{ type: "text", text: summary !== undefined ? `${summary}\n\n${json}` : json }],
          structuredContent: value as Record<string, unknown>
        }
      }),
    onFailure: (cause) => {
      if (Cause.isInterruptedOnly(cause)) {
        return Effect.succeed(errorResult({ _tag: "Interrupted", message: "the call was cancelled" }))
      }
      const wire = Cause.failureOption(cause).pipe(Option.flatMap(toWire))
      if (Option.isSome(wire)) return Effect.succeed(errorResult(wire.value))
      return Effect.logError(`tool ${tool.name} failed`, cause).pipe(Effect.as(errorResult(internalError)))
    }
  })

/** The whole call: run the handler on `args`, then shape its exit as a result. */
export const call = (tool: AnyTool, args: unknown): Effect.Effect<CallToolResult, never, Services> =>
  Effect.suspend(() => tool.handler(args)).pipe(
    Effect.exit,
    Effect.flatMap((exit) => toResult(tool, exit))
  )

/** Register `tool` on `server`, running its calls with `run`. */
export const register = (server: McpServer, run: Runner) => (tool: AnyTool) =>
  server.registerTool(
    tool.name,
    {
      title: tool.title,
      description: tool.description,
      // Strict: a misspelt argument is an error, not silently ignored.
      inputSchema: z.strictObject(tool.input),
      outputSchema: tool.output,
      annotations: {
        title: tool.title,
        readOnlyHint: tool.readOnly === true,
        ...(tool.idempotent !== undefined ? { idempotentHint: tool.idempotent } : {}),
        destructiveHint: false,
        openWorldHint: false
      }
    },
    (args: unknown, extra: { readonly signal?: AbortSignal }) => run(call(tool, args), extra.signal)
  )
