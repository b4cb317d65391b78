// Shared helpers for benchmarks: interleaved repeated runs of whole commands, min and median.
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import * as os from "node:os"

/** Run each command `runs` times, interleaved (so machine noise hits all alike); wall-clock ms per run. */
export const timeCommands = (commands, { runs = 30, warmup = 3, env = process.env } = {}) => {
  const times = Object.fromEntries(Object.keys(commands).map((k) => [k, []]))
  for (let i = 0; i < warmup + runs; i++) {
    for (const [name, argv] of Object.entries(commands)) {
      const t0 = process.hrtime.bigint()
      const r = spawnSync(argv[0], argv.slice(1), { env, stdio: ["ignore", "pipe", "pipe"] })
      const ms = Number(process.hrtime.bigint() - t0) / 1e6
      if (r.status !== 0) throw new Error(`${name} failed (${r.status}): ${r.stderr}`)
      if (i >= warmup) times[name].push(ms)
    }
  }
  return Object.fromEntries(Object.entries(times).map(([k, v]) => [k, stats(v)]))
}

export const stats = (values) => {
  const v = [...values].sort((a, b) => a - b)
  const median = v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2
  return { runs: v.length, min: round(v[0]), median: round(median), max: round(v[v.length - 1]) }
}

/** `base` plus a git that reads no user or system config and commits as a fixed identity. */
export const hermeticGit = (base) => ({
  ...base,
  GIT_CONFIG_GLOBAL: "/dev/null",
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_AUTHOR_NAME: "b",
  GIT_AUTHOR_EMAIL: "b@example.com",
  GIT_COMMITTER_NAME: "b",
  GIT_COMMITTER_EMAIL: "b@example.com"
})

export const round = (x) => Math.round(x * 10) / 10

export const machine = () => ({
  cpus: `${os.cpus().length} × ${os.cpus()[0]?.model ?? "unknown"}`,
  memory: `${Math.round(os.totalmem() / 2 ** 30)} GiB`,
  os: `${os.type()} ${os.release()}`,
  node: process.version,
  date: new Date().toISOString()
})

/** The 1, 5 and 15 minute load averages, rounded. */
export const loadavg = () => os.loadavg().map(round)

/**
 * The build to compare against, when `BENCH_BEFORE=<checkout>` names another checkout of this repository
 * (built with `node scripts/build.mjs --cli` there): its CLI entry, timed interleaved with this one's.
 */
export const beforeBuild = () => {
  const dir = process.env.BENCH_BEFORE
  if (dir === undefined || dir === "") return undefined
  return { dir, bin: `${dir.replace(/\/+$/, "")}/packages/cli/dist/bin.cjs`, wrapper: `${dir.replace(/\/+$/, "")}/packages/cli/dist/wrapper.cjs` }
}

/**
 * Goals of a benchmark: `check(name, ok, detail)` records one; `finish(doc)` prints the document with the
 * goals and the load average at the end, and exits 1 when a goal was missed (so a regression is visible).
 * `BENCH_NO_GOALS=1` reports without failing (CI runs benches as smoke tests only).
 */
export const goals = () => {
  const list = []
  return {
    check: (name, ok, detail) => list.push({ goal: name, met: Boolean(ok), detail }),
    finish: (doc) => {
      const missed = list.filter((g) => !g.met)
      console.log(JSON.stringify({ ...doc, loadavgAtEnd: loadavg(), goals: list }, null, 2))
      if (missed.length > 0) {
        console.error(`goals missed: ${missed.map((g) => `${g.goal} (${g.detail})`).join("; ")}`)
        goalMissed()
      }
    }
  }
}

/**
 * Marks the run as failed because a goal was missed (exit code 1 at the end), unless `BENCH_NO_GOALS=1`
 * asks for a report only, as CI's smoke runs do.
 */
export const goalMissed = () => {
  if (process.env.BENCH_NO_GOALS !== "1") process.exitCode = 1
}

/** Median of an array of numbers. */
export const median = (values) => stats(values).median

/**
 * Instructions executed by a command and all its children (valgrind's callgrind, millions): a measure of
 * work that does not change with the machine's load. Undefined when valgrind is not installed.
 */
export const instructions = (argv, options = {}) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pcc-bench-cg-"))
  try {
    const r = spawnSync("valgrind", ["--tool=callgrind", "--trace-children=yes", `--callgrind-out-file=${dir}/cg.%p`, ...argv], {
      ...options,
      stdio: ["ignore", "ignore", "pipe"],
      encoding: "utf8"
    })
    if (r.error !== undefined) return undefined
    if (r.status !== 0) throw new Error(`${argv.join(" ")} under valgrind failed (${r.status}): ${r.stderr.slice(-500)}`)
    let total = 0
    for (const f of fs.readdirSync(dir)) {
      const m = /^summary: (\d+)/m.exec(fs.readFileSync(path.join(dir, f), "utf8"))
      if (m !== null) total += Number(m[1])
    }
    return round(total / 1e6)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}
