import { assert, describe, it } from "@effect/vitest"
import { AgentAdapters } from "@parallel-cc/core"
import { ScriptedAgent, TempDir } from "@parallel-cc/testkit"
import { Either } from "effect"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Redact from "../src/platform/redact.js"

const claude: AgentAdapters.Agent = { kind: "claude", setting: "claude", command: "claude", hostPath: "/usr/bin/claude" }

describe("AgentAdapters", () => {
  it("claude runs headless with stream-json; skipping permissions only inside an isolated sandbox; prompt on stdin", () => {
    const big = "x".repeat(200_000)
    const isolated = AgentAdapters.invocation(claude, { prompt: big, isolated: true })
    assert.deepStrictEqual(isolated.args, ["-p", "--output-format", "stream-json", "--verbose", "--dangerously-skip-permissions"])
    assert.deepStrictEqual(isolated.env, { IS_SANDBOX: "1" })
    assert.strictEqual(isolated.stdin, big)
    const plain = AgentAdapters.invocation(claude, { prompt: "p", isolated: false })
    assert.notInclude(plain.args, "--dangerously-skip-permissions")
    assert.notProperty(plain.env, "IS_SANDBOX")
    for (const kind of ["codex", "gemini", "custom"] as const) {
      const inv = AgentAdapters.invocation({ ...claude, kind }, { prompt: "secret task text", isolated: true })
      assert.notInclude(inv.args.join(" "), "secret task text")
      assert.strictEqual(inv.stdin, "secret task text")
    }
  })

  it("resolves built-in names, paths and PATH lookups; refuses what is not executable", () => {
    const dir = TempDir.makeSync()
    try {
      fs.writeFileSync(path.join(dir, "not-exec"), "#!/bin/sh\n")
      fs.symlinkSync(ScriptedAgent.path, path.join(dir, "my-agent"))
      const byPath = AgentAdapters.resolve("./my-agent", { pathEnv: "", cwd: dir })
      assert.isTrue(Either.isRight(byPath) && byPath.right.kind === "custom" && byPath.right.hostPath === fs.realpathSync(ScriptedAgent.path))
      const byName = AgentAdapters.resolve("my-agent", { pathEnv: dir, cwd: "/" })
      assert.isTrue(Either.isRight(byName) && byName.right.kind === "custom")
      assert.isTrue(Either.isLeft(AgentAdapters.resolve("./not-exec", { pathEnv: "", cwd: dir })))
      assert.isTrue(Either.isLeft(AgentAdapters.resolve("no-such-agent-xyz", { pathEnv: dir, cwd: dir })))
      const builtin = AgentAdapters.resolve("claude", { pathEnv: dir, cwd: dir })
      assert.isTrue(Either.isRight(builtin) && builtin.right.kind === "claude" && builtin.right.hostPath === undefined)
    } finally {
      TempDir.removeSync(dir)
    }
  })

  it("decodes the scripted agent's real stream-json, tolerating unknown events and garbage lines", () => {
    const r = spawnSync(process.execPath, [ScriptedAgent.path, "-p", "--output-format", "stream-json", "--verbose"], {
      input: ScriptedAgent.prompt("t", { actions: [{ say: "hi" }, { write: "a.txt", content: "x" }], cost: 0.5 }),
      cwd: TempDir.makeSync(),
      encoding: "utf8"
    })
    const d = AgentAdapters.decoder("claude")
    const lines = [
      ...r.stdout.split("\n").filter((l) => l !== ""),
      JSON.stringify({ type: "stream_event", event: { delta: 1 } }),
      JSON.stringify({ type: "assistant", message: "not the usual shape" }),
      "{not json",
      "plain text"
    ]
    const decoded = lines.map(d.line)
    const human = decoded.flatMap((x) => x.lines)
    assert.include(human, "assistant: hi")
    assert.include(human, "tool Write: a.txt")
    assert.include(human, "out: plain text")
    const outcome = decoded.find((x) => x.outcome !== undefined)?.outcome
    assert.deepInclude(outcome, { subtype: "success", isError: false, numTurns: 2, costUsd: 0.5 })
  })

  it("decodes codex and gemini events into the same outcome", () => {
    const codex = AgentAdapters.decoder("codex")
    for (
      const e of [
        { type: "thread.started", thread_id: "t" },
        { type: "item.completed", item: { id: "1", type: "agent_message", text: "working" } },
        { type: "item.completed", item: { id: "2", type: "file_change", changes: [{ path: "a.ts", kind: "add" }] } },
        { type: "turn.completed", usage: { input_tokens: 1 } },
        { type: "brand.new.event" }
      ]
    ) codex.line(JSON.stringify(e))
    assert.deepInclude(codex.end(0).outcome, { isError: false, numTurns: 1 })
    const gemini = AgentAdapters.decoder("gemini")
    gemini.line(JSON.stringify({ type: "init", model: "g" }))
    gemini.line(JSON.stringify({ type: "message", role: "assistant", content: "he", delta: true }))
    gemini.line(JSON.stringify({ type: "message", role: "assistant", content: "llo", delta: true }))
    const tool = gemini.line(JSON.stringify({ type: "tool_use", tool_name: "write_file", parameters: { file_path: "b.ts" } }))
    assert.deepStrictEqual(tool.lines, ["assistant: hello", "tool write_file: b.ts"])
    const res = gemini.line(JSON.stringify({ type: "result", status: "error", error: { message: "quota" }, stats: { duration_ms: 5 } }))
    assert.deepInclude(res.outcome, { isError: true, durationMs: 5 })
  })

  it("redacts secrets, multi-line keys line by line and in their JSON-escaped form", () => {
    const key = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\nAAAAAAAAAAEAAAAzAAAAC3NzaC1lZDI1NTE5AAAA\n-----END OPENSSH PRIVATE KEY-----\n"
    const r = Redact.make(["sk-ant-api03-SECRETSECRET", key, "short"])
    assert.strictEqual(r("key=sk-ant-api03-SECRETSECRET!"), `key=${Redact.MARK}!`)
    assert.notInclude(r(JSON.stringify({ env: key })), "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ")
    assert.notInclude(r(`cat: b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ`), "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ")
    assert.strictEqual(r("short stays"), "short stays")
  })
})
