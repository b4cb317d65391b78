/**
 * `install`: the session hooks, the `claude` alias and the MCP registration — see core/src/setup/Installer.ts for
 * the rules (atomic, backed up, idempotent, exactly undone). Never prompts unless --interactive on a TTY.
 */
import { Command, Options, Prompt } from "@effect/cli"
import { Installer } from "@parallel-cc/core"
import { Effect, Option } from "effect"
import { Layers, withSetup } from "../internal/Env.js"
import { print, printJson, table, UsageError } from "../internal/Output.js"

const flag = (name: string, description: string) => Options.boolean(name).pipe(Options.withDescription(description))

const options = {
  all: flag("all", "Install everything: the hook (global), the alias and the MCP server"),
  hooks: flag("hooks", "The Claude Code hooks in settings.json: the session hook (heartbeat, agent state, notices, the write guard) and the worktree provider (WorktreeCreate/WorktreeRemove)"),
  global: flag("global", "Hook in ~/.claude/settings.json (the default)"),
  local: flag("local", "Hook in <repo>/.claude/settings.json of the current repository (or --repo)"),
  repo: Options.text("repo").pipe(Options.withDescription("Repository for --local (default: the current directory)"), Options.optional),
  worktreeProvider: flag("worktree-provider", "With --hooks/--all: include the WorktreeCreate/WorktreeRemove hooks (the default; undoes --no-worktree-provider)"),
  noWorktreeProvider: flag(
    "no-worktree-provider",
    "With --hooks/--all: leave out (and remove) the WorktreeCreate/WorktreeRemove hooks that make claude -w and worktree subagents parallel-cc sessions"
  ),
  alias: flag("alias", "The claude → claude-parallel alias for bash, zsh and fish"),
  mcp: flag("mcp", "Register the MCP server (parallel-cc mcp serve) with Claude Code, user scope"),
  interactive: flag("interactive", "Ask what to install (needs a terminal)"),
  status: flag("status", "Show what is installed, where, and whether it is outdated"),
  uninstall: flag("uninstall", "Remove instead: the pieces named, or everything (with nothing named or --all)"),
  dryRun: flag("dry-run", "Show what would change; change nothing"),
  json: flag("json", "Print one JSON document")
}

type Opts = { readonly [K in keyof typeof options]: K extends "repo" ? Option.Option<string> : boolean }

const pieceLabel = (c: { piece: string; scope?: string | undefined; shell?: string | undefined }) =>
  `${c.piece}${c.scope !== undefined ? ` (${c.scope})` : c.shell !== undefined ? ` (${c.shell})` : ""}`

const would: Record<Installer.Change["action"], string> = {
  created: "would create",
  updated: "would update",
  unchanged: "unchanged",
  removed: "would remove",
  absent: "absent",
  restored: "would restore",
  skipped: "skipped"
}

const renderReport = (r: Installer.Report, options: { readonly plan?: boolean } = {}) =>
  Effect.gen(function*() {
    if (options.plan === true) yield* print("Planned changes:")
    // Pieces that were not there are only listed with --json.
    for (const c of r.changes.filter((c) => c.action !== "absent")) {
      yield* print(`${(r.dryRun ? would[c.action] : c.action).padEnd(13)} ${pieceLabel(c).padEnd(15)} ${c.target}`)
      yield* print(`${" ".repeat(14)}${c.detail}`)
    }
    if (r.backupDir !== undefined) yield* print(`\nBackups of the files before this change: ${r.backupDir}`)
    if (r.cleaned.length > 0) yield* print(`\n${r.dryRun ? "Would remove" : "Removed"} parallel-cc's install state: ${r.cleaned.join(", ")}`)
    for (const k of r.kept) yield* print(`Kept ${k}`)
    if (options.plan === true) return
    if (r.dryRun) yield* print("\nDry run: nothing was changed.")
    else if (r.changes.every((c) => c.action === "unchanged" || c.action === "absent") && r.cleaned.length === 0) {
      yield* print("\nNothing to change.")
    }
  })

const renderStatus = (st: ReadonlyArray<Installer.PieceStatus>) =>
  print(table(["PIECE", "STATE", "WHERE", "DETAIL"], st.map((s) => [pieceLabel(s), s.state, s.location, s.detail])))

const commandState: Record<Installer.CommandStatus["state"], string> = { "on-path": "on PATH", "not-on-path": "not on PATH", missing: "missing" }

const showStatus = (json: boolean) =>
  withSetup(Effect.gen(function*() {
    const installer = yield* Installer.Installer
    const st = yield* installer.status
    const commands = yield* installer.commands
    if (json) return yield* printJson({ pieces: st, commands })
    yield* renderStatus(st)
    yield* print("")
    yield* print(table(["COMMAND", "STATE", "DETAIL"], commands.map((c) => [c.command, commandState[c.state], c.detail])))
    const fixes = [...new Map(commands.flatMap((c) => (c.fix === null ? [] : [[c.fix.line, c.fix] as const]))).values()]
    for (const f of fixes) yield* print(`\nTo put it on PATH, add this line to ${f.file} and open a new shell:\n  ${f.line}`)
  }))

