/**
 * Entry of the full CLI (bundled as dist/cli.cjs and started through the loader dist/bin.cjs).
 */
import { Command } from "@effect/cli"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { Effect, Option } from "effect"
import { cli, helpLayouts, root, version } from "./Cli.js"
import { tree } from "./internal/CommandTree.js"
import { render, terminal } from "./internal/HelpText.js"
import { extractGlobals, run } from "./internal/Main.js"
import { check } from "./internal/Preflight.js"
import { mainSubcommand } from "./wrapper.js"

export const main = (argv: ReadonlyArray<string>): void => {
  const globals = Option.getOrElse(extractGlobals(argv.slice(2)), () => {
    process.stderr.write("parallel-cc: error: --db needs a file path\n")
    process.exit(2)
  })
  const shell = completionsShell(globals.args)
  if (shell !== undefined) {
    run(completions(shell), globals, NodeContext.layer)
    return
  }
  if (globals.args[0] === "claude") {
    mainSubcommand(globals.args.slice(1), { dbPath: globals.dbPath, verbose: globals.verbose })
    return
  }
  const args = rewriteMigrateVersion(rewriteDeprecated(globals.args, (line) => process.stderr.write(line + "\n")))
  const verdict = check(tree(root), args, "parallel-cc")
  if (verdict._tag === "Help") {
    const { color, width } = terminal(process.stdout, process.env)
    process.stdout.write(render(verdict.command, { program: "parallel-cc", width, color, layouts: helpLayouts, version }))
    return
  }
  if (verdict._tag === "Error") {
    process.stderr.write(`parallel-cc: error: ${verdict.message}\n${verdict.hint !== undefined ? `${verdict.hint}\n` : ""}`)
    process.exitCode = 2
    return
  }
  run(cli(["node", "parallel-cc", ...args]).pipe(Effect.asVoid), globals, NodeContext.layer)
}

/**
 * The original tool's hyphenated commands, still accepted: each is rewritten to its subcommand form before
 * parsing (so they take exactly the new command's options) with a one-line warning on stderr.
 */
export const deprecatedCommands: Readonly<Record<string, ReadonlyArray<string>>> = {
  "mcp-serve": ["mcp", "serve"],
  "watch-merges": ["watch", "merges"],
  "merge-status": ["merge", "status"],
  "sandbox-run": ["sandbox", "run"],
  "sandbox-logs": ["sandbox", "logs"],
  "sandbox-download": ["sandbox", "download"],
  "sandbox-kill": ["sandbox", "kill"],
  "sandbox-list": ["sandbox", "list"],
  "sandbox-status": ["sandbox", "status"],
  // The original's schema upgrade command.
  "update": ["migrate"]
}

export const rewriteDeprecated = (args: ReadonlyArray<string>, warn: (line: string) => void): ReadonlyArray<string> => {
  const at = args.findIndex((a) => !a.startsWith("-"))
  const name = at >= 0 ? args[at]! : undefined
  const replacement = name !== undefined && Object.prototype.hasOwnProperty.call(deprecatedCommands, name)
    ? deprecatedCommands[name]!
    : undefined
  if (replacement === undefined) return args
  warn(`parallel-cc: warning: "${name}" is deprecated and will be removed; use "parallel-cc ${replacement.join(" ")}"`)
  return [...args.slice(0, at), ...replacement, ...args.slice(at + 1)]
}

const shells = ["bash", "zsh", "fish", "sh"] as const
type CompletionShell = (typeof shells)[number]

/** `--completions SHELL` alone on the command line. */
const completionsShell = (args: ReadonlyArray<string>): CompletionShell | undefined => {
  const value = args.length === 2 && args[0] === "--completions"
    ? args[1]
    : args.length === 1 && args[0]!.startsWith("--completions=")
    ? args[0]!.slice("--completions=".length)
    : undefined
  return shells.find((s) => s === value)
}

/**
 * The completion script from @effect/cli, with one fix: for a program name with a dash it mixes two
 * spellings of its internal names (`parallel-cc` and `parallel__cc`), which breaks completion below the
 * first level in bash and zsh. One spelling everywhere fixes it.
 */
const completions = (shell: CompletionShell) =>
  Effect.gen(function*() {
    const lines = shell === "fish"
      ? yield* Command.getFishCompletions(root, "parallel-cc")
      : shell === "zsh"
      ? yield* Command.getZshCompletions(root, "parallel-cc")
      : yield* Command.getBashCompletions(root, "parallel-cc")
    yield* Effect.sync(() => process.stdout.write(lines.join("\n").replaceAll("parallel__cc", "parallel-cc") + "\n"))
  })

/**
 * `migrate --version N` is the documented form, but @effect/cli reserves `--version` for the app version;
 * after `migrate`, a `--version` followed by a number is the target schema version.
 */
const rewriteMigrateVersion = (args: ReadonlyArray<string>): ReadonlyArray<string> => {
  const at = args.indexOf("migrate")
  if (at < 0 || args.slice(0, at).some((a) => !a.startsWith("-"))) return args
  return args.map((a, i) => {
    if (i <= at) return a
    if (a === "--version" && /^-?\d+$/.test(args[i + 1] ?? "")) return "--target-version"
    if (a.startsWith("--version=")) return `--target-version=${a.slice("--version=".length)}`
    return a
  })
}
