/**
 * Usage of an interactive Claude Code session, read from its transcripts (JSONL under
 * `~/.claude/projects/…`, the path the session hook records): tokens by kind and model, requests, turns and
 * the agent's last message — incrementally, so a watcher reads each byte once.
 *
 * Facts it relies on (docs/architecture.md, "Fleet: usage from transcripts"): every `assistant` line has
 * `message.id`, `message.model`, `message.usage` and a `timestamp`; one API response is written as several
 * `assistant` lines (one per content block) with the same id, each repeating the usage, with `output_tokens`
 * growing while it streams — so a message counts once, with its last line's usage. Subagents write their own
 * transcripts in `<transcript without .jsonl>/subagents/*.jsonl`; ids are deduplicated across all files of a
 * session. Lines of unknown types are ignored. Lines from before the session started (a resumed
 * conversation's history) are not the session's spending and are not counted.
 *
 * Bad input makes the usage unknown, never wrong: a missing transcript, a complete line that is not JSON, an
 * `assistant` line whose usage is not a set of non-negative integers, or a file with lines and none of them
 * a transcript line. A last line without its newline is still being written: it waits for the next read.
 *
 * Plain Node (no Effect) on purpose: the `status --json` snapshot may use it.
 *
 * @since 0.2.0
 */
import * as fs from "node:fs"
import * as nodePath from "node:path"
import { addTokens, noTokens, promptTokens, type Tokens } from "./prices.js"

/** Usage is summed per quarter hour, so that any local day, week or month start falls on a bucket edge. */
export const BUCKET_MS = 15 * 60_000

/** The usage of one model in one quarter hour. */
export interface UsageBucket {
  /** The bucket's start (epoch ms, a multiple of {@link BUCKET_MS}). */
  readonly bucket: number
  readonly model: string
  /** Requests whose prompt was above the model's long-context threshold (priced apart). */
  readonly long: boolean
  readonly tokens: Tokens
  readonly requests: number
}

/** What a session's transcripts say, or why that is unknown. */
export interface TranscriptUsage {
  /** Set when the usage is unknown (then `buckets` must not be used). */
  readonly unknown: string | undefined
  readonly buckets: ReadonlyArray<UsageBucket>
  /** Prompts the person (or a script) sent. */
  readonly turns: number
  /** The last text the agent wrote (at most 600 characters), if any. */
  readonly lastMessage: string | undefined
  /** The transcript files read, with the size read so far. */
  readonly files: ReadonlyArray<{ readonly path: string; readonly size: number; readonly mtimeMs: number }>
}

interface Message {
  readonly file: string
  readonly model: string
  readonly at: number
  readonly tokens: Tokens
}

interface FileState {
  ino: number
  offset: number
  size: number
  mtimeMs: number
  pending: Buffer
  turns: number
  recognised: boolean
  lines: number
  lastMessage: string | undefined
  lastAt: number
  unknown: string | undefined
}

const LONG_PROMPT = 200_000

const isCount = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0

const count = (v: unknown): number | undefined => (v === undefined || v === null ? 0 : isCount(v) ? v : undefined)

/** The tokens of a `message.usage` object; undefined when it is not one. */
export const tokensOf = (usage: unknown): Tokens | undefined => {
  if (usage === null || typeof usage !== "object") return undefined
  const u = usage as Record<string, unknown>
  const input = count(u.input_tokens)
  const output = count(u.output_tokens)
  const cacheRead = count(u.cache_read_input_tokens)
  const cacheCreation = count(u.cache_creation_input_tokens)
  if (input === undefined || output === undefined || cacheRead === undefined || cacheCreation === undefined) return undefined
  let cacheWrite5m = cacheCreation
  let cacheWrite1h = 0
  const split = u.cache_creation as Record<string, unknown> | undefined | null
  if (split !== undefined && split !== null && typeof split === "object") {
    const m5 = count(split.ephemeral_5m_input_tokens)
    const h1 = count(split.ephemeral_1h_input_tokens)
    if (m5 === undefined || h1 === undefined) return undefined
    if (m5 + h1 === cacheCreation) {
      cacheWrite5m = m5
      cacheWrite1h = h1
    }
  }
  const server = u.server_tool_use as Record<string, unknown> | undefined | null
  const webSearch = server !== undefined && server !== null && typeof server === "object" ? count(server.web_search_requests) : 0
  if (webSearch === undefined) return undefined
  return { input, output, cacheWrite5m, cacheWrite1h, cacheRead, webSearch }
}

const TRANSCRIPT_TYPES = new Set(["user", "assistant", "system", "summary", "attachment", "progress", "file-history-snapshot"])

