/**
 * claude-parallel as people use it: pass-through of invocations that are not sessions, --name, --base,
 * --worktree / --no-worktree / worktree.always, --session re-entry, setup streamed and stopping, outside a
 * repository. The agent is a small script that records its arguments, directory and environment.
 */
import { Cli, TempDir, TempRepo } from "@parallel-cc/testkit"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, assert, describe, it } from "vitest"

const dirs: Array<string> = []
const children: Array<ChildProcess> = []
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL")
  for (const d of dirs.splice(0)) TempDir.removeSync(d)
})

/**
 * `rec-agent ARGS…`: appends {argv, cwd, session} to $REC_OUT (one JSON line), prints "rec-agent ran", and
 * exits with $REC_EXIT; with $REC_WRITE it writes that file (relative to its directory) first; with
 * $REC_HOLD it waits until that path exists.
 */
const agentSource = `#!/usr/bin/env node
const fs = require("fs")
const rec = { argv: process.argv.slice(2), cwd: process.cwd(), session: process.env.PARALLEL_CC_SESSION_ID ?? null }
if (process.env.REC_OUT) fs.appendFileSync(process.env.REC_OUT, JSON.stringify(rec) + "\\n")
if (process.env.REC_WRITE) fs.writeFileSync(process.env.REC_WRITE, "work\\n")
console.log("rec-agent ran")
const done = () => process.exit(Number(process.env.REC_EXIT ?? "0"))
if (process.env.REC_HOLD) {
  const t = setInterval(() => { if (fs.existsSync(process.env.REC_HOLD)) { clearInterval(t); done() } }, 50)
} else done()
`

const world = (extra: Record<string, string> = {}) => {
  const base = TempDir.makeSync()
  dirs.push(base)
  const repo = TempRepo.makeSync(base, { files: { "README.md": "# r\n", ".gitignore": "node_modules/\n" } })
  repo.git(["branch", "old"])
  repo.write("later.txt", "later\n")
  repo.commitAll("later")
  const agent = path.join(base, "bin", "rec-agent")
  fs.mkdirSync(path.dirname(agent))
  fs.writeFileSync(agent, agentSource.replace("#!/usr/bin/env node", `#!${process.execPath}`), { mode: 0o755 })
  const data = path.join(base, "data")
  const out = path.join(base, "rec.jsonl")
  const env: Record<string, string> = { ...repo.env, PARALLEL_CC_DATA_DIR: data, PARALLEL_CC_AGENT: agent, REC_OUT: out, ...extra }
  const records = () =>
    fs.existsSync(out) ? fs.readFileSync(out, "utf8").trim().split("\n").filter((l) => l !== "").map((l) => JSON.parse(l)) : []
  return { base, repo, data, env, out, records, wtRoot: `${repo.root}-worktrees` }
}
type World = ReturnType<typeof world>

