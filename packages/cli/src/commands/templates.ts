/**
 * `parallel-cc templates list|show|create|delete|export|import` (managed templates for `sandbox run
 * --use-template`) and `parallel-cc budget status`.
 */
import { Args, Command, Options } from "@effect/cli"
import { Sandboxes, Templates } from "@parallel-cc/core"
import { Effect, Option, Schema } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { Layers } from "../internal/Env.js"
import { print, printJson, table } from "../internal/Output.js"
import { withSandboxes } from "../internal/Sandbox.js"

class TemplateUsage extends Schema.TaggedError<TemplateUsage>()("TemplateUsage", { detail: Schema.String }) {
  override get message(): string {
    return this.detail
  }
}

const json = Options.boolean("json").pipe(Options.withDescription("Print one JSON document"))
const force = Options.boolean("force").pipe(Options.withDescription("Replace a template of yours with the same name"))
const name = Args.text({ name: "name" }).pipe(Args.withDescription("The template's name"))

const describe = (t: Templates.Template): string =>
  [
    `name         ${t.name}${t.builtin ? " (shipped)" : ""}`,
    `description  ${t.description}`,
    `image        ${t.image ?? "(the provider's default)"}`,
    `setup        ${t.setup.length === 0 ? "(none)" : t.setup.map((c) => c.join(" ")).join("\n             ")}`,
    `env          ${Object.keys(t.env).length === 0 ? "(none)" : Object.entries(t.env).map(([k, v]) => `${k}=${v}`).join("\n             ")}`
  ].join("\n")

const list = Command.make("list", { json }, (o) =>
  withSandboxes(Effect.gen(function*() {
    const all = yield* Effect.flatMap(Templates.Templates, (t) => t.list)
    if (o.json) return yield* printJson({ templates: all })
    yield* print(table(
      ["NAME", "KIND", "SETUP", "DESCRIPTION"],
      all.map((t) => [t.name, t.builtin ? "shipped" : "yours", String(t.setup.length), t.description])
    ))
  }))).pipe(Command.withDescription("List the managed templates (shipped and yours)"))

const show = Command.make("show", { name, json }, (o) =>
  withSandboxes(Effect.gen(function*() {
    const t = yield* Effect.flatMap(Templates.Templates, (s) => s.get(o.name))
    if (o.json) return yield* printJson(t)
    yield* print(describe(t))
  }))).pipe(Command.withDescription("Show a template's setup commands and environment"))

const create = Command.make(
  "create",
  {
    name,
    description: Options.text("description").pipe(Options.withDescription("What the template is for")),
    setup: Options.text("setup").pipe(
      Options.withDescription("Setup commands as JSON, each an argument array: '[[\"npm\",\"ci\"]]' ({home}, {workdir}, {path} are expanded)"),
      Options.optional
    ),
    env: Options.keyValueMap("env").pipe(Options.withDescription("Environment for setup and agent: --env KEY=VALUE (repeatable)"), Options.optional),
    image: Options.text("image").pipe(Options.withDescription("The provider's template or image it needs (e2b)"), Options.optional),
    force,
    json
  },
  (o) =>
    withSandboxes(Effect.gen(function*() {
      let setup: unknown = []
      if (Option.isSome(o.setup)) {
        try {
          setup = JSON.parse(o.setup.value)
        } catch {
          return yield* new TemplateUsage({ detail: "--setup must be JSON: an array of argument arrays, e.g. '[[\"npm\",\"ci\"]]'" })
        }
      }
      const spec = {
        name: o.name,
        description: o.description,
        image: Option.getOrNull(o.image),
        setup,
        env: Option.match(o.env, { onNone: () => ({}), onSome: (m) => Object.fromEntries(m) })
      }
      const t = yield* Effect.flatMap(Templates.Templates, (s) => s.create(spec, { force: o.force }))
      if (o.json) return yield* printJson(t)
      yield* print(`Template ${t.name} saved.\n${describe(t)}`)
      if (Object.keys(t.env).some((k) => /KEY|TOKEN|SECRET|PASSWORD/i.test(k))) {
        yield* print("Note: template environment is stored in plain text; pass credentials with --auth-method, --npm-token or --ssh-key instead.")
      }
    }))
).pipe(Command.withDescription("Create a template of yours"))

