// File sync and local-provider overhead of `parallel-cc sandbox run`, in one run.
//
// 1. Upload: on a generated repository of 5 000 tracked files plus ignored build output (dist/,
//    node_modules/) that must never be sent, FileSync.pack (tracked + untracked-not-ignored, one gzipped tar)
//    next to `git archive --format=tar.gz HEAD` (tracked and committed only) and a naive gzipped tar of the
//    whole directory (what not asking git would send). Bytes and time, interleaved.
// 2. Overhead: the same scripted agent run directly in a copy next to `parallel-cc sandbox run` on the local
//    provider (plain process and, when it works here, bubblewrap), on the same repository, interleaved.
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { hermeticGit, machine, round, stats } from "../lib.mjs"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")
const bin = path.join(root, "packages/cli/dist/bin.cjs")
const agent = path.join(root, "packages/testkit/bin/scripted-agent.mjs")
const core = await import(path.join(root, "packages/core/dist/index.js"))
const { Effect, Layer } = await import("effect")

const runs = Number(process.env.BENCH_RUNS ?? 7)
const files = Number(process.env.BENCH_FILES ?? 5000)
const base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "pcc-bench-sync-")))
const repo = path.join(base, "repo")
const gitEnv = hermeticGit(process.env)

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

  const layer = core.FileSync.layer.pipe(Layer.provide(core.Git.layer), Layer.provide(core.LiveSessions.Platform))
  const pack = () => Effect.runPromise(Effect.flatMap(core.FileSync.FileSync, (s) => s.pack(repo)).pipe(Effect.provide(layer)))

  const t = { pack: [], gitArchive: [], naive: [] }
  let packed
  let gitArchiveBytes = 0
  let naiveBytes = 0
  await pack() // warm-up
  for (let i = 0; i < runs; i++) {
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
  const sentPaths = new Set(packed.files)
  const leaked = packed.files.filter((f) => f.startsWith("dist/") || f.startsWith("node_modules/") || f.endsWith(".log"))

  // 2. Overhead of sandbox run next to the agent run directly, same script, same repository.
  const script = {
    actions: [
      { edit: "src/pkg0/mod0/f0.ts", find: "file 0", replace: "file zero" },
      { write: "src/health.ts", content: "export const health = () => \"ok\"\n" },
      { delete: "NOTES.md" }
    ]
  }
  const prompt = `bench [[scripted-agent:${JSON.stringify(script)}]]`
  const data = path.join(base, "data")
  const sandboxes = path.join(base, "sandboxes")
  fs.mkdirSync(sandboxes)
  const cliEnv = (isolation) => ({
    ...gitEnv,
    PARALLEL_CC_DATA_DIR: data,
    PARALLEL_CC_SANDBOX_LOCAL_ROOT: sandboxes,
    PARALLEL_CC_SANDBOX_LOCAL_ISOLATION: isolation
  })
  const bwrapWorks = spawnSync("bwrap", ["--unshare-all", "--unshare-user", "--ro-bind", "/usr", "/usr", "--ro-bind-try", "/lib", "/lib", "--ro-bind-try", "/lib64", "/lib64", "--ro-bind-try", "/bin", "/bin", "--", "/usr/bin/env", "true"], { stdio: "ignore" }).status === 0
  const variants = { direct: [], "sandbox run (process)": [] }
  if (bwrapWorks) variants["sandbox run (bwrap)"] = []
  const direct = () => {
    const copy = path.join(base, "direct-copy")
    fs.rmSync(copy, { recursive: true, force: true })
    execFileSync("git", ["worktree", "add", "-q", "--detach", copy], { cwd: repo, env: gitEnv })
    const r = spawnSync(process.execPath, [agent, "-p", "--output-format", "stream-json", "--verbose"], { cwd: copy, input: prompt, env: gitEnv })
    if (r.status !== 0) throw new Error(`direct agent failed: ${r.stderr}`)
    execFileSync("git", ["worktree", "remove", "--force", copy], { cwd: repo, env: gitEnv })
  }
  const sandboxRun = (isolation) => () => {
    const r = spawnSync(process.execPath, [bin, "sandbox", "run", "--repo", repo, "--agent", agent, "--prompt", prompt, "--json"], { env: cliEnv(isolation), encoding: "utf8" })
    if (r.status !== 0) throw new Error(`sandbox run failed: ${r.stderr}`)
    const wt = JSON.parse(r.stdout).worktreePath
    execFileSync("git", ["worktree", "remove", "--force", wt], { cwd: repo, env: gitEnv })
  }
  const fns = { direct, "sandbox run (process)": sandboxRun("process"), "sandbox run (bwrap)": sandboxRun("bwrap") }
  const overheadRuns = Math.max(3, Math.ceil(runs / 2))
  for (let i = 0; i < overheadRuns + 1; i++) {
    for (const name of Object.keys(variants)) {
      const [ms] = time(fns[name])
      if (i > 0) variants[name].push(ms)
    }
  }
  const overhead = Object.fromEntries(Object.entries(variants).map(([k, v]) => [k, stats(v)]))
  const d = overhead.direct.median

  console.log(JSON.stringify({
    bench: "sandbox-sync",
    machine: machine(),
    repository: {
      trackedFiles: files,
      uploadedFiles: packed.files.length,
      ignoredBytesOnDisk: ignoredBytes,
      ignoredFilesSent: leaked.length,
      uncommittedEditSent: sentPaths.has("src/pkg0/mod0/f0.ts"),
      untrackedFileSent: sentPaths.has("NOTES.md")
    },
    upload: {
      "FileSync.pack (tracked + untracked-not-ignored, tar.gz)": { bytes: packed.archive.length, ms: stats(t.pack) },
      "git archive --format=tar.gz HEAD (committed only)": { bytes: gitArchiveBytes, ms: stats(t.gitArchive) },
      "tar czf of the whole directory (no git)": { bytes: naiveBytes, ms: stats(t.naive) }
    },
    ratios: {
      "pack bytes / git archive bytes": round(packed.archive.length / gitArchiveBytes * 100) / 100,
      "pack time / git archive time (medians)": round(stats(t.pack).median / stats(t.gitArchive).median * 100) / 100,
      "naive tar bytes / pack bytes": round(naiveBytes / packed.archive.length * 10) / 10
    },
    sandboxRunOverhead: {
      runs: overheadRuns,
      results: overhead,
      overheadMs: Object.fromEntries(Object.entries(overhead).filter(([k]) => k !== "direct").map(([k, v]) => [k, round(v.median - d)]))
    }
  }, null, 2))
} finally {
  spawnSync("git", ["worktree", "prune"], { cwd: repo })
  fs.rmSync(base, { recursive: true, force: true })
  fs.rmSync(`${repo}-worktrees`, { recursive: true, force: true })
}
