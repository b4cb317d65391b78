// N simultaneous session starts on one repository (`parallel-cc register`, real processes, real
// worktrees) next to their floor: the same number of sequential pairs of `node -e 0` + `git worktree add`
// (a Node start and a worktree, one after another, which is what N starts cost without any coordination).
// Also, for the record, N plain `git worktree add` at once (how they corrupt each other).
//
// Honest by construction: every side gets a fresh repository (and data directory) prepared before its
// clock starts and removed after it stops; the sides run interleaved, in a rotating order, round after
// round; the load average is reported. Goals (issue 20 item 1, issue 13 item 6): at 16 and 32 starts,
// register × N at once ≤ the floor; at every size, zero errors at default settings, exactly one main
// session and N−1 distinct worktrees. The bench exits 1 when a goal is missed.
//
// BENCH_SIZES (default 16,32,64,128), BENCH_ROUNDS (default 3 up to 32 starts, 1 above),
// BENCH_BEFORE=<checkout> adds that checkout's build as a second subject ("before"), interleaved.
import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { beforeBuild, goals, hermeticGit, loadavg, machine, median, round } from "../lib.mjs"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")
const bins = { after: path.join(root, "packages/cli/dist/bin.cjs") }
const before = beforeBuild()
if (before !== undefined) bins.before = before.bin
const sizes = (process.env.BENCH_SIZES ?? "16,32,64,128").split(",").map(Number)
const FILES = 200
const RATIO_SIZES = new Set([16, 32])

const freshRepo = (warmBin) => {
  const base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "pcc-bench-race-")))
  const repo = path.join(base, "repo")
  const env = { ...hermeticGit({ ...process.env, HOME: base }), PARALLEL_CC_DATA_DIR: path.join(base, "data") }
  fs.mkdirSync(path.join(repo, "src"), { recursive: true })
  for (let i = 0; i < FILES; i++) fs.writeFileSync(path.join(repo, "src", `f${i}.ts`), `export const x${i} = ${i}\n`.repeat(20))
  const git = (...args) => spawnSync("git", args, { cwd: repo, env, encoding: "utf8" })
  git("init", "-q", "-b", "main")
  git("add", "-A")
  git("commit", "-q", "-m", "init")
  // The store and the start-up caches exist, as on any machine after its first command: every round
  // measures session starts, not the first migration or a cold compile.
  if (warmBin !== undefined) spawnSync(process.execPath, [warmBin, "status"], { env })
  return { base, repo, env, git }
}

/** CPU seconds of this process's finished children (cutime + cstime of /proc/self/stat), or null. */
const childCpu = () => {
  try {
    const text = fs.readFileSync("/proc/self/stat", "utf8")
    const f = text.slice(text.lastIndexOf(")") + 2).split(" ")
    return (Number(f[13]) + Number(f[14])) / 100
  } catch {
    return null
  }
}

const runAll = (argvs, options) => {
  const t0 = process.hrtime.bigint()
  return Promise.all(argvs.map((argv) =>
    new Promise((resolve) => {
      const c = spawn(argv[0], argv.slice(1), { ...options, stdio: ["ignore", "pipe", "pipe"] })
      let out = ""
      let err = ""
      c.stdout.on("data", (d) => (out += d))
      c.stderr.on("data", (d) => (err += d))
      c.on("close", (code) => resolve({ code, out, err }))
    })
  )).then((results) => ({ ms: Number(process.hrtime.bigint() - t0) / 1e6, results }))
}

