/**
 * A look at the arguments before @effect/cli parses them, against the same command tree: it finds the
 * command they name, and answers `--help` with our own page (HelpText), and the common mistakes with a
 * message in the style of `git`/`gh` — an unknown command or option with "did you mean", a value that is
 * not among an option's choices with the allowed values, a missing value or a missing required option —
 * all on one line starting `parallel-cc: error:`, plus the `--help` to run. Anything it does not recognise
 * as a mistake is left to @effect/cli, so the accepted language does not change.
 */
import { type CommandInfo, optionOf } from "./CommandTree.js"
import { metavar } from "./HelpText.js"

export type Verdict =
  | { readonly _tag: "Help"; readonly command: CommandInfo }
  | { readonly _tag: "Error"; readonly command: CommandInfo; readonly message: string; readonly hint?: string | undefined }
  | { readonly _tag: "Parse" }

/** Options @effect/cli adds to every command, and whether each takes a value. */
const builtIns: ReadonlyArray<readonly [string, boolean]> = [
  ["--version", false],
  ["--wizard", false],
  ["--log-level", true],
  ["--completions", true]
]

/** Edit distance counting a swap of neighbours as one edit (optimal string alignment), for "did you mean". */
export const distance = (a: string, b: string): number => {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)])
  for (let j = 1; j <= b.length; j++) d[0]![j] = j
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1)
    }
  }
  return d[a.length]![b.length]!
}

/** The closest of `candidates` to `word`, when it is close enough to be a typo (or `word` is its prefix). */
export const suggest = (word: string, candidates: ReadonlyArray<string>): string | undefined => {
  const bare = (s: string) => s.replace(/^-+/, "")
  const scored = candidates
    .map((c) => ({ c, d: bare(c).startsWith(bare(word)) && bare(word).length >= 2 ? 0.5 : distance(bare(word), bare(c)) }))
    .sort((x, y) => x.d - y.d)
  const best = scored[0]
  return best !== undefined && best.d <= Math.max(1, Math.min(3, Math.floor(bare(word).length / 3))) ? best.c : undefined
}

const nameOf = (c: CommandInfo) => c.path[c.path.length - 1] ?? ""

/** Check `args` (after the global flags were taken out) against the tree under `root`. */
export const check = (root: CommandInfo, args: ReadonlyArray<string>, program: string): Verdict => {
  let command = root
  let help = false
  let positionals = 0
  const where = () => `"${[program, ...command.path].join(" ")}"`
  const fail = (message: string, hint?: string): Verdict => ({
    _tag: "Error",
    command,
    message,
    hint: `${hint !== undefined ? `${hint}\n` : ""}Run "${[program, ...command.path].join(" ")} --help" for usage.`
  })
  const seen = new Set<string>()
  let builtInUsed = false
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (arg === "--") break
    if (arg === "-h" || arg === "--help") {
      help = true
      continue
    }
    if (arg.startsWith("-") && arg !== "-") {
      const eq = arg.startsWith("--") ? arg.indexOf("=") : -1
      const flag = eq > 0 ? arg.slice(0, eq) : arg
      const builtIn = builtIns.find(([n]) => n === flag)
      if (builtIn !== undefined) {
        if (builtIn[1] && eq < 0) i++
        // --log-level only tunes the run; --version, --completions and --wizard are @effect/cli's to answer.
        if (flag !== "--log-level") builtInUsed = true
        continue
      }
      const option = optionOf(command, flag)
      if (option === undefined) {
        // A command with positional arguments may take one that looks like an option (a config value).
        if (command.arguments.length > 0 && command.children.length === 0) {
          positionals++
          continue
        }
        const names = [...command.options.flatMap((o) => [o.name, ...o.aliases]), "--help"]
        const close = suggest(flag, names)
        return fail(`unknown option ${flag} for ${where()}`, close !== undefined ? `Did you mean ${close}?` : undefined)
      }
      seen.add(option.name)
      if (option.value === undefined) continue
      const value = eq > 0 ? arg.slice(eq + 1) : args[i + 1]
      if (value === undefined) {
        return fail(`${flag} needs a value (${metavar(option)})`)
      }
      if (eq < 0) i++
      const v = option.value
      if (v._tag === "choice" && !v.choices.includes(value)) {
        return fail(`invalid value for ${flag}: ${JSON.stringify(value)}; allowed: ${v.choices.join(", ")}`)
      }
      if (v._tag === "integer" && !/^-?\d+$/.test(value)) return fail(`invalid value for ${flag}: ${JSON.stringify(value)} is not an integer`)
      if (v._tag === "float" && (value.trim() === "" || !Number.isFinite(Number(value)))) {
        return fail(`invalid value for ${flag}: ${JSON.stringify(value)} is not a number`)
      }
      continue
    }
    if (command.children.length > 0) {
      const child = command.children.find((c) => nameOf(c) === arg)
      if (child === undefined) {
        const close = suggest(arg, command.children.map(nameOf))
        return fail(`unknown command ${JSON.stringify(arg)} for ${where()}`, close !== undefined ? `Did you mean ${JSON.stringify(close)}?` : undefined)
      }
      command = child
      seen.clear()
      continue
    }
    positionals++
    if (command.arguments.length === 0) return fail(`${where()} takes no arguments (got ${JSON.stringify(arg)})`)
  }
  if (help) return { _tag: "Help", command }
  if (builtInUsed) return { _tag: "Parse" }
  // A group answers with its help; a command with subcommands and options of its own (`conflicts`,
  // `suggestions`) runs itself.
  if (command.children.length > 0 && command.options.length === 0) return { _tag: "Help", command }
  const missing = command.options.find((o) => o.required && !seen.has(o.name))
  if (missing !== undefined) return fail(`${where()} needs ${missing.name} ${metavar(missing) ?? ""}`.trimEnd())
  const needed = command.arguments.filter((a) => a.required).length
  if (positionals < needed) return fail(`${where()} needs <${command.arguments[positionals]?.name ?? "argument"}>`)
  return { _tag: "Parse" }
}
