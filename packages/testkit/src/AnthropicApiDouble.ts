/**
 * A test double of the Anthropic Messages API, for running the real Claude Code CLI offline.
 *
 * A loopback HTTP server (node:http, port 0) that answers `POST /v1/messages` the way the API does —
 * server-sent events (message_start, content_block_start/delta/stop for text and tool_use with
 * input_json_delta, message_delta with usage, message_stop) when the request asks for a stream, one JSON
 * message otherwise — and `POST /v1/messages/count_tokens`. Point Claude Code at it with
 * `ANTHROPIC_BASE_URL` (see `env()`).
 *
 * What the "model" answers comes from a script: a list of replies, one per assistant turn. The turn of a
 * request is the number of assistant messages already in its history, so a script needs no state and
 * concurrent agents never disturb each other. Several scripts can be registered by name; a request picks
 * one with the marker `[[api-double:<name>]]` in its first user message (put it in the prompt), else it
 * plays the default script. Every request is recorded, so tests can assert what the agent sent (tool
 * results above all).
 */
import { Effect } from "effect"
import { randomBytes } from "node:crypto"
import * as http from "node:http"
import type { AddressInfo } from "node:net"

/** One content block of an assistant message. */
export type Block =
  | { readonly type: "text"; readonly text: string }
  | { readonly type: "tool_use"; readonly name: string; readonly input: Readonly<Record<string, unknown>>; readonly id?: string }

/**
 * The usage a reply reports. `cache_creation_1h_input_tokens` is the part of `cache_creation_input_tokens`
 * written with the 1-hour lifetime (the rest is 5-minute); the API reports the split as
 * `cache_creation.{ephemeral_5m_input_tokens, ephemeral_1h_input_tokens}`.
 */
export interface Usage {
  readonly input_tokens: number
  readonly output_tokens: number
  readonly cache_creation_input_tokens: number
  readonly cache_read_input_tokens: number
  readonly cache_creation_1h_input_tokens?: number
  readonly web_search_requests?: number
}

/** What the API answers to one main-loop request. */
export type Reply =
  | {
    readonly kind: "message"
    readonly content: ReadonlyArray<Block>
    readonly stopReason?: "end_turn" | "tool_use" | "max_tokens" | "stop_sequence"
    readonly usage?: Partial<Usage>
    /** Wait this long before answering (the whole response is delayed). */
    readonly delayMs?: number
  }
  | {
    readonly kind: "error"
    readonly status: number
    readonly errorType?: string
    readonly message?: string
    /** Seconds for the `retry-after` header (429/529); the default is 0 so that retries are quick. */
    readonly retryAfter?: number
    /** Answer with the error only this many times for a session's turn, then fall through to `then`. */
    readonly times?: number
    readonly then?: Reply
  }
  | { readonly kind: "hang" }
  | {
    readonly kind: "dynamic"
    /** Decide the reply when the request arrives (run checks between turns, answer from what was sent). */
    readonly reply: (request: RecordedRequest) => Reply | Promise<Reply>
  }

export type Script = ReadonlyArray<Reply>

/** The name Claude Code gives the tool `tool` of the MCP server `server`. */
export const mcpToolName = (tool: string, server = "parallel-cc"): string => `mcp__${server}__${tool}`

