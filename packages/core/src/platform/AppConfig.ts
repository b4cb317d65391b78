/**
 * Configuration: one registry of keys, read from (highest first) command-line flags, `PARALLEL_CC_*`
 * environment variables, the config file `<dataDir>/config.json`, and the defaults below.
 *
 * Core never reads `process.env`: the edge (CLI, MCP server, Promise facade) builds a ConfigProvider with
 * {@link envProvider} and installs it; this module reads it through Effect `Config`.
 *
 * @since 0.1.0
 */
import { FileSystem, Path } from "@effect/platform"
import { Config, ConfigProvider, Context, Effect, Either, Layer, Option, ParseResult, Schema } from "effect"
import { ConfigError } from "../Errors.js"
import * as ConfigSnapshot from "./configSnapshot.js"

/** How a key's value is written in env vars and on the command line: as is, or as JSON. */
export type Kind = "string" | "json"

/** One configuration key. */
export interface KeyDef<A> {
  readonly key: string
  readonly description: string
  readonly kind: Kind
  readonly schema: Schema.Schema<A, any>
  readonly default: A
  /** Human description of the accepted values, used in error messages. */
  readonly allowed: string
}

const def = <A>(d: KeyDef<A>): KeyDef<A> => d

const IntRange = (min: number, max: number) =>
  Schema.Number.pipe(Schema.int(), Schema.between(min, max))

const NonEmptyArgv = Schema.Array(Schema.String).pipe(Schema.minItems(1))

// eslint-disable-next-line no-control-regex
const controlChars = /[\u0000-\u001f\u007f]/

/**
 * A directory given in configuration: absolute, or empty for the default. A relative path would mean a
 * different place from every directory a command starts in, so it is refused where it is set.
 */
const AbsoluteDirOrEmpty = Schema.String.pipe(
  Schema.filter((s) =>
    s === "" ||
    (s.startsWith("/") && !controlChars.test(s) && !s.split("/").includes("..")) ||
    `must be an absolute path without '..' or control characters (got ${JSON.stringify(s)}); for example "$HOME/worktrees" written out as /home/you/worktrees`
  )
)

/** How an agent option takes its value, for finding the first argument that is not an option. */
export const OptionArity = Schema.Literal("value", "optional", "variadic")

/** The invocations of one agent that are not agent sessions (run directly by claude-parallel). */
export const PassThroughRule = Schema.Struct({
  /** A first argument (not an option or an option's value) that names one of these runs directly. */
  subcommands: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] }),
  /** Any of these options (before `--`) runs directly, e.g. --version, --help. */
  flags: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] }),
  /** Options that take a value, so that their value is not taken for a subcommand. */
  options: Schema.optionalWith(Schema.Record({ key: Schema.String, value: OptionArity }), { default: () => ({}) })
})
export type PassThroughRule = typeof PassThroughRule.Type

export const PassThroughTable = Schema.Record({ key: Schema.String, value: PassThroughRule })
export type PassThroughTable = typeof PassThroughTable.Type

/** Ignored output that a release may delete with a worktree: dependencies, build output, caches. */
export const DEFAULT_REGENERABLE: ReadonlyArray<string> = [
  "node_modules/",
  "dist/",
  "build/",
  ".next/",
  ".nuxt/",
  ".svelte-kit/",
  ".turbo/",
  ".vite/",
  ".parcel-cache/",
  ".cache/",
  "coverage/",
  ".nyc_output/",
  "*.tsbuildinfo",
  ".eslintcache",
  "__pycache__/",
  "*.pyc",
  ".pytest_cache/",
  ".mypy_cache/",
  ".ruff_cache/",
  ".tox/",
  ".venv/",
  "target/",
  ".gradle/",
  ".DS_Store"
]

const Usd = Schema.Number.pipe(Schema.nonNegative(), Schema.lessThanOrEqualTo(100_000))

/** A model's price in `cost.models` (US dollars per million tokens; web search per request). */
export const ModelPriceConfig = Schema.Struct({
  input: Usd,
  output: Usd,
  cacheWrite5m: Schema.optional(Usd),
  cacheWrite1h: Schema.optional(Usd),
  cacheRead: Schema.optional(Usd),
  webSearch: Schema.optional(Usd)
})

const ModelPrices = Schema.Record({ key: Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9][A-Za-z0-9._:@\/\[\]-]{0,120}$/)), value: ModelPriceConfig })

/**
 * Every configuration key. Dotted keys are nested objects in config.json (`{"worktree":{"prefix":"x"}}`)
 * and `PARALLEL_CC_` + CONSTANT_CASE in the environment (`PARALLEL_CC_WORKTREE_PREFIX`).
 */
