// Cold start of `parallel-cc status --json` next to `node -e 0`, interleaved in one run.
// Measures: the installed path on an empty store and on a store with three live sessions of a real
// repository (main + two worktrees), without the code cache, the Sessions-service path that status takes
// when something needs deciding (PARALLEL_CC_NO_FAST_PATH=1 forces it), and the full @effect/cli path
// (what any non-hot command costs). COMPARE=<bin.cjs> adds another build's commands to the same loop.
import { execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { goalMissed, hermeticGit, machine, round, timeCommands } from "../lib.mjs"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")
const bin = path.join(root, "packages/cli/dist/bin.cjs")
const data = fs.mkdtempSync(path.join(os.tmpdir(), "pcc-bench-start-"))
const runs = Number(process.env.BENCH_RUNS ?? 40)
const compare = process.env.COMPARE !== undefined ? path.resolve(process.env.COMPARE) : undefined
const agents = []
try {
  const env = { ...process.env, PARALLEL_CC_DATA_DIR: data, HOME: data }
  const node = process.execPath
  // A second store with three live sessions (their "agents" are sleep processes) on a real repository.
  const busyData = path.join(data, "busy")
  const repo = path.join(data, "repo")
  const gitEnv = hermeticGit(env)
  fs.mkdirSync(repo)
  fs.writeFileSync(path.join(repo, "README.md"), "# bench\n")
  execFileSync("git", ["init", "-q", "-b", "main"], { cwd: repo, env: gitEnv })
  execFileSync("git", ["add", "-A"], { cwd: repo, env: gitEnv })
  execFileSync("git", ["commit", "-q", "-m", "init"], { cwd: repo, env: gitEnv })
  const busyEnv = { ...gitEnv, PARALLEL_CC_DATA_DIR: busyData }
  for (let i = 0; i < 3; i++) {
    const a = spawn("sleep", ["3600"], { stdio: "ignore" })
    agents.push(a)
    execFileSync(node, [bin, "register", "--repo", repo, "--pid", String(a.pid), "--json"], { env: busyEnv, stdio: "ignore" })
  }
  const sessions = JSON.parse(execFileSync(node, [bin, "status", "--json"], { env: busyEnv, encoding: "utf8" })).sessions
  if (sessions.length !== 3) throw new Error(`expected 3 live sessions, got ${sessions.length}`)
  const env3 = (extra = {}) => ["env", ...Object.entries({ PARALLEL_CC_DATA_DIR: busyData, ...extra }).map(([k, v]) => `${k}=${v}`)]
  const load = os.loadavg()
  const results = timeCommands({
    "node -e 0": [node, "-e", "0"],
    "parallel-cc status --json": [node, bin, "status", "--json"],
    "parallel-cc status --json (3 live sessions)": [...env3(), node, bin, "status", "--json"],
    "parallel-cc status --json (3 live sessions, full CLI: PARALLEL_CC_NO_FAST_PATH=1)": [...env3({ PARALLEL_CC_NO_FAST_PATH: "1" }), node, bin, "status", "--json"],
    "parallel-cc --version (full CLI)": [node, bin, "--version"],
    // COMPARE=<another build's bin.cjs>: the same commands of that build in the same interleaved loop.
    ...(compare !== undefined
      ? {
        "COMPARE status --json": [node, compare, "status", "--json"],
        "COMPARE status --json (3 live sessions, full CLI: PARALLEL_CC_NO_FAST_PATH=1)": [...env3({ PARALLEL_CC_NO_FAST_PATH: "1" }), node, compare, "status", "--json"],
        "COMPARE --version (full CLI)": [node, compare, "--version"]
      }
      : {})
  }, { runs, env })
  const noCache = timeCommands({
    "node -e 0": [node, "-e", "0"],
    "parallel-cc status --json (no code cache)": [node, bin, "status", "--json"]
  }, { runs: Math.ceil(runs / 2), env: { ...env, PARALLEL_CC_NO_CODE_CACHE: "1" } })
  const base = results["node -e 0"].median
  const ratio = (r) => round(r.median / base)
  const out = {
    bench: "cli-start",
    machine: { ...machine(), loadavg: { before: load.map(round), after: os.loadavg().map(round) } },
    results: {
      ...results,
      "parallel-cc status --json (no code cache)": noCache["parallel-cc status --json (no code cache)"]
    },
    ratios: {
      "status --json / node -e 0": ratio(results["parallel-cc status --json"]),
      "status --json with 3 live sessions / node -e 0": ratio(results["parallel-cc status --json (3 live sessions)"]),
      "status --json, full CLI / node -e 0": ratio(results["parallel-cc status --json (3 live sessions, full CLI: PARALLEL_CC_NO_FAST_PATH=1)"]),
      "full CLI / node -e 0": ratio(results["parallel-cc --version (full CLI)"]),
      "no code cache / node -e 0 (same run)": round(
        noCache["parallel-cc status --json (no code cache)"].median / noCache["node -e 0"].median
      )
    }
  }
  // The goal: the hot command's start at most 2 × a bare Node start (medians, same run).
  out.goal = { "status --json / node -e 0": "≤ 2", met: out.ratios["status --json / node -e 0"] <= 2 }
  console.log(JSON.stringify(out, null, 2))
  if (!out.goal.met) goalMissed()
} finally {
  for (const a of agents) a.kill("SIGKILL")
  fs.rmSync(data, { recursive: true, force: true })
}
