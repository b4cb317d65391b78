// One session start and end through the CLI, in CPU time beyond its floor (issue 20 item 2):
//   register (new worktree)   vs  node -e 0 + git worktree add
//   register (the repository) vs  node -e 0
//   release (clean worktree)  vs  node -e 0 + git worktree remove + git branch -d
//   heartbeat --session-id    vs  node -e 0
// Each command and its floor run interleaved, BENCH_RUNS times (default 40), on the same 200-file
// repository; what each needs first (a session to release, a worktree to remove) is made outside the
// timing. CPU is user + system time of the finished children (/proc/self/stat; 10 ms ticks, so the mean
// over the runs is reported), wall the median. Goal: CPU beyond the floor ≤ 60 ms for each command.
// BENCH_BEFORE=<checkout> runs that build's CLI as a second subject, in its own repository, interleaved.
// BENCH_ICOUNT=1 also counts instructions (valgrind callgrind), which a loaded machine does not distort.
import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { beforeBuild, goals, hermeticGit, instructions, loadavg, machine, median, round } from "../lib.mjs"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")
const runs = Number(process.env.BENCH_RUNS ?? 40)
const subjects = { after: path.join(root, "packages/cli/dist/bin.cjs") }
const before = beforeBuild()
if (before !== undefined) subjects.before = before.bin
const node = process.execPath

const childCpu = () => {
  const text = fs.readFileSync("/proc/self/stat", "utf8")
  const f = text.slice(text.lastIndexOf(")") + 2).split(" ")
  return ((Number(f[13]) + Number(f[14])) / 100) * 1000
}

/** Run the commands one after another; their wall (ms) and CPU (ms). */
const timed = (commands, env, cwd) => {
  const c0 = childCpu()
  const t0 = process.hrtime.bigint()
  let out = ""
  for (const argv of commands) {
    const r = spawnSync(argv[0], argv.slice(1), { env, cwd, encoding: "utf8" })
    if (r.status !== 0) throw new Error(`${argv.join(" ")} failed (${r.status}): ${r.stderr}`)
    out = r.stdout
  }
  return { wall: Number(process.hrtime.bigint() - t0) / 1e6, cpu: childCpu() - c0, out }
}

const world = (name, bin) => {
  const base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), `pcc-bench-start-${name}-`)))
  const repo = path.join(base, "repo")
  const env = { ...hermeticGit({ ...process.env, HOME: base }), PARALLEL_CC_DATA_DIR: path.join(base, "data") }
  fs.mkdirSync(path.join(repo, "src"), { recursive: true })
  for (let i = 0; i < 200; i++) fs.writeFileSync(path.join(repo, "src", `f${i}.ts`), `export const x${i} = ${i}\n`.repeat(20))
  const git = (...a) => spawnSync("git", a, { cwd: repo, env, encoding: "utf8" })
  git("init", "-q", "-b", "main")
  git("add", "-A")
  git("commit", "-q", "-m", "init")
  const holder = spawn("sleep", ["3600"], { stdio: "ignore" })
  spawnSync(node, [bin, "status"], { env })
  const main = JSON.parse(timed([[node, bin, "register", "--repo", repo, "--pid", String(holder.pid), "--json"]], env).out)
  return { name, bin, base, repo, env, git, holder, main, n: 0 }
}

/**
 * BENCH_ICOUNT=1: each command and floor once more under callgrind, in instructions (load-independent),
 * the same sequence as one timed round.
 */
const icountRound = () => {
  const out = {}
  const f = floorWorld
  const wt = path.join(`${f.repo}-worktrees`, "icount")
  const sum = (...xs) => (xs.some((x) => x === undefined) ? undefined : round(xs.reduce((a, b) => a + b, 0)))
  const nodeI = instructions([node, "-e", "0"], { env: f.env })
  const addI = instructions(["git", "-C", f.repo, "worktree", "add", "-q", "-b", "icount", "--", wt, "HEAD"], { env: f.env })
  const rmI = sum(
    instructions(["git", "-C", f.repo, "worktree", "remove", "--", wt], { env: f.env }),
    instructions(["git", "-C", f.repo, "branch", "-q", "-d", "icount"], { env: f.env })
  )
  if (nodeI === undefined) return undefined
  out["floor: node -e 0"] = nodeI
  out["floor: node -e 0 + git worktree add"] = sum(nodeI, addI)
  out["floor: node -e 0 + git worktree remove + git branch -d"] = sum(nodeI, rmI)
  for (const w of worlds) {
    const holder = spawn("sleep", ["3600"], { stdio: "ignore" })
    const id = JSON.parse(timed([[node, w.bin, "register", "--repo", w.repo, "--pid", String(holder.pid), "--json"]], w.env).out).sessionId
    out[`${w.name}: heartbeat`] = instructions([node, w.bin, "heartbeat", "--session-id", id], { env: w.env })
    out[`${w.name}: release (clean worktree)`] = instructions([node, w.bin, "release", "--session-id", id], { env: w.env })
    out[`${w.name}: register (new worktree)`] = instructions([node, w.bin, "register", "--repo", w.repo, "--pid", String(holder.pid)], { env: w.env })
    timed([[node, w.bin, "release", "--session-id", w.main.sessionId]], w.env)
    out[`${w.name}: register (the repository)`] = instructions([node, w.bin, "register", "--repo", w.repo, "--pid", String(w.holder.pid)], { env: w.env })
    holder.kill("SIGKILL")
  }
  return out
}

