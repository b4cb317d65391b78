// The floor of the MCP bench: a bare MCP SDK server on stdio with one no-op tool (what any MCP server costs).
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js"
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js"

const server = new McpServer({ name: "bare", version: "0.0.0" }, { capabilities: { tools: {} } })
server.registerTool("noop", { description: "does nothing" }, async () => ({ content: [{ type: "text", text: "ok" }] }))
process.stdin.once("end", () => process.exit(0))
await server.connect(new StdioServerTransport())
