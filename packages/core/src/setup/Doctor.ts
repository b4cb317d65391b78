/**
 * `doctor`: checks that everything parallel-cc needs is in place, each finding with a fix. It never changes
 * anything (the database is opened read-only, and not created when missing) and never prints a secret.
 *
 * Findings are `ok`, `error` (something parallel-cc needs for local parallel sessions is missing or broken)
 * or `warning` (optional: cloud keys, `gh`, bubblewrap, the alias, desktop notifications). The report is healthy when there is no
 * error; in strict mode warnings count too.
 *
 * @since 0.1.0
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import { CommandExecutor, FileSystem, Path } from "@effect/platform"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import { Context, Effect, Either, Layer, Option, Schema } from "effect"
import { AppConfig } from "../platform/AppConfig.js"
import { decodeRows, latestVersion } from "../platform/Database.js"
import { Git } from "../platform/Git.js"
import { lfsInstalled, repositoryUsesLfs } from "../sessions/worktreeContents.js"
import { Host, pathDirs } from "../platform/Host.js"
import { exec } from "../platform/exec.js"
import { existingAncestor, which } from "../platform/files.js"
import { type CommandStatus, Installer, type PieceStatus } from "./Installer.js"
import * as LegacyImport from "./LegacyImport.js"

export type Level = "ok" | "error" | "warning"

export interface Finding {
  /** Stable id: git, node, agent, database, hooks, mcp, alias, worktree-provider, commands, git-lfs, e2b, sandbox-auth, gh, bubblewrap, notifications. */
  readonly id: string
  readonly title: string
  readonly level: Level
  /** Whether parallel-cc needs this for local parallel sessions (a missing required item is an error). */
  readonly required: boolean
  readonly detail: string
  /** What to do about it (absent when ok). */
  readonly fix?: string | undefined
}

export interface DoctorReport {
  readonly healthy: boolean
  readonly strict: boolean
  readonly findings: ReadonlyArray<Finding>
}

/** The oldest git with `merge-tree --write-tree` (conflict preview). */
export const minGit = [2, 38, 0] as const
export const minNode = [20, 11, 0] as const

const atLeast = (v: ReadonlyArray<number>, min: ReadonlyArray<number>): boolean => {
  for (let i = 0; i < min.length; i++) {
    const a = v[i] ?? 0
    const b = min[i] ?? 0
    if (a !== b) return a > b
  }
  return true
}

const messageOf = (u: unknown): string => (u instanceof Error ? u.message : String(u))

const parseVersion = (s: string): ReadonlyArray<number> => (s.match(/\d+/g) ?? []).slice(0, 3).map(Number)

/** The doctor found problems (the report says which, with fixes). */
export class Unhealthy extends Schema.TaggedError<Unhealthy>()("Unhealthy", {
  errors: Schema.Number,
  warnings: Schema.Number,
  strict: Schema.Boolean
}) {
  override get message(): string {
    const n = this.strict ? this.errors + this.warnings : this.errors
    return `doctor found ${n} problem${n === 1 ? "" : "s"}; each finding above says how to fix it`
  }
}

export class Doctor extends Context.Tag("@parallel-cc/core/Doctor")<Doctor, {
  /** Run every check. Never fails: a check that cannot run is a finding. */
  readonly run: (options?: { readonly strict?: boolean }) => Effect.Effect<DoctorReport>
}>() {}

const ok = (id: string, title: string, required: boolean, detail: string): Finding => ({ id, title, level: "ok", required, detail })
const bad = (id: string, title: string, required: boolean, detail: string, fix: string): Finding =>
  ({ id, title, level: required ? "error" : "warning", required, detail, fix })

/** Desktop notifications (`notify.desktop`): optional; without the command only the terminal is told. */
const notifyFinding = (platform: string, cmd: string | undefined): Finding => {
  const name = platform === "darwin" ? "osascript" : "notify-send"
  const title = "desktop notifications"
  return cmd !== undefined
    ? ok("notifications", title, false, `${cmd}`)
    : bad("notifications", title, false, `${name} is not on PATH; sessions that need input are announced in their terminal only`, platform === "darwin" ? "osascript ships with macOS; check PATH" : "install libnotify (apt-get install libnotify-bin, dnf install libnotify)")
}

