import { AnthropicApiDouble } from "@parallel-cc/testkit"
import { afterEach, assert, describe, it } from "vitest"

const { Reply } = AnthropicApiDouble
const doubles: Array<AnthropicApiDouble.AnthropicApiDouble> = []
afterEach(async () => {
  await Promise.all(doubles.splice(0).map((d) => d.close()))
})
const start = async (options: AnthropicApiDouble.Options = {}) => {
  const d = await AnthropicApiDouble.AnthropicApiDouble.start(options)
  doubles.push(d)
  return d
}

const tools = [{ name: "Write", description: "write a file", input_schema: { type: "object" } }]
const userText = (text: string) => ({ role: "user", content: [{ type: "text", text }] })
const post = (d: AnthropicApiDouble.AnthropicApiDouble, body: unknown, path = "/v1/messages?beta=true", key = d.apiKey) =>
  fetch(`${d.baseUrl}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-api-key": key, "anthropic-version": "2023-06-01" },
    body: JSON.stringify(body)
  })

const json = async (res: Response | Promise<Response>): Promise<any> => (await res).json()

/** Decode an SSE body into [event, data] pairs and check each `event:` matches its data's `type`. */
const sse = async (res: Response) => {
  const text = await res.text()
  return text
    .split("\n\n")
    .filter((f) => f.trim() !== "")
    .map((frame) => {
      const lines = frame.split("\n")
      const event = lines.find((l) => l.startsWith("event: "))!.slice(7)
      const data = JSON.parse(lines.find((l) => l.startsWith("data: "))!.slice(6))
      assert.strictEqual(data.type, event)
      return data
    })
}

describe("AnthropicApiDouble (a double of the Anthropic Messages API)", () => {
  it("streams a tool_use turn as the API does: message_start, block start/deltas/stop, message_delta with usage, message_stop", async () => {
    const d = await start({ script: [Reply.turn([{ type: "text", text: "Writing it." }, { type: "tool_use", name: "Write", input: { file_path: "/x/a.txt", content: "hi" } }])] })
    const res = await post(d, { model: "claude-x", max_tokens: 100, stream: true, tools, messages: [userText("go")] })
    assert.strictEqual(res.status, 200)
    assert.match(res.headers.get("content-type")!, /^text\/event-stream/)
    const evs = await sse(res)
    const types = evs.map((e) => e.type)
    assert.strictEqual(types[0], "message_start")
    assert.deepStrictEqual(types.slice(-2), ["message_delta", "message_stop"])
    assert.strictEqual(evs[0].message.role, "assistant")
    assert.strictEqual(evs[0].message.model, "claude-x")
    assert.isAbove(evs[0].message.usage.input_tokens, 0)
    const starts = evs.filter((e) => e.type === "content_block_start")
    assert.deepStrictEqual(starts.map((e) => [e.index, e.content_block.type]), [[0, "text"], [1, "tool_use"]])
    assert.strictEqual(starts[1].content_block.name, "Write")
    assert.match(starts[1].content_block.id, /^toolu_/)
    const text = evs.filter((e) => e.type === "content_block_delta" && e.index === 0).map((e) => e.delta.text).join("")
    assert.strictEqual(text, "Writing it.")
    const json = evs.filter((e) => e.type === "content_block_delta" && e.index === 1)
    assert.isTrue(json.every((e) => e.delta.type === "input_json_delta"))
    assert.deepStrictEqual(JSON.parse(json.map((e) => e.delta.partial_json).join("")), { file_path: "/x/a.txt", content: "hi" })
    assert.deepStrictEqual(evs.filter((e) => e.type === "content_block_stop").map((e) => e.index), [0, 1])
    const delta = evs.find((e) => e.type === "message_delta")
    assert.strictEqual(delta.delta.stop_reason, "tool_use")
    assert.isAbove(delta.usage.output_tokens, 0)
  })

  it("reports usage as the API does: message_start with the cache write split by lifetime and service_tier, message_delta cumulative", async () => {
    const usage = { input_tokens: 40, output_tokens: 9, cache_read_input_tokens: 500, cache_creation_input_tokens: 300, cache_creation_1h_input_tokens: 100 }
    const d = await start({ script: [Reply.text("hi", { usage })] })
    const evs = await sse(await post(d, { model: "m", max_tokens: 10, stream: true, tools, messages: [userText("go")] }))
    assert.deepStrictEqual(evs[0].message.usage, {
      input_tokens: 40,
      cache_creation_input_tokens: 300,
      cache_read_input_tokens: 500,
      output_tokens: 1,
      server_tool_use: { web_search_requests: 0, web_fetch_requests: 0 },
      cache_creation: { ephemeral_5m_input_tokens: 200, ephemeral_1h_input_tokens: 100 },
      service_tier: "standard"
    })
    assert.deepStrictEqual(evs.find((e) => e.type === "message_delta").usage, {
      input_tokens: 40,
      cache_creation_input_tokens: 300,
      cache_read_input_tokens: 500,
      output_tokens: 9,
      server_tool_use: { web_search_requests: 0, web_fetch_requests: 0 }
    })
  })

  it("answers non-streaming requests with one message, and count_tokens", async () => {
    const d = await start({ script: [Reply.text("hello")], usage: { input_tokens: 7, output_tokens: 3 } })
    const res = await post(d, { model: "m", max_tokens: 10, tools, messages: [userText("hi")] })
    const body = (await res.json()) as any
    assert.deepInclude(body, { type: "message", role: "assistant", stop_reason: "end_turn" })
    assert.deepStrictEqual(body.content, [{ type: "text", text: "hello" }])
    assert.deepInclude(body.usage, { input_tokens: 7, output_tokens: 3 })
    const count = await json(post(d, { model: "m", messages: [userText("hi")] }, "/v1/messages/count_tokens"))
    assert.isAbove(count.input_tokens, 0)
    assert.deepStrictEqual(d.requests.map((r) => r.kind), ["messages", "count_tokens"])
  })

  it("plays the script by turn (assistant messages in the history) and by the prompt marker; records tool results", async () => {
    const d = await start({ script: [Reply.text("default")] })
    d.script("edit", [Reply.write("/r/a.txt", "1"), Reply.text("done editing")])
    const first = { model: "m", max_tokens: 10, tools, messages: [userText(`please ${AnthropicApiDouble.AnthropicApiDouble.marker("edit")}`)] }
    const turn0 = await json(post(d, first))
    assert.strictEqual(turn0.content[0].name, "Write")
    const second = {
      ...first,
      messages: [
        ...first.messages,
        { role: "assistant", content: turn0.content },
        { role: "user", content: [{ type: "tool_result", tool_use_id: turn0.content[0].id, content: "File created" }] }
      ]
    }
    const turn1 = await json(post(d, second))
    assert.deepStrictEqual(turn1.content, [{ type: "text", text: "done editing" }])
    const other = await json(post(d, { ...first, messages: [userText("no marker")] }))
    assert.deepStrictEqual(other.content, [{ type: "text", text: "default" }])
    assert.deepStrictEqual(d.turns("edit").map((r) => r.turn), [0, 1])
    const withEnv = { ...first, messages: [{ role: "system", content: [{ type: "text", text: "# Environment\n - Primary working directory: /w/x y\n - Platform: linux" }] }, ...first.messages] }
    await post(d, withEnv).then((r) => r.text())
    assert.strictEqual(AnthropicApiDouble.workingDirectoryOf(d.turns("edit").at(-1)!), "/w/x y")
    assert.deepStrictEqual(d.toolResults("edit").map((t) => [t.tool_use_id, t.text]), [[turn0.content[0].id, "File created"]])
  })

  it("answers API errors with the API's error body: 401 authentication, 429 with retry-after, 529 overloaded; `times` then recovers", async () => {
    const d = await start()
    d.script("auth", [Reply.error(401)])
    d.script("busy", [Reply.error(529, { times: 1, then: Reply.text("recovered") })])
    d.script("rate", [Reply.error(429, { retryAfter: 2 })])
    const ask = (name: string) => post(d, { model: "m", max_tokens: 5, tools, messages: [userText(AnthropicApiDouble.AnthropicApiDouble.marker(name))] })
    const r401 = await ask("auth")
    assert.strictEqual(r401.status, 401)
    assert.deepInclude(((await r401.json()) as any).error, { type: "authentication_error" })
    const r429 = await ask("rate")
    assert.strictEqual(r429.status, 429)
    assert.strictEqual(r429.headers.get("retry-after"), "2")
    assert.deepInclude(((await r429.json()) as any).error, { type: "rate_limit_error" })
    const r529 = await ask("busy")
    assert.strictEqual(r529.status, 529)
    assert.deepInclude(((await r529.json()) as any).error, { type: "overloaded_error" })
    const again = await ask("busy")
    assert.strictEqual(again.status, 200)
    assert.deepStrictEqual(((await again.json()) as any).content, [{ type: "text", text: "recovered" }])
  })

  it("refuses a wrong API key when one is set, serves the start-up probe, and records unknown paths as refused", async () => {
    const d = await start({ apiKey: "sk-right" })
    const bad = await post(d, { model: "m", max_tokens: 5, tools, messages: [userText("x")] }, "/v1/messages", "sk-wrong")
    assert.strictEqual(bad.status, 401)
    const hello = await fetch(`${d.baseUrl}/api/hello`, { method: "HEAD" })
    assert.strictEqual(hello.status, 200)
    const unknown = await fetch(`${d.baseUrl}/api/feature-flags`)
    assert.strictEqual(unknown.status, 404)
    await unknown.text()
    assert.deepStrictEqual(d.others().map((r) => [r.path, r.status]), [["/api/hello", 200], ["/api/feature-flags", 404]])
    assert.strictEqual(d.requests[0]!.headers["x-api-key"], "<redacted>")
  })

  it("dynamic replies see the request (tool results included) before answering; a throw is a 500 kept in failures", async () => {
    const d = await start()
    const seen: Array<Array<string>> = []
    d.script("dyn", [
      Reply.bash("echo hi"),
      Reply.dynamic((req) => {
        seen.push(AnthropicApiDouble.toolResultsOf(req).map((t) => t.text))
        return Reply.text("checked")
      })
    ])
    d.script("boom", [Reply.dynamic(() => Promise.reject(new Error("check failed")))])
    const first = { model: "m", max_tokens: 10, tools, messages: [userText(AnthropicApiDouble.AnthropicApiDouble.marker("dyn"))] }
    const turn0 = await json(post(d, first))
    const turn1 = await json(post(d, {
      ...first,
      messages: [...first.messages, { role: "assistant", content: turn0.content }, {
        role: "user",
        content: [{ type: "tool_result", tool_use_id: turn0.content[0].id, content: [{ type: "text", text: "hi" }] }]
      }]
    }))
    assert.deepStrictEqual(seen, [["hi"]])
    assert.deepStrictEqual(turn1.content, [{ type: "text", text: "checked" }])
    const failed = await post(d, { ...first, messages: [userText(AnthropicApiDouble.AnthropicApiDouble.marker("boom"))] })
    assert.strictEqual(failed.status, 500)
    await failed.text()
    assert.lengthOf(d.failures, 1)
  })

  it("hangs on request when told to (waitFor sees the request) and close() drops the connection", async () => {
    const d = await start({ script: [Reply.hang()] })
    const pending = post(d, { model: "m", max_tokens: 5, stream: true, tools, messages: [userText("x")] }).then(
      () => "answered",
      () => "dropped"
    )
    const seen = await d.waitFor((r) => r.kind === "messages", 10_000)
    assert.strictEqual(seen.status, 0)
    await d.close()
    assert.strictEqual(await pending, "dropped")
  })
})
