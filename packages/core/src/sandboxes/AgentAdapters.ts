/**
 * Agent adapters for sandboxed runs: how to start each agent headless (arguments, environment, prompt on
 * stdin — never on the command line), and how to read what it prints. Claude Code's stream-json, Codex's
 * `exec --json` events and Gemini's stream-json are decoded with Schema, line by line, tolerating event
 * types we do not know; each becomes human log lines, and the final event gives the run's outcome.
 *
 * A custom agent (any other `--agent` value: the path or name of an executable) gets the prompt on stdin,
 * runs in the work tree copy, and succeeds by exiting 0. If it prints Claude-style stream-json lines they
 * are decoded too, so it can report turns and cost.
 *
 * @since 0.1.0
 */
import { Effect, Either, Schema } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as NodeFs from "../platform/nodeFs.js"

export const AgentKind = Schema.Literal("claude", "codex", "gemini", "custom")
export type AgentKind = typeof AgentKind.Type

export const AuthMethod = Schema.Literal("api-key", "oauth")
export type AuthMethod = typeof AuthMethod.Type

/** An agent chosen by `--agent`: its kind, the value given, and where its executable is on this machine. */
export interface Agent {
  readonly kind: AgentKind
  /** The value the user gave (`claude`, `./bin/my-agent`, …). */
  readonly setting: string
  /** The command name used inside a sandbox that has its own image (e2b): `claude`, `codex`, `gemini`. */
  readonly command: string
  /** Absolute, resolved path of the executable on this machine, when it exists here. */
  readonly hostPath: string | undefined
}

const builtins: ReadonlyArray<AgentKind> = ["claude", "codex", "gemini"]

const isExecutableFile = (p: string): boolean => {
  try {
    const st = fs.statSync(p)
    if (!st.isFile()) return false
    fs.accessSync(p, fs.constants.X_OK)
    return true
  } catch {
    return false
  }
}

/**
 * Look `name` up on a PATH string; returns the realpath of the first executable found. It blocks while it
 * looks: a run's pipeline uses {@link locate}.
 */
export const which = (name: string, pathEnv: string | undefined): string | undefined => {
  for (const dir of (pathEnv ?? "").split(":")) {
    if (dir === "") continue
    const candidate = path.join(dir, name)
    if (isExecutableFile(candidate)) return fs.realpathSync(candidate)
  }
  return undefined
}

/**
 * Resolve an `--agent` value. `claude`, `codex`, `gemini` are the built-in adapters; a value with a `/` is a
 * path (relative to `cwd`); any other name is looked up on PATH. Returns a description of the problem when
 * a custom executable does not exist or is not executable. It blocks while it looks: a run's pipeline uses
 * {@link find}.
 */
export const resolve = (
  setting: string,
  options: { readonly pathEnv: string | undefined; readonly cwd: string }
): Either.Either<Agent, string> => {
  const value = setting.trim()
  if (builtins.includes(value as AgentKind)) {
    return Either.right({
      kind: value as AgentKind,
      setting: value,
      command: value,
      hostPath: which(value, options.pathEnv)
    })
  }
  if (value.includes("/")) {
    const abs = path.resolve(options.cwd, value)
    if (!fs.existsSync(abs)) return Either.left(`${abs} does not exist`)
    if (!isExecutableFile(abs)) return Either.left(`${abs} is not an executable file (chmod +x it)`)
    const real = fs.realpathSync(abs)
    return Either.right({ kind: "custom", setting: value, command: real, hostPath: real })
  }
  const found = which(value, options.pathEnv)
  if (found === undefined) return Either.left(`no executable named ${JSON.stringify(value)} on PATH`)
  return Either.right({ kind: "custom", setting: value, command: found, hostPath: found })
}

/** {@link which} without blocking: for the pipeline of a run, which shares its thread with other runs. */
export const locate = (name: string, pathEnv: string | undefined): Effect.Effect<string | undefined> =>
  Effect.gen(function*() {
    for (const dir of (pathEnv ?? "").split(":")) {
      if (dir === "") continue
      const candidate = path.join(dir, name)
      if (yield* NodeFs.isExecutableFile(candidate)) return yield* NodeFs.realPath(candidate).pipe(Effect.orElseSucceed(() => candidate))
    }
    return undefined
  })

