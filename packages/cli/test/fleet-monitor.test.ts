/**
 * The fleet monitor of a live session (run by `parallel-cc watch session`, as claude-parallel runs it beside
 * the agent): the person is notified once per state change (needs-input, idle), and a spent budget blocks
 * the session's next tool call through the real session hook, with the reason. The desktop notifier is a
 * stand-in `notify-send` on PATH that records its arguments (the desktop is the unreachable edge).
 */
import { SessionHooks } from "@parallel-cc/core"
import { Cli, TempDir, TempRepo } from "@parallel-cc/testkit"
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, assert, describe, it } from "vitest"

const dirs: Array<string> = []
const children: Array<ChildProcess> = []
afterEach(() => {
  for (const c of children.splice(0)) c.kill("SIGKILL")
  for (const d of dirs.splice(0)) TempDir.removeSync(d)
})

const until = async (what: string, cond: () => boolean, show: () => string, timeoutMs = 60_000) => {
  const started = Date.now()
  while (!cond()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}\n${show()}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

const world = (extraEnv: Record<string, string> = {}) => {
  const base = TempDir.makeSync()
  dirs.push(base)
  const repo = TempRepo.makeSync(base, { files: { "README.md": "# r\n" } })
  const data = path.join(base, "data")
  const bin = path.join(base, "bin")
  const notes = path.join(base, "notes")
  fs.mkdirSync(bin)
  // The stand-in desktop notifier: one line per call, its arguments separated by |.
  fs.writeFileSync(path.join(bin, "notify-send"), `#!/bin/sh\nIFS='|'; printf '%s\\n' "$*" >> '${notes}'\n`, { mode: 0o755 })
  const env: Record<string, string> = {
    ...repo.env,
    PATH: `${bin}:${process.env.PATH ?? "/usr/bin:/bin"}`,
    PARALLEL_CC_DATA_DIR: data,
    ...extraEnv
  }
  const agent = spawn("sleep", ["600"], { stdio: "ignore" })
  children.push(agent)
  const r = Cli.runSync(["register", "--repo", repo.root, "--pid", String(agent.pid), "--name", "solo", "--json"], { env, cwd: repo.root })
  assert.strictEqual(r.code, 0, r.stderr)
  const sessionId = (Cli.json(r) as { sessionId: string }).sessionId
  const dir = path.join(data, "live", sessionId)
  const notified = () => (fs.existsSync(notes) ? fs.readFileSync(notes, "utf8").trim().split("\n").filter((l) => l !== "") : [])
  const watch = async () => {
    const p = spawn(process.execPath, [Cli.binPath, "watch", "session", sessionId], { cwd: repo.root, env })
    children.push(p)
    let out = ""
    p.stdout.on("data", (d: Buffer) => (out += d.toString()))
    p.stderr.on("data", (d: Buffer) => (out += d.toString()))
    // The monitor starts before the watcher's first scan, which this line reports.
    await until("the watcher", () => out.includes("watching session"), () => out)
    return p
  }
  return { base, repo, data, env, sessionId, dir, notified, watch }
}

describe("fleet monitor (watch session)", () => {
  it("notifies once per change into needs-input or idle, never for the state it started with", async () => {
    const w = world()
    fs.writeFileSync(path.join(w.dir, "state"), "working\n")
    await w.watch()
    fs.writeFileSync(path.join(w.dir, "state"), "needs-input\n")
    await until("a needs-input notification", () => w.notified().length === 1, () => w.notified().join("\n"))
    assert.match(w.notified()[0]!, /^--app-name=parallel-cc\|--\|parallel-cc: input needed\|solo( \(parallel\/solo\))? needs your input$/)
    fs.writeFileSync(path.join(w.dir, "state"), "working\n")
    fs.writeFileSync(path.join(w.dir, "state"), "idle\n")
    await until("an idle notification", () => w.notified().length === 2, () => w.notified().join("\n"))
    assert.match(w.notified()[1]!, /turn finished\|solo( \(parallel\/solo\))? finished its turn$/)
    // A second watcher of the same session (two processes looking) does not notify the same change again.
    await w.watch()
    fs.writeFileSync(path.join(w.dir, "state"), "needs-input\n")
    await until("the next needs-input notification", () => w.notified().length === 3, () => w.notified().join("\n"))
    fs.writeFileSync(path.join(w.dir, "state"), "working\n")
    fs.writeFileSync(path.join(w.dir, "state"), "idle\n")
    await until("the next idle notification", () => w.notified().length >= 4, () => w.notified().join("\n"))
    // Both watchers saw the last two changes; each change was notified once (claimed in the session directory).
    assert.deepStrictEqual(w.notified().map((l) => l.split("|")[2]), [
      "parallel-cc: input needed",
      "parallel-cc: turn finished",
      "parallel-cc: input needed",
      "parallel-cc: turn finished"
    ])
  })

  it("a spent daily budget: the agent is told, the person notified, and the session's next tool call refused by the hook with the reason", async () => {
    const w = world({ PARALLEL_CC_BUDGET_DAILY_USD: "0.5", PARALLEL_CC_NOTIFY_EVENTS: "[\"budget\"]" })
    fs.writeFileSync(path.join(w.dir, "state"), "working\n")
    // $3 / $15 per million tokens: 100 000 in + 20 000 out = $0.60, over the $0.50 budget.
    const transcript = path.join(w.base, "t.jsonl")
    fs.writeFileSync(transcript, JSON.stringify({
      type: "assistant",
      timestamp: new Date(Date.now() + 1000).toISOString(),
      message: {
        id: "msg_1",
        role: "assistant",
        model: "claude-sonnet-4-5",
        content: [{ type: "text", text: "ok" }],
        usage: { input_tokens: 100_000, output_tokens: 20_000, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 }
      }
    }) + "\n")
    fs.writeFileSync(path.join(w.dir, "transcript"), `${transcript}\n`)
    await w.watch()
    const block = path.join(w.dir, "block")
    await until("the block", () => fs.existsSync(block) && fs.readFileSync(block, "utf8").trim() !== "", () => w.notified().join("\n"))
    await until("the budget notification", () => w.notified().some((l) => l.includes("budget spent")), () => w.notified().join("\n"))
    assert.lengthOf(w.notified(), 1, "one notification for the period, and none for the state (notify.events)")
    const notices = fs.readdirSync(path.join(w.dir, "notices"))
    assert.lengthOf(notices, 1)
    assert.include(fs.readFileSync(path.join(w.dir, "notices", notices[0]!), "utf8"), "the daily budget of $0.50 is spent ($0.60")

    // The real hook, as Claude Code runs it before a tool call.
    const hookEnv = { PATH: process.env.PATH ?? "/usr/bin:/bin", PARALLEL_CC_SESSION_DIR: w.dir }
    const input = JSON.stringify({ session_id: "s", hook_event_name: "PreToolUse", tool_name: "Bash", tool_input: { command: "ls" } }) + "\n"
    const r = spawnSync("/bin/sh", ["-c", SessionHooks.sessionHookCommand(Cli.sessionHookPath, "pre")], { env: hookEnv, input, encoding: "utf8" })
    assert.strictEqual(r.status, 0, r.stderr)
    const out = JSON.parse(r.stdout) as { hookSpecificOutput: { permissionDecision: string; permissionDecisionReason: string } }
    assert.strictEqual(out.hookSpecificOutput.permissionDecision, "deny")
    assert.match(out.hookSpecificOutput.permissionDecisionReason, /daily budget of \$0\.50 is spent \(\$0\.60\); tool calls are refused.*budget\.dailyUsd/)
  })
})
