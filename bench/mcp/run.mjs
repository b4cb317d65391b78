// The MCP server's hot tools and its memory, next to their floors, through the real SDK client over stdio:
// `get_parallel_status` and `get_my_session` (p50 and p99 latency) next to a no-op tool of a bare SDK
// server, interleaved call by call; the servers' resident memory when idle (after the handshake and the
// tool list, and again after the calls). Goals (issue 20 item 4): p50 ≤ 3 ms and p99 ≤ 10 ms for both
// tools; RSS idle ≤ 1.2 × the bare server's. `check_conflicts` against `git merge-tree` alone is
// bench/check-conflicts. BENCH_RUNS (default 300); BENCH_BEFORE=<checkout> adds that build's server.
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js"
import { execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { beforeBuild, goals, hermeticGit, loadavg, machine, round } from "../lib.mjs"

const here = path.dirname(fileURLToPath(import.meta.url))
const root = path.resolve(here, "../..")
const runs = Number(process.env.BENCH_RUNS ?? 300)
const base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "pcc-bench-mcp-")))
const repo = path.join(base, "repo")
const data = path.join(base, "data")
const env = { ...hermeticGit({ PATH: process.env.PATH, HOME: base }), PARALLEL_CC_DATA_DIR: data }
const agents = []
const clients = []

const percentile = (values, p) => {
  const v = [...values].sort((a, b) => a - b)
  return round(v[Math.min(v.length - 1, Math.ceil((p / 100) * v.length) - 1)])
}
const rssKb = (pid) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? NaN)
const settle = (ms) => new Promise((r) => setTimeout(r, ms))

const connect = async (name, command, args, extraEnv = {}) => {
  const transport = new StdioClientTransport({ command, args, cwd: repo, env: { ...env, ...extraEnv }, stderr: "pipe" })
  const client = new Client({ name: "bench", version: "0.0.0" })
  await client.connect(transport)
  await client.listTools()
  clients.push(client)
  return { name, client, pid: transport.pid }
}

const g = goals()
const loadAtStart = loadavg()
try {
  fs.mkdirSync(path.join(repo, "src"), { recursive: true })
  for (let i = 0; i < 50; i++) fs.writeFileSync(path.join(repo, "src", `f${i}.ts`), `export const x${i} = ${i}\n`)
  const git = (...a) => execFileSync("git", a, { cwd: repo, env, stdio: "ignore" })
  git("init", "-q", "-b", "main")
  git("add", "-A")
  git("commit", "-q", "-m", "init")
  const bin = path.join(root, "packages/cli/dist/bin.cjs")
  const sessions = []
  for (let i = 0; i < 3; i++) {
    const a = spawn("sleep", ["3600"], { stdio: "ignore" })
    agents.push(a)
    sessions.push(JSON.parse(execFileSync(process.execPath, [bin, "register", "--repo", repo, "--pid", String(a.pid), "--json"], { env, encoding: "utf8" })))
  }
  const me = { PARALLEL_CC_SESSION_ID: sessions[1].sessionId }
  const servers = [await connect("bare SDK server", process.execPath, [path.join(here, "bare-server.mjs")])]
  servers.push(await connect("after", process.execPath, [bin, "mcp", "serve"], me))
  const before = beforeBuild()
  if (before !== undefined) {
    // The before build's own store (an older build refuses a store at a newer schema version), same sessions.
    const beforeEnv = { ...env, PARALLEL_CC_DATA_DIR: path.join(base, "data-before") }
    const ids = []
    for (let i = 0; i < 3; i++) {
      const a = spawn("sleep", ["3600"], { stdio: "ignore" })
      agents.push(a)
      const r = execFileSync(process.execPath, [before.bin, "register", "--repo", repo, "--pid", String(a.pid), "--json"], { env: beforeEnv, encoding: "utf8" })
      ids.push(JSON.parse(r).sessionId)
    }
    servers.push(
      await connect("before", process.execPath, [before.bin, "mcp", "serve"], {
        PARALLEL_CC_DATA_DIR: beforeEnv.PARALLEL_CC_DATA_DIR,
        PARALLEL_CC_SESSION_ID: ids[1]
      })
    )
  }
  await settle(1000)
  const idle = Object.fromEntries(servers.map((s) => [s.name, rssKb(s.pid)]))

  const calls = [["bare SDK server", "noop"]]
  for (const s of servers.slice(1)) calls.push([s.name, "get_parallel_status"], [s.name, "get_my_session"])
  const times = Object.fromEntries(calls.map(([s, t]) => [`${s}: ${t}`, []]))
  for (let i = 0; i < runs + 10; i++) {
    for (const [s, tool] of calls) {
      const server = servers.find((x) => x.name === s)
      const t0 = process.hrtime.bigint()
      const r = await server.client.callTool({ name: tool, arguments: {} })
      const ms = Number(process.hrtime.bigint() - t0) / 1e6
      if (r.isError) throw new Error(`${s} ${tool}: ${JSON.stringify(r.content)}`)
      if (i >= 10) times[`${s}: ${tool}`].push(ms)
    }
  }
  await settle(1000)
  const after = Object.fromEntries(servers.map((s) => [s.name, rssKb(s.pid)]))
  const latency = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, { p50: percentile(v, 50), p99: percentile(v, 99), max: percentile(v, 100) }]))
  for (const tool of ["get_parallel_status", "get_my_session"]) {
    const l = latency[`after: ${tool}`]
    g.check(`${tool} p50 ≤ 3 ms`, l.p50 <= 3, `${l.p50} ms`)
    g.check(`${tool} p99 ≤ 10 ms`, l.p99 <= 10, `${l.p99} ms`)
  }
  const ratio = Number((idle.after / idle["bare SDK server"]).toFixed(2))
  g.check("RSS idle ≤ 1.2 × a bare SDK server", ratio <= 1.2, `${idle.after} kB vs ${idle["bare SDK server"]} kB (${ratio} ×)`)
  g.finish({
    bench: "mcp",
    machine: { ...machine(), loadavgAtStart: loadAtStart },
    method: `${runs} calls of each tool after 10 warm-up calls, interleaved call by call with the bare server's no-op tool; ` +
      "3 live sessions; the caller's session from PARALLEL_CC_SESSION_ID; RSS from /proc after 1 s idle",
    latencyMs: latency,
    rssKb: { idleAfterHandshake: idle, idleAfterCalls: after },
    rssRatioIdle: ratio
  })
} finally {
  for (const c of clients) await c.close().catch(() => undefined)
  for (const a of agents) a.kill("SIGKILL")
  fs.rmSync(base, { recursive: true, force: true })
}
