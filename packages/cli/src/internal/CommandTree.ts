/**
 * The @effect/cli command tree as data: every command with its path, description, options and arguments,
 * read through the public `CommandDescriptor.getHelp` (HelpDoc) so that `--help` (HelpText), the argument
 * check before parsing (Preflight) and docs/cli.md (CliReference) describe exactly what @effect/cli parses.
 *
 * Walking: `Command.getSubcommands` flattens nested subcommands away (`config get` is not reachable
 * through it), so the walk follows the descriptor tree: `Map` wraps a command, `Subcommands` has a
 * `parent` and ordered `children`, `Standard` is a leaf.
 */
import { CliConfig, type HelpDoc } from "@effect/cli"
import * as Descriptor from "@effect/cli/CommandDescriptor"
import type * as Span from "@effect/cli/HelpDoc/Span"

type Node =
  | { readonly _tag: "Standard" | "GetUserInput"; readonly name: string }
  | { readonly _tag: "Map"; readonly command: Node }
  | { readonly _tag: "Subcommands"; readonly parent: Node; readonly children: ReadonlyArray<Node> }

/** One option of a command, as its help describes it. */
export interface OptionInfo {
  /** `--repo`, and the aliases (`-n` for `--lines`). */
  readonly name: string
  readonly aliases: ReadonlyArray<string>
  /** What the value is: `text`, `integer`, `float`, or the choices; undefined for a flag. */
  readonly value: { readonly _tag: "text" | "integer" | "float" } | { readonly _tag: "choice"; readonly choices: ReadonlyArray<string> } | undefined
  readonly required: boolean
  readonly repeated: boolean
  /** The option's own description (the generic type lines and "This setting is optional." left out). */
  readonly description: string
}

/** One positional argument. */
export interface ArgumentInfo {
  readonly name: string
  readonly repeated: boolean
  readonly required: boolean
  readonly description: string
}

export interface CommandInfo {
  /** The words after the program name, e.g. ["config", "get"] ([] for the program itself). */
  readonly path: ReadonlyArray<string>
  readonly description: string
  readonly options: ReadonlyArray<OptionInfo>
  readonly arguments: ReadonlyArray<ArgumentInfo>
  /** Subcommands, in definition order (empty for a leaf). */
  readonly children: ReadonlyArray<CommandInfo>
  readonly descriptor: Descriptor.Command<unknown>
}

const helpConfig = CliConfig.make({ showBuiltIns: false })

// ---- HelpDoc reading ------------------------------------------------------------------------------------

/** A span as plain text. */
export const plain = (span: Span.Span): string => {
  switch (span._tag) {
    case "Text":
    case "URI":
      return span.value
    case "Highlight":
    case "Strong":
    case "Weak":
      return plain(span.value)
    case "Sequence":
      return plain(span.left) + plain(span.right)
  }
}

/** The blocks of a HelpDoc, flattened out of its sequences. */
export const blocks = (doc: HelpDoc.HelpDoc): Array<HelpDoc.HelpDoc> =>
  doc._tag === "Sequence" ? [...blocks(doc.left), ...blocks(doc.right)] : doc._tag === "Empty" ? [] : [doc]

/** One paragraph per block, as plain text. */
export const paragraphs = (doc: HelpDoc.HelpDoc): Array<string> =>
  blocks(doc).flatMap((b) => {
    switch (b._tag) {
      case "Paragraph":
      case "Header":
        return [plain(b.value).trim()]
      case "DescriptionList":
        return b.definitions.map(([term, d]) => `${plain(term)}: ${paragraphs(d).join(" ")}`)
      case "Enumeration":
        return b.elements.flatMap(paragraphs)
      default:
        return []
    }
  }).filter((p) => p !== "")

// @effect/cli's help for plain primitives says what the term already shows; these lines are not the
// option's description.
const generic = [
  /^A user-defined piece of text\.$/,
  /^A true or false value\.$/,
  /^An integer\.$/,
  /^A floating point number\.$/,
  /^One of the following: /,
  /^This setting is optional\./,
  /^This (option|argument) may be repeated /
]

const describe = (text: ReadonlyArray<string>) =>
  text.filter((p) => !generic.some((r) => r.test(p))).map((p) => (/[.!?:]$/.test(p) ? p : `${p}.`)).join(" ")

