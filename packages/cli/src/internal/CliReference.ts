/**
 * The CLI reference (docs/cli.md), rendered from the @effect/cli command tree itself — the same
 * descriptions, usages and option help that `--help` prints — so the page cannot drift from the CLI.
 * `node scripts/reference-docs.mjs` writes it; `--check` (run by `npm run lint`) fails when it is stale.
 *
 * Walking: `Command.getSubcommands` flattens nested subcommands away (`config get` is not reachable
 * through it), so the walk follows the descriptor tree: `Map` wraps a command, `Subcommands` has a
 * `parent` and ordered `children`, `Standard` is a leaf. Each command's text comes from the public
 * `CommandDescriptor.getHelp` / `getUsage` and is rendered from HelpDoc to Markdown here.
 */
import { CliConfig, type Command, HelpDoc } from "@effect/cli"
import * as Descriptor from "@effect/cli/CommandDescriptor"
import type * as Span from "@effect/cli/HelpDoc/Span"
import * as Usage from "@effect/cli/Usage"

type Node =
  | { readonly _tag: "Standard" | "GetUserInput"; readonly name: string }
  | { readonly _tag: "Map"; readonly command: Node }
  | { readonly _tag: "Subcommands"; readonly parent: Node; readonly children: ReadonlyArray<Node> }

interface Entry {
  /** The words after the program name, e.g. ["config", "get"]. */
  readonly path: ReadonlyArray<string>
  readonly descriptor: Descriptor.Command<unknown>
  /** Whether it only groups subcommands (has no handler of its own worth documenting). */
  readonly group: boolean
}

const config = CliConfig.make({ showBuiltIns: false })

const nameOf = (node: Node): string =>
  node._tag === "Map" ? nameOf(node.command) : node._tag === "Subcommands" ? nameOf(node.parent) : node.name

/** Every command under `node`, depth first, in definition order. */
const walk = (node: Node, prefix: ReadonlyArray<string>): Array<Entry> => {
  switch (node._tag) {
    case "Map":
      return walk(node.command, prefix)
    case "Standard":
    case "GetUserInput":
      return [{ path: [...prefix, node.name], descriptor: node as unknown as Descriptor.Command<unknown>, group: false }]
    case "Subcommands": {
      const here = [...prefix, nameOf(node.parent)]
      const parent = walk(node.parent, prefix).map((e) => ({ ...e, group: true }))
      return [...parent, ...node.children.flatMap((c) => walk(c, here))]
    }
  }
}

// ---- HelpDoc → Markdown -------------------------------------------------------------------------------

const escape = (text: string) => text.replace(/([\\*<>|])/g, "\\$1")

