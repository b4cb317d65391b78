/**
 * `--help`, rendered by us from the command tree (CommandTree) rather than by @effect/cli, whose help is
 * laid out for a ~740-column page, repeats a generic line and "This setting is optional." under every
 * option, names the command without its path (`$ run …`) and colours its output even when piped.
 *
 * The page follows `git`/`gh`: the description, `Usage:` lines with the real command path (required
 * options shown bare, optional ones in brackets, `[options]` once a command has many), the subcommands or
 * the options in aligned columns — grouped where a command says how (`sandbox run`: the single run, the
 * `--multi` form, …) — and the global options. Text is wrapped to the terminal's width (80 columns when
 * stdout is not a terminal); headings are bold only on a terminal, and never with `NO_COLOR`.
 */
import { type CommandInfo, type OptionInfo } from "./CommandTree.js"

/** How one command's help is laid out beyond what the tree says (see `HelpLayouts`). */
export interface HelpLayout {
  /** Usage lines after the command path, replacing the generated one (e.g. the two forms of `sandbox run`). */
  readonly usages?: ReadonlyArray<string>
  /** Option sections, by flag; options not named in any section are listed last under "Other options". */
  readonly groups?: ReadonlyArray<{ readonly title: string; readonly options: ReadonlyArray<string> }>
  /** Options shown under another name (`migrate --target-version` is `--version N` to users). */
  readonly renames?: Readonly<Record<string, string>>
}

/** Layouts by command path (`"sandbox run"`). */
export type HelpLayouts = Readonly<Record<string, HelpLayout>>

export interface RenderOptions {
  readonly program: string
  readonly width: number
  readonly color: boolean
  readonly layouts?: HelpLayouts | undefined
  /** The program's version, shown on its own page. */
  readonly version?: string | undefined
}

/** The options every command accepts (handled by the edge or by @effect/cli itself). */
export const globalOptions: ReadonlyArray<{ readonly term: string; readonly description: string }> = [
  { term: "--db FILE", description: "The database file (default <dataDir>/coordinator.db; dataDir from PARALLEL_CC_DATA_DIR, else ~/.parallel-cc)." },
  { term: "--verbose", description: "Diagnostics on stderr (also PARALLEL_CC_DEBUG=1)." },
  { term: "--log-level LEVEL", description: "The least severe log messages to show on stderr: all, trace, debug, info, warning, error, fatal or none." },
  { term: "--completions SHELL", description: "Print a completion script for bash, zsh, fish or sh." },
  { term: "--version", description: "Print the version." },
  { term: "-h, --help", description: "Show help for a command." }
]

/** The width and colour help should use on this process's stdout. */
export const terminal = (
  stdout: { readonly isTTY?: boolean | undefined; readonly columns?: number | undefined },
  env: Readonly<Record<string, string | undefined>>
): { readonly width: number; readonly color: boolean } => {
  const tty = stdout.isTTY === true
  const width = tty && stdout.columns !== undefined && stdout.columns > 0 ? Math.max(40, stdout.columns) : 80
  const color = tty && (env.NO_COLOR === undefined || env.NO_COLOR === "") && env.TERM !== "dumb"
  return { width, color }
}

/** Wrap `text` into lines of at most `width` characters (a longer word gets a line of its own). */
export const wrap = (text: string, width: number): Array<string> => {
  const lines: Array<string> = []
  let line = ""
  for (const word of text.split(/\s+/).filter((w) => w !== "")) {
    if (line === "") line = word
    else if (line.length + 1 + word.length <= width) line += ` ${word}`
    else {
      lines.push(line)
      line = word
    }
  }
  if (line !== "") lines.push(line)
  return lines
}

/** The width of the term column for `terms`: the longest, but at most 30 % of the page. */
export const termColumn = (terms: ReadonlyArray<string>, width: number): number =>
  Math.min(Math.max(0, ...terms.map((t) => t.length)), Math.max(12, Math.floor(width * 0.3)))

/** Rows of `term  description`, the descriptions in one column, wrapped; a long term gets its own line. */
export const columns = (
  rows: ReadonlyArray<readonly [string, string]>,
  width: number,
  options: { readonly indent?: number; readonly termWidth?: number } = {}
): Array<string> => {
  const indent = options.indent ?? 2
  const termWidth = options.termWidth ?? termColumn(rows.map(([t]) => t), width)
  const descColumn = indent + termWidth + 2
  const descWidth = Math.max(20, width - descColumn)
  const out: Array<string> = []
  for (const [term, description] of rows) {
    const lines = wrap(description, descWidth)
    if (term.length > termWidth) {
      out.push(" ".repeat(indent) + term)
      for (const l of lines) out.push(" ".repeat(descColumn) + l)
    } else {
      const [first = "", ...rest] = lines
      out.push((" ".repeat(indent) + term.padEnd(termWidth + 2) + first).trimEnd())
      for (const l of rest) out.push(" ".repeat(descColumn) + l)
    }
  }
  return out
}

const metavars: Readonly<Record<string, string>> = {
  "--repo": "DIR",
  "--output-dir": "DIR",
  "--resume": "DIR",
  "--into": "BRANCH",
  "--prompt-file": "FILE",
  "--task-file": "FILE",
  "--file": "FILE",
  "--ssh-key": "FILE",
  "--output": "FILE",
  "--session-id": "ID",
  "--session": "ID",
  "--cancel": "ID",
  "--conflict": "ID",
  "--worktree": "DIR",
  "--pid": "PID",
  "--branch": "BRANCH",
  "--target-branch": "BRANCH",
  "--timeout": "DURATION",
  "--budget": "USD",
  "--min-confidence": "0..1",
  "--git-user": "NAME",
  "--git-email": "EMAIL",
  "--npm-token": "TOKEN",
  "--npm-registry": "URL",
  "--env": "KEY=VALUE",
  "--agent": "AGENT",
  "--name": "NAME",
  "--template": "NAME",
  "--use-template": "NAME",
  "--image": "IMAGE",
  "--test": "COMMAND",
  "--setup": "COMMAND",
  "--type": "TYPE",
  "--prompt": "TEXT",
  "--task": "TEXT",
  "--description": "TEXT"
}

