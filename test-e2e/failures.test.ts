import { AnthropicApiDouble, ClaudeCode } from "@parallel-cc/testkit"
import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "vitest"
import { claudeParallel, dbRows, keepTranscript, pccJson, status, world } from "./support.js"

const { Reply } = AnthropicApiDouble

describe("failure paths with the real Claude Code", () => {
  for (const [status_, pattern] of [[401, /Invalid API key/], [529, /529 Overloaded/]] as const) {
    it(`claude-parallel, API answers ${status_}: the agent's error result reaches our output, exit 1, the session is released`, async () => {
      const w = await world({ api: { script: [Reply.error(status_)] }, maxRetries: 1 })
      const r = await claudeParallel(w, ClaudeCode.headlessArgs("do something"))
      keepTranscript(`claude-parallel-${status_}`, r.stdout)
      assert.strictEqual(r.code, 1, r.stderr)
      const result = ClaudeCode.resultOf(r.events)
      assert.deepInclude(result, { is_error: true, api_error_status: status_, terminal_reason: "api_error" })
      assert.match(result?.result, pattern)
      const after = status(w)
      assert.deepStrictEqual(after.sessions, [], "no session left active")
      assert.deepStrictEqual(after.kept, [], "nothing kept: the agent changed nothing")
      const rows = dbRows(w, "SELECT status, release_reason, ended_at, is_main FROM sessions")
      assert.lengthOf(rows, 1)
      assert.deepInclude(rows[0], { status: "released", release_reason: "released", is_main: 1 })
      assert.isNumber(rows[0]!.ended_at)
    })
  }

  it("the agent killed mid-turn (SIGKILL while its API call is pending): the wrapper releases the session and keeps the worktree's work", async () => {
    const w = await world()
    // Someone else has the repository, so this session gets a worktree.
    const first = pccJson(w, ["register", "--repo", w.repo.root, "--pid", String(process.pid)])
    w.api.script("killed", [Reply.bash("printf 'half done\\n' > wip.txt && pwd"), Reply.hang()])
    const pending = w.api.waitFor((r) => r.script === "killed" && r.turn === 1)
    const run = claudeParallel(w, ClaudeCode.headlessArgs(`work ${AnthropicApiDouble.AnthropicApiDouble.marker("killed")}`))
    await pending
    const mine = status(w).sessions.find((s) => s.sessionId !== first.sessionId)!
    assert.ok(mine, "the wrapper's session is active while the agent waits for the API")
    // After start-up the session belongs to the agent's process (the wrapper hands it over): kill that one.
    process.kill(mine.pid, "SIGKILL")
    const r = await run
    keepTranscript("claude-parallel-killed", r.stdout)
    assert.strictEqual(r.code, 128 + 9, r.stderr)
    const cwd = AnthropicApiDouble.toolResultsOf(await pending)[0]!.text.trim()
    assert.strictEqual(cwd, mine.worktreePath)
    const after = status(w)
    assert.deepStrictEqual(after.sessions.map((s) => s.sessionId), [first.sessionId], "only the other session is still active")
    const kept = after.kept.find((s) => s.sessionId === mine.sessionId)
    assert.ok(kept, `the killed session's worktree is kept: ${JSON.stringify(after)}`)
    assert.strictEqual(fs.readFileSync(path.join(mine.worktreePath, "wip.txt"), "utf8"), "half done\n")
    assert.match(r.stderr, /kept/)
    const [row] = dbRows(w, "SELECT status, kept_reason FROM sessions WHERE id = ?", mine.sessionId)
    assert.strictEqual(row?.status, "released")
    assert.isString(row?.kept_reason)
  })
})
