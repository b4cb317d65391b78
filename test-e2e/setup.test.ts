import { AnthropicApiDouble, Cli, ClaudeCode } from "@parallel-cc/testkit"
import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "vitest"
import { keepTranscript, type World, world } from "./support.js"

const { Reply } = AnthropicApiDouble

/** PATH without the directory of the real claude binary (our installer then writes ~/.claude.json itself). */
const withoutClaude = (env: Record<string, string>) => ({
  ...env,
  PATH: env.PATH!.split(path.delimiter).filter((d) => d !== ClaudeCode.binDir()).join(path.delimiter)
})

/**
 * After `install`, the real Claude Code must run our hook (by its absolute path) on every tool call and
 * connect to our MCP server — the two things the original tool's installer got wrong.
 */
const agentUsesTheInstallation = async (w: World, name: string) => {
  const beat = path.join(w.dataDir, "beat")
  fs.writeFileSync(beat, "")
  const old = new Date(Date.now() - 3_600_000)
  fs.utimesSync(beat, old, old)
  w.api.script(name, [Reply.mcp("get_parallel_status", {}), Reply.bash("echo hi"), Reply.text("done")])
  const r = await ClaudeCode.runHeadless(`status please ${AnthropicApiDouble.AnthropicApiDouble.marker(name)}`, {
    cwd: w.repo.root,
    env: { ...w.env, PARALLEL_CC_HEARTBEAT_FILE: beat }
  })
  keepTranscript(name, r.stdout)
  assert.strictEqual(r.code, 0, r.stderr)
  const init = ClaudeCode.initOf(r.events)
  assert.deepInclude(init?.mcp_servers ?? [], { name: "parallel-cc", status: "connected", source: "user" }, JSON.stringify(init?.mcp_servers))
  assert.include(init?.tools ?? [], AnthropicApiDouble.mcpToolName("get_parallel_status"))
  const results = w.api.toolResults(name)
  assert.lengthOf(results, 2)
  assert.notStrictEqual(results[0]?.is_error, true, results[0]?.text)
  assert.include(results[0]?.text, "sessions")
  assert.isAbove(fs.statSync(beat).mtimeMs, old.getTime() + 60_000, "the heartbeat hook ran")
}

describe("install with the real Claude Code", () => {
  it("claude on PATH: `claude mcp add` registers the server; the agent connects to it and runs the hook; uninstall removes both", async () => {
    const w = await world()
    const env = { ...w.env, SHELL: "/bin/bash" }
    const inst = Cli.runSync(["install", "--hooks", "--mcp", "--json"], { cwd: w.repo.root, env })
    assert.strictEqual(inst.code, 0, inst.stderr)
    const report = Cli.json(inst)
    assert.deepStrictEqual(report.changes.map((c: any) => [c.piece, c.action]), [["hooks", "created"], ["mcp", "created"]])
    assert.strictEqual(report.changes[1].via, "claude-cli")
    const status = Cli.json(Cli.runSync(["install", "--status", "--json"], { cwd: w.repo.root, env }))
    const states = Object.fromEntries(status.pieces.filter((p: any) => p.scope !== "local").map((p: any) => [p.piece, p.state]))
    assert.deepInclude(states, { hooks: "installed", mcp: "installed" })

    await agentUsesTheInstallation(w, "via-cli")

    const un = Cli.runSync(["install", "--uninstall", "--hooks", "--mcp", "--json"], { cwd: w.repo.root, env })
    assert.strictEqual(un.code, 0, un.stderr)
    const claudeJson = JSON.parse(fs.readFileSync(path.join(w.home, ".claude.json"), "utf8"))
    assert.notProperty(claudeJson.mcpServers ?? {}, "parallel-cc")
    const settings = path.join(w.home, ".claude", "settings.json")
    assert.isFalse(fs.existsSync(settings) && fs.readFileSync(settings, "utf8").includes("session-hook.sh"))
  })

  it("claude not on PATH at install time: the entry written into ~/.claude.json works with the real CLI", async () => {
    const w = await world()
    const env = { ...withoutClaude(w.env), SHELL: "/bin/bash" }
    const inst = Cli.runSync(["install", "--hooks", "--mcp", "--json"], { cwd: w.repo.root, env })
    assert.strictEqual(inst.code, 0, inst.stderr)
    assert.strictEqual(Cli.json(inst).changes[1].via, "file")
    await agentUsesTheInstallation(w, "via-file")
    // The real CLI reads back what we wrote.
    const get = await ClaudeCode.run(ClaudeCode.binary(), ["mcp", "get", "parallel-cc"], { cwd: w.repo.root, env: w.env })
    assert.strictEqual(get.code, 0, get.stderr)
    assert.include(get.stdout, "mcp serve")
  })
})