export const Keys = {
  "agent": def({
    key: "agent",
    description: "Agent command: claude, codex, gemini, a command on PATH, or the path of an executable",
    kind: "string",
    schema: Schema.NonEmptyTrimmedString,
    default: "claude",
    allowed: "a non-empty command name or path"
  }),
  "db.busyTimeoutMs": def({
    key: "db.busyTimeoutMs",
    description: "How long a command waits for another process's database lock before failing with DatabaseBusy",
    kind: "json",
    schema: IntRange(0, 600_000),
    default: 5_000,
    allowed: "an integer from 0 to 600000 (milliseconds)"
  }),
  "sessions.staleMinutes": def({
    key: "sessions.staleMinutes",
    description: "A session whose pid cannot be checked is stale after this many minutes without a heartbeat",
    kind: "json",
    schema: IntRange(1, 10_080),
    default: 10,
    allowed: "an integer from 1 to 10080 (minutes)"
  }),
  "claims.ttlMinutes": def({
    key: "claims.ttlMinutes",
    description: "How long a file claim lasts unless renewed or given its own TTL (it ends with its session anyway)",
    kind: "json",
    schema: IntRange(1, 10_080),
    default: 60,
    allowed: "an integer from 1 to 10080 (minutes)"
  }),
  "merges.targetBranch": def({
    key: "merges.targetBranch",
    description: "Branch that session branches are merged into; empty means the branch checked out in the repository",
    kind: "string",
    schema: Schema.String.pipe(Schema.maxLength(200)),
    default: "",
    allowed: "a branch name, or empty"
  }),
  "merges.pollSeconds": def({
    key: "merges.pollSeconds",
    description: "How often `watch merges` polls the repositories",
    kind: "json",
    schema: IntRange(1, 86_400),
    default: 30,
    allowed: "an integer from 1 to 86400 (seconds)"
  }),
  "merges.lookbackDays": def({
    key: "merges.lookbackDays",
    description: "How long after a session ended its branch is still watched for a merge",
    kind: "json",
    schema: IntRange(1, 365),
    default: 7,
    allowed: "an integer from 1 to 365 (days)"
  }),
  "worktree.root": def({
    key: "worktree.root",
    description: "Directory for session worktrees; empty means a sibling folder <repo>-worktrees",
    kind: "string",
    schema: AbsoluteDirOrEmpty,
    default: "",
    allowed: "an absolute directory path (starting with /), or empty"
  }),
  "worktree.always": def({
    key: "worktree.always",
    description: "Give every session its own worktree, the first one included, so no agent works in your own checkout",
    kind: "json",
    schema: Schema.Boolean,
    default: false,
    allowed: "true or false"
  }),
  "worktree.setupFailure": def<"stop" | "continue">({
    key: "worktree.setupFailure",
    description: "When a worktree.setup command fails: stop (the agent is not started, the new worktree is removed) or continue",
    kind: "string",
    schema: Schema.Literal("stop", "continue"),
    default: "stop",
    allowed: "stop or continue"
  }),
  "worktree.regenerable": def({
    key: "worktree.regenerable",
    description: "Ignored files a release may delete with a worktree (build output, dependencies, caches); any other ignored file keeps it",
    kind: "json",
    schema: Schema.Array(Schema.NonEmptyTrimmedString),
    default: DEFAULT_REGENERABLE,
    allowed: "a JSON array of gitignore-style patterns: \"dir/\" (a directory at any depth), \"*.ext\" (a name at any depth), \"a/b/\" (from the top)"
  }),
  "agents.passThrough": def({
    key: "agents.passThrough",
    description: "Per agent (by command name): the invocations claude-parallel runs directly, with no session; merged over the built-in table for claude, codex and gemini",
    kind: "json",
    schema: PassThroughTable,
    default: {} as PassThroughTable,
    allowed: "a JSON object {\"<agent>\": {\"subcommands\": [...], \"flags\": [...], \"options\": {\"--model\": \"value\"}}}; option kinds: value, optional, variadic"
  }),
  "worktree.prefix": def({
    key: "worktree.prefix",
    description: "Prefix of worktree folder and branch names",
    kind: "string",
    schema: Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$|^$/)),
    default: "parallel-",
    allowed: "up to 40 letters, digits, '.', '_' or '-', starting with a letter or digit"
  }),
  "worktree.copy": def({
    key: "worktree.copy",
    description: "Glob patterns of untracked files copied from the repo into each new worktree (e.g. .env*)",
    kind: "json",
    schema: Schema.Array(Schema.NonEmptyString),
    default: [] as ReadonlyArray<string>,
    allowed: "a JSON array of glob strings, e.g. [\".env*\"]"
  }),
  "worktree.setup": def({
    key: "worktree.setup",
    description: "Commands run in each new worktree, each an argument array (no shell), e.g. [[\"npm\",\"ci\"]]",
    kind: "json",
    schema: Schema.Array(NonEmptyArgv),
    default: [] as ReadonlyArray<ReadonlyArray<string>>,
    allowed: "a JSON array of non-empty string arrays, e.g. [[\"npm\",\"ci\"]]"
  }),
  "worktree.share": def({
    key: "worktree.share",
    description: "Dependency folders a new worktree takes from the main checkout instead of installing them (e.g. node_modules, .venv), while their lockfiles match",
    kind: "json",
    schema: Schema.Array(Schema.NonEmptyTrimmedString),
    default: [] as ReadonlyArray<string>,
    allowed: "a JSON array of folder paths relative to the repository, e.g. [\"node_modules\", \".venv\"]"
  }),
  "worktree.shareMode": def<"clone" | "symlink">({
    key: "worktree.shareMode",
    description: "How worktree.share folders are shared: clone (copy-on-write, else hard links, else a copy) or symlink (one folder for all)",
    kind: "string",
    schema: Schema.Literal("clone", "symlink"),
    default: "clone",
    allowed: "clone or symlink"
  }),
  "ports.base": def({
    key: "ports.base",
    description: "First port of the per-session port blocks (PARALLEL_CC_PORT_BASE)",
    kind: "json",
    schema: IntRange(1024, 65_000),
    default: 4100,
    allowed: "an integer from 1024 to 65000"
  }),
  "sandbox.provider": def<"auto" | "local" | "e2b">({
    key: "sandbox.provider",
    description: "Where `sandbox run` runs the agent: auto (e2b when E2B_API_KEY is set, else local), local or e2b",
    kind: "string",
    schema: Schema.Literal("auto", "local", "e2b"),
    default: "auto",
    allowed: "auto, local or e2b"
  }),
  "sandbox.timeoutMinutes": def({
    key: "sandbox.timeoutMinutes",
    description: "Hard limit of a sandboxed run; the agent is stopped and the sandbox killed after it",
    kind: "json",
    schema: Schema.Number.pipe(Schema.greaterThan(0), Schema.lessThanOrEqualTo(1440)),
    default: 60,
    allowed: "a number of minutes above 0 and at most 1440"
  }),
  "sandbox.warnAtMinutes": def({
    key: "sandbox.warnAtMinutes",
    description: "Sandbox times (minutes) at which a running sandboxed run warns that it is still going",
    kind: "json",
    schema: Schema.Array(Schema.Number.pipe(Schema.greaterThan(0))),
    default: [30, 50] as ReadonlyArray<number>,
    allowed: "a JSON array of positive numbers of minutes, e.g. [30, 50]"
  }),
  "sandbox.local.isolation": def<"auto" | "bwrap" | "process">({
    key: "sandbox.local.isolation",
    description: "Local provider isolation: auto (bubblewrap when it works here, else a plain process), bwrap (required) or process",
    kind: "string",
    schema: Schema.Literal("auto", "bwrap", "process"),
    default: "auto",
    allowed: "auto, bwrap or process"
  }),
  "sandbox.network": def<"auto" | "on" | "off" | "allow">({
    key: "sandbox.network",
    description: "What a sandboxed agent may reach: allow (only its model API, the repository's package registries and sandbox.allowHosts, through a filtering proxy; the rest refused and reported), on (everything), off (nothing), auto (allow for the local provider, on for e2b)",
    kind: "string",
    schema: Schema.Literal("auto", "on", "off", "allow"),
    default: "auto",
    allowed: "auto, allow, on or off"
  }),
  "sandbox.allowHosts": def({
    key: "sandbox.allowHosts",
    description: "Hosts a sandboxed agent may reach in allow mode besides the defaults: HOST, HOST:PORT or *.DOMAIN (without a port: 80 and 443)",
    kind: "json",
    schema: Schema.Array(Schema.String.pipe(Schema.pattern(/^(\*\.)?[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/))),
    default: [] as ReadonlyArray<string>,
    allowed: "a JSON array of hosts, e.g. [\"registry.example.com\", \"*.internal.example:8443\"]"
  }),
  "sandbox.local.network": def({
    key: "sandbox.local.network",
    description: "Older switch for the local provider's network (true: on, false: off); used only when sandbox.network is auto and this key is set",
    kind: "json",
    schema: Schema.Boolean,
    default: true,
    allowed: "true or false"
  }),
  "sandbox.local.root": def({
    key: "sandbox.local.root",
    description: "Directory in which the local provider creates its sandboxes; empty means the system temp directory",
    kind: "string",
    schema: Schema.String,
    default: "",
    allowed: "an absolute directory path, or empty"
  }),
  "sandbox.passEnv": def({
    key: "sandbox.passEnv",
    description: "Names of extra environment variables passed to a sandboxed agent (it otherwise gets a minimal environment)",
    kind: "json",
    schema: Schema.Array(Schema.String.pipe(Schema.pattern(/^[A-Za-z_][A-Za-z0-9_]*$/))),
    default: [] as ReadonlyArray<string>,
    allowed: "a JSON array of environment variable names, e.g. [\"ANTHROPIC_BASE_URL\"]"
  }),
  "budget.dailyUsd": def({
    key: "budget.dailyUsd",
    description: "Spending limit per calendar day of sandboxed runs (agent cost + sandbox time) and interactive Claude Code sessions (from their transcripts); 0 means none",
    kind: "json",
    schema: Schema.Number.pipe(Schema.greaterThanOrEqualTo(0)),
    default: 0,
    allowed: "a number of US dollars, 0 for no limit"
  }),
  "budget.weeklyUsd": def({
    key: "budget.weeklyUsd",
    description: "Spending limit per week (from Monday) of sandboxed runs and interactive sessions; 0 means none",
    kind: "json",
    schema: Schema.Number.pipe(Schema.greaterThanOrEqualTo(0)),
    default: 0,
    allowed: "a number of US dollars, 0 for no limit"
  }),
  "budget.monthlyUsd": def({
    key: "budget.monthlyUsd",
    description: "Spending limit per calendar month of sandboxed runs and interactive sessions; 0 means none",
    kind: "json",
    schema: Schema.Number.pipe(Schema.greaterThanOrEqualTo(0)),
    default: 0,
    allowed: "a number of US dollars, 0 for no limit"
  }),
  "budget.warnAt": def({
    key: "budget.warnAt",
    description: "Share of a daily, weekly or monthly budget at which the agents and you are warned (e.g. 0.8 = at 80 %)",
    kind: "json",
    schema: Schema.Number.pipe(Schema.greaterThan(0), Schema.lessThan(1)),
    default: 0.8,
    allowed: "a number above 0 and below 1"
  }),
  "budget.onLimit": def<"block" | "warn">({
    key: "budget.onLimit",
    description: "When a budget is spent: block (the interactive sessions that spent in the period get every tool call refused, with the reason, until the budget allows again) or warn (tell them and you only)",
    kind: "string",
    schema: Schema.Literal("block", "warn"),
    default: "block",
    allowed: "block or warn"
  }),
  "cost.models": def({
    key: "cost.models",
    description: "Prices of Claude models in US dollars per million tokens, over the built-in table (model ids without a date); cache prices default to 1.25x (5-minute write), 2x (1-hour write) and 0.1x (read) of input",
    kind: "json",
    schema: ModelPrices,
    default: {} as typeof ModelPrices.Type,
    allowed: "a JSON object {\"claude-opus-4-5\": {\"input\": 5, \"output\": 25, \"cacheRead\": 0.5, \"cacheWrite5m\": 6.25, \"cacheWrite1h\": 10}}"
  }),
  "notify.enabled": def({
    key: "notify.enabled",
    description: "Notify you when a session needs input, finishes its turn or crosses a budget threshold (false: never)",
    kind: "json",
    schema: Schema.Boolean,
    default: true,
    allowed: "true or false"
  }),
  "notify.terminal": def<"auto" | "osc9" | "osc777" | "off">({
    key: "notify.terminal",
    description: "The terminal notification claude-parallel writes to its terminal: auto (OSC 777 on VTE, foot and rxvt terminals, else OSC 9), osc9, osc777 or off",
    kind: "string",
    schema: Schema.Literal("auto", "osc9", "osc777", "off"),
    default: "auto",
    allowed: "auto, osc9, osc777 or off"
  }),
  "notify.desktop": def({
    key: "notify.desktop",
    description: "Also a desktop notification where available (notify-send on Linux, osascript on macOS; skipped when missing)",
    kind: "json",
    schema: Schema.Boolean,
    default: true,
    allowed: "true or false"
  }),
  "notify.events": def({
    key: "notify.events",
    description: "What you are notified of: needs-input (a permission or idle prompt), idle (a turn finished), budget (a threshold crossed)",
    kind: "json",
    schema: Schema.Array(Schema.Literal("needs-input", "idle", "budget")),
    default: ["needs-input", "idle", "budget"] as ReadonlyArray<"needs-input" | "idle" | "budget">,
    allowed: "a JSON array of needs-input, idle and budget, e.g. [\"needs-input\"]"
  }),
  "cost.e2bUsdPerHour": def({
    key: "cost.e2bUsdPerHour",
    description: "What an E2B sandbox costs per hour, for budgets (default: 2 vCPU x $0.000014/s + 0.5 GiB x $0.0000045/s)",
    kind: "json",
    schema: Schema.Number.pipe(Schema.greaterThanOrEqualTo(0)),
    default: 0.109,
    allowed: "a number of US dollars per hour"
  }),
  "cost.localUsdPerHour": def({
    key: "cost.localUsdPerHour",
    description: "What a local sandbox costs per hour, for budgets (your own machine: 0 by default)",
    kind: "json",
    schema: Schema.Number.pipe(Schema.greaterThanOrEqualTo(0)),
    default: 0,
    allowed: "a number of US dollars per hour"
  }),
  "git.user": def({
    key: "git.user",
    description: "Author name for commits made by sandboxed runs (else --git-user, else the repo's git config)",
    kind: "string",
    schema: Schema.String,
    default: "",
    allowed: "a name, or empty"
  }),
  "git.email": def({
    key: "git.email",
    description: "Author email for commits made by sandboxed runs (else --git-email, else the repo's git config)",
    kind: "string",
    schema: Schema.String,
    default: "",
    allowed: "an email address, or empty"
  }),
  "parallel.maxConcurrent": def({
    key: "parallel.maxConcurrent",
    description: "How many tasks of a parallel run (`sandbox run --multi`) run at once, unless --max-concurrent says otherwise",
    kind: "json",
    schema: IntRange(1, 64),
    default: 3,
    allowed: "an integer from 1 to 64"
  }),
  "parallel.retryDelaySeconds": def({
    key: "parallel.retryDelaySeconds",
    description: "First wait before a task of a parallel run is retried after a transient provider error (doubles per attempt, at most 60 s)",
    kind: "json",
    schema: Schema.Number.pipe(Schema.between(0, 600)),
    default: 5,
    allowed: "a number of seconds from 0 to 600"
  }),
  "land.test": def({
    key: "land.test",
    description: "Test command `parallel-cc land` runs on each integrated candidate unless --test says otherwise, as words (no shell), e.g. \"npm test\"; empty means none",
    kind: "string",
    schema: Schema.String.pipe(Schema.maxLength(2000)),
    default: "",
    allowed: "a command line of at most 2000 characters, or empty"
  }),
  "land.testTimeoutMinutes": def({
    key: "land.testTimeoutMinutes",
    description: "How long one test run of the landing queue may take before it is stopped and counted as failed",
    kind: "json",
    schema: Schema.Number.pipe(Schema.greaterThan(0), Schema.lessThanOrEqualTo(1440)),
    default: 30,
    allowed: "a number of minutes above 0 and at most 1440"
  }),
  "land.batchSize": def({
    key: "land.batchSize",
    description: "How many candidates the landing queue tests together at most (bisecting when a batch fails); 1 tests each alone",
    kind: "json",
    schema: IntRange(1, 64),
    default: 8,
    allowed: "an integer from 1 to 64"
  }),
  "land.strategy": def<"merge" | "squash" | "rebase">({
    key: "land.strategy",
    description: "How `parallel-cc land` puts a candidate onto the target unless --strategy says otherwise: merge, squash or rebase",
    kind: "string",
    schema: Schema.Literal("merge", "squash", "rebase"),
    default: "merge",
    allowed: "merge, squash or rebase"
  }),
  "land.agentTests": def({
    key: "land.agentTests",
    description: "Test commands an agent may ask for with the MCP tool request_land (exact strings); empty: agents' entries use land.test",
    kind: "json",
    schema: Schema.Array(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(2000))),
    default: [] as ReadonlyArray<string>,
    allowed: "a JSON array of command lines, e.g. [\"npm test\"]"
  }),
  "ports.blockSize": def({
    key: "ports.blockSize",
    description: "Number of ports reserved for each session",
    kind: "json",
    schema: IntRange(1, 1000),
    default: 10,
    allowed: "an integer from 1 to 1000"
  })
} as const

