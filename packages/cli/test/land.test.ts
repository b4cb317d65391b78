/**
 * `parallel-cc land` end to end: the built CLI as real processes on real repositories — killed with SIGKILL
 * at named steps (PARALLEL_CC_LAND_PAUSE_AT holds the process at a step until a signal file appears), two
 * runs at once, and sandboxed runs' results.
 */
import { Cli, ScriptedAgent, TempDir, TempRepo } from "@parallel-cc/testkit"
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, assert, describe, it } from "vitest"

const dirs: Array<string> = []
const children: Array<ChildProcess> = []
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL")
  for (const d of dirs.splice(0)) TempDir.removeSync(d)
})

// The test command: holds (printing its pid) while the file `hold` exists in the data directory, else passes
// unless a file named BROKEN is in the tree.
const check = [
  "import fs from 'node:fs'",
  "const hold = process.env.HOLD_FILE",
  "if (hold && fs.existsSync(hold)) { fs.writeFileSync(hold + '.pid', String(process.pid)); setInterval(() => {}, 1000) }",
  "else if (fs.existsSync('BROKEN')) { console.log('BROKEN is here'); process.exit(1) }"
].join("\n")

const setup = () => {
  const base = TempDir.makeSync("pcc-land-cli-")
  dirs.push(base)
  const repo = TempRepo.makeSync(base, { files: { "README.md": "# r\n", "check.mjs": check + "\n" } })
  const data = path.join(base, "data")
  const signal = path.join(base, "go")
  const hold = path.join(base, "hold")
  const env = { ...repo.env, PARALLEL_CC_DATA_DIR: data, PARALLEL_CC_LAND_TEST: "node check.mjs", HOLD_FILE: hold }
  const cli = (args: ReadonlyArray<string>, extra: Record<string, string> = {}) =>
    Cli.runSync(args, { env: { ...env, ...extra }, cwd: repo.root, timeoutMs: 120_000 })
  const start = (args: ReadonlyArray<string>, extra: Record<string, string> = {}) => {
    const child = spawn(process.execPath, [Cli.binPath, ...args], { env: { ...env, ...extra }, cwd: repo.root, stdio: ["ignore", "pipe", "pipe"] })
    children.push(child)
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (d) => (stdout += d))
    child.stderr.setEncoding("utf8").on("data", (d) => (stderr += d))
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)))
    return { child, exited, stdout: () => stdout, stderr: () => stderr }
  }
  const branch = (name: string, file: string) => {
    const wt = path.join(base, `wt-${name}`)
    repo.git(["worktree", "add", "-q", "-b", name, wt, "main"])
    repo.write(file, `${name}\n`, wt)
    repo.commitAll(`${name} work`, wt)
    repo.git(["worktree", "remove", wt])
  }
  const pauseAt = (step: string) => ({ PARALLEL_CC_LAND_PAUSE_AT: step, PARALLEL_CC_LAND_PAUSE_FILE: signal })
  const merges = (name: string) => repo.git(["log", "--format=%s", "main"]).split("\n").filter((s) => s === `Merge ${name} into main`).length
  const landWorktrees = () => repo.git(["worktree", "list", "--porcelain"]).split("\n").filter((l) => l.startsWith("worktree ") && l.includes(`${data}/land`))
  return { base, repo, data, signal, hold, env, cli, start, branch, pauseAt, merges, landWorktrees }
}

/** Whether a pid runs (a zombie left to a parent that does not reap, as in some containers, does not). */
const running = (pid: number) => {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    return !/^\d+ \(.*\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, "utf8"))
  } catch {
    return true
  }
}

