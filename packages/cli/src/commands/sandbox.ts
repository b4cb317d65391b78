/**
 * `parallel-cc sandbox run|logs|download|kill|list|status`: sandboxed autonomous runs. Handlers parse,
 * call the core `Sandboxes` service once, and render.
 */
import { Command, Options, Prompt } from "@effect/cli"
import { Terminal } from "@effect/platform"
import { ParallelRunner, Sandboxes, SandboxRuns } from "@parallel-cc/core"
import { Clock, Console, Effect, Either, Option, Redacted, Schema, Stream } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import type { HelpLayout } from "../internal/HelpText.js"
import { hostContext, withSandboxes } from "../internal/Sandbox.js"
import { print, printJson } from "../internal/Output.js"
import { resultLine, runStatusText, runsText } from "../internal/SandboxText.js"
import { runMulti } from "./parallel.js"

/** A run ended without success; its summary has been printed. Exit code 1. */
class SandboxRunFailed extends Schema.TaggedError<SandboxRunFailed>()("SandboxRunFailed", {
  sessionId: Schema.String,
  status: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `sandbox run ${this.sessionId} ${this.status.replace("_", " ")}: ${this.detail}`
  }
}

/** The run succeeded but --git-live could not push or open the pull request. Exit code 1. */
class GitLiveFailed extends Schema.TaggedError<GitLiveFailed>()("GitLiveFailed", { detail: Schema.String, where: Schema.String }) {
  override get message(): string {
    return `--git-live: ${this.detail} (the commit is ${this.where})`
  }
}

/** Invalid combination of flags. Exit code 1 with the message. */
class SandboxUsage extends Schema.TaggedError<SandboxUsage>()("SandboxUsage", { detail: Schema.String }) {
  override get message(): string {
    return this.detail
  }
}

const encodeRun = Schema.encodeSync(SandboxRuns.SandboxRun)

const realpathOr = (p: string) => {
  try {
    return fs.realpathSync(p)
  } catch {
    return p
  }
}

const readStdin = () => fs.readFileSync(0, "utf8")

const kb = (n: number) => (n < 1024 ? `${n} B` : n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KB` : `${(n / 1024 / 1024).toFixed(1)} MB`)

const progress = (e: Sandboxes.RunEvent): Effect.Effect<void> =>
  Effect.sync(() => {
    const w = (s: string) => process.stderr.write(s + "\n")
    switch (e._tag) {
      case "Started":
        return w(`sandbox run ${e.sessionId}: ${e.agent} on the ${e.provider} provider (${e.repoPath})`)
      case "Packed":
        return w(
          e.inPlace === true
            ? `  ${e.files} files, in the run's own worktree (${kb(e.bytes)} of uncommitted changes put in)`
            : e.compressed
            ? `  packed ${e.files} files (${kb(e.bytes)} compressed)`
            : `  copying ${e.files} files (${kb(e.bytes)})`
        )
      case "SandboxReady":
        return w(`  sandbox: ${e.isolation.description}`)
      case "SetupCommand":
        return w(`  setup: ${e.command}`)
      case "AgentStarted":
        return w(`  agent started`)
      case "AgentOutput":
        return w(`  │ ${e.line}`)
      case "Warning":
        return w(`  warning: ${e.message}`)
      default:
        return
    }
  })

const sessionId = Options.text("session-id").pipe(Options.withDescription("The run's session id (from `sandbox run` or `sandbox list`)"))
const json = Options.boolean("json").pipe(Options.withDescription("Print one JSON document"))
const optText = (name: string, description: string) => Options.text(name).pipe(Options.withDescription(description), Options.optional)