/** {@link resolve} without blocking (see {@link locate}); fails with the problem's description. */
export const find = (
  setting: string,
  options: { readonly pathEnv: string | undefined; readonly cwd: string }
): Effect.Effect<Agent, string> =>
  Effect.gen(function*() {
    const value = setting.trim()
    if (builtins.includes(value as AgentKind)) {
      return { kind: value as AgentKind, setting: value, command: value, hostPath: yield* locate(value, options.pathEnv) }
    }
    if (value.includes("/")) {
      const abs = path.resolve(options.cwd, value)
      if (!(yield* NodeFs.exists(abs))) return yield* Effect.fail(`${abs} does not exist`)
      if (!(yield* NodeFs.isExecutableFile(abs))) return yield* Effect.fail(`${abs} is not an executable file (chmod +x it)`)
      const real = yield* NodeFs.realPath(abs).pipe(Effect.mapError(() => `${abs} cannot be resolved`))
      return { kind: "custom" as const, setting: value, command: real, hostPath: real }
    }
    const found = yield* locate(value, options.pathEnv)
    if (found === undefined) return yield* Effect.fail(`no executable named ${JSON.stringify(value)} on PATH`)
    return { kind: "custom" as const, setting: value, command: found, hostPath: found }
  })

/** How to start an agent: arguments after the executable, extra environment, and the prompt on stdin. */
export interface Invocation {
  readonly args: ReadonlyArray<string>
  readonly env: Readonly<Record<string, string>>
  readonly stdin: string
}

/**
 * The headless command line of each agent. `isolated` is true only inside a real sandox (bubblewrap or a
 * VM): only then does Claude Code get `--dangerously-skip-permissions` (and `IS_SANDBOX=1`, which lets it
 * accept that flag when the sandbox user is root). Without isolation it may edit files in its copy but
 * not run commands. Under a budget Claude Code also gets `--max-budget-usd` and stops itself there.
 */
export const invocation = (
  agent: Agent,
  options: { readonly prompt: string; readonly isolated: boolean; readonly maxBudgetUsd?: number | undefined }
): Invocation => {
  const { isolated, prompt } = options
  const budget = options.maxBudgetUsd !== undefined ? ["--max-budget-usd", options.maxBudgetUsd.toFixed(4)] : []
  switch (agent.kind) {
    case "claude":
      return {
        args: [
          "-p",
          "--output-format",
          "stream-json",
          "--verbose",
          ...(isolated ? ["--dangerously-skip-permissions"] : ["--permission-mode", "acceptEdits"]),
          ...budget
        ],
        env: isolated ? { IS_SANDBOX: "1" } : {},
        stdin: prompt
      }
    case "codex":
      return {
        args: [
          "exec",
          "--json",
          "--skip-git-repo-check",
          ...(isolated ? ["--dangerously-bypass-approvals-and-sandbox"] : ["--sandbox", "workspace-write"]),
          "-"
        ],
        env: {},
        stdin: prompt
      }
    case "gemini":
      // Gemini appends what it reads on stdin to the -p text; the task itself travels on stdin.
      return {
        args: [
          "-p",
          "Carry out the task given on standard input.",
          "-o",
          "stream-json",
          "--approval-mode",
          isolated ? "yolo" : "auto_edit"
        ],
        env: {},
        stdin: prompt
      }
    case "custom":
      return { args: [], env: {}, stdin: prompt }
  }
}

/** Which environment variables carry credentials for an agent and auth method. */
export const credentialEnvNames = (kind: AgentKind, method: AuthMethod): ReadonlyArray<string> => {
  if (method === "oauth") return kind === "claude" || kind === "custom" ? ["CLAUDE_CODE_OAUTH_TOKEN"] : []
  switch (kind) {
    case "claude":
    case "custom":
      return ["ANTHROPIC_API_KEY"]
    case "codex":
      return ["OPENAI_API_KEY", "CODEX_API_KEY"]
    case "gemini":
      return ["GEMINI_API_KEY", "GOOGLE_API_KEY"]
  }
}