const holder = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" })
const g = goals()
const out = {
  bench: "register-race",
  machine: { ...machine(), loadavgAtStart: loadavg() },
  method: `each side on a fresh ${FILES}-file repository prepared before and removed after its timing; sides ` +
    "interleaved in a rotating order per round; wall time from the first spawn to the last exit; CPU = user + " +
    "system time of the finished children; medians over rounds; default settings (no busy-timeout override)",
  subjects: Object.fromEntries(Object.entries(bins).map(([k, v]) => [k, path.relative(process.cwd(), v) || v])),
  results: {}
}
try {
  for (const n of sizes) {
    const rounds = Number(process.env.BENCH_ROUNDS ?? (n <= 32 ? 3 : 1))
    const sides = [...Object.keys(bins), "floor", ...(n <= 32 ? ["gitAtOnce"] : [])]
    const wall = Object.fromEntries(sides.map((s) => [s, []]))
    const cpu = Object.fromEntries(sides.map((s) => [s, []]))
    const errors = Object.fromEntries(Object.keys(bins).map((s) => [s, []]))
    const checks = Object.fromEntries(Object.keys(bins).map((s) => [s, true]))
    const declines = Object.fromEntries(Object.keys(bins).map((s) => [s, []]))
    let gitAtOnceFailures = 0
    for (let r = 0; r < rounds; r++) {
      const order = sides.map((_, i) => sides[(i + r) % sides.length])
      for (const side of order) {
        const a = freshRepo(bins[side] ?? bins.after)
        const c0 = childCpu()
        let ms
        if (side === "floor") {
          const t0 = process.hrtime.bigint()
          for (let i = 0; i < n; i++) {
            spawnSync(process.execPath, ["-e", "0"], { env: a.env })
            a.git("worktree", "add", "-q", "-b", `b${i}`, "--", path.join(`${a.repo}-worktrees`, `w${i}`), "HEAD")
          }
          ms = Number(process.hrtime.bigint() - t0) / 1e6
        } else if (side === "gitAtOnce") {
          const res = await runAll(
            Array.from({ length: n }, (_, i) => ["git", "worktree", "add", "-q", "-b", `p${i}`, "--", path.join(`${a.repo}-worktrees`, `w${i}`), "HEAD"]),
            { cwd: a.repo, env: a.env }
          )
          ms = res.ms
          gitAtOnceFailures += res.results.filter((x) => x.code !== 0).length
        } else {
          const res = await runAll(
            Array.from({ length: n }, () => [process.execPath, bins[side], "register", "--repo", a.repo, "--pid", String(holder.pid), "--json"]),
            { env: { ...a.env, PARALLEL_CC_TRACE_FAST_PATH: "1" } }
          )
          ms = res.ms
          for (const x of res.results) {
            const m = /fast path declined: (.*)/.exec(x.err)
            if (m !== null) declines[side].push(m[1])
          }
          const parse = (x) => {
            try {
              return JSON.parse(x.out)
            } catch {
              return undefined
            }
          }
          for (const x of res.results) {
            if (x.code !== 0) errors[side].push(x.err.trim().split("\n").slice(-1)[0])
            else if (parse(x) === undefined) errors[side].push(`not one JSON document on stdout: ${x.out.slice(0, 200)}`)
          }
          const regs = res.results.filter((x) => x.code === 0).map(parse).filter((x) => x !== undefined)
          const wts = new Set(regs.filter((x) => !x.isMainRepo).map((x) => x.worktreePath))
          checks[side] &&= regs.length === n && regs.filter((x) => x.isMainRepo).length === 1 && wts.size === n - 1 &&
            [...wts].every((p) => fs.existsSync(path.join(p, "src", "f0.ts")))
        }
        const c1 = childCpu()
        wall[side].push(ms)
        cpu[side].push(c0 === null || c1 === null ? null : c1 - c0)
        fs.rmSync(a.base, { recursive: true, force: true })
      }
    }
    const med = (s) => round(median(wall[s]))
    const cpuMed = (s) => (cpu[s].some((x) => x === null) ? null : round(median(cpu[s]) * 1000))
    const res = {
      rounds,
      "floor: N × (node -e 0 + git worktree add), one after another (ms)": med("floor"),
      "floor CPU (ms)": cpuMed("floor")
    }
    for (const s of Object.keys(bins)) {
      res[`${s}: register × N at once (ms)`] = med(s)
      res[`${s}: CPU (ms)`] = cpuMed(s)
      res[`${s}: / floor`] = round(med(s) / med("floor") * 100) / 100
      res[`${s}: errors (all rounds)`] = errors[s].length
      if (errors[s].length > 0) res[`${s}: first errors`] = [...new Set(errors[s])].slice(0, 3)
      res[`${s}: exactly one main, N−1 distinct worktrees on disk, every round`] = checks[s]
      if (declines[s].length > 0) res[`${s}: starts the Effect-free path handed over (why)`] = declines[s]
    }
    if (n <= 32) {
      res["git worktree add × N at once (ms)"] = med("gitAtOnce")
      res["git worktree add × N at once: failures (all rounds)"] = gitAtOnceFailures
    }
    out.results[`${n} starts`] = res
    g.check(`${n} starts: zero errors`, errors.after.length === 0, `${errors.after.length} errors`)
    g.check(`${n} starts: one main, N−1 worktrees`, checks.after, String(checks.after))
    if (RATIO_SIZES.has(n)) {
      g.check(`${n} starts: ≤ floor`, med("after") <= med("floor"), `${med("after")} ms vs floor ${med("floor")} ms`)
    }
  }
} finally {
  holder.kill("SIGKILL")
}
g.finish(out)
