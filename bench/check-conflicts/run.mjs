// check_conflicts between two branches of a generated 10 000-file repository in which each branch
// changed 50 files (25 of them the same files, with overlapping edits, so the answer has conflicts).
// The tool is called through the real MCP client on the built server (`parallel-cc mcp serve`), as an
// agent would; `git merge-tree --write-tree` alone is timed next to it as the floor, interleaved (one floor
// run before each call). Exits 1 when the median misses the goal (under 1 s) or the answer is wrong.
// Second subject: get_auto_fix_suggestions for one 2 000-line TypeScript file with 10 conflicting hunks
// (both branches rewrote the same line in ten places), next to `git merge-file --diff3` on the same three
// texts as its floor, interleaved; goal: median under 500 ms.
// Issue 20's goal: check_conflicts median ≤ 1.5 × the merge-tree floor (reported as `ratio`, checked).
// BENCH_BEFORE=<checkout> (built) adds that build's server, called in the same rounds; BENCH_ONLY=check
// times check_conflicts only (skips detect and suggestions).
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js"
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { beforeBuild, goalMissed, machine, round, stats } from "../lib.mjs"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")
const bin = path.join(root, "packages/cli/dist/bin.cjs")
const runs = Number(process.env.BENCH_RUNS ?? 15)
const FILES = 10_000
const CHANGED = 50
const base = fs.mkdtempSync(path.join(os.tmpdir(), "pcc-bench-cc-"))
const repo = path.join(base, "repo")
const data = path.join(base, "data")
const env = {
  PATH: process.env.PATH,
  HOME: base,
  GIT_CONFIG_GLOBAL: "/dev/null",
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_AUTHOR_NAME: "bench",
  GIT_AUTHOR_EMAIL: "bench@example.com",
  GIT_COMMITTER_NAME: "bench",
  GIT_COMMITTER_EMAIL: "bench@example.com",
  PARALLEL_CC_DATA_DIR: data
}
const git = (...args) => execFileSync("git", args, { cwd: repo, env, maxBuffer: 1 << 28, encoding: "utf8" })

const BIG = 2_000
const HUNKS = 10
/** The 2 000-line file; `side` rewrites one line in each of ten places 200 lines apart. */
const bigSource = (side = "") =>
  Array.from({ length: BIG }, (_, i) =>
    side !== "" && i % (BIG / HUNKS) === BIG / HUNKS / 2 ? `export const v${i} = compute(${i}, "${side}")\n` : `export const v${i} = ${i}\n`).join("")

const source = (i, variant = "") =>
  `// module ${i}\nexport function f${i}(x: number): number {\n  return x * ${i}${variant}\n}\n\n` +
  Array.from({ length: 20 }, (_, k) => `export const c${i}_${k} = ${k}\n`).join("")

