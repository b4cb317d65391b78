/**
 * The Claude Code integration: the hooks in a Claude Code settings file, the `claude` alias in the shell rc
 * files, and the MCP server registration — installed idempotently, and removed exactly.
 *
 * Rules every change follows:
 * - a file that cannot be read or parsed is never touched (InstallError, nothing written anywhere);
 * - everything is planned and checked (targets exist and are executable, files writable) before the first
 *   write, so a failure leaves no piece half-done;
 * - each file is backed up (to `<dataDir>/backups/<run>/`) before it changes, and replaced atomically
 *   (temp file + rename, same mode, through symlinks);
 * - what install added is recorded in `<dataDir>/install.json`, so uninstall removes exactly that — keys,
 *   files and directories it created — and nothing of the user's.
 *
 * The parts live in `install/`: the hooks as data and their plans (`hooks.ts`, `hookSettings.ts`), the alias
 * (`alias.ts`), the MCP registration (`mcp.ts`), the manifest (`manifest.ts`), where things go (`context.ts`)
 * and carrying out a plan (`apply.ts`). This module puts them together behind one service.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Option } from "effect"
import type { InstallError } from "../Errors.js"
import { removeEmptyDirs } from "../platform/files.js"
import { aliasStatus, planAliasInstall, planAliasUninstall } from "./install/alias.js"
import { apply, type Step } from "./install/apply.js"
import { type CommandStatus, commandsStatus } from "./install/commands.js"
import { type InstallContext, makeContext } from "./install/context.js"
import {
  addHooks,
  groupFor,
  type HookEntry,
  hookCommand as commandOf,
  hookIdentity,
  legacyHookCommands,
  removeHooks
} from "./install/hookSettings.js"
import {
  type HookSpec,
  hookPlan,
  hookStatuses,
  planHooksInstall,
  planHooksUninstall,
  resolveHooks,
  statusTargets,
  uninstallTargets
} from "./install/hooks.js"
import { type Manifest, readManifest } from "./install/manifest.js"
import { mcpStatus, planMcpInstall, planMcpUninstall } from "./install/mcp.js"
import type { PieceStatus, Report, Selection, Shell } from "./install/model.js"

export { aliasBlock, removeAliasBlock } from "./install/alias.js"
export { type CommandName, type CommandStatus, Commands } from "./install/commands.js"
export type { HookEntry } from "./install/hookSettings.js"
export { type HookSpec, hookPlan } from "./install/hooks.js"
export { mcpEntry, sameMcpEntry } from "./install/mcp.js"
export {
  type ArtifactPaths,
  Artifacts,
  type Change,
  type HookScope,
  MCP_SERVER_NAME,
  type Piece,
  type PieceStatus,
  type Report,
  type Selection,
  type Shell,
  Shells
} from "./install/model.js"
export { legacyHookCommands, removeHooks }

/** The command string written into settings.json for a hook script (a shell word: Claude Code runs it with a shell). */
export const hookCommand = (script: string): string => commandOf(script)

/** The heartbeat hook's entry for `command`. */
const heartbeatEntry = (command: string): HookEntry => ({ name: "heartbeat", event: "PostToolUse", matcher: "", command, timeout: 10 })

/** The hook entry install adds for the heartbeat: one matcher group for every tool. */
export const hookGroup = (command: string) =>
  groupFor(heartbeatEntry(command)) as { matcher: string; hooks: Array<{ type: string; command: string; timeout: number }> }

/**
 * Add (or update in place) the heartbeat hook. Returns the new settings and what happened.
 * @deprecated the installer installs every hook of {@link hookPlan} through `install/hookSettings.ts`.
 */
export const addHook = (
  settings: Record<string, unknown>,
  command: string,
  earlier: ReadonlyArray<string>
): {
  readonly value: Record<string, unknown>
  readonly action: "created" | "updated" | "unchanged"
  readonly createdKeys: ReadonlyArray<string>
  readonly previous?: string
} => {
  const id = hookIdentity(command)
  const r = addHooks(settings, [heartbeatEntry(command)], earlier.filter((c) => hookIdentity(c) === id))
  const u = r.updated[0]
  if (u !== undefined) return { value: r.value, action: "updated", createdKeys: r.createdKeys, previous: u.previous }
  return { value: r.value, action: r.added.length > 0 ? "created" : "unchanged", createdKeys: r.createdKeys }
}

export class Installer extends Context.Tag("@parallel-cc/core/Installer")<Installer, {
  /** Install the selected pieces. Idempotent: a second run reports every piece `unchanged` and writes nothing. */
  readonly install: (selection: Selection, options?: { readonly dryRun?: boolean }) => Effect.Effect<Report, InstallError>
  /**
   * Remove the selected pieces, or with `"all"` everything install added plus parallel-cc's own install state
   * (manifest, backups, code cache, and the data directory if nothing else is left in it).
   */
  readonly uninstall: (
    selection: Selection | "all",
    options?: { readonly dryRun?: boolean }
  ) => Effect.Effect<Report, InstallError>
  /** Each piece: where it is and whether it is installed, outdated or broken. Never fails. */
  readonly status: Effect.Effect<ReadonlyArray<PieceStatus>>
  /**
   * Whether `parallel-cc` and `claude-parallel` are on PATH; when not, where they are installed and the line
   * that puts their directory on PATH for the user's shell. Never fails.
   */
  readonly commands: Effect.Effect<ReadonlyArray<CommandStatus>>
  /** Where things go: settings files, rc files, ~/.claude.json. */
  readonly locations: Effect.Effect<{
    readonly globalSettings: string
    readonly localSettings: Option.Option<string>
    readonly claudeJson: string
    readonly manifest: string
    readonly rcFiles: ReadonlyArray<{ readonly shell: Shell; readonly file: string }>
  }>
}>() {}