export type KeyName = keyof typeof Keys
export type Values = { readonly [K in KeyName]: Schema.Schema.Type<(typeof Keys)[K]["schema"]> }
export type Source = "default" | "file" | "env"

export const keyNames = Object.keys(Keys) as ReadonlyArray<KeyName>

const isKeyName = (k: string): k is KeyName => Object.prototype.hasOwnProperty.call(Keys, k)

/** The environment variable that sets `key`: `PARALLEL_CC_` + CONSTANT_CASE of the dotted path. */
export const envName = (key: string): string =>
  "PARALLEL_CC_" + key.split(".").map((s) => s.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase()).join("_")

/** The resolved configuration of this process. */
export class AppConfig extends Context.Tag("@parallel-cc/core/AppConfig")<AppConfig, {
  readonly dataDir: string
  readonly dbPath: string
  readonly configFile: string
  readonly values: Values
  readonly sources: { readonly [K in KeyName]: Source }
}>() {}

/**
 * Build the ConfigProvider the edge installs: flags first, then the given environment (only `PARALLEL_CC_*`
 * matters), with the data directory defaulting to `<homeDir>/.parallel-cc`.
 */
export const envProvider = (
  env: Readonly<Record<string, string | undefined>>,
  options: { readonly homeDir: string; readonly flags?: { readonly dbPath?: string | undefined } }
): ConfigProvider.ConfigProvider => {
  const map = new Map<string, string>()
  for (const [k, v] of Object.entries(env)) {
    if (k.startsWith("PARALLEL_CC_") && v !== undefined) map.set(k, v)
  }
  if (!map.has("PARALLEL_CC_DATA_DIR") || map.get("PARALLEL_CC_DATA_DIR") === "") {
    map.set("PARALLEL_CC_DATA_DIR", `${options.homeDir.replace(/\/+$/, "")}/.parallel-cc`)
  }
  if (options.flags?.dbPath !== undefined) map.set("PARALLEL_CC_DB_PATH", options.flags.dbPath)
  // Keys are looked up by their full variable name (`envName`), so the provider needs no case conversion
  // or nesting per lookup (they cost milliseconds at every start). seqDelim: the default "," would split
  // JSON values such as `["a","b"]` into pieces before we parse them.
  return ConfigProvider.fromMap(map, { pathDelim: "\u0000", seqDelim: "\u0000" })
}