/** Non-secret settings an agent honours, passed through when set (endpoints, model names, proxies). */
export const passThroughEnv = (kind: AgentKind): ReadonlyArray<string> => {
  const common = ["HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"]
  switch (kind) {
    case "claude":
    case "custom":
      return [...common, "ANTHROPIC_BASE_URL", "ANTHROPIC_MODEL", "ANTHROPIC_SMALL_FAST_MODEL"]
    case "codex":
      return [...common, "OPENAI_BASE_URL"]
    case "gemini":
      return [...common, "GEMINI_MODEL"]
  }
}

// ---------------------------------------------------------------------------------------------------
// Output decoding

/** What the final event of a run reported. */
export interface Outcome {
  readonly subtype: string
  readonly isError: boolean
  readonly numTurns: number | undefined
  readonly costUsd: number | undefined
  readonly durationMs: number | undefined
  readonly resultText: string | undefined
}

const TextBlock = Schema.Struct({ type: Schema.Literal("text"), text: Schema.String })
const ToolUseBlock = Schema.Struct({
  type: Schema.Literal("tool_use"),
  id: Schema.String,
  name: Schema.String,
  input: Schema.optional(Schema.Unknown)
})
const ToolResultBlock = Schema.Struct({
  type: Schema.Literal("tool_result"),
  tool_use_id: Schema.String,
  content: Schema.optional(Schema.Unknown),
  is_error: Schema.optional(Schema.NullOr(Schema.Boolean))
})
const OtherBlock = Schema.Struct({ type: Schema.String })
const ContentBlock = Schema.Union(TextBlock, ToolUseBlock, ToolResultBlock, OtherBlock)

/** Claude Code stream-json: `system` events (init, hooks, retries). */
export const ClaudeSystem = Schema.Struct({
  type: Schema.Literal("system"),
  subtype: Schema.String,
  session_id: Schema.optional(Schema.String),
  model: Schema.optional(Schema.String),
  permissionMode: Schema.optional(Schema.String),
  attempt: Schema.optional(Schema.Number),
  error: Schema.optional(Schema.Unknown)
})
/** Claude Code stream-json: an assistant message (text, tool calls). */
export const ClaudeAssistant = Schema.Struct({
  type: Schema.Literal("assistant"),
  message: Schema.Struct({ content: Schema.Array(ContentBlock) })
})
/** Claude Code stream-json: a user message (tool results). */
export const ClaudeUser = Schema.Struct({
  type: Schema.Literal("user"),
  message: Schema.Struct({ content: Schema.Union(Schema.String, Schema.Array(ContentBlock)) })
})
/** Claude Code stream-json: the final `result` event. */
export const ClaudeResult = Schema.Struct({
  type: Schema.Literal("result"),
  subtype: Schema.String,
  is_error: Schema.Boolean,
  num_turns: Schema.optional(Schema.Number),
  total_cost_usd: Schema.optional(Schema.Number),
  duration_ms: Schema.optional(Schema.Number),
  result: Schema.optional(Schema.String),
  errors: Schema.optional(Schema.Array(Schema.String))
})
/** Any other event (or a known type in a shape we do not expect): kept as data, never fatal. */
export const UnknownEvent = Schema.Struct({ type: Schema.String }).pipe(Schema.attachPropertySignature("known", false))

const isUnknown = (e: object): boolean => "known" in e && (e as { known: unknown }).known === false

export const ClaudeEvent = Schema.Union(ClaudeSystem, ClaudeAssistant, ClaudeUser, ClaudeResult, UnknownEvent)
export type ClaudeEvent = typeof ClaudeEvent.Type

