// The heartbeat hook's cost per agent tool call. Claude Code runs a command hook as `sh -c "<command>"`,
// so the floor is `sh -c true`; the hook's added latency is its median minus that floor, measured
// interleaved in the same run. For comparison: starting Node (what a Node-based hook costs at least) and
// `parallel-cc heartbeat` (the same heartbeat through the CLI).
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { machine, round, timeCommands } from "../lib.mjs"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")
const hook = path.join(root, "packages/cli/hooks/heartbeat.sh")
const bin = path.join(root, "packages/cli/dist/bin.cjs")
const data = fs.mkdtempSync(path.join(os.tmpdir(), "pcc-bench-hb-"))
const runs = Number(process.env.BENCH_RUNS ?? 200)
try {
  const env = { ...process.env, PARALLEL_CC_DATA_DIR: data, HOME: data }
  const reg = JSON.parse(execFileSync(process.execPath, [bin, "register", "--repo", root, "--pid", String(process.pid), "--json"], { env, encoding: "utf8" }))
  const file = path.join(data, "heartbeats", reg.sessionId)
  const inSession = { ...env, PARALLEL_CC_HEARTBEAT_FILE: file }
  fs.utimesSync(file, new Date(0), new Date(0))
  const hookRun = timeCommands({
    "sh -c true": ["sh", "-c", "true"],
    "heartbeat hook (in a session)": ["sh", "-c", hook]
  }, { runs, warmup: 10, env: inSession })
  const touched = fs.statSync(file).mtimeMs > 0
  const outside = timeCommands({
    "sh -c true": ["sh", "-c", "true"],
    "heartbeat hook (outside a session)": ["sh", "-c", hook]
  }, { runs, warmup: 10, env })
  const node = timeCommands({
    "sh -c true": ["sh", "-c", "true"],
    "node -e 0": ["sh", "-c", `${JSON.stringify(process.execPath)} -e 0`],
    "parallel-cc heartbeat": ["sh", "-c", `${JSON.stringify(process.execPath)} ${JSON.stringify(bin)} heartbeat --session-id ${reg.sessionId}`]
  }, { runs: Math.ceil(runs / 10), warmup: 3, env })
  execFileSync(process.execPath, [bin, "release", "--session-id", reg.sessionId], { env })
  const added = (r, k) => round(r[k].median - r["sh -c true"].median)
  console.log(JSON.stringify({
    bench: "heartbeat",
    machine: machine(),
    hookTouchedTheFile: touched,
    results: { inSession: hookRun, outsideSession: outside, nodeForComparison: node },
    addedMsPerToolCall: {
      "heartbeat hook (in a session)": added(hookRun, "heartbeat hook (in a session)"),
      "heartbeat hook (outside a session)": added(outside, "heartbeat hook (outside a session)"),
      "node -e 0": added(node, "node -e 0"),
      "parallel-cc heartbeat": added(node, "parallel-cc heartbeat")
    }
  }, null, 2))
} finally {
  fs.rmSync(data, { recursive: true, force: true })
}