const decodeWith = <A>(d: KeyDef<A>, input: unknown, origin: string) =>
  Schema.decodeUnknownEither(d.schema)(input).pipe(
    Either.mapLeft((e) =>
      new ConfigError({
        reason: "InvalidValue",
        key: d.key,
        allowed: d.allowed,
        detail: `${origin}: ${ParseResult.TreeFormatter.formatErrorSync(e).split("\n")[0]}`
      })
    )
  )

/** Parse a value given as text (an env var or `config set key value`) for `key`. */
export const parseText = (key: string, text: string, origin = "value"): Either.Either<unknown, ConfigError> => {
  if (!isKeyName(key)) return Either.left(unknownKey(key))
  const d = Keys[key] as KeyDef<unknown>
  if (d.kind === "string") return decodeWith(d, text, origin)
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return Either.left(
      new ConfigError({ reason: "InvalidValue", key, allowed: d.allowed, detail: `${origin}: not valid JSON: ${text}` })
    )
  }
  return decodeWith(d, json, origin)
}

const unknownKey = (key: string) => new ConfigError({ reason: "UnknownKey", key, allowed: keyNames.join(", ") })

const getPath = (obj: unknown, key: string): Option.Option<unknown> => {
  let cur: unknown = obj
  for (const part of key.split(".")) {
    if (cur === null || typeof cur !== "object" || Array.isArray(cur) || !(part in cur)) return Option.none()
    cur = (cur as Record<string, unknown>)[part]
  }
  return Option.some(cur)
}

