// `claude-parallel` around an agent (issue 20 item 2), in wall time next to its floors:
//   launch → agent running, first session (the repository)  vs  node -e 0             goal ≤ 1.5 ×
//   launch → agent running, a worktree session               vs  git worktree add + the agent started directly  ≤ 1.3 ×
//   agent exited → wrapper exited, a worktree session        vs  git worktree remove + git branch -d             ≤ 1.5 ×
// The agent is a shell script (and, for the worktree launch, also a Node script) that writes the wall clock (ns) when it starts, sleeps 0.3 s (as a real agent
// runs for a while, so the wrapper's watcher starts meanwhile) and writes it again just before it exits; the
// bench notes the wall clock when it spawns the wrapper and when the wrapper has exited. Each floor is timed
// the same way (spawned, clock read in this process, the agent's own marks; the exit floor from the agent's
// end mark, after the agent has exited, to the end of `git branch -d`), all interleaved round after
// round, medians reported with the load average. BENCH_BEFORE=<checkout> adds that checkout's wrapper as a
// second subject (its own repository), interleaved. BENCH_RUNS (default 20). Exits 1 when a goal is missed.
import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { beforeBuild, goals, hermeticGit, loadavg, machine, median, round } from "../lib.mjs"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")
const runs = Number(process.env.BENCH_RUNS ?? 20)
const WARMUP = 2
const node = process.execPath
const subjects = { after: { bin: path.join(root, "packages/cli/dist/bin.cjs"), wrapper: path.join(root, "packages/cli/dist/wrapper.cjs") } }
const before = beforeBuild()
if (before !== undefined) subjects.before = { bin: before.bin, wrapper: before.wrapper }

const base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "pcc-bench-wrap-")))
const agentScript = path.join(base, "agent.sh")
fs.writeFileSync(agentScript, `#!/bin/sh\ndate +%s%N > "$BENCH_MARK.start"\nsleep 0.3\ndate +%s%N > "$BENCH_MARK.end"\n`, { mode: 0o755 })
// The same agent as a Node program (as Claude Code is one): the smallest Node agent there is.
const nodeAgent = path.join(base, "agent.cjs")
fs.writeFileSync(
  nodeAgent,
  `#!${node}\nconst fs = require("node:fs")\nconst ns = () => String(BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6)))\n` +
    `fs.writeFileSync(process.env.BENCH_MARK + ".start", ns())\nsetTimeout(() => fs.writeFileSync(process.env.BENCH_MARK + ".end", ns()), 300)\n`,
  { mode: 0o755 }
)

/** Wall clock in ms (sub-ms), comparable with `date +%s%N`. */
const now = () => performance.timeOrigin + performance.now()
const mark = (file) => Number(BigInt(fs.readFileSync(file, "utf8").trim()) / 1000n) / 1000

const holders = []
const repoOf = (name, bin, held, agent = agentScript) => {
  const dir = path.join(base, name)
  const repo = path.join(dir, "repo")
  const env = { ...hermeticGit({ ...process.env, HOME: dir }), PARALLEL_CC_DATA_DIR: path.join(dir, "data"), PARALLEL_CC_AGENT: agent }
  fs.mkdirSync(path.join(repo, "src"), { recursive: true })
  for (let i = 0; i < 200; i++) fs.writeFileSync(path.join(repo, "src", `f${i}.ts`), `export const x${i} = ${i}\n`.repeat(20))
  const git = (...a) => spawnSync("git", a, { cwd: repo, env, encoding: "utf8" })
  git("init", "-q", "-b", "main")
  git("add", "-A")
  git("commit", "-q", "-m", "init")
  if (bin !== undefined) spawnSync(node, [bin, "status"], { cwd: repo, env })
  if (held) {
    // Another session holds the repository, so every wrapper start gets a worktree.
    const holder = spawn("sleep", ["3600"], { stdio: "ignore" })
    holders.push(holder)
    const r = spawnSync(node, [bin, "register", "--repo", repo, "--pid", String(holder.pid)], { cwd: repo, env })
    if (r.status !== 0) throw new Error(`${name}: register failed: ${r.stderr}`)
  }
  return { repo, env }
}

/** Run the wrapper once; its launch (spawn → agent running) and exit (agent's end → wrapper exited) in ms. */
const wrapOnce = (w, tag) =>
  new Promise((resolve, reject) => {
    const m = path.join(base, `mark-${tag}`)
    const t0 = now()
    const c = spawn(node, [w.wrapper], { cwd: w.repo, env: { ...w.env, BENCH_MARK: m }, stdio: ["ignore", "ignore", "pipe"] })
    let stderr = ""
    c.stderr.setEncoding("utf8").on("data", (d) => (stderr += d))
    c.on("close", (code) => {
      const t1 = now()
      if (code !== 0) return reject(new Error(`wrapper exited ${code}: ${stderr}`))
      resolve({ launch: mark(`${m}.start`) - t0, exit: t1 - mark(`${m}.end`) })
    })
  })

/**
 * The floor of a worktree session: `git worktree add`, then the agent started directly; its launch (spawn →
 * agent's start mark) and, once the agent has exited, `git worktree remove` + `git branch -d`, its exit
 * timed like the wrapper's (agent's end mark → done), so both include the agent's own exit.
 */
