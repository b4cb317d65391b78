/**
 * `parallel-cc sandbox run --multi` end to end: the built CLI as real processes, real repositories, the local
 * provider (plain process) and the scripted agent; for --git-live a local bare repository as the remote and
 * the testkit's double of the GitHub CLI on PATH.
 */
import { Cli, GhDouble, ScriptedAgent, TempDir, TempRepo } from "@parallel-cc/testkit"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, assert, describe, it } from "vitest"

const dirs: Array<string> = []
const children: Array<ChildProcess> = []
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill("SIGKILL")
  for (const d of dirs.splice(0)) TempDir.removeSync(d)
})

interface Env {
  readonly base: string
  readonly repo: TempRepo.TempRepo
  readonly sandboxes: string
  readonly data: string
  readonly env: Record<string, string>
}

const setup = (extra: Record<string, string> = {}): Env => {
  const base = TempDir.makeSync("pcc-multi-test-")
  dirs.push(base)
  const repo = TempRepo.makeSync(base, { files: { "README.md": "# shop\n", "src/app.ts": "export const app = 1\n" } })
  const sandboxes = path.join(base, "sandboxes")
  fs.mkdirSync(sandboxes)
  const data = path.join(base, "data")
  return {
    base,
    repo,
    sandboxes,
    data,
    env: {
      ...repo.env,
      PARALLEL_CC_DATA_DIR: data,
      PARALLEL_CC_SANDBOX_LOCAL_ROOT: sandboxes,
      PARALLEL_CC_SANDBOX_LOCAL_ISOLATION: "process",
      PARALLEL_CC_AGENT: ScriptedAgent.path,
      ...extra
    }
  }
}

const prompt = (text: string, script: ScriptedAgent.Script) => ScriptedAgent.prompt(text, script)

