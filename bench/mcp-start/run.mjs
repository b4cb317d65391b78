// Start-up of the MCP server (`parallel-cc mcp serve`): time from spawn to the answer of `tools/list`
// (after `initialize`), and the server's resident memory then (VmRSS) and at its peak (VmHWM), next to a
// floor timed the same way — a node process answering the same three messages with canned replies.
// Interleaved, load average reported; exits 1 when the median time exceeds the floor by more than
// GOAL_MS or the RSS exceeds GOAL_RSS_MB. COMPARE=<another bin.cjs> adds a second build to the same run
// (e.g. the previous commit's), timed the same way.
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { machine, round, stats } from "../lib.mjs"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")
const bin = path.join(root, "packages/cli/dist/bin.cjs")
const runs = Number(process.env.BENCH_RUNS ?? 15)
const GOAL_MS = Number(process.env.GOAL_MS ?? 600)
const GOAL_RSS_MB = Number(process.env.GOAL_RSS_MB ?? 150)
const data = fs.mkdtempSync(path.join(os.tmpdir(), "pcc-bench-mcp-"))

const floor = `
let buf = ""
process.stdin.on("data", (d) => {
  buf += d
  let i
  while ((i = buf.indexOf("\\n")) >= 0) {
    const m = JSON.parse(buf.slice(0, i)); buf = buf.slice(i + 1)
    if (m.id !== undefined) process.stdout.write(JSON.stringify({ jsonrpc: "2.0", id: m.id, result: { tools: [] } }) + "\\n")
  }
})`

const messages = [
  { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "bench", version: "1" } } },
  { jsonrpc: "2.0", method: "notifications/initialized" },
  { jsonrpc: "2.0", id: 2, method: "tools/list" }
]

const memory = (pid) => {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8")
  const kb = (key) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN)
  return { rss: kb("VmRSS") / 1024, peak: kb("VmHWM") / 1024 }
}

/** Spawn, send the messages, resolve at the answer to tools/list with the time and the memory then. */
const once = (argv) =>
  new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint()
    const child = spawn(argv[0], argv.slice(1), {
      env: { ...process.env, HOME: data, PARALLEL_CC_DATA_DIR: data },
      stdio: ["pipe", "pipe", "pipe"]
    })
    let out = ""
    let err = ""
    let answer
    child.stderr.on("data", (d) => (err += d))
    child.stdout.on("data", (d) => {
      out += d
      for (const line of out.split("\n").slice(0, -1)) {
        const m = JSON.parse(line)
        if (m.id === 2 && answer === undefined) {
          const ms = Number(process.hrtime.bigint() - t0) / 1e6
          const mem = memory(child.pid)
          answer = { ms, ...mem, tools: m.result?.tools?.length ?? 0 }
          child.kill()
        }
      }
    })
    // Resolve once the process is gone, so that nothing writes into the data directory afterwards.
    child.on("exit", (code) =>
      answer !== undefined ? resolve(answer) : reject(new Error(`${argv.join(" ")} exited ${code} before answering: ${err}`)))
    for (const m of messages) child.stdin.write(JSON.stringify(m) + "\n")
  })

const subjects = {
  "floor (node answering the same messages)": [process.execPath, "-e", floor],
  "parallel-cc mcp serve": [process.execPath, bin, "mcp", "serve"],
  ...(process.env.COMPARE ? { [`parallel-cc mcp serve (${process.env.COMPARE})`]: [process.execPath, process.env.COMPARE, "mcp", "serve"] } : {})
}
const samples = Object.fromEntries(Object.keys(subjects).map((k) => [k, []]))
try {
  for (let i = 0; i < runs + 2; i++) {
    for (const [name, argv] of Object.entries(subjects)) {
      const r = await once(argv)
      if (i >= 2) samples[name].push(r)
    }
  }
} finally {
  fs.rmSync(data, { recursive: true, force: true, maxRetries: 5 })
}
const results = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, {
  ms: stats(v.map((s) => s.ms)),
  rssMB: stats(v.map((s) => s.rss)),
  peakMB: stats(v.map((s) => s.peak)),
  tools: v[0].tools
}]))
const [floorR, serverR] = Object.values(results)
const overMs = round(serverR.ms.median - floorR.ms.median)
const ok = overMs <= GOAL_MS && serverR.rssMB.median <= GOAL_RSS_MB
console.log(JSON.stringify({
  bench: "mcp-start",
  machine: machine(),
  loadavg: os.loadavg().map(round),
  results,
  goal: { overFloorMs: GOAL_MS, rssMB: GOAL_RSS_MB },
  overFloorMs: overMs,
  ok
}, null, 2))
process.exit(ok ? 0 : 1)
