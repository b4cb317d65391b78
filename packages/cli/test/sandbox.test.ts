/**
 * `parallel-cc sandbox …` end to end: the built CLI as real processes, real git repositories, the local
 * provider (with and without bubblewrap) and the scripted agent.
 */
import { Bubblewrap, Cli, GhDouble, ScriptedAgent, TempDir, TempRepo } from "@parallel-cc/testkit"
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, assert, describe, it } from "vitest"

const dirs: Array<string> = []
const children: Array<ChildProcess> = []
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill("SIGKILL")
  for (const d of dirs.splice(0)) TempDir.removeSync(d)
})

/** Whether bubblewrap can create a sandbox on this machine (CI installs it; `[bwrap]` tests are skipped, with the reason, where it does not work). */
const bwrapWorks = Bubblewrap.works

interface Env {
  readonly repo: TempRepo.TempRepo
  readonly data: string
  readonly sandboxes: string
  readonly env: Record<string, string>
}

const setup = (isolation: "process" | "bwrap", extra: Record<string, string> = {}): Env => {
  const base = TempDir.makeSync("pcc-sbx-test-")
  dirs.push(base)
  const repo = TempRepo.makeSync(base, {
    files: { "README.md": "# shop\n", "src/app.ts": "export const app = 1\n", "old.txt": "obsolete\n", ".gitignore": "dist/\n" }
  })
  const data = path.join(base, "data")
  const sandboxes = path.join(base, "sandboxes")
  fs.mkdirSync(sandboxes)
  return {
    repo,
    data,
    sandboxes,
    env: {
      ...repo.env,
      PARALLEL_CC_DATA_DIR: data,
      PARALLEL_CC_SANDBOX_LOCAL_ROOT: sandboxes,
      PARALLEL_CC_SANDBOX_LOCAL_ISOLATION: isolation,
      ...extra
    }
  }
}

const editScript: ScriptedAgent.Script = {
  actions: [
    { edit: "README.md", find: "# shop", replace: "# shop\n\nNow with a health check." },
    { write: "src/health.ts", content: "export const health = () => \"ok\"\n" },
    { delete: "old.txt" },
    { write: "dist/bundle.js", content: "ignored build output\n" },
    { say: "Added a health check." }
  ],
  cost: 0.0123
}

const run = (e: Env, args: ReadonlyArray<string>, input?: string) =>
  Cli.runSync(["sandbox", "run", "--repo", e.repo.root, "--agent", ScriptedAgent.path, ...args], {
    env: e.env,
    cwd: e.repo.root,
    timeoutMs: 120_000,
    ...(input !== undefined ? { input } : {})
  })

const cli = (e: Env, args: ReadonlyArray<string>) => Cli.runSync(args, { env: e.env, cwd: e.repo.root })

const start = (e: Env, args: ReadonlyArray<string>) => {
  const child = spawn(process.execPath, [Cli.binPath, "sandbox", "run", "--repo", e.repo.root, "--agent", ScriptedAgent.path, ...args], {
    env: { ...e.env },
    cwd: e.repo.root,
    stdio: ["ignore", "pipe", "pipe"]
  })
  children.push(child)
  let stdout = ""
  let stderr = ""
  child.stdout!.setEncoding("utf8").on("data", (d) => (stdout += d))
  child.stderr!.setEncoding("utf8").on("data", (d) => (stderr += d))
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on("close", (code) => resolve({ code, stdout, stderr }))
  )
  return { child, done, output: () => stderr }
}

const waitFor = async <A>(what: string, f: () => A | undefined, timeoutMs = 120_000): Promise<A> => {
  const until = Date.now() + timeoutMs
  for (;;) {
    const v = f()
    if (v !== undefined) return v
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 150))
  }
}

/** The single run in the store, once it has a running agent (fails at once when the run ended instead). */
const runningRun = (e: Env, bg?: { readonly child: ChildProcess; readonly output: () => string }) =>
  waitFor("a running agent", () => {
    // A `sandbox run` that already exited will never show a running agent: say why at once.
    if (bg !== undefined && bg.child.exitCode !== null) {
      throw new Error(`sandbox run exited ${bg.child.exitCode} before its agent was seen running:\n${bg.output()}`)
    }
    const r = cli(e, ["sandbox", "list", "--json"])
    if (r.code !== 0) return undefined
    const run = Cli.json(r).runs[0]
    if (run !== undefined && !["starting", "running"].includes(run.status)) {
      throw new Error(`the run ended before its agent was seen running: ${run.status}: ${run.error}`)
    }
    return run !== undefined && run.status === "running" && run.agentPid !== null ? run : undefined
  })

/** Wait until a run file (log, events) shows `text`: the agent's output is recorded as it comes. */
const logShows = (logPath: string, text: string) =>
  waitFor(`the log to show ${text}`, () => {
    try {
      return fs.readFileSync(logPath, "utf8").includes(text) ? true : undefined
    } catch {
      return undefined
    }
  })

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM"
  }
}

const statusOf = (e: Env, id: string) => Cli.json(cli(e, ["sandbox", "status", "--session-id", id, "--json"]))

