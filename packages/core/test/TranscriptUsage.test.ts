import { Prices, TranscriptUsage } from "@parallel-cc/core"
import { TempDir } from "@parallel-cc/testkit"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, assert, describe, it } from "vitest"
import { roundUsd, usageView } from "../src/fleet/usageView.js"

const dirs: Array<string> = []
afterEach(() => {
  for (const d of dirs.splice(0)) TempDir.removeSync(d)
})

const T0 = Date.parse("2026-12-01T10:00:00.000Z")
const at = (s: number) => new Date(T0 + s * 1000).toISOString()

const assistant = (id: string, s: number, usage: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    type: "assistant",
    timestamp: at(s),
    requestId: `req_${id}`,
    message: { id, type: "message", role: "assistant", model: "claude-sonnet-4-5-20250929", content: [{ type: "text", text: `reply ${id}` }], usage },
    ...extra
  })

const prompt = (s: number, text: string) => JSON.stringify({ type: "user", timestamp: at(s), message: { role: "user", content: text } })
const toolResult = (s: number) =>
  JSON.stringify({ type: "user", timestamp: at(s), message: { role: "user", content: [{ type: "tool_result", tool_use_id: "t", content: "x".repeat(5000) }] } })

const u = (input: number, output: number, cacheRead = 0, cacheCreation = 0) => ({
  input_tokens: input,
  output_tokens: output,
  cache_read_input_tokens: cacheRead,
  cache_creation_input_tokens: cacheCreation,
  cache_creation: { ephemeral_5m_input_tokens: cacheCreation, ephemeral_1h_input_tokens: 0 },
  server_tool_use: { web_search_requests: 0 }
})

const transcript = (lines: ReadonlyArray<string>, trailingNewline = true) => {
  const dir = TempDir.makeSync("pcc-transcript-")
  dirs.push(dir)
  const file = path.join(dir, "s.jsonl")
  fs.writeFileSync(file, lines.join("\n") + (trailingNewline ? "\n" : ""))
  return file
}