const setPath = (obj: Record<string, unknown>, key: string, value: unknown): Record<string, unknown> => {
  const parts = key.split(".")
  const root: Record<string, unknown> = { ...obj }
  let cur = root
  for (const part of parts.slice(0, -1)) {
    const next = cur[part]
    const copy = next !== null && typeof next === "object" && !Array.isArray(next) ? { ...next as object } : {}
    cur[part] = copy
    cur = copy as Record<string, unknown>
  }
  cur[parts[parts.length - 1]!] = value
  return root
}

const leafKeys = (obj: unknown, prefix = ""): Array<string> => {
  if (obj === null || typeof obj !== "object" || Array.isArray(obj)) return prefix ? [prefix] : []
  return Object.entries(obj).flatMap(([k, v]) => {
    const full = prefix ? `${prefix}.${k}` : k
    return isKeyName(full) ? [full] : leafKeys(v, full)
  })
}

/** Decode the config file's text (null: no file) into its JSON object; empty text is an empty config. */
const parseFileText = (file: string, text: string | null) =>
  Effect.gen(function*() {
    if (text === null || text.trim() === "") return {} as Record<string, unknown>
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch (e) {
      return yield* new ConfigError({ reason: "FileInvalid", path: file, detail: `not valid JSON (${String(e)})` })
    }
    if (json === null || typeof json !== "object" || Array.isArray(json)) {
      return yield* new ConfigError({ reason: "FileInvalid", path: file, detail: "the top level must be a JSON object" })
    }
    return json as Record<string, unknown>
  })

