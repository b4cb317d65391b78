// File sync and local-provider overhead of `parallel-cc sandbox run`, in one run.
//
// 1. Upload (what a remote sandbox receives): on a generated repository of BENCH_FILES tracked files plus
//    ignored build output (dist/, node_modules/) that must never be sent, FileSync.pack (tracked +
//    untracked-not-ignored, one gzipped tar) next to `git archive --format=tar.gz HEAD` (tracked and committed
//    only) and a naive gzipped tar of the whole directory. Bytes and time, interleaved. Needs the library
//    build (packages/core/dist); BENCH_UPLOAD=0 leaves it out.
// 2. Overhead (the goal): the same scripted agent run in a fresh `git worktree` of the repository (the floor:
//    worktree added, agent run, worktree removed) next to `parallel-cc sandbox run` on the local provider
//    (bubblewrap when it works here, else a plain process; its review worktree removed the same way), on the
//    same repository, interleaved, on each file system of BENCH_ROOTS (default: the temp directory and
//    /dev/shm). With BENCH_BEFORE_BIN (another build's packages/cli/dist/bin.cjs) that build runs in the same
//    loop too. Goal: sandbox run ≤ BENCH_GOAL (1.5) × the floor on every file system; exit 1 when missed.
//
// Environment: BENCH_RUNS (timed rounds of the overhead, default 5, after one warm-up), BENCH_FILES (20000),
// BENCH_PACK_RUNS (3), BENCH_ROOTS (colon-separated), BENCH_GOAL, BENCH_BEFORE_BIN, BENCH_UPLOAD.
// The load average is sampled before every timed run and reported.
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { goalMissed, hermeticGit, machine, round, stats } from "../lib.mjs"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")
const bin = path.join(root, "packages/cli/dist/bin.cjs")
const agent = path.join(root, "packages/testkit/bin/scripted-agent.mjs")
const coreDist = path.join(root, "packages/core/dist/index.js")
const upload = process.env.BENCH_UPLOAD !== "0" && fs.existsSync(coreDist)

const runs = Number(process.env.BENCH_RUNS ?? 5)
const packRuns = Number(process.env.BENCH_PACK_RUNS ?? 3)
const files = Number(process.env.BENCH_FILES ?? 20000)
const goal = Number(process.env.BENCH_GOAL ?? 1.5)
const beforeBin = process.env.BENCH_BEFORE_BIN
const roots = (process.env.BENCH_ROOTS ?? `${os.tmpdir()}:/dev/shm`).split(":").filter((r) => {
  try {
    fs.accessSync(r, fs.constants.W_OK)
    return true
  } catch {
    return false
  }
})
const fsType = (dir) => spawnSync("stat", ["-f", "-c", "%T", dir], { encoding: "utf8" }).stdout.trim() || "unknown"
const bases = roots.map((r) => fs.realpathSync(fs.mkdtempSync(path.join(r, "pcc-bench-sync-"))))
const base = bases[0]
const repo = path.join(base, "repo")
const gitEnv = hermeticGit(process.env)
const load = []
const sampleLoad = () => load.push(os.loadavg()[0])

const time = (f) => {
  const t0 = process.hrtime.bigint()
  const r = f()
  return [Number(process.hrtime.bigint() - t0) / 1e6, r]
}
const timeAsync = async (f) => {
  const t0 = process.hrtime.bigint()
  const r = await f()
  return [Number(process.hrtime.bigint() - t0) / 1e6, r]
}

const sizeOf = (dir) => {
  let n = 0
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name)
    n += e.isDirectory() ? sizeOf(p) : fs.statSync(p).size
  }
  return n
}

