/**
 * The reference part of docs/mcp-tools.md, rendered from the tool definitions themselves — names, titles,
 * descriptions, hints, and the JSON Schema the SDK publishes for each input and output shape — so it
 * cannot drift from the server. `node scripts/reference-docs.mjs` writes it; `--check` (run by
 * `npm run lint`) fails when it is stale.
 */
import { z } from "zod"
import type { AnyTool } from "../Tool.js"

interface JsonSchema {
  readonly type?: string | ReadonlyArray<string>
  readonly enum?: ReadonlyArray<unknown>
  readonly const?: unknown
  readonly anyOf?: ReadonlyArray<JsonSchema>
  readonly oneOf?: ReadonlyArray<JsonSchema>
  readonly items?: JsonSchema
  readonly properties?: Readonly<Record<string, JsonSchema>>
  readonly required?: ReadonlyArray<string>
  readonly description?: string
  readonly minimum?: number
  readonly maximum?: number
  readonly exclusiveMinimum?: number
  readonly minLength?: number
  readonly maxLength?: number
  readonly minItems?: number
  readonly maxItems?: number
}

const cell = (text: string) => text.replace(/\|/g, "\\|").replace(/\n/g, " ")

// zod's .int() publishes the safe-integer bounds; they say nothing to a reader.
const bound = (n: number | undefined) => (n === undefined || Math.abs(n) >= Number.MAX_SAFE_INTEGER ? undefined : n)

const range = (s: JsonSchema): string => {
  const lo = bound(s.minimum) ?? (s.exclusiveMinimum !== undefined ? s.exclusiveMinimum + 1 : undefined)
  const hi = bound(s.maximum)
  if (lo !== undefined && hi !== undefined) return ` ${lo}–${hi}`
  if (lo !== undefined) return ` ≥ ${lo}`
  if (hi !== undefined) return ` ≤ ${hi}`
  if (s.maxLength !== undefined && s.maxLength < 4096) return ` ≤ ${s.maxLength} chars`
  return ""
}

/** A compact type: `string`, `integer 1–500`, `"A" \| "B"`, `{ a, b? }[]`, `string \| null`. */
export const typeOf = (s: JsonSchema): string => {
  const alternatives = s.anyOf ?? s.oneOf
  if (alternatives !== undefined) return alternatives.map(typeOf).join(" | ")
  if (s.const !== undefined) return JSON.stringify(s.const)
  if (s.enum !== undefined) return s.enum.map((v) => JSON.stringify(v)).join(" | ")
  if (Array.isArray(s.type)) return (s.type as ReadonlyArray<string>).map((t) => typeOf({ ...s, type: t })).join(" | ")
  switch (s.type) {
    case "array":
      return s.items !== undefined ? `${wrap(typeOf(s.items))}[]` : "array"
    case "object": {
      if (s.properties === undefined) return "object"
      const required = new Set(s.required ?? [])
      return `{ ${Object.keys(s.properties).map((k) => (required.has(k) ? k : `${k}?`)).join(", ")} }`
    }
    case "integer":
    case "number":
      return `${s.type}${range(s)}`
    case "string":
      return `string${range(s)}`
    case undefined:
      return "any"
    default:
      return s.type as string
  }
}

const wrap = (t: string) => (t.includes(" | ") ? `(${t})` : t)

const fields = (shape: z.ZodRawShape, kind: "input" | "output"): Array<string> => {
  const schema = z.toJSONSchema(z.object(shape), { io: kind }) as JsonSchema
  const props = Object.entries(schema.properties ?? {})
  if (props.length === 0) return [kind === "input" ? "No arguments." : "No result fields.", ""]
  const required = new Set(schema.required ?? [])
  if (kind === "output") {
    return [
      "| field | type | description |",
      "| --- | --- | --- |",
      ...props.map(([name, s]) => `| \`${name}\` | ${cell(typeOf(s))} | ${cell(s.description ?? "")} |`),
      ""
    ]
  }
  return [
    "| argument | type | required | description |",
    "| --- | --- | --- | --- |",
    ...props.map(([name, s]) =>
      `| \`${name}\` | ${cell(typeOf(s))} | ${required.has(name) ? "yes" : "no"} | ${cell(s.description ?? "")} |`
    ),
    ""
  ]
}

/** The generated reference: one section per tool, in listing order. */
export const markdown = (tools: ReadonlyArray<AnyTool>): string => {
  const out: Array<string> = []
  out.push("| tool | title | read-only |", "| --- | --- | --- |")
  for (const t of tools) out.push(`| [\`${t.name}\`](#tool-${t.name}) | ${cell(t.title)} | ${t.readOnly === true ? "yes" : "no"} |`)
  out.push("")
  for (const t of tools) {
    const hints = [
      t.readOnly === true ? "read-only" : "changes state",
      ...(t.idempotent === true ? ["idempotent"] : t.idempotent === false ? ["not idempotent"] : [])
    ]
    out.push(
      `<a id="tool-${t.name}"></a>`,
      "",
      `### \`${t.name}\` — ${t.title}`,
      "",
      `${t.description}`,
      "",
      `*${hints.join(", ")}*`,
      "",
      "Input:",
      "",
      ...fields(t.input, "input"),
      "Output (`structuredContent`):",
      "",
      ...fields(t.output, "output")
    )
  }
  return out.join("\n").replace(/\n{3,}/g, "\n\n").trimEnd() + "\n"
}