const CodexItem = Schema.Struct({
  type: Schema.String,
  text: Schema.optional(Schema.String),
  command: Schema.optional(Schema.String),
  exit_code: Schema.optional(Schema.NullOr(Schema.Number)),
  status: Schema.optional(Schema.String),
  message: Schema.optional(Schema.String),
  changes: Schema.optional(Schema.Array(Schema.Struct({ path: Schema.String, kind: Schema.optional(Schema.String) })))
})
/** Codex `exec --json` events. */
export const CodexEvent = Schema.Union(
  Schema.Struct({ type: Schema.Literal("thread.started"), thread_id: Schema.optional(Schema.String) }),
  Schema.Struct({ type: Schema.Literal("item.completed", "item.started", "item.updated"), item: CodexItem }),
  Schema.Struct({ type: Schema.Literal("turn.completed"), usage: Schema.optional(Schema.Unknown) }),
  Schema.Struct({ type: Schema.Literal("turn.failed"), error: Schema.optional(Schema.Struct({ message: Schema.String })) }),
  Schema.Struct({ type: Schema.Literal("error"), message: Schema.String }),
  UnknownEvent
)

/** Gemini CLI stream-json events. */
export const GeminiEvent = Schema.Union(
  Schema.Struct({ type: Schema.Literal("init"), session_id: Schema.optional(Schema.String), model: Schema.optional(Schema.String) }),
  Schema.Struct({
    type: Schema.Literal("message"),
    role: Schema.String,
    content: Schema.String,
    delta: Schema.optional(Schema.Boolean)
  }),
  Schema.Struct({ type: Schema.Literal("tool_use"), tool_name: Schema.String, parameters: Schema.optional(Schema.Unknown) }),
  Schema.Struct({
    type: Schema.Literal("tool_result"),
    status: Schema.String,
    error: Schema.optional(Schema.Unknown),
    output: Schema.optional(Schema.Unknown)
  }),
  Schema.Struct({ type: Schema.Literal("error"), message: Schema.String, severity: Schema.optional(Schema.String) }),
  Schema.Struct({
    type: Schema.Literal("result"),
    status: Schema.String,
    error: Schema.optional(Schema.Unknown),
    stats: Schema.optional(Schema.Struct({
      duration_ms: Schema.optional(Schema.Number),
      tool_calls: Schema.optional(Schema.Number)
    }))
  }),
  UnknownEvent
)

const decodeClaude = Schema.decodeUnknownEither(ClaudeEvent)
const decodeCodex = Schema.decodeUnknownEither(CodexEvent)
const decodeGemini = Schema.decodeUnknownEither(GeminiEvent)

const oneLine = (s: string, max = 300): string => {
  const flat = s.replace(/\s*\n\s*/g, " ⏎ ").trim()
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat
}

const summarizeInput = (input: unknown): string => {
  if (input === null || typeof input !== "object") return ""
  const o = input as Record<string, unknown>
  for (const key of ["file_path", "path", "command", "pattern", "url", "query", "description"]) {
    if (typeof o[key] === "string") return oneLine(o[key] as string, 200)
  }
  try {
    return oneLine(JSON.stringify(input), 200)
  } catch {
    return ""
  }
}

const contentText = (content: unknown): string => {
  if (typeof content === "string") return content
  if (Array.isArray(content)) {
    return content.map((c) => (c !== null && typeof c === "object" && typeof (c as any).text === "string" ? (c as any).text : "")).join(" ")
  }
  return ""
}

/** The decoded meaning of one output line. */
export interface Decoded {
  /** Human log lines (already one line each). */
  readonly lines: ReadonlyArray<string>
  /** Set by the event that ends a run. */
  readonly outcome?: Outcome | undefined
  /** Whether the line was a JSON event (as opposed to plain text). */
  readonly event: boolean
  /** The event type, for JSON lines. */
  readonly type?: string | undefined
}

const parseJson = (line: string): unknown => {
  const t = line.trim()
  if (!t.startsWith("{")) return undefined
  try {
    return JSON.parse(t)
  } catch {
    return undefined
  }
}

