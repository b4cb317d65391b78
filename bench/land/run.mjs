// The landing queue: 8 finished sessions (5 files changed each) on a 5 000-file repository, landed with
// `parallel-cc land --all` and a test command that takes 2 s, against the floor of running that test
// command 8 times one after another. Subject and floor are timed the same way (wall clock around the
// process(es)), interleaved round by round; between rounds the target is reset and the queue emptied.
//
// Goals: all pass → land ≤ 1.0 × floor (batching: one test run); one failing candidate → ≤ 1.5 × floor
// (bisection); the queue's own cost per candidate — land's wall time minus the time its tests ran, over 8 —
// ≤ 300 ms. Exits non-zero when a goal is missed.
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { goalMissed, hermeticGit, machine, round, stats } from "../lib.mjs"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")
const bin = path.join(root, "packages/cli/dist/bin.cjs")
const Database = createRequire(import.meta.url)("better-sqlite3")
const runs = Number(process.env.BENCH_RUNS ?? 3)
const FILES = 5_000
const SESSIONS = 8
const CHANGED = 5
const TEST_MS = 2_000
const base = fs.mkdtempSync(path.join(os.tmpdir(), "pcc-bench-land-"))
const repo = path.join(base, "repo")
const data = path.join(base, "data")
const env = hermeticGit({ PATH: process.env.PATH, HOME: base, PARALLEL_CC_DATA_DIR: data, PARALLEL_CC_LAND_TEST: "node land-test.mjs" })
const git = (args, cwd = repo) => execFileSync("git", args, { cwd, env, maxBuffer: 1 << 28, encoding: "utf8" })
const cli = (args, extra = {}) => {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: repo, env: { ...env, ...extra }, encoding: "utf8", maxBuffer: 1 << 26 })
  return r
}

// The test: 2 s of "work"; with BENCH_FAIL=1 it fails when candidate 5's marker file is in the tree.
const testScript = `import fs from "node:fs"
setTimeout(() => {
  if (process.env.BENCH_FAIL === "1" && fs.existsSync("src/marker-5.txt")) { console.log("candidate 5 breaks the build"); process.exit(1) }
}, ${TEST_MS})
`

const setup = () => {
  fs.mkdirSync(repo, { recursive: true })
  git(["init", "-q", "-b", "main"])
  for (let i = 0; i < FILES; i++) {
    const dir = path.join(repo, "src", `d${Math.floor(i / 100)}`)
    if (i % 100 === 0) fs.mkdirSync(dir, { recursive: true })
    fs.writeFileSync(path.join(dir, `m${i}.ts`), `export const m${i} = ${i}\n`)
  }
  fs.writeFileSync(path.join(repo, "land-test.mjs"), testScript)
  git(["add", "-A"])
  git(["commit", "-q", "-m", "base"])
  const main = JSON.parse(cli(["register", "--repo", repo, "--pid", String(process.pid), "--json"]).stdout)
  if (!main.isMainRepo) throw new Error("the first session should work in the repository")
  for (let s = 0; s < SESSIONS; s++) {
    const r = cli(["register", "--repo", repo, "--pid", String(process.pid), "--json"])
    if (r.status !== 0) throw new Error(r.stderr)
    const reg = JSON.parse(r.stdout)
    for (let k = 0; k < CHANGED - 1; k++) {
      const i = s * 100 + k * 7
      fs.writeFileSync(path.join(reg.worktreePath, "src", `d${Math.floor(i / 100)}`, `m${i}.ts`), `export const m${i} = ${i} + ${s}\n`)
    }
    fs.writeFileSync(path.join(reg.worktreePath, "src", `marker-${s + 1}.txt`), `session ${s + 1}\n`)
    git(["add", "-A"], reg.worktreePath)
    git(["commit", "-q", "-m", `session ${s + 1}`], reg.worktreePath)
    const rel = cli(["release", "--session-id", reg.sessionId, "--json"])
    if (rel.status !== 0) throw new Error(rel.stderr)
  }
  cli(["land", "--list"]) // the store exists before anything is timed
  return git(["rev-parse", "main"]).trim()
}