const remove = Command.make("delete", { name, json }, (o) =>
  withSandboxes(Effect.gen(function*() {
    yield* Effect.flatMap(Templates.Templates, (s) => s.remove(o.name))
    if (o.json) return yield* printJson({ deleted: o.name })
    yield* print(`Template ${o.name} deleted.`)
  }))).pipe(Command.withDescription("Delete a template of yours"))

const exportCommand = Command.make(
  "export",
  { name, output: Options.text("output").pipe(Options.withDescription("Write to this file instead of stdout"), Options.optional) },
  (o) =>
    withSandboxes(Effect.gen(function*() {
      const text = yield* Effect.flatMap(Templates.Templates, (s) => s.exportJson(o.name))
      if (Option.isNone(o.output)) return yield* Effect.sync(() => process.stdout.write(text))
      const { cwd } = yield* Layers
      const file = path.resolve(cwd, o.output.value)
      yield* Effect.try({ try: () => fs.writeFileSync(file, text), catch: (e) => new TemplateUsage({ detail: `cannot write ${file}: ${String(e)}` }) })
      yield* print(`Template ${o.name} exported to ${file}.`)
    }))
).pipe(Command.withDescription("Print a template as JSON (to share it, or to import it under another name)"))

const importCommand = Command.make(
  "import",
  {
    file: Args.text({ name: "file" }).pipe(Args.withDescription("A file written by `templates export` (- for stdin)")),
    name: Options.text("name").pipe(Options.withDescription("Import it under this name"), Options.optional),
    force,
    json
  },
  (o) =>
    withSandboxes(Effect.gen(function*() {
      const { cwd } = yield* Layers
      const text = yield* Effect.try({
        try: () => fs.readFileSync(o.file === "-" ? 0 : path.resolve(cwd, o.file), "utf8"),
        catch: (e) => new TemplateUsage({ detail: `cannot read ${o.file}: ${e instanceof Error ? e.message : String(e)}` })
      })
      const t = yield* Effect.flatMap(Templates.Templates, (s) => s.importJson(text, { name: Option.getOrUndefined(o.name), force: o.force }))
      if (o.json) return yield* printJson(t)
      yield* print(`Template ${t.name} imported.\n${describe(t)}`)
    }))
).pipe(Command.withDescription("Import a template exported with `templates export`"))

/** `parallel-cc templates …`. */
export const templatesCommand = Command.make("templates").pipe(
  Command.withDescription("Managed templates for `sandbox run --use-template`: setup commands and environment"),
  Command.withSubcommands([list, show, create, remove, exportCommand, importCommand])
)

const budgetStatus = Command.make(
  "status",
  {
    period: Options.choice("period", ["daily", "weekly", "monthly"]).pipe(Options.withDescription("Only this period"), Options.optional),
    json
  },
  (o) =>
    withSandboxes(Effect.gen(function*() {
      const periods = yield* Effect.flatMap(Sandboxes.Sandboxes, (s) => s.budgetStatus(Option.getOrUndefined(o.period)))
      if (o.json) return yield* printJson({ periods })
      const usd = (n: number | null) => (n === null ? "-" : `$${n.toFixed(4)}`)
      yield* print(table(
        ["PERIOD", "SINCE", "LIMIT", "SPENT", "REMAINING", "RUNS", "RUNS COST", "SESSIONS", "SESSIONS COST"],
        periods.map((p) => [
          p.period,
          p.since.toISOString(),
          p.limitUsd === null ? "none" : usd(p.limitUsd),
          usd(p.spentUsd),
          usd(p.remainingUsd),
          String(p.runs),
          usd(p.runsUsd),
          String(p.sessions),
          usd(p.sessionsUsd)
        ])
      ))
      const unknown = [...new Set(periods.flatMap((p) => p.unknownSessions))]
      if (unknown.length > 0) {
        yield* print(
          `Not counted (cost unknown: a transcript unreadable, or a model without a price in cost.models): ${unknown.join(", ")}`
        )
      }
      if (periods.every((p) => p.limitUsd === null)) {
        yield* print("No budget is set: `parallel-cc config set budget.dailyUsd 5` (also weeklyUsd, monthlyUsd), or --budget per run.")
      }
    }))
).pipe(Command.withDescription("Spending of sandboxed runs and interactive sessions against the daily, weekly and monthly budgets"))

/** `parallel-cc budget status`. */
export const budgetCommand = Command.make("budget").pipe(
  Command.withDescription("Budgets of sandboxed runs and interactive sessions (limits: config budget.dailyUsd/weeklyUsd/monthlyUsd)"),
  Command.withSubcommands([budgetStatus])
)
