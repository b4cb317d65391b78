import { AnthropicApiDouble, Bubblewrap, Cli } from "@parallel-cc/testkit"
import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "vitest"
import { barrier, dbRows, keepTranscript, world, type World } from "./support.js"

const { Reply } = AnthropicApiDouble
const marker = AnthropicApiDouble.AnthropicApiDouble.marker

const cwdOf = AnthropicApiDouble.workingDirectoryOf

/**
 * The sandboxed agent gets a minimal environment (credentials, ANTHROPIC_BASE_URL, PATH, HOME…); the
 * switches that keep Claude Code offline and quick to give up on errors are passed with sandbox.passEnv.
 */
const sandboxEnv = (w: World, extra: Record<string, string> = {}) => ({
  ...w.env,
  PARALLEL_CC_SANDBOX_PASS_ENV: JSON.stringify([
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC",
    "DISABLE_TELEMETRY",
    "DISABLE_ERROR_REPORTING",
    "DISABLE_AUTOUPDATER",
    "CLAUDE_CODE_MAX_RETRIES"
  ]),
  ...extra
})

const sandboxRun = (w: World, prompt: string, extra: Record<string, string> = {}, args: Array<string> = []) =>
  Cli.run(["sandbox", "run", "--repo", w.repo.root, "--provider", "local", "--agent", "claude", "--prompt", prompt, "--json", ...args], {
    cwd: w.repo.root,
    env: sandboxEnv(w, extra),
    timeoutMs: 150_000
  })

/** The sandbox directories the local provider created for this world's runs that still exist. */
const leftoverSandboxes = (runs: Array<Record<string, any>>) => runs.map((r) => r.sandbox_id).filter((id) => id && fs.existsSync(id))