const reset = (baseCommit) => {
  git(["reset", "-q", "--hard", baseCommit])
  const db = new Database(path.join(data, "coordinator.db"))
  db.exec("DELETE FROM land_entries; DELETE FROM land_runs; DELETE FROM land_locks")
  db.close()
}

const timeLand = (fail) => {
  const t = process.hrtime.bigint()
  const r = cli(["land", "--all", "--json"], { BENCH_FAIL: fail ? "1" : "0" })
  const ms = Number(process.hrtime.bigint() - t) / 1e6
  const report = JSON.parse(r.stdout)
  const expected = fail ? SESSIONS - 1 : SESSIONS
  if (report.landed !== expected) throw new Error(`expected ${expected} landed, got ${report.landed}: ${r.stderr}`)
  return { ms, report }
}

// How long the CLI takes to start and exit doing nothing, timed the same way: the part of the queue's
// overhead that is not the queue's own work.
const timeStart = () => {
  const t = process.hrtime.bigint()
  const r = spawnSync(process.execPath, [bin, "--version"], { cwd: repo, env })
  if (r.status !== 0) throw new Error(String(r.stderr))
  return Number(process.hrtime.bigint() - t) / 1e6
}

const timeFloor = () => {
  const t = process.hrtime.bigint()
  for (let i = 0; i < SESSIONS; i++) {
    const r = spawnSync(process.execPath, ["land-test.mjs"], { cwd: repo, env: { ...env, BENCH_FAIL: "0" } })
    if (r.status !== 0) throw new Error(`the floor's test failed: ${r.stderr}`)
  }
  return Number(process.hrtime.bigint() - t) / 1e6
}

try {
  const load = [os.loadavg()]
  const t0 = Date.now()
  const baseCommit = setup()
  const setupMs = Date.now() - t0
  const scenario = (fail) => {
    const floor = []
    const land = []
    const overhead = []
    const tests = []
    const starts = []
    const beyondStart = []
    for (let i = 0; i < runs; i++) {
      floor.push(timeFloor())
      const start = timeStart()
      starts.push(start)
      reset(baseCommit)
      const { ms, report } = timeLand(fail)
      land.push(ms)
      tests.push(report.tests.runs)
      overhead.push((ms - report.tests.totalMs) / SESSIONS)
      beyondStart.push((ms - report.tests.totalMs - start) / SESSIONS)
    }
    reset(baseCommit)
    const f = stats(floor)
    const l = stats(land)
    return {
      floor: f,
      land: l,
      ratio: Math.round(l.median / f.median * 100) / 100,
      overheadPerCandidateMs: stats(overhead),
      cliStartMs: stats(starts),
      overheadPerCandidateBeyondCliStartMs: stats(beyondStart),
      testRuns: tests
    }
  }
  const allPass = scenario(false)
  load.push(os.loadavg())
  const oneFails = scenario(true)
  load.push(os.loadavg())
  const goals = {
    "all pass: land ≤ 1.0 × floor": allPass.ratio <= 1.0,
    "one failing: land ≤ 1.5 × floor": oneFails.ratio <= 1.5,
    "queue overhead ≤ 300 ms per candidate (all pass, median)": allPass.overheadPerCandidateMs.median <= 300
  }
  const result = {
    bench: "land",
    machine: machine(),
    loadAverage: load.map((l) => l.map((x) => round(x))),
    repo: { files: FILES, sessions: SESSIONS, filesChangedPerSession: CHANGED, testMs: TEST_MS, setupMs },
    runs,
    allPass,
    oneFails,
    goals,
    pass: Object.values(goals).every(Boolean)
  }
  console.log(JSON.stringify(result, null, 2))
  if (!result.pass) goalMissed()
} finally {
  fs.rmSync(base, { recursive: true, force: true })
}