/** The worktree provider hooks (WorktreeCreate/WorktreeRemove): optional, so never an error. */
const providerFinding = (status: ReadonlyArray<PieceStatus>): Finding => {
  const provider = status.filter((s) => s.piece === "worktree-provider")
  const on = provider.filter((s) => s.state === "installed")
  const broken = provider.filter((s) => s.state !== "installed" && s.state !== "missing")
  const title = "worktree provider hooks"
  if (broken.length > 0) {
    return bad("worktree-provider", title, false, broken.map((s) => `${s.location}: ${s.state}, ${s.detail}`).join("; "), "run `parallel-cc install --hooks`")
  }
  if (on.length > 0) return ok("worktree-provider", title, false, `WorktreeCreate/WorktreeRemove: ${on.map((s) => `${s.scope} (${s.location})`).join(", ")}`)
  return bad("worktree-provider", title, false, provider[0]?.detail ?? "not installed", "run `parallel-cc install --hooks` (or --all)")
}

/**
 * `parallel-cc` and `claude-parallel` on PATH: optional (agents can be started by full path), so a warning;
 * "not on PATH" (installed where PATH does not reach, with the exact line to add) is told apart from missing.
 */
export const commandsFinding = (commands: ReadonlyArray<CommandStatus>): Finding => {
  const title = "commands on PATH"
  const off = commands.filter((c) => c.state === "not-on-path")
  const missing = commands.filter((c) => c.state === "missing")
  if (off.length > 0) {
    const fixes = [...new Map(off.flatMap((c) => (c.fix === null ? [] : [[c.fix.line, c.fix] as const]))).values()]
    return bad(
      "commands",
      title,
      false,
      off.map((c) => c.detail).join("; "),
      fixes.map((f) => `add this line to ${f.file}, then open a new shell: ${f.line}`).join("; ")
    )
  }
  if (missing.length > 0) {
    return bad(
      "commands",
      title,
      false,
      missing.map((c) => c.detail).join("; "),
      "run scripts/install.sh in the parallel-cc clone (it links both commands into ~/.local/bin), or call them by their full path"
    )
  }
  return ok("commands", title, false, commands.map((c) => c.detail).join("; "))
}

/** Git LFS, when the repository at `cwd` uses it: installed or not. */
const checkLfs = (cwd: string) =>
  Effect.gen(function*() {
    const top = yield* Effect.flatMap(Git, (git) => git.toplevel(cwd)).pipe(Effect.option)
    if (top._tag === "None" || !(yield* repositoryUsesLfs(top.value))) return [] as ReadonlyArray<Finding>
    if (yield* lfsInstalled(cwd)) {
      return [ok("git-lfs", "Git LFS", false, "this repository uses Git LFS; git-lfs is installed (new worktrees get LFS content)")]
    }
    return [bad(
      "git-lfs",
      "Git LFS",
      false,
      "this repository uses Git LFS but git-lfs is not installed: new worktrees get pointer files instead of content",
      "install git-lfs (apt-get install git-lfs, brew install git-lfs) and run `git lfs install`"
    )]
  })

