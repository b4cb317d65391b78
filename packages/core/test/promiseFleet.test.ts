/**
 * The fleet fields through the Promise facade: `sessions.list` gives each session's agent state and usage,
 * and `sessions.watch()` yields the sessions, then what changes (state, usage, an ended session).
 */
import { createClient, InvalidInput, type SessionChange } from "@parallel-cc/core/promise"
import { TempDir, TempRepo } from "@parallel-cc/testkit"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, assert, describe, it } from "vitest"

const dirs: Array<string> = []
afterEach(() => {
  for (const d of dirs.splice(0)) TempDir.removeSync(d)
})

describe("Promise facade: agent state and usage", () => {
  it("sessions.list gives state, stateSince and usage; sessions.watch yields added, changed and removed", async () => {
    const base = TempDir.makeSync("pcc-promise-fleet-")
    dirs.push(base)
    const repo = TempRepo.makeSync(base, { files: { "a.txt": "a\n" } })
    const data = path.join(base, "data")
    const client = createClient({ dataDir: data, homeDir: base })
    const agent = spawn("sleep", ["600"], { stdio: "ignore" })
    try {
      const s = await client.sessions.register({ repoPath: repo.root, pid: agent.pid! })
      const dir = path.join(data, "live", s.sessionId)
      fs.writeFileSync(path.join(dir, "state"), "working\n")
      const transcript = path.join(base, "t.jsonl")
      fs.writeFileSync(transcript, JSON.stringify({
        type: "assistant",
        timestamp: new Date(Date.now() + 1000).toISOString(),
        message: {
          id: "msg_1",
          role: "assistant",
          model: "claude-opus-4-5",
          content: [{ type: "text", text: "ok" }],
          usage: { input_tokens: 1000, output_tokens: 100, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 }
        }
      }) + "\n")
      fs.writeFileSync(path.join(dir, "transcript"), `${transcript}\n`)

      const [listed] = await client.sessions.list({ repoPath: repo.root })
      assert.strictEqual(listed!.state, "working")
      assert.strictEqual(listed!.stateSince, fs.statSync(path.join(dir, "state")).mtime.toISOString())
      // Opus 4.5: $5 in, $25 out per million tokens.
      assert.deepInclude(listed!.usage, { known: true, costUsd: 0.0075, requests: 1 })

      const controller = new AbortController()
      const seen: Array<SessionChange> = []
      const watching = (async () => {
        for await (const c of client.sessions.watch({ repoPath: repo.root, intervalMs: 100 }, { signal: controller.signal })) {
          seen.push(c)
          if (c.type === "added") fs.writeFileSync(path.join(dir, "state"), "needs-input\n")
          if (c.type === "changed" && c.session.state === "needs-input") await client.sessions.release({ sessionId: s.sessionId })
          if (c.type === "removed") controller.abort()
        }
      })()
      await watching
      assert.deepStrictEqual(seen.map((c) => [c.type, c.session.state]), [
        ["added", "working"],
        ["changed", "needs-input"],
        ["removed", "needs-input"]
      ])

      const bad = await (async () => {
        try {
          for await (const _ of client.sessions.watch({ intervalMs: 1 })) break
        } catch (e) {
          return e
        }
      })()
      assert.instanceOf(bad, InvalidInput)
    } finally {
      agent.kill("SIGKILL")
      await client.close()
    }
  })
})