/** The text of a user prompt line (not a tool result, not meta, not a local command), else undefined. */
const promptText = (line: Record<string, unknown>): string | undefined => {
  if (line.isMeta === true || line.isSidechain === true) return undefined
  const message = line.message as { role?: unknown; content?: unknown } | undefined
  if (message === undefined || message === null || message.role !== "user") return undefined
  let text: string | undefined
  if (typeof message.content === "string") text = message.content
  else if (Array.isArray(message.content)) {
    if (message.content.some((b) => (b as { type?: unknown })?.type === "tool_result")) return undefined
    const t = message.content.find((b) => (b as { type?: unknown })?.type === "text") as { text?: unknown } | undefined
    text = typeof t?.text === "string" ? t.text : undefined
  }
  if (text === undefined || /^<(local-command|command-|bash-)/.test(text.trimStart())) return undefined
  return text
}

const assistantText = (message: Record<string, unknown>): string | undefined => {
  if (!Array.isArray(message.content)) return undefined
  const texts = message.content
    .filter((b) => (b as { type?: unknown })?.type === "text" && typeof (b as { text?: unknown }).text === "string")
    .map((b) => (b as { text: string }).text.trim())
    .filter((t) => t !== "")
  return texts.length > 0 ? texts.join("\n").slice(-600) : undefined
}

const QUOTE_ASSISTANT = Buffer.from("\"type\":\"assistant\"")
const QUOTE_USER = Buffer.from("\"type\":\"user\"")
const TOOL_RESULT = Buffer.from("\"tool_result\"")

/**
 * The usage of one session's transcripts, read incrementally: {@link TranscriptReader.read} reads what was
 * appended since the last call (re-reading a file that was replaced or shrank).
 */
export class TranscriptReader {
  private readonly files = new Map<string, FileState>()
  private readonly messages = new Map<string, Message>()

  /** `since`: lines before it (epoch ms) are history of a resumed conversation, not this session's. */
  constructor(private readonly since: number) {}

  /** The transcript files of a main transcript: itself and its subagents' transcripts. */
  static filesOf(transcript: string): ReadonlyArray<string> {
    const out = [transcript]
    const dir = nodePath.join(transcript.replace(/\.jsonl$/, ""), "subagents")
    try {
      for (const name of fs.readdirSync(dir).sort()) if (name.endsWith(".jsonl")) out.push(nodePath.join(dir, name))
    } catch {
      // No subagents.
    }
    return out
  }

  /** Read what is new in these main transcripts (and their subagents' files). */
  read(transcripts: ReadonlyArray<string>): TranscriptUsage {
    if (transcripts.length === 0) return this.result("no transcript recorded")
    for (const t of transcripts) {
      for (const file of TranscriptReader.filesOf(t)) {
        const missing = this.readFile(file)
        if (missing !== undefined && file === t) return this.result(missing)
      }
    }
    return this.result(undefined)
  }

  private reset(file: string) {
    for (const [id, m] of this.messages) if (m.file === file) this.messages.delete(id)
    this.files.delete(file)
  }

  /** Read the new bytes of one file; returns why it cannot be read, if it cannot. */
  private readFile(file: string): string | undefined {
    let st: fs.Stats
    try {
      st = fs.statSync(file)
    } catch {
      this.reset(file)
      return `transcript ${file} not found`
    }
    if (!st.isFile()) return `transcript ${file} is not a file`
    let state = this.files.get(file)
    if (state !== undefined && (state.ino !== st.ino || st.size < state.offset)) {
      this.reset(file)
      state = undefined
    }
    if (state === undefined) {
      state = {
        ino: st.ino,
        offset: 0,
        size: 0,
        mtimeMs: st.mtimeMs,
        pending: Buffer.alloc(0),
        turns: 0,
        recognised: false,
        lines: 0,
        lastMessage: undefined,
        lastAt: 0,
        unknown: undefined
      }
      this.files.set(file, state)
    }
    state.mtimeMs = st.mtimeMs
    if (st.size === state.offset) {
      state.size = st.size
      return undefined
    }
    let fd: number
    try {
      fd = fs.openSync(file, "r")
    } catch {
      return `transcript ${file} cannot be read`
    }
    try {
      const chunk = Buffer.allocUnsafe(1 << 20)
      for (;;) {
        const n = fs.readSync(fd, chunk, 0, chunk.length, state.offset)
        if (n <= 0) break
        state.offset += n
        let data = state.pending.length > 0 ? Buffer.concat([state.pending, chunk.subarray(0, n)]) : chunk.subarray(0, n)
        let start = 0
        for (let nl = data.indexOf(10, start); nl >= 0; nl = data.indexOf(10, start)) {
          this.line(file, state, data.subarray(start, nl))
          start = nl + 1
        }
        data = data.subarray(start)
        state.pending = Buffer.from(data)
      }
    } finally {
      fs.closeSync(fd)
    }
    state.size = state.offset
    return undefined
  }

