// The hot read-only commands next to `node -e 0` (issue 20 item 3): `status`, `claims`, `sandbox list`,
// `sandbox status` and `overlaps`, each with and without `--json`, on a store with live sessions (the
// repository's own and a worktree, their agents sleeping processes), claims and finished sandbox runs.
// Goal: each median ≤ 1.3 × the median of `node -e 0`.
//
// Honest by construction: the floor is spawned exactly like the subjects (spawnSync, same environment, same
// working directory), all of them interleaved round after round in a rotating order, after warm-up rounds
// (the code cache is written by the first run, as after any first command); load averages are reported.
// BENCH_BEFORE=<checkout> adds that checkout's build as a second subject, in its own store, interleaved
// (a command it does not have is left out). BENCH_RUNS (default 30). Exits 1 when a goal is missed.
import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { beforeBuild, goals, hermeticGit, loadavg, machine, round, stats } from "../lib.mjs"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")
const Database = createRequire(path.join(root, "packages/core/package.json"))("better-sqlite3")
const runs = Number(process.env.BENCH_RUNS ?? 30)
const WARMUP = 3
const RATIO = 1.3
const node = process.execPath
const subjects = { after: path.join(root, "packages/cli/dist/bin.cjs") }
const before = beforeBuild()
if (before !== undefined) subjects.before = before.bin

const COMMANDS = {
  "status": ["status"],
  "status --json": ["status", "--json"],
  "claims": ["claims"],
  "claims --json": ["claims", "--json"],
  "sandbox list": ["sandbox", "list"],
  "sandbox list --json": ["sandbox", "list", "--json"],
  "sandbox status": ["sandbox", "status", "--session-id", "run1done00"],
  "sandbox status --json": ["sandbox", "status", "--session-id", "run1done00", "--json"],
  "overlaps": ["overlaps"],
  "overlaps --json": ["overlaps", "--json"]
}

const holders = []
const world = (name, bin) => {
  const base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), `pcc-bench-hot-${name}-`)))
  const repo = path.join(base, "repo")
  const env = { ...hermeticGit({ ...process.env, HOME: base }), PARALLEL_CC_DATA_DIR: path.join(base, "data") }
  fs.mkdirSync(path.join(repo, "src"), { recursive: true })
  for (let i = 0; i < 50; i++) fs.writeFileSync(path.join(repo, "src", `f${i}.ts`), `export const x${i} = ${i}\n`)
  const git = (...a) => spawnSync("git", a, { cwd: repo, env, encoding: "utf8" })
  git("init", "-q", "-b", "main")
  git("add", "-A")
  git("commit", "-q", "-m", "init")
  const cli = (...a) => {
    const r = spawnSync(node, [bin, ...a], { cwd: repo, env, encoding: "utf8" })
    if (r.status !== 0) throw new Error(`${name}: ${a.join(" ")} failed (${r.status}): ${r.stderr}`)
    return r.stdout
  }
  cli("status")
  const ids = []
  for (let i = 0; i < 2; i++) {
    const holder = spawn("sleep", ["3600"], { stdio: "ignore" })
    holders.push(holder)
    ids.push(JSON.parse(cli("register", "--repo", repo, "--pid", String(holder.pid), "--json")).sessionId)
  }
  const now = Date.now()
  const db = new Database(path.join(base, "data", "coordinator.db"))
  try {
    const claim = db.prepare(`INSERT INTO file_claims (id, session_id, repo_path, file_path, mode, reason, created_at, updated_at, expires_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
    claim.run("c1", ids[0], repo, "src/f1.ts", "EXCLUSIVE", "refactor", now, now, now + 3_600_000)
    claim.run("c2", ids[1], repo, "README.md", "INTENT", null, now, now, now + 3_600_000)
    const run = db.prepare(`INSERT INTO sandbox_runs (session_id, repo_path, provider, sandbox_id, isolation, agent, prompt, branch_mode,
      status, sandbox_state, timeout_ms, log_path, events_path, created_at, ended_at, error)
      VALUES (?, ?, 'local', ?, 'bwrap', 'claude', ?, 'review', ?, 'killed', 3600000, ?, ?, ?, ?, ?)`)
    run.run("run1done00", repo, "sb1", "fix the bug in the parser", "succeeded", "/tmp/l1", "/tmp/e1", now - 60_000, now, null)
    run.run("run2fail00", repo, "sb2", "p", "failed", "/tmp/l2", "/tmp/e2", now - 50_000, now, "it broke")
  } finally {
    db.close()
  }
  // Which commands this build has (an older build may lack `overlaps`).
  const has = Object.fromEntries(Object.entries(COMMANDS).map(([k, a]) => [k, spawnSync(node, [bin, ...a], { cwd: repo, env }).status === 0]))
  return { name, bin, base, repo, env, has }
}

const time = (argv, w) => {
  const t0 = process.hrtime.bigint()
  const r = spawnSync(argv[0], argv.slice(1), { cwd: w.repo, env: w.env, stdio: ["ignore", "pipe", "pipe"] })
  const ms = Number(process.hrtime.bigint() - t0) / 1e6
  if (r.status !== 0) throw new Error(`${argv.join(" ")} failed (${r.status}): ${r.stderr}`)
  return ms
}

const g = goals()
const loadAtStart = loadavg()
const worlds = Object.entries(subjects).map(([name, bin]) => world(name, bin))
const samples = {}
const add = (k, ms) => (samples[k] ??= []).push(ms)
try {
  // Every measurement of one round, in an order that rotates from round to round.
  const jobs = [["floor: node -e 0", [node, "-e", "0"], worlds[0]]]
  for (const w of worlds) {
    for (const [k, a] of Object.entries(COMMANDS)) if (w.has[k]) jobs.push([`${w.name}: ${k}`, [node, w.bin, ...a], w])
  }
  for (let i = 0; i < WARMUP + runs; i++) {
    for (let j = 0; j < jobs.length; j++) {
      const [key, argv, w] = jobs[(i + j) % jobs.length]
      const ms = time(argv, w)
      if (i >= WARMUP) add(key, ms)
    }
  }
} finally {
  for (const h of holders) h.kill("SIGKILL")
  for (const w of worlds) fs.rmSync(w.base, { recursive: true, force: true })
}
const results = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, stats(v)]))
const floor = results["floor: node -e 0"].median
const ratios = {}
for (const [k, r] of Object.entries(results)) {
  if (k.startsWith("floor")) continue
  ratios[k] = Number((r.median / floor).toFixed(2))
  if (k.startsWith("after: ")) g.check(`${k.slice(7)}: median ≤ ${RATIO} × node -e 0`, ratios[k] <= RATIO, `${ratios[k]} ×`)
}
g.finish({
  bench: "hot-commands",
  machine: { ...machine(), loadavgAtStart: loadAtStart },
  method: `${runs} runs of each command and of node -e 0, interleaved in a rotating order after ${WARMUP} warm-up rounds; ` +
    "wall ms per process (spawnSync); a store with two live sessions, two claims and two finished sandbox runs",
  results,
  ratioToNodeMedian: ratios
})