try {
  const t0 = Date.now()
  fs.mkdirSync(repo, { recursive: true })
  git("init", "-q", "-b", "main")
  for (let i = 0; i < FILES; i++) {
    const dir = path.join(repo, "src", `d${Math.floor(i / 100)}`)
    if (i % 100 === 0) fs.mkdirSync(dir, { recursive: true })
    fs.writeFileSync(path.join(dir, `m${i}.ts`), source(i))
  }
  fs.writeFileSync(path.join(repo, "src", "big.ts"), bigSource())
  git("add", "-A")
  git("commit", "-q", "-m", "base")
  for (const side of ["ours", "theirs"]) {
    git("checkout", "-q", "-b", `big-${side}`, "main")
    fs.writeFileSync(path.join(repo, "src", "big.ts"), bigSource(side))
    git("commit", "-q", "-am", `big.ts: ${side}`)
  }
  git("checkout", "-q", "main")
  const file = (i) => path.join(repo, "src", `d${Math.floor(i / 100)}`, `m${i}.ts`)
  // feature: files 0..49; main: files 25..74 — 25 files changed on both sides, on the same line.
  git("checkout", "-q", "-b", "feature")
  for (let i = 0; i < CHANGED; i++) fs.writeFileSync(file(i), source(i, " + 1"))
  git("commit", "-q", "-am", "feature edits")
  git("checkout", "-q", "main")
  for (let i = CHANGED / 2; i < CHANGED / 2 + CHANGED; i++) fs.writeFileSync(file(i), source(i, " - 1"))
  git("commit", "-q", "-am", "main edits")
  const setupMs = Date.now() - t0

  const serve = async (entry) => {
    const transport = new StdioClientTransport({ command: process.execPath, args: [entry, "mcp", "serve"], cwd: repo, env, stderr: "pipe" })
    const c = new Client({ name: "bench", version: "0.0.0" })
    await c.connect(transport)
    return c
  }
  const client = await serve(bin)
  const before = beforeBuild()
  const beforeClient = before === undefined ? undefined : await serve(before.bin)
  const only = process.env.BENCH_ONLY === "check"
  const args = { currentBranch: "feature", targetBranch: "main" }
  const floorOnce = () => {
    const t = process.hrtime.bigint()
    const r = spawnSync("git", ["merge-tree", "--write-tree", "-z", "main", "feature"], { cwd: repo, env })
    if (r.status !== 1) throw new Error(`git merge-tree should report the conflicts (exit 1), got ${r.status}`)
    return Number(process.hrtime.bigint() - t) / 1e6
  }
  // Interleaved: each round times the floor, then the subject, so that both see the same load.
  const times = []
  const floor = []
  const beforeTimes = []
  const load = [os.loadavg()[0]]
  let last
  for (let i = 0; i < runs + 2; i++) {
    const f = floorOnce()
    if (beforeClient !== undefined) {
      const t = process.hrtime.bigint()
      const r = await beforeClient.callTool({ name: "check_conflicts", arguments: args })
      if (r.isError) throw new Error(JSON.stringify(r.content))
      if (i >= 2) beforeTimes.push(Number(process.hrtime.bigint() - t) / 1e6)
    }
    const t = process.hrtime.bigint()
    last = await client.callTool({ name: "check_conflicts", arguments: args })
    const ms = Number(process.hrtime.bigint() - t) / 1e6
    if (last.isError) throw new Error(JSON.stringify(last.content))
    if (i >= 2) {
      times.push(ms)
      floor.push(f)
    }
    load.push(os.loadavg()[0])
  }
  // Classifying the 25 conflicted TypeScript files (parser loaded on the first call) is reported beside it.
  const detect = []
  for (let i = 0; !only && i < Math.max(3, Math.ceil(runs / 3)) + 1; i++) {
    const t = process.hrtime.bigint()
    const r = await client.callTool({ name: "detect_advanced_conflicts", arguments: { ...args, source: "branches" } })
    if (r.isError) throw new Error(JSON.stringify(r.content))
    detect.push(Number(process.hrtime.bigint() - t) / 1e6)
  }
  // Suggestions for the 2 000-line file with 10 hunks, beside git merge-file on the same three texts.
  const suggestTimes = []
  const suggestFloor = []
  let suggested
  if (!only) {
  const found = await client.callTool({ name: "detect_advanced_conflicts", arguments: { currentBranch: "big-theirs", targetBranch: "big-ours", source: "branches" } })
  if (found.isError) throw new Error(JSON.stringify(found.content))
  const big = found.structuredContent.conflicts.find((c) => c.path === "src/big.ts")
  if (big === undefined || big.hunks.length !== HUNKS) throw new Error(`expected src/big.ts with ${HUNKS} hunks, got ${JSON.stringify(big?.hunks.length)}`)
  const texts = fs.mkdtempSync(path.join(os.tmpdir(), "pcc-bench-big-"))
  for (const side of ["", "ours", "theirs"]) fs.writeFileSync(path.join(texts, `${side || "base"}.ts`), bigSource(side))
  const mergeFileOnce = () => {
    const t = process.hrtime.bigint()
    const r = spawnSync("git", ["merge-file", "-p", "--diff3", "ours.ts", "base.ts", "theirs.ts"], { cwd: texts, env })
    if (r.status !== HUNKS) throw new Error(`git merge-file should report ${HUNKS} conflicts, got ${r.status}`)
    return Number(process.hrtime.bigint() - t) / 1e6
  }
  for (let i = 0; i < runs + 2; i++) {
    const f = mergeFileOnce()
    const t = process.hrtime.bigint()
    suggested = await client.callTool({ name: "get_auto_fix_suggestions", arguments: { conflictId: big.id } })
    const ms = Number(process.hrtime.bigint() - t) / 1e6
    if (suggested.isError) throw new Error(JSON.stringify(suggested.content))
    if (i >= 2) {
      suggestTimes.push(ms)
      suggestFloor.push(f)
    }
    load.push(os.loadavg()[0])
  }
  fs.rmSync(texts, { recursive: true, force: true })
  }
  await client.close()
  await beforeClient?.close()
  const check = stats(times)
  const floorStats = stats(floor)
  const ratio = round(check.median / floorStats.median)
  const results = {
    "check_conflicts (MCP call, warm server)": check,
    ...(beforeClient !== undefined ? { [`check_conflicts, before (${before.dir})`]: stats(beforeTimes) } : {}),
    "git merge-tree --write-tree -z (floor)": floorStats
  }
  if (!only) {
    results["detect_advanced_conflicts, first call (loads the TypeScript parser)"] = stats(detect.slice(0, 1))
    results["detect_advanced_conflicts, later calls (classifies and records 25 files)"] = stats(detect.slice(1))
    results["get_auto_fix_suggestions, 2 000-line file, 10 hunks (MCP call)"] = stats(suggestTimes)
    results["git merge-file --diff3, same file (floor)"] = stats(suggestFloor)
  }
  const missed = [
    ...(check.median < 1000 ? [] : [`check_conflicts median ${check.median} ms, goal under 1000 ms`]),
    ...(ratio <= 1.5 ? [] : [`check_conflicts median ${ratio} × merge-tree, goal ≤ 1.5 × (issue 20)`]),
    ...(only || stats(suggestTimes).median < 500 ? [] : [`get_auto_fix_suggestions median ${stats(suggestTimes).median} ms, goal under 500 ms`])
  ]
  const result = {
    bench: "check-conflicts",
    machine: { ...machine(), loadavg: { min: round(Math.min(...load)), max: round(Math.max(...load)), samples: load.length } },
    repo: { files: FILES, changedPerBranch: CHANGED, changedOnBoth: CHANGED / 2, setupMs },
    conflictedFiles: last.structuredContent.files.length,
    results,
    ...(only ? {} : { suggestions: { total: suggested.structuredContent.total, topHunks: suggested.structuredContent.suggestions[0]?.hunks.length } }),
    target: "check_conflicts median under 1000 ms and ≤ 1.5 × merge-tree; get_auto_fix_suggestions median under 500 ms",
    ratio,
    pass: missed.length === 0
  }
  console.log(JSON.stringify(result, null, 2))
  if (result.conflictedFiles !== CHANGED / 2) throw new Error(`expected ${CHANGED / 2} conflicted files, got ${result.conflictedFiles}`)
  if (!result.pass) {
    console.error(missed.join("; "))
    goalMissed()
  }
} finally {
  fs.rmSync(base, { recursive: true, force: true })
}