const git = (cwd: string, args: ReadonlyArray<string>) =>
  spawnSync("git", args as Array<string>, { cwd, encoding: "utf8", env: { PATH: process.env.PATH ?? "", GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null" } }).stdout

const isolations = ["process", "bwrap"] as const
/** A test of each isolation; the bubblewrap one is skipped (with the reason in its title) where bwrap does not work. */
const each = (isolation: (typeof isolations)[number], name: string, fn: () => void | Promise<void>) =>
  isolation === "bwrap" ? it.skipIf(!bwrapWorks)(Bubblewrap.title(name), fn) : it(`[process] ${name}`, fn)
/** The strongest isolation this machine has, for tests about something else. */
const strongest = bwrapWorks ? "bwrap" : "process"

describe("sandbox run (local provider)", { timeout: 180_000 }, () => {
  for (const isolation of isolations) {
    each(isolation, "edits, creates and deletes files; the changes land uncommitted in a new worktree; logs, list, status and download work from other processes", () => {
      const e = setup(isolation)
      const r = run(e, ["--prompt", ScriptedAgent.prompt("Add a health check", editScript)])
      assert.strictEqual(r.code, 0, r.stderr)
      assert.include(r.stderr, isolation === "bwrap" ? "bubblewrap" : "NOT isolated")
      assert.include(r.stdout, "Changes: 1 added, 1 modified, 1 deleted")
      assert.include(r.stdout, "Ready for review in the worktree")
      const list = Cli.json(cli(e, ["sandbox", "list", "--json"]))
      assert.lengthOf(list.runs, 1)
      const rec = list.runs[0]
      assert.deepInclude(rec, {
        status: "succeeded",
        sandboxState: "killed",
        isolation,
        branchMode: "review",
        numTurns: 5,
        costUsd: 0.0123,
        resultSubtype: "success",
        isError: false,
        filesAdded: 1,
        filesModified: 1,
        filesDeleted: 1
      })
      const wt = rec.worktreePath as string
      assert.strictEqual(wt, path.join(`${e.repo.root}-worktrees`, `parallel-${rec.sessionId}`))
      assert.strictEqual(fs.readFileSync(path.join(wt, "README.md"), "utf8"), "# shop\n\nNow with a health check.\n")
      assert.isTrue(fs.existsSync(path.join(wt, "src/health.ts")))
      assert.isFalse(fs.existsSync(path.join(wt, "old.txt")))
      assert.isFalse(fs.existsSync(path.join(wt, "dist")), "ignored build output is never downloaded")
      const porcelain = git(wt, ["status", "--porcelain"])
      assert.include(porcelain, " M README.md")
      assert.include(porcelain, " D old.txt")
      assert.include(porcelain, "?? src/health.ts")
      assert.strictEqual(git(wt, ["rev-parse", "HEAD"]).trim(), git(e.repo.root, ["rev-parse", "HEAD"]).trim())
      // The user's own checkout is untouched.
      assert.strictEqual(fs.readFileSync(path.join(e.repo.root, "README.md"), "utf8"), "# shop\n")
      assert.deepStrictEqual(fs.readdirSync(e.sandboxes), [])

      const logs = cli(e, ["sandbox", "logs", "--session-id", rec.sessionId])
      assert.strictEqual(logs.code, 0, logs.stderr)
      for (const text of ["tool Edit: README.md", "tool Write: src/health.ts", "assistant: Added a health check.", "result: ok", "sandbox killed"]) {
        assert.include(logs.stdout, text)
      }
      const last2 = cli(e, ["sandbox", "logs", "--session-id", rec.sessionId, "--lines", "2"]).stdout.trim().split("\n")
      assert.lengthOf(last2, 2)
      const followed = cli(e, ["sandbox", "logs", "--session-id", rec.sessionId, "--follow"])
      assert.strictEqual(followed.stdout, logs.stdout)
      const events = fs.readFileSync(rec.eventsPath, "utf8").trim().split("\n").map((l) => JSON.parse(l))
      assert.strictEqual(events[0].type, "system")
      assert.strictEqual(events.at(-1).type, "result")

      const out = path.join(path.dirname(e.data), "out")
      fs.mkdirSync(out)
      fs.writeFileSync(path.join(out, "old.txt"), "to be deleted\n")
      const dl = Cli.json(cli(e, ["sandbox", "download", "--session-id", rec.sessionId, "--output", out, "--json"]))
      assert.strictEqual(dl.source, "saved")
      assert.deepStrictEqual([...dl.written].sort(), ["README.md", "src/health.ts"])
      assert.deepStrictEqual(dl.deleted, ["old.txt"])
      assert.isFalse(fs.existsSync(path.join(out, "old.txt")))

      const st = statusOf(e, rec.sessionId)
      assert.strictEqual(st.sandbox, "gone")
      assert.isFalse(st.supervisorAlive)
      // The sandbox session was released with the run.
      assert.deepStrictEqual(Cli.json(cli(e, ["status", "--json"])).sessions, [])
    })
  }

  it("--branch auto commits on a branch named from the prompt; --branch NAME is validated by git's rules", () => {
    const e = setup("process", { PARALLEL_CC_GIT_USER: "Robo Coder", PARALLEL_CC_GIT_EMAIL: "robo@example.com" })
    const auto = run(e, ["--branch", "auto", "--prompt", ScriptedAgent.prompt("Add a health check endpoint; and tests!", editScript), "--json"])
    assert.strictEqual(auto.code, 0, auto.stderr)
    const a = Cli.json(auto)
    assert.match(a.branch, /^add-a-health-check-endpoint-and-tests(-[a-z0-9]+)*-\d{8}-\d{6}$/)
    assert.isAtMost(a.branch.length - "-YYYYMMDD-HHMMSS".length, 50)
    assert.match(a.commit, /^[0-9a-f]{40}$/)
    assert.strictEqual(git(a.worktreePath, ["status", "--porcelain"]).trim(), "")
    const [author, subject] = git(e.repo.root, ["log", "-1", "--format=%an <%ae>%n%s", a.branch]).trim().split("\n")
    assert.strictEqual(author, "Robo Coder <robo@example.com>")
    assert.match(subject!, /^Add a health check endpoint; and tests!/)
    assert.deepStrictEqual(git(e.repo.root, ["diff", "--name-status", `main..${a.branch}`]).trim().split("\n").sort(), ["A\tsrc/health.ts", "D\told.txt", "M\tREADME.md"])

    const named = run(e, ["--branch", "feature/health", "--git-user", "Ann", "--git-email", "ann@example.com", "--prompt", ScriptedAgent.prompt("again", editScript), "--json"])
    assert.strictEqual(named.code, 0, named.stderr)
    assert.strictEqual(Cli.json(named).branch, "feature/health")
    assert.strictEqual(git(e.repo.root, ["log", "-1", "--format=%an", "feature/health"]).trim(), "Ann")

    for (const bad of ["bad..name", "-x", "a b", "--upload-pack=evil", "x.lock"]) {
      const r = run(e, ["--branch", bad, "--prompt", "p"])
      assert.strictEqual(r.code, 1, `${bad}: ${r.stderr}`)
      assert.match(r.stderr, /branch name/)
    }
    const exists = run(e, ["--branch", "feature/health", "--prompt", "p"])
    assert.strictEqual(exists.code, 1)
    assert.include(exists.stderr, "already exists")
    const half = run(e, ["--git-user", "Only Name", "--prompt", "p"])
    assert.strictEqual(half.code, 1)
    assert.include(half.stderr, "give both or neither")
    // Refused before anything was created.
    assert.lengthOf(Cli.json(cli(e, ["sandbox", "list", "--json"])).runs, 2)
  })

  for (const isolation of isolations) {
    each(isolation, "Ctrl-C mid-run kills the agent, removes the sandbox and records it", async () => {
      const e = setup(isolation)
      const bg = start(e, ["--prompt", ScriptedAgent.prompt("long task", { actions: [{ write: "partial.txt", content: "half done\n" }, { hang: true }] })])
      const rec = await runningRun(e, bg)
      await logShows(rec.eventsPath, "\"tool_result\"")
      assert.isTrue(alive(rec.agentPid))
      assert.lengthOf(fs.readdirSync(e.sandboxes), 1)
      bg.child.kill("SIGINT")
      const res = await bg.done
      assert.strictEqual(res.code, 130, res.stderr)
      await waitFor("the agent to be gone", () => (alive(rec.agentPid) ? undefined : true), 10_000)
      assert.deepStrictEqual(fs.readdirSync(e.sandboxes), [], "no sandbox directory is left")
      const after = statusOf(e, rec.sessionId).run
      assert.strictEqual(after.status, "interrupted")
      assert.strictEqual(after.sandboxState, "killed")
      // What the agent had written is not lost.
      assert.strictEqual(fs.readFileSync(path.join(after.worktreePath, "partial.txt"), "utf8"), "half done\n")
      assert.deepStrictEqual(Cli.json(cli(e, ["status", "--json"])).sessions, [])
    })
  }

  it("`sandbox kill` from another process stops a running agent; partial changes are kept; --follow ends with the run", async () => {
    const e = setup(strongest)
    const bg = start(e, ["--prompt", ScriptedAgent.prompt("long task", { actions: [{ write: "partial.txt", content: "half\n" }, { hang: true }] })])
    const rec = await runningRun(e, bg)
    await logShows(rec.eventsPath, "\"tool_result\"")
    const follower = spawn(process.execPath, [Cli.binPath, "sandbox", "logs", "--session-id", rec.sessionId, "--follow"], { env: e.env })
    children.push(follower)
    let followed = ""
    follower.stdout.setEncoding("utf8").on("data", (d) => (followed += d))
    const followerDone = new Promise((r) => follower.on("close", r))
    const k = cli(e, ["sandbox", "kill", "--session-id", rec.sessionId])
    assert.strictEqual(k.code, 0, k.stderr)
    assert.include(k.stdout, "Stopped run")
    const res = await bg.done
    assert.strictEqual(res.code, 1)
    assert.include(res.stderr, "killed")
    await followerDone
    assert.include(followed, "stop requested by `sandbox kill`")
    assert.include(followed, "finished: killed; sandbox killed")
    const after = statusOf(e, rec.sessionId).run
    assert.deepInclude(after, { status: "killed", sandboxState: "killed", filesAdded: 1 })
    assert.isTrue(fs.existsSync(path.join(after.worktreePath, "partial.txt")))
    assert.isFalse(alive(rec.agentPid))
    assert.deepStrictEqual(fs.readdirSync(e.sandboxes), [])
    const again = cli(e, ["sandbox", "kill", "--session-id", rec.sessionId])
    assert.include(again.stdout, "nothing to kill")
  })

  it("warnings as the sandbox time passes; a hard timeout stops the agent; --keep keeps the sandbox (without credentials) until `sandbox kill` removes it", () => {
    const e = setup("process", { PARALLEL_CC_SANDBOX_WARN_AT_MINUTES: "[0.01, 60]" })
    const r = run(e, ["--timeout", "2s", "--keep", "--npm-token", "npm_SECRETTOKEN12345", "--prompt", ScriptedAgent.prompt("slow", { actions: [{ write: "a.txt", content: "a\n" }, { hang: true }] })])
    assert.strictEqual(r.code, 1)
    assert.include(r.stderr, "timed out")
    assert.include(r.stderr, "warning: the sandbox has been running for 0.6 s (hard limit 2 s)")
    const rec = Cli.json(cli(e, ["sandbox", "list", "--json"])).runs[0]
    assert.deepInclude(rec, { status: "timed_out", sandboxState: "kept" })
    assert.isTrue(fs.existsSync(rec.sandboxId))
    assert.isFalse(fs.existsSync(path.join(rec.sandboxId, "home", ".npmrc")), "credentials are removed even from a kept sandbox")
    // The agent worked in the run's own worktree: its partial change is there, kept for review.
    assert.isFalse(fs.existsSync(path.join(rec.sandboxId, "work")))
    assert.strictEqual(fs.readFileSync(path.join(rec.worktreePath, "a.txt"), "utf8"), "a\n")
    // The run has ended, so the worktree holds its settled changes: download gives what was saved.
    const out = path.join(path.dirname(e.data), "dl")
    assert.strictEqual(Cli.json(cli(e, ["sandbox", "download", "--session-id", rec.sessionId, "--output", out, "--json"])).source, "saved")
    assert.strictEqual(fs.readFileSync(path.join(out, "a.txt"), "utf8"), "a\n")
    const k = cli(e, ["sandbox", "kill", "--session-id", rec.sessionId])
    assert.include(k.stdout, "Removed the kept sandbox")
    assert.isFalse(fs.existsSync(rec.sandboxId))
    assert.strictEqual(statusOf(e, rec.sessionId).run.sandboxState, "killed")
  })

  it("--dry-run uploads and verifies the work tree and starts no agent", () => {
    const e = setup(strongest)
    e.repo.write("untracked.md", "not ignored, so it travels\n")
    e.repo.write("dist/out.js", "ignored\n")
    const r = run(e, ["--dry-run", "--json", "--prompt", ScriptedAgent.prompt("x", { actions: [{ fail: "must not run" }] })])
    assert.strictEqual(r.code, 0, r.stderr)
    const doc = Cli.json(r)
    assert.deepInclude(doc.run, { status: "succeeded", dryRun: true, uploadFiles: 5, sandboxState: "killed", agentPid: null })
    assert.isNull(doc.worktreePath)
  })

  it("fails clearly before creating anything: not a repository, no commit, unknown agent, claude without credentials", () => {
    const e = setup("process")
    const notRepo = Cli.runSync(["sandbox", "run", "--repo", e.data, "--prompt", "x", "--agent", ScriptedAgent.path], { env: e.env })
    assert.strictEqual(notRepo.code, 1)
    assert.include(notRepo.stderr, "is not inside a git repository")
    const empty = path.join(path.dirname(e.data), "empty")
    fs.mkdirSync(empty)
    spawnSync("git", ["init", "-q", empty])
    const noCommit = Cli.runSync(["sandbox", "run", "--repo", empty, "--prompt", "x", "--agent", ScriptedAgent.path], { env: e.env })
    assert.strictEqual(noCommit.code, 1)
    assert.include(noCommit.stderr, "has no commit yet")
    const noAgent = Cli.runSync(["sandbox", "run", "--repo", e.repo.root, "--prompt", "x", "--agent", "./nope.sh"], { env: e.env, cwd: e.repo.root })
    assert.strictEqual(noAgent.code, 1)
    assert.include(noAgent.stderr, "does not exist")
    const bin = path.join(path.dirname(e.data), "bin")
    fs.mkdirSync(bin)
    fs.symlinkSync(ScriptedAgent.path, path.join(bin, "claude"))
    const noKey = Cli.runSync(["sandbox", "run", "--repo", e.repo.root, "--prompt", "x", "--agent", "claude"], {
      env: { ...e.env, PATH: `${bin}:${e.env.PATH}`, HOME: e.repo.home }
    })
    assert.strictEqual(noKey.code, 1)
    assert.include(noKey.stderr, "ANTHROPIC_API_KEY")
    const both = run(e, ["--prompt", "x", "--prompt-file", "f"])
    assert.strictEqual(both.code, 1)
    assert.include(both.stderr, "exactly one of --prompt")
    assert.deepStrictEqual(Cli.json(cli(e, ["sandbox", "list", "--json"])).runs, [])
    assert.deepStrictEqual(Cli.json(cli(e, ["status", "--json"])).sessions, [])
  })

  it("the claude adapter: headless stream-json from stdin, permissions skipped only under isolation, cost and turns recorded", () => {
    const e = setup(strongest)
    const bin = path.join(path.dirname(e.data), "bin")
    fs.mkdirSync(bin)
    fs.symlinkSync(ScriptedAgent.path, path.join(bin, "claude"))
    const prompt = ScriptedAgent.prompt(`Long prompt ${"word ".repeat(20_000)}`, { actions: [{ env: "agent-env.json" }], cost: 0.042 })
    const r = Cli.runSync(["sandbox", "run", "--repo", e.repo.root, "--agent", "claude", "--prompt-file", "-", "--json"], {
      env: { ...e.env, PATH: `${bin}:${e.env.PATH}`, ANTHROPIC_API_KEY: "sk-ant-test-not-a-real-key-000" },
      input: prompt,
      timeoutMs: 120_000
    })
    assert.strictEqual(r.code, 0, r.stderr)
    const doc = Cli.json(r)
    assert.deepInclude(doc.run, { costUsd: 0.042, numTurns: 1, resultSubtype: "success" })
    const env = JSON.parse(fs.readFileSync(path.join(doc.worktreePath, "agent-env.json"), "utf8"))
    const isolated = doc.isolation.isolated as boolean
    assert.strictEqual(env.IS_SANDBOX, isolated ? "1" : undefined)
    assert.strictEqual(env.PARALLEL_CC_SANDBOX, "1")
    assert.strictEqual(env.ANTHROPIC_API_KEY, "sk-ant-test-not-a-real-key-000")
    assert.isUndefined(env.PARALLEL_CC_DATA_DIR, "the agent gets a minimal environment")
    const init = fs.readFileSync(doc.run.eventsPath, "utf8").split("\n").map((l) => (l ? JSON.parse(l) : {})).find((x) => x.subtype === "init")
    assert.strictEqual(init.permissionMode, isolated ? "bypassPermissions" : "default")
    assert.strictEqual(init.apiKeySource, "ANTHROPIC_API_KEY")
  })

  it("secrets never appear in logs, events, DB rows, process argv or error messages; credential files are 0600 and removed", async () => {
    const e = setup(strongest)
    const apiKey = "sk-ant-api03-TESTSECRETAPIKEY-0123456789"
    const npmToken = "npm_TESTSECRETNPMTOKEN0123456789"
    const keyBody = "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQTESTSECRETSSHKEYLINE"
    const keyFile = path.join(path.dirname(e.data), "id_test")
    fs.writeFileSync(keyFile, `-----BEGIN OPENSSH PRIVATE KEY-----\n${keyBody}\n-----END OPENSSH PRIVATE KEY-----\n`, { mode: 0o600 })
    const secrets = [apiKey, npmToken, keyBody]
    const script: ScriptedAgent.Script = {
      actions: [
        { run: ["sh", "-c", "stat -c '%a %n' \"$HOME/.npmrc\" \"$HOME/.ssh/id_parallel_cc\"; cat \"$HOME/.npmrc\"; env"] },
        { sleep: 2500 },
        { run: ["sh", "-c", "env >&2; cat \"$HOME/.ssh/id_parallel_cc\" >&2; exit 3"] }
      ]
    }
    const bg = spawn(process.execPath, [
      Cli.binPath,
      "sandbox",
      "run",
      "--repo",
      e.repo.root,
      "--agent",
      ScriptedAgent.path,
      "--auth-method",
      "api-key",
      "--ssh-key",
      keyFile,
      "--confirm-ssh-key",
      "--npm-token",
      "-",
      "--prompt",
      ScriptedAgent.prompt("use the secrets", script)
    ], { env: { ...e.env, ANTHROPIC_API_KEY: apiKey }, cwd: e.repo.root, stdio: ["pipe", "pipe", "pipe"] })
    children.push(bg)
    let stdout = ""
    let stderr = ""
    bg.stdout.setEncoding("utf8").on("data", (d) => (stdout += d))
    bg.stderr.setEncoding("utf8").on("data", (d) => (stderr += d))
    // Flush stdin before polling (the polls below block this event loop).
    await new Promise<void>((r) => bg.stdin.end(npmToken + "\n", () => r()))
    const done = new Promise<number | null>((r) => bg.on("close", r))
    await runningRun(e, { child: bg, output: () => stderr })
    // While the agent runs: no process on the machine carries a secret in its argv.
    const argvs: Array<string> = []
    for (const pid of fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
      try {
        argvs.push(fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" "))
      } catch {
        // The process ended meanwhile.
      }
    }
    assert.isAbove(argvs.length, 3)
    assert.isTrue(argvs.some((a) => a.includes("scripted-agent")), "the agent process was seen")
    for (const s of secrets) assert.isFalse(argvs.some((a) => a.includes(s)), `a secret is in some process's argv`)
    const code = await done
    assert.strictEqual(code, 1, stderr)
    const rec = Cli.json(cli(e, ["sandbox", "list", "--json"])).runs[0]
    assert.strictEqual(rec.status, "failed")
    const log = fs.readFileSync(rec.logPath, "utf8")
    const events = fs.readFileSync(rec.eventsPath, "utf8")
    assert.include(events, "600 ")
    assert.include(events, "[redacted]")
    // The store must be read (a missing file would make the check pass vacuously); its WAL may have been checkpointed away.
    const wal = path.join(e.data, "coordinator.db-wal")
    const db = fs.readFileSync(path.join(e.data, "coordinator.db")).toString("latin1") +
      (fs.existsSync(wal) ? fs.readFileSync(wal).toString("latin1") : "")
    assert.include(db, rec.sessionId, "the store read holds this run")
    const statusText = cli(e, ["sandbox", "status", "--session-id", rec.sessionId]).stdout
    for (const s of secrets) {
      for (const [where, text] of [["log", log], ["events", events], ["database", db], ["stdout", stdout], ["stderr", stderr], ["status", statusText], ["error", rec.error ?? ""]]) {
        assert.notInclude(text, s, `a secret leaked into ${where}`)
      }
    }
    assert.deepStrictEqual(fs.readdirSync(e.sandboxes), [])
  })

  for (const isolation of isolations) {
    each(isolation, isolation === "bwrap"
      ? "an agent that writes outside its copy is contained; escaping symlinks are refused at download"
      : "escaping symlinks made by the agent are refused at download", () => {
      const e = setup(isolation)
      const outside = path.join(path.dirname(e.data), "outside.txt")
      const r = run(e, ["--json", "--prompt", ScriptedAgent.prompt("escape", {
        actions: [
          { write: outside, content: "escaped\n", optional: true },
          { write: path.join(e.repo.root, "README.md"), content: "overwritten\n", optional: true },
          { write: path.join(e.repo.home, "stolen.txt"), content: "x\n", optional: true },
          { run: ["ln", "-s", "/etc/passwd", "passwd-link"] },
          { run: ["ln", "-s", "../../..", "up-link"] },
          { write: "legit.txt", content: "fine\n" }
        ]
      })])
      assert.strictEqual(r.code, 0, r.stderr)
      const doc = Cli.json(r)
      const refused = doc.refused.map((x: { path: string }) => x.path).sort()
      assert.deepStrictEqual(refused, ["passwd-link", "up-link"])
      assert.isTrue(fs.existsSync(path.join(doc.worktreePath, "legit.txt")))
      assert.isFalse(fs.existsSync(path.join(doc.worktreePath, "passwd-link")))
      assert.isFalse(fs.existsSync(path.join(doc.worktreePath, "up-link")))
      if (isolation === "bwrap") {
        assert.isTrue(doc.isolation.isolated)
        assert.isFalse(fs.existsSync(outside), "the write outside the copy never reached the host")
        assert.isFalse(fs.existsSync(path.join(e.repo.home, "stolen.txt")))
        assert.strictEqual(fs.readFileSync(path.join(e.repo.root, "README.md"), "utf8"), "# shop\n")
      } else {
        assert.isFalse(doc.isolation.isolated)
      }
    })
  }
})


describe("templates and budgets", { timeout: 180_000 }, () => {
  it("templates: the shipped three; create, show, export, import, delete; bad input refused", () => {
    const e = setup("process")
    const listed = Cli.json(cli(e, ["templates", "list", "--json"])).templates.map((t: { name: string }) => t.name)
    assert.includeMembers(listed, ["node20-typescript", "python312-fastapi", "nextjs"])
    const created = cli(e, ["templates", "create", "mine", "--description", "test", "--setup", "[[\"node\",\"-e\",\"1\"]]", "--env", "GREETING=hi", "--json"])
    assert.strictEqual(created.code, 0, created.stderr)
    const mine = Cli.json(created)
    assert.deepInclude(mine, { name: "mine", builtin: false, env: { GREETING: "hi" } })
    const again = cli(e, ["templates", "create", "mine", "--description", "x"])
    assert.strictEqual(again.code, 1)
    assert.include(again.stderr, "already exists")
    const file = path.join(path.dirname(e.data), "mine.json")
    assert.strictEqual(cli(e, ["templates", "export", "mine", "--output", file]).code, 0)
    assert.strictEqual(JSON.parse(fs.readFileSync(file, "utf8")).parallelCcTemplate, 1)
    const imported = cli(e, ["templates", "import", file, "--name", "copy", "--json"])
    assert.strictEqual(imported.code, 0, imported.stderr)
    const copy = Cli.json(imported)
    assert.deepInclude(copy, { name: "copy", setup: [["node", "-e", "1"]] })
    assert.strictEqual(cli(e, ["templates", "delete", "copy"]).code, 0)
    assert.strictEqual(cli(e, ["templates", "show", "copy"]).code, 1)
    const builtin = cli(e, ["templates", "delete", "nextjs"])
    assert.strictEqual(builtin.code, 1)
    assert.include(builtin.stderr, "shipped template")
    for (const bad of [["BadName"], ["ok", "--setup", "[\"not\", \"nested\"]"], ["ok", "--env", "HOME=/x"], ["ok", "--setup", "{"]]) {
      const r = cli(e, ["templates", "create", ...bad.slice(0, 1), "--description", "d", ...bad.slice(1)])
      assert.strictEqual(r.code, 1, `${bad.join(" ")}: ${r.stdout}`)
    }
    fs.writeFileSync(file, "{\"name\":\"x\"}")
    assert.include(cli(e, ["templates", "import", file]).stderr, "not a parallel-cc template export")
  })

  it("--use-template runs the setup commands in the sandbox and gives setup and agent its environment; a failing setup fails the run", () => {
    const e = setup(strongest)
    const setupCmd = "require('fs').writeFileSync('from-setup.txt', process.env.GREETING + ' ' + process.env.CACHE)"
    assert.strictEqual(cli(e, ["templates", "create", "greet", "--description", "d", "--setup", JSON.stringify([["node", "-e", setupCmd]]), "--env", "GREETING=hello", "--env", "CACHE={home}/cache"]).code, 0)
    const r = run(e, ["--use-template", "greet", "--json", "--prompt", ScriptedAgent.prompt("x", { actions: [{ env: "agent-env.json" }] })])
    assert.strictEqual(r.code, 0, r.stderr)
    const doc = Cli.json(r)
    assert.strictEqual(doc.run.managedTemplate, "greet")
    const env = JSON.parse(fs.readFileSync(path.join(doc.worktreePath, "agent-env.json"), "utf8"))
    assert.strictEqual(env.GREETING, "hello")
    assert.match(env.CACHE, /\/cache$/)
    assert.notInclude(env.CACHE, "{home}")
    assert.strictEqual(fs.readFileSync(path.join(doc.worktreePath, "from-setup.txt"), "utf8"), `hello ${env.CACHE}`)
    assert.include(fs.readFileSync(doc.run.logPath, "utf8"), "setup: node -e")

    assert.strictEqual(cli(e, ["templates", "create", "broken", "--description", "d", "--setup", "[[\"node\",\"-e\",\"process.exit(3)\"]]"]).code, 0)
    const bad = run(e, ["--use-template", "broken", "--prompt", ScriptedAgent.prompt("x", { actions: [{ write: "never.txt", content: "x" }] })])
    assert.strictEqual(bad.code, 1)
    assert.include(bad.stderr, "template setup failed")
    const rec = Cli.json(cli(e, ["sandbox", "list", "--json"])).runs[0]
    assert.deepInclude(rec, { status: "failed", sandboxState: "killed", agentPid: null })
    const missing = run(e, ["--use-template", "nope", "--prompt", "x"])
    assert.strictEqual(missing.code, 1)
    assert.include(missing.stderr, "no template named")
  })

  it("budgets: the agent stops at --budget, sandbox time is charged at the configured rate, a spent period budget refuses new runs", () => {
    const e = setup("process")
    const bin = path.join(path.dirname(e.data), "bin")
    fs.mkdirSync(bin)
    fs.symlinkSync(ScriptedAgent.path, path.join(bin, "claude"))
    const claudeEnv = { ...e.env, PATH: `${bin}:${e.env.PATH}`, ANTHROPIC_API_KEY: "sk-ant-test-budget-0000" }
    const script: ScriptedAgent.Script = {
      actions: [{ write: "step1.txt", content: "1\n" }, { write: "step2.txt", content: "2\n" }, { write: "step3.txt", content: "3\n" }, { write: "step4.txt", content: "4\n" }],
      cost: 0.1
    }
    const capped = Cli.runSync(["sandbox", "run", "--repo", e.repo.root, "--agent", "claude", "--budget", "0.05", "--json", "--prompt", ScriptedAgent.prompt("x", script)], {
      env: claudeEnv,
      timeoutMs: 120_000
    })
    assert.strictEqual(capped.code, 1, capped.stderr)
    const a = Cli.json(capped)
    assert.deepInclude(a.run, { status: "budget_exceeded", resultSubtype: "error_max_budget_usd", budgetUsd: 0.05, numTurns: 2, costUsd: 0.05 })
    assert.deepStrictEqual(a.changes.added, ["step1.txt", "step2.txt"], "the partial results are kept")

    // Sandbox time at $1/s: a hanging agent is stopped when its time reaches the budget.
    const timeEnv = { ...e.env, PARALLEL_CC_COST_LOCAL_USD_PER_HOUR: "3600" }
    const started = Date.now()
    const timed = Cli.runSync(["sandbox", "run", "--repo", e.repo.root, "--agent", ScriptedAgent.path, "--budget", "2", "--json", "--prompt", ScriptedAgent.prompt("x", { actions: [{ write: "t.txt", content: "t\n" }, { hang: true }] })], {
      env: timeEnv,
      timeoutMs: 120_000
    })
    assert.strictEqual(timed.code, 1, timed.stderr)
    const b = Cli.json(timed).run
    assert.strictEqual(b.status, "budget_exceeded")
    assert.isAtLeast(b.providerSeconds, 2)
    assert.isBelow(Date.now() - started, 60_000)
    assert.approximately(b.totalCostUsd, b.providerCostUsd, 1e-9)

    const status = Cli.json(cli(e, ["budget", "status", "--json"]))
    const daily = status.periods.find((p: { period: string }) => p.period === "daily")
    assert.isAtLeast(daily.spentUsd, 2.05)
    assert.strictEqual(daily.runs, 2)
    const refused = Cli.runSync(["sandbox", "run", "--repo", e.repo.root, "--agent", ScriptedAgent.path, "--prompt", "x"], {
      env: { ...e.env, PARALLEL_CC_BUDGET_DAILY_USD: "1" }
    })
    assert.strictEqual(refused.code, 1)
    assert.include(refused.stderr, "the daily budget of $1.00 is spent")
    assert.lengthOf(Cli.json(cli(e, ["sandbox", "list", "--json"])).runs, 2, "no run was created")
    const human = cli(e, ["budget", "status", "--period", "daily"])
    assert.include(human.stdout, "daily")
  })
})

describe("--git-live", { timeout: 180_000 }, () => {
  it("pushes the committed branch to origin and opens a pull request with gh; warns about other active sessions; the token stays out of argv and logs", () => {
    const e = setup("process")
    const origin = path.join(path.dirname(e.data), "origin.git")
    spawnSync("git", ["init", "-q", "--bare", origin])
    e.repo.git(["remote", "add", "origin", origin])
    e.repo.git(["push", "-q", "origin", "main"])
    const bin = GhDouble.install(path.join(path.dirname(e.data), "gh-bin"))
    const ghLog = path.join(path.dirname(e.data), "gh.jsonl")
    const token = "ghp_TESTSECRETTOKEN000000000000000000"
    const env = { ...e.env, PATH: `${bin}:${e.env.PATH}`, GITHUB_TOKEN: token, GH_DOUBLE_LOG: ghLog }
    // Another session works in the repository meanwhile.
    assert.strictEqual(cli(e, ["register", "--repo", e.repo.root, "--pid", String(process.pid)]).code, 0)

    const r = Cli.runSync(["sandbox", "run", "--repo", e.repo.root, "--agent", ScriptedAgent.path, "--git-live", "--json", "--prompt", ScriptedAgent.prompt("Add a health check", editScript)], {
      env,
      timeoutMs: 120_000
    })
    assert.strictEqual(r.code, 0, r.stderr)
    const doc = Cli.json(r)
    assert.strictEqual(doc.pullRequestUrl, "https://github.com/example/origin/pull/1")
    assert.strictEqual(doc.run.pullRequestUrl, doc.pullRequestUrl)
    assert.strictEqual(doc.run.branchMode, "auto")
    assert.isTrue(doc.warnings.some((w: string) => w.includes("other session(s) are active")))
    // The branch is on origin, at the run's commit.
    const remote = spawnSync("git", ["ls-remote", origin, `refs/heads/${doc.branch}`], { encoding: "utf8" }).stdout
    assert.strictEqual(remote.split("\t")[0], doc.commit)
    const [call] = GhDouble.calls(ghLog)
    assert.deepStrictEqual(call!.argv.slice(0, 6), ["pr", "create", "--base", "main", "--head", doc.branch])
    assert.include(call!.stdin, "Add a health check")
    assert.isTrue(call!.token, "gh got GITHUB_TOKEN from its environment")
    assert.notInclude(call!.argv.join(" "), token)
    assert.notInclude(fs.readFileSync(doc.run.logPath, "utf8"), token)

    const failing = Cli.runSync(["sandbox", "run", "--repo", e.repo.root, "--agent", ScriptedAgent.path, "--git-live", "--branch", "feature/x", "--prompt", ScriptedAgent.prompt("x", editScript)], {
      env: { ...env, GH_DOUBLE_FAIL: "1" },
      timeoutMs: 120_000
    })
    assert.strictEqual(failing.code, 1)
    assert.include(failing.stderr, "gh pr create failed")
    assert.include(failing.stderr, "the branch feature/x is pushed")
    const noRemote = setup("process")
    const refused = Cli.runSync(["sandbox", "run", "--repo", noRemote.repo.root, "--agent", ScriptedAgent.path, "--git-live", "--prompt", "x"], {
      env: { ...noRemote.env, PATH: `${bin}:${noRemote.env.PATH}` }
    })
    assert.strictEqual(refused.code, 1)
    assert.include(refused.stderr, "no remote named origin")
  })
})

describe("review worktrees of sandboxed runs are first-class (issue 13 item 4)", { timeout: 180_000 }, () => {
  const worktreeList = (e: Env) =>
    git(e.repo.root, ["worktree", "list", "--porcelain"]).split("\n").filter((l) => l.startsWith("worktree ")).map((l) => l.slice(9))
  const branches = (e: Env) => git(e.repo.root, ["branch", "--format=%(refname:short)"]).trim().split("\n")

  it("status lists a run's kept worktree with the run id and state; cleanup removes it once merged; a run that changed nothing leaves none", () => {
    const e = setup("process")
    const idle = run(e, ["--json", "--prompt", ScriptedAgent.prompt("look", { actions: [{ say: "nothing to do" }] })])
    assert.strictEqual(idle.code, 0, idle.stderr)
    assert.isNull(Cli.json(idle).worktreePath)
    assert.deepStrictEqual(worktreeList(e), [e.repo.root])
    assert.deepStrictEqual(branches(e), ["main"])

    const r = run(e, ["--json", "--prompt", ScriptedAgent.prompt("edit", editScript)])
    assert.strictEqual(r.code, 0, r.stderr)
    const doc = Cli.json(r)
    const id = doc.run.sessionId
    const text = cli(e, ["status"]).stdout
    const row = text.split("\n").find((l) => l.startsWith(id))
    assert.isDefined(row, text)
    assert.include(row!, "sandbox run (succeeded)")
    assert.include(row!, doc.worktreePath)
    const kept = Cli.json(cli(e, ["status", "--json"])).kept
    assert.deepStrictEqual(kept.map((k: { sessionId: string; mode: string }) => [k.sessionId, k.mode]), [[id, "sandbox"]])

    // Not merged yet: cleanup keeps it and says why.
    assert.include(cli(e, ["cleanup"]).stdout, "kept")
    assert.isTrue(fs.existsSync(doc.worktreePath))
    // Committed and merged: cleanup removes the worktree and its branch.
    git(doc.worktreePath, ["add", "-A"])
    spawnSync("git", ["-c", "user.name=T", "-c", "user.email=t@x", "commit", "-qm", "review"], { cwd: doc.worktreePath })
    spawnSync("git", ["merge", "-q", doc.branch], { cwd: e.repo.root })
    const c = cli(e, ["cleanup"])
    assert.strictEqual(c.code, 0, c.stderr)
    assert.include(c.stdout, `worktree ${doc.worktreePath} removed`)
    assert.isFalse(fs.existsSync(doc.worktreePath))
    assert.deepStrictEqual(worktreeList(e), [e.repo.root])
    assert.deepStrictEqual(branches(e), ["main"])
    assert.deepStrictEqual(Cli.json(cli(e, ["status", "--json"])).kept, [])
  })

  it("release --session-id RUN --force removes the run's worktree and branch exactly as it reports, listing the commit it throws away", () => {
    const e = setup("process")
    const r = run(e, ["--json", "--branch", "feature/health", "--prompt", ScriptedAgent.prompt("edit", editScript)])
    assert.strictEqual(r.code, 0, r.stderr)
    const doc = Cli.json(r)
    assert.isNotNull(doc.commit)
    const id = doc.run.sessionId
    const dry = Cli.json(cli(e, ["release", "--session-id", id, "--force", "--dry-run", "--json"])).released[0]
    assert.strictEqual(dry.worktree, "removed")
    assert.isTrue(fs.existsSync(doc.worktreePath), "a dry run changes nothing")
    const rel = cli(e, ["release", "--session-id", id, "--force", "--json"])
    assert.strictEqual(rel.code, 0, rel.stderr)
    const out = Cli.json(rel).released[0]
    assert.strictEqual(out.worktree, "removed")
    assert.strictEqual(out.branchOutcome.outcome, "deleted")
    assert.deepStrictEqual(out.discarded.commits.map((x: { sha: string }) => x.sha), [doc.commit])
    assert.isFalse(fs.existsSync(doc.worktreePath), "the directory is really gone")
    assert.deepStrictEqual(worktreeList(e), [e.repo.root], "and git no longer lists it")
    assert.deepStrictEqual(branches(e), ["main"])
  })
})