const wrap = (w: World, args: ReadonlyArray<string>, options: { cwd?: string; env?: Record<string, string> } = {}) => {
  const child = spawn(process.execPath, [Cli.wrapperPath, ...args], {
    cwd: options.cwd ?? w.repo.root,
    env: { ...w.env, ...options.env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  children.push(child)
  let stdout = ""
  let stderr = ""
  child.stdout!.setEncoding("utf8").on("data", (d) => (stdout += d))
  child.stderr!.setEncoding("utf8").on("data", (d) => (stderr += d))
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on("close", (code) => resolve({ code, stdout, stderr }))
  )
}

const cli = (w: World, args: ReadonlyArray<string>) => Cli.runSync(args, { env: w.env, cwd: w.repo.root })
const statusJson = (w: World) => Cli.json(cli(w, ["status", "--json"]))
const branches = (repo: TempRepo.TempRepo) =>
  repo.git(["for-each-ref", "--format=%(refname:short)", "refs/heads/"]).trim().split("\n").filter((b) => b !== "")
const worktrees = (repo: TempRepo.TempRepo) => repo.git(["worktree", "list", "--porcelain"])

const until = async <A>(what: string, f: () => A | undefined, timeoutMs = 30_000): Promise<A> => {
  const end = Date.now() + timeoutMs
  for (;;) {
    const v = f()
    if (v !== undefined) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** A session that holds the repository until `release()`. */
const holdRepository = async (w: World) => {
  const gate = path.join(w.base, "release-holder")
  const done = wrap(w, [], { env: { REC_HOLD: gate, REC_OUT: path.join(w.base, "holder.jsonl") } })
  await until("the holder's session", () => (statusJson(w).sessions.length === 1 ? true : undefined))
  return { release: async () => (fs.writeFileSync(gate, ""), await done) }
}

describe("claude-parallel: invocations that are not sessions run directly", () => {
  it("a configured pass-through subcommand or flag while another session holds the repo: no session, worktree or branch; the agent's own output and exit code", async () => {
    const w = world({ PARALLEL_CC_AGENTS_PASS_THROUGH: JSON.stringify({ "rec-agent": { subcommands: ["info"], flags: ["--version"], options: { "--model": "value" } } }) })
    const holder = await holdRepository(w)
    const before = { st: statusJson(w).sessions.map((s: any) => s.sessionId), wt: worktrees(w.repo), br: branches(w.repo) }
    for (const args of [["info", "--all"], ["--version"], ["--model", "x", "info"]]) {
      const r = await wrap(w, args, { env: { REC_EXIT: "7" } })
      assert.strictEqual(r.code, 7, r.stderr)
      assert.strictEqual(r.stdout, "rec-agent ran\n")
      assert.strictEqual(r.stderr, "")
    }
    assert.deepStrictEqual(w.records().map((x) => [x.argv, x.session, x.cwd]), [
      [["info", "--all"], null, w.repo.root],
      [["--version"], null, w.repo.root],
      [["--model", "x", "info"], null, w.repo.root]
    ])
    assert.deepStrictEqual({ st: statusJson(w).sessions.map((s: any) => s.sessionId), wt: worktrees(w.repo), br: branches(w.repo) }, before)
    // Anything else is a session (the repository is held: a worktree); a value of a known option is not a
    // subcommand.
    const r = await wrap(w, ["--model", "info", "-p", "hello"])
    assert.strictEqual(r.code, 0, r.stderr)
    assert.notStrictEqual(w.records().at(-1).session, null)
    await holder.release()
  })
})

describe("claude-parallel: --name, --base, --worktree, --no-worktree, worktree.always", () => {
  it("--name NAME --base REF: a named worktree from REF; parallel-cc's flags after -- go to the agent", async () => {
    const w = world()
    const r = await wrap(w, ["--name", "checkout-flow", "--base", "old", "--", "--name", "display", "-p", "hi"], {
      env: { REC_WRITE: "wip.txt" }
    })
    assert.strictEqual(r.code, 0, r.stderr)
    const rec = w.records()[0]
    assert.deepStrictEqual(rec.argv, ["--name", "display", "-p", "hi"])
    assert.strictEqual(rec.cwd, path.join(w.wtRoot, "checkout-flow"))
    assert.isFalse(fs.existsSync(path.join(rec.cwd, "later.txt")), "started from old, not from HEAD")
    assert.include(r.stderr, "(checkout-flow): working in the worktree")
    assert.include(r.stderr, "branch parallel/checkout-flow")
    // Its uncommitted file keeps the worktree, and the exit message names the command that re-enters it.
    assert.include(r.stderr, "claude-parallel --session checkout-flow")
    const kept = statusJson(w).kept
    assert.deepStrictEqual(kept.map((k: any) => [k.name, k.branch]), [["checkout-flow", "parallel/checkout-flow"]])
    const human = cli(w, ["status"]).stdout
    assert.include(human, "claude-parallel --session checkout-flow")
    // Taken while kept.
    const again = await wrap(w, ["--name", "checkout-flow"])
    assert.strictEqual(again.code, 1)
    assert.include(again.stderr, "is taken")
  })

  it("worktree.always puts even the first session in a worktree; --no-worktree keeps one in the repository", async () => {
    const w = world({ PARALLEL_CC_WORKTREE_ALWAYS: "true" })
    assert.strictEqual((await wrap(w, ["-p", "a"])).code, 0)
    assert.match(w.records()[0].cwd, new RegExp(`^${w.wtRoot}/parallel-`))
    assert.strictEqual((await wrap(w, ["--no-worktree", "-p", "b"])).code, 0)
    assert.strictEqual(w.records()[1].cwd, w.repo.root)
    assert.deepStrictEqual(w.records()[1].argv, ["-p", "b"])
    const w2 = world()
    assert.strictEqual((await wrap(w2, ["--worktree", "-p", "c"])).code, 0)
    assert.match(w2.records()[0].cwd, new RegExp(`^${w2.wtRoot}/parallel-`))
    const bad = await wrap(w2, ["--no-worktree", "--name", "x"])
    assert.strictEqual(bad.code, 2)
    assert.deepStrictEqual(w2.records().length, 1)
  })
})

describe("claude-parallel --session: re-entering a kept worktree", () => {
  it("re-registers the same session and runs the agent in its worktree, with the agent's arguments", async () => {
    const w = world()
    await wrap(w, ["--name", "feat-x"], { env: { REC_WRITE: "wip.txt" } })
    const first = w.records()[0]
    const r = await wrap(w, ["--session", "feat-x", "--resume", "abc"], { env: { REC_WRITE: "more.txt" } })
    assert.strictEqual(r.code, 0, r.stderr)
    const second = w.records()[1]
    assert.strictEqual(second.session, first.session)
    assert.strictEqual(second.cwd, first.cwd)
    assert.deepStrictEqual(second.argv, ["--resume", "abc"])
    assert.include(r.stderr, "back in its worktree")
    assert.isTrue(fs.existsSync(path.join(first.cwd, "wip.txt")) && fs.existsSync(path.join(first.cwd, "more.txt")))
    assert.include(r.stderr, "claude-parallel --session feat-x")
    // From outside the repository too, by id.
    const elsewhere = await wrap(w, ["--session", first.session], { cwd: w.base })
    assert.strictEqual(elsewhere.code, 0, elsewhere.stderr)
    assert.strictEqual(w.records()[2].cwd, first.cwd)
    const unknown = await wrap(w, ["--session", "nope"])
    assert.strictEqual(unknown.code, 1)
    assert.include(unknown.stderr, "no session has the id, name or branch")
  })
})

describe("status: the command that goes on in a kept worktree fits the agent the session ran", () => {
  it("Claude Code --continue, Codex resume --last, Gemini --resume latest, another agent no resume flag; fast path and service alike", async () => {
    const w = world()
    const named = (name: string) => {
      const file = path.join(w.base, name, name)
      fs.mkdirSync(path.dirname(file))
      fs.copyFileSync(w.env.PARALLEL_CC_AGENT!, file)
      fs.chmodSync(file, 0o755)
      return file
    }
    const agents = { claude: named("claude"), codex: named("codex"), gemini: named("gemini"), custom: w.env.PARALLEL_CC_AGENT! }
    for (const [name, agent] of Object.entries(agents)) {
      const r = await wrap(w, ["--name", `${name}-x`], { env: { PARALLEL_CC_AGENT: agent, REC_WRITE: "wip.txt" } })
      assert.strictEqual(r.code, 0, r.stderr)
    }
    const fast = cli(w, ["status"])
    const service = Cli.runSync(["status"], { env: { ...w.env, PARALLEL_CC_NO_FAST_PATH: "1" }, cwd: w.repo.root })
    // The same text but for the ENDED ages (the two commands run a moment apart).
    const cells = (t: string) => t.split("\n").map((l) => l.split(/ {2,}/).filter((c) => !/ ago$/.test(c)).join("|"))
    assert.deepStrictEqual(cells(service.stdout), cells(fast.stdout))
    const line = (name: string) => fast.stdout.split("\n").find((l) => l.includes(`(${name}-x)`)) ?? ""
    assert.include(line("claude"), "claude-parallel --session claude-x --continue")
    assert.notInclude(line("claude"), "PARALLEL_CC_AGENT")
    assert.include(line("codex"), `PARALLEL_CC_AGENT=${agents.codex} claude-parallel --session codex-x resume --last`)
    assert.include(line("gemini"), `PARALLEL_CC_AGENT=${agents.gemini} claude-parallel --session gemini-x --resume latest`)
    assert.include(line("custom"), `PARALLEL_CC_AGENT=${agents.custom} claude-parallel --session custom-x `)
    assert.notInclude(line("custom"), "--continue")
    assert.deepStrictEqual(
      statusJson(w).kept.map((k: any) => [k.name, k.agent]),
      [["claude-x", agents.claude], ["codex-x", agents.codex], ["gemini-x", agents.gemini], ["custom-x", agents.custom]]
    )
    // The suggested command goes on: with Codex, in its worktree, with its resume arguments.
    const again = await wrap(w, ["--session", "codex-x", "resume", "--last"], { env: { PARALLEL_CC_AGENT: agents.codex } })
    assert.strictEqual(again.code, 0, again.stderr)
    assert.deepStrictEqual(w.records().at(-1).argv, ["resume", "--last"])
    assert.strictEqual(w.records().at(-1).cwd, path.join(w.wtRoot, "codex-x"))
  })
})

describe("claude-parallel: setup output and failures; outside a repository", () => {
  it("setup output is streamed with a prefix; a failing setup stops with its output and exit code, no agent, nothing left", async () => {
    const script = "console.log('installing deps'); console.error('boom'); process.exit(3)"
    const w = world({ PARALLEL_CC_WORKTREE_SETUP: JSON.stringify([[process.execPath, "-e", script]]) })
    const r = await wrap(w, ["--worktree", "-p", "x"])
    assert.strictEqual(r.code, 1)
    assert.include(r.stderr, "setup│ installing deps")
    assert.include(r.stderr, "setup│ boom")
    assert.include(r.stderr, "exited with code 3")
    assert.include(r.stderr, "the agent was not started")
    assert.deepStrictEqual(w.records(), [])
    assert.deepStrictEqual(branches(w.repo), ["main", "old"])
    assert.isFalse(fs.existsSync(w.wtRoot))
    const ok = world({ PARALLEL_CC_WORKTREE_SETUP: JSON.stringify([[process.execPath, "-e", "console.log('ready')"]]) })
    const r2 = await wrap(ok, ["--worktree"])
    assert.strictEqual(r2.code, 0, r2.stderr)
    assert.include(r2.stderr, "setup│ ready")
    assert.strictEqual(ok.records().length, 1)
  })

  it("outside a git repository: a one-line note and the agent as it is; --require-repo refuses", async () => {
    const w = world()
    const plain = path.join(w.base, "plain")
    fs.mkdirSync(plain)
    const r = await wrap(w, ["-p", "x"], { cwd: plain, env: { REC_EXIT: "4" } })
    assert.strictEqual(r.code, 4)
    assert.strictEqual(r.stderr.trim().split("\n").length, 1)
    assert.include(r.stderr, "not inside a git repository")
    assert.include(r.stderr, "--require-repo")
    const refused = await wrap(w, ["--require-repo", "-p", "x"], { cwd: plain })
    assert.strictEqual(refused.code, 1)
    assert.strictEqual(w.records().length, 1)
  })
})
