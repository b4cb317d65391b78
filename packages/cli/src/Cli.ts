/**
 * The full command tree on @effect/cli. Hot commands are defined once (internal/Command.ts) and shared
 * with the fast path in fast.ts.
 */
import { Args, Command, Options } from "@effect/cli"
import { Effect } from "effect"
import { claims } from "./commands/claims.js"
import { cleanup } from "./commands/cleanup.js"
import * as Config from "./commands/config.js"
import { conflicts, conflictsCheck } from "./commands/conflicts.js"
import { doctor } from "./commands/doctor.js"
import { install } from "./commands/install.js"
import { landCommand } from "./commands/land.js"
import { heartbeat } from "./commands/heartbeat.js"
import * as Mcp from "./commands/mcp.js"
import { mergeStatus, watchMerges } from "./commands/merges.js"
import { migrate } from "./commands/migrate.js"
import { claimCommand, overlapsCommand, unclaimCommand, watchSessionCommand } from "./commands/overlaps.js"
import { register } from "./commands/register.js"
import { diffCommand, discardCommand, openCommand } from "./commands/review.js"
import { release } from "./commands/release.js"
import { runHelp, sandboxCommand } from "./commands/sandbox.js"
import { budgetCommand, templatesCommand } from "./commands/templates.js"
import { status } from "./commands/status.js"
import { uiCommand } from "./commands/ui.js"
import { suggestions, suggestionsApply } from "./commands/suggestions.js"
import { worktreeHook } from "./commands/worktreeHook.js"
import { type CommandDef, runDef } from "./internal/Command.js"
import type { CliServices } from "./internal/Env.js"
import type { HelpLayouts } from "./internal/HelpText.js"
import { flagName, type OptSpec, type Spec } from "./internal/Spec.js"

declare const PCC_VERSION: string

const toOption = (key: string, opt: OptSpec): Options.Options<unknown> => {
  const name = flagName(key)
  let o: Options.Options<unknown> = opt.kind === "boolean"
    ? Options.boolean(name)
    : opt.kind === "integer"
    ? Options.integer(name)
    : Options.text(name)
  if (opt.alias !== undefined) o = Options.withAlias(o, opt.alias)
  o = Options.withDescription(o, opt.description)
  if (opt.kind !== "boolean" && opt.optional === true) o = Options.optional(o)
  return o
}

/** An @effect/cli command from a shared definition. */
export const fromDef = <S extends Spec>(def: CommandDef<S>) => {
  const config = Object.fromEntries(Object.entries(def.spec).map(([k, o]) => [k, toOption(k, o)]))
  return Command.make(def.name, config, (opts) => runDef(def, opts as never)).pipe(
    Command.withDescription(def.description)
  ) as Command.Command<string, CliServices, unknown, unknown>
}

const json = Options.boolean("json").pipe(Options.withDescription("Print one JSON document"))
const key = Args.text({ name: "key" }).pipe(Args.withDescription("A config key such as worktree.prefix"))

const configCommand = Command.make("config").pipe(
  Command.withDescription("Read and change settings in <dataDir>/config.json (env PARALLEL_CC_* overrides them)"),
  Command.withSubcommands([
    Command.make("get", { key, json }, ({ json, key }) => Config.get(key, json)).pipe(
      Command.withDescription("Print the effective value of a key")
    ),
    Command.make(
      "set",
      { key, value: Args.text({ name: "value" }).pipe(Args.withDescription("Text, or JSON for numbers and lists")), json },
      ({ json, key, value }) => Config.set(key, value, json)
    ).pipe(Command.withDescription("Validate a value and save it in the config file")),
    Command.make("unset", { key, json }, ({ json, key }) => Config.unset(key, json)).pipe(
      Command.withDescription("Remove a key from the config file (its default applies again)")
    ),
    Command.make("list", { json }, ({ json }) => Config.list(json)).pipe(
      Command.withDescription("List every key with its value, source and environment variable")
    )
  ])
)

const mcpCommand = Command.make("mcp").pipe(
  Command.withDescription("The MCP server, for agents to query sessions, claims and merges themselves"),
  Command.withSubcommands([
    Command.make("serve", {}, () => Mcp.serve).pipe(
      Command.withDescription(
        "Speak MCP on stdin/stdout (register it with Claude Code: claude mcp add parallel-cc -- node " +
          "/abs/path/packages/cli/dist/bin.cjs mcp serve)"
      )
    )
  ])
)

const watchCommand = Command.make("watch").pipe(
  Command.withDescription("Long-running watchers"),
  Command.withSubcommands([fromDef(watchMerges), watchSessionCommand as Command.Command<string, CliServices, unknown, unknown>])
)

const mergeCommand = Command.make("merge").pipe(
  Command.withDescription("Merge detection results"),
  Command.withSubcommands([fromDef(mergeStatus)])
)

