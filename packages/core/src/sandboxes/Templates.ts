/**
 * Managed templates for sandboxed runs (`--use-template NAME`): setup commands run in the sandbox before
 * the agent, and environment for both. Three ship with parallel-cc; users create, import and export more
 * (stored in the database). A template may also name the provider's image (`--template`) it needs.
 *
 * Setup commands are argument arrays, never shell lines. In arguments and environment values `{home}`,
 * `{workdir}` and `{path}` stand for the sandbox user's home, the work tree copy and the agent's PATH.
 *
 * @since 0.1.0
 */
import { Clock, Context, Effect, Layer, Option, ParseResult, Schema } from "effect"
import { Database, type DbFailure } from "../platform/Database.js"

const Name = Schema.String.pipe(
  Schema.pattern(/^[a-z0-9][a-z0-9._-]{0,63}$/, {
    message: () => "a template name is 1 to 64 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit"
  })
)
// eslint-disable-next-line no-control-regex
const noControl = /^[^\u0000-\u0008\u000b-\u001f\u007f]*$/
const Arg = Schema.String.pipe(Schema.maxLength(4096), Schema.pattern(noControl, { message: () => "control characters are not allowed" }))
const Command = Schema.Array(Arg).pipe(Schema.minItems(1), Schema.maxItems(64))
const reservedEnv = /^(HOME|TMPDIR|IS_SANDBOX|PARALLEL_CC_.*)$/
const EnvName = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, { message: () => "environment variable names are letters, digits and '_'" }),
  Schema.filter((n) => !reservedEnv.test(n) || `${n} is set by parallel-cc and cannot come from a template`)
)

/** A template as users write it (the JSON of `templates export`/`import`, without `builtin`). */
export const TemplateSpec = Schema.Struct({
  name: Name,
  description: Schema.String.pipe(Schema.maxLength(500)),
  /** The provider's template or image this needs (used when `--template` is not given). */
  image: Schema.optionalWith(
    Schema.NullOr(Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,199}$/, { message: () => "not a valid image name" }))),
    { default: () => null }
  ),
  setup: Schema.optionalWith(Schema.Array(Command).pipe(Schema.maxItems(20)), { default: () => [] }),
  env: Schema.optionalWith(
    Schema.Record({ key: EnvName, value: Arg }).pipe(Schema.filter((r) => Object.keys(r).length <= 64 || "at most 64 variables")),
    { default: () => ({}) }
  )
})
export type TemplateSpec = typeof TemplateSpec.Type

/** A template, shipped (`builtin`) or the user's. */
export interface Template extends TemplateSpec {
  readonly builtin: boolean
}

/** The shipped templates. */
export const builtins: ReadonlyArray<Template> = [
  {
    name: "node20-typescript",
    description: "Node.js 20 + TypeScript: installs the locked dependencies (npm ci) before the agent starts",
    image: null,
    setup: [["npm", "ci", "--no-audit", "--no-fund"]],
    env: { NODE_ENV: "development", npm_config_update_notifier: "false" },
    builtin: true
  },
  {
    name: "python312-fastapi",
    description: "Python 3.12 + FastAPI: a virtualenv in the sandbox home with requirements.txt installed, on PATH",
    image: null,
    setup: [
      ["python3", "-m", "venv", "{home}/venv"],
      ["{home}/venv/bin/pip", "install", "--quiet", "--disable-pip-version-check", "-r", "requirements.txt"]
    ],
    env: { VIRTUAL_ENV: "{home}/venv", PATH: "{home}/venv/bin:{path}", PYTHONDONTWRITEBYTECODE: "1", PIP_NO_INPUT: "1" },
    builtin: true
  },
  {
    name: "nextjs",
    description: "Next.js: installs the locked dependencies (npm ci); telemetry off",
    image: null,
    setup: [["npm", "ci", "--no-audit", "--no-fund"]],
    env: { NEXT_TELEMETRY_DISABLED: "1", NODE_ENV: "development" },
    builtin: true
  }
]

/** A template operation failed. */
export class TemplateError extends Schema.TaggedError<TemplateError>()("TemplateError", {
  reason: Schema.Literal("NotFound", "Exists", "Builtin", "Invalid"),
  name: Schema.String,
  detail: Schema.optional(Schema.String)
}) {
  override get message(): string {
    switch (this.reason) {
      case "NotFound":
        return `no template named ${JSON.stringify(this.name)}; see \`parallel-cc templates list\``
      case "Exists":
        return `a template named ${this.name} already exists; choose another name or pass --force to replace it`
      case "Builtin":
        return `${this.name} is a shipped template and cannot be changed or deleted; export it and import it under another name`
      case "Invalid":
        return `invalid template${this.name !== "" ? ` ${this.name}` : ""}: ${this.detail ?? ""}`
    }
  }
}

/** The export format: a versioned JSON document. */
const Exported = Schema.extend(Schema.Struct({ parallelCcTemplate: Schema.Literal(1) }), TemplateSpec)

export class Templates extends Context.Tag("@parallel-cc/core/Templates")<Templates, {
  /** Shipped templates first, then the user's, by name. */
  readonly list: Effect.Effect<ReadonlyArray<Template>, DbFailure>
  readonly get: (name: string) => Effect.Effect<Template, TemplateError | DbFailure>
  /** Check and store a template (`force` replaces one of the user's with the same name). */
  readonly create: (spec: unknown, options?: { readonly force?: boolean | undefined }) => Effect.Effect<Template, TemplateError | DbFailure>
  readonly remove: (name: string) => Effect.Effect<void, TemplateError | DbFailure>
  /** A JSON document `import` reads back. */
  readonly exportJson: (name: string) => Effect.Effect<string, TemplateError | DbFailure>
  /** Read an exported document; `name` renames it. */
  readonly importJson: (
    text: string,
    options?: { readonly name?: string | undefined; readonly force?: boolean | undefined }
  ) => Effect.Effect<Template, TemplateError | DbFailure>
}>() {}