const claudeLines = (e: ClaudeEvent): Decoded => {
  if (isUnknown(e)) return { event: true, type: e.type, lines: [] }
  switch (e.type) {
    case "system": {
      const s = e as typeof ClaudeSystem.Type
      if (s.subtype === "init") {
        return {
          event: true,
          type: "system",
          lines: [`session started${s.model !== undefined ? ` (model ${s.model}${s.permissionMode !== undefined ? `, permissions ${s.permissionMode}` : ""})` : ""}`]
        }
      }
      if (s.subtype === "api_retry") return { event: true, type: "system", lines: [`API retry ${s.attempt ?? ""}`.trim()] }
      return { event: true, type: "system", lines: [] }
    }
    case "assistant": {
      const a = e as typeof ClaudeAssistant.Type
      const lines: Array<string> = []
      for (const b of a.message.content) {
        if (b.type === "text" && "text" in b) lines.push(`assistant: ${oneLine(b.text)}`)
        else if (b.type === "tool_use" && "name" in b) lines.push(`tool ${b.name}: ${summarizeInput(b.input)}`)
      }
      return { event: true, type: "assistant", lines }
    }
    case "user": {
      const u = e as typeof ClaudeUser.Type
      const lines: Array<string> = []
      if (Array.isArray(u.message.content)) {
        for (const b of u.message.content) {
          if (b.type === "tool_result" && "tool_use_id" in b && b.is_error === true) {
            lines.push(`  tool error: ${oneLine(contentText(b.content), 200)}`)
          }
        }
      }
      return { event: true, type: "user", lines }
    }
    case "result": {
      const r = e as typeof ClaudeResult.Type
      const outcome: Outcome = {
        subtype: r.subtype,
        isError: r.is_error,
        numTurns: r.num_turns,
        costUsd: r.total_cost_usd,
        durationMs: r.duration_ms,
        resultText: r.result ?? r.errors?.join("; ")
      }
      const parts = [
        r.subtype,
        r.num_turns !== undefined ? `${r.num_turns} turns` : undefined,
        r.total_cost_usd !== undefined ? `$${r.total_cost_usd.toFixed(4)}` : undefined,
        r.duration_ms !== undefined ? `${(r.duration_ms / 1000).toFixed(1)} s` : undefined
      ].filter((x) => x !== undefined)
      const lines = [`result: ${r.is_error ? "error" : "ok"} · ${parts.join(" · ")}`]
      const text = r.result ?? r.errors?.join("; ")
      if (text !== undefined && text !== "") lines.push(`  ${oneLine(text, 500)}`)
      return { event: true, type: "result", lines, outcome }
    }
    default:
      return { event: true, type: e.type, lines: [] }
  }
}

/** A stateful decoder for one agent's stdout. */
export interface Decoder {
  readonly line: (text: string) => Decoded
  /** Call when the output ends: flushes buffered text and gives an outcome for agents without a result event. */
  readonly end: (exitCode: number | null) => { readonly lines: ReadonlyArray<string>; readonly outcome: Outcome | undefined }
}

const plain = (text: string): Decoded => ({ event: false, lines: text.trim() === "" ? [] : [`out: ${oneLine(text, 500)}`] })

const claudeDecoder = (): Decoder => ({
  line: (text) => {
    const json = parseJson(text)
    if (json === undefined) return plain(text)
    const d = decodeClaude(json)
    return Either.isRight(d) ? claudeLines(d.right) : plain(text)
  },
  end: () => ({ lines: [], outcome: undefined })
})

