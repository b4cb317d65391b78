/**
 * Whether the commands (`parallel-cc`, `claude-parallel`) are on PATH, and when they are not, where they are
 * installed and the exact line that puts that directory on PATH for the user's shell. Right after
 * `scripts/install.sh` the link directory (`~/.local/bin`) is often not on PATH yet: that is "not on PATH",
 * told apart from an alias that runs another installation ("outdated").
 *
 * @since 0.2.0
 */
import { Effect, Option } from "effect"
import { fishQuote, isExecutable, readText, which } from "../../platform/files.js"
import { pathDirs } from "../../platform/Host.js"
import type { InstallContext } from "./context.js"
import { type Shell, Shells } from "./model.js"

export const Commands = ["parallel-cc", "claude-parallel"] as const
export type CommandName = (typeof Commands)[number]

export interface CommandStatus {
  readonly command: CommandName
  /** on-path: found on PATH; not-on-path: installed in `dir`, which is not on PATH; missing: neither. */
  readonly state: "on-path" | "not-on-path" | "missing"
  /** Where it is (on PATH, or the link found off PATH). */
  readonly path: string | null
  readonly detail: string
  /** With not-on-path: the line to add, and to which file. */
  readonly fix: { readonly file: string; readonly line: string } | null
}

/**
 * The links `scripts/install.sh` made, from the clone's `.install-state` (`link PATH` lines); the clone is
 * three levels above the shipped wrapper (`<clone>/packages/cli/dist/wrapper.cjs`). Empty when there is none.
 */
export const installedLinks = (ctx: InstallContext): Effect.Effect<ReadonlyArray<string>> =>
  Effect.gen(function*() {
    const state = ctx.path.join(ctx.path.dirname(ctx.artifacts.wrapper), "..", "..", "..", ".install-state")
    const text = yield* readText(ctx.fs, ctx.path.normalize(state)).pipe(Effect.map((t) => t.text), Effect.orElseSucceed(() => ""))
    return text.split("\n").filter((l) => l.startsWith("link ")).map((l) => l.slice("link ".length)).filter((p) => ctx.path.isAbsolute(p))
  })

/** Where a command may be installed off PATH: install.sh's record, `PARALLEL_CC_INSTALL_DIR`, `~/.local/bin`. */
export const candidates = (ctx: InstallContext, name: CommandName): Effect.Effect<ReadonlyArray<string>> =>
  Effect.map(installedLinks(ctx), (links) => {
    const dirs = [
      ...links.filter((l) => ctx.path.basename(l) === name).map((l) => ctx.path.dirname(l)),
      ...(ctx.host.env.PARALLEL_CC_INSTALL_DIR ? [ctx.path.resolve(ctx.host.cwd, ctx.host.env.PARALLEL_CC_INSTALL_DIR)] : []),
      ctx.path.join(ctx.host.homeDir, ".local", "bin")
    ]
    return [...new Set(dirs)].map((d) => ctx.path.join(d, name))
  })

/** The user's shell (from SHELL; bash when it is none we write for). */
const loginShell = (ctx: InstallContext): Shell => {
  const name = ctx.path.basename(ctx.host.env.SHELL ?? "")
  return Shells.find((s) => s === name) ?? "bash"
}

/** The line that puts `dir` on PATH for `shell`, in the file it goes in. */
export const pathLine = (ctx: InstallContext, shell: Shell, dir: string): { readonly file: string; readonly line: string } => {
  const plain = /^[A-Za-z0-9_./+,@%=-]+$/.test(dir)
  const line = shell === "fish"
    ? `fish_add_path ${fishQuote(dir)}`
    : plain
    ? `export PATH="${dir}:$PATH"`
    : `export PATH='${dir.replace(/'/g, `'\\''`)}':"$PATH"`
  return { file: ctx.rcFile(shell), line }
}

/** Each command: on PATH, installed off PATH (with the line to add), or missing. Never fails. */
export const commandsStatus = (ctx: InstallContext): Effect.Effect<ReadonlyArray<CommandStatus>> =>
  Effect.forEach(Commands, (command) =>
    Effect.gen(function*() {
      const onPath = yield* which(ctx.fs, ctx.path, command, pathDirs(ctx.host.env), ctx.host.cwd)
      if (Option.isSome(onPath)) {
        return { command, state: "on-path" as const, path: onPath.value, detail: `${command} → ${onPath.value}`, fix: null }
      }
      for (const c of yield* candidates(ctx, command)) {
        if (!(yield* isExecutable(ctx.fs, c))) continue
        const dir = ctx.path.dirname(c)
        const fix = pathLine(ctx, loginShell(ctx), dir)
        return {
          command,
          state: "not-on-path" as const,
          path: c,
          detail: `${command} is installed in ${dir}, which is not on PATH`,
          fix
        }
      }
      return {
        command,
        state: "missing" as const,
        path: null,
        detail: `${command} is not on PATH`,
        fix: null
      }
    }))