try {
  // A repository that looks like a project: source files of 0.5–4 KB in nested directories.
  fs.mkdirSync(repo, { recursive: true })
  execFileSync("git", ["init", "-q", "-b", "main"], { cwd: repo, env: gitEnv })
  fs.writeFileSync(path.join(repo, ".gitignore"), "dist/\nnode_modules/\n*.log\n")
  for (let i = 0; i < files - 1; i++) {
    const dir = path.join(repo, "src", `pkg${i % 50}`, `mod${Math.floor(i / 50) % 10}`)
    fs.mkdirSync(dir, { recursive: true })
    const lines = 10 + (i * 7919) % 90
    let text = `// file ${i}\n`
    for (let l = 0; l < lines; l++) text += `export const value_${i}_${l} = ${(i * 31 + l * 17) % 1000} // ${"lorem ipsum ".repeat(1 + (l % 3))}\n`
    fs.writeFileSync(path.join(dir, `f${i}.ts`), text)
  }
  execFileSync("git", ["add", "-A"], { cwd: repo, env: gitEnv })
  execFileSync("git", ["commit", "-q", "-m", "generated"], { cwd: repo, env: gitEnv })
  // Ignored build output and dependencies: they must never be uploaded.
  for (let i = 0; i < 400; i++) {
    fs.mkdirSync(path.join(repo, "dist", `chunk${i % 20}`), { recursive: true })
    fs.writeFileSync(path.join(repo, "dist", `chunk${i % 20}`, `b${i}.js`), Buffer.alloc(20_000, 97 + (i % 26)))
    fs.mkdirSync(path.join(repo, "node_modules", `dep${i % 40}`), { recursive: true })
    fs.writeFileSync(path.join(repo, "node_modules", `dep${i % 40}`, `i${i}.js`), `module.exports = ${i}\n`.repeat(200))
  }
  fs.writeFileSync(path.join(repo, "debug.log"), "x".repeat(1_000_000))
  // Work in progress: one uncommitted edit and one untracked file, which git archive HEAD would miss.
  fs.appendFileSync(path.join(repo, "src/pkg0/mod0/f0.ts"), "// edited, not committed\n")
  fs.writeFileSync(path.join(repo, "NOTES.md"), "untracked, not ignored: part of the work tree\n")
  const ignoredBytes = sizeOf(path.join(repo, "dist")) + sizeOf(path.join(repo, "node_modules")) + 1_000_000

  // 1. Upload.
  let uploadResult = { skipped: upload ? undefined : "BENCH_UPLOAD=0 or no library build (packages/core/dist)" }
  let sentPaths = new Set()
  if (upload) {
    const core = await import(coreDist)
    const { Effect, Layer } = await import("effect")
    const layer = core.FileSync.layer.pipe(Layer.provide(core.Git.layer), Layer.provide(core.LiveSessions.Platform))
    const pack = () => Effect.runPromise(Effect.flatMap(core.FileSync.FileSync, (s) => s.pack(repo)).pipe(Effect.provide(layer)))
    const t = { pack: [], gitArchive: [], naive: [] }
    let packed
    let gitArchiveBytes = 0
    let naiveBytes = 0
    await pack() // warm-up
    for (let i = 0; i < packRuns; i++) {
      sampleLoad()
      const [a, p] = await timeAsync(pack)
      t.pack.push(a)
      packed = p
      const [b, out] = time(() => execFileSync("git", ["archive", "--format=tar.gz", "HEAD"], { cwd: repo, maxBuffer: 1 << 30 }))
      t.gitArchive.push(b)
      gitArchiveBytes = out.length
      const [c, all] = time(() => execFileSync("tar", ["czf", "-", "--exclude=.git", "."], { cwd: repo, maxBuffer: 1 << 30 }))
      t.naive.push(c)
      naiveBytes = all.length
    }
    sentPaths = new Set(packed.files)
    uploadResult = {
      uploadedFiles: packed.files.length,
      ignoredFilesSent: packed.files.filter((f) => f.startsWith("dist/") || f.startsWith("node_modules/") || f.endsWith(".log")).length,
      uncommittedEditSent: sentPaths.has("src/pkg0/mod0/f0.ts"),
      untrackedFileSent: sentPaths.has("NOTES.md"),
      "FileSync.pack (tracked + untracked-not-ignored, tar.gz)": { bytes: packed.archive.length, ms: stats(t.pack) },
      "git archive --format=tar.gz HEAD (committed only)": { bytes: gitArchiveBytes, ms: stats(t.gitArchive) },
      "tar czf of the whole directory (no git)": { bytes: naiveBytes, ms: stats(t.naive) },
      "pack bytes / git archive bytes": Math.round(packed.archive.length / gitArchiveBytes * 100) / 100
    }
  }

  // 2. Overhead of sandbox run next to the agent run directly, same script, same repository, per file system.
  const script = {
    actions: [
      { edit: "src/pkg0/mod0/f0.ts", find: "file 0", replace: "file zero" },
      { write: "src/health.ts", content: "export const health = () => \"ok\"\n" },
      { delete: "NOTES.md" }
    ]
  }
  const prompt = `bench [[scripted-agent:${JSON.stringify(script)}]]`
  const bwrapWorks = spawnSync("bwrap", ["--unshare-all", "--unshare-user", "--ro-bind", "/usr", "/usr", "--ro-bind-try", "/lib", "/lib", "--ro-bind-try", "/lib64", "/lib64", "--ro-bind-try", "/bin", "/bin", "--", "/usr/bin/env", "true"], { stdio: "ignore" }).status === 0
  const isolation = bwrapWorks ? "bwrap" : "process"
  const subject = `sandbox run (${isolation})`
  const overheadBy = {}
  let missed = false
  for (const b of bases) {
    const r = path.join(b, "repo")
    // The same repository on every file system (a copy, its git directory included).
    if (b !== base) execFileSync("cp", ["-a", repo, r])
    const data = path.join(b, "data")
    const sandboxes = path.join(b, "sandboxes")
    fs.mkdirSync(sandboxes)
    const cliEnv = {
      ...gitEnv,
      PARALLEL_CC_DATA_DIR: data,
      PARALLEL_CC_SANDBOX_LOCAL_ROOT: sandboxes,
      PARALLEL_CC_SANDBOX_LOCAL_ISOLATION: isolation
    }
    const direct = () => {
      const copy = path.join(b, "direct-copy")
      execFileSync("git", ["worktree", "add", "-q", "--detach", copy], { cwd: r, env: gitEnv })
      const a = spawnSync(process.execPath, [agent, "-p", "--output-format", "stream-json", "--verbose"], { cwd: copy, input: prompt, env: gitEnv })
      if (a.status !== 0) throw new Error(`direct agent failed: ${a.stderr}`)
      execFileSync("git", ["worktree", "remove", "--force", copy], { cwd: r, env: gitEnv })
    }
    const sandboxRun = (cli) => () => {
      const a = spawnSync(process.execPath, [cli, "sandbox", "run", "--repo", r, "--agent", agent, "--prompt", prompt, "--json"], { env: cliEnv, encoding: "utf8" })
      if (a.status !== 0) throw new Error(`sandbox run failed: ${a.stderr}`)
      const wt = JSON.parse(a.stdout).worktreePath
      execFileSync("git", ["worktree", "remove", "--force", wt], { cwd: r, env: gitEnv })
    }
    const fns = { direct, [subject]: sandboxRun(bin) }
    if (beforeBin !== undefined) fns[`${subject}, before`] = sandboxRun(beforeBin)
    const times = Object.fromEntries(Object.keys(fns).map((k) => [k, []]))
    for (let i = 0; i < runs + 1; i++) {
      for (const [name, f] of Object.entries(fns)) {
        if (i > 0) sampleLoad()
        const [ms] = time(f)
        if (i > 0) times[name].push(ms)
      }
    }
    const results = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, stats(v)]))
    const floor = results.direct.median
    const ratios = Object.fromEntries(Object.entries(results).filter(([k]) => k !== "direct").map(([k, v]) => [k, Math.round(v.median / floor * 100) / 100]))
    const met = ratios[subject] <= goal
    if (!met) missed = true
    overheadBy[`${fsType(b)} (${path.dirname(b)})`] = {
      results,
      overheadMs: Object.fromEntries(Object.entries(results).filter(([k]) => k !== "direct").map(([k, v]) => [k, round(v.median - floor)])),
      ratios,
      goal: `${subject} ≤ ${goal} × direct: ${met ? "met" : "MISSED"}`
    }
  }

  console.log(JSON.stringify({
    bench: "sandbox-sync",
    machine: { ...machine(), loadavg: { min: round(Math.min(...load)), max: round(Math.max(...load)), samples: load.length } },
    method: `${runs} timed rounds after one warm-up, interleaved; medians; floor = git worktree add + the same agent + worktree remove`,
    repository: { trackedFiles: files, ignoredBytesOnDisk: ignoredBytes },
    upload: uploadResult,
    sandboxRunOverhead: overheadBy
  }, null, 2))
  if (missed) {
    console.error(`sandbox-sync: goal missed (sandbox run > ${goal} × the worktree floor on at least one file system)`)
    goalMissed()
  }
} finally {
  for (const b of bases) {
    fs.rmSync(b, { recursive: true, force: true })
    fs.rmSync(`${path.join(b, "repo")}-worktrees`, { recursive: true, force: true })
  }
}