/** The config file's text, or null when there is none. */
const readFileText = (file: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const exists = yield* fs.exists(file).pipe(Effect.orElseSucceed(() => false))
    if (!exists) return null
    return yield* fs.readFileString(file).pipe(
      Effect.mapError((e) => new ConfigError({ reason: "FileUnreadable", path: file, detail: e.message }))
    )
  })

/** Read and decode the config file; a missing file is an empty config. The file is never modified here. */
export const readFile = (file: string) => Effect.flatMap(readFileText(file), (text) => parseFileText(file, text))

/** Write the config file atomically (temp file + rename), mode 0600. */
const writeFileAtomic = (file: string, json: Record<string, unknown>) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const dir = path.dirname(file)
    const tmp = path.join(dir, `.config.json.${globalThis.crypto.randomUUID()}.tmp`)
    yield* fs.makeDirectory(dir, { recursive: true, mode: 0o700 })
    yield* fs.writeFileString(tmp, JSON.stringify(json, null, 2) + "\n", { mode: 0o600 })
    yield* fs.rename(tmp, file).pipe(Effect.tapError(() => fs.remove(tmp).pipe(Effect.ignore)))
  }).pipe(Effect.mapError((e) => new ConfigError({ reason: "FileUnwritable", path: file, detail: e.message })))