/** The options of `sandbox run` that a parallel run reads. */
interface MultiFlags {
  readonly repo: string
  readonly prompt: Option.Option<string>
  readonly promptFile: Option.Option<string>
  readonly provider: Option.Option<"local" | "e2b">
  readonly agent: Option.Option<string>
  readonly branch: Option.Option<string>
  readonly gitUser: Option.Option<string>
  readonly gitEmail: Option.Option<string>
  readonly authMethod: Option.Option<"api-key" | "oauth">
  readonly sshKey: Option.Option<string>
  readonly confirmSshKey: boolean
  readonly npmToken: Option.Option<string>
  readonly npmRegistry: Option.Option<string>
  readonly network: Option.Option<"on" | "off" | "allow">
  readonly allowHost: ReadonlyArray<string>
  readonly template: Option.Option<string>
  readonly useTemplate: Option.Option<string>
  readonly budget: Option.Option<number>
  readonly timeout: Option.Option<string>
  readonly keep: boolean
  readonly dryRun: boolean
  readonly gitLive: boolean
  readonly targetBranch: Option.Option<string>
  readonly task: ReadonlyArray<string>
  readonly taskFile: Option.Option<string>
  readonly maxConcurrent: Option.Option<number>
  readonly failFast: boolean
  readonly outputDir: Option.Option<string>
  readonly retries: Option.Option<number>
  readonly resume: Option.Option<string>
  readonly json: boolean
}

/** `sandbox run --multi`: tasks from --task, --task-file or --resume, run by the core ParallelRunner. */
const multiRun = (o: MultiFlags, host: Sandboxes.HostContext) =>
  Effect.gen(function*() {
    const usage = (detail: string) => new SandboxUsage({ detail })
    const sources = [o.task.length > 0, Option.isSome(o.taskFile), Option.isSome(o.resume)].filter((x) => x).length
    if (sources !== 1) return yield* usage("--multi needs exactly one of --task (repeatable), --task-file FILE or --resume DIR")
    const single = [
      Option.isSome(o.prompt) ? "--prompt" : undefined,
      Option.isSome(o.promptFile) ? "--prompt-file" : undefined,
      o.keep ? "--keep" : undefined,
      o.dryRun ? "--dry-run" : undefined
    ].filter((x) => x !== undefined)
    if (single.length > 0) return yield* usage(`${single.join(", ")} cannot be used with --multi (give the tasks with --task or --task-file)`)
    if (Option.isSome(o.branch) && o.branch.value !== "auto") {
      return yield* usage("with --multi, --branch can only be auto (a branch per task, named from its prompt); name branches per task in a YAML/JSON task file")
    }
    if (Option.isSome(o.resume) && (o.gitLive || Option.isSome(o.outputDir))) {
      return yield* usage("--resume continues a run as it was started: --git-live and --output-dir cannot change")
    }
    const npmFromStdin = Option.isSome(o.npmToken) && o.npmToken.value === "-"
    const npmToken = Option.isNone(o.npmToken) ? undefined : Redacted.make(npmFromStdin ? readStdin().trim() : o.npmToken.value)
    const timeoutMs = Option.isNone(o.timeout)
      ? undefined
      : yield* Either.match(Sandboxes.parseTimeout(o.timeout.value), { onLeft: (d) => Effect.fail(usage(`--timeout: ${d}`)), onRight: Effect.succeed })
    const run: ParallelRunner.TaskRunOptions = {
      provider: Option.getOrUndefined(o.provider),
      agent: Option.getOrUndefined(o.agent),
      branch: Option.isSome(o.branch) ? "auto" : undefined,
      template: Option.getOrUndefined(o.template),
      useTemplate: Option.getOrUndefined(o.useTemplate),
      budgetUsd: Option.getOrUndefined(o.budget),
      timeoutMs,
      authMethod: Option.getOrUndefined(o.authMethod),
      gitUser: Option.getOrUndefined(o.gitUser),
      gitEmail: Option.getOrUndefined(o.gitEmail),
      sshKey: Option.getOrUndefined(o.sshKey),
      sshKeyConfirmed: o.confirmSshKey,
      npmToken,
      npmRegistry: Option.getOrUndefined(o.npmRegistry),
      network: Option.getOrUndefined(o.network),
      allowHosts: o.allowHost.length > 0 ? o.allowHost : undefined
    }
    const scheduling = {
      maxConcurrent: Option.getOrUndefined(o.maxConcurrent),
      failFast: o.failFast ? true : undefined,
      retries: Option.getOrUndefined(o.retries)
    }
    const runner = yield* ParallelRunner.ParallelRunner
    const terminal = process.stderr.isTTY === true
    if (Option.isSome(o.resume)) {
      const dir = o.resume.value
      return yield* runMulti((onEvent) => runner.resume({ outputDir: dir, ...scheduling, run, host }, onEvent), { json: o.json, terminal })
    }
    const tasks = yield* runner.load(
      o.task.length > 0 ? { _tag: "Prompts", prompts: o.task } : { _tag: "File", path: Option.getOrThrow(o.taskFile) },
      host
    )
    return yield* runMulti(
      (onEvent) =>
        runner.run({
          repo: o.repo,
          tasks,
          outputDir: Option.getOrUndefined(o.outputDir),
          ...scheduling,
          run,
          gitLive: o.gitLive ? { targetBranch: Option.getOrUndefined(o.targetBranch) } : undefined,
          host
        }, onEvent),
      { json: o.json, terminal }
    )
  })

