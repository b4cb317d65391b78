/**
 * What --force, --dry-run and discard say they throw away; diff and open; a register killed half-way;
 * configuration values that used to be accepted and then break every registration.
 */
import { Cli, ScriptedAgent, TempDir, TempRepo } from "@parallel-cc/testkit"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, assert, describe, it } from "vitest"

const dirs: Array<string> = []
const children: Array<ChildProcess> = []
const pids: Array<number> = []
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL")
  for (const pid of pids.splice(0)) {
    try {
      process.kill(pid, "SIGKILL")
    } catch {
      // already gone
    }
  }
  for (const d of dirs.splice(0)) TempDir.removeSync(d)
})

const world = (extra: Record<string, string> = {}) => {
  const base = TempDir.makeSync()
  dirs.push(base)
  const repo = TempRepo.makeSync(base, { files: { "README.md": "# r\n", ".gitignore": ".env\nnode_modules/\n" } })
  const data = path.join(base, "data")
  const env = { ...repo.env, PARALLEL_CC_DATA_DIR: data, PARALLEL_CC_AGENT: ScriptedAgent.path, ...extra }
  const cli = (args: ReadonlyArray<string>) => Cli.runSync(args, { env, cwd: repo.root })
  return { base, repo, data, env, cli }
}
type World = ReturnType<typeof world>

const holder = () => {
  const c = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" })
  children.push(c)
  return c
}

const register = (w: World, pid: number, extra: ReadonlyArray<string> = []) => {
  const r = w.cli(["register", "--repo", w.repo.root, "--pid", String(pid), "--json", ...extra])
  assert.strictEqual(r.code, 0, r.stderr)
  return Cli.json(r)
}

const branches = (repo: TempRepo.TempRepo) =>
  repo.git(["for-each-ref", "--format=%(refname:short)", "refs/heads/"]).trim().split("\n").filter((b) => b !== "")