/** Builders for replies. */
export const Reply = {
  /** A final answer: one text block, `end_turn`. */
  text: (text: string, options: { usage?: Partial<Usage>; delayMs?: number } = {}): Reply => ({
    kind: "message",
    content: [{ type: "text", text }],
    stopReason: "end_turn",
    ...options
  }),
  /** An assistant turn made of the given blocks (`tool_use` stop reason when a tool is used). */
  turn: (content: ReadonlyArray<Block>, options: { usage?: Partial<Usage>; delayMs?: number } = {}): Reply => ({
    kind: "message",
    content,
    stopReason: content.some((b) => b.type === "tool_use") ? "tool_use" : "end_turn",
    ...options
  }),
  /** A turn that calls one tool (after an optional sentence). */
  tool: (name: string, input: Readonly<Record<string, unknown>>, say?: string): Reply =>
    Reply.turn([...(say === undefined ? [] : [{ type: "text" as const, text: say }]), { type: "tool_use", name, input }]),
  write: (filePath: string, content: string): Reply => Reply.tool("Write", { file_path: filePath, content }),
  edit: (filePath: string, oldString: string, newString: string): Reply =>
    Reply.tool("Edit", { file_path: filePath, old_string: oldString, new_string: newString }),
  read: (filePath: string): Reply => Reply.tool("Read", { file_path: filePath }),
  bash: (command: string, description = "run a command"): Reply => Reply.tool("Bash", { command, description }),
  /** A call of one of our MCP tools, named as Claude Code names it (`mcp__parallel-cc__<tool>`). */
  mcp: (tool: string, input: Readonly<Record<string, unknown>>, server = "parallel-cc"): Reply =>
    Reply.tool(mcpToolName(tool, server), input),
  /** An API error (401 authentication, 429 rate limit, 529 overloaded, …) with the API's error body. */
  error: (status: number, options: Omit<Extract<Reply, { kind: "error" }>, "kind" | "status"> = {}): Reply => ({
    kind: "error",
    status,
    ...options
  }),
  /** Accept the request and never answer (to kill an agent mid-turn). */
  hang: (): Reply => ({ kind: "hang" }),
  /**
   * Decide when the request arrives: `f` sees the recorded request (with the tool results the agent sent)
   * and returns the reply. A throw becomes a 500 and is kept in `failures`.
   */
  dynamic: (f: (request: RecordedRequest) => Reply | Promise<Reply>): Reply => ({ kind: "dynamic", reply: f })
}

const errorTypes: Record<number, string> = {
  400: "invalid_request_error",
  401: "authentication_error",
  403: "permission_error",
  404: "not_found_error",
  413: "request_too_large",
  429: "rate_limit_error",
  500: "api_error",
  529: "overloaded_error"
}
const errorMessages: Record<number, string> = {
  401: "invalid x-api-key",
  429: "Number of request tokens has exceeded your per-minute rate limit",
  529: "Overloaded"
}

/** One request the double received. */
export interface RecordedRequest {
  readonly at: number
  readonly method: string
  /** Path without the query string. */
  readonly path: string
  readonly url: string
  readonly headers: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>
  /** Parsed JSON body, or the raw text when it is not JSON (undefined when empty). */
  readonly body: any
  /** `messages`: a main-loop turn; `side`: a messages call without tools (titles, checks); the rest by path. */
  readonly kind: "messages" | "side" | "count_tokens" | "other"
  readonly script?: string
  readonly turn?: number
  readonly status: number
  /** Claude Code's session id (header `x-claude-code-session-id`), when sent. */
  readonly sessionId?: string
}

export interface ToolResult {
  readonly tool_use_id: string
  readonly content: unknown
  readonly is_error?: boolean
  /** The text of the result (text blocks joined). */
  readonly text: string
}

export interface Options {
  /** The script for requests without a `[[api-double:<name>]]` marker. */
  readonly script?: Script
  /** Named scripts, chosen by the marker. */
  readonly scripts?: Readonly<Record<string, Script>>
  /** When set, requests whose x-api-key / bearer token differs get 401 (as the API does). */
  readonly apiKey?: string
  /** Usage reported for every message unless the reply sets its own. */
  readonly usage?: Partial<Usage>
}

const defaultUsage: Usage = { input_tokens: 1200, output_tokens: 60, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 }

/**
 * Usage as the API puts it on the wire: the cache write split by lifetime (`cache_creation`), server tool
 * requests (`server_tool_use`) and `service_tier` in a message (and `message_start`); a `message_delta`
 * carries the cumulative counts without `cache_creation` and `service_tier`.
 */
