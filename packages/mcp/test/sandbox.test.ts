import { Cli, ScriptedAgent, TempDir } from "@parallel-cc/testkit"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, assert, describe, it } from "vitest"
import { world, type World } from "./harness.js"

const worlds: Array<World> = []
const stops: Array<() => void> = []
afterEach(async () => {
  for (const s of stops.splice(0)) s()
  for (const w of worlds.splice(0)) await w.dispose()
})

/** A world whose sandboxed runs use the local provider (plain process) and the scripted agent. */
const sandboxWorld = () => {
  const w = world({ files: { "README.md": "# shop\n", "src/app.ts": "export const app = 1\n" } })
  worlds.push(w)
  const sandboxes = path.join(w.dataDir, "..", "sandboxes")
  fs.mkdirSync(sandboxes, { recursive: true })
  const settings = { PARALLEL_CC_SANDBOX_LOCAL_ROOT: sandboxes, PARALLEL_CC_SANDBOX_LOCAL_ISOLATION: "process" }
  const env = { ...w.env, ...settings }
  const runArgs = (prompt: string) => ["sandbox", "run", "--repo", w.repo.root, "--agent", ScriptedAgent.path, "--provider", "local", "--prompt", prompt, "--json"]
  return { w, env, settings, runArgs }
}

const until = async <A>(what: string, probe: () => Promise<A | undefined>, timeoutMs = 90_000): Promise<A> => {
  const start = Date.now()
  for (;;) {
    const v = await probe()
    if (v !== undefined) return v
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 300))
  }
}

describe("sandboxed run tools", () => {
  it("get_sandbox_runs / get_sandbox_run_status for a finished run and for a live one seen from inside", async () => {
    const { env, runArgs, settings, w } = sandboxWorld()
    const script = { actions: [{ write: "src/health.ts", content: "export const health = () => 'ok'\n" }, { say: "Added a health check." }], cost: 0.0123 }
    // The script travels in the prompt: a sandbox does not inherit the host's environment.
    const done = Cli.runSync(runArgs(ScriptedAgent.prompt("add a health check", script)), { env, cwd: w.repo.root, timeoutMs: 120_000 })
    assert.strictEqual(done.code, 0, done.stderr)
    const finished = Cli.json(done).run

    const server = await w.connect(w.repo.root, settings)
    const listed = await server.ok("get_sandbox_runs")
    assert.strictEqual(listed.repoPath, w.repo.root)
    assert.deepStrictEqual(listed.runs.map((r: any) => [r.sessionId, r.status, r.provider, r.costUsd, r.filesAdded]), [
      [finished.sessionId, "succeeded", "local", 0.0123, 1]
    ])
    const status = await server.ok("get_sandbox_run_status", { sessionId: finished.sessionId, logLines: 50 })
    assert.deepInclude(status.run, { sessionId: finished.sessionId, status: "succeeded", sandboxState: "killed" })
    assert.include(status.run.prompt, "add a health check")
    assert.strictEqual(status.sandbox, "gone")
    assert.isFalse(status.supervisorAlive)
    assert.isTrue(status.log.some((l: string) => l.includes("Added a health check.")), status.log.join("\n"))
    assert.lengthOf((await server.ok("get_sandbox_run_status", { sessionId: finished.sessionId, logLines: 0 })).log, 0)

    // A run in progress, asked about by the agent inside it (the run's id is its PARALLEL_CC_SESSION_ID).
    const child = spawn(process.execPath, [Cli.binPath, ...runArgs(ScriptedAgent.prompt("wait", { actions: [{ say: "working" }, { hang: true }] }))], {
      env,
      cwd: w.repo.root,
      stdio: ["ignore", "pipe", "pipe"]
    })
    stops.push(() => child.kill("SIGKILL"))
    const exited = new Promise((r) => child.once("exit", r))
    const liveRun = await until("a running run", async () => {
      const r = await server.ok("get_sandbox_runs", { liveOnly: true })
      return r.runs.find((x: any) => x.status === "running")
    })
    const inside = await w.connect(w.repo.root, { ...settings, PARALLEL_CC_SESSION_ID: liveRun.sessionId })
    const mine = await inside.ok("get_sandbox_run_status")
    assert.strictEqual(mine.run.sessionId, liveRun.sessionId)
    assert.strictEqual(mine.run.status, "running")
    assert.isTrue(mine.supervisorAlive)
    assert.strictEqual(mine.sandbox, "running")

    const killed = w.cli(["sandbox", "kill", "--session-id", liveRun.sessionId, "--json"])
    assert.strictEqual(killed.code, 0, killed.stderr)
    await exited
    const after = await inside.ok("get_sandbox_run_status")
    assert.strictEqual(after.run.status, "killed")
    assert.strictEqual((await server.ok("get_sandbox_runs", { liveOnly: true })).total, 0)
    assert.strictEqual((await server.ok("get_sandbox_runs", { allRepos: true, limit: 1 })).total, 1)
  })

  it("bad inputs are tool errors", async () => {
    const { w } = sandboxWorld()
    w.register()
    const server = await w.connect(w.repo.root)
    const invalid = async (name: string, args: Record<string, unknown>) =>
      assert.include((await server.fails(name, args)).text, "Input validation error", `${name} ${JSON.stringify(args)}`)
    await invalid("get_sandbox_runs", { limit: 0 })
    await invalid("get_sandbox_runs", { limit: 201 })
    await invalid("get_sandbox_runs", { liveOnly: 1 })
    await invalid("get_sandbox_run_status", { logLines: -1 })
    await invalid("get_sandbox_run_status", { logLines: 501 })
    await invalid("get_sandbox_run_status", { sessionId: "" })
    assert.strictEqual((await server.fails("get_sandbox_run_status", { sessionId: "NOT AN ID" }))._tag, "InvalidInput")
    assert.strictEqual((await server.fails("get_sandbox_run_status", { sessionId: "zzzzzzzzzz" }))._tag, "SandboxRunNotFound")
    // The main session is not a sandboxed run.
    assert.strictEqual((await server.fails("get_sandbox_run_status"))._tag, "SandboxRunNotFound")
    assert.strictEqual((await server.fails("get_sandbox_runs", { repo: "/no/such/dir" }))._tag, "InvalidInput")
    const outside = TempDir.makeSync()
    try {
      const anon = await w.connect(outside)
      assert.strictEqual((await anon.fails("get_sandbox_run_status"))._tag, "NoCallingSession")
      assert.strictEqual((await anon.ok("get_sandbox_runs")).repoPath, null)
    } finally {
      TempDir.removeSync(outside)
    }
  })
})