const until = async (what: string, cond: () => boolean, timeoutMs = 60_000) => {
  const started = Date.now()
  while (!cond()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

const killAt = async (t: ReturnType<typeof setup>, step: string, args: ReadonlyArray<string>) => {
  const p = t.start(["land", ...args], t.pauseAt(step))
  await until(`step ${step}`, () => fs.existsSync(`${t.signal}.reached`))
  p.child.kill("SIGKILL")
  await p.exited
  fs.rmSync(`${t.signal}.reached`)
  return p.stdout()
}

describe("parallel-cc land: crash safety", () => {
  it("SIGKILL after integrating, and while the test runs: a rerun cleans up (the orphaned test too) and lands each once", async () => {
    const t = setup()
    t.branch("a", "a.txt")
    t.branch("b", "b.txt")
    const before = t.repo.git(["rev-parse", "main"]).trim()
    await killAt(t, "integrated", ["a", "b"])
    assert.strictEqual(t.repo.git(["rev-parse", "main"]).trim(), before)

    // Killed while the test runs: the test process is left behind by SIGKILL, holding on.
    fs.writeFileSync(t.hold, "")
    const p = t.start(["land"])
    await until("the test to start", () => fs.existsSync(`${t.hold}.pid`))
    const orphan = Number(fs.readFileSync(`${t.hold}.pid`, "utf8"))
    p.child.kill("SIGKILL")
    await p.exited
    assert.lengthOf(t.landWorktrees(), 1)
    assert.isTrue(running(orphan))
    fs.rmSync(t.hold)

    const r = t.cli(["land", "--json"])
    assert.strictEqual(r.code, 0, r.stderr)
    const report = Cli.json(r)
    assert.deepStrictEqual(report.entries.map((e: any) => [e.name, e.status]), [["a", "landed"], ["b", "landed"]])
    assert.strictEqual(t.merges("a"), 1)
    assert.strictEqual(t.merges("b"), 1)
    assert.deepStrictEqual(t.landWorktrees(), [])
    assert.deepStrictEqual(fs.readdirSync(path.join(t.data, "land", "work")), [])
    assert.isFalse(running(orphan))
    // Asked again: nothing lands twice.
    const again = t.cli(["land", "a"])
    assert.strictEqual(again.code, 1)
    assert.include(again.stderr, "a has no commits that main lacks")
    assert.strictEqual(t.merges("a"), 1)
  })

  it("SIGKILL around the ref update: the target is at the old or the new commit, and a rerun settles it without landing twice", async () => {
    const t = setup()
    t.branch("a", "a.txt")
    const before = t.repo.git(["rev-parse", "main"]).trim()
    await killAt(t, "before-update", ["a"])
    assert.strictEqual(t.repo.git(["rev-parse", "main"]).trim(), before)
    const listed = Cli.json(t.cli(["land", "--list", "--json"]))
    assert.deepStrictEqual(listed.entries.map((e: any) => e.status), ["landing"])

    t.branch("b", "b.txt")
    // This run first settles the killed one (a goes back to the queue), then lands a and b together.
    const killed = (await killAt(t, "after-update", ["b", "--json-lines"])).trim().split("\n").map((l) => JSON.parse(l))
    assert.deepStrictEqual(killed.filter((e) => e.event === "Recovered").map((e) => [e.name, e.outcome]), [["a", "requeued"]])
    const moved = t.repo.git(["rev-parse", "main"]).trim()
    assert.notStrictEqual(moved, before)
    // main is checked out clean in the repository: it was brought forward with the ref.
    assert.strictEqual(t.repo.git(["status", "--porcelain"]), "")

    const r = t.cli(["land", "--json-lines"])
    assert.strictEqual(r.code, 0, r.stderr)
    const events = r.stdout.trim().split("\n").map((l) => JSON.parse(l))
    const recovered = events.filter((e) => e.event === "Recovered").map((e) => [e.name, e.outcome])
    assert.sameDeepMembers(recovered, [["a", "landed"], ["b", "landed"]])
    const final = events[events.length - 1]
    assert.strictEqual(final.event, "Finished")
    assert.deepStrictEqual(final.report.entries.map((e: any) => [e.name, e.status]), [["a", "landed"], ["b", "landed"]])
    assert.strictEqual(t.merges("a"), 1)
    assert.strictEqual(t.merges("b"), 1)
    assert.strictEqual(t.repo.git(["merge-base", "--is-ancestor", moved, "main"]), "")
  })

  it("two land runs at once on one target serialise; both candidates land, nothing is overwritten", async () => {
    const t = setup()
    t.branch("a", "a.txt")
    t.branch("b", "b.txt")
    const first = t.start(["land", "a", "--json"], t.pauseAt("integrated"))
    await until("the first run to integrate", () => fs.existsSync(`${t.signal}.reached`))
    const second = t.start(["land", "b", "--json-lines"])
    await until("the second run to wait", () => second.stdout().includes("\"event\":\"Waiting\""))
    fs.writeFileSync(t.signal, "")
    const [c1, c2] = await Promise.all([first.exited, second.exited])
    assert.strictEqual(c1, 0, first.stderr())
    assert.strictEqual(c2, 0, second.stderr())
    const r1 = JSON.parse(first.stdout())
    const lines = second.stdout().trim().split("\n").map((l) => JSON.parse(l))
    const r2 = lines[lines.length - 1].report
    // The first run processes the whole queue (b was queued while it ran), the second finds b landed.
    const statuses = [...r1.entries, ...r2.entries].map((e: any) => [e.name, e.status])
    assert.deepInclude(statuses, ["a", "landed"])
    assert.deepInclude(statuses, ["b", "landed"])
    assert.strictEqual(t.merges("a"), 1)
    assert.strictEqual(t.merges("b"), 1)
  })
})

describe("parallel-cc land: candidates and output", () => {
  it("a sandboxed run's review result lands as one commit; its worktree is left as it was", () => {
    const t = setup()
    const env = { PARALLEL_CC_SANDBOX_LOCAL_ROOT: path.join(t.base, "sbx"), PARALLEL_CC_SANDBOX_LOCAL_ISOLATION: "process" }
    fs.mkdirSync(env.PARALLEL_CC_SANDBOX_LOCAL_ROOT)
    const script: ScriptedAgent.Script = { actions: [{ write: "src/health.ts", content: "export const health = 'ok'\n" }, { say: "done" }] }
    const run = t.cli(["sandbox", "run", "--repo", t.repo.root, "--agent", ScriptedAgent.path, "--json", "--prompt", ScriptedAgent.prompt("Add a health check", script)], env)
    assert.strictEqual(run.code, 0, run.stderr)
    const result = Cli.json(run)
    const runId = result.run.sessionId
    const wt = result.run.worktreePath
    const wtStatus = t.repo.git(["status", "--porcelain"], wt)
    assert.include(wtStatus, "src/")

    const dry = t.cli(["land", "--all", "--dry-run", "--json"], env)
    assert.strictEqual(dry.code, 0, dry.stderr)
    assert.deepStrictEqual(Cli.json(dry).plan.map((p: any) => [p.name, p.kind, p.outcome]), [[`run ${runId}`, "run", "lands"]])

    const r = t.cli(["land", runId], env)
    assert.strictEqual(r.code, 0, r.stderr)
    assert.include(r.stdout, `✓ run ${runId}  landed`)
    assert.strictEqual(fs.readFileSync(path.join(t.repo.root, "src/health.ts"), "utf8"), "export const health = 'ok'\n")
    assert.match(t.repo.git(["log", "-1", "--format=%s", "main^2"]), /^Add a health check/)
    assert.strictEqual(t.repo.git(["status", "--porcelain"], wt), wtStatus)
    // Landed once: --all does not pick it up again.
    const again = t.cli(["land", "--all", "--json"], env)
    assert.deepStrictEqual(Cli.json(again).entries, [])
  })

  it("human output, exit codes and bad input", () => {
    const t = setup()
    t.branch("good", "g.txt")
    t.branch("bad", "BROKEN")
    const r = t.cli(["land", "good", "bad"])
    assert.strictEqual(r.code, 1)
    assert.match(r.stdout, /Landed 1 of 2 into main/)
    assert.include(r.stdout, "✗ bad  sent back: `node check.mjs` failed (exit 1)")
    assert.include(r.stdout, "BROKEN is here")
    assert.include(r.stderr, "1 of 2 candidates was sent back")
    for (const [args, text] of [
      [["land", "nope"], "no session, sandboxed run or branch \"nope\""],
      [["land", "good", "--into", "nope"], "there is no branch nope"],
      [["land", "good", "--test", "npm test | tee x"], "cannot run without a shell"],
      [["land", "good", "--strategy", "octopus"], "rebase"],
      [["land", "--json", "--json-lines"], "exclude each other"]
    ] as const) {
      const bad = t.cli(args)
      assert.notStrictEqual(bad.code, 0, args.join(" "))
      assert.include(bad.stderr + bad.stdout, text, args.join(" "))
    }
    t.repo.write("README.md", "# dirty\n")
    t.branch("more", "m.txt")
    const dirty = t.cli(["land", "more"])
    assert.strictEqual(dirty.code, 1)
    assert.include(dirty.stderr, "main is checked out at")
    assert.include(dirty.stderr, "README.md")
    assert.strictEqual(fs.readFileSync(path.join(t.repo.root, "README.md"), "utf8"), "# dirty\n")
  })
})

const hasTmux = spawnSync("tmux", ["-V"]).status === 0

describe("parallel-cc land on a terminal", () => {
  it.skipIf(!hasTmux)(`shows a live view of the candidates (tmux), then the report${hasTmux ? "" : " [skipped: tmux not installed]"}`, async () => {
    const t = setup()
    t.branch("ok-1", "o1.txt")
    t.branch("broken", "BROKEN")
    t.branch("ok-2", "o2.txt")
    const done = path.join(t.base, "done")
    const session = `pcc-land-${process.pid}`
    const envArgs = Object.entries(t.env).flatMap(([k, v]) => ["-e", `${k}=${v}`])
    const script = `cd '${t.repo.root}' && '${process.execPath}' '${Cli.binPath}' land ok-1 broken ok-2 --test 'node check.mjs'; echo $? > '${done}'; exec cat`
    const r = spawnSync("tmux", ["new-session", "-d", "-s", session, "-x", "120", "-y", "40", ...envArgs, "sh", "-c", script])
    assert.strictEqual(r.status, 0, String(r.stderr))
    try {
      const screen = () => spawnSync("tmux", ["capture-pane", "-p", "-t", session], { encoding: "utf8" }).stdout
      await until("the live view", () => /Landing into main:/.test(screen()))
      await until("the run to end", () => fs.existsSync(done) && fs.readFileSync(done, "utf8").trim() !== "")
      const text = screen()
      assert.strictEqual(fs.readFileSync(done, "utf8").trim(), "1")
      assert.match(text, /✓ ok-1 {2}landed/)
      assert.match(text, /✗ broken {2}sent back: tests_failed/)
      assert.match(text, /Landed 2 of 3 into main/)
      assert.include(text, "BROKEN is here")
    } finally {
      spawnSync("tmux", ["kill-session", "-t", session])
    }
  })
})