export const make = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const executor = yield* CommandExecutor.CommandExecutor
  const git = yield* Git
  const host = yield* Host
  const config = yield* AppConfig
  const installer = yield* Installer
  const env = host.env
  const childEnv = Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined))
  const dirs = pathDirs(env)

  const run = (argv: readonly [string, ...Array<string>], timeout = "15 seconds" as const) =>
    exec(argv, { cwd: host.cwd, env: childEnv }).pipe(
      Effect.provideService(CommandExecutor.CommandExecutor, executor),
      Effect.timeout(timeout),
      Effect.either
    )


  const checkGit = Effect.gen(function*() {
    const v = yield* git.version.pipe(Effect.either)
    if (Either.isLeft(v)) {
      return bad(
        "git",
        "git",
        true,
        v.left.reason === "NotInstalled" ? "git is not on PATH" : v.left.message,
        "install git ≥ 2.38 (e.g. apt-get install git, brew install git) and make sure it is on PATH"
      )
    }
    const text = v.right.join(".")
    return atLeast(v.right, minGit)
      ? ok("git", "git", true, `git ${text}`)
      : bad("git", "git", true, `git ${text} is older than 2.38 (conflict preview needs merge-tree --write-tree)`, "upgrade git to 2.38 or newer")
  })

  const checkNode = Effect.sync(() => {
    const v = parseVersion(host.nodeVersion)
    return atLeast(v, minNode)
      ? ok("node", "Node.js", true, `node ${host.nodeVersion}`)
      : bad("node", "Node.js", true, `node ${host.nodeVersion} is older than 20.11`, "install Node.js 20.11 or newer")
  })

  const checkAgent = Effect.gen(function*() {
    const agent = config.values.agent
    const found = yield* which(fs, path, agent, dirs, host.cwd)
    return Option.isSome(found)
      ? ok("agent", "agent CLI", true, `${agent} → ${found.value}`)
      : bad(
        "agent",
        "agent CLI",
        true,
        `${agent} is not on PATH (config key agent = ${JSON.stringify(agent)}, from ${config.sources.agent})`,
        agent === "claude"
          ? "install Claude Code (npm install -g @anthropic-ai/claude-code), or choose another agent with `parallel-cc config set agent <command>`"
          : `install ${agent}, or change it with \`parallel-cc config set agent <command>\``
      )
  })

  const checkDatabase = Effect.gen(function*() {
    const file = config.dbPath
    const title = "database"
    const exists = yield* fs.exists(file).pipe(Effect.orElseSucceed(() => false))
    const dir = path.dirname(file)
    if (!exists) {
      const anc = yield* existingAncestor(fs, path, dir)
      const writable = yield* fs.access(anc, { writable: true }).pipe(Effect.as(true), Effect.orElseSucceed(() => false))
      return writable
        ? ok("database", title, true, `${file} does not exist yet; it is created on first use`)
        : bad("database", title, true, `${file} cannot be created: ${anc} is not writable`, "fix the permissions, or point PARALLEL_CC_DATA_DIR at a directory you own")
    }
    const fileW = yield* fs.access(file, { writable: true }).pipe(Effect.as(true), Effect.orElseSucceed(() => false))
    const dirW = yield* fs.access(dir, { writable: true }).pipe(Effect.as(true), Effect.orElseSucceed(() => false))
    const looked = yield* LegacyImport.inspect(file).pipe(Effect.provideService(FileSystem.FileSystem, fs), Effect.either)
    if (!fileW || !dirW) {
      const what = !fileW ? `${file} is read-only` : `its directory ${dir} is read-only (SQLite needs it for the -wal/-shm files)`
      return bad("database", title, true, what, `make it writable (chmod u+w ${!fileW ? file : dir}), or point PARALLEL_CC_DATA_DIR elsewhere`)
    }
    if (Either.isLeft(looked)) {
      return bad("database", title, true, `${file} cannot be read: ${looked.left.message}`, "move the file away; parallel-cc creates a new store")
    }
    const found = Option.getOrUndefined(looked.right)
    if (found?.kind === "legacy") {
      const info = Option.getOrUndefined(found.info)
      return bad(
        "database",
        title,
        true,
        `${file} was created by the original parallel-cc (schema ${info?.version ?? "?"}, ${info?.counts.sessions ?? 0} sessions)`,
        "run `parallel-cc migrate` to import it (it is backed up and kept)"
      )
    }
    if (found?.kind === "unknown") {
      return bad("database", title, true, `${file} is a SQLite file of another program`, "move it away, or point PARALLEL_CC_DATA_DIR elsewhere")
    }
    const version = yield* readVersion(file)
    if (Either.isLeft(version)) {
      return bad("database", title, true, `${file} cannot be read: ${version.left}`, "move the file away; parallel-cc creates a new store")
    }
    const v = version.right
    if (v < latestVersion) {
      return bad("database", title, true, `${file} is at schema version ${v}; this parallel-cc uses ${latestVersion}`, "run `parallel-cc migrate`")
    }
    if (v > latestVersion) {
      return bad("database", title, true, `${file} is at schema version ${v}, newer than this parallel-cc (${latestVersion})`, "upgrade parallel-cc")
    }
    return ok("database", title, true, `${file}: writable, schema version ${v} (latest)`)
  })

  const readVersion = (file: string) =>
    Effect.scoped(Effect.gen(function*() {
      const sql = yield* SqliteClient.make({ filename: file, readonly: true, disableWAL: true }).pipe(Effect.provide(Reactivity.layer))
      const rows = yield* decodeRows(Schema.Struct({ user_version: Schema.Number }))(sql`PRAGMA user_version`)
      return rows[0]?.user_version ?? 0
    })).pipe(
      Effect.mapError(messageOf),
      Effect.catchAllDefect((d) => Effect.fail(messageOf(d))),
      Effect.either
    )

  const pieceFindings = (status: ReadonlyArray<PieceStatus>): ReadonlyArray<Finding> => {
    const hooks = status.filter((s) => s.piece === "hooks")
    const installedHooks = hooks.filter((s) => s.state === "installed")
    const brokenHooks = hooks.filter((s) => s.state !== "installed" && s.state !== "missing")
    const hookFinding = brokenHooks.length > 0
      ? bad("hooks", "session hooks", true, brokenHooks.map((s) => `${s.location}: ${s.state}, ${s.detail}`).join("; "), "run `parallel-cc install --hooks`")
      : installedHooks.length > 0
      ? ok("hooks", "session hooks", true, installedHooks.map((s) => `${s.scope} (${s.location})`).join(", "))
      : bad("hooks", "session hooks", true, `not installed (${hooks.map((s) => s.detail).filter((d) => d !== "not installed").join("; ") || hooks[0]?.location || "settings.json"})`, "run `parallel-cc install --hooks` (or --all)")
    const mcp = status.find((s) => s.piece === "mcp")
    const mcpFinding = mcp === undefined || mcp.state === "installed"
      ? ok("mcp", "MCP server registration", true, mcp === undefined ? "" : `${mcp.location}: ${mcp.detail}`)
      : bad("mcp", "MCP server registration", true, `${mcp.location}: ${mcp.state === "missing" ? "" : `${mcp.state}, `}${mcp.detail}`, "run `parallel-cc install --mcp`")
    const alias = status.filter((s) => s.piece === "alias")
    const broken = alias.filter((s) => s.state === "broken" || s.state === "error")
    const missing = alias.filter((s) => s.state !== "installed" && !broken.includes(s))
    const aliasFinding = broken.length > 0
      ? bad("alias", "claude alias", true, broken.map((s) => `${s.location}: ${s.detail}`).join("; "), "run `parallel-cc install --alias`")
      : missing.length > 0
      ? bad("alias", "claude alias", false, missing.map((s) => `${s.shell ?? "shell"}: ${s.state} (${s.location})`).join("; "), "run `parallel-cc install --alias`, or start agents with claude-parallel")
      : ok("alias", "claude alias", false, alias.map((s) => `${s.shell}: ${s.detail}`).join("; "))
    return [hookFinding, mcpFinding, aliasFinding, providerFinding(status)]
  }

  const isSet = (name: string) => (env[name] ?? "").trim() !== ""

  const checkE2b = Effect.sync(() =>
    isSet("E2B_API_KEY")
      ? ok("e2b", "E2B API key", false, "E2B_API_KEY is set (value not shown)")
      : bad("e2b", "E2B API key", false, "E2B_API_KEY is not set; needed only for sandbox runs with --provider e2b", "get a key at https://e2b.dev and export E2B_API_KEY")
  )

  const checkSandboxAuth = Effect.gen(function*() {
    if (isSet("ANTHROPIC_API_KEY")) return ok("sandbox-auth", "agent credentials for sandboxes", false, "ANTHROPIC_API_KEY is set (value not shown)")
    if (isSet("CLAUDE_CODE_OAUTH_TOKEN")) {
      return ok("sandbox-auth", "agent credentials for sandboxes", false, "CLAUDE_CODE_OAUTH_TOKEN is set (value not shown)")
    }
    const claudeDir = isSet("CLAUDE_CONFIG_DIR") ? env.CLAUDE_CONFIG_DIR! : path.join(host.homeDir, ".claude")
    const creds = path.join(claudeDir, ".credentials.json")
    if (yield* fs.exists(creds).pipe(Effect.orElseSucceed(() => false))) {
      return ok("sandbox-auth", "agent credentials for sandboxes", false, `local Claude Code login found (${creds})`)
    }
    return bad(
      "sandbox-auth",
      "agent credentials for sandboxes",
      false,
      "no ANTHROPIC_API_KEY, CLAUDE_CODE_OAUTH_TOKEN or Claude Code login; needed only for sandbox runs",
      "export ANTHROPIC_API_KEY, or run `claude setup-token` and export CLAUDE_CODE_OAUTH_TOKEN"
    )
  })

  const checkGh = Effect.gen(function*() {
    const gh = yield* which(fs, path, "gh", dirs, host.cwd)
    if (Option.isNone(gh)) {
      return bad("gh", "GitHub CLI", false, "gh is not on PATH; needed only for sandbox runs with --git-live (pull requests)", "install the GitHub CLI (https://cli.github.com) and run `gh auth login`")
    }
    const r = yield* run([gh.value, "auth", "status"])
    if (Either.isRight(r) && r.right.exitCode === 0) return ok("gh", "GitHub CLI", false, `${gh.value}, authenticated`)
    return bad("gh", "GitHub CLI", false, `${gh.value} is not authenticated`, "run `gh auth login`, or export GITHUB_TOKEN")
  })

  const checkBwrap = Effect.gen(function*() {
    const bwrap = yield* which(fs, path, "bwrap", dirs, host.cwd)
    if (Option.isNone(bwrap)) {
      return bad(
        "bubblewrap",
        "bubblewrap (local sandbox)",
        false,
        "bwrap is not on PATH; the local sandbox provider then runs agents as plain processes in a temp directory",
        "install bubblewrap (apt-get install bubblewrap, dnf install bubblewrap)"
      )
    }
    const r = yield* run([bwrap.value, "--ro-bind", "/", "/", "--dev", "/dev", "--unshare-all", "true"])
    if (Either.isRight(r) && r.right.exitCode === 0) return ok("bubblewrap", "bubblewrap (local sandbox)", false, `${bwrap.value} works`)
    const why = Either.isRight(r) ? r.right.stderr.trim().split("\n")[0] ?? `exit ${r.right.exitCode}` : "did not finish"
    return bad(
      "bubblewrap",
      "bubblewrap (local sandbox)",
      false,
      `${bwrap.value} cannot create a sandbox here (${why})`,
      "allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1), or run without isolation"
    )
  })

  const checkNotify = Effect.map(
    which(fs, path, process.platform === "darwin" ? "osascript" : "notify-send", dirs, host.cwd),
    (cmd) => notifyFinding(process.platform, Option.getOrUndefined(cmd))
  )

  const runAll = (options: { readonly strict?: boolean } = {}) =>
    Effect.gen(function*() {
      const status = yield* installer.status
      const commands = yield* installer.commands
      const checks = yield* Effect.all(
        [checkGit, checkNode, checkAgent, checkDatabase, checkE2b, checkSandboxAuth, checkGh, checkBwrap, checkNotify],
        { concurrency: 4 }
      )
      const [g, n, a, d, e2b, auth, gh, bw, nt] = checks
      const lfs = yield* checkLfs(host.cwd).pipe(
        Effect.provideService(Git, git),
        Effect.provideService(FileSystem.FileSystem, fs),
        Effect.provideService(Path.Path, path)
      )
      const findings = [g, n, a, d, ...pieceFindings(status), commandsFinding(commands), ...lfs, e2b, auth, gh, bw, nt]
      const strict = options.strict === true
      const healthy = findings.every((f) => f.level === "ok" || (!strict && f.level === "warning"))
      return { healthy, strict, findings } satisfies DoctorReport
    }).pipe(Effect.withSpan("Doctor.run"))

  return Doctor.of({ run: runAll })
})

/** The doctor; needs the Installer (for the hook/alias/MCP checks), Host, AppConfig, Git and the platform. */
export const layer = Layer.effect(Doctor, make)
