/**
 * Entry of the full CLI (bundled as dist/cli.cjs and started through the loader dist/bin.cjs).
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { Effect, Option } from "effect"
import { cli } from "./Cli.js"
import { extractGlobals, run } from "./internal/Main.js"
import { mainSubcommand } from "./wrapper.js"

export const main = (argv: ReadonlyArray<string>): void => {
  const globals = Option.getOrElse(extractGlobals(argv.slice(2)), () => {
    process.stderr.write("parallel-cc: error: --db needs a file path\n")
    process.exit(2)
  })
  if (globals.args[0] === "claude") {
    mainSubcommand(globals.args.slice(1), { dbPath: globals.dbPath, verbose: globals.verbose })
    return
  }
  run(
    cli(["node", "parallel-cc", ...rewriteMigrateVersion(globals.args)]).pipe(Effect.asVoid),
    globals,
    NodeContext.layer
  )
}

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