/**
 * How `sandbox run --help` presents its two forms — one task, or `--multi` — and its options by concern.
 * A new option belongs in one of these groups (one not named here is listed under "Other options").
 */
export const runHelp: HelpLayout = {
  usages: [
    "[options] (--prompt TEXT | --prompt-file FILE)",
    "--multi [options] (--task TEXT... | --task-file FILE | --resume DIR)"
  ],
  groups: [
    { title: "One task", options: ["--prompt", "--prompt-file", "--keep", "--dry-run"] },
    {
      title: "Many tasks (--multi)",
      options: ["--multi", "--task", "--task-file", "--resume", "--max-concurrent", "--fail-fast", "--retries", "--output-dir"]
    },
    {
      title: "Where and how the agent runs",
      options: ["--repo", "--provider", "--agent", "--template", "--use-template", "--timeout", "--budget", "--auth-method"]
    },
    { title: "Where the results go", options: ["--branch", "--git-live", "--target-branch", "--git-user", "--git-email"] },
    { title: "Credentials for the agent", options: ["--ssh-key", "--confirm-ssh-key", "--npm-token", "--npm-registry"] },
    { title: "Output", options: ["--json"] }
  ]
}

const runCommand = Command.make(
  "run",
  {
    repo: Options.text("repo").pipe(Options.withDescription("The repository (any directory inside it)"), Options.withDefault(".")),
    prompt: optText("prompt", "The task for the agent"),
    promptFile: optText("prompt-file", "Read the task from this file (- for stdin)"),
    provider: Options.choice("provider", ["local", "e2b"]).pipe(
      Options.withDescription("Where to run: local (this machine, bubblewrap when available) or e2b (cloud VM); default from config sandbox.provider"),
      Options.optional
    ),
    agent: optText("agent", "claude, codex, gemini, or the path of an executable that reads the prompt on stdin (default: config agent)"),
    branch: optText("branch", "auto (a branch named from the prompt) or a branch name: commit the changes on that branch; default: uncommitted changes in a review worktree"),
    gitUser: optText("git-user", "Commit author name (with --git-email)"),
    gitEmail: optText("git-email", "Commit author email (with --git-user)"),
    authMethod: Options.choice("auth-method", ["api-key", "oauth"]).pipe(
      Options.withDescription("api-key: ANTHROPIC_API_KEY; oauth: CLAUDE_CODE_OAUTH_TOKEN or your Claude Code login"),
      Options.optional
    ),
    sshKey: optText("ssh-key", "A private key the agent may use for git over SSH (injected 0600, removed after the run)"),
    confirmSshKey: Options.boolean("confirm-ssh-key").pipe(Options.withDescription("Accept giving the agent --ssh-key without asking (required when not on a terminal)")),
    npmToken: optText("npm-token", "An npm token for the agent's .npmrc (- reads it from stdin, which keeps it out of the process list)"),
    npmRegistry: optText("npm-registry", "The npm registry URL for the token (default https://registry.npmjs.org/)"),
    network: Options.choice("network", ["on", "off", "allow"]).pipe(
      Options.withDescription("What the agent may reach: allow (its model API, the repository's package registries and --allow-host; the rest refused and listed), on (everything) or off (nothing); default config sandbox.network (local: allow, e2b: on)"),
      Options.optional
    ),
    allowHost: Options.text("allow-host").pipe(
      Options.withDescription("With --network allow: one more host the agent may reach, HOST, HOST:PORT or *.DOMAIN (repeatable)"),
      Options.repeated
    ),
    template: optText("template", "The provider's template or image"),
    useTemplate: optText("use-template", "A managed template: setup commands and environment (see `parallel-cc templates list`)"),
    budget: Options.float("budget").pipe(
      Options.withDescription("The most this run may cost in US dollars (agent + sandbox time); it stops cleanly, partial changes kept"),
      Options.optional
    ),
    timeout: optText("timeout", "Hard limit: 90s, 45m, 2h or minutes (default config sandbox.timeoutMinutes, 60)"),
    gitLive: Options.boolean("git-live").pipe(
      Options.withDescription("Commit on a branch (--branch, default auto), push it to origin and open a pull request with gh (GITHUB_TOKEN)")
    ),
    targetBranch: optText("target-branch", "The pull request's base branch (default: the repository's current branch)"),
    keep: Options.boolean("keep").pipe(Options.withDescription("Keep the sandbox afterwards (remove it later with `sandbox kill`)")),
    dryRun: Options.boolean("dry-run").pipe(Options.withDescription("Upload and verify the work tree, start no agent")),
    multi: Options.boolean("multi").pipe(Options.withDescription("Run many tasks, each in its own sandbox and worktree (--task, --task-file or --resume)")),
    task: Options.text("task").pipe(Options.withDescription("With --multi: a task prompt (repeat for more tasks)"), Options.repeated),
    taskFile: optText("task-file", "With --multi: one task per line (# comments), or a .yaml/.json file of tasks with id, prompt, dependsOn, agent, branch"),
    maxConcurrent: Options.integer("max-concurrent").pipe(
      Options.withDescription("With --multi: at most N tasks at once (default config parallel.maxConcurrent, 3)"),
      Options.optional
    ),
    failFast: Options.boolean("fail-fast").pipe(Options.withDescription("With --multi: on the first failure stop the running tasks (partial results kept) and cancel the rest")),
    outputDir: optText("output-dir", "With --multi: where the results go (default parallel-results/<timestamp>)"),
    retries: Options.integer("retries").pipe(
      Options.withDescription("With --multi: retry a task up to N times after a transient provider error (rate limit, no capacity, timeout)"),
      Options.optional
    ),
    resume: optText("resume", "With --multi: run again the tasks of the run in this output directory that did not succeed"),
    json
  },
  (o) =>
    withSandboxes(Effect.gen(function*() {
      const host = yield* hostContext
      const usage = (detail: string) => new SandboxUsage({ detail })
      if (Option.isSome(o.targetBranch) && !o.gitLive) return yield* usage("--target-branch goes with --git-live")
      if (o.multi) return yield* multiRun(o, host)
      const multiOnly = [
        o.task.length > 0 ? "--task" : undefined,
        Option.isSome(o.taskFile) ? "--task-file" : undefined,
        Option.isSome(o.maxConcurrent) ? "--max-concurrent" : undefined,
        o.failFast ? "--fail-fast" : undefined,
        Option.isSome(o.outputDir) ? "--output-dir" : undefined,
        Option.isSome(o.retries) ? "--retries" : undefined,
        Option.isSome(o.resume) ? "--resume" : undefined
      ].filter((x) => x !== undefined)
      if (multiOnly.length > 0) return yield* usage(`${multiOnly.join(", ")} ${multiOnly.length === 1 ? "goes" : "go"} with --multi (a parallel run)`)
      if (Option.isSome(o.prompt) === Option.isSome(o.promptFile)) {
        return yield* usage("give exactly one of --prompt TEXT or --prompt-file FILE")
      }
      const npmFromStdin = Option.isSome(o.npmToken) && o.npmToken.value === "-"
      if (npmFromStdin && Option.isSome(o.promptFile) && o.promptFile.value === "-") {
        return yield* usage("--prompt-file - and --npm-token - cannot both read stdin")
      }
      const prompt = Option.isSome(o.prompt)
        ? o.prompt.value
        : yield* Effect.try({
          try: () => (o.promptFile.pipe(Option.getOrThrow) === "-" ? readStdin() : fs.readFileSync(o.promptFile.pipe(Option.getOrThrow), "utf8")),
          catch: (e) => usage(`--prompt-file: ${e instanceof Error ? e.message : String(e)}`)
        })
      const npmToken = Option.isNone(o.npmToken)
        ? undefined
        : Redacted.make(npmFromStdin ? readStdin().trim() : o.npmToken.value)
      if (Option.isSome(o.npmToken) && !npmFromStdin && !o.json) {
        yield* Console.error("warning: --npm-token on the command line is visible to other users in the process list; prefer --npm-token - (stdin)")
      }
      const timeoutMs = Option.isNone(o.timeout)
        ? undefined
        : yield* Either.match(Sandboxes.parseTimeout(o.timeout.value), {
          onLeft: (d) => Effect.fail(usage(`--timeout: ${d}`)),
          onRight: Effect.succeed
        })
      let confirmed = o.confirmSshKey
      if (Option.isSome(o.sshKey) && !confirmed && process.stdin.isTTY === true) {
        confirmed = yield* Prompt.confirm({
          message: `Give the agent your SSH key ${o.sshKey.value}? It can use it for anything the key opens (pushing included).`,
          initial: false
        })
      }
      const interactive = process.stdin.isTTY === true && !o.json
      const terminal = yield* Terminal.Terminal
      const sandboxes = yield* Sandboxes.Sandboxes
      const result = yield* sandboxes.run(
        {
          repo: o.repo,
          prompt,
          provider: Option.getOrUndefined(o.provider),
          agent: Option.getOrUndefined(o.agent),
          branch: Option.getOrUndefined(o.branch),
          gitUser: Option.getOrUndefined(o.gitUser),
          gitEmail: Option.getOrUndefined(o.gitEmail),
          authMethod: Option.getOrUndefined(o.authMethod),
          sshKey: Option.getOrUndefined(o.sshKey),
          sshKeyConfirmed: confirmed,
          npmToken,
          npmRegistry: Option.getOrUndefined(o.npmRegistry),
          network: Option.getOrUndefined(o.network),
          allowHosts: o.allowHost.length > 0 ? o.allowHost : undefined,
          template: Option.getOrUndefined(o.template),
          useTemplate: Option.getOrUndefined(o.useTemplate),
          budgetUsd: Option.getOrUndefined(o.budget),
          timeoutMs,
          gitLive: o.gitLive,
          targetBranch: Option.getOrUndefined(o.targetBranch),
          confirmGitLive: interactive
            ? (message: string) =>
              Prompt.confirm({ message: `${message.replace(/ — keep the results.*$/, "")}. Push and open the pull request anyway?`, initial: false }).pipe(
                Effect.provideService(Terminal.Terminal, terminal),
                Effect.orElseSucceed(() => false)
              )
            : undefined,
          keep: o.keep,
          dryRun: o.dryRun,
          host
        },
        o.json ? undefined : progress
      )
      const r = result.run
      if (o.json) {
        yield* printJson({
          run: encodeRun(r),
          isolation: result.isolation,
          changes: result.changes,
          refused: result.refused,
          worktreePath: result.worktreePath,
          branch: result.branch,
          commit: result.commit,
          pullRequestUrl: result.pullRequestUrl,
          gitLiveError: result.gitLiveError,
          warnings: result.warnings,
          network: result.network,
          refusedHosts: result.refusedHosts
        })
      } else {
        const lines = [`Run ${r.sessionId}: ${resultLine(r)}`]
        lines.push(`Sandbox: ${r.sandboxState}${r.sandboxState === "kept" && r.sandboxId !== null ? ` (${r.sandboxId}; remove it with \`parallel-cc sandbox kill --session-id ${r.sessionId}\`)` : ""} — ${result.isolation.description}`)
        if (r.dryRun) lines.push(`Dry run: ${r.uploadFiles ?? 0} files (${kb(r.uploadBytes ?? 0)}) uploaded and verified; no agent was started.`)
        else {
          const c = result.changes
          lines.push(`Changes: ${c.added.length} added, ${c.modified.length} modified, ${c.deleted.length} deleted`)
          if (result.worktreePath !== null) {
            if (result.commit !== null) {
              lines.push(`Committed ${result.commit.slice(0, 12)} on branch ${result.branch} (worktree ${result.worktreePath}).`)
              lines.push(`Look at it:  git -C ${JSON.stringify(result.worktreePath)} show --stat`)
            } else {
              lines.push(`${r.status === "succeeded" ? "Ready for review" : "Partial changes, not committed"} in the worktree ${result.worktreePath} (branch ${result.branch}):`)
              // `git diff` alone hides the files the agent added: `parallel-cc diff` shows them.
              lines.push(`  parallel-cc diff ${r.sessionId}          (every change, added files included; --stat for a summary)`)
              lines.push(`  cd ${JSON.stringify(result.worktreePath)}`)
            }
          }
          if (result.pullRequestUrl !== null) lines.push(`Pull request: ${result.pullRequestUrl}`)
          for (const x of result.refused) lines.push(`Refused ${x.path}: ${x.reason}`)
        }
        if (result.refusedHosts.length > 0) {
          lines.push(`Network refused (allow with --allow-host): ${result.refusedHosts.map((h) => `${h.host}:${h.port}${h.count > 1 ? ` ×${h.count}` : ""}`).join(", ")}`)
        }
        lines.push(`Log: parallel-cc sandbox logs --session-id ${r.sessionId}`)
        yield* print(lines.join("\n"))
      }
      if (r.status !== "succeeded") {
        return yield* new SandboxRunFailed({ sessionId: r.sessionId, status: r.status, detail: r.error ?? "see the log" })
      }
      if (result.gitLiveError !== null) {
        return yield* new GitLiveFailed({ detail: result.gitLiveError, where: `on branch ${result.branch} in ${result.worktreePath}` })
      }
    }))
).pipe(Command.withDescription(
    "Run an agent unattended in a sandbox on a copy of the work tree; its changes come back in a worktree. " +
      "--multi runs many tasks at once, each in its own sandbox, with a summary report"
  ))

const logsCommand = Command.make(
  "logs",
  {
    sessionId,
    follow: Options.boolean("follow").pipe(Options.withAlias("f"), Options.withDescription("Keep printing as the run goes, until it ends")),
    lines: Options.integer("lines").pipe(Options.withAlias("n"), Options.withDescription("Only the last N lines"), Options.optional)
  },
  (o) =>
    withSandboxes(Effect.gen(function*() {
      const sandboxes = yield* Sandboxes.Sandboxes
      const n = Option.getOrUndefined(o.lines)
      if (o.follow) {
        return yield* sandboxes.follow(o.sessionId, { lines: n }).pipe(Stream.runForEach((l) => Console.log(l)))
      }
      const lines = yield* sandboxes.logs(o.sessionId, { lines: n })
      if (lines.length > 0) yield* print(lines.join("\n"))
    }))
).pipe(Command.withDescription("Print a run's log (works from any terminal, during or after the run)"))

const downloadCommand = Command.make(
  "download",
  {
    sessionId,
    output: Options.text("output").pipe(Options.withDescription("Directory to write the changed files into (created if missing)")),
    json
  },
  (o) =>
    withSandboxes(Effect.gen(function*() {
      const sandboxes = yield* Sandboxes.Sandboxes
      const report = yield* sandboxes.download(o.sessionId, o.output, yield* hostContext)
      if (o.json) return yield* printJson(report)
      const lines = [
        `${report.written.length} file(s) written, ${report.deleted.length} deleted in ${o.output} (from the ${report.source === "sandbox" ? "live sandbox" : "saved changes"}).`
      ]
      for (const p of report.written) lines.push(`  + ${p}`)
      for (const p of report.deleted) lines.push(`  - ${p}`)
      for (const x of report.refused) lines.push(`  refused ${x.path}: ${x.reason}`)
      yield* print(lines.join("\n"))
    }))
).pipe(Command.withDescription("Write a run's added and changed files (and apply its deletions) to a directory"))

const killCommand = Command.make("kill", { sessionId, json }, (o) =>
  withSandboxes(Effect.gen(function*() {
    const sandboxes = yield* Sandboxes.Sandboxes
    const report = yield* sandboxes.kill(o.sessionId, yield* hostContext)
    if (o.json) return yield* printJson({ action: report.action, run: encodeRun(report.run) })
    const r = report.run
    const text = {
      stopped: `Stopped run ${r.sessionId} (${r.status}); sandbox ${r.sandboxState}.${r.worktreePath !== null ? ` Partial changes: ${r.worktreePath}` : ""}`,
      requested: `Asked run ${r.sessionId} to stop; it has not finished yet (see \`parallel-cc sandbox status --session-id ${r.sessionId}\`).`,
      removed: `Removed the kept sandbox of run ${r.sessionId}.`,
      none: `Run ${r.sessionId} is not running (${r.status}; sandbox ${r.sandboxState}); nothing to kill.`
    }[report.action]
    yield* print(text)
  }))).pipe(Command.withDescription("Stop a running sandboxed run (its partial changes are kept), or remove a kept sandbox"))

const listCommand = Command.make(
  "list",
  {
    repo: optText("repo", "Only runs of the repository at this path"),
    limit: Options.integer("limit").pipe(Options.withDescription("At most N runs, newest first"), Options.withDefault(20)),
    json
  },
  (o) =>
    withSandboxes(Effect.gen(function*() {
      const host = yield* hostContext
      const repoPath = Option.isSome(o.repo) ? realpathOr(path.resolve(host.cwd, o.repo.value)) : undefined
      const sandboxes = yield* Sandboxes.Sandboxes
      const runs = yield* sandboxes.list({ repoPath, limit: o.limit })
      if (o.json) return yield* printJson({ runs: runs.map((r) => encodeRun(r)) })
      yield* print(runsText(runs, yield* Clock.currentTimeMillis))
    }))
).pipe(Command.withDescription("List sandboxed runs, newest first"))

const statusCommand = Command.make("status", { sessionId, json }, (o) =>
  withSandboxes(Effect.gen(function*() {
    const sandboxes = yield* Sandboxes.Sandboxes
    const s = yield* sandboxes.status(o.sessionId, yield* hostContext)
    const r = s.run
    if (o.json) return yield* printJson({ run: encodeRun(r), sandbox: s.sandbox, supervisorAlive: s.supervisorAlive })
    yield* print(runStatusText(r, s.sandbox))
  }))).pipe(Command.withDescription("Show one sandboxed run: status, sandbox, result, changes"))

/** `parallel-cc sandbox …`. */
export const sandboxCommand = Command.make("sandbox").pipe(
  Command.withDescription("Sandboxed autonomous runs: run, logs, download, kill, list, status"),
  Command.withSubcommands([runCommand, logsCommand, downloadCommand, killCommand, listCommand, statusCommand])
)