const g = goals()
const loadAtStart = loadavg()
const worlds = Object.entries(subjects).map(([name, bin]) => world(name, bin))
const floorWorld = world("floor", subjects.after)
const samples = {}
let icounts
const add = (key, r) => ((samples[key] ??= { wall: [], cpu: [] }).wall.push(r.wall), samples[key].cpu.push(r.cpu))
try {
  for (let i = 0; i < runs + 3; i++) {
    const keep = i >= 3
    const f = floorWorld
    const n = f.n++
    const wt = path.join(`${f.repo}-worktrees`, `w${n}`)
    const floors = {
      "node -e 0": timed([[node, "-e", "0"]], f.env),
      "node -e 0 + git worktree add": timed([[node, "-e", "0"], ["git", "-C", f.repo, "worktree", "add", "-q", "-b", `b${n}`, "--", wt, "HEAD"]], f.env),
      "node -e 0 + git worktree remove + git branch -d": timed([
        [node, "-e", "0"],
        ["git", "-C", f.repo, "worktree", "remove", "--", wt],
        ["git", "-C", f.repo, "branch", "-q", "-d", `b${n}`]
      ], f.env)
    }
    if (keep) for (const [k, r] of Object.entries(floors)) add(`floor: ${k}`, r)
    for (const w of worlds) {
      const holder = spawn("sleep", ["3600"], { stdio: "ignore" })
      const reg = timed([[node, w.bin, "register", "--repo", w.repo, "--pid", String(holder.pid), "--json"]], w.env)
      const id = JSON.parse(reg.out).sessionId
      const hb = timed([[node, w.bin, "heartbeat", "--session-id", id]], w.env)
      const rel = timed([[node, w.bin, "release", "--session-id", id]], w.env)
      holder.kill("SIGKILL")
      // The repository's own session: release it and register it again (outside the timing), then time it.
      timed([[node, w.bin, "release", "--session-id", w.main.sessionId]], w.env)
      const regMain = timed([[node, w.bin, "register", "--repo", w.repo, "--pid", String(w.holder.pid), "--json"]], w.env)
      w.main = JSON.parse(regMain.out)
      if (!w.main.isMainRepo || JSON.parse(reg.out).isMainRepo) throw new Error(`${w.name}: unexpected session kinds`)
      if (keep) {
        add(`${w.name}: register (new worktree)`, reg)
        add(`${w.name}: register (the repository)`, regMain)
        add(`${w.name}: release (clean worktree)`, rel)
        add(`${w.name}: heartbeat`, hb)
      }
    }
  }
  if (process.env.BENCH_ICOUNT === "1") icounts = icountRound()
} finally {
  for (const w of [...worlds, floorWorld]) {
    w.holder.kill("SIGKILL")
    fs.rmSync(w.base, { recursive: true, force: true })
  }
}
const mean = (v) => v.reduce((a, b) => a + b, 0) / v.length
const stat = (k) => ({ wallMedianMs: round(median(samples[k].wall)), cpuMeanMs: round(mean(samples[k].cpu)) })
const rows = {}
for (const k of Object.keys(samples)) rows[k] = stat(k)
const floorOf = {
  "register (new worktree)": "floor: node -e 0 + git worktree add",
  "register (the repository)": "floor: node -e 0",
  "release (clean worktree)": "floor: node -e 0 + git worktree remove + git branch -d",
  heartbeat: "floor: node -e 0"
}
const beyond = {}
for (const w of worlds) {
  for (const [cmd, floor] of Object.entries(floorOf)) {
    const extra = round(rows[`${w.name}: ${cmd}`].cpuMeanMs - rows[floor].cpuMeanMs)
    beyond[`${w.name}: ${cmd}`] = extra
    if (w.name === "after") g.check(`${cmd}: CPU beyond its floor ≤ 60 ms`, extra <= 60, `${extra} ms`)
  }
}
let icountBeyond
if (icounts !== undefined) {
  // Millions of instructions beyond the floor, and what that is in CPU ms at the rate `node -e 0` ran here.
  const msPerMi = rows["floor: node -e 0"].cpuMeanMs / icounts["floor: node -e 0"]
  icountBeyond = {}
  for (const w of worlds) {
    for (const [cmd, floor] of Object.entries(floorOf)) {
      const mi = round(icounts[`${w.name}: ${cmd}`] - icounts[floor])
      icountBeyond[`${w.name}: ${cmd}`] = { millionInstructions: mi, cpuMsAtNodeRate: round(mi * msPerMi) }
    }
  }
}
g.finish({
  bench: "session-start",
  machine: { ...machine(), loadavgAtStart: loadAtStart },
  method: `${runs} runs of each command and floor, interleaved (after 3 warm-up rounds); CPU = mean user+system ms of the ` +
    "finished processes, wall = median ms; a 200-file repository whose own session is held by a sleeping process",
  results: rows,
  cpuBeyondFloorMs: beyond,
  ...(icounts !== undefined ? { instructionsMillions: icounts, instructionsBeyondFloor: icountBeyond } : {})
})