const multi = (e: Env, args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  Cli.runSync(["sandbox", "run", "--multi", ...args], { env: { ...e.env, ...env }, cwd: e.repo.root, timeoutMs: 120_000 })

const waitFor = async <A>(what: string, f: () => A | undefined, timeoutMs = 60_000): Promise<A> => {
  const until = Date.now() + timeoutMs
  for (;;) {
    const v = f()
    if (v !== undefined) return v
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

describe("sandbox run --multi", { timeout: 120_000 }, () => {
  it("runs a task file with at most N at once: plain progress lines, a summary, per-task results ready for review", () => {
    const e = setup()
    fs.writeFileSync(path.join(e.repo.root, "tasks.txt"), [
      "# the tasks",
      prompt("Add a health check", { actions: [{ sleep: 300 }, { write: "src/health.ts", content: "export const health = () => \"ok\"\n" }], cost: 0.01 }),
      "",
      prompt("Document it", { actions: [{ edit: "README.md", find: "# shop", replace: "# shop\n\nGET /health" }], cost: 0.02 }),
      prompt("Break things", { actions: [{ fail: "no such module" }] })
    ].join("\n"))
    const out = path.join(e.base, "results")
    const r = multi(e, ["--task-file", "tasks.txt", "--max-concurrent", "2", "--output-dir", out])
    assert.strictEqual(r.code, 1, r.stderr)
    // Off a terminal: one plain line per state change.
    const lines = r.stderr.split("\n")
    assert.match(lines[0]!, /parallel run \w+: 3 tasks, at most 2 at once; results in .*results$/)
    assert.isTrue(lines.some((l) => /task-1 started$/.test(l)))
    assert.isTrue(lines.some((l) => /task-1 succeeded in [\d.]+s, \$0\.0100, 1 file changed$/.test(l)))
    assert.isTrue(lines.some((l) => /task-3 failed in .*: the agent reported an error \(error_during_execution: no such module\)/.test(l)))
    assert.notMatch(r.stderr, /\x1b\[/)
    assert.match(r.stderr, /parallel-cc: error: 1 of 3 tasks did not succeed; see .*summary-report\.md/)
    // The summary on stdout.
    assert.match(r.stdout, /^Parallel run \w+: 3 tasks — 2 succeeded, 1 failed · \$0\.0300 · 2 files changed$/m, r.stdout)
    assert.match(r.stdout, /^task-3\s+FAILED\s/m, r.stdout)
    assert.match(r.stdout, /^Time saved: /m, r.stdout)
    // The two tasks that succeeded changed different files: they land together in any order.
    assert.match(r.stdout, /^Overlaps:\n {2}No two tasks changed the same file: their patches apply together\.\n {2}Land in this order: task-1, task-2 \(each lands clean\)\.$/m)
    assert.match(r.stdout, /^Run the rest again: parallel-cc sandbox run --multi --resume /m)
    // Results ready for review: the worktree holds the uncommitted change, the patch applies.
    const t1 = JSON.parse(fs.readFileSync(path.join(out, "task-1", "result.json"), "utf8"))
    assert.strictEqual(t1.status, "succeeded")
    assert.strictEqual(e.repo.git(["status", "--short"], t1.worktreePath).trim(), "?? src/health.ts")
    e.repo.git(["apply", "--check", path.join(out, "task-2", "changes.patch")])
    assert.isTrue(fs.existsSync(path.join(out, "summary-report.md")))
    // The repository itself is untouched.
    assert.strictEqual(e.repo.git(["status", "--short"]).trim(), "?? tasks.txt")
  })

  it("--json prints one JSON event per line; --task gives the tasks", () => {
    const e = setup()
    const r = multi(e, [
      "--task",
      prompt("one", { actions: [{ write: "one.txt", content: "1\n" }] }),
      "--task",
      prompt("two", { actions: [{ write: "two.txt", content: "2\n" }] }),
      "--json"
    ])
    assert.strictEqual(r.code, 0, r.stderr)
    const events = r.stdout.trim().split("\n").map((l) => JSON.parse(l))
    assert.strictEqual(events[0].event, "RunStarted")
    assert.strictEqual(events.at(-1).event, "RunFinished")
    assert.deepStrictEqual(events.at(-1).summary.tasks.map((t: { id: string; status: string }) => [t.id, t.status]), [["task-1", "succeeded"], ["task-2", "succeeded"]])
    assert.lengthOf(events.filter((x) => x.event === "TaskFinished"), 2)
    // The default output directory, kept out of git.
    assert.match(events[0].outputDir, new RegExp(`^${e.repo.root}/parallel-results/\\d{8}-\\d{6}$`))
    assert.strictEqual(e.repo.git(["status", "--short"]).trim(), "")
  })

  it("--max-concurrent 1: the next task prepares while the agent works and says it waits for a slot (plain lines and JSON)", () => {
    const e = setup()
    // task-1's agent goes on once task-2 has uploaded its files too (a second run log says so), then works a while.
    const uploadedTwice = `for i in $(seq 600); do [ "$(grep -ls '^.* uploaded ' '${e.data}'/sandboxes/*/run.log | wc -l)" -ge 2 ] && exit 0; sleep 0.05; done; exit 1`
    const tasks = [
      prompt("first", { actions: [{ run: ["sh", "-c", uploadedTwice] }, { sleep: 1000 }, { write: "one.txt", content: "1\n" }] }),
      prompt("second", { actions: [{ write: "two.txt", content: "2\n" }] })
    ]
    const plain = multi(e, ["--task", tasks[0]!, "--task", tasks[1]!, "--max-concurrent", "1", "--output-dir", path.join(e.base, "plain")])
    assert.strictEqual(plain.code, 0, plain.stderr)
    const lines = plain.stderr.split("\n")
    const ready = lines.findIndex((l) => /task-2 ready, waiting for an agent slot \(session \S+\)$/.test(l))
    const working = lines.findIndex((l) => /task-2 agent working/.test(l))
    assert.isAbove(ready, 0, plain.stderr)
    assert.isAbove(working, ready)
    assert.isBelow(lines.findIndex((l) => /task-1 succeeded/.test(l)), working + 2)
    assert.match(plain.stdout, /^Time saved: /m)

    const json = multi(e, ["--task", tasks[0]!, "--task", tasks[1]!, "--max-concurrent", "1", "--json", "--output-dir", path.join(e.base, "json")])
    assert.strictEqual(json.code, 0, json.stderr)
    const events = json.stdout.trim().split("\n").map((l) => JSON.parse(l))
    const phases = events.filter((x) => x.event === "TaskPhase" && x.taskId === "task-2").map((x) => x.phase)
    assert.isBelow(phases.indexOf("ready"), phases.indexOf("agent"))
    assert.isAtLeast(phases.indexOf("ready"), 0)
    const finished = events.find((x) => x.event === "TaskFinished" && x.taskId === "task-2")
    assert.isAbove(finished.waitedMs, 0)
    const t2 = events.at(-1).summary.tasks[1]
    assert.strictEqual(t2.durationMs + t2.waitedMs, Date.parse(t2.endedAt) - Date.parse(t2.startedAt))
  })

  it("refuses bad combinations and bad task files before anything starts", () => {
    const e = setup()
    const expect = (args: ReadonlyArray<string>, message: RegExp, multiFlag = true) => {
      const r = multiFlag ? multi(e, args) : Cli.runSync(["sandbox", "run", ...args], { env: e.env, cwd: e.repo.root })
      assert.strictEqual(r.code, 1, r.stderr)
      assert.match(r.stderr, message)
    }
    expect(["--task", "a", "--task-file", "x.txt"], /exactly one of --task \(repeatable\), --task-file FILE or --resume DIR/)
    expect(["--task", "a", "--prompt", "b"], /--prompt cannot be used with --multi/)
    expect(["--task", "a", "--branch", "fixed"], /--branch can only be auto/)
    expect(["--prompt", "a", "--max-concurrent", "2"], /--max-concurrent goes with --multi/, false)
    expect(["--prompt", "a", "--target-branch", "main"], /--target-branch goes with --git-live/, false)
    fs.writeFileSync(path.join(e.repo.root, "cycle.yaml"), "- {id: a, prompt: p, dependsOn: b}\n- {id: b, prompt: q, dependsOn: a}\n")
    expect(["--task-file", "cycle.yaml"], /cycle\.yaml: the dependencies form a cycle: a → b → a/)
    fs.writeFileSync(path.join(e.repo.root, "big.txt"), "x\n".repeat(200_000))
    expect(["--task-file", "big.txt"], /big\.txt: the file is 391 KB; task files are limited to 256 KB/)
    expect(["--task", "a", "--max-concurrent", "0"], /--max-concurrent.*0 is not an integer from 1 to 64/)
    assert.isFalse(fs.existsSync(path.join(e.repo.root, "parallel-results")))
    assert.deepStrictEqual(fs.readdirSync(e.sandboxes), [])
  })

  it("Ctrl-C stops every task, removes the sandboxes and says where the partial results are; --resume finishes the rest", async () => {
    const e = setup()
    const out = path.join(e.base, "results")
    const started = path.join(e.base, "started")
    fs.mkdirSync(started)
    const child = spawn(process.execPath, [
      Cli.binPath,
      "sandbox",
      "run",
      "--multi",
      "--max-concurrent",
      "2",
      "--output-dir",
      out,
      "--task",
      prompt("first", { actions: [{ write: "first.txt", content: "partial\n" }, { run: ["touch", path.join(started, "1")] }, { hang: true }] }),
      "--task",
      prompt("second", { actions: [{ run: ["touch", path.join(started, "2")] }, { hang: true }] }),
      "--task",
      prompt("third", { actions: [{ write: "third.txt", content: "3\n" }] })
    ], { cwd: e.repo.root, env: { ...e.env }, stdio: ["ignore", "pipe", "pipe"] })
    children.push(child)
    let stderr = ""
    child.stderr!.setEncoding("utf8").on("data", (d) => (stderr += d))
    const done = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)))
    await waitFor("both agents to work", () => (fs.readdirSync(started).length === 2 ? true : undefined))
    child.kill("SIGINT")
    const code = await done
    assert.strictEqual(code, 130, stderr)
    assert.match(stderr, new RegExp(`Interrupted: .*partial results are in ${out} \\(summary-report\\.md\\)\\. Continue with: parallel-cc sandbox run --multi --resume ${out}`))
    const summary = JSON.parse(fs.readFileSync(path.join(out, "summary.json"), "utf8"))
    assert.deepStrictEqual(summary.tasks.map((t: { status: string }) => t.status), ["interrupted", "interrupted", "cancelled"])
    assert.strictEqual(fs.readFileSync(path.join(out, "task-1", "files", "first.txt"), "utf8"), "partial\n")
    assert.deepStrictEqual(fs.readdirSync(e.sandboxes), [])
    const runs: Array<{ sessionId: string; status: string; sandboxState: string }> = Cli.json(Cli.runSync(["sandbox", "list", "--json"], { env: e.env, cwd: e.repo.root })).runs
    // The two agents' runs, and the third task's if it was already preparing (it never got an agent slot;
    // Ctrl-C may have come before its sandbox was created).
    const agents = [summary.tasks[0].sessionId, summary.tasks[1].sessionId]
    assert.includeMembers(runs.map((r) => r.sessionId), agents)
    for (const r of runs) {
      assert.include(agents.includes(r.sessionId) ? ["interrupted/killed"] : ["interrupted/killed", "interrupted/none"], `${r.status}/${r.sandboxState}`)
    }

    // The hanging tasks would hang again: resume them with an agent that finishes.
    const finisher = path.join(e.base, "finisher.mjs")
    fs.writeFileSync(finisher, "#!/usr/bin/env node\nimport * as fs from \"node:fs\"\nfs.readFileSync(0)\nfs.writeFileSync(\"done.txt\", \"ok\\n\")\n")
    fs.chmodSync(finisher, 0o755)
    const resumed = multi(e, ["--resume", out, "--agent", finisher])
    assert.strictEqual(resumed.code, 0, resumed.stderr)
    const after = JSON.parse(fs.readFileSync(path.join(out, "summary.json"), "utf8"))
    assert.deepStrictEqual(after.tasks.map((t: { status: string }) => t.status), ["succeeded", "succeeded", "succeeded"])
    assert.lengthOf(after.runs, 2)
    assert.strictEqual(after.tasks[0].earlierAttempts[0].status, "interrupted")
  })
})

describe("--git-live", { timeout: 120_000 }, () => {
  const token = "ghp_double_secret_token_0123456789abcdef"

  const liveSetup = () => {
    const e = setup()
    const remote = path.join(e.base, "remote.git")
    e.repo.git(["init", "-q", "--bare", "-b", "main", remote], e.base)
    e.repo.git(["remote", "add", "origin", remote])
    e.repo.git(["push", "-q", "origin", "main"])
    const ghLog = path.join(e.base, "gh.log")
    const bin = GhDouble.install(path.join(e.base, "gh-bin"))
    return { e, remote, ghLog, env: { PATH: `${bin}:${e.env.PATH}`, GH_DOUBLE_LOG: ghLog, GH_TOKEN: token } }
  }

  /** Every file under `dir` whose content holds `text`. */
  const filesWith = (dir: string, text: string): Array<string> => {
    const hits: Array<string> = []
    const walk = (d: string) => {
      for (const name of fs.readdirSync(d)) {
        const p = path.join(d, name)
        const st = fs.lstatSync(p)
        if (st.isDirectory()) walk(p)
        else if (st.isFile() && fs.readFileSync(p).includes(text)) hits.push(p)
      }
    }
    walk(dir)
    return hits
  }

  it("each task commits on its branch, pushes it and opens a pull request with gh; the token never shows; other sessions are warned about", async () => {
    const { e, env, ghLog, remote } = liveSetup()
    // Another agent works in the repository meanwhile.
    const other = spawn("sleep", ["60"], { stdio: "ignore" })
    children.push(other)
    const reg = Cli.runSync(["register", "--repo", e.repo.root, "--pid", String(other.pid), "--json"], { env: e.env, cwd: e.repo.root })
    assert.strictEqual(reg.code, 0, reg.stderr)
    fs.writeFileSync(path.join(e.repo.root, "tasks.yaml"), [
      "tasks:",
      "  - id: health",
      `    prompt: '${prompt("Add a health check", { actions: [{ write: "src/health.ts", content: "export const ok = 1\n" }] })}'`,
      "    branch: feature/health",
      "  - id: docs",
      `    prompt: '${prompt("Document the health check", { actions: [{ edit: "README.md", find: "# shop", replace: "# shop (documented)" }] })}'`,
      "    dependsOn: [health]",
      ""
    ].join("\n"))
    const out = path.join(e.base, "results")
    const r = multi(e, ["--task-file", "tasks.yaml", "--git-live", "--target-branch", "main", "--output-dir", out], env)
    assert.strictEqual(r.code, 0, r.stderr)
    assert.match(r.stderr, /warning: 1 other session is active in this repository .*run without --git-live/)

    const summary = JSON.parse(fs.readFileSync(path.join(out, "summary.json"), "utf8"))
    const [health, docs] = summary.tasks
    assert.strictEqual(health.branch, "feature/health")
    assert.match(docs.branch, /^document-the-health-check-scripted-agent-actions-\d{8}-\d{6}$/)
    // Pushed to the remote, one commit each on top of main.
    for (const t of [health, docs]) {
      assert.strictEqual(e.repo.git(["--git-dir", remote, "rev-parse", `refs/heads/${t.branch}`]).trim(), t.commit)
      assert.strictEqual(e.repo.git(["--git-dir", remote, "rev-list", "--count", `main..${t.branch}`]).trim(), "1")
    }
    // gh was called with its real arguments, the body on stdin and the token in its environment only.
    const calls = GhDouble.calls(ghLog)
    assert.lengthOf(calls, 2)
    for (const [i, t] of [health, docs].entries()) {
      const c = calls[i]!
      assert.deepStrictEqual(c.argv.slice(0, 6), ["pr", "create", "--base", "main", "--head", t.branch])
      assert.deepStrictEqual(c.argv.slice(6, 7), ["--title"])
      assert.deepStrictEqual(c.argv.slice(8), ["--body-file", "-"])
      assert.isTrue(c.token)
      assert.strictEqual(c.exitCode, 0)
      assert.match(c.stdin, /parallel-cc sandbox \(session \w+\)/)
      assert.strictEqual(t.pullRequestUrl, `https://github.com/example/remote/pull/${i + 1}`)
    }
    assert.notInclude(JSON.stringify(calls), token)
    assert.notInclude(r.stdout + r.stderr, token)
    assert.deepStrictEqual(filesWith(e.data, token), [])
    assert.deepStrictEqual(filesWith(out, token), [])
    assert.match(r.stdout, /https:\/\/github\.com\/example\/remote\/pull\/1/)
  })
})