const codexDecoder = (): Decoder => {
  let turns = 0
  let failure: string | undefined
  return {
    line: (text) => {
      const json = parseJson(text)
      if (json === undefined) return plain(text)
      const d = decodeCodex(json)
      if (Either.isLeft(d)) return plain(text)
      const e = d.right as { type: string } & Record<string, any>
      if (isUnknown(e)) return { event: true, type: e.type, lines: [] }
      switch (e.type) {
        case "thread.started":
          return { event: true, type: e.type, lines: ["session started"] }
        case "item.completed": {
          const item = e.item as typeof CodexItem.Type
          if (item.type === "agent_message" && item.text !== undefined) return { event: true, type: e.type, lines: [`assistant: ${oneLine(item.text)}`] }
          if (item.type === "command_execution") return { event: true, type: e.type, lines: [`tool exec: ${oneLine(item.command ?? "", 200)}`] }
          if (item.type === "file_change") {
            return { event: true, type: e.type, lines: (item.changes ?? []).map((c) => `tool ${c.kind ?? "edit"}: ${c.path}`) }
          }
          if (item.type === "error") return { event: true, type: e.type, lines: [`error: ${oneLine(item.message ?? "")}`] }
          return { event: true, type: e.type, lines: [] }
        }
        case "turn.completed":
          turns++
          return { event: true, type: e.type, lines: [] }
        case "turn.failed":
          failure = e.error?.message ?? "turn failed"
          return { event: true, type: e.type, lines: [`error: ${oneLine(failure ?? "")}`] }
        case "error":
          return { event: true, type: e.type, lines: [`error: ${oneLine(e.message)}`] }
        default:
          return { event: true, type: e.type, lines: [] }
      }
    },
    end: (exitCode) => {
      const isError = failure !== undefined || exitCode !== 0
      return {
        lines: [`result: ${isError ? "error" : "ok"} · ${turns} turns`],
        outcome: {
          subtype: isError ? "error" : "success",
          isError,
          numTurns: turns,
          costUsd: undefined,
          durationMs: undefined,
          resultText: failure
        }
      }
    }
  }
}

const geminiDecoder = (): Decoder => {
  let buffered = ""
  const flush = (): Array<string> => {
    const out = buffered.trim() !== "" ? [`assistant: ${oneLine(buffered)}`] : []
    buffered = ""
    return out
  }
  let toolCalls = 0
  return {
    line: (text) => {
      const json = parseJson(text)
      if (json === undefined) return plain(text)
      const d = decodeGemini(json)
      if (Either.isLeft(d)) return plain(text)
      const e = d.right as { type: string } & Record<string, any>
      if (isUnknown(e)) return { event: true, type: e.type, lines: flush() }
      if (e.type === "message") {
        if (e.role !== "assistant" && e.role !== "model") return { event: true, type: e.type, lines: [] }
        if (e.delta === true) {
          buffered += e.content
          return { event: true, type: e.type, lines: [] }
        }
        return { event: true, type: e.type, lines: [...flush(), `assistant: ${oneLine(e.content)}`] }
      }
      const before = flush()
      switch (e.type) {
        case "init":
          return { event: true, type: e.type, lines: [...before, `session started${e.model !== undefined ? ` (model ${e.model})` : ""}`] }
        case "tool_use":
          toolCalls++
          return { event: true, type: e.type, lines: [...before, `tool ${e.tool_name}: ${summarizeInput(e.parameters)}`] }
        case "tool_result":
          return {
            event: true,
            type: e.type,
            lines: [...before, ...(e.status !== "success" ? [`  tool error: ${oneLine(JSON.stringify(e.error ?? e.status), 200)}`] : [])]
          }
        case "error":
          return { event: true, type: e.type, lines: [...before, `error: ${oneLine(e.message)}`] }
        case "result": {
          const isError = e.status !== "success"
          const durationMs = e.stats?.duration_ms as number | undefined
          return {
            event: true,
            type: e.type,
            lines: [...before, `result: ${isError ? "error" : "ok"} · ${e.stats?.tool_calls ?? toolCalls} tool calls`],
            outcome: {
              subtype: isError ? "error" : "success",
              isError,
              numTurns: undefined,
              costUsd: undefined,
              durationMs,
              resultText: isError ? oneLine(JSON.stringify(e.error ?? ""), 500) : undefined
            }
          }
        }
        default:
          return { event: true, type: e.type, lines: before }
      }
    },
    end: () => ({ lines: flush(), outcome: undefined })
  }
}

/** A decoder for the agent's stdout. Custom agents are read like Claude Code when they print stream-json. */
export const decoder = (kind: AgentKind): Decoder => {
  switch (kind) {
    case "claude":
    case "custom":
      return claudeDecoder()
    case "codex":
      return codexDecoder()
    case "gemini":
      return geminiDecoder()
  }
}
