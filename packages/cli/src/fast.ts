/**
 * The start-up fast path for the hot commands. It parses with the shared specs and runs the same handlers
 * as the full CLI, without loading @effect/cli. When it does not fully understand the arguments it returns
 * false and the loader starts the full CLI, which then owns every help text and usage error.
 */
import * as NodeCommandExecutor from "@effect/platform-node/NodeCommandExecutor"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import { Layer, Option } from "effect"
import { heartbeat } from "./commands/heartbeat.js"
import { register } from "./commands/register.js"
import { release } from "./commands/release.js"
import { status } from "./commands/status.js"
import { worktreeHook } from "./commands/worktreeHook.js"
import { type CommandDef, runDef } from "./internal/Command.js"
import { extractGlobals, run } from "./internal/Main.js"
import { parseFast, type Spec } from "./internal/Spec.js"

const hot: Record<string, CommandDef<Spec>> = {
  status: status as unknown as CommandDef<Spec>,
  register: register as unknown as CommandDef<Spec>,
  release: release as unknown as CommandDef<Spec>,
  heartbeat: heartbeat as unknown as CommandDef<Spec>,
  "worktree-hook": worktreeHook as unknown as CommandDef<Spec>
}

const platform = Layer.mergeAll(NodeFileSystem.layer, NodePath.layer, NodeCommandExecutor.layer).pipe(
  Layer.provideMerge(NodeFileSystem.layer)
)

export const main = (argv: ReadonlyArray<string>): boolean => {
  const globals = extractGlobals(argv.slice(2))
  if (Option.isNone(globals)) return false
  const [name, ...rest] = globals.value.args
  const def = name !== undefined ? hot[name] : undefined
  if (def === undefined) return false
  const parsed = parseFast(def.spec, rest)
  if (Option.isNone(parsed)) return false
  run(runDef(def, parsed.value), globals.value, platform)
  return true
}
