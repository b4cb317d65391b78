/**
 * zod from core's Schemas, so that the MCP server publishes and validates exactly the shapes core defines
 * (one definition per shape). The SDK's `McpServer` takes zod; core's shapes are `effect/Schema`. The bridge
 * is JSON Schema: `JSONSchema.make` of the Schema's encoded side (what travels: dates as ISO strings), turned
 * into the equivalent zod — types, nullability, enums, literals, string and number bounds, patterns, arrays,
 * records, optional fields and descriptions. Anything else throws when the server module loads (a test
 * loads every tool), so an unsupported shape can never be published wrong.
 *
 * Effect annotates its built-in schemas with descriptions meant for decoding errors ("an integer", "a string
 * to be decoded into a Date"); those are not documentation of the field and are left out. Field
 * descriptions the MCP documentation adds are laid over a derived object with {@link describe}, which
 * refuses a field the shape does not have.
 *
 * @since 0.2.0
 */
import { JSONSchema, type Schema } from "effect"
import { z } from "zod"

type Json = { readonly [key: string]: any }

const builtinDescription = [
  /^a string to be decoded into /,
  /^an integer$/,
  /^a (positive|negative|non-negative|non-positive|finite) number$/,
  /^a number (between|greater than|less than) /,
  /^a string (at least|at most|matching) /,
  /^a non empty string$/,
  /^an array of at (least|most) /
]

const refOf = (node: Json, root: Json): Json => {
  const ref = node.$ref as string
  const name = ref.startsWith("#/$defs/") ? ref.slice("#/$defs/".length) : undefined
  const target = name !== undefined ? root.$defs?.[name] : undefined
  if (target === undefined) throw new Error(`schemaZod: unresolvable $ref ${ref}`)
  const { $ref: _, ...rest } = node
  return { ...target, ...rest }
}

const stringOf = (node: Json) => {
  let s = z.string()
  if (node.minLength !== undefined) s = s.min(node.minLength)
  if (node.maxLength !== undefined) s = s.max(node.maxLength)
  if (node.pattern !== undefined) s = s.regex(new RegExp(node.pattern))
  return s
}

const numberOf = (node: Json) => {
  let n = node.type === "integer" ? z.number().int() : z.number()
  if (node.minimum !== undefined) n = n.min(node.minimum)
  if (node.maximum !== undefined) n = n.max(node.maximum)
  if (node.exclusiveMinimum !== undefined) n = n.gt(node.exclusiveMinimum)
  if (node.exclusiveMaximum !== undefined) n = n.lt(node.exclusiveMaximum)
  return n
}

const structOf = (node: Json, root: Json): z.ZodType => {
  const props = (node.properties ?? {}) as Record<string, Json>
  const required = new Set<string>(node.required ?? [])
  const shape = Object.fromEntries(
    Object.entries(props).map(([k, v]) => [k, required.has(k) ? convert(v, root) : convert(v, root).optional()])
  )
  const extra = node.additionalProperties
  if (Object.keys(props).length === 0 && extra !== undefined && extra !== false && extra !== true) {
    return z.record(z.string(), convert(extra, root))
  }
  return z.object(shape)
}

const unionOf = (alternatives: ReadonlyArray<Json>, root: Json): z.ZodType => {
  const nonNull = alternatives.filter((a) => a.type !== "null")
  const nullable = nonNull.length < alternatives.length
  const inner = nonNull.length === 1
    ? convert(nonNull[0]!, root)
    : z.union(nonNull.map((a) => convert(a, root)) as unknown as [z.ZodType, z.ZodType, ...Array<z.ZodType>])
  return nullable ? inner.nullable() : inner
}

const enumOf = (values: ReadonlyArray<unknown>): z.ZodType =>
  values.every((v) => typeof v === "string")
    ? z.enum(values as [string, ...Array<string>])
    : values.length === 1
    ? z.literal(values[0] as string | number | boolean | null)
    : z.union(values.map((v) => z.literal(v as string | number | boolean | null)) as unknown as [z.ZodType, z.ZodType])

const bare = (node: Json, root: Json): z.ZodType => {
  if (node.$ref !== undefined) return convert(refOf(node, root), root)
  if (node.anyOf !== undefined) return unionOf(node.anyOf, root)
  if (node.enum !== undefined) return enumOf(node.enum)
  if (node.const !== undefined) return z.literal(node.const)
  switch (node.type) {
    case "string":
      return stringOf(node)
    case "integer":
    case "number":
      return numberOf(node)
    case "boolean":
      return z.boolean()
    case "null":
      return z.null()
    case "array": {
      if (node.items === undefined || Array.isArray(node.items)) throw new Error("schemaZod: tuples are not supported")
      let a = z.array(convert(node.items, root))
      if (node.minItems !== undefined) a = a.min(node.minItems)
      if (node.maxItems !== undefined) a = a.max(node.maxItems)
      return a
    }
    case "object":
      return structOf(node, root)
    case undefined:
      if (Object.keys(node).every((k) => k === "description" || k === "title" || k === "$id")) return z.unknown()
  }
  throw new Error(`schemaZod: unsupported JSON Schema ${JSON.stringify(node)}`)
}

const convert = (node: Json, root: Json): z.ZodType => {
  const t = bare(node, root)
  const d = node.description
  return typeof d === "string" && !builtinDescription.some((r) => r.test(d)) ? t.describe(d) : t
}

/** zod for a value of wire type `I` (as the tools' handlers produce it). */
export type Zod<I> = z.ZodType<I, I>

/** The zod fields of a struct of wire type `I`. */
export type Shape<I> = { [K in keyof I]-?: Zod<I[K]> }

const make = (schema: Schema.Schema<any, any, any>): z.ZodType => {
  const root = JSONSchema.make(schema as Schema.Schema<unknown, unknown, never>) as Json
  return convert(root, root)
}

/** The zod equivalent of `schema`'s encoded (wire) form. */
export const zodOf = <A, I, R>(schema: Schema.Schema<A, I, R>): Zod<I> => make(schema) as unknown as Zod<I>

/** The zod object of a struct Schema's wire form (to extend, or to take the fields of). */
export const objectOf = <A, I, R>(schema: Schema.Schema<A, I, R>): z.ZodObject<Shape<I>> => {
  const t = make(schema)
  if (!(t instanceof z.ZodObject)) throw new Error("schemaZod.objectOf: not a struct")
  return t as unknown as z.ZodObject<Shape<I>>
}

/** The zod fields of a struct Schema's wire form, for a tool's `input` or `output`. */
export const shapeOf = <A, I, R>(schema: Schema.Schema<A, I, R>): Shape<I> => objectOf(schema).shape

/** Lay documentation over the fields of a derived object; a field it does not have is an error. */
export const describe = <S extends z.ZodRawShape>(
  object: z.ZodObject<S>,
  descriptions: { readonly [K in keyof S]?: string }
): z.ZodObject<S> => {
  const shape = { ...object.shape } as unknown as Record<string, z.ZodType>
  for (const [k, d] of Object.entries(descriptions)) {
    if (shape[k] === undefined) throw new Error(`schemaZod.describe: no field ${k}`)
    shape[k] = shape[k]!.describe(d as string)
  }
  return z.object(shape) as unknown as z.ZodObject<S>
}

/** `z.array` typed for core's readonly arrays. */
export const arrayOf = <T>(item: z.ZodType<T, any>): Zod<ReadonlyArray<T>> => z.array(item) as unknown as Zod<ReadonlyArray<T>>
