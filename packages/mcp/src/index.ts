/**
 * @parallel-cc/mcp — the parallel-cc MCP server.
 *
 * @since 0.1.0
 */
export * as Caller from "./Caller.js"
export * as Server from "./Server.js"
export * as Tool from "./Tool.js"
