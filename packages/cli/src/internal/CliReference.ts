/**
 * The CLI reference (docs/cli.md), rendered from the same command tree and layouts as `--help`
 * (CommandTree, HelpText) — descriptions, usage lines, option groups and value placeholders — so the page
 * cannot drift from the CLI. `node scripts/reference-docs.mjs` writes it; `--check` (run by
 * `npm run lint`) fails when it is stale.
 */
import { type CommandInfo, flatten, type OptionInfo, tree } from "./CommandTree.js"
import { globalOptions, type HelpLayouts, metavar, usages } from "./HelpText.js"

const escape = (text: string) => text.replace(/([\\*<>|])/g, "\\$1")

const anchor = (path: ReadonlyArray<string>) => path.join("-")

const term = (o: OptionInfo, renames: Readonly<Record<string, string>>): string => {
  const m = metavar(o)
  return [...o.aliases, `${renames[o.name] ?? o.name}${m !== undefined ? ` ${m}` : ""}${o.repeated ? "..." : ""}`].join(", ")
}

const item = (name: string, text: string, flags: ReadonlyArray<string>) =>
  `- \`${name}\`${flags.length > 0 ? ` (${flags.join(", ")})` : ""} — ${escape(text)}`

const optionLines = (c: CommandInfo, layouts: HelpLayouts): Array<string> => {
  const layout = layouts[c.path.join(" ")]
  const renames = layout?.renames ?? {}
  const groups = layout?.groups ?? []
  const named = new Set(groups.flatMap((g) => g.options))
  const sections = [
    ...groups.map((g) => ({ title: g.title, options: g.options.map((n) => c.options.find((o) => o.name === n)).filter((o): o is OptionInfo => o !== undefined) })),
    { title: groups.length > 0 ? "Other options" : "Options", options: c.options.filter((o) => !named.has(o.name)) }
  ].filter((s) => s.options.length > 0)
  return sections.flatMap((s) => [
    `${s.title}:`,
    "",
    ...s.options.map((o) => item(term(o, renames), o.description, [...(o.required ? ["required"] : []), ...(o.repeated ? ["repeatable"] : [])])),
    ""
  ])
}

/** Markdown for the whole tree under `root` (the program's top-level command). */
export const markdown = (
  root: { readonly descriptor: unknown },
  options: { readonly program: string; readonly intro: string; readonly outro?: string; readonly layouts?: HelpLayouts }
): string => {
  const layouts = options.layouts ?? {}
  const entries = flatten(tree(root)).filter((e) => e.path.length > 0)
  const out: Array<string> = []
  out.push(options.intro.trimEnd(), "")
  out.push("Global options, accepted by every command:", "")
  for (const g of globalOptions) out.push(`- \`${g.term}\` — ${escape(g.description)}`)
  out.push("")
  out.push("| command | what it does |", "| --- | --- |")
  for (const e of entries) out.push(`| [\`${options.program} ${e.path.join(" ")}\`](#${anchor(e.path)}) | ${escape(e.description)} |`)
  out.push("")
  for (const e of entries) {
    out.push(`<a id="${anchor(e.path)}"></a>`, "", `## \`${options.program} ${e.path.join(" ")}\``, "")
    if (e.description !== "") out.push(escape(e.description), "")
    if (e.children.length > 0) {
      out.push(`Subcommands: ${e.children.map((c) => `[\`${c.path.join(" ")}\`](#${anchor(c.path)})`).join(", ")}.`, "")
      continue
    }
    out.push("```", ...usages(e, { program: options.program, layouts }), "```", "")
    if (e.arguments.length > 0) {
      out.push("Arguments:", "")
      for (const a of e.arguments) {
        out.push(item(`<${a.name}>${a.repeated ? "..." : ""}`, a.description, [...(a.required ? [] : ["optional"]), ...(a.repeated ? ["repeatable"] : [])]))
      }
      out.push("")
    }
    out.push(...optionLines(e, layouts))
  }
  if (options.outro !== undefined) out.push(options.outro.trimEnd(), "")
  return out.join("\n").replace(/\n{3,}/g, "\n\n")
}
