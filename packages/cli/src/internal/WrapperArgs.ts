/**
 * The wrapper's own flags, which come before the agent's arguments:
 *
 *   claude-parallel [--name NAME] [--base REF] [--worktree [NAME] | --no-worktree] [--require-repo]
 *                   [--session ID|NAME] [--] [agent args…]
 *   parallel-cc claude [--agent CMD] (the same flags) [--] [agent args…]
 *
 * The first argument that is not one of them starts the agent's arguments; `--` ends them explicitly (and is
 * not passed on), so `claude-parallel -- --name x` gives the agent its own `--name x`. `--worktree NAME` is
 * `--worktree --name NAME` (as Claude Code's `--worktree [name]` names its worktree); `-w` is left to the
 * agent.
 */

export interface WrapperFlags {
  readonly agent?: string | undefined
  readonly name?: string | undefined
  readonly base?: string | undefined
  readonly worktree?: "always" | "never" | undefined
  readonly session?: string | undefined
  readonly requireRepo: boolean
  /** Only `parallel-cc claude --help`. */
  readonly help: boolean
}

export type Parsed =
  | { readonly _tag: "Ok"; readonly flags: WrapperFlags; readonly agentArgs: ReadonlyArray<string> }
  | { readonly _tag: "Usage"; readonly message: string }

const usage = (message: string): Parsed => ({ _tag: "Usage", message })

/** Parse the wrapper's flags; `withAgent` also accepts `--agent CMD` and `--help` (the `parallel-cc claude` form). */
export const parseWrapperArgs = (args: ReadonlyArray<string>, options: { readonly withAgent: boolean }): Parsed => {
  const flags: { -readonly [K in keyof WrapperFlags]: WrapperFlags[K] } = { requireRepo: false, help: false }
  let i = 0
  const valued = (flag: string): string | Parsed => {
    const a = args[i]!
    if (a.startsWith(`${flag}=`)) return a.slice(flag.length + 1)
    const v = args[i + 1]
    if (v === undefined || v === "" || v.startsWith("-")) return usage(`${flag} needs a value`)
    i++
    return v
  }
  for (; i < args.length; i++) {
    const a = args[i]!
    const key = a.startsWith("--") && a.includes("=") ? a.slice(0, a.indexOf("=")) : a
    if (a === "--") {
      i++
      break
    }
    let v: string | Parsed | undefined
    switch (key) {
      case "--name":
      case "--base":
      case "--session":
        v = valued(key)
        if (typeof v !== "string") return v
        if (key === "--name") flags.name = v
        else if (key === "--base") flags.base = v
        else flags.session = v
        continue
      case "--worktree": {
        flags.worktree = "always"
        if (a.includes("=")) flags.name = a.slice("--worktree=".length)
        else {
          const next = args[i + 1]
          if (next !== undefined && /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(next) && flags.name === undefined && next !== "--") {
            flags.name = next
            i++
          }
        }
        continue
      }
      case "--no-worktree":
        flags.worktree = "never"
        continue
      case "--require-repo":
        flags.requireRepo = true
        continue
    }
    if (options.withAgent && key === "--agent") {
      v = valued(key)
      if (typeof v !== "string") return v
      flags.agent = v
      continue
    }
    if (options.withAgent && (a === "--help" || a === "-h")) {
      flags.help = true
      continue
    }
    break
  }
  if (flags.worktree === "never" && (flags.name !== undefined || flags.base !== undefined)) {
    return usage("--name and --base give the session its own worktree; they cannot be combined with --no-worktree")
  }
  if (flags.session !== undefined && (flags.name !== undefined || flags.base !== undefined || flags.worktree !== undefined)) {
    return usage("--session re-enters a kept worktree as it is; it cannot be combined with --name, --base or --worktree")
  }
  return { _tag: "Ok", flags, agentArgs: args.slice(i) }
}
