import { ScriptedAgent, TempDir } from "@parallel-cc/testkit"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, assert, describe, it } from "vitest"

const dirs: Array<string> = []
afterEach(() => dirs.splice(0).forEach(TempDir.removeSync))
const run = (args: Array<string>, opts: { cwd: string; env?: Record<string, string>; input?: string }) =>
  spawnSync(process.execPath, [ScriptedAgent.path, ...args], {
    cwd: opts.cwd,
    env: { PATH: process.env.PATH!, HOME: opts.cwd, ...opts.env },
    input: opts.input ?? "",
    encoding: "utf8"
  })
const events = (stdout: string) => stdout.trim().split("\n").map((l) => JSON.parse(l))

describe("scripted agent (stand-in for the claude CLI)", () => {
  it("headless stream-json: init, tool_use/tool_result per edit, one result with turns and cost; edits in cwd", () => {
    const cwd = TempDir.makeSync()
    dirs.push(cwd)
    fs.writeFileSync(path.join(cwd, "old.txt"), "old")
    fs.writeFileSync(path.join(cwd, "app.ts"), "export const x = 1\n")
    const script: ScriptedAgent.Script = {
      actions: [
        { write: "new.txt", content: "hello" },
        { edit: "app.ts", find: "1", replace: "2" },
        { delete: "old.txt" }
      ],
      cost: 0.042
    }
    const r = run(["-p", "do it", "--output-format", "stream-json", "--verbose"], { cwd, env: ScriptedAgent.env(script) })
    assert.strictEqual(r.status, 0, r.stderr)
    const ev = events(r.stdout)
    assert.strictEqual(ev[0].type, "system")
    assert.strictEqual(ev[0].subtype, "init")
    assert.deepStrictEqual(ev.filter((e) => e.type === "assistant").map((e) => e.message.content[0].name), ["Write", "Edit", "Bash"])
    assert.lengthOf(ev.filter((e) => e.type === "user"), 3)
    const result = ev[ev.length - 1]
    assert.deepInclude(result, { type: "result", subtype: "success", is_error: false, num_turns: 3, total_cost_usd: 0.042 })
    assert.strictEqual(fs.readFileSync(path.join(cwd, "new.txt"), "utf8"), "hello")
    assert.strictEqual(fs.readFileSync(path.join(cwd, "app.ts"), "utf8"), "export const x = 2\n")
    assert.isFalse(fs.existsSync(path.join(cwd, "old.txt")))
  })

  it("follows the real CLI's rules: stream-json needs --verbose, prompt from stdin, error results exit 1, max turns", () => {
    const cwd = TempDir.makeSync()
    dirs.push(cwd)
    const noVerbose = run(["-p", "x", "--output-format", "stream-json"], { cwd })
    assert.strictEqual(noVerbose.status, 1)
    assert.include(noVerbose.stderr, "requires --verbose")

    const stdin = run(["-p", "--output-format", "json"], { cwd, input: "prompt from stdin" })
    assert.strictEqual(stdin.status, 0, stdin.stderr)
    assert.isTrue(fs.existsSync(path.join(cwd, "agent-notes/prompt-from-stdin.md")))

    const failing = run(["-p", ScriptedAgent.prompt("t", { actions: [{ fail: "boom" }] }), "--output-format", "stream-json", "--verbose"], { cwd })
    assert.strictEqual(failing.status, 1)
    assert.deepInclude(events(failing.stdout).at(-1), { type: "result", is_error: true, errors: ["boom"] })

    const turns = run(["-p", "t", "--max-turns", "1", "--output-format", "json"], {
      cwd,
      env: ScriptedAgent.env({ actions: [{ write: "a", content: "" }, { write: "b", content: "" }] })
    })
    assert.strictEqual(turns.status, 1)
    assert.strictEqual(JSON.parse(turns.stdout).subtype, "error_max_turns")

    const unknown = run(["--no-such-flag"], { cwd })
    assert.strictEqual(unknown.status, 1)
    assert.include(unknown.stderr, "unknown option")
  })

  it("runs PostToolUse command hooks from the project settings with the hook JSON on stdin", () => {
    const cwd = TempDir.makeSync()
    dirs.push(cwd)
    fs.mkdirSync(path.join(cwd, ".claude"))
    const log = path.join(cwd, "hook.log")
    fs.writeFileSync(path.join(cwd, ".claude/settings.json"), JSON.stringify({
      hooks: { PostToolUse: [{ matcher: "Write|Edit", hooks: [{ type: "command", command: `cat >> ${log}; echo >> ${log}` }] }] }
    }))
    const r = run(["-p", "t"], { cwd, env: ScriptedAgent.env({ actions: [{ write: "a.txt", content: "1" }, { run: ["true"] }] }) })
    assert.strictEqual(r.status, 0, r.stderr)
    const calls = fs.readFileSync(log, "utf8").trim().split("\n").map((l) => JSON.parse(l))
    assert.lengthOf(calls, 1)
    assert.deepInclude(calls[0], { hook_event_name: "PostToolUse", tool_name: "Write", cwd })
  })
})