/** A key's raw text from the installed ConfigProvider, under its variable name (`PARALLEL_CC_…`). */
const readRaw = (key: string) =>
  Config.option(Config.string(envName(key))).pipe(Effect.orElseSucceed(() => Option.none<string>()))

/**
 * Where the data directory, the store and the config file are, from the installed ConfigProvider alone —
 * without decoding any key, so that `config set` and `config unset` can repair a config file holding a value
 * that this version refuses.
 */
export const locate = Effect.gen(function*() {
  const path = yield* Path.Path
  const dataDir = yield* readRaw("dataDir").pipe(
    Effect.flatMap(Option.match({ onNone: () => Effect.fail(undefined), onSome: Effect.succeed })),
    Effect.mapError(() =>
      new ConfigError({ reason: "InvalidValue", key: "dataDir", allowed: "a directory path", detail: "not set" })
    )
  )
  const dbPathOpt = yield* readRaw("dbPath")
  const dbPath = Option.getOrElse(Option.filter(dbPathOpt, (p) => p !== ""), () => path.join(dataDir, "coordinator.db"))
  return { dataDir, dbPath, configFile: path.join(dataDir, "config.json") }
})

/** Every key's value and source: the installed ConfigProvider, then the config file, then the default. */
const resolveValues = (configFile: string, file: Record<string, unknown>) =>
  Effect.gen(function*() {
    const values: Record<string, unknown> = {}
    const sources: Record<string, Source> = {}
    for (const name of keyNames) {
      const d = Keys[name] as KeyDef<unknown>
      const fromEnv = yield* readRaw(name)
      if (Option.isSome(fromEnv)) {
        values[name] = yield* parseText(name, fromEnv.value, `environment variable ${envName(name)}`)
        sources[name] = "env"
        continue
      }
      const fromFile = getPath(file, name)
      if (Option.isSome(fromFile)) {
        values[name] = yield* decodeWith(d, fromFile.value, `config file ${configFile}`)
        sources[name] = "file"
        continue
      }
      values[name] = d.default
      sources[name] = "default"
    }
    return { values: values as unknown as Values, sources: sources as { [K in KeyName]: Source } }
  })

/** Resolve every key from the installed ConfigProvider and the config file. */
export const make = Effect.gen(function*() {
  const path = yield* Path.Path
  const { configFile, dataDir, dbPath } = yield* locate
  const file = yield* readFile(configFile)
  for (const k of leafKeys(file)) {
    if (!isKeyName(k)) yield* Effect.logWarning(`ignoring unknown key "${k}" in ${configFile}`)
  }
  const { sources, values } = yield* resolveValues(configFile, file)
  return AppConfig.of({
    dataDir: path.resolve(dataDir),
    dbPath: path.resolve(dbPath),
    configFile,
    values,
    sources
  })
})

/**
 * Record the configuration for the start-up fast path (platform/configSnapshot): resolved from the
 * installed ConfigProvider and the config file's text, read once here so that the record's values belong
 * to exactly the text recorded with them. Nothing is recorded when the file has unknown keys (the regular
 * path warns about them) or anything fails.
 */