const decodeSpec = (input: unknown, name: string) =>
  Schema.decodeUnknown(TemplateSpec, { onExcessProperty: "error" })(input).pipe(
    Effect.mapError((e) =>
      new TemplateError({ reason: "Invalid", name, detail: ParseResult.TreeFormatter.formatErrorSync(e).split("\n").slice(-1)[0]?.trim() ?? "" })
    )
  )

interface Row {
  readonly name: string
  readonly description: string
  readonly image: string | null
  readonly setup: string
  readonly env: string
}

export const make = Effect.gen(function*() {
  const db = yield* Database
  const sql = db.sql

  const fromRow = (r: Row): Template => ({
    name: r.name,
    description: r.description,
    image: r.image,
    setup: JSON.parse(r.setup) as Template["setup"],
    env: JSON.parse(r.env) as Template["env"],
    builtin: false
  })

  const userTemplates = db.orFail(sql<Row>`SELECT name, description, image, setup, env FROM sandbox_templates ORDER BY name`).pipe(
    Effect.map((rows) => rows.map(fromRow))
  )

  const list = Effect.map(userTemplates, (mine) => [...builtins, ...mine])

  const get = (name: string) =>
    Effect.gen(function*() {
      const b = builtins.find((t) => t.name === name)
      if (b !== undefined) return b
      const rows = yield* db.orFail(sql<Row>`SELECT name, description, image, setup, env FROM sandbox_templates WHERE name = ${name}`)
      return yield* Option.match(Option.fromNullable(rows[0]), {
        onNone: () => Effect.fail(new TemplateError({ reason: "NotFound", name })),
        onSome: (r) => Effect.succeed(fromRow(r))
      })
    })

  const store = (spec: TemplateSpec, force: boolean) =>
    Effect.gen(function*() {
      if (builtins.some((t) => t.name === spec.name)) return yield* new TemplateError({ reason: "Builtin", name: spec.name })
      const now = yield* Clock.currentTimeMillis
      yield* db.immediate(Effect.gen(function*() {
        const existing = yield* sql<{ name: string }>`SELECT name FROM sandbox_templates WHERE name = ${spec.name}`
        if (existing.length > 0 && !force) return yield* new TemplateError({ reason: "Exists", name: spec.name })
        const row = {
          name: spec.name,
          description: spec.description,
          image: spec.image,
          setup: JSON.stringify(spec.setup),
          env: JSON.stringify(spec.env),
          created_at: now,
          updated_at: now
        }
        if (existing.length > 0) {
          yield* sql`UPDATE sandbox_templates SET ${
            sql.update({ description: row.description, image: row.image, setup: row.setup, env: row.env, updated_at: now })
          } WHERE name = ${spec.name}`
        } else {
          yield* sql`INSERT INTO sandbox_templates ${sql.insert(row)}`
        }
      }))
      return { ...spec, builtin: false } satisfies Template
    })

  const create = (input: unknown, options: { readonly force?: boolean | undefined } = {}) =>
    Effect.flatMap(
      decodeSpec(input, typeof (input as { name?: unknown })?.name === "string" ? (input as { name: string }).name : ""),
      (spec) => store(spec, options.force === true)
    )

  const remove = (name: string) =>
    Effect.gen(function*() {
      if (builtins.some((t) => t.name === name)) return yield* new TemplateError({ reason: "Builtin", name })
      const deleted = yield* db.orFail(sql<{ name: string }>`DELETE FROM sandbox_templates WHERE name = ${name} RETURNING name`)
      if (deleted.length === 0) return yield* new TemplateError({ reason: "NotFound", name })
    })

  const exportJson = (name: string) =>
    Effect.map(get(name), (t) =>
      JSON.stringify(
        { parallelCcTemplate: 1, name: t.name, description: t.description, image: t.image, setup: t.setup, env: t.env },
        null,
        2
      ) + "\n")

  const importJson = (text: string, options: { readonly name?: string | undefined; readonly force?: boolean | undefined } = {}) =>
    Effect.gen(function*() {
      let json: unknown
      try {
        json = JSON.parse(text)
      } catch (e) {
        return yield* new TemplateError({ reason: "Invalid", name: options.name ?? "", detail: `not JSON (${e instanceof Error ? e.message : String(e)})` })
      }
      const doc = yield* Schema.decodeUnknown(Exported, { onExcessProperty: "error" })(
        options.name !== undefined && json !== null && typeof json === "object" ? { ...json, name: options.name } : json
      ).pipe(
        Effect.mapError((e) =>
          new TemplateError({
            reason: "Invalid",
            name: options.name ?? "",
            detail: `not a parallel-cc template export: ${ParseResult.TreeFormatter.formatErrorSync(e).split("\n").slice(-1)[0]?.trim() ?? ""}`
          })
        )
      )
      const { parallelCcTemplate: _version, ...spec } = doc
      return yield* store(spec, options.force === true)
    })

  return Templates.of({ list, get, create, remove, exportJson, importJson })
})

/** Templates over the Database. */
export const layer = Layer.effect(Templates, make)

/** Replace `{home}`, `{workdir}` and `{path}` in a template value. */
export const expand = (value: string, vars: { readonly home: string; readonly workdir: string; readonly path: string }): string =>
  value.replace(/\{(home|workdir|path)\}/g, (_, k: "home" | "workdir" | "path") => vars[k])
