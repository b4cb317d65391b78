// Live overlap detection on a 5 000-file repository with 8 live sessions (registered with the CLI, each
// with its watcher: `parallel-cc watch session ID`, what claude-parallel runs beside its agent).
//
// 1. Edit to visible: a file session B has changed is edited in session A's worktree; the clock stops when
//    B's notice about it is in B's session directory (what B's next tool call delivers). Floor, timed the
//    same way and interleaved: the git work a scan cannot avoid — `git add -A` into a temporary index and
//    `git write-tree` in A's worktree. Goal ≤ 2 s at the median.
// 2. A full scan: 8 sessions × 50 changed files (overlapping in pairs), `client.overlaps.list({ refresh })`
//    in-process (every session snapshotted, every pair merged); floor: `git status` in each of the 8
//    worktrees, one after another. Goal ≤ 1 s at the median.
// Exits non-zero when a goal is missed.
import { execFileSync, spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { goalMissed, hermeticGit, machine, round, stats } from "../lib.mjs"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")
const bin = path.join(root, "packages/cli/dist/bin.cjs")
const { createClient } = await import(pathToFileURL(path.join(root, "packages/core/dist/promise.js")).href)
const FILES = 5_000
const SESSIONS = 8
const CHANGED = 50
const ROUNDS = Number(process.env.BENCH_RUNS ?? 8)
const base = fs.mkdtempSync(path.join(os.tmpdir(), "pcc-bench-overlaps-"))
const repo = path.join(base, "repo")
const data = path.join(base, "data")
const env = hermeticGit({ PATH: process.env.PATH, HOME: base, PARALLEL_CC_DATA_DIR: data })
const git = (args, cwd = repo) => execFileSync("git", args, { cwd, env, maxBuffer: 1 << 28, encoding: "utf8" })
const cli = (args) => JSON.parse(execFileSync(process.execPath, [bin, ...args, "--json"], { cwd: repo, env, encoding: "utf8" }))
const fileOf = (i) => `src/d${Math.floor(i / 100)}/m${i}.ts`
const source = (i, v) => `export function f${i}(x: number): number {\n  return x + ${v}\n}\n\nexport const c${i} = ${i}\n`
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6
const watchers = []
const client = createClient({ dataDir: data, homeDir: base })

const until = async (f, timeoutMs = 30_000) => {
  const end = Date.now() + timeoutMs
  while (!f()) {
    if (Date.now() > end) throw new Error("timed out")
    await new Promise((r) => setTimeout(r, 5))
  }
}

try {
  fs.mkdirSync(repo, { recursive: true })
  git(["init", "-q", "-b", "main"])
  for (let i = 0; i < FILES; i++) {
    const dir = path.join(repo, path.dirname(fileOf(i)))
    if (i % 100 === 0) fs.mkdirSync(dir, { recursive: true })
    fs.writeFileSync(path.join(repo, fileOf(i)), source(i, 0))
  }
  git(["add", "-A"])
  git(["commit", "-q", "-m", "base"])
  const sessions = []
  for (let s = 0; s < SESSIONS; s++) sessions.push(cli(["register", "--repo", repo, "--pid", String(process.pid)]))
  // 50 changed files per session: 40 of its own, and 10 of the next session's (the same functions): 8 pairs
  // of sessions overlap on 10 files each.
  for (const [s, reg] of sessions.entries()) {
    for (let k = 0; k < CHANGED - 10; k++) fs.writeFileSync(path.join(reg.worktreePath, fileOf(s * 200 + k)), source(s * 200 + k, s + 1))
    const next = ((s + 1) % SESSIONS) * 200
    for (let k = 0; k < 10; k++) fs.writeFileSync(path.join(reg.worktreePath, fileOf(next + k)), source(next + k, s + 100))
  }

  // 2. Full scans (no watchers yet, so nothing else scans meanwhile).
  await client.overlaps.list({ repoPath: repo, refresh: true }) // warm: the TypeScript parser, the store
  const full = []
  const floorFull = []
  for (let r = 0; r < ROUNDS; r++) {
    let t0 = process.hrtime.bigint()
    for (const reg of sessions) spawnSync("git", ["status", "--porcelain"], { cwd: reg.worktreePath, env: { ...env, GIT_OPTIONAL_LOCKS: "0" } })
    floorFull.push(ms(t0))
    // Touch one file per session so that every snapshot is new work.
    for (const [s, reg] of sessions.entries()) fs.appendFileSync(path.join(reg.worktreePath, fileOf(s * 200 + 20)), `// round ${r}\n`)
    t0 = process.hrtime.bigint()
    const found = await client.overlaps.list({ repoPath: repo, refresh: true })
    full.push(ms(t0))
    if (found.length !== SESSIONS * 10) throw new Error(`expected ${SESSIONS * 10} overlaps, got ${found.length}`)
  }

  // 1. Edit to visible, with a watcher per session.
  const ready = []
  for (const reg of sessions) {
    const c = spawn(process.execPath, [bin, "watch", "session", reg.sessionId], { env, stdio: ["ignore", "pipe", "inherit"] })
    watchers.push(c)
    let out = ""
    c.stdout.setEncoding("utf8").on("data", (d) => (out += d))
    ready.push(() => out.startsWith("watching session"))
  }
  const a = sessions[0]
  const b = sessions[1]
  // Each watcher prints its line once its first scan is done.
  await until(() => ready.every((r) => r()), 120_000)
  const visible = []
  const floorEdit = []
  for (let r = 0; r < ROUNDS; r++) {
    // A file only B has changed so far; A edits the same function.
    const i = 1 * 200 + 100 + r
    fs.writeFileSync(path.join(b.worktreePath, fileOf(i)), source(i, 77))
    const key = `overlap.${a.sessionId}.${fileOf(i)}`.replace(/[^A-Za-z0-9._-]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`)
    const notice = path.join(data, "live", b.sessionId, "notices", key)
    await until(() => fs.existsSync(path.join(data, "live", b.sessionId, "changes", fileOf(i))))
    let t0 = process.hrtime.bigint()
    const idx = path.join(base, `floor-index-${r}`)
    fs.copyFileSync(path.join(repo, ".git", "index"), idx)
    spawnSync("git", ["add", "-A"], { cwd: a.worktreePath, env: { ...env, GIT_INDEX_FILE: idx } })
    spawnSync("git", ["write-tree"], { cwd: a.worktreePath, env: { ...env, GIT_INDEX_FILE: idx } })
    floorEdit.push(ms(t0))
    t0 = process.hrtime.bigint()
    fs.writeFileSync(path.join(a.worktreePath, fileOf(i)), source(i, 88))
    await until(() => fs.existsSync(notice))
    visible.push(ms(t0))
  }
  const s = { editToVisible: stats(visible), editFloor: stats(floorEdit), fullScan: stats(full), fullScanFloor: stats(floorFull) }
  const goals = { "edit to visible median ≤ 2000 ms": s.editToVisible.median <= 2000, "full scan median ≤ 1000 ms": s.fullScan.median <= 1000 }
  const out = {
    bench: "overlaps",
    machine: machine(),
    loadavg: os.loadavg().map(round),
    setup: { files: FILES, sessions: SESSIONS, changedPerSession: CHANGED, overlapsPerScan: SESSIONS * 10, rounds: ROUNDS },
    ms: s,
    goals,
    pass: Object.values(goals).every(Boolean)
  }
  console.log(JSON.stringify(out, null, 2))
  if (!out.pass) goalMissed()
} finally {
  // The watchers stop on SIGTERM; wait for them before removing what they write to.
  await Promise.all(watchers.map((c) => (c.exitCode !== null ? undefined : new Promise((r) => {
    c.on("close", r)
    c.kill("SIGTERM")
  }))))
  await client.close()
  fs.rmSync(base, { recursive: true, force: true })
}