export const recordSnapshot = Effect.gen(function*() {
  const path = yield* Path.Path
  const { configFile, dataDir } = yield* locate
  const text = yield* readFileText(configFile)
  const file = yield* parseFileText(configFile, text)
  if (leafKeys(file).some((k) => !isKeyName(k))) return
  const { values } = yield* resolveValues(configFile, file)
  const vars: Record<string, string | null> = {}
  for (const name of keyNames) vars[envName(name)] = Option.getOrNull(yield* readRaw(name))
  const defaults = Object.fromEntries(keyNames.map((k) => [k, Keys[k].default]))
  ConfigSnapshot.write(path.resolve(dataDir), { vars, file: text, values, defaults })
}).pipe(Effect.ignore)

/** AppConfig from the installed ConfigProvider; needs FileSystem and Path. */
export const layer = Layer.effect(AppConfig, make)

/** Validate `text` for `key` and store it in the config file. The file is untouched when anything fails. */
export const setValue = (configFile: string, key: string, text: string) =>
  Effect.gen(function*() {
    const value = yield* parseText(key, text)
    const d = Keys[key as KeyName] as KeyDef<unknown>
    const current = yield* readFile(configFile)
    const encoded = Schema.encodeSync(d.schema)(value)
    yield* writeFileAtomic(configFile, setPath(current, key, encoded))
    return value
  })

/** Remove `key` from the config file, so that its default (or env) applies again. */
export const unsetValue = (configFile: string, key: string) =>
  Effect.gen(function*() {
    if (!isKeyName(key)) return yield* unknownKey(key)
    const current = yield* readFile(configFile)
    if (Option.isNone(getPath(current, key))) return
    const parts = key.split(".")
    const copy = JSON.parse(JSON.stringify(current)) as Record<string, unknown>
    let cur: Record<string, unknown> = copy
    for (const p of parts.slice(0, -1)) cur = cur[p] as Record<string, unknown>
    delete cur[parts[parts.length - 1]!]
    yield* writeFileAtomic(configFile, copy)
  })

/** Check that `key` exists; returns its definition. */
export const lookup = (key: string): Either.Either<KeyDef<unknown>, ConfigError> =>
  isKeyName(key) ? Either.right(Keys[key] as KeyDef<unknown>) : Either.left(unknownKey(key))

/** Overrides of configuration keys in their typed form, e.g. `{ "worktree.prefix": "agent-", "claims.ttlMinutes": 30 }`. */
export type Overrides = { readonly [K in KeyName]?: Values[K] }

/** Configuration given as options by a program (the Promise facade, {@link Live.layerWith}). */
export interface Options {
  /** The data directory (database, config file, heartbeats). Default: `PARALLEL_CC_DATA_DIR` from `env`, else `<homeDir>/.parallel-cc`. */
  readonly dataDir?: string | undefined
  /** The database file. Default: `PARALLEL_CC_DB_PATH` from `env`, else `<dataDir>/coordinator.db`. */
  readonly dbPath?: string | undefined
  /** Values that win over everything else (environment, config file, defaults). Checked up front. */
  readonly config?: Overrides | undefined
  /**
   * Environment variables to honour, as the CLI does (`PARALLEL_CC_*` only). Nothing is read from the
   * process environment unless it is passed here, e.g. `env: process.env`.
   */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined
}

/**
 * The ConfigProvider for {@link Options}: `config` overrides first, then `dataDir`/`dbPath`, then the given
 * `env`, then (read later by {@link layer}) the config file and the defaults. Fails with a ConfigError
 * naming the key when an override is unknown or invalid.
 */
export const optionsProvider = (
  options: Options & { readonly homeDir: string }
): Either.Either<ConfigProvider.ConfigProvider, ConfigError> => {
  const env: Record<string, string | undefined> = { ...options.env }
  if (options.dataDir !== undefined) env.PARALLEL_CC_DATA_DIR = options.dataDir
  for (const [key, value] of Object.entries(options.config ?? {})) {
    if (value === undefined) continue
    if (!isKeyName(key)) return Either.left(unknownKey(key))
    const d = Keys[key] as KeyDef<unknown>
    const decoded = decodeWith(d, value, `option config["${key}"]`)
    if (Either.isLeft(decoded)) return Either.left(decoded.left)
    const encoded = Schema.encodeSync(d.schema)(decoded.right)
    env[envName(key)] = d.kind === "string" ? String(encoded) : JSON.stringify(encoded)
  }
  return Either.right(envProvider(env, { homeDir: options.homeDir, flags: { dbPath: options.dbPath } }))
}