/** After a full uninstall: remove parallel-cc's own install state, and the data directory if nothing else is in it. */
const cleanInstallState = (ctx: InstallContext, dryRun: boolean) =>
  Effect.gen(function*() {
    const { fs, path, dataDir } = ctx
    const cleaned: Array<string> = []
    const kept: Array<string> = []
    for (const p of [ctx.manifestFile, ctx.backupsRoot, path.join(dataDir, "cache")]) {
      if (yield* ctx.exists(p)) {
        cleaned.push(p)
        if (!dryRun) yield* fs.remove(p, { recursive: true }).pipe(Effect.ignore)
      }
    }
    const rest = yield* fs.readDirectory(dataDir).pipe(Effect.orElseSucceed(() => undefined))
    if (rest !== undefined) {
      const left = dryRun ? rest.filter((n) => !cleaned.includes(path.join(dataDir, n))) : rest
      if (left.length === 0) {
        cleaned.push(dataDir)
        if (!dryRun) yield* removeEmptyDirs(fs, [dataDir])
      } else {
        kept.push(`${dataDir} (holds ${left.sort().join(", ")}: your data; delete it yourself if you want it gone)`)
      }
    }
    return { cleaned, kept }
  })

/** The installer for a given hook plan (tests install other plans; production uses {@link hookPlan}). */
export const makeWith = (options: { readonly hooks?: ReadonlyArray<HookSpec> } = {}) =>
  Effect.gen(function*() {
    const ctx = yield* makeContext
    const hooks = resolveHooks(options.hooks ?? hookPlan, ctx.artifacts, ctx.path)

    const install = (selection: Selection, options: { readonly dryRun?: boolean } = {}) =>
      Effect.gen(function*() {
        const dryRun = options.dryRun === true
        const m = yield* readManifest(ctx)
        const steps: Array<Step> = []
        if (selection.hooks !== undefined) {
          steps.push(
            yield* planHooksInstall(ctx, hooks, selection.hooks.scope ?? "global", selection.hooks.repo, m, selection.hooks.worktreeProvider)
          )
        }
        if (selection.alias === true) steps.push(...(yield* planAliasInstall(ctx, m)))
        if (selection.mcp === true) steps.push(yield* planMcpInstall(ctx, m, dryRun))
        const r = yield* apply(ctx, steps, m, dryRun)
        return { dryRun, changes: r.changes, backupDir: r.backupDir, cleaned: [], kept: [] } satisfies Report
      }).pipe(Effect.withSpan("Installer.install"))

    const uninstall = (selection: Selection | "all", options: { readonly dryRun?: boolean } = {}) =>
      Effect.gen(function*() {
        const dryRun = options.dryRun === true
        const all = selection === "all"
        const sel: Selection = all ? { hooks: {}, alias: true, mcp: true } : selection
        const m: Manifest = yield* readManifest(ctx)
        const steps: Array<Step> = []
        if (sel.hooks !== undefined) steps.push(...(yield* planHooksUninstall(ctx, hooks, yield* uninstallTargets(ctx, sel.hooks, m), m)))
        if (sel.alias === true) steps.push(...(yield* planAliasUninstall(ctx, m)))
        if (sel.mcp === true) steps.push(yield* planMcpUninstall(ctx, m))
        const r = yield* apply(ctx, steps, m, dryRun)
        // parallel-cc's own install state goes too, so that a full uninstall leaves the home as it was.
        const { cleaned, kept } = all ? yield* cleanInstallState(ctx, dryRun) : { cleaned: [], kept: [] }
        // A full uninstall removed the backups with the rest of the install state.
        const backupsGone = !dryRun && (cleaned.includes(ctx.backupsRoot) || cleaned.includes(ctx.dataDir))
        return {
          dryRun,
          changes: backupsGone ? r.changes.map(({ backup: _, ...c }) => c) : r.changes,
          backupDir: backupsGone ? undefined : r.backupDir,
          cleaned,
          kept
        } satisfies Report
      }).pipe(Effect.withSpan("Installer.uninstall"))

    const status = Effect.gen(function*() {
      const m = yield* readManifest(ctx)
      const files = yield* statusTargets(ctx, m)
      const hookStates = yield* Effect.forEach(files, ({ file, scope }) => hookStatuses(ctx, hooks, file, scope, m))
      return [...hookStates.flat(), ...(yield* aliasStatus(ctx, m)), yield* mcpStatus(ctx, m)]
    }).pipe(Effect.withSpan("Installer.status"))

    const locations = Effect.map(ctx.localSettingsFor(undefined).pipe(Effect.option), (local) => ({
      globalSettings: ctx.globalSettings,
      localSettings: local,
      claudeJson: ctx.claudeJson,
      manifest: ctx.manifestFile,
      rcFiles: ctx.rcFiles
    }))

    return Installer.of({ install, uninstall, status, commands: commandsStatus(ctx), locations })
  })

export const make = makeWith()

/** The installer; needs the Host and the Artifacts of this installation, plus AppConfig, Git and the platform. */
export const layer = Layer.effect(Installer, make)