const wireUsage = (u: Usage, part: "message" | "delta", outputTokens = u.output_tokens) => {
  const oneHour = u.cache_creation_1h_input_tokens ?? 0
  const counts = {
    input_tokens: u.input_tokens,
    cache_creation_input_tokens: u.cache_creation_input_tokens,
    cache_read_input_tokens: u.cache_read_input_tokens,
    output_tokens: outputTokens,
    server_tool_use: { web_search_requests: u.web_search_requests ?? 0, web_fetch_requests: 0 }
  }
  if (part === "delta") return counts
  return {
    ...counts,
    cache_creation: { ephemeral_5m_input_tokens: u.cache_creation_input_tokens - oneHour, ephemeral_1h_input_tokens: oneHour },
    service_tier: "standard"
  }
}

const markerRe = /\[\[api-double:([A-Za-z0-9_.-]+)\]\]/

const id = (prefix: string) => `${prefix}_${randomBytes(12).toString("hex")}`

const textOf = (content: unknown): string => {
  if (typeof content === "string") return content
  if (Array.isArray(content)) {
    return content.map((b) => (b && typeof b === "object" && (b as any).type === "text" ? String((b as any).text) : "")).join("")
  }
  return ""
}

/** The tool results a request carries (in its last user message). */
export const toolResultsOf = (request: RecordedRequest): Array<ToolResult> => {
  const messages: Array<any> = request.body?.messages ?? []
  // The last user message: Claude Code may append a `system` message after it (e.g. "MCP servers are still
  // connecting" when a server is slow to start).
  const last = messages.findLast((m: any) => m?.role === "user")
  if (!last || !Array.isArray(last.content)) return []
  return last.content
    .filter((b: any) => b?.type === "tool_result")
    .map((b: any) => ({ tool_use_id: b.tool_use_id, content: b.content, is_error: b.is_error, text: textOf(b.content) }))
}

/**
 * The directory Claude Code says it works in: the "Primary working directory: …" line of the environment
 * section it sends with every main-loop request (Claude Code 2.1). Lets a script write absolute paths in an
 * agent's directory that the test does not know in advance (a sandbox's copy, a session's worktree).
 */
