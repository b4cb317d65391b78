import { AnthropicApiDouble, ClaudeCode } from "@parallel-cc/testkit"
import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "vitest"
import { keepTranscript, world } from "./support.js"

const { Reply } = AnthropicApiDouble

describe("the real Claude Code CLI against the Anthropic API double", () => {
  it("runs headless: init, Write/Edit/Bash tool calls with results sent back, a result with turns and cost; nothing else contacted", async () => {
    const w = await world()
    const file = path.join(w.repo.root, "notes.txt")
    w.api.script("edit", [
      Reply.write(file, "hello\n"),
      Reply.edit(file, "hello", "goodbye"),
      Reply.bash("cat notes.txt && echo from-bash"),
      Reply.text("All done.")
    ])
    const r = await ClaudeCode.runHeadless(`edit the notes ${AnthropicApiDouble.AnthropicApiDouble.marker("edit")}`, {
      cwd: w.repo.root,
      env: w.env
    })
    keepTranscript("headless", r.stdout)
    assert.strictEqual(r.code, 0, r.stderr)
    const init = ClaudeCode.initOf(r.events)
    assert.strictEqual(init?.claude_code_version, ClaudeCode.version)
    assert.strictEqual(init?.apiKeySource, "ANTHROPIC_API_KEY")
    assert.strictEqual(init?.cwd, w.repo.root)
    assert.includeMembers(init?.tools ?? [], ["Write", "Edit", "Bash"])
    assert.deepStrictEqual(ClaudeCode.toolUses(r.events).map((t) => t.name), ["Write", "Edit", "Bash"])
    const result = ClaudeCode.resultOf(r.events)
    assert.deepInclude(result, { subtype: "success", is_error: false, result: "All done.", num_turns: 4 })
    assert.isAbove(result?.total_cost_usd, 0)
    assert.strictEqual(fs.readFileSync(file, "utf8"), "goodbye\n")
    const results = w.api.toolResults("edit")
    assert.lengthOf(results, 3)
    assert.strictEqual(results[2]?.text, "goodbye\nfrom-bash")
    assert.deepStrictEqual(w.api.turns("edit").map((t) => t.turn), [0, 1, 2, 3])
    assert.deepStrictEqual(w.api.others(), [], "no request to anything but the Messages API")
  })
})

describe("API failures as the real CLI reports them", () => {
  it("401: one request, no retry, an error result naming the API key, exit 1", async () => {
    const w = await world({ api: { script: [Reply.error(401)] } })
    const r = await ClaudeCode.runHeadless("hello", { cwd: w.repo.root, env: w.env })
    assert.strictEqual(r.code, 1)
    const result = ClaudeCode.resultOf(r.events)
    assert.deepInclude(result, { is_error: true, terminal_reason: "api_error", api_error_status: 401 })
    assert.match(result?.result, /API key/i)
    assert.lengthOf(w.api.turns(), 1)
  })

  it("529: api_retry events, then an error result saying the API is overloaded, exit 1", async () => {
    const w = await world({ api: { script: [Reply.error(529)] }, maxRetries: 1 })
    const r = await ClaudeCode.runHeadless("hello", { cwd: w.repo.root, env: w.env })
    assert.strictEqual(r.code, 1)
    const retries = r.events.filter((e) => e.type === "system" && e.subtype === "api_retry")
    assert.deepStrictEqual(retries.map((e) => e.error_status), [529])
    const result = ClaudeCode.resultOf(r.events)
    assert.deepInclude(result, { is_error: true, terminal_reason: "api_error", api_error_status: 529 })
    assert.match(result?.result, /overloaded/i)
    assert.lengthOf(w.api.turns(), 2)
  })
})