describe("sandbox run --provider local --agent claude", () => {
  for (const isolation of ["auto", "process"] as const) {
    it(`isolation ${isolation}: stream-json decoded into the log, turns and cost recorded, the edits land in the review worktree`, async () => {
      const w = await world({ files: { "README.md": "# demo\n", "src/app.ts": "export const a = 1\n" } })
      w.api.script("sbx", [
        Reply.dynamic((req) => Reply.write(`${cwdOf(req)}/src/feature.ts`, "export const feature = true\n")),
        Reply.dynamic((req) => Reply.read(`${cwdOf(req)}/README.md`)),
        Reply.dynamic((req) => Reply.edit(`${cwdOf(req)}/README.md`, "# demo", "# demo\n\nWith a feature.")),
        Reply.text("Added the feature and documented it.")
      ])
      const r = await sandboxRun(w, `add a feature ${marker("sbx")}`, { PARALLEL_CC_SANDBOX_LOCAL_ISOLATION: isolation })
      assert.strictEqual(r.code, 0, r.stderr + r.stdout)
      assert.deepStrictEqual(w.api.failures, [])
      const out = Cli.json(r)
      // auto takes bubblewrap wherever it works (the testkit asks the way the provider does).
      assert.strictEqual(out.isolation.kind, isolation === "auto" && Bubblewrap.works ? "bwrap" : "process", Bubblewrap.available.reason)
      // The agent really worked in the sandbox's copy, not in the repository.
      const cwd = cwdOf(w.api.turns("sbx")[0]!)
      assert.notStrictEqual(cwd, w.repo.root)
      assert.deepInclude(out.run, { status: "succeeded", resultSubtype: "success", isError: false, numTurns: 4, sandboxState: "killed" })
      assert.isAbove(out.run.costUsd, 0)
      assert.deepStrictEqual(out.changes, { added: ["src/feature.ts"], modified: ["README.md"], deleted: [] })
      // Each tool call's result went back to the API: the agent's tools ran.
      assert.deepStrictEqual(w.api.toolResults("sbx").map((t) => t.is_error ?? false), [false, false, false])
      // The review worktree holds the edits, uncommitted; the repository itself is untouched.
      const wt = out.worktreePath as string
      assert.strictEqual(fs.readFileSync(path.join(wt, "src/feature.ts"), "utf8"), "export const feature = true\n")
      assert.strictEqual(fs.readFileSync(path.join(wt, "README.md"), "utf8"), "# demo\n\nWith a feature.\n")
      assert.deepStrictEqual(w.repo.git(["status", "--porcelain"], wt).split("\n").filter(Boolean).sort(), [" M README.md", "?? src/feature.ts"])
      assert.isFalse(fs.existsSync(path.join(w.repo.root, "src/feature.ts")))
      // The DB row: turns, cost, result; the log decoded from stream-json names the tool calls.
      const [row] = dbRows(w, "SELECT status, num_turns, cost_usd, result_subtype, is_error, error FROM sandbox_runs WHERE session_id = ?", out.run.sessionId)
      assert.deepInclude(row, { status: "succeeded", num_turns: 4, result_subtype: "success", is_error: 0, error: null })
      assert.strictEqual(row!.cost_usd, out.run.costUsd)
      const log = fs.readFileSync(out.run.logPath, "utf8")
      keepTranscript(`sandbox-${isolation}-log`, log)
      for (const tool of ["Write", "Read", "Edit"]) assert.match(log, new RegExp(`agent: tool ${tool}: `))
      assert.match(log, /agent: session started \(model [^,]+, permissions \w+\)/)
      assert.match(log, /agent: result: ok · success · 4 turns · \$0\.\d{4}/)
      const events = fs.readFileSync(out.run.eventsPath, "utf8").trim().split("\n").map((l) => JSON.parse(l))
      assert.ok(events.find((e) => e.type === "system" && e.subtype === "init"))
      assert.strictEqual(events.filter((e) => e.type === "result").length, 1)
      assert.deepStrictEqual(leftoverSandboxes(dbRows(w, "SELECT sandbox_id FROM sandbox_runs")), [])
    })
  }

  for (const [status, pattern] of [[401, /Invalid API key/], [529, /529 Overloaded/]] as const) {
    it(`API answers ${status}: the run fails with the agent's error in our output and the DB; no session or sandbox left`, async () => {
      const w = await world({ api: { script: [Reply.error(status)] }, maxRetries: 1 })
      const r = await sandboxRun(w, "do something")
      assert.strictEqual(r.code, 1, r.stderr + r.stdout)
      const out = Cli.json(r)
      assert.deepInclude(out.run, { status: "failed", isError: true, sandboxState: "killed" })
      assert.match(out.run.error, pattern)
      assert.match(r.stderr, pattern)
      const [row] = dbRows(w, "SELECT status, is_error, error, sandbox_id FROM sandbox_runs")
      assert.strictEqual(row?.status, "failed")
      assert.match(row?.error, pattern)
      assert.deepStrictEqual(dbRows(w, "SELECT id FROM sessions WHERE status = 'active'"), [])
      assert.deepStrictEqual(leftoverSandboxes([row!]), [])
    })
  }

  it("the agent killed mid-turn: the run ends failed, what it wrote so far lands in the worktree, no session or sandbox left", async () => {
    const w = await world()
    w.api.script("killed", [
      Reply.dynamic((req) => Reply.write(`${cwdOf(req)}/wip.txt`, "half done\n")),
      Reply.hang()
    ])
    const pending = w.api.waitFor((r) => r.script === "killed" && r.turn === 1)
    const run = sandboxRun(w, `work ${marker("killed")}`)
    await pending
    const [live] = dbRows(w, "SELECT agent_pid, status FROM sandbox_runs")
    assert.strictEqual(live?.status, "running")
    process.kill(live!.agent_pid, "SIGKILL")
    const r = await run
    assert.strictEqual(r.code, 1, r.stderr + r.stdout)
    const out = Cli.json(r)
    assert.deepInclude(out.run, { status: "failed", sandboxState: "killed" })
    assert.isString(out.run.error)
    assert.deepStrictEqual(out.changes.added, ["wip.txt"])
    assert.strictEqual(fs.readFileSync(path.join(out.worktreePath, "wip.txt"), "utf8"), "half done\n")
    assert.deepStrictEqual(dbRows(w, "SELECT id FROM sessions WHERE status = 'active'"), [])
    assert.deepStrictEqual(leftoverSandboxes(dbRows(w, "SELECT sandbox_id FROM sandbox_runs")), [])
  })
  it("--multi with three tasks: the three Claude Codes run at once, each task's edits in its own worktree, turns and cost per task and in total", async () => {
    const w = await world({ files: { "README.md": "# demo\n" } })
    const ids = ["api", "docs", "tests"]
    // Each agent's first request waits until all three have arrived: proof that they run at the same time.
    const arrive = barrier(3, 120_000)
    for (const id of ids) {
      w.api.script(id, [
        Reply.dynamic(async (req) => {
          await arrive()
          return Reply.write(`${cwdOf(req)}/${id}.txt`, `${id} done\n`)
        }),
        Reply.text(`Wrote ${id}.txt.`)
      ])
    }
    const taskFile = path.join(w.repo.home, "tasks.json")
    fs.writeFileSync(taskFile, JSON.stringify(ids.map((id) => ({ id, prompt: `task ${id} ${marker(id)}` }))))
    const out = path.join(w.repo.home, "results")
    const r = await Cli.run(
      ["sandbox", "run", "--multi", "--repo", w.repo.root, "--provider", "local", "--agent", "claude", "--task-file", taskFile, "--max-concurrent", "3", "--output-dir", out, "--json"],
      { cwd: w.repo.root, env: sandboxEnv(w), timeoutMs: 240_000 }
    )
    assert.strictEqual(r.code, 0, r.stderr + r.stdout)
    assert.deepStrictEqual(w.api.failures, [])
    const events = r.stdout.trim().split("\n").map((l) => JSON.parse(l))
    keepTranscript("multi-events", r.stdout)
    assert.strictEqual(events[0].event, "RunStarted")
    const summary = events.at(-1).summary
    assert.strictEqual(events.at(-1).event, "RunFinished")
    assert.deepStrictEqual(summary, JSON.parse(fs.readFileSync(path.join(out, "summary.json"), "utf8")))
    assert.strictEqual(summary.status, "succeeded")
    assert.deepStrictEqual(summary.tasks.map((t: any) => [t.id, t.status]), ids.map((id) => [id, "succeeded"]))
    let total = 0
    for (const t of summary.tasks) {
      assert.strictEqual(t.turns, 2)
      assert.isAbove(t.costUsd, 0)
      total += t.costUsd
      assert.deepStrictEqual(t.changes.added, [`${t.id}.txt`])
      // The edit of each real agent is in its task's own worktree, and the patch is saved.
      assert.strictEqual(fs.readFileSync(path.join(t.worktreePath, `${t.id}.txt`), "utf8"), `${t.id} done\n`)
      assert.include(fs.readFileSync(path.join(out, t.resultDir, t.patch), "utf8"), `+${t.id} done`)
    }
    assert.closeTo(summary.totals.costUsd, total, 1e-9)
    assert.strictEqual(new Set(summary.tasks.map((t: any) => t.worktreePath)).size, 3)
    // None of the agents worked in the repository; each had a sandbox of its own.
    for (const id of ids) assert.notStrictEqual(cwdOf(w.api.turns(id)[0]!), w.repo.root)
    // The DB: three runs with turns and cost; nothing left running, no sandbox left on disk.
    const rows = dbRows(w, "SELECT status, num_turns, cost_usd, sandbox_id FROM sandbox_runs")
    assert.strictEqual(new Set(rows.map((x) => x.sandbox_id)).size, 3)
    assert.deepStrictEqual(rows.map((x) => [x.status, x.num_turns]), [["succeeded", 2], ["succeeded", 2], ["succeeded", 2]])
    assert.deepStrictEqual(dbRows(w, "SELECT id FROM sessions WHERE status = 'active'"), [])
    assert.deepStrictEqual(leftoverSandboxes(rows), [])
    assert.strictEqual(w.repo.git(["status", "--porcelain"]), "")
  })
})