  private line(file: string, state: FileState, bytes: Buffer) {
    if (state.unknown !== undefined) return
    if (bytes.length === 0 || (bytes.length === 1 && bytes[0] === 13)) return
    state.lines++
    const assistant = bytes.indexOf(QUOTE_ASSISTANT) >= 0
    const user = !assistant && bytes.indexOf(QUOTE_USER) >= 0 && bytes.indexOf(TOOL_RESULT) < 0
    if (!assistant && !user && state.recognised) {
      // A line we do not need (tool results, snapshots…): only check that it looks like a JSON object.
      let end = bytes.length - 1
      if (bytes[end] === 13) end--
      if (bytes[0] !== 123 || bytes[end] !== 125) state.unknown = `line ${state.lines} of ${file} is not JSON`
      return
    }
    let v: unknown
    try {
      v = JSON.parse(bytes.toString("utf8"))
    } catch {
      state.unknown = `line ${state.lines} of ${file} is not JSON`
      return
    }
    if (v === null || typeof v !== "object" || Array.isArray(v)) {
      state.unknown = `line ${state.lines} of ${file} is not a JSON object`
      return
    }
    const line = v as Record<string, unknown>
    if (typeof line.type === "string" && TRANSCRIPT_TYPES.has(line.type)) state.recognised = true
    const at = typeof line.timestamp === "string" ? Date.parse(line.timestamp) : Number.NaN
    if (line.type === "user") {
      const text = promptText(line)
      if (text !== undefined && !(Number.isFinite(at) && at < this.since)) state.turns++
      return
    }
    if (line.type !== "assistant") return
    const message = line.message as Record<string, unknown> | undefined
    if (message === undefined || message === null || typeof message !== "object") return
    if (message.usage === undefined) return
    const tokens = tokensOf(message.usage)
    const id = typeof message.id === "string" && message.id !== ""
      ? message.id
      : typeof line.requestId === "string" ? line.requestId : undefined
    if (tokens === undefined || typeof message.model !== "string" || !Number.isFinite(at) || id === undefined) {
      state.unknown = `line ${state.lines} of ${file} is an assistant message in an unknown format`
      return
    }
    if (at < this.since) return
    if (line.isSidechain !== true && at >= state.lastAt) {
      const text = assistantText(message)
      if (text !== undefined) {
        state.lastMessage = text
        state.lastAt = at
      }
    }
    // `<synthetic>` lines (errors, interruptions) are not API responses; they carry zero usage anyway.
    if (message.model === "<synthetic>") return
    const prev = this.messages.get(id)
    this.messages.set(id, { file: prev?.file ?? file, model: message.model, at: prev?.at ?? at, tokens })
  }

  private result(unknown: string | undefined): TranscriptUsage {
    const states = [...this.files.entries()]
    const bad = unknown ?? states.find(([, s]) => s.unknown !== undefined)?.[1].unknown ??
      states.find(([, s]) => s.lines > 0 && !s.recognised)?.[0]
    const why = bad === undefined
      ? undefined
      : unknown !== undefined || states.some(([, s]) => s.unknown === bad)
      ? bad
      : `${bad} is not a Claude Code transcript`
    const grouped = new Map<string, { bucket: number; model: string; long: boolean; tokens: Tokens; requests: number }>()
    for (const m of this.messages.values()) {
      const bucket = Math.floor(m.at / BUCKET_MS) * BUCKET_MS
      const long = promptTokens(m.tokens) > LONG_PROMPT
      const key = `${bucket}\u0000${m.model}\u0000${long}`
      const g = grouped.get(key)
      if (g === undefined) grouped.set(key, { bucket, model: m.model, long, tokens: m.tokens, requests: 1 })
      else {
        g.tokens = addTokens(g.tokens, m.tokens)
        g.requests++
      }
    }
    let last: { at: number; text: string } | undefined
    for (const [, s] of states) {
      if (s.lastMessage !== undefined && (last === undefined || s.lastAt >= last.at)) last = { at: s.lastAt, text: s.lastMessage }
    }
    return {
      unknown: why,
      buckets: [...grouped.values()].sort((a, b) => a.bucket - b.bucket || a.model.localeCompare(b.model)),
      turns: states.reduce((n, [, s]) => n + s.turns, 0),
      lastMessage: last?.text,
      files: states.map(([path, s]) => ({ path, size: s.size, mtimeMs: s.mtimeMs }))
    }
  }
}

/** The total tokens of buckets. */
export const totalTokens = (buckets: ReadonlyArray<UsageBucket>): Tokens =>
  buckets.reduce((t, b) => addTokens(t, b.tokens), noTokens)