/** A span as plain text (for code spans and headings). */
const plain = (span: Span.Span): string => {
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

/** A span as Markdown text. */
const inline = (span: Span.Span): string => {
  switch (span._tag) {
    case "Text":
      return escape(span.value)
    case "URI":
      return `<${span.value}>`
    case "Strong":
      return `**${inline(span.value)}**`
    case "Highlight":
    case "Weak":
      return inline(span.value)
    case "Sequence":
      return inline(span.left) + inline(span.right)
  }
}

/** The blocks of a HelpDoc, flattened out of its sequences. */
const blocks = (doc: HelpDoc.HelpDoc): Array<HelpDoc.HelpDoc> =>
  doc._tag === "Sequence" ? [...blocks(doc.left), ...blocks(doc.right)] : doc._tag === "Empty" ? [] : [doc]

/** One paragraph per block, for the text under an option or argument. */
const paragraphs = (doc: HelpDoc.HelpDoc): Array<string> =>
  blocks(doc).flatMap((b) => {
    switch (b._tag) {
      case "Paragraph":
      case "Header":
        return [inline(b.value).trim()]
      case "DescriptionList":
        return b.definitions.map(([term, d]) => `${inline(term)}: ${paragraphs(d).join(" ")}`)
      case "Enumeration":
        return b.elements.flatMap(paragraphs)
      default:
        return []
    }
  }).filter((p) => p !== "")

interface Sections {
  readonly description: Array<string>
  readonly arguments: Array<[string, Array<string>]>
  readonly options: Array<[string, Array<string>]>
}

/** Split a command's help into its DESCRIPTION, ARGUMENTS and OPTIONS sections. */
const sections = (doc: HelpDoc.HelpDoc): Sections => {
  const out: Sections = { description: [], arguments: [], options: [] }
  let current = ""
  for (const b of blocks(doc)) {
    if (b._tag === "Header") {
      current = plain(b.value)
      continue
    }
    if (current === "DESCRIPTION") out.description.push(...paragraphs(b))
    else if ((current === "ARGUMENTS" || current === "OPTIONS") && b._tag === "DescriptionList") {
      const into = current === "ARGUMENTS" ? out.arguments : out.options
      for (const [term, d] of b.definitions) into.push([plain(term), paragraphs(d)])
    }
  }
  return out
}

const usageOf = (entry: Entry, program: string): string => {
  const text = blocks(Usage.getHelp(Descriptor.getUsage(entry.descriptor)))
    .map((b) => (b._tag === "Paragraph" ? plain(b.value) : ""))
    .join(" ")
    .trim()
  // getUsage starts with the command's own name; put the full path in front of the rest.
  const rest = text.startsWith(entry.path[entry.path.length - 1]!) ? text.slice(entry.path[entry.path.length - 1]!.length) : ` ${text}`
  return `${program} ${entry.path.join(" ")}${rest}`.trimEnd()
}

const anchor = (path: ReadonlyArray<string>) => path.join("-")

// @effect/cli's help for plain primitives repeats what the usage already shows (`--pid integer`).
const generic = new Set(["A user-defined piece of text.", "A true or false value.", "An integer.", "A floating point number."])

/** One option or argument: what its help says (less the generic type line), and whether it is optional. */
const item = (term: string, text: ReadonlyArray<string>): string => {
  let optional = ""
  const rest: Array<string> = []
  for (const p of text) {
    const m = /^This setting is optional\.(?: Defaults to: (.*))?$/.exec(p)
    if (m !== null) optional = m[1] !== undefined ? `optional, default ${m[1]}` : "optional"
    else if (!generic.has(p)) rest.push(p)
  }
  const body = rest.map((p) => (/[.!?)\]}:]$/.test(p) ? p : `${p}.`)).join(" ")
  return `- \`${term}\`${optional !== "" ? ` (${optional})` : ""} — ${body}`
}

/** Markdown for the whole tree under `root` (the program's top-level command). */
export const markdown = (
  root: Command.Command<string, any, any, any>,
  options: { readonly program: string; readonly intro: string; readonly outro?: string }
): string => {
  const tree = root.descriptor as unknown as Node
  const entries = walk(tree, []).map((e) => ({ ...e, path: e.path.slice(1) })).filter((e) => e.path.length > 0)
  const out: Array<string> = []
  out.push(options.intro.trimEnd(), "")
  out.push("| command | what it does |", "| --- | --- |")
  for (const e of entries) {
    const desc = sections(Descriptor.getHelp(e.descriptor, config)).description.join(" ")
    out.push(`| [\`${options.program} ${e.path.join(" ")}\`](#${anchor(e.path)}) | ${desc} |`)
  }
  out.push("")
  for (const e of entries) {
    const s = sections(Descriptor.getHelp(e.descriptor, config))
    out.push(`<a id="${anchor(e.path)}"></a>`, "", `## \`${options.program} ${e.path.join(" ")}\``, "")
    if (s.description.length > 0) out.push(...s.description.map((p) => `${p}\n`))
    if (e.group) {
      const children = entries.filter((c) => c.path.length === e.path.length + 1 && c.path.slice(0, -1).join(" ") === e.path.join(" "))
      out.push(`Subcommands: ${children.map((c) => `[\`${c.path.join(" ")}\`](#${anchor(c.path)})`).join(", ")}.`, "")
      continue
    }
    out.push("```", usageOf(e, options.program), "```", "")
    if (s.arguments.length > 0) {
      out.push("Arguments:", "")
      for (const [term, text] of s.arguments) out.push(item(term, text))
      out.push("")
    }
    if (s.options.length > 0) {
      out.push("Options:", "")
      for (const [term, text] of s.options) out.push(item(term, text))
      out.push("")
    }
  }
  if (options.outro !== undefined) out.push(options.outro.trimEnd(), "")
  return out.join("\n").replace(/\n{3,}/g, "\n\n")
}

/** Render a HelpDoc as plain text (for tests comparing with `--help`). */
export const text = (doc: HelpDoc.HelpDoc): string => paragraphs(doc).join("\n")