const until = async <A>(what: string, f: () => A | undefined, timeoutMs = 30_000): Promise<A> => {
  const end = Date.now() + timeoutMs
  for (;;) {
    const v = f()
    if (v !== undefined) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** A worktree session with every kind of work in it. */
const busyWorktree = (w: World) => {
  const h = holder()
  register(w, h.pid!)
  const s = register(w, h.pid!)
  const wt = s.worktreePath as string
  w.repo.write("feature.txt", "f\n", wt)
  const tip = w.repo.commitAll("feature", wt)
  fs.appendFileSync(path.join(wt, "README.md"), "edit\n")
  w.repo.write("new.txt", "n\n", wt)
  w.repo.write(".env", "SECRET=mine\n", wt)
  const nested = path.join(wt, "vendor")
  fs.mkdirSync(nested)
  w.repo.git(["init", "-q", "-b", "main"], nested)
  w.repo.write("v.txt", "v\n", nested)
  w.repo.commitAll("vendored", nested)
  return { s, wt, tip }
}

describe("--force and --dry-run say exactly what they throw away", () => {
  it("release --dry-run --force lists it first and changes nothing; release --force lists it again (human and JSON)", () => {
    const w = world()
    const { s, tip, wt } = busyWorktree(w)
    const dry = w.cli(["release", "--session-id", s.sessionId, "--force", "--dry-run", "--json"])
    assert.strictEqual(dry.code, 0, dry.stderr)
    const plan = Cli.json(dry).released[0]
    assert.isTrue(fs.existsSync(wt))
    assert.strictEqual(statusOf(w).sessions.length, 2)
    const expected = {
      uncommitted: ["README.md"],
      untracked: ["new.txt"],
      ignored: [".env"],
      commits: [{ sha: tip, subject: "feature", branch: s.branch, restore: `git -C ${w.repo.root} branch ${s.branch} ${tip}` }],
      nested: [{ path: "vendor", kind: "repository", commits: 1, changes: 0, detail: "1 commit on none of its remotes" }]
    }
    assert.deepStrictEqual(plan.discarded, expected)
    const human = w.cli(["release", "--session-id", s.sessionId, "--force", "--dry-run"])
    for (const line of ["would throw away:", "1 uncommitted change: README.md", "1 untracked file: new.txt", "(not build output): .env", "nested repository vendor", `restore: git -C ${w.repo.root} branch ${s.branch} ${tip}`]) {
      assert.include(human.stdout, line)
    }
    const done = w.cli(["release", "--session-id", s.sessionId, "--force"])
    assert.strictEqual(done.code, 0, done.stderr)
    assert.include(done.stdout, "thrown away:")
    assert.include(done.stdout, "1 untracked file: new.txt")
    // Never "merged": the branch had a commit on no other branch.
    assert.notInclude(done.stdout, "merged")
    assert.isFalse(fs.existsSync(wt))
  })

  it("cleanup --force --json lists what it threw away per worktree; the word merged only for a merged branch", () => {
    const w = world()
    const { s } = busyWorktree(w)
    const h = holder()
    const merged = register(w, h.pid!)
    w.repo.write("m.txt", "m\n", merged.worktreePath)
    w.repo.commitAll("m", merged.worktreePath)
    w.repo.git(["merge", "-q", "--no-ff", "-m", "merge", merged.branch])
    const dirtyOnly = register(w, h.pid!)
    fs.appendFileSync(path.join(dirtyOnly.worktreePath, "README.md"), "x\n")
    // A merged branch goes at release, and says so.
    const rm = w.cli(["release", "--session-id", merged.sessionId])
    assert.include(rm.stdout, `branch ${merged.branch} deleted (merged into main)`, rm.stdout)
    for (const x of [s, dirtyOnly]) assert.strictEqual(w.cli(["release", "--session-id", x.sessionId]).code, 0)
    const c = w.cli(["cleanup", "--force"])
    assert.strictEqual(c.code, 0, c.stderr)
    const lines = c.stdout.split("\n")
    const about = (id: string) => lines.filter((l) => l.includes(id)).join("\n")
    assert.include(about(dirtyOnly.sessionId), "it had no commits of its own")
    assert.notInclude(about(dirtyOnly.sessionId), "merged")
    assert.notInclude(about(s.sessionId), "merged")
    assert.include(c.stdout, "1 uncommitted change: README.md")
  })
})

const statusOf = (w: World) => Cli.json(w.cli(["status", "--json"]))

describe("diff, open, discard", () => {
  it("diff shows added files; open prints the worktree; discard refuses, lists, and with --force throws away", () => {
    const w = world()
    const { s, wt } = busyWorktree(w)
    const diff = w.cli(["diff", s.sessionId, "--stat"])
    assert.strictEqual(diff.code, 0, diff.stderr)
    for (const f of ["README.md", "feature.txt", "new.txt"]) assert.include(diff.stdout, f)
    const files = Cli.json(w.cli(["diff", s.branch, "--json"])).files
    assert.deepStrictEqual(files.map((f: any) => [f.path, f.status]).sort(), [
      ["README.md", "M"],
      ["feature.txt", "A"],
      ["new.txt", "A"],
      ["vendor", "A"]
    ])
    assert.strictEqual(w.cli(["open", s.sessionId]).stdout.trim(), wt)
    const running = w.cli(["discard", s.sessionId, "--force"])
    assert.strictEqual(running.code, 1)
    assert.include(running.stderr, "still running")
    assert.strictEqual(w.cli(["release", "--session-id", s.sessionId]).code, 0)
    const refused = w.cli(["discard", s.sessionId])
    assert.strictEqual(refused.code, 1)
    assert.include(refused.stderr, "would lose work")
    assert.include(refused.stderr, "1 untracked file: new.txt")
    assert.isTrue(fs.existsSync(wt))
    const forced = w.cli(["discard", s.sessionId, "--force", "--json"])
    assert.strictEqual(forced.code, 0, forced.stderr)
    const r = Cli.json(forced)
    assert.deepStrictEqual(r.discarded.untracked, ["new.txt"])
    assert.strictEqual(r.discarded.commits.length, 1)
    assert.isFalse(fs.existsSync(wt))
    assert.deepStrictEqual(branches(w.repo), ["main"])
    const unknown = w.cli(["open", "no-such-session"])
    assert.strictEqual(unknown.code, 1)
    assert.include(unknown.stderr, "no session has the id, name or branch")
  })
})

describe("diff, open, discard of a sandboxed run's review worktree", () => {
  it("the run id or its branch: diff shows its added files, open prints the worktree, discard lists and throws it away; the run's hint names diff", () => {
    const w = world({ PARALLEL_CC_SANDBOX_LOCAL_ISOLATION: "process" })
    const sandboxes = path.join(w.base, "sandboxes")
    fs.mkdirSync(sandboxes)
    const env = { ...w.env, PARALLEL_CC_SANDBOX_LOCAL_ROOT: sandboxes }
    const script: ScriptedAgent.Script = {
      actions: [
        { edit: "README.md", find: "# r", replace: "# r\n\nreviewed" },
        { write: "src/health.ts", content: "export const health = 1\n" },
        { say: "done" }
      ]
    }
    const ran = Cli.runSync(["sandbox", "run", "--repo", w.repo.root, "--agent", ScriptedAgent.path, "--prompt", ScriptedAgent.prompt("health", script), "--json"], {
      env,
      cwd: w.repo.root,
      timeoutMs: 120_000
    })
    assert.strictEqual(ran.code, 0, ran.stderr)
    const rec = Cli.json(ran).run
    const wt = rec.worktreePath as string
    assert.isTrue(fs.existsSync(wt), wt)
    const files = Cli.json(w.cli(["diff", rec.sessionId, "--json"])).files
    assert.deepStrictEqual(files.map((f: any) => [f.path, f.status]).sort(), [["README.md", "M"], ["src/health.ts", "A"]])
    const stat = w.cli(["diff", rec.sessionId, "--stat"])
    assert.strictEqual(stat.code, 0, stat.stderr)
    assert.include(stat.stdout, "src/health.ts")
    assert.strictEqual(w.cli(["open", rec.sessionId]).stdout.trim(), wt)
    const refused = w.cli(["discard", rec.sessionId])
    assert.strictEqual(refused.code, 1)
    assert.include(refused.stderr, "would lose work")
    assert.isTrue(fs.existsSync(wt))
    const forced = w.cli(["discard", rec.sessionId, "--force", "--json"])
    assert.strictEqual(forced.code, 0, forced.stderr)
    const r = Cli.json(forced)
    assert.deepStrictEqual([r.discarded.uncommitted, r.discarded.untracked], [["README.md"], ["src/health.ts"]])
    assert.isFalse(fs.existsSync(wt))
    assert.notInclude(w.repo.git(["worktree", "list"]), wt)
    assert.deepStrictEqual(branches(w.repo), ["main"])

    // A run that committed on its own branch: found by that branch; the hint after the run names diff.
    const onBranch = Cli.runSync(["sandbox", "run", "--repo", w.repo.root, "--agent", ScriptedAgent.path, "--prompt", ScriptedAgent.prompt("health", script), "--branch", "review-me"], {
      env,
      cwd: w.repo.root,
      timeoutMs: 120_000
    })
    assert.strictEqual(onBranch.code, 0, onBranch.stderr)
    const committed = Cli.json(w.cli(["diff", "review-me", "--json"]))
    assert.deepStrictEqual(committed.files.map((f: any) => [f.path, f.status]).sort(), [["README.md", "M"], ["src/health.ts", "A"]])
    assert.strictEqual(committed.branch, "review-me")
    const opened = w.cli(["open", "review-me"]).stdout.trim()
    assert.strictEqual(w.repo.git(["rev-parse", "--abbrev-ref", "HEAD"], opened).trim(), "review-me")
    const review = Cli.runSync(["sandbox", "run", "--repo", w.repo.root, "--agent", ScriptedAgent.path, "--prompt", ScriptedAgent.prompt("health", script)], {
      env,
      cwd: w.repo.root,
      timeoutMs: 120_000
    })
    assert.strictEqual(review.code, 0, review.stderr)
    const id = Cli.json(w.cli(["sandbox", "list", "--json"])).runs[0].sessionId
    // `git diff` would hide src/health.ts (untracked): the hint is parallel-cc diff.
    assert.include(review.stdout, `parallel-cc diff ${id}`)
    assert.notInclude(review.stdout, "git status && git diff")
  })
})

describe("a register killed half-way", () => {
  it("is not shown alive, and leaves no worktree or branch behind after the next status", async () => {
    const w = world()
    const marker = path.join(w.base, "setup-started")
    const setupScript = `require("fs").writeFileSync(${JSON.stringify(marker)}, String(process.pid)); setInterval(() => {}, 1000)`
    const env = { ...w.env, PARALLEL_CC_WORKTREE_SETUP: JSON.stringify([[process.execPath, "-e", setupScript]]) }
    const h = holder()
    const first = Cli.runSync(["register", "--repo", w.repo.root, "--pid", String(h.pid!)], { env, cwd: w.repo.root })
    assert.strictEqual(first.code, 0, first.stderr)
    const child = spawn(process.execPath, [Cli.binPath, "register", "--repo", w.repo.root, "--pid", String(h.pid!)], {
      env,
      cwd: w.repo.root,
      stdio: "ignore"
    })
    children.push(child)
    const setupPid = await until("the setup command to run", () => (fs.existsSync(marker) ? Number(fs.readFileSync(marker, "utf8")) : undefined))
    pids.push(setupPid)
    child.kill("SIGKILL")
    await new Promise((r) => child.once("exit", r))
    const st = Cli.runSync(["status", "--json"], { env, cwd: w.repo.root })
    assert.strictEqual(st.code, 0, st.stderr)
    const report = Cli.json(st)
    assert.strictEqual(report.sessions.length, 1, "only the first session is alive")
    assert.strictEqual(report.released.length, 1)
    assert.isTrue(report.released[0].interrupted)
    assert.deepStrictEqual(report.kept, [])
    assert.deepStrictEqual(branches(w.repo), ["main"])
    assert.strictEqual(w.repo.git(["worktree", "list", "--porcelain"]).split("\n").filter((l) => l.startsWith("worktree ")).length, 1)
  })
})

describe("bad configuration values", () => {
  it("config set worktree.root relative/dir is refused; one written by an earlier release is reported and can be unset", () => {
    const w = world()
    const set = w.cli(["config", "set", "worktree.root", "relative/dir"])
    assert.strictEqual(set.code, 1)
    assert.include(set.stderr, "worktree.root")
    assert.include(set.stderr, "absolute")
    assert.isFalse(fs.existsSync(path.join(w.data, "config.json")))
    // The previous release accepted it: every command now says what is wrong and how to fix it ...
    fs.mkdirSync(w.data, { recursive: true })
    fs.writeFileSync(path.join(w.data, "config.json"), JSON.stringify({ worktree: { root: "relative/dir" } }))
    const reg = w.cli(["register", "--repo", w.repo.root, "--pid", String(process.pid)])
    assert.strictEqual(reg.code, 1)
    assert.include(reg.stderr, "config unset worktree.root")
    // ... and `config unset` repairs it.
    const unset = w.cli(["config", "unset", "worktree.root"])
    assert.strictEqual(unset.code, 0, unset.stderr)
    assert.strictEqual(w.cli(["register", "--repo", w.repo.root, "--pid", String(process.pid)]).code, 0)
    const abs = w.cli(["config", "set", "worktree.root", path.join(w.base, "wts")])
    assert.strictEqual(abs.code, 0, abs.stderr)
  })
})