// Listed for --help only: `parallel-cc claude …` is dispatched to the wrapper before @effect/cli parses
// (see bin.ts and loader/load.cjs), because every argument after it belongs to the agent.
const claudeCommand = Command.make("claude", {
  agent: Options.text("agent").pipe(
    Options.optional,
    Options.withDescription("Agent command (default: config `agent`, PARALLEL_CC_AGENT, else claude)")
  ),
  name: Options.text("name").pipe(
    Options.optional,
    Options.withDescription("Name the session: branch parallel/NAME in the worktree folder NAME (refused while taken)")
  ),
  base: Options.text("base").pipe(Options.optional, Options.withDescription("Start the worktree from this branch, tag or commit")),
  worktree: Options.boolean("worktree").pipe(
    Options.withDescription("Give this session its own worktree even when the repository is free (`--worktree NAME` also names it)")
  ),
  noWorktree: Options.boolean("no-worktree").pipe(
    Options.withDescription("Work in the repository itself; refused when another session has it")
  ),
  session: Options.text("session").pipe(
    Options.optional,
    Options.withDescription("Re-enter a kept worktree (id, name or branch) and run the agent there: --session feat-x --resume ID")
  ),
  requireRepo: Options.boolean("require-repo").pipe(
    Options.withDescription("Refuse to run outside a git repository (default: run the agent without a session, with a note)")
  ),
  args: Args.text({ name: "agent args" }).pipe(
    Args.repeated,
    Args.withDescription(
      "Passed to the agent unchanged (after the options above; `--` ends them). Invocations that are not sessions " +
        "(claude --version, claude mcp …, claude doctor; config agents.passThrough) run the agent directly, with no session"
    )
  )
}, () => Effect.void).pipe(
  Command.withDescription(
    "Run an agent in a session, like claude-parallel: the repo for the first session (or a worktree: --worktree, " +
      "worktree.always), a new worktree for the others; released on exit"
  )
)

/** Every subcommand, in the order `--help` shows them. */
export const subcommands: ReadonlyArray<Command.Command<string, CliServices, unknown, unknown>> = [
  fromDef(status),
  uiCommand as Command.Command<string, CliServices, unknown, unknown>,
  fromDef(register),
  fromDef(release),
  fromDef(heartbeat),
  fromDef(cleanup),
  fromDef(worktreeHook),
  diffCommand as Command.Command<string, CliServices, unknown, unknown>,
  openCommand as Command.Command<string, CliServices, unknown, unknown>,
  discardCommand as Command.Command<string, CliServices, unknown, unknown>,
  claudeCommand as Command.Command<string, CliServices, unknown, unknown>,
  configCommand as Command.Command<string, CliServices, unknown, unknown>,
  fromDef(migrate),
  fromDef(claims),
  claimCommand as Command.Command<string, CliServices, unknown, unknown>,
  unclaimCommand as Command.Command<string, CliServices, unknown, unknown>,
  overlapsCommand as Command.Command<string, CliServices, unknown, unknown>,
  fromDef(conflicts).pipe(Command.withSubcommands([fromDef(conflictsCheck)])) as Command.Command<string, CliServices, unknown, unknown>,
  fromDef(suggestions).pipe(Command.withSubcommands([suggestionsApply])) as Command.Command<string, CliServices, unknown, unknown>,
  landCommand as Command.Command<string, CliServices, unknown, unknown>,
  watchCommand as Command.Command<string, CliServices, unknown, unknown>,
  mergeCommand as Command.Command<string, CliServices, unknown, unknown>,
  mcpCommand as Command.Command<string, CliServices, unknown, unknown>,
  install as Command.Command<string, CliServices, unknown, unknown>,
  fromDef(doctor),
  sandboxCommand as Command.Command<string, CliServices, unknown, unknown>,
  templatesCommand as Command.Command<string, CliServices, unknown, unknown>,
  budgetCommand as Command.Command<string, CliServices, unknown, unknown>
]

export const root = Command.make("parallel-cc").pipe(
  Command.withDescription("Run many AI coding agents on one git repository at once, each in its own session."),
  Command.withSubcommands(subcommands as [Command.Command<string, CliServices, unknown, unknown>])
)

export const cli: (args: ReadonlyArray<string>) => Effect.Effect<void, unknown, CliServices | import("@effect/cli/CliApp").CliApp.Environment> =
  Command.run(root, { name: "parallel-cc", version: typeof PCC_VERSION === "string" ? PCC_VERSION : "0.0.0-dev" })

/** How some commands' `--help` is laid out beyond what the tree says (see internal/HelpText.ts). */
export const helpLayouts: HelpLayouts = {
  "sandbox run": runHelp,
  // `migrate --version N` is the documented spelling; @effect/cli reserves --version, so the edge rewrites it.
  migrate: { renames: { "--target-version": "--version" } },
  // Lists on their own, finds or applies with a subcommand.
  conflicts: { usages: ["[--type TYPE] [--resolved] [--repo DIR] [--json]", "check [--repo DIR] [--branch BRANCH] [--into BRANCH] [--json]"] },
  suggestions: { usages: ["[--conflict ID] [--worktree DIR] [--min-confidence 0..1] [--applied] [--repo DIR] [--json]", "apply <id> [--worktree DIR] [--json]"] }
}

/** The version this build reports. */
export const version = typeof PCC_VERSION === "string" ? PCC_VERSION : "0.0.0-dev"
