import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js"
import { AnthropicApiDouble, ClaudeCode, Cli } from "@parallel-cc/testkit"
import { assert, describe, it } from "vitest"
import { claudeParallel, installAll, keepTranscript, status, world, type World } from "./support.js"

const { Reply } = AnthropicApiDouble
const marker = AnthropicApiDouble.AnthropicApiDouble.marker

/** The tools our server lists, asked with the real MCP client (the source of truth for "all our tools"). */
const serverTools = async (w: World): Promise<Array<string>> => {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [Cli.binPath, "mcp", "serve"],
    cwd: w.repo.root,
    env: w.env,
    stderr: "pipe"
  })
  const client = new Client({ name: "e2e", version: "0.0.0" })
  await client.connect(transport)
  try {
    return (await client.listTools()).tools.map((t) => t.name).sort()
  } finally {
    await client.close()
  }
}

const claimsInDb = async (w: World) => Cli.json((await Cli.run(["claims", "--json"], { cwd: w.repo.root, env: w.env }))).claims

describe("our MCP server inside a real Claude Code session", () => {
  it("after install --all: init shows parallel-cc connected with all its tools; in a claude-parallel session claim_file puts the claim in the DB, release_file removes it", async () => {
    const w = await world({ files: { "src/app.ts": "export const a = 1\n" } })
    installAll(w)
    const checkpoints: Record<string, unknown> = {}
    w.api.script("claims", [
      Reply.mcp("claim_file", { path: "src/app.ts", mode: "EXCLUSIVE", reason: "e2e edit" }),
      Reply.dynamic(async () => {
        checkpoints.session = status(w).sessions[0]
        checkpoints.afterClaim = await claimsInDb(w)
        return Reply.mcp("release_file", { path: "src/app.ts" })
      }),
      Reply.dynamic(async () => {
        checkpoints.afterRelease = await claimsInDb(w)
        return Reply.text("Claimed and released.")
      })
    ])
    const r = await claudeParallel(w, ClaudeCode.headlessArgs(`claim the file ${marker("claims")}`))
    keepTranscript("mcp-claims", r.stdout)
    assert.strictEqual(r.code, 0, r.stderr + r.stdout)
    assert.deepStrictEqual(w.api.failures, [])

    const init = ClaudeCode.initOf(r.events)
    const server = (init?.mcp_servers ?? []).find((s: any) => s.name === "parallel-cc")
    assert.strictEqual(server?.status, "connected", JSON.stringify(init?.mcp_servers))
    const ours = (init?.tools as Array<string>).filter((t) => t.startsWith("mcp__parallel-cc__")).sort()
    const expected = (await serverTools(w)).map((t) => AnthropicApiDouble.mcpToolName(t))
    assert.includeMembers(expected, ["mcp__parallel-cc__claim_file", "mcp__parallel-cc__release_file"])
    assert.deepStrictEqual(ours, expected.sort())

    const [claimed, released] = w.api.toolResults("claims")
    assert.notOk(claimed?.is_error, claimed?.text)
    assert.match(claimed!.text, /"filePath":\s*"src\/app\.ts"/)
    assert.notOk(released?.is_error, released?.text)
    const after = checkpoints.afterClaim as Array<any>
    assert.lengthOf(after, 1)
    const session = checkpoints.session as Record<string, any>
    assert.deepInclude(after[0], { filePath: "src/app.ts", mode: "EXCLUSIVE", sessionId: session.sessionId, reason: "e2e edit" })
    assert.deepStrictEqual(checkpoints.afterRelease, [])
    const result = ClaudeCode.resultOf(r.events)
    assert.deepInclude(result, { subtype: "success", is_error: false, num_turns: 3 })
    assert.isAbove(result?.total_cost_usd, 0)
    assert.deepStrictEqual(status(w).sessions, [], "the session ended with the agent")
  })
})