export const workingDirectoryOf = (request: RecordedRequest): string => {
  const m = /Primary working directory: ([^\n"\\]+)/.exec(JSON.stringify(request.body ?? ""))
  if (!m?.[1]) throw new Error("AnthropicApiDouble: the request names no primary working directory")
  return m[1]
}

const firstUserText = (body: any): string => {
  const first = (body?.messages ?? []).find((m: any) => m?.role === "user")
  return first ? textOf(first.content) : ""
}

export class AnthropicApiDouble {
  /** Every request received, in order. */
  readonly requests: Array<RecordedRequest> = []
  /** Errors thrown by dynamic replies (a test should assert this is empty). */
  readonly failures: Array<unknown> = []
  private readonly scripts = new Map<string, Script>()
  private readonly attempts = new Map<string, number>()
  private readonly sockets = new Set<import("node:net").Socket>()
  private readonly waiters = new Set<() => void>()
  private server: http.Server | undefined
  private port = 0

  private constructor(private readonly options: Options) {
    this.scripts.set("default", options.script ?? [Reply.text("Done.")])
    for (const [name, script] of Object.entries(options.scripts ?? {})) this.scripts.set(name, script)
  }

  /** Start a double on a free loopback port. */
  static async start(options: Options = {}): Promise<AnthropicApiDouble> {
    const double = new AnthropicApiDouble(options)
    await double.listen()
    return double
  }

  /** A double for the current scope (closed when the scope closes). */
  static make(options: Options = {}) {
    return Effect.acquireRelease(
      Effect.promise(() => AnthropicApiDouble.start(options)),
      (double) => Effect.promise(() => double.close())
    )
  }

  /** `http://127.0.0.1:<port>`, the value for ANTHROPIC_BASE_URL. */
  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`
  }

  /** The API key the double expects (or a dummy one). */
  get apiKey(): string {
    return this.options.apiKey ?? "sk-ant-api03-test-double"
  }

  /**
   * Environment for Claude Code: the API at this double, an API key, and no traffic to anything else
   * (telemetry, error reporting, update checks and the start-up connectivity probe are off).
   */
  env(): Record<string, string> {
    return {
      ANTHROPIC_BASE_URL: this.baseUrl,
      ANTHROPIC_API_KEY: this.apiKey,
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
      DISABLE_TELEMETRY: "1",
      DISABLE_ERROR_REPORTING: "1",
      DISABLE_AUTOUPDATER: "1"
    }
  }

  /** Register (or replace) a named script. */
  script(name: string, script: Script): this {
    this.scripts.set(name, script)
    return this
  }

  /** The prompt marker that selects script `name`. */
  static marker(name: string): string {
    return `[[api-double:${name}]]`
  }

  /** Main-loop requests of one script (or all). */
  turns(script?: string): Array<RecordedRequest> {
    return this.requests.filter((r) => r.kind === "messages" && (script === undefined || r.script === script))
  }

  /** Tool results sent back by the agent, over all requests of a script (or all). */
  toolResults(script?: string): Array<ToolResult> {
    const seen = new Set<string>()
    const out: Array<ToolResult> = []
    for (const r of this.turns(script)) {
      for (const t of toolResultsOf(r)) {
        if (!seen.has(t.tool_use_id)) {
          seen.add(t.tool_use_id)
          out.push(t)
        }
      }
    }
    return out
  }

  /** Requests to anything but the Messages API (what the agent probed besides the model). */
  others(): Array<RecordedRequest> {
    return this.requests.filter((r) => r.kind === "other")
  }

  /** Resolve once a recorded request satisfies `predicate` (rejects after `timeoutMs`). */
  waitFor(predicate: (r: RecordedRequest) => boolean, timeoutMs = 60_000): Promise<RecordedRequest> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const hit = this.requests.find(predicate)
        if (hit) {
          this.waiters.delete(check)
          clearTimeout(timer)
          resolve(hit)
          return true
        }
        return false
      }
      const timer = setTimeout(() => {
        this.waiters.delete(check)
        reject(new Error(`AnthropicApiDouble: no matching request within ${timeoutMs} ms (${this.requests.length} received)`))
      }, timeoutMs)
      if (!check()) this.waiters.add(check)
    })
  }

  /** Stop listening and drop open connections (hanging replies included). */
  close(): Promise<void> {
    const server = this.server
    this.server = undefined
    if (!server) return Promise.resolve()
    for (const s of this.sockets) s.destroy()
    return new Promise((resolve) => server.close(() => resolve()))
  }

  private listen(): Promise<void> {
    const server = http.createServer((req, res) => this.handle(req, res))
    server.on("connection", (socket) => {
      this.sockets.add(socket)
      socket.on("close", () => this.sockets.delete(socket))
    })
    this.server = server
    return new Promise((resolve, reject) => {
      server.once("error", reject)
      server.listen(0, "127.0.0.1", () => {
        this.port = (server.address() as AddressInfo).port
        resolve()
      })
    })
  }

  private record(r: RecordedRequest) {
    this.requests.push(r)
    for (const w of [...this.waiters]) w()
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse) {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      const raw = Buffer.concat(chunks).toString("utf8")
      let body: any = undefined
      if (raw !== "") {
        try {
          body = JSON.parse(raw)
        } catch {
          body = raw
        }
      }
      const url = req.url ?? "/"
      const path = url.split("?")[0] ?? "/"
      const base = {
        at: Date.now(),
        method: req.method ?? "GET",
        path,
        url,
        headers: { ...req.headers, "x-api-key": req.headers["x-api-key"] ? "<redacted>" : undefined, authorization: undefined },
        body,
        ...(typeof req.headers["x-claude-code-session-id"] === "string"
          ? { sessionId: req.headers["x-claude-code-session-id"] }
          : {})
      }
      if (req.method === "POST" && (path === "/v1/messages" || path === "/v1/messages/count_tokens")) {
        const key = req.headers["x-api-key"] ?? String(req.headers.authorization ?? "").replace(/^Bearer /, "")
        if (this.options.apiKey !== undefined && key !== this.options.apiKey) {
          const kind = path === "/v1/messages" ? "messages" : "count_tokens"
          this.record({ ...base, kind, status: 401 })
          return sendError(res, 401)
        }
      }
      if (req.method === "POST" && path === "/v1/messages/count_tokens") {
        this.record({ ...base, kind: "count_tokens", status: 200 })
        return sendJson(res, 200, { input_tokens: Math.max(1, Math.ceil(raw.length / 4)) })
      }
      if (req.method === "POST" && path === "/v1/messages") return this.messages(base, body, res)
      // The start-up connectivity probe (HEAD /api/hello, only when nonessential traffic is allowed).
      if (path === "/api/hello") {
        this.record({ ...base, kind: "other", status: 200 })
        res.writeHead(200, { "content-type": "text/plain" })
        return res.end(req.method === "HEAD" ? undefined : "ok")
      }
      this.record({ ...base, kind: "other", status: 404 })
      sendError(res, 404, "not_found_error", `The API double does not serve ${req.method} ${path}`)
    })
  }

  private messages(base: Omit<RecordedRequest, "kind" | "status">, body: any, res: http.ServerResponse) {
    const model = typeof body?.model === "string" ? body.model : "claude-test"
    const stream = body?.stream === true
    const hasTools = Array.isArray(body?.tools) && body.tools.length > 0
    if (!hasTools) {
      // Side calls (titles, summaries, quota checks) get a short plain answer and never consume the script.
      this.record({ ...base, kind: "side", status: 200 })
      return sendMessage(res, stream, model, { kind: "message", content: [{ type: "text", text: "ok" }], stopReason: "end_turn" }, this.usage())
    }
    const name = markerRe.exec(firstUserText(body))?.[1] ?? "default"
    const script = this.scripts.get(name)
    const turn = (body?.messages ?? []).filter((m: any) => m?.role === "assistant").length
    if (!script) {
      this.record({ ...base, kind: "messages", script: name, turn, status: 400 })
      return sendError(res, 400, "invalid_request_error", `The API double has no script named ${name}`)
    }
    this.play({ ...base, script: name, turn }, script[turn] ?? Reply.text("Done."), model, stream, res)
  }

  private play(
    base: Omit<RecordedRequest, "kind" | "status">,
    first: Reply,
    model: string,
    stream: boolean,
    res: http.ServerResponse
  ): void {
    let reply = first
    const attemptKey = `${base.sessionId ?? ""}/${base.script}/${base.turn}`
    while (reply.kind === "error" && reply.times !== undefined) {
      const n = (this.attempts.get(attemptKey) ?? 0) + 1
      this.attempts.set(attemptKey, n)
      if (n <= reply.times) break
      reply = reply.then ?? Reply.text("Done.")
    }
    switch (reply.kind) {
      case "dynamic": {
        const decide = reply.reply
        Promise.resolve()
          .then(() => decide({ ...base, kind: "messages", status: 0 }))
          .then(
            (next) => this.play(base, next, model, stream, res),
            (e) => {
              this.failures.push(e)
              this.record({ ...base, kind: "messages", status: 500 })
              sendError(res, 500, "api_error", `dynamic reply failed: ${e instanceof Error ? e.message : String(e)}`)
            }
          )
        return
      }
      case "hang":
        return this.record({ ...base, kind: "messages", status: 0 })
      case "error":
        this.record({ ...base, kind: "messages", status: reply.status })
        return sendError(res, reply.status, reply.errorType, reply.message, reply.retryAfter)
      case "message": {
        this.record({ ...base, kind: "messages", status: 200 })
        const usage = this.usage(reply.usage)
        const message = reply
        const send = () => sendMessage(res, stream, model, message, usage)
        if (reply.delayMs) setTimeout(send, reply.delayMs)
        else send()
      }
    }
  }

  private usage(override?: Partial<Usage>): Usage {
    return { ...defaultUsage, ...this.options.usage, ...override }
  }
}

const sendJson = (res: http.ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}) => {
  const text = JSON.stringify(value)
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": String(Buffer.byteLength(text)),
    "request-id": id("req"),
    ...headers
  })
  res.end(text)
}

const sendError = (res: http.ServerResponse, status: number, type?: string, message?: string, retryAfter?: number) => {
  const headers: Record<string, string> = {}
  if (status === 429 || status === 529) {
    headers["retry-after"] = String(retryAfter ?? 0)
    headers["retry-after-ms"] = String((retryAfter ?? 0) * 1000)
  }
  if (status === 401) headers["x-should-retry"] = "false"
  sendJson(
    res,
    status,
    {
      type: "error",
      error: { type: type ?? errorTypes[status] ?? "api_error", message: message ?? errorMessages[status] ?? "API error" },
      request_id: id("req")
    },
    headers
  )
}

const blockId = (b: Extract<Block, { type: "tool_use" }>, i: number, messageId: string) =>
  b.id ?? `toolu_${messageId.slice(4, 20)}${String(i).padStart(2, "0")}`

const sendMessage = (
  res: http.ServerResponse,
  stream: boolean,
  model: string,
  reply: Extract<Reply, { kind: "message" }>,
  usage: Usage
) => {
  const messageId = id("msg")
  const content = reply.content.map((b, i) =>
    b.type === "text" ? { type: "text", text: b.text } : { type: "tool_use", id: blockId(b, i, messageId), name: b.name, input: b.input }
  )
  const stopReason = reply.stopReason ?? (content.some((b) => b.type === "tool_use") ? "tool_use" : "end_turn")
  if (!stream) {
    return sendJson(res, 200, {
      id: messageId,
      type: "message",
      role: "assistant",
      model,
      content,
      stop_reason: stopReason,
      stop_sequence: null,
      usage: wireUsage(usage, "message")
    })
  }
  res.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    connection: "keep-alive",
    "request-id": id("req")
  })
  const event = (type: string, data: Record<string, unknown>) =>
    res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`)
  event("message_start", {
    message: {
      id: messageId,
      type: "message",
      role: "assistant",
      model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: wireUsage(usage, "message", 1)
    }
  })
  content.forEach((block, index) => {
    if (block.type === "text") {
      event("content_block_start", { index, content_block: { type: "text", text: "" } })
      if (index === 0) event("ping", {})
      for (const piece of chunk(String(block.text), 40)) {
        event("content_block_delta", { index, delta: { type: "text_delta", text: piece } })
      }
    } else {
      event("content_block_start", { index, content_block: { type: "tool_use", id: block.id, name: block.name, input: {} } })
      event("content_block_delta", { index, delta: { type: "input_json_delta", partial_json: "" } })
      for (const piece of chunk(JSON.stringify(block.input), 64)) {
        event("content_block_delta", { index, delta: { type: "input_json_delta", partial_json: piece } })
      }
    }
    event("content_block_stop", { index })
  })
  event("message_delta", { delta: { stop_reason: stopReason, stop_sequence: null }, usage: wireUsage(usage, "delta") })
  event("message_stop", {})
  res.end()
}

const chunk = (s: string, size: number): Array<string> => {
  if (s === "") return [""]
  const out: Array<string> = []
  for (let i = 0; i < s.length; i += size) out.push(s.slice(i, i + size))
  return out
}