const floorSession = (f, n, agent = agentScript) =>
  new Promise((resolve, reject) => {
    const m = path.join(base, `mark-floor-${n}-${path.basename(agent)}`)
    const t0 = now()
    const add = spawnSync("git", ["-C", f.repo, "worktree", "add", "-q", "-b", `b${n}`, "--", path.join(`${f.repo}-worktrees`, `w${n}`), "HEAD"], { env: f.env })
    if (add.status !== 0) return reject(new Error(`git worktree add: ${add.stderr}`))
    const c = spawn(agent, [], { env: { ...f.env, BENCH_MARK: m }, stdio: "ignore" })
    c.on("close", () => {
      try {
        const g0 = now()
        for (const a of [["worktree", "remove", "--", path.join(`${f.repo}-worktrees`, `w${n}`)], ["branch", "-q", "-d", `b${n}`]]) {
          const r = spawnSync("git", ["-C", f.repo, ...a], { env: f.env })
          if (r.status !== 0) throw new Error(`git ${a.join(" ")}: ${r.stderr}`)
        }
        const t1 = now()
        resolve({ launch: mark(`${m}.start`) - t0, exit: t1 - mark(`${m}.end`), gitOnly: t1 - g0 })
      } catch (e) {
        reject(e)
      }
    })
  })

const floorNode = (f) => {
  const t0 = now()
  spawnSync(node, ["-e", "0"], { env: f.env })
  return now() - t0
}

const g = goals()
const loadAtStart = loadavg()
const samples = {}
const add = (k, v) => (samples[k] ??= []).push(v)
try {
  const floor = repoOf("floor", undefined, false)
  const worlds = Object.entries(subjects).flatMap(([name, s]) => [
    { name, kind: "first", wrapper: s.wrapper, ...repoOf(`${name}-first`, s.bin, false) },
    { name, kind: "worktree", wrapper: s.wrapper, ...repoOf(`${name}-worktree`, s.bin, true) },
    { name, kind: "worktree-node", wrapper: s.wrapper, ...repoOf(`${name}-worktree-node`, s.bin, true, nodeAgent) }
  ])
  for (let i = 0; i < WARMUP + runs; i++) {
    const keep = i >= WARMUP
    const jobs = [
      async () => keep && add("floor: node -e 0", floorNode(floor)),
      async () => {
        const r = await floorSession(floor, i)
        if (keep) add("floor: git worktree add + agent", r.launch), add("floor: git worktree remove + git branch -d", r.exit)
        // For reference (no goal): the two git commands alone, without the agent's exit before them.
        if (keep) add("reference: git worktree remove + git branch -d alone", r.gitOnly)
      },
      async () => {
        const r = await floorSession(floor, i + 100_000, nodeAgent)
        if (keep) add("floor: git worktree add + Node agent", r.launch)
      },
      ...worlds.map((w) => async () => {
        const r = await wrapOnce(w, `${w.name}-${w.kind}-${i}`)
        const kind = { first: "first session", worktree: "worktree session", "worktree-node": "worktree session, Node agent" }[w.kind]
        if (keep) add(`${w.name}: launch → agent running (${kind})`, r.launch)
        if (keep && w.kind === "worktree") add(`${w.name}: agent exited → wrapper exited (worktree session)`, r.exit)
        if (keep && w.kind === "first") add(`${w.name}: agent exited → wrapper exited (first session)`, r.exit)
      })
    ]
    for (let j = 0; j < jobs.length; j++) await jobs[(i + j) % jobs.length]()
  }
} finally {
  for (const h of holders) h.kill("SIGKILL")
  fs.rmSync(base, { recursive: true, force: true })
}
const results = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, round(median(v))]))
const ratio = (k, floorKey) => Number((results[k] / results[floorKey]).toFixed(2))
const goalsOf = [
  ["launch → agent running (first session)", "floor: node -e 0", 1.5],
  ["launch → agent running (worktree session)", "floor: git worktree add + agent", 1.3],
  ["launch → agent running (worktree session, Node agent)", "floor: git worktree add + Node agent", 1.3],
  ["agent exited → wrapper exited (worktree session)", "floor: git worktree remove + git branch -d", 1.5]
]
const ratios = {}
for (const name of Object.keys(subjects)) {
  for (const [row, floorKey, max] of goalsOf) {
    const r = ratio(`${name}: ${row}`, floorKey)
    ratios[`${name}: ${row}`] = { ratio: r, floor: floorKey, goal: max }
    if (name === "after") g.check(`${row} ≤ ${max} × ${floorKey.slice(7)}`, r <= max, `${r} ×`)
  }
}
g.finish({
  bench: "wrapper-start",
  machine: { ...machine(), loadavgAtStart: loadAtStart },
  method: `${runs} rounds after ${WARMUP} warm-up rounds, every subject and floor once per round in a rotating order; ` +
    "median wall ms; the agent a shell script that marks its start, sleeps 0.3 s and marks its end; a 200-file repository",
  medianMs: results,
  ratios
})