/** `--provider local | e2b`, `(-n, --lines integer)`, `--task text...` → name, aliases, value. */
const parseTerm = (term: string, text: ReadonlyArray<string>): OptionInfo => {
  const repeated = term.endsWith("...") || text.some((p) => /may be repeated/.test(p))
  const inner = term.replace(/\.\.\.$/, "").replace(/^\((.*)\)$/, "$1")
  const names = inner.split(/,\s*/)
  const last = names[names.length - 1]!
  const space = last.indexOf(" ")
  const flag = space < 0 ? last : last.slice(0, space)
  const type = space < 0 ? undefined : last.slice(space + 1).trim()
  const aliases = names.slice(0, -1).map((n) => n.trim())
  const value: OptionInfo["value"] = type === undefined
    ? undefined
    : type === "text" || type === "integer" || type === "float"
    ? { _tag: type }
    : { _tag: "choice", choices: type.split(/\s*\|\s*/) }
  const optional = text.some((p) => /^This setting is optional\./.test(p))
  return { name: flag, aliases, value, required: !optional && !repeated, repeated, description: describe(text) }
}

const parseArgument = (term: string, text: ReadonlyArray<string>): ArgumentInfo => {
  const repeated = term.endsWith("...")
  return {
    name: term.replace(/\.\.\.$/, "").replace(/^<(.*)>$/, "$1"),
    repeated,
    required: !repeated && !text.some((p) => /^This setting is optional\./.test(p)),
    description: describe(text)
  }
}

const readHelp = (descriptor: Descriptor.Command<unknown>) => {
  const out = { description: [] as Array<string>, options: [] as Array<OptionInfo>, arguments: [] as Array<ArgumentInfo> }
  let section = ""
  for (const b of blocks(Descriptor.getHelp(descriptor, helpConfig))) {
    if (b._tag === "Header") {
      section = plain(b.value)
      continue
    }
    if (section === "DESCRIPTION") out.description.push(...paragraphs(b))
    else if (b._tag === "DescriptionList") {
      for (const [term, d] of b.definitions) {
        if (section === "OPTIONS") out.options.push(parseTerm(plain(term), paragraphs(d)))
        else if (section === "ARGUMENTS") out.arguments.push(parseArgument(plain(term), paragraphs(d)))
      }
    }
  }
  return { description: out.description.join(" "), options: out.options, arguments: out.arguments }
}

// ---- the walk ---------------------------------------------------------------------------------------------

const nameOf = (node: Node): string =>
  node._tag === "Map" ? nameOf(node.command) : node._tag === "Subcommands" ? nameOf(node.parent) : node.name

const leafOf = (node: Node): Node => (node._tag === "Map" ? leafOf(node.command) : node._tag === "Subcommands" ? leafOf(node.parent) : node)

const unwrap = (n: Node): Node => (n._tag === "Map" ? unwrap(n.command) : n)

/** A command whose help is read only when asked for (a start-up reads only the commands on its path). */
const build = (node: Node, path: ReadonlyArray<string>): CommandInfo => {
  const unwrapped = unwrap(node)
  const descriptor = leafOf(node) as unknown as Descriptor.Command<unknown>
  let help: ReturnType<typeof readHelp> | undefined
  const read = () => (help ??= readHelp(descriptor))
  let children: ReadonlyArray<CommandInfo> | undefined
  return {
    path,
    descriptor,
    get description() {
      return read().description
    },
    get options() {
      return read().options
    },
    get arguments() {
      return read().arguments
    },
    get children() {
      return (children ??= unwrapped._tag === "Subcommands"
        ? unwrapped.children.map((c) => build(c, [...path, nameOf(c)]))
        : [])
    }
  }
}

/** The tree under `root`, paths relative to the program (the root's path is []). */
export const tree = (root: { readonly descriptor: unknown }): CommandInfo => build(root.descriptor as Node, [])

/** Every command of the tree, depth first, in definition order. */
export const flatten = (c: CommandInfo): Array<CommandInfo> => [c, ...c.children.flatMap(flatten)]

/** The command at `path`, if there is one. */
export const find = (root: CommandInfo, path: ReadonlyArray<string>): CommandInfo | undefined =>
  path.reduce<CommandInfo | undefined>((c, word) => c?.children.find((x) => x.path[x.path.length - 1] === word), root)

/** The option of `command` that `flag` (`--json`, `-n`) names. */
export const optionOf = (command: CommandInfo, flag: string): OptionInfo | undefined =>
  command.options.find((o) => o.name === flag || o.aliases.includes(flag))
