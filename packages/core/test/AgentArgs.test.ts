/**
 * Which agent invocations are sessions: the built-in rules for Claude Code, Codex and Gemini, values of
 * options never taken for subcommands, and a configured rule replacing the built-in one. (The Claude Code
 * rule is compared with the real binary's `--help` in test-e2e/passthrough.test.ts.)
 */
import { assert, describe, it } from "@effect/vitest"
import { AgentArgs, AppConfig } from "@parallel-cc/core"
import { Effect, Schema } from "effect"

const claude = AgentArgs.ruleFor("claude")
const kind = (rule: AgentArgs.PassThroughRule | undefined, args: ReadonlyArray<string>) => {
  const r = AgentArgs.classify(rule, args)
  return r._tag === "Direct" ? `direct:${r.because}` : "session"
}

describe("AgentArgs.classify", () => {
  it("Claude Code: informational flags and management subcommands run directly", () => {
    for (
      const [args, want] of [
        [["--version"], "direct:--version"],
        [["-v"], "direct:-v"],
        [["-h"], "direct:-h"],
        [["--help"], "direct:--help"],
        [["mcp", "list"], "direct:mcp"],
        [["doctor"], "direct:doctor"],
        [["config", "get", "x"], "direct:config"],
        [["update"], "direct:update"],
        [["install", "stable"], "direct:install"],
        [["migrate-installer"], "direct:migrate-installer"],
        [["setup-token"], "direct:setup-token"],
        [["plugin", "list"], "direct:plugin"],
        [["plugins"], "direct:plugins"],
        [["--model", "opus", "mcp", "list"], "direct:mcp"],
        [["--add-dir", "a", "b", "--model", "x", "doctor"], "direct:doctor"],
        [["--debug=api", "mcp"], "direct:mcp"],
        [["-p", "doctor"], "direct:doctor"],
        [["--bg", "fix it"], "direct:--bg"],
        [["-pv"], "direct:-v"]
      ] as const
    ) assert.strictEqual(kind(claude, args), want, args.join(" "))
  })

  it("Claude Code: sessions, and values of options that look like subcommands", () => {
    for (
      const args of [
        [],
        ["-p", "fix the bug"],
        ["--print", "--output-format", "json", "hello"],
        ["--resume", "mcp"],
        ["-r", "doctor"],
        ["--resume"],
        ["--debug", "mcp"],
        ["--continue"],
        ["-c", "-p", "go on"],
        ["--model", "doctor"],
        ["--model=mcp", "hi"],
        ["--name", "mcp"],
        ["--add-dir", "mcp", "doctor"],
        ["say", "mcp"],
        ["--allowed-tools", "Bash", "Edit", "--", "hello"],
        ["--session-id", "1b4e28ba-2fa1-11d2-883f-0016d3cca427", "-p", "x"],
        ["some prompt mentioning --version"]
      ]
    ) assert.strictEqual(kind(claude, args), "session", args.join(" "))
    // After `--` everything is an operand: a subcommand name there is still a subcommand for commander.
    assert.strictEqual(kind(claude, ["--", "mcp"]), "direct:mcp")
    assert.strictEqual(kind(claude, ["--", "--version"]), "session")
  })

  it("Codex and Gemini have built-in rules; an agent without one is always a session", () => {
    const codex = AgentArgs.ruleFor("/usr/local/bin/codex")
    assert.strictEqual(kind(codex, ["login"]), "direct:login")
    assert.strictEqual(kind(codex, ["-m", "o3", "mcp", "list"]), "direct:mcp")
    assert.strictEqual(kind(codex, ["--version"]), "direct:--version")
    assert.strictEqual(kind(codex, ["exec", "fix it"]), "session")
    assert.strictEqual(kind(codex, ["resume", "--last"]), "session")
    assert.strictEqual(kind(codex, ["-m", "login"]), "session")
    const gemini = AgentArgs.ruleFor("gemini")
    assert.strictEqual(kind(gemini, ["extensions", "list"]), "direct:extensions")
    assert.strictEqual(kind(gemini, ["--list-sessions"]), "direct:--list-sessions")
    assert.strictEqual(kind(gemini, ["-p", "mcp"]), "session")
    assert.strictEqual(kind(gemini, []), "session")
    assert.isUndefined(AgentArgs.ruleFor("my-agent"))
    assert.strictEqual(kind(undefined, ["--version"]), "session")
  })

  it("a configured rule replaces the built-in one of the agent it names and adds rules for others", () =>
    Effect.gen(function*() {
      const table = yield* Schema.decodeUnknown(AppConfig.PassThroughTable)({
        claude: { subcommands: ["mcp"], flags: [], options: {} },
        aider: { subcommands: ["--list-models"], flags: ["--version"], options: { "--model": "value" } }
      })
      const mine = AgentArgs.ruleFor("claude", table)
      assert.strictEqual(kind(mine, ["mcp"]), "direct:mcp")
      assert.strictEqual(kind(mine, ["doctor"]), "session")
      assert.strictEqual(kind(mine, ["--version"]), "session")
      const aider = AgentArgs.ruleFor("/opt/aider", table)
      assert.strictEqual(kind(aider, ["--version"]), "direct:--version")
      assert.strictEqual(kind(aider, ["--model", "--version"]), "session")
      // Other built-in rules stay.
      assert.strictEqual(kind(AgentArgs.ruleFor("codex", table), ["login"]), "direct:login")
      // A name inherited from Object.prototype is not a rule.
      assert.isUndefined(AgentArgs.ruleFor("constructor", table))
      const bad = yield* Schema.decodeUnknown(AppConfig.PassThroughTable)({ x: { subcommands: [], flags: [], options: { "--m": "maybe" } } })
        .pipe(Effect.flip)
      assert.include(String(bad), "maybe")
    }).pipe(Effect.runPromise))
})
