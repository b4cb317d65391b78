// N simultaneous session starts on one repository (`parallel-cc register`, real processes, real
// worktrees) next to the same number of plain `git worktree add` calls: one after another (how git can
// do them) and all at once (how they fail). Also the floor of starting N Node processes at once.
// Each figure is the median wall time of several rounds, each on a fresh repository.
import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { hermeticGit, machine, round, stats } from "../lib.mjs"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")
const bin = path.join(root, "packages/cli/dist/bin.cjs")
const rounds = Number(process.env.BENCH_ROUNDS ?? 3)
const sizes = (process.env.BENCH_SIZES ?? "16,32").split(",").map(Number)
const FILES = 200

const gitEnv = (home) => hermeticGit({ ...process.env, HOME: home })

const freshRepo = () => {
  const base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "pcc-bench-race-")))
  const repo = path.join(base, "repo")
  const env = { ...gitEnv(base), PARALLEL_CC_DATA_DIR: path.join(base, "data"), PARALLEL_CC_DB_BUSY_TIMEOUT_MS: "120000" }
  fs.mkdirSync(path.join(repo, "src"), { recursive: true })
  for (let i = 0; i < FILES; i++) fs.writeFileSync(path.join(repo, "src", `f${i}.ts`), `export const x${i} = ${i}\n`.repeat(20))
  const git = (...args) => spawnSync("git", args, { cwd: repo, env, encoding: "utf8" })
  git("init", "-q", "-b", "main")
  git("add", "-A")
  git("commit", "-q", "-m", "init")
  // Create the store and the start-up code cache up front (as on any machine after its first command),
  // so that every round measures session starts, not the first migration or a cold compile.
  spawnSync(process.execPath, [bin, "status"], { env })
  return { base, repo, env, git }
}

/** CPU seconds used by this process's finished children (cutime + cstime of /proc/self/stat), or null. */
const ticks = os.platform() === "linux" ? 100 : 0
const childCpu = () => {
  try {
    const f = fs.readFileSync("/proc/self/stat", "utf8").slice(fs.readFileSync("/proc/self/stat", "utf8").lastIndexOf(")") + 2).split(" ")
    return (Number(f[13]) + Number(f[14])) / ticks
  } catch {
    return null
  }
}
const cpuOf = async (f) => {
  const c0 = childCpu()
  const r = await f()
  const c1 = childCpu()
  return { r, cpu: c0 === null || c1 === null ? null : c1 - c0 }
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
const out = { bench: "register-race", machine: { ...machine(), loadavg: os.loadavg().map(round) }, method: "", results: {} }
out.method = `median of ${rounds} rounds; each round on a fresh repository of ${FILES} files; wall time from the first spawn to the last exit`
try {
  for (const n of sizes) {
    const times = { register: [], gitSequential: [], gitParallel: [], nodeStarts: [] }
    const cpu = { register: [], gitSequential: [], nodeStarts: [] }
    let errors = 0
    let gitParallelFailures = 0
    let checks = true
    for (let r = 0; r < rounds; r++) {
      const a = freshRepo()
      const { cpu: regCpu, r: reg } = await cpuOf(() =>
        runAll(
          Array.from({ length: n }, () => [process.execPath, bin, "register", "--repo", a.repo, "--pid", String(holder.pid), "--json"]),
          { env: a.env }
        )
      )
      cpu.register.push(regCpu)
      times.register.push(reg.ms)
      errors += reg.results.filter((x) => x.code !== 0).length
      const regs = reg.results.filter((x) => x.code === 0).map((x) => JSON.parse(x.out))
      const wts = new Set(regs.filter((x) => !x.isMainRepo).map((x) => x.worktreePath))
      checks &&= regs.filter((x) => x.isMainRepo).length === 1 && wts.size === n - 1 && [...wts].every((p) => fs.existsSync(p))
      fs.rmSync(a.base, { recursive: true, force: true })

      const b = freshRepo()
      const t0 = process.hrtime.bigint()
      const c0 = childCpu()
      for (let i = 0; i < n; i++) b.git("worktree", "add", "-q", "-b", `b${i}`, "--", path.join(`${b.repo}-worktrees`, `w${i}`), "HEAD")
      times.gitSequential.push(Number(process.hrtime.bigint() - t0) / 1e6)
      cpu.gitSequential.push(c0 === null ? null : childCpu() - c0)
      fs.rmSync(b.base, { recursive: true, force: true })

      const c = freshRepo()
      const par = await runAll(
        Array.from({ length: n }, (_, i) => ["git", "worktree", "add", "-q", "-b", `p${i}`, "--", path.join(`${c.repo}-worktrees`, `w${i}`), "HEAD"]),
        { cwd: c.repo, env: c.env }
      )
      times.gitParallel.push(par.ms)
      gitParallelFailures += par.results.filter((x) => x.code !== 0).length
      fs.rmSync(c.base, { recursive: true, force: true })

      const { cpu: nodeCpu, r: node } = await cpuOf(() => runAll(Array.from({ length: n }, () => [process.execPath, "-e", "0"]), {}))
      times.nodeStarts.push(node.ms)
      cpu.nodeStarts.push(nodeCpu)
    }
    const med = (k) => stats(times[k]).median
    const cpuMed = (k) => (cpu[k].some((x) => x === null) ? null : round(stats(cpu[k]).median))
    out.results[`${n} starts`] = {
      "parallel-cc register × N at once (ms)": med("register"),
      "errors (all rounds)": errors,
      "exactly one main, N-1 distinct worktrees on disk (all rounds)": checks,
      "git worktree add × N one after another (ms)": med("gitSequential"),
      "git worktree add × N at once (ms)": med("gitParallel"),
      "git worktree add × N at once: failures (all rounds)": gitParallelFailures,
      "node -e 0 × N at once (ms)": med("nodeStarts"),
      "register / sequential git worktree add": round(med("register") / med("gitSequential")),
      "register - node starts (ms)": round(med("register") - med("nodeStarts")),
      "CPU s: register × N": cpuMed("register"),
      "CPU s: git worktree add × N": cpuMed("gitSequential"),
      "CPU s: node -e 0 × N": cpuMed("nodeStarts")
    }
  }
  console.log(JSON.stringify(out, null, 2))
} finally {
  holder.kill("SIGKILL")
}
