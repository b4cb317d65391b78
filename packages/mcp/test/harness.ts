/**
 * Test harness: the real MCP client over stdio, spawning the built server the way Claude Code does
 * (`node <abs>/packages/cli/dist/bin.cjs mcp serve`, from the agent's working directory).
 * Build first: `node scripts/build.mjs --cli` (`npm test` does).
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js"
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js"
import { Cli, Git, TempDir, TempRepo } from "@parallel-cc/testkit"
import * as fs from "node:fs"
import * as path from "node:path"

export interface Server {
  readonly client: Client
  /** Call a tool; returns the raw result. */
  readonly call: (name: string, args?: Record<string, unknown>) => Promise<CallToolResult>
  /** Call a tool that must succeed; returns its structured content. */
  readonly ok: <A = any>(name: string, args?: Record<string, unknown>) => Promise<A>
  /** Call a tool that must fail; returns the encoded error from `_meta`, with the text. */
  readonly fails: (name: string, args?: Record<string, unknown>) => Promise<{ _tag: string; reason?: string; message: string; text: string }>
  /** What the server wrote on stderr so far. */
  readonly stderr: () => string
  readonly close: () => Promise<void>
}

export interface ConnectOptions {
  readonly cwd: string
  readonly dataDir: string
  /** The git home of the repo under test (hermetic git config); default: the data dir. */
  readonly home?: string
  readonly env?: Readonly<Record<string, string>>
  /** Extra arguments after `mcp serve` (or global flags such as `--db FILE`). */
  readonly args?: ReadonlyArray<string>
}

/** Environment for the CLI and the server: hermetic git, an isolated data directory. */
export const envFor = (dataDir: string, home: string, extra: Readonly<Record<string, string>> = {}) => ({
  ...Git.hermeticEnv(home),
  PARALLEL_CC_DATA_DIR: dataDir,
  ...extra
})

export const connect = async (options: ConnectOptions): Promise<Server> => {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [Cli.binPath, "mcp", "serve", ...(options.args ?? [])],
    cwd: options.cwd,
    env: envFor(options.dataDir, options.home ?? options.dataDir, options.env),
    stderr: "pipe"
  })
  let stderr = ""
  transport.stderr?.on("data", (d: Buffer) => (stderr += d.toString("utf8")))
  const client = new Client({ name: "parallel-cc-test", version: "0.0.0" })
  await client.connect(transport)
  const call = async (name: string, args: Record<string, unknown> = {}) =>
    (await client.callTool({ name, arguments: args })) as CallToolResult
  const text = (r: CallToolResult) => r.content.map((c) => (c.type === "text" ? c.text : "")).join("\n")
  return {
    client,
    call,
    ok: async (name, args) => {
      const r = await call(name, args)
      if (r.isError === true) throw new Error(`${name} failed: ${text(r)}\nstderr: ${stderr}`)
      if (r.structuredContent === undefined) throw new Error(`${name} returned no structured content`)
      return r.structuredContent as any
    },
    fails: async (name, args) => {
      const r = await call(name, args)
      if (r.isError !== true) throw new Error(`${name} should have failed: ${JSON.stringify(r.structuredContent)}`)
      const meta = (r._meta?.["parallel-cc/error"] ?? { _tag: "ProtocolError", message: text(r) }) as any
      return { ...meta, text: text(r) }
    },
    stderr: () => stderr,
    close: () => client.close()
  }
}

/** A temp data directory plus a temp repo, removed by `dispose`. */
export interface World {
  readonly dataDir: string
  readonly repo: TempRepo.TempRepo
  readonly env: Record<string, string>
  /** Run the CLI against this world's data directory. */
  readonly cli: (args: ReadonlyArray<string>, cwd?: string) => Cli.RunResult
  /** Register a session; worktree sessions get their worktree (created if the CLI did not). */
  readonly register: () => { sessionId: string; worktreePath: string; branch: string | null; isMainRepo: boolean }
  readonly connect: (cwd: string, env?: Readonly<Record<string, string>>) => Promise<Server>
  readonly dispose: () => Promise<void>
}

export const world = (options: TempRepo.Options = {}): World => {
  const base = TempDir.makeSync("pcc-mcp-")
  const dataDir = path.join(base, "data")
  const repo = TempRepo.makeSync(base, options)
  const env = envFor(dataDir, repo.home)
  const servers: Array<Server> = []
  const cli = (args: ReadonlyArray<string>, cwd?: string) => Cli.runSync(args, { env, ...(cwd !== undefined ? { cwd } : {}) })
  return {
    dataDir,
    repo,
    env,
    cli,
    register: () => {
      const r = cli(["register", "--repo", repo.root, "--pid", String(process.pid), "--json"])
      if (r.code !== 0) throw new Error(`register failed: ${r.stderr}`)
      const reg = Cli.json(r)
      if (!reg.isMainRepo && !fs.existsSync(reg.worktreePath)) {
        repo.git(["worktree", "add", "-q", "-b", reg.branch, reg.worktreePath, "HEAD"])
      }
      return reg
    },
    connect: async (cwd, extra) => {
      const s = await connect({ cwd, dataDir, home: repo.home, ...(extra !== undefined ? { env: extra } : {}) })
      servers.push(s)
      return s
    },
    dispose: async () => {
      await Promise.all(servers.map((s) => s.close().catch(() => undefined)))
      TempDir.removeSync(base)
    }
  }
}
