/**
 * `parallel-cc ui` on a real terminal (tmux): three sessions with their agents' states and cost, updated
 * when one needs input and when one exits; off a terminal, the table when it changes. And the screen as a
 * pure function: 40 columns, no Unicode, NO_COLOR.
 */
import type { FleetView } from "@parallel-cc/core"
import { Cli, TempDir, TempRepo } from "@parallel-cc/testkit"
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, assert, describe, it } from "vitest"
import { render } from "../src/ui/render.js"

const dirs: Array<string> = []
const children: Array<ChildProcess> = []
afterEach(() => {
  for (const c of children.splice(0)) c.kill("SIGKILL")
  for (const d of dirs.splice(0)) TempDir.removeSync(d)
})

const hasTmux = spawnSync("tmux", ["-V"]).status === 0

const until = async (what: string, cond: () => boolean, show: () => string, timeoutMs = 60_000) => {
  const started = Date.now()
  while (!cond()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}; the screen:\n${show()}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

const world = () => {
  const base = TempDir.makeSync()
  dirs.push(base)
  const repo = TempRepo.makeSync(base, { files: { "README.md": "# r\n" } })
  const data = path.join(base, "data")
  const env: Record<string, string> = { ...repo.env, PARALLEL_CC_DATA_DIR: data, LANG: "C.UTF-8" }
  const register = (name: string) => {
    const agent = spawn("sleep", ["600"], { stdio: "ignore" })
    children.push(agent)
    const r = Cli.runSync(["register", "--repo", repo.root, "--pid", String(agent.pid), "--name", name, "--json"], { env, cwd: repo.root })
    assert.strictEqual(r.code, 0, r.stderr)
    const s = Cli.json(r) as { sessionId: string; worktreePath: string }
    return { ...s, agent, dir: path.join(data, "live", s.sessionId) }
  }
  return { base, repo, data, env, register }
}

/** One assistant message of a Claude Code transcript, with its usage. */
const assistantLine = (id: string, input: number, output: number) =>
  JSON.stringify({
    type: "assistant",
    timestamp: new Date(Date.now() + 1000).toISOString(),
    message: {
      id,
      role: "assistant",
      model: "claude-sonnet-4-5",
      content: [{ type: "text", text: "All tests pass now." }],
      usage: { input_tokens: input, output_tokens: output, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 }
    }
  }) + "\n"

describe("parallel-cc ui", () => {
  it.skipIf(!hasTmux)(`shows three sessions with their states and cost, and updates when one needs input and one exits (tmux)${hasTmux ? "" : " [skipped: tmux not installed]"}`, async () => {
    const w = world()
    const alpha = w.register("alpha")
    const beta = w.register("beta")
    const gamma = w.register("gamma")
    fs.writeFileSync(path.join(alpha.dir, "state"), "working\n")
    fs.writeFileSync(path.join(beta.dir, "state"), "idle\n")
    fs.writeFileSync(path.join(gamma.dir, "state"), "working\n")
    // alpha's transcript: $3 / $15 per million tokens → 100 000 in + 20 000 out = $0.60.
    const transcript = path.join(w.base, "alpha.jsonl")
    fs.writeFileSync(transcript, assistantLine("msg_1", 100_000, 20_000))
    fs.writeFileSync(path.join(alpha.dir, "transcript"), `${transcript}\n`)
    fs.writeFileSync(path.join(beta.worktreePath, "b.txt"), "new\n")

    const socket = `pcc-ui-${process.pid}`
    const tmux = (...args: ReadonlyArray<string>) => spawnSync("tmux", ["-L", socket, ...args], { encoding: "utf8" })
    const done = path.join(w.base, "done")
    const envArgs = Object.entries(w.env).flatMap(([k, v]) => ["-e", `${k}=${v}`])
    const script = `cd '${w.repo.root}' && '${process.execPath}' '${Cli.binPath}' ui; echo $? > '${done}'; exec cat`
    const r = tmux("-f", "/dev/null", "new-session", "-d", "-s", "ui", "-x", "120", "-y", "30", ...envArgs, "sh", "-c", script)
    assert.strictEqual(r.status, 0, r.stderr)
    try {
      const screen = () => tmux("capture-pane", "-p", "-t", "ui").stdout
      const row = (name: string) => screen().split("\n").find((l) => l.includes(` ${name} `)) ?? ""
      await until("three sessions", () => /alpha/.test(screen()) && /beta/.test(screen()) && /gamma/.test(screen()), screen)
      await until("their states and alpha's cost", () =>
        /working/.test(row("alpha")) && /\$0\.60/.test(row("alpha")) && /idle/.test(row("beta")) && /working/.test(row("gamma")), screen)
      assert.match(screen(), /3 agents [·|] 0 waiting [·|] \$0\.60/)

      // gamma asks for permission (what the Notification hook writes), alpha's agent exits.
      fs.writeFileSync(path.join(gamma.dir, "state"), "needs-input\n")
      await until("gamma needs input", () => /needs-input/.test(row("gamma")), screen)
      assert.match(screen(), /1 waiting/)
      fs.writeFileSync(path.join(alpha.dir, "state"), "exited\n")
      alpha.agent.kill("SIGKILL")
      await until("alpha shown dead", () => /dead/.test(row("alpha")), screen)

      // The detail pane follows the selection: beta's changed file is listed once its watcher saw it;
      // here no watcher runs, so it shows its branch against the target.
      tmux("send-keys", "-t", "ui", "j")
      await until("the selection on the second row", () => /session \S+ \(beta\)/.test(screen()), screen)
      assert.match(screen(), /branch parallel\/beta vs main: 0 ahead, 0 behind/)

      tmux("send-keys", "-t", "ui", "q")
      await until("the dashboard to end", () => fs.existsSync(done) && fs.readFileSync(done, "utf8").trim() !== "", screen)
      assert.strictEqual(fs.readFileSync(done, "utf8").trim(), "0")
    } finally {
      tmux("kill-server")
    }
  })

  it("off a terminal prints the table, and again when something changed", async () => {
    const w = world()
    const a = w.register("solo")
    fs.writeFileSync(path.join(a.dir, "state"), "working\n")
    const p = spawn(process.execPath, [Cli.binPath, "ui", "--interval", "0.2"], { cwd: w.repo.root, env: { ...w.env, NO_COLOR: "1" } })
    children.push(p)
    let out = ""
    p.stdout.on("data", (d: Buffer) => (out += d.toString()))
    await until("the first table", () => /solo/.test(out) && /working/.test(out), () => out)
    assert.notInclude(out, "\x1b[", "no escape sequences off a terminal")
    fs.writeFileSync(path.join(a.dir, "state"), "idle\n")
    await until("the table again, with the new state", () => out.split("--- ").length >= 3 && /idle/.test(out.split("--- ").at(-1)!), () => out)
    p.kill("SIGTERM")
  })
})

describe("ui screen", () => {
  const now = Date.parse("2026-12-01T12:00:00Z")
  const row = (name: string, state: string, cost: number | null): FleetView.FleetRow => ({
    kind: "session",
    id: `id${name}`,
    name,
    parentId: null,
    repoPath: "/r",
    worktreePath: `/r-worktrees/${name}`,
    branch: `parallel/${name}`,
    agent: "claude",
    state,
    stateSince: new Date(now - 65_000),
    ahead: 2,
    behind: 1,
    target: "main",
    changed: [{ path: "src/a.ts", status: "modified" }],
    overlaps: 0,
    conflicts: 0,
    claims: 0,
    usage: cost === null ? null : { known: true, reason: null, costUsd: cost, tokens: null, requests: 1, turns: 1, models: [] },
    createdAt: new Date(now - 3_600_000),
    lastMessage: "Done: the parser handles ünïcode now.",
    log: []
  })
  const snap: FleetView.FleetSnapshot = {
    rows: [row("alpha", "working", 1.5), row("beta", "needs-input", null), row("gamma", "idle", 0.25)],
    repos: ["/r"],
    at: new Date(now)
  }

  it("fits 40 columns with state, session and cost; ASCII only without UTF-8; no escapes without colour", () => {
    const lines = render(snap, { selected: 1, repo: undefined, message: undefined }, { width: 40, height: 16, color: false, unicode: false })
    assert.strictEqual(lines.length, 16)
    for (const l of lines) assert.isAtMost([...l].length, 40, l)
    const text = lines.join("\n")
    assert.notInclude(text, "\x1b[")
    assert.match(text, /\* working\s+alpha\s+\$1\.50/)
    assert.match(text, /> ! needs-input\s+beta\s+-/)
    assert.match(text, /- idle\s+gamma\s+\$0\.25/)
    assert.match(text, /up\/down/)
    assert.isFalse(/[^\x00-\x7f]/.test(lines.filter((l) => !l.includes("parser")).join("")), "only the agent's own text is not ASCII")
  })

  it("wide and coloured: every column, the selection in inverse video, the detail pane", () => {
    const lines = render(snap, { selected: 0, repo: undefined, message: undefined }, { width: 140, height: 30, color: true, unicode: true })
    const text = lines.join("\n")
    assert.include(text, "\x1b[7m▸ ● working")
    assert.match(text, /BRANCH\s+AGENT\s+FILES\s+\+\/-\s+OVERLAP\s+CLAIMS\s+AGE/)
    assert.include(text, "+2/-1")
    assert.include(text, "branch parallel/alpha vs main: 2 ahead, 1 behind")
    assert.include(text, "modified src/a.ts")
    assert.include(text, "the parser handles ünïcode now.")
    assert.include(text, "3 agents · 1 waiting · $1.75")
  })
})