/** Ask what to install; returns None when the user declines. */
const ask = (inRepo: boolean) =>
  Effect.gen(function*() {
    const hooks = yield* Prompt.run(Prompt.select({
      message: "Install the session hooks (Claude Code reports each session's state, and is told about overlapping work)?",
      choices: [
        { title: "yes, for all projects (~/.claude/settings.json)", value: "global" as const },
        ...(inRepo ? [{ title: "yes, for this repository only (<repo>/.claude/settings.json)", value: "local" as const }] : []),
        { title: "no", value: "no" as const }
      ]
    }))
    const alias = yield* Prompt.run(Prompt.confirm({ message: "Make `claude` start through claude-parallel (shell alias)?", initial: true }))
    const mcp = yield* Prompt.run(Prompt.confirm({ message: "Register the parallel-cc MCP server with Claude Code?", initial: true }))
    return {
      hooks: hooks === "no" ? undefined : { scope: hooks },
      alias,
      mcp
    } satisfies Installer.Selection
  })

const handler = (o: Opts) =>
  Effect.gen(function*() {
    const { interactive } = yield* Layers
    if (o.global && o.local) return yield* new UsageError({ message: "--global and --local cannot be used together" })
    if (o.status) {
      if (o.uninstall || o.interactive || o.dryRun) return yield* new UsageError({ message: "--status only reports; use it alone (with --json)" })
      return yield* showStatus(o.json)
    }
    if (o.interactive && o.uninstall) return yield* new UsageError({ message: "--interactive cannot be combined with --uninstall" })
    if (o.interactive && o.json) return yield* new UsageError({ message: "--interactive cannot be combined with --json" })
    const repo = Option.getOrUndefined(o.repo)
    const hooksNamed = o.hooks || o.global || o.local || repo !== undefined
    const named = hooksNamed || o.alias || o.mcp
    if (o.worktreeProvider && o.noWorktreeProvider) {
      return yield* new UsageError({ message: "--worktree-provider and --no-worktree-provider exclude each other" })
    }
    const hookSel = {
      scope: o.local ? "local" as const : o.global ? "global" as const : undefined,
      repo,
      worktreeProvider: o.noWorktreeProvider ? false : o.worktreeProvider ? true : undefined
    }

    return yield* withSetup(Effect.gen(function*() {
      // Ctrl-C or Escape at a prompt: nothing has been written yet.
      const installer = yield* Installer.Installer
      if (o.uninstall) {
        const sel = !named || o.all ? "all" as const : {
          hooks: hooksNamed ? hookSel : undefined,
          alias: o.alias,
          mcp: o.mcp
        }
        const r = yield* installer.uninstall(sel, { dryRun: o.dryRun })
        if (o.json) return yield* printJson({ action: "uninstall", ...r })
        yield* renderReport(r)
        const unaliased = r.changes.filter((c) => c.piece === "alias" && c.action === "removed")
        if (!r.dryRun && unaliased.length > 0) {
          // The rc file no longer sets it, but every shell already open still has it (and it runs a wrapper
          // that may be gone next).
          const fish = unaliased.some((c) => c.shell === "fish")
          const sh = unaliased.some((c) => c.shell !== "fish")
          yield* print(
            `\nShells that are already open still have the claude alias; in each, run: ${
              [sh ? "unalias claude" : undefined, fish ? "functions --erase claude (fish)" : undefined].filter((x) => x !== undefined).join(", or ")
            }`
          )
        }
        return
      }
      let selection: Installer.Selection
      if (o.interactive) {
        if (!interactive) {
          return yield* new UsageError({ message: "--interactive needs a terminal; use --all or name the pieces (--hooks, --alias, --mcp)" })
        }
        const locations = yield* installer.locations
        selection = yield* ask(Option.isSome(locations.localSettings))
        const plan = yield* installer.install(selection, { dryRun: true })
        yield* renderReport(plan, { plan: true })
        if (plan.changes.every((c) => c.action === "unchanged")) return yield* print("\nNothing to change.")
        if (o.dryRun) return yield* print("\nDry run: nothing was changed.")
        const go = yield* Prompt.run(Prompt.confirm({ message: "Apply these changes?", initial: true }))
        if (!go) return yield* print("Nothing was changed.")
      } else if (o.all) {
        selection = { hooks: { ...hookSel, scope: hookSel.scope ?? "global" }, alias: true, mcp: true }
      } else if (named) {
        selection = { hooks: hooksNamed ? hookSel : undefined, alias: o.alias, mcp: o.mcp }
      } else {
        if (o.json) return yield* showStatus(true)
        yield* showStatus(false)
        return yield* print(
          "\nInstall with `parallel-cc install --all` (or --hooks, --alias, --mcp; --interactive to choose; --dry-run to preview)."
        )
      }
      const r = yield* installer.install(selection, { dryRun: o.dryRun })
      if (o.json) return yield* printJson({ action: "install", ...r })
      yield* renderReport(r)
      if (!r.dryRun && r.changes.some((c) => c.piece === "alias" && c.action !== "unchanged")) {
        yield* print("Open a new shell (or source your rc file) for the alias to take effect.")
      }
    }).pipe(Effect.catchIf(
      (e) => typeof e === "object" && e !== null && (e as { _tag?: unknown })._tag === "QuitException",
      () => print("\nCancelled; nothing was changed.")
    )))
  })

export const install = Command.make("install", options, handler).pipe(
  Command.withDescription(
    "Set up Claude Code: the session hooks, the claude alias, the MCP server (--all); --status, --uninstall, --dry-run"
  )
)
