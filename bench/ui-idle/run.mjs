// CPU of an idle `parallel-cc ui` watching 20 live sessions (nothing changes), beside its floor: an idle
// Node process with the same 400 ms timer. Both run over the same window, side by side, in rounds; the CPU
// each used (its own and its children's — the dashboard's git processes — from /proc/<pid>/stat) is given
// as a share of one core. The dashboard runs off a terminal (stdout a pipe): the same loop as on one (a
// token every 400 ms, a snapshot when it changed or every 10 s), without the redraw of changed lines.
// Goal: < 2 % of one core (issue 18); exit 1 when the median round misses it. Linux only (/proc).
import { execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { goalMissed, hermeticGit, loadavg, machine, median } from "../lib.mjs"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")
const bin = path.join(root, "packages/cli/dist/bin.cjs")
const SESSIONS = Number(process.env.BENCH_SESSIONS ?? 20)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const WINDOW_MS = Number(process.env.BENCH_WINDOW_MS ?? 30_000)
const TICK = 100 // USER_HZ on Linux

const ticks = (pid) => {
  const f = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
  const rest = f.slice(f.lastIndexOf(")") + 2).split(" ")
  // utime, stime, cutime, cstime
  return Number(rest[11]) + Number(rest[12]) + Number(rest[13]) + Number(rest[14])
}
const waitFor = async (cond, what, ms = 60_000) => {
  const t0 = Date.now()
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out: ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

const base = fs.mkdtempSync(path.join(os.tmpdir(), "pcc-bench-ui-"))
const agents = []
const procs = []
try {
  const data = path.join(base, "data")
  const repo = path.join(base, "repo")
  const env = hermeticGit({ ...process.env, PARALLEL_CC_DATA_DIR: data, HOME: base, NO_COLOR: "1" })
  fs.mkdirSync(repo)
  fs.writeFileSync(path.join(repo, "README.md"), "# bench\n")
  execFileSync("git", ["init", "-q", "-b", "main"], { cwd: repo, env })
  execFileSync("git", ["add", "-A"], { cwd: repo, env })
  execFileSync("git", ["commit", "-q", "-m", "init"], { cwd: repo, env })
  const states = ["working", "needs-input", "idle"]
  for (let i = 0; i < SESSIONS; i++) {
    const a = spawn("sleep", ["3600"], { stdio: "ignore" })
    agents.push(a)
    const out = execFileSync(process.execPath, [bin, "register", "--repo", repo, "--pid", String(a.pid), "--json"], { env, encoding: "utf8" })
    const id = JSON.parse(out).sessionId
    fs.writeFileSync(path.join(data, "live", id, "state"), `${states[i % 3]}\n`)
  }
  const load = { before: loadavg() }
  const rounds = []
  for (let r = 0; r < ROUNDS; r++) {
    const ui = spawn(process.execPath, [bin, "ui"], { cwd: repo, env, stdio: ["ignore", "pipe", "inherit"] })
    const floor = spawn(process.execPath, ["-e", "setInterval(() => {}, 400)"], { stdio: "ignore" })
    procs.push(ui, floor)
    let shown = ""
    ui.stdout.on("data", (d) => (shown += d.toString()))
    await waitFor(() => shown.split("\n").filter((l) => / (working|needs-input|idle) /.test(l)).length >= SESSIONS, "the first table")
    // Warm-up: the first snapshot's git counts and transcript reads are done; then the window.
    await new Promise((r) => setTimeout(r, 3000))
    const u0 = ticks(ui.pid)
    const f0 = ticks(floor.pid)
    const t0 = Date.now()
    await new Promise((r) => setTimeout(r, WINDOW_MS))
    const ms = Date.now() - t0
    const share = (a, b) => Math.round(((b - a) / TICK / (ms / 1000)) * 100 * 100) / 100
    rounds.push({ ui: share(u0, ticks(ui.pid)), floor: share(f0, ticks(floor.pid)), windowMs: ms })
    ui.kill("SIGTERM")
    floor.kill("SIGTERM")
  }
  load.after = loadavg()
  const ui = median(rounds.map((x) => x.ui))
  const out = {
    bench: "ui-idle",
    machine: { ...machine(), loadavg: load },
    sessions: SESSIONS,
    rounds,
    "median % of one core": { "parallel-cc ui": ui, "floor (idle node, 400 ms timer)": median(rounds.map((x) => x.floor)) },
    goal: { "parallel-cc ui % of one core": "< 2", met: ui < 2 }
  }
  console.log(JSON.stringify(out, null, 2))
  if (!out.goal.met) goalMissed()
} finally {
  for (const p of [...procs, ...agents]) p.kill("SIGKILL")
  fs.rmSync(base, { recursive: true, force: true })
}