describe("TranscriptReader", () => {
  it("counts a message once (its last line's usage), sums tokens by model, counts prompts, keeps the last text", () => {
    const file = transcript([
      JSON.stringify({ type: "queue-operation", operation: "enqueue" }),
      prompt(1, "fix the bug"),
      assistant("msg_1", 2, u(10, 1, 100, 50)),
      assistant("msg_1", 2, u(10, 40, 100, 50)),
      toolResult(3),
      assistant("msg_2", 4, u(5, 7, 200, 0)),
      prompt(5, "<local-command-stdout>ok</local-command-stdout>"),
      prompt(6, "and now the tests")
    ])
    const r = new TranscriptUsage.TranscriptReader(T0).read([file])
    assert.strictEqual(r.unknown, undefined)
    assert.strictEqual(r.turns, 2)
    assert.strictEqual(r.lastMessage, "reply msg_2")
    const total = TranscriptUsage.totalTokens(r.buckets)
    assert.deepStrictEqual(total, { input: 15, output: 47, cacheWrite5m: 50, cacheWrite1h: 0, cacheRead: 300, webSearch: 0 })
    assert.strictEqual(r.buckets.reduce((n, b) => n + b.requests, 0), 2)
    const view = usageView(r.buckets, { known: true, reason: null, turns: r.turns }, {})
    // sonnet-4-5: $3 in, $15 out, $3.75 5m write, $0.30 read per million.
    assert.strictEqual(view.costUsd, roundUsd(Prices.costAt(total, Prices.priceOf("claude-sonnet-4-5")!)))
    assert.closeTo(view.costUsd!, (15 * 3 + 47 * 15 + 50 * 3.75 + 300 * 0.3) / 1e6, 1e-9)
  })

  it("reads incrementally: appended lines, a line completed later, a replaced file", () => {
    const file = transcript([prompt(1, "a"), assistant("msg_1", 2, u(1, 1))])
    const reader = new TranscriptUsage.TranscriptReader(T0)
    assert.strictEqual(reader.read([file]).buckets[0]!.requests, 1)
    const half = assistant("msg_2", 3, u(2, 2))
    fs.appendFileSync(file, half.slice(0, 20))
    assert.strictEqual(TranscriptUsage.totalTokens(reader.read([file]).buckets).input, 1, "a line without its newline waits")
    fs.appendFileSync(file, half.slice(20) + "\n")
    assert.strictEqual(TranscriptUsage.totalTokens(reader.read([file]).buckets).input, 3)
    fs.rmSync(file)
    fs.writeFileSync(file, assistant("msg_9", 4, u(7, 7)) + "\n")
    assert.strictEqual(TranscriptUsage.totalTokens(reader.read([file]).buckets).input, 7, "a replaced file is read again")
  })

  it("leaves out history from before the session (a resumed conversation) and dedups across subagent files", () => {
    const file = transcript([assistant("msg_old", -60, u(1000, 1000)), assistant("msg_1", 2, u(1, 1))])
    const sub = path.join(file.replace(/\.jsonl$/, ""), "subagents")
    fs.mkdirSync(sub, { recursive: true })
    fs.writeFileSync(path.join(sub, "agent-a.jsonl"), [assistant("msg_1", 2, u(1, 1), { isSidechain: true }), assistant("msg_s", 3, u(4, 4), { isSidechain: true })].join("\n") + "\n")
    const r = new TranscriptUsage.TranscriptReader(T0).read([file])
    assert.deepStrictEqual(TranscriptUsage.totalTokens(r.buckets).input, 5)
    assert.strictEqual(r.files.length, 2)
  })

  it("bad input is unknown, never wrong: missing, a broken line, an unknown format, a usage that is not counts", () => {
    const reader = () => new TranscriptUsage.TranscriptReader(T0)
    assert.match(reader().read(["/nonexistent/x.jsonl"]).unknown!, /not found/)
    assert.match(reader().read([]).unknown!, /no transcript/)
    assert.match(reader().read([transcript([prompt(1, "a"), "{not json", assistant("m", 2, u(1, 1))])]).unknown!, /not JSON/)
    assert.match(reader().read([transcript(["{\"event\":\"x\"}", "{\"event\":\"y\"}"])]).unknown!, /not a Claude Code transcript/)
    assert.match(reader().read([transcript([assistant("m", 2, { input_tokens: -1, output_tokens: 2 })])]).unknown!, /unknown format/)
    assert.match(reader().read([transcript([assistant("m", 2, { input_tokens: "many", output_tokens: 2 })])]).unknown!, /unknown format/)
    const cut = reader().read([transcript([prompt(1, "a"), assistant("m", 2, u(1, 1)), "{\"type\":\"assistant\",\"mess"], false)])
    assert.strictEqual(cut.unknown, undefined, "a cut last line is a line still being written")
    assert.strictEqual(TranscriptUsage.totalTokens(cut.buckets).input, 1)
    assert.deepStrictEqual(reader().read([transcript([])]).buckets, [])
  })

  it("prices: dated and provider ids find the model, unknown models have no price, long prompts their own rates", () => {
    assert.strictEqual(Prices.modelKey("claude-sonnet-4-5-20250929"), "claude-sonnet-4-5")
    assert.strictEqual(Prices.modelKey("claude-sonnet-4-5@20250929"), "claude-sonnet-4-5")
    assert.strictEqual(Prices.modelKey("us.anthropic.claude-opus-4-1-20250805-v1:0"), "claude-opus-4-1")
    assert.strictEqual(Prices.modelKey("claude-sonnet-4-5[1m]"), "claude-sonnet-4-5")
    assert.strictEqual(Prices.priceOf("claude-unknown-9"), undefined)
    assert.strictEqual(Prices.priceOf("claude-opus-4-7"), undefined, "no guessing from a prefix")
    assert.deepInclude(Prices.priceOf("claude-opus-4-7", { "claude-opus-4-7": Prices.DEFAULT_PRICES["claude-opus-4-5"]! }), { input: 5 })
    const big = { ...Prices.noTokens, input: 300_000, output: 1_000 }
    const p = Prices.priceOf("claude-sonnet-4-5")!
    assert.closeTo(Prices.costAt(big, p, true), (300_000 * 6 + 1_000 * 22.5) / 1e6, 1e-9)
    const unpriced = usageView([{ bucket: 0, model: "claude-unknown-9", long: false, tokens: big, requests: 1 }], { known: true, reason: null, turns: 1 }, {})
    assert.strictEqual(unpriced.costUsd, null)
    assert.strictEqual(unpriced.models[0]!.costUsd, null)
  })
})
