/**
 * The fleet view of real Claude Code sessions: the cost `status --json` reports is the transcript's usage
 * at the price table; a permission prompt on a real terminal (tmux) makes the session `needs-input`; a spent
 * budget refuses the agent's next tool call with the reason.
 */
import { AnthropicApiDouble, Cli } from "@parallel-cc/testkit"
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, assert, describe, it } from "vitest"
import { installAll, pcc, status, type World, world } from "./support.js"

const { Reply } = AnthropicApiDouble
const marker = AnthropicApiDouble.AnthropicApiDouble.marker

const children: Array<ChildProcess> = []
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill("SIGKILL")
})

const until = async <A>(what: string, f: () => A | undefined, show: () => string = () => "", timeoutMs = 90_000): Promise<A> => {
  const end = Date.now() + timeoutMs
  for (;;) {
    const v = f()
    if (v !== undefined) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${show()}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

const MODEL = "claude-sonnet-4-5-20250929"
/** Anthropic's list prices of Sonnet 4.5 in US dollars per million tokens (the built-in table's entry). */
const SONNET = { input: 3, output: 15, cacheWrite5m: 3.75, cacheWrite1h: 6, cacheRead: 0.3 }

interface Tokens {
  input: number
  output: number
  cacheWrite5m: number
  cacheWrite1h: number
  cacheRead: number
}
const cost = (t: Tokens) =>
  (t.input * SONNET.input + t.output * SONNET.output + t.cacheWrite5m * SONNET.cacheWrite5m + t.cacheWrite1h * SONNET.cacheWrite1h +
    t.cacheRead * SONNET.cacheRead) / 1e6

/** The usage of a transcript as the file has it: each message id once (its last line), summed by kind. */
const transcriptTokens = (file: string): Tokens & { messages: number; models: Array<string> } => {
  const byId = new Map<string, any>()
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    if (line.trim() === "") continue
    const e = JSON.parse(line)
    if (e.type === "assistant" && e.message?.usage) byId.set(e.message.id, e.message)
  }
  const sum: Tokens = { input: 0, output: 0, cacheWrite5m: 0, cacheWrite1h: 0, cacheRead: 0 }
  for (const m of byId.values()) {
    const u = m.usage
    sum.input += u.input_tokens
    sum.output += u.output_tokens
    sum.cacheRead += u.cache_read_input_tokens ?? 0
    const h1 = u.cache_creation?.ephemeral_1h_input_tokens ?? 0
    sum.cacheWrite1h += h1
    sum.cacheWrite5m += (u.cache_creation_input_tokens ?? 0) - h1
  }
  return { ...sum, messages: byId.size, models: [...new Set([...byId.values()].map((m) => String(m.model)))] }
}

/** `claude-parallel -p` reading prompts as stream-json from stdin: the agent waits for the next prompt after a turn. */
const interactiveOverStdin = (w: World, extra: ReadonlyArray<string> = []) => {
  const child = spawn(process.execPath, [
    Cli.wrapperPath,
    "-p",
    "--input-format",
    "stream-json",
    "--output-format",
    "stream-json",
    "--verbose",
    "--dangerously-skip-permissions",
    "--model",
    MODEL,
    ...extra
  ], { cwd: w.repo.root, env: w.env, stdio: ["pipe", "pipe", "pipe"] })
  children.push(child)
  const out = { stdout: "", stderr: "" }
  child.stdout.setEncoding("utf8").on("data", (d) => (out.stdout += d))
  child.stderr.setEncoding("utf8").on("data", (d) => (out.stderr += d))
  const closed = new Promise<number | null>((r) => child.on("close", (code) => r(code)))
  const prompt = (text: string) => child.stdin.write(JSON.stringify({ type: "user", message: { role: "user", content: text } }) + "\n")
  return { child, out, closed, prompt }
}

/** A Bash call whose response reports the given usage. */
const bashWith = (command: string, usage: Partial<AnthropicApiDouble.Usage>) =>
  Reply.turn([{ type: "tool_use", name: "Bash", input: { command, description: "run a command" } }], { usage })

const hasTmux = spawnSync("tmux", ["-V"]).status === 0

describe("the fleet view of real Claude Code sessions", () => {
  it("a session's cost in status --json is its transcript's usage (as the API reported it) at the price table", async () => {
    const w = await world()
    installAll(w)
    // Two API responses with every kind of token, the cache write split by lifetime as the API reports it.
    const u1 = { input_tokens: 4000, output_tokens: 300, cache_read_input_tokens: 20_000, cache_creation_input_tokens: 5000, cache_creation_1h_input_tokens: 1000 }
    const u2 = { input_tokens: 700, output_tokens: 900, cache_read_input_tokens: 25_000, cache_creation_input_tokens: 1200, cache_creation_1h_input_tokens: 0 }
    w.api.script("c", [
      bashWith("true", u1),
      Reply.text("done", { usage: u2 })
    ])
    const agent = interactiveOverStdin(w)
    agent.prompt(`go ${marker("c")}`)
    await until("the turn's result", () => (agent.out.stdout.includes("\"type\":\"result\"") ? true : undefined), () => agent.out.stderr)

    const expected: Tokens = {
      input: u1.input_tokens + u2.input_tokens,
      output: u1.output_tokens + u2.output_tokens,
      cacheRead: u1.cache_read_input_tokens + u2.cache_read_input_tokens,
      cacheWrite1h: 1000,
      cacheWrite5m: 4000 + 1200
    }
    const session = await until("the session's usage of both responses", () => {
      const s = status(w).sessions[0]
      return s?.usage?.requests === 2 ? s : undefined
    }, () => JSON.stringify(status(w), null, 1))
    const dir = path.join(w.dataDir, "live", session.sessionId)
    const transcript = fs.readFileSync(path.join(dir, "transcript"), "utf8").trim().split("\n").at(-1)!
    const fromFile = transcriptTokens(transcript)
    // What Claude Code wrote is what the API double reported, once per message.
    assert.strictEqual(fromFile.messages, 2)
    assert.deepStrictEqual(fromFile.models, [MODEL])
    assert.deepInclude(fromFile, expected)

    const usage = session.usage
    assert.isTrue(usage.known, usage.reason ?? "")
    assert.deepInclude(usage.tokens, expected)
    assert.strictEqual(usage.turns, 1)
    assert.lengthOf(usage.models, 1)
    assert.strictEqual(usage.models[0].model, MODEL)
    // 4700×3 + 1200×15 + 5200×3.75 + 1000×6 + 45000×0.3 per million = $0.0711
    assert.closeTo(usage.costUsd, cost(expected), 1e-9)
    assert.closeTo(usage.costUsd, 0.0711, 1e-9)
    // And the human `status` prints it.
    const human = pcc(w, ["status", "--repo", w.repo.root])
    assert.match(human.stdout, /\$0\.07/)

    agent.child.stdin.end()
    assert.strictEqual(await agent.closed, 0, agent.out.stderr)
    assert.deepStrictEqual(w.api.failures, [])
  })

  it("a spent daily budget (budget.onLimit=block) refuses the agent's next tool call, with the reason", async () => {
    const w = await world()
    installAll(w)
    for (const [k, v] of [["budget.dailyUsd", "0.05"], ["budget.onLimit", "block"]] as const) {
      const r = pcc(w, ["config", "set", k, v])
      assert.strictEqual(r.code, 0, r.stderr)
    }
    let blockFile = ""
    // The first response costs $0.06 (20 000 input tokens at $3 per million): over the $0.05 budget.
    w.api.script("b", [
      bashWith("echo one > one.txt", { input_tokens: 20_000, output_tokens: 10 }),
      // Before the next tool call, wait until the session's fleet monitor has blocked the session.
      Reply.dynamic(async () => {
        const s = status(w).sessions[0]!
        blockFile = path.join(w.dataDir, "live", s.sessionId, "block")
        await until("the block", () => (fs.existsSync(blockFile) && fs.readFileSync(blockFile, "utf8").trim() !== "" ? true : undefined))
        return Reply.bash("echo two > two.txt")
      }),
      Reply.text("stopped")
    ])
    const agent = interactiveOverStdin(w)
    agent.prompt(`go ${marker("b")}`)
    await until("the turn's result", () => (agent.out.stdout.includes("\"type\":\"result\"") ? true : undefined), () => agent.out.stderr)
    const results = w.api.toolResults("b")
    assert.lengthOf(results, 2, JSON.stringify(results))
    // The first call ran. Its result may already carry the monitor's notice that the budget is spent (the
    // first response's cost is in the transcript before the tool runs, and the hook after the call delivers
    // pending notices), but it is not a refusal.
    assert.isNotTrue(results[0]!.is_error, JSON.stringify(results[0]))
    assert.notMatch(results[0]!.text, /parallel-cc config set budget\.dailyUsd/)
    assert.isTrue(results[1]!.is_error, JSON.stringify(results[1]))
    assert.match(results[1]!.text, /daily budget of \$0\.05 is spent \(\$0\.06\); tool calls are refused/)
    assert.match(results[1]!.text, /budget\.dailyUsd/)
    assert.isTrue(fs.existsSync(path.join(w.repo.root, "one.txt")), "the call before the limit ran")
    assert.isFalse(fs.existsSync(path.join(w.repo.root, "two.txt")), "the refused call did not run")
    assert.match(pcc(w, ["budget", "status"]).stdout, /\$0\.06/)
    agent.child.stdin.end()
    assert.strictEqual(await agent.closed, 0, agent.out.stderr)
  })

  it.skipIf(!hasTmux)(`a permission prompt on a real terminal makes the session needs-input until it is answered, then the call runs and the session goes idle (tmux)${hasTmux ? "" : " [skipped: tmux not installed]"}`, async () => {
    const w = await world()
    installAll(w)
    // First run of the interactive CLI: onboarding done, the repository trusted, the double's key approved.
    const claudeJson = path.join(w.home, ".claude.json")
    const config = fs.existsSync(claudeJson) ? JSON.parse(fs.readFileSync(claudeJson, "utf8")) : {}
    const key = w.env.ANTHROPIC_API_KEY ?? ""
    config.hasCompletedOnboarding = true
    config.theme = "dark"
    config.customApiKeyResponses = { approved: [key.slice(-20)], rejected: [] }
    config.projects = { ...config.projects, [w.repo.root]: { ...config.projects?.[w.repo.root], hasTrustDialogAccepted: true, hasCompletedProjectOnboarding: true } }
    fs.writeFileSync(claudeJson, JSON.stringify(config, null, 2))
    w.api.script("p", [
      Reply.bash("echo hi > asked.txt", "write a file"),
      Reply.text("wrote it")
    ])
    const socket = `pcc-e2e-fleet-${process.pid}`
    const tmux = (...args: ReadonlyArray<string>) => spawnSync("tmux", ["-L", socket, ...args], { encoding: "utf8" })
    const envArgs = Object.entries(w.env).flatMap(([k, v]) => ["-e", `${k}=${v}`])
    // The prompt reaches the wrapper as an argument through the environment, never parsed by the shell.
    // tmux gives the first pane the PATH of the client that creates the session, whatever -e says: set it here.
    const script = `PATH="$PCC_E2E_PATH"; '${process.execPath}' '${Cli.wrapperPath}' --model ${MODEL} "$PCC_E2E_PROMPT"; echo "exit $?"; exec cat`
    const r = tmux("-f", "/dev/null", "new-session", "-d", "-s", "a", "-x", "120", "-y", "40", "-c", w.repo.root, ...envArgs,
      "-e", `PCC_E2E_PATH=${w.env.PATH}`, "-e", `PCC_E2E_PROMPT=please write a file ${marker("p")}`, "sh", "-c", script)
    assert.strictEqual(r.status, 0, r.stderr)
    const screen = () => tmux("capture-pane", "-p", "-t", "a").stdout
    try {
      const stateOf = () => status(w).sessions[0]?.state as string | undefined
      await until("needs-input at the permission prompt", () => (stateOf() === "needs-input" ? true : undefined), screen)
      await until("the prompt on the screen", () => (/Do you want to proceed\?/.test(screen()) ? true : undefined), screen)
      assert.match(screen(), /echo hi > asked\.txt/)
      assert.isFalse(fs.existsSync(path.join(w.repo.root, "asked.txt")), "nothing ran before the answer")
      assert.strictEqual(stateOf(), "needs-input", "still waiting while the prompt is shown")
      // Yes (the first choice of the prompt).
      tmux("send-keys", "-t", "a", "Enter")
      await until("idle after the turn", () => (stateOf() === "idle" ? true : undefined), screen)
      assert.isTrue(fs.existsSync(path.join(w.repo.root, "asked.txt")), "the answered call ran")
      await until("the answer on the screen", () => (/wrote it/.test(screen()) ? true : undefined), screen)
      tmux("send-keys", "-t", "a", "/exit", "Enter")
      await until("the agent to exit", () => (/^exit \d+$/m.test(screen()) ? true : undefined), screen)
      assert.match(screen(), /^exit 0$/m)
    } finally {
      tmux("kill-server")
    }
  })
})
