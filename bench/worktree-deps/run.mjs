// Time until a new worktree is ready with its dependencies usable, on a repository whose node_modules has
// about 50 000 files (fixture/: real npm packages, installed once with `npm ci --prefer-offline`). Side by
// side, interleaved, each timed the same way (from the start of the worktree's creation until `node`
// has loaded three of the dependencies from inside the worktree):
//   - parallel-cc register with worktree.share ["node_modules"], shareMode clone (reflink, else hard links)
//   - the same with shareMode symlink
//   - git worktree add + `cp -a node_modules` (a plain copy)
//   - git worktree add + `npm ci --offline` in the worktree (npm's cache only: no network while timed)
//   - git worktree add alone (no dependencies: the floor of any of them)
// Also the disk space each adds (`du` over the main checkout's and the worktree's node_modules in one
// call, so shared blocks count once) and the load average. Goal: clone ≤ 2 s on a file system with
// copy-on-write or hard links; exits 1 when missed.
import { execFileSync, spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { goalMissed, hermeticGit, machine, round, stats } from "../lib.mjs"

const here = path.dirname(fileURLToPath(import.meta.url))
const root = path.resolve(here, "../..")
const bin = path.join(root, "packages/cli/dist/bin.cjs")
const runs = Number(process.env.BENCH_RUNS ?? 5)
const npmRuns = Number(process.env.BENCH_NPM_RUNS ?? 3)
const GOAL_MS = 2000
const base = fs.mkdtempSync(path.join(process.env.BENCH_DIR ?? os.tmpdir(), "pcc-bench-deps-"))
const agent = spawn("sleep", ["3600"], { stdio: "ignore" })
try {
  const repo = path.join(base, "repo")
  const data = path.join(base, "data")
  fs.mkdirSync(repo)
  const env = hermeticGit({ ...process.env, HOME: base, PARALLEL_CC_DATA_DIR: data })
  const git = (args, cwd = repo) => execFileSync("git", args, { cwd, env, encoding: "utf8" })
  for (const f of ["package.json", "package-lock.json", ".npmrc"]) fs.copyFileSync(path.join(here, "fixture", f), path.join(repo, f))
  fs.writeFileSync(path.join(repo, ".gitignore"), "node_modules/\n")
  fs.writeFileSync(path.join(repo, "index.js"), "module.exports = [require('lodash'), require('rxjs'), require('date-fns')]\n")
  git(["init", "-q", "-b", "main"])
  git(["add", "-A"])
  git(["commit", "-q", "-m", "app"])
  console.error("installing the fixture's dependencies in the main checkout (npm ci --prefer-offline)…")
  execFileSync("npm", ["ci", "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts"], { cwd: repo, env, stdio: "ignore" })
  const files = Number(execFileSync("sh", ["-c", "find node_modules -type f | wc -l"], { cwd: repo, encoding: "utf8" }).trim())

  const usable = (dir) => {
    const r = spawnSync(process.execPath, ["-e", "require('./index.js')"], { cwd: dir, env })
    if (r.status !== 0) throw new Error(`dependencies not usable in ${dir}: ${r.stderr}`)
  }
  const timed = (f) => {
    const t0 = process.hrtime.bigint()
    const out = f()
    return { ms: Number(process.hrtime.bigint() - t0) / 1e6, out }
  }
  const added = (wt) => {
    const lines = execFileSync("du", ["-sk", path.join(repo, "node_modules"), path.join(wt, "node_modules")], { encoding: "utf8" }).trim().split("\n")
    return Number(lines[1]?.split("\t")[0] ?? 0) * 1024
  }
  const register = (mode) => () => {
    const r = execFileSync(process.execPath, [bin, "register", "--repo", repo, "--pid", String(agent.pid), "--json"], {
      env: { ...env, PARALLEL_CC_WORKTREE_SHARE: "[\"node_modules\"]", PARALLEL_CC_WORKTREE_SHARE_MODE: mode },
      encoding: "utf8"
    })
    const wt = JSON.parse(r).worktreePath
    usable(wt)
    return wt
  }
  const plain = (deps) => (i) => () => {
    const wt = path.join(base, `wt-${deps}-${i}`)
    git(["worktree", "add", "-q", "-b", `b-${deps}-${i}`, wt, "HEAD"])
    if (deps === "cp") execFileSync("cp", ["-a", path.join(repo, "node_modules"), path.join(wt, "node_modules")])
    if (deps === "npm") execFileSync("npm", ["ci", "--offline", "--no-audit", "--no-fund", "--ignore-scripts"], { cwd: wt, env, stdio: "ignore" })
    if (deps !== "none") usable(wt)
    return wt
  }
  const dropPlain = (wt, branch) => {
    git(["worktree", "remove", "--force", "--force", wt])
    git(["branch", "-D", branch])
  }
  const dropSession = () => execFileSync(process.execPath, [bin, "release", "--pid", String(agent.pid), "--force"], { env, stdio: "ignore" })

  // The main checkout's session, so that the registrations below get worktrees.
  execFileSync(process.execPath, [bin, "register", "--repo", repo, "--pid", String(process.pid)], { env, stdio: "ignore" })
  const subjects = {
    "worktree.share clone": { make: () => register("clone"), drop: dropSession },
    "worktree.share symlink": { make: () => register("symlink"), drop: dropSession },
    "git worktree add + cp -a": { make: plain("cp"), drop: (wt, i) => dropPlain(wt, `b-cp-${i}`) },
    "git worktree add + npm ci --offline": { make: plain("npm"), drop: (wt, i) => dropPlain(wt, `b-npm-${i}`), runs: npmRuns },
    "git worktree add (no dependencies)": { make: plain("none"), drop: (wt, i) => dropPlain(wt, `b-none-${i}`) }
  }
  const times = Object.fromEntries(Object.keys(subjects).map((k) => [k, []]))
  const space = {}
  const loads = []
  for (let i = 0; i < runs; i++) {
    for (const [name, s] of Object.entries(subjects)) {
      if (s.runs !== undefined && i >= s.runs) continue
      loads.push(os.loadavg()[0])
      const { ms, out: wt } = timed(s.make(i))
      times[name].push(ms)
      if (space[name] === undefined) space[name] = name.includes("no dependencies") ? 0 : added(wt)
      s.drop(wt, i)
      // Untimed: the removal written out before the next subject starts, so that no subject pays for the
      // previous one's deletes (263 MB after `cp -a`: on a `discard` mount a `cp --link` right after such a
      // removal took 1.5–1.8 s longer than after a sync; docs/benchmarks.md).
      execFileSync("sync")
    }
  }
  const results = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, stats(v)]))
  const clone = results["worktree.share clone"]
  const out = {
    bench: "worktree-deps",
    machine: machine(),
    loadAverage: { min: round(Math.min(...loads)), max: round(Math.max(...loads)) },
    fileSystem: execFileSync("df", ["-T", base], { encoding: "utf8" }).trim().split("\n")[1]?.split(/\s+/)[1],
    nodeModules: { files, bytes: Number(execFileSync("du", ["-sk", path.join(repo, "node_modules")], { encoding: "utf8" }).split("\t")[0]) * 1024 },
    results,
    diskAddedBytes: space,
    goal: { "worktree.share clone median ms": GOAL_MS, met: clone.median <= GOAL_MS }
  }
  console.log(JSON.stringify(out, null, 2))
  if (!out.goal.met) {
    console.error(`goal missed: worktree.share clone took ${clone.median} ms (median), goal ${GOAL_MS} ms`)
    goalMissed()
  }
} finally {
  agent.kill("SIGKILL")
  fs.rmSync(base, { recursive: true, force: true })
}
