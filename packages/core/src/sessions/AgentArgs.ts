/**
 * Which invocations of an agent are agent sessions on the repository, and which are not (`claude --version`,
 * `claude mcp list`, `codex login`, …): the wrapper runs the latter directly, with no session, no worktree
 * and no setup.
 *
 * A rule per agent (by the command's base name) lists its subcommands that are not sessions, the options
 * that never start one (`--version`, `--help`), and the options that take a value, so that a value is not
 * mistaken for a subcommand: `claude --model opus mcp` runs `mcp`, `claude --resume mcp` resumes the
 * conversation "mcp". The parse follows the agents' own parsers (commander for Claude Code, clap for Codex,
 * yargs for Gemini): options may come before the first operand; an option with an optional value takes the
 * next argument unless it starts with `-`; a variadic one takes every following argument up to the next
 * option; after `--` everything is an operand. An agent without a rule is always a session.
 *
 * The built-in rule for Claude Code was checked against the `--help` of the pinned binary (2.1.332) and the
 * subcommands of 2.1.334 (a test compares it with the real binary's `--help`). Config `agents.passThrough`
 * replaces the rule of an agent it names (or adds one for another agent).
 *
 * @since 0.2.0
 */
import type { PassThroughRule, PassThroughTable } from "../platform/AppConfig.js"

export type { PassThroughRule, PassThroughTable } from "../platform/AppConfig.js"

const valueOpts = (names: ReadonlyArray<string>, kind: "value" | "optional" | "variadic") =>
  Object.fromEntries(names.map((n) => [n, kind])) as Record<string, "value" | "optional" | "variadic">

/** Claude Code: every subcommand is management, not a session; `--bg`, `--cloud` and `--desktop` leave at once. */
const claude: PassThroughRule = {
  subcommands: [
    "agents",
    "attach",
    "auth",
    "auto-mode",
    "config",
    "doctor",
    "gateway",
    "help",
    "import",
    "install",
    "kill",
    "logs",
    "mcp",
    "migrate-installer",
    "plugin",
    "plugins",
    "purge",
    "respawn",
    "rm",
    "setup-token",
    "stop",
    "ultrareview",
    "update",
    "upgrade"
  ],
  flags: ["--version", "-v", "--help", "-h", "--bg", "--background", "--cloud", "--desktop"],
  options: {
    ...valueOpts([
      "--agent",
      "--agents",
      "--append-system-prompt",
      "--append-system-prompt-file",
      "--autocompact",
      "--debug-file",
      "--effort",
      "--environment",
      "--fallback-model",
      "--input-format",
      "--json-schema",
      "--max-budget-usd",
      "--max-turns",
      "--model",
      "-n",
      "--name",
      "--output-format",
      "--permission-mode",
      "--permission-prompt-tool",
      "--permission-prompts",
      "--plugin-dir",
      "--plugin-url",
      "--remote-control-session-name-prefix",
      "--session-id",
      "--setting-sources",
      "--settings",
      "--system-prompt",
      "--system-prompt-file",
      "--system-prompt-snapshot"
    ], "value"),
    ...valueOpts(["--cloud", "-d", "--debug", "--from-pr", "--prompt-suggestions", "--remote-control", "-r", "--resume", "--teleport", "-w", "--worktree"], "optional"),
    ...valueOpts([
      "--add-dir",
      "--allowedTools",
      "--allowed-tools",
      "--betas",
      "--disallowedTools",
      "--disallowed-tools",
      "--file",
      "--mcp-config",
      "--tools"
    ], "variadic")
  }
}

/** Codex CLI: `codex` and `codex exec|e|resume|apply …` work on the repository; the rest is management. */
const codex: PassThroughRule = {
  subcommands: ["login", "logout", "mcp", "mcp-server", "app-server", "completion", "debug", "sandbox", "cloud", "features", "help"],
  flags: ["--version", "-V", "--help", "-h"],
  options: valueOpts(
    ["-c", "--config", "-m", "--model", "-p", "--profile", "-s", "--sandbox", "-a", "--ask-for-approval", "-C", "--cd", "--add-dir", "--local-provider", "--enable", "--disable", "-i", "--image"],
    "value"
  )
}

/** Gemini CLI: `gemini` and `gemini -p …` are sessions; `mcp`, `extensions` and the listing flags are not. */
const gemini: PassThroughRule = {
  subcommands: ["mcp", "extensions", "extension", "help"],
  flags: ["--version", "-v", "--help", "-h", "--list-extensions", "-l", "--list-sessions", "--delete-session"],
  options: {
    ...valueOpts(["-m", "--model", "-p", "--prompt", "-i", "--prompt-interactive", "--approval-mode", "-o", "--output-format", "-r", "--resume", "--session-id"], "value"),
    ...valueOpts(["-e", "--extensions", "--include-directories", "--allowed-mcp-server-names", "--allowed-tools"], "variadic")
  }
}

/** The built-in rules, by the agent command's base name. */
export const builtin: PassThroughTable = { claude, codex, gemini }

/** The rule for `agent` (a command name or path): config first, then the built-in one. */
export const ruleFor = (agent: string, configured: PassThroughTable = {}): PassThroughRule | undefined => {
  const base = agent.split("/").pop() ?? agent
  const own = (t: PassThroughTable) => (Object.prototype.hasOwnProperty.call(t, base) ? t[base] : undefined)
  return own(configured) ?? own(builtin)
}

/** How to run an agent invocation: in a session, or directly (with why). */
export type Invocation =
  | { readonly _tag: "Session" }
  | { readonly _tag: "Direct"; readonly because: string }

const session: Invocation = { _tag: "Session" }

/** Classify the agent's arguments under `rule` (no rule: a session). */
export const classify = (rule: PassThroughRule | undefined, args: ReadonlyArray<string>): Invocation => {
  if (rule === undefined) return session
  const flags = new Set(rule.flags)
  let first: string | undefined
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!
    if (a === "--") {
      first = args[i + 1]
      break
    }
    if (!a.startsWith("-") || a === "-") {
      first = a
      break
    }
    const eq = a.startsWith("--") ? a.indexOf("=") : -1
    const name = eq > 0 ? a.slice(0, eq) : a
    if (flags.has(name)) return { _tag: "Direct", because: name }
    // Short boolean options together (`-hv`): each of them counts.
    if (/^-[A-Za-z]{2,}$/.test(a)) {
      const hit = [...a.slice(1)].map((c) => `-${c}`).find((f) => flags.has(f))
      if (hit !== undefined) return { _tag: "Direct", because: hit }
      continue
    }
    const arity = eq > 0 ? undefined : rule.options[name]
    const takes = (j: number) => j < args.length && !args[j]!.startsWith("-")
    if (arity === "value") i++
    else if (arity === "optional" && takes(i + 1)) i++
    else if (arity === "variadic") while (takes(i + 1)) i++
  }
  return first !== undefined && rule.subcommands.includes(first) ? { _tag: "Direct", because: first } : session
}
