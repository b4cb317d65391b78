import { AnthropicApiDouble, Cli } from "@parallel-cc/testkit"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "vitest"
import { installAll, status, world } from "./support.js"

const { Reply } = AnthropicApiDouble
const marker = AnthropicApiDouble.AnthropicApiDouble.marker

const until = async <A>(what: string, f: () => A | undefined, timeoutMs = 60_000): Promise<A> => {
  const end = Date.now() + timeoutMs
  for (;;) {
    const v = f()
    if (v !== undefined) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

describe("agent state from the session hook, with the real Claude Code", () => {
  it("starting → working during the turn → idle after it (the process still running) → gone with the session; the transcript path is recorded", async () => {
    const w = await world()
    installAll(w)
    const seen: Array<string> = []
    let dir = ""
    const stateNow = () => fs.readFileSync(path.join(dir, "state"), "utf8").trim()
    w.api.script("s", [
      Reply.dynamic(() => {
        const s = status(w).sessions[0]!
        dir = path.join(w.dataDir, "live", s.sessionId)
        seen.push(stateNow())
        return Reply.bash("true")
      }),
      Reply.dynamic(() => {
        seen.push(stateNow())
        return Reply.text("turn done")
      })
    ])
    // Multi-turn over stdin (stream-json): the process waits for the next prompt after its turn.
    const child = spawn(process.execPath, [
      Cli.wrapperPath,
      "-p",
      "--input-format",
      "stream-json",
      "--output-format",
      "stream-json",
      "--verbose",
      "--dangerously-skip-permissions"
    ], { cwd: w.repo.root, env: w.env, stdio: ["pipe", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (d) => (stdout += d))
    child.stderr.setEncoding("utf8").on("data", (d) => (stderr += d))
    const closed = new Promise<number | null>((r) => child.on("close", (code) => r(code)))
    try {
      // Registered, no prompt yet: starting.
      const first = await until("the session", () => status(w).sessions[0])
      const startDir = path.join(w.dataDir, "live", first.sessionId)
      // The row is visible a moment before register has written the session directory: wait for the file.
      const readState = () => {
        try {
          return fs.readFileSync(path.join(startDir, "state"), "utf8").trim()
        } catch {
          return undefined
        }
      }
      assert.strictEqual(await until("the session's state file", readState), "starting")
      child.stdin.write(JSON.stringify({ type: "user", message: { role: "user", content: `go ${marker("s")}` } }) + "\n")
      await until("the turn's result", () => (stdout.includes("\"type\":\"result\"") ? true : undefined))
      const idle = await until("state idle", () => (dir !== "" && stateNow() === "idle" ? stateNow() : undefined), 30_000)
      const since = fs.statSync(path.join(dir, "state")).mtimeMs
      assert.isTrue(child.exitCode === null, "the agent still runs, waiting for its next prompt")
      assert.strictEqual(idle, "idle")
      assert.deepStrictEqual(seen, ["working", "working"])
      const transcript = fs.readFileSync(path.join(dir, "transcript"), "utf8").trim()
      assert.isTrue(fs.existsSync(transcript), transcript)
      assert.match(transcript, /\.jsonl$/)
      const turnAsked = w.api.turns("s").at(-1)!.at
      assert.isAbove(since, turnAsked - 1000, "stateSince is when the turn ended")
      child.stdin.end()
      assert.strictEqual(await closed, 0, stderr)
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL")
    }
    assert.deepStrictEqual(w.api.failures, [])
    assert.isFalse(fs.existsSync(dir), "the session directory goes with the session")
    assert.deepStrictEqual(status(w).sessions, [])
  })
})