/** The placeholder of an option's value: `DIR`, `N`, `local|e2b`. */
export const metavar = (o: OptionInfo): string | undefined => {
  const v = o.value
  if (v === undefined) return undefined
  if (v._tag === "choice") return v.choices.join("|")
  return metavars[o.name] ?? (v._tag === "integer" ? "N" : v._tag === "float" ? "NUMBER" : "VALUE")
}

const termOf = (o: OptionInfo, renames: Readonly<Record<string, string>>): string => {
  const m = metavar(o)
  const name = renames[o.name] ?? o.name
  return [...o.aliases, `${name}${m !== undefined ? ` ${m}` : ""}${o.repeated ? "..." : ""}`].join(", ")
}

/** `--pid PID` for a required option, `[--json]` for an optional one. */
const usageWord = (o: OptionInfo, renames: Readonly<Record<string, string>>): string => {
  const m = metavar(o)
  const word = `${renames[o.name] ?? o.name}${m !== undefined ? ` ${m}` : ""}${o.repeated ? "..." : ""}`
  return o.required ? word : `[${word}]`
}

const argumentWord = (a: CommandInfo["arguments"][number]) => {
  const word = `<${a.name}>${a.repeated ? "..." : ""}`
  return a.required ? word : `[${word}]`
}

/** The usage lines of `c` (after "Usage:"), each starting with the full command path. */
export const usages = (c: CommandInfo, o: Pick<RenderOptions, "program" | "layouts">): Array<string> => {
  const head = [o.program, ...c.path].join(" ")
  const layout = o.layouts?.[c.path.join(" ")]
  if (layout?.usages !== undefined) return layout.usages.map((u) => `${head} ${u}`)
  if (c.children.length > 0) return [`${head} <command> [options]`]
  const renames = layout?.renames ?? {}
  const required = c.options.filter((x) => x.required).map((x) => usageWord(x, renames))
  const optional = c.options.length - required.length > 5
    ? ["[options]"]
    : c.options.filter((x) => !x.required).map((x) => usageWord(x, renames))
  return [[head, ...required, ...optional, ...c.arguments.map(argumentWord)].join(" ")]
}

const optionSections = (c: CommandInfo, layout: HelpLayout | undefined) => {
  const groups = layout?.groups ?? []
  const named = new Set(groups.flatMap((g) => g.options))
  const byName = (n: string) => c.options.find((x) => x.name === n)
  const sections = groups
    .map((g) => ({ title: g.title, options: g.options.map(byName).filter((x): x is OptionInfo => x !== undefined) }))
    .filter((g) => g.options.length > 0)
  const rest = c.options.filter((x) => !named.has(x.name))
  if (rest.length > 0) sections.push({ title: groups.length > 0 ? "Other options" : "Options", options: rest })
  return sections
}

/** The whole `--help` page of `c`. */
export const render = (c: CommandInfo, o: RenderOptions): string => {
  const { width } = o
  const heading = (t: string) => (o.color ? `\x1b[1m${t}\x1b[0m` : t)
  const layout = o.layouts?.[c.path.join(" ")]
  const renames = layout?.renames ?? {}
  const out: Array<string> = []
  const isRoot = c.path.length === 0
  out.push(...wrap(c.description, width), "")
  if (isRoot && o.version !== undefined) out.push(`Version ${o.version}`, "")
  out.push(heading("Usage:"))
  for (const u of usages(c, o)) {
    const [first = "", ...rest] = wrap(u, width - 2)
    out.push(`  ${first}`, ...rest.map((l) => `      ${l}`))
  }
  out.push("")
  if (c.children.length > 0) {
    // Every command below this one, nested ones by their path (`config get`), so one page lists them all.
    const below = (x: CommandInfo): Array<CommandInfo> => [x, ...x.children.flatMap(below)]
    const all = c.children.flatMap(below)
    out.push(heading("Commands:"))
    out.push(...columns(all.map((x) => [x.path.slice(c.path.length).join(" "), x.description] as const), width))
    out.push("")
  }
  if (c.arguments.length > 0) {
    out.push(heading("Arguments:"))
    out.push(...columns(c.arguments.map((a) => [argumentWord(a), a.description] as const), width))
    out.push("")
  }
  const sections = optionSections(c, layout)
  const termWidth = termColumn(sections.flatMap((s) => s.options.map((x) => termOf(x, renames))), width)
  for (const section of sections) {
    out.push(heading(`${section.title}:`))
    out.push(
      ...columns(section.options.map((x) => [termOf(x, renames), x.description + (x.required ? " Required." : "")] as const), width, { termWidth })
    )
    out.push("")
  }
  if (isRoot) {
    out.push(heading("Global options:"))
    out.push(...columns(globalOptions.map((g) => [g.term, g.description] as const), width))
    out.push("")
    out.push(...wrap(`Run "${o.program} <command> --help" for a command's options. Reference: docs/cli.md.`, width))
  } else {
    out.push(...wrap(`Global options: ${globalOptions.map((g) => g.term).join(", ")} (see "${o.program} --help").`, width))
    if (c.children.length > 0) out.push(...wrap(`Run "${[o.program, ...c.path].join(" ")} <command> --help" for a command's options.`, width))
  }
  return out.join("\n") + "\n"
}
