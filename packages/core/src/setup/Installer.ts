/**
 * The Claude Code integration: the heartbeat hook in a Claude Code settings file, the `claude` alias in the
 * shell rc files, and the MCP server registration — installed idempotently, and removed exactly.
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
 * @since 0.1.0
 */
import { CommandExecutor, FileSystem, Path } from "@effect/platform"
import { Context, Effect, Either, Layer, Option, Schema } from "effect"
import { AppConfig } from "../platform/AppConfig.js"
import { InstallError } from "../Errors.js"
import { Git } from "../platform/Git.js"
import { Host, pathDirs } from "../platform/Host.js"
import { exec } from "../platform/exec.js"
import {
  checkWritable,
  fishQuote,
  isExecutable,
  jsonEqual,
  makeDirs,
  readJsonObject,
  readText,
  removeEmptyDirs,
  removeFile,
  renderJson,
  shQuote,
  type TextFile,
  which,
  writeAtomic
} from "../platform/files.js"

/** The name the MCP server is registered under. */
export const MCP_SERVER_NAME = "parallel-cc"

/** The shells the alias is written for. */
export const Shells = ["bash", "zsh", "fish"] as const
export type Shell = (typeof Shells)[number]

export type Piece = "hooks" | "alias" | "mcp"
export type HookScope = "global" | "local"

/** What this installation of parallel-cc registers: absolute paths, resolved by the edge from its own location. */
export interface ArtifactPaths {
  /** The heartbeat hook script (POSIX sh), run by Claude Code after every tool call. */
  readonly hookScript: string
  /** The MCP server: an absolute executable and its arguments (e.g. node, [bin.cjs, "mcp", "serve"]). */
  readonly mcpServer: { readonly command: string; readonly args: ReadonlyArray<string> }
  /** The `claude-parallel` wrapper shipped with this CLI, used when none is found on PATH. */
  readonly wrapper: string
}

export class Artifacts extends Context.Tag("@parallel-cc/core/Installer/Artifacts")<Artifacts, ArtifactPaths>() {}

/** Which pieces to install or remove. */
export interface Selection {
  readonly hooks?: { readonly scope?: HookScope | undefined; readonly repo?: string | undefined } | undefined
  readonly alias?: boolean | undefined
  readonly mcp?: boolean | undefined
}

export interface Change {
  readonly piece: Piece
  readonly scope?: HookScope | undefined
  readonly shell?: Shell | undefined
  /** The file changed (or, for the MCP registration, the file the claude CLI changes). */
  readonly target: string
  readonly action: "created" | "updated" | "unchanged" | "removed" | "absent" | "restored" | "skipped"
  readonly detail: string
  readonly via?: "claude-cli" | "file" | undefined
  readonly backup?: string | undefined
}

export interface Report {
  readonly dryRun: boolean
  readonly changes: ReadonlyArray<Change>
  /** Where this run's backups are (when something changed). */
  readonly backupDir: string | undefined
  /** After a full uninstall: parallel-cc's own install state that was removed. */
  readonly cleaned: ReadonlyArray<string>
  /** After a full uninstall: what was kept, and why. */
  readonly kept: ReadonlyArray<string>
}

export interface PieceStatus {
  readonly piece: Piece
  readonly scope?: HookScope | undefined
  readonly shell?: Shell | undefined
  readonly location: string
  /**
   * installed: present and working; missing: not there; outdated: an entry from an earlier installation
   * (another path); broken: present but what it runs is missing or not executable; conflict: something else
   * holds the name; error: the file cannot be read.
   */
  readonly state: "installed" | "missing" | "outdated" | "broken" | "conflict" | "error"
  readonly detail: string
}

// ---------------------------------------------------------------------------------------------------------
// The install manifest: what install added, so that uninstall removes exactly that.

const HookRecord = Schema.Struct({
  file: Schema.String,
  scope: Schema.Literal("global", "local"),
  commands: Schema.Array(Schema.String),
  createdFile: Schema.Boolean,
  createdDirs: Schema.Array(Schema.String),
  createdKeys: Schema.Array(Schema.String)
})
const AliasRecord = Schema.Struct({
  file: Schema.String,
  shell: Schema.Literal(...Shells),
  separator: Schema.String,
  createdFile: Schema.Boolean,
  createdDirs: Schema.Array(Schema.String)
})
const McpRecord = Schema.Struct({
  file: Schema.String,
  entries: Schema.Array(Schema.Unknown),
  replaced: Schema.optional(Schema.Unknown),
  createdFile: Schema.Boolean,
  createdDirs: Schema.Array(Schema.String),
  createdKeys: Schema.Array(Schema.String)
})
const Manifest = Schema.Struct({
  version: Schema.Literal(1),
  hooks: Schema.Array(HookRecord),
  alias: Schema.Array(AliasRecord),
  mcp: Schema.optional(McpRecord)
})
type Manifest = typeof Manifest.Type
type HookRecord = typeof HookRecord.Type
type AliasRecord = typeof AliasRecord.Type

const emptyManifest: Manifest = { version: 1, hooks: [], alias: [] }

// ---------------------------------------------------------------------------------------------------------
// Pure pieces: the exact text and JSON that install writes.

const ALIAS_BEGIN = "# >>> parallel-cc alias >>>"
const ALIAS_END = "# <<< parallel-cc alias <<<"

/** The marked alias block for `shell`, running `target` (an absolute path) as `claude`. */
export const aliasBlock = (shell: Shell, target: string): string => {
  const note = "# claude starts through claude-parallel (parallel sessions in git worktrees)." +
    "\n# Remove with: parallel-cc install --alias --uninstall"
  const body = shell === "fish"
    ? `function claude --description 'claude through parallel-cc'\n    ${fishQuote(target)} $argv\nend`
    : `alias claude=${shQuote(shQuote(target))}`
  return `${ALIAS_BEGIN}\n${note}\n${body}\n${ALIAS_END}\n`
}

/** Find the marked block: [start, end) offsets, end including the newline after the end marker. */
const findBlock = (text: string): Option.Option<readonly [number, number]> => {
  const start = text.indexOf(ALIAS_BEGIN)
  if (start < 0 || (start > 0 && text[start - 1] !== "\n")) return Option.none()
  const endMark = text.indexOf(ALIAS_END, start)
  if (endMark < 0) return Option.none()
  let end = endMark + ALIAS_END.length
  if (text[end] === "\n") end++
  return Option.some([start, end] as const)
}

/** The separator put before an appended block so that it starts on a line of its own after a blank line. */
const separatorFor = (text: string): string => (text === "" ? "" : text.endsWith("\n") ? "\n" : "\n\n")

/** Remove the block (and the separator install put before it). */
export const removeAliasBlock = (text: string, separator: string | undefined): Option.Option<string> =>
  Option.map(findBlock(text), ([start, end]) => {
    const before = text.slice(0, start)
    const after = text.slice(end)
    const sep = separator ?? (before.endsWith("\n\n") ? "\n" : "")
    const trimmed = after === "" && sep !== "" && before.endsWith(sep) ? before.slice(0, before.length - sep.length) : before
    return trimmed + after
  })

/** The command string written into settings.json for the hook (a shell word: Claude Code runs it with a shell). */
export const hookCommand = (script: string): string => shQuote(script)

/** The hook entry install adds: one matcher group for every tool. */
export const hookGroup = (command: string) => ({ matcher: "", hooks: [{ type: "command", command, timeout: 10 }] })

/** The MCP registration entry, in the shape `claude mcp add` writes for a stdio server. */
export const mcpEntry = (server: ArtifactPaths["mcpServer"]) => ({
  type: "stdio",
  command: server.command,
  args: [...server.args],
  env: {}
})

const isRecord = (u: unknown): u is Record<string, unknown> => u !== null && typeof u === "object" && !Array.isArray(u)

/** Same server: type (default stdio), command, args and env (absent = empty). */
export const sameMcpEntry = (a: unknown, b: unknown): boolean => {
  if (!isRecord(a) || !isRecord(b)) return false
  const norm = (e: Record<string, unknown>) => ({
    type: e.type ?? "stdio",
    command: e.command,
    args: e.args ?? [],
    env: e.env ?? {}
  })
  return jsonEqual(norm(a), norm(b))
}

interface HookLocation {
  readonly group: number
  readonly hook: number
  readonly command: string
}

/** Command hooks under hooks.PostToolUse, with their positions. */
const postToolUseHooks = (settings: Record<string, unknown>): ReadonlyArray<HookLocation> => {
  const hooks = settings.hooks
  if (!isRecord(hooks) || !Array.isArray(hooks.PostToolUse)) return []
  const out: Array<HookLocation> = []
  hooks.PostToolUse.forEach((g, gi) => {
    if (!isRecord(g) || !Array.isArray(g.hooks)) return
    g.hooks.forEach((h, hi) => {
      if (isRecord(h) && h.type === "command" && typeof h.command === "string") {
        out.push({ group: gi, hook: hi, command: h.command })
      }
    })
  })
  return out
}

/** The hooks of the original parallel-cc (a heartbeat script it never installed), for the doctor. */
export const legacyHookCommands = (settings: Record<string, unknown>): ReadonlyArray<string> =>
  postToolUseHooks(settings).map((h) => h.command).filter((c) => /parallel-cc-heartbeat/.test(c))

const checkHooksShape = (file: string, settings: Record<string, unknown>): Either.Either<void, InstallError> => {
  const invalid = (detail: string) => Either.left(new InstallError({ reason: "FileInvalid", path: file, detail }))
  if (settings.hooks === undefined) return Either.void
  if (!isRecord(settings.hooks)) return invalid(`"hooks" is not an object`)
  const post = settings.hooks.PostToolUse
  if (post !== undefined && !Array.isArray(post)) return invalid(`"hooks.PostToolUse" is not an array`)
  return Either.void
}

/** Add (or update in place) the heartbeat hook. Returns the new settings and what happened. */
export const addHook = (
  settings: Record<string, unknown>,
  command: string,
  earlier: ReadonlyArray<string>
): { readonly value: Record<string, unknown>; readonly action: "created" | "updated" | "unchanged"; readonly createdKeys: ReadonlyArray<string>; readonly previous?: string } => {
  const found = postToolUseHooks(settings)
  if (found.some((h) => h.command === command)) return { value: settings, action: "unchanged", createdKeys: [] }
  const value = structuredClone(settings)
  const old = found.find((h) => earlier.includes(h.command))
  if (old !== undefined) {
    const group = ((value.hooks as any).PostToolUse as Array<any>)[old.group]
    group.hooks[old.hook] = { ...group.hooks[old.hook], command }
    return { value, action: "updated", createdKeys: [], previous: old.command }
  }
  const createdKeys: Array<string> = []
  if (value.hooks === undefined) {
    value.hooks = {}
    createdKeys.push("hooks")
  }
  const hooks = value.hooks as Record<string, unknown>
  if (hooks.PostToolUse === undefined) {
    hooks.PostToolUse = []
    createdKeys.push("hooks.PostToolUse")
  }
  ;(hooks.PostToolUse as Array<unknown>).push(hookGroup(command))
  return { value, action: "created", createdKeys }
}

/** Remove every hook whose command is one of `ours`, and the groups and keys that only held them. */
export const removeHooks = (
  settings: Record<string, unknown>,
  ours: ReadonlyArray<string>,
  createdKeys: ReadonlyArray<string> | undefined
): { readonly value: Record<string, unknown>; readonly removed: number } => {
  if (!postToolUseHooks(settings).some((h) => ours.includes(h.command))) return { value: settings, removed: 0 }
  const value = structuredClone(settings)
  const hooks = value.hooks as Record<string, unknown>
  let removed = 0
  hooks.PostToolUse = (hooks.PostToolUse as Array<unknown>).flatMap((g) => {
    if (!isRecord(g) || !Array.isArray(g.hooks)) return [g]
    const kept = g.hooks.filter((h) => !(isRecord(h) && h.type === "command" && ours.includes(h.command as string)))
    const n = g.hooks.length - kept.length
    removed += n
    if (n === 0) return [g]
    return kept.length === 0 ? [] : [{ ...g, hooks: kept }]
  })
  // Keys install created go when empty; without a record, an empty container is ours to drop too.
  const mayDrop = (key: string) => createdKeys === undefined || createdKeys.includes(key)
  if ((hooks.PostToolUse as Array<unknown>).length === 0 && mayDrop("hooks.PostToolUse")) delete hooks.PostToolUse
  if (Object.keys(hooks).length === 0 && mayDrop("hooks")) delete value.hooks
  return { value, removed }
}

// ---------------------------------------------------------------------------------------------------------

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
  /** Where things go: settings files, rc files, ~/.claude.json. */
  readonly locations: Effect.Effect<{
    readonly globalSettings: string
    readonly localSettings: Option.Option<string>
    readonly claudeJson: string
    readonly manifest: string
    readonly rcFiles: ReadonlyArray<{ readonly shell: Shell; readonly file: string }>
  }>
}>() {}

interface FileEdit {
  readonly piece: Piece
  readonly file: TextFile
  /** New content, or null to delete the file. */
  readonly text: string | null
  /** Directories to create before writing (recorded in the manifest), with their mode. */
  readonly ensureDir?: string | undefined
  readonly dirMode?: number | undefined
  /** Directories to remove (if empty) after deleting the file. */
  readonly cleanupDirs?: ReadonlyArray<string> | undefined
  readonly mode?: number | undefined
}

interface CliAction {
  readonly argv: readonly [string, ...Array<string>]
  /** The file the claude CLI changes (backed up before). */
  readonly file: TextFile
  /** Check after running. */
  readonly verify: (after: Record<string, unknown>) => boolean
}

interface Step {
  readonly change: Omit<Change, "backup">
  readonly edit?: FileEdit | undefined
  readonly cli?: ReadonlyArray<CliAction> | undefined
  /** Runs after the claude CLI actions (removing what the CLI leaves empty but install created). */
  readonly tidy?: Effect.Effect<void, InstallError> | undefined
  /** Update the manifest once the step is done; receives the directories the edit created. */
  readonly record: (m: Manifest, createdDirs: ReadonlyArray<string>) => Manifest
}

const unchanged = (change: Omit<Change, "backup">): Step => ({ change, record: (m) => m })

export const make = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const executor = yield* CommandExecutor.CommandExecutor
  const git = yield* Git
  const host = yield* Host
  const config = yield* AppConfig
  const artifacts = yield* Artifacts

  const env = host.env
  const home = host.homeDir
  const claudeDir = env.CLAUDE_CONFIG_DIR !== undefined && env.CLAUDE_CONFIG_DIR !== ""
    ? path.resolve(host.cwd, env.CLAUDE_CONFIG_DIR)
    : path.join(home, ".claude")
  const globalSettings = path.join(claudeDir, "settings.json")
  const claudeJson = env.CLAUDE_CONFIG_DIR !== undefined && env.CLAUDE_CONFIG_DIR !== ""
    ? path.join(claudeDir, ".claude.json")
    : path.join(home, ".claude.json")
  const manifestFile = path.join(config.dataDir, "install.json")
  const backupsRoot = path.join(config.dataDir, "backups")

  const rcFile = (shell: Shell): string => {
    switch (shell) {
      case "bash":
        return path.join(home, ".bashrc")
      case "zsh":
        return path.join(env.ZDOTDIR !== undefined && env.ZDOTDIR !== "" ? env.ZDOTDIR : home, ".zshrc")
      case "fish":
        return path.join(
          env.XDG_CONFIG_HOME !== undefined && env.XDG_CONFIG_HOME !== "" ? env.XDG_CONFIG_HOME : path.join(home, ".config"),
          "fish",
          "config.fish"
        )
    }
  }
  const rcFiles = Shells.map((shell) => ({ shell, file: rcFile(shell) }))

  const childEnv = Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined))

  const localSettingsFor = (repo: string | undefined) =>
    git.toplevel(path.resolve(host.cwd, repo ?? ".")).pipe(
      Effect.map((top) => path.join(top, ".claude", "settings.json")),
      Effect.mapError(() => new InstallError({ reason: "NotARepo", path: path.resolve(host.cwd, repo ?? ".") }))
    )

  const readManifest = Effect.gen(function*() {
    const t = yield* readText(fs, manifestFile).pipe(Effect.orElseSucceed(() => undefined))
    if (t === undefined || !t.exists) return emptyManifest
    const decoded = yield* Schema.decodeUnknown(Schema.parseJson(Manifest))(t.text).pipe(Effect.option)
    if (Option.isNone(decoded)) {
      yield* Effect.logWarning(`ignoring the unreadable install record ${manifestFile}`)
      return emptyManifest
    }
    return decoded.value
  })

  const writeManifest = (m: Manifest) =>
    Effect.gen(function*() {
      const t = yield* readText(fs, manifestFile)
      const empty = m.hooks.length === 0 && m.alias.length === 0 && m.mcp === undefined
      if (empty) {
        if (t.exists) yield* removeFile(fs, t)
        return
      }
      yield* makeDirs(fs, path, config.dataDir, 0o700)
      yield* writeAtomic(fs, path, t, JSON.stringify(m, null, 2) + "\n", 0o600)
    })

  const claudeCli = which(fs, path, "claude", pathDirs(env), host.cwd)

  /** The wrapper the alias runs: `claude-parallel` on PATH, else the one shipped with this CLI. */
  const aliasTarget = Effect.gen(function*() {
    const onPath = yield* which(fs, path, "claude-parallel", pathDirs(env), host.cwd)
    if (Option.isSome(onPath)) return onPath
    return (yield* isExecutable(fs, artifacts.wrapper)) ? Option.some(artifacts.wrapper) : Option.none<string>()
  })

  const requireExecutable = (file: string, what: string) =>
    Effect.flatMap(isExecutable(fs, file), (ok) =>
      ok ? Effect.void : Effect.fail(
        new InstallError({ reason: "TargetMissing", path: file, detail: `${what} is missing or not executable` })
      ))

  const requireFile = (file: string, what: string) =>
    Effect.flatMap(fs.exists(file).pipe(Effect.orElseSucceed(() => false)), (ok) =>
      ok ? Effect.void : Effect.fail(new InstallError({ reason: "TargetMissing", path: file, detail: `${what} does not exist` })))

  const currentHook = hookCommand(artifacts.hookScript)
  const currentMcp = mcpEntry(artifacts.mcpServer)

  /** Shells to write the alias for: the login shell, and every supported shell whose rc file exists. */
  const targetShells = Effect.gen(function*() {
    const login = path.basename(env.SHELL ?? "")
    const out: Array<Shell> = []
    for (const { file, shell } of rcFiles) {
      const exists = yield* fs.exists(file).pipe(Effect.orElseSucceed(() => false))
      if (exists || login === shell) out.push(shell)
    }
    return out
  })

  // ---- planning ----------------------------------------------------------------------------------------

  const planHooksInstall = (scope: HookScope, repo: string | undefined, m: Manifest) =>
    Effect.gen(function*() {
      const file = scope === "global" ? globalSettings : yield* localSettingsFor(repo)
      yield* requireExecutable(artifacts.hookScript, "the heartbeat hook script")
      const doc = yield* readJsonObject(fs, file)
      yield* checkHooksShape(file, doc.value)
      const rec = m.hooks.find((r) => r.file === file)
      const r = addHook(doc.value, currentHook, rec?.commands ?? [])
      const base = { piece: "hooks" as const, scope, target: file }
      if (r.action === "unchanged") {
        const step = unchanged({ ...base, action: "unchanged", detail: `heartbeat hook already installed (${currentHook})` })
        // Record it if an earlier record was lost, so that uninstall knows it.
        return rec !== undefined ? step : {
          ...step,
          record: (mm: Manifest) => withHook(mm, { file, scope, commands: [currentHook], createdFile: false, createdDirs: [], createdKeys: [] })
        }
      }
      const record: Step["record"] = (mm, createdDirs) =>
        withHook(mm, {
          file,
          scope,
          commands: dedupe([...(rec?.commands ?? []), currentHook]),
          createdFile: rec?.createdFile ?? !doc.exists,
          createdDirs: rec?.createdDirs ?? createdDirs,
          createdKeys: rec?.createdKeys ?? r.createdKeys
        })
      return {
        change: {
          ...base,
          action: r.action,
          detail: r.action === "updated"
            ? `heartbeat hook updated: ${r.previous} → ${currentHook}`
            : `PostToolUse heartbeat hook added (all tools): ${currentHook}`
        },
        edit: { piece: "hooks", file: doc, text: renderJson(doc, r.value), ensureDir: path.dirname(file), dirMode: 0o700 },
        record
      } satisfies Step
    })

  const planHooksUninstall = (files: ReadonlyArray<{ file: string; scope: HookScope }>, m: Manifest) =>
    Effect.forEach(files, ({ file, scope }) =>
      Effect.gen(function*() {
        const rec = m.hooks.find((r) => r.file === file)
        const base = { piece: "hooks" as const, scope, target: file }
        const drop: Step["record"] = (mm) => ({ ...mm, hooks: mm.hooks.filter((r) => r.file !== file) })
        const doc = yield* readJsonObject(fs, file)
        if (!doc.exists) return { ...unchanged({ ...base, action: "absent", detail: "no settings file" }), record: drop }
        yield* checkHooksShape(file, doc.value)
        const ours = dedupe([currentHook, ...(rec?.commands ?? [])])
        const r = removeHooks(doc.value, ours, rec?.createdKeys)
        if (r.removed === 0) {
          return { ...unchanged({ ...base, action: "absent", detail: "no parallel-cc hook in this file" }), record: drop }
        }
        const deleteFile = rec?.createdFile === true && Object.keys(r.value).length === 0
        return {
          change: {
            ...base,
            action: "removed",
            detail: `heartbeat hook removed${deleteFile ? " (and the file install created)" : ""}`
          },
          edit: {
            piece: "hooks",
            file: doc,
            text: deleteFile ? null : renderJson(doc, r.value),
            cleanupDirs: deleteFile ? rec?.createdDirs : undefined
          },
          record: drop
        } satisfies Step
      }))

  const planAliasInstall = (m: Manifest) =>
    Effect.gen(function*() {
      const target = yield* aliasTarget
      if (Option.isNone(target)) {
        return yield* new InstallError({
          reason: "TargetMissing",
          path: artifacts.wrapper,
          detail: "the claude-parallel wrapper is neither on PATH nor built next to this CLI"
        })
      }
      const shells = yield* targetShells
      if (shells.length === 0) {
        return yield* new InstallError({ reason: "NoShell", detail: `SHELL=${env.SHELL ?? "unset"}` })
      }
      return yield* Effect.forEach(shells, (shell) =>
        Effect.gen(function*() {
          const file = rcFile(shell)
          const t = yield* readText(fs, file)
          const block = aliasBlock(shell, target.value)
          const rec = m.alias.find((r) => r.file === file)
          const base = { piece: "alias" as const, shell, target: file }
          const found = findBlock(t.text)
          if (Option.isSome(found)) {
            const [s, e] = found.value
            if (t.text.slice(s, e) === block || t.text.slice(s, e) + "\n" === block) {
              const step = unchanged({ ...base, action: "unchanged", detail: `alias already set (claude → ${target.value})` })
              return rec !== undefined ? step : {
                ...step,
                record: (mm: Manifest) =>
                  withAlias(mm, { file, shell, separator: "", createdFile: false, createdDirs: [] })
              }
            }
            return {
              change: { ...base, action: "updated", detail: `alias updated (claude → ${target.value})` },
              edit: { piece: "alias", file: t, text: t.text.slice(0, s) + block + t.text.slice(e) },
              record: (mm: Manifest) =>
                withAlias(mm, rec ?? { file, shell, separator: "", createdFile: false, createdDirs: [] })
            } satisfies Step
          }
          const separator = separatorFor(t.text)
          return {
            change: { ...base, action: "created", detail: `alias added (claude → ${target.value})` },
            edit: { piece: "alias", file: t, text: t.text + separator + block, ensureDir: path.dirname(file) },
            record: (mm: Manifest, createdDirs: ReadonlyArray<string>) =>
              withAlias(mm, { file, shell, separator, createdFile: !t.exists, createdDirs })
          } satisfies Step
        }))
    })

  const planAliasUninstall = (m: Manifest) =>
    Effect.forEach(dedupeBy([...m.alias.map((r) => ({ shell: r.shell, file: r.file })), ...rcFiles], (x) => x.file), ({ file, shell }) =>
      Effect.gen(function*() {
        const rec = m.alias.find((r) => r.file === file)
        const base = { piece: "alias" as const, shell, target: file }
        const drop: Step["record"] = (mm) => ({ ...mm, alias: mm.alias.filter((r) => r.file !== file) })
        const t = yield* readText(fs, file)
        const next = removeAliasBlock(t.text, rec?.separator)
        if (!t.exists || Option.isNone(next)) {
          return { ...unchanged({ ...base, action: "absent", detail: "no parallel-cc alias block" }), record: drop }
        }
        const deleteFile = rec?.createdFile === true && next.value === ""
        return {
          change: { ...base, action: "removed", detail: `alias removed${deleteFile ? " (and the file install created)" : ""}` },
          edit: { piece: "alias", file: t, text: deleteFile ? null : next.value, cleanupDirs: deleteFile ? rec?.createdDirs : undefined },
          record: drop
        } satisfies Step
      }))

  const mcpServersOf = (v: Record<string, unknown>) => (isRecord(v.mcpServers) ? v.mcpServers : undefined)

  const planMcpInstall = (m: Manifest, dryRun: boolean) =>
    Effect.gen(function*() {
      yield* requireExecutable(artifacts.mcpServer.command, "the MCP server command")
      const script = artifacts.mcpServer.args.find((a) => a.startsWith("/"))
      if (script !== undefined) yield* requireFile(script, "the MCP server script")
      const doc = yield* readJsonObject(fs, claudeJson)
      if (doc.value.mcpServers !== undefined && !isRecord(doc.value.mcpServers)) {
        return yield* new InstallError({ reason: "FileInvalid", path: claudeJson, detail: `"mcpServers" is not an object` })
      }
      const existing = mcpServersOf(doc.value)?.[MCP_SERVER_NAME]
      const cli = yield* claudeCli
      const via = Option.isSome(cli) ? "claude-cli" as const : "file" as const
      const base = { piece: "mcp" as const, target: claudeJson, via }
      const describeEntry = `${currentMcp.command} ${currentMcp.args.join(" ")}`
      if (existing !== undefined && sameMcpEntry(existing, currentMcp)) {
        const step = unchanged({ ...base, action: "unchanged", detail: `MCP server "${MCP_SERVER_NAME}" already registered (${describeEntry})` })
        return m.mcp !== undefined ? step : {
          ...step,
          record: (mm: Manifest) =>
            ({ ...mm, mcp: { file: claudeJson, entries: [currentMcp], createdFile: false, createdDirs: [], createdKeys: [] } })
        }
      }
      const ours = existing !== undefined && (m.mcp?.entries ?? []).some((e) => sameMcpEntry(e, existing))
      const replaced = existing !== undefined && !ours ? existing : m.mcp?.replaced
      const record: Step["record"] = (mm, createdDirs) => ({
        ...mm,
        mcp: {
          file: claudeJson,
          entries: [...(mm.mcp?.entries ?? []).filter((e) => !sameMcpEntry(e, currentMcp)), currentMcp],
          ...(replaced !== undefined ? { replaced } : {}),
          createdFile: mm.mcp?.createdFile ?? !doc.exists,
          createdDirs: mm.mcp?.createdDirs ?? createdDirs,
          createdKeys: mm.mcp?.createdKeys ?? (mcpServersOf(doc.value) === undefined ? ["mcpServers"] : [])
        }
      })
      const detail = existing === undefined
        ? `MCP server "${MCP_SERVER_NAME}" registered (user scope, stdio): ${describeEntry}`
        : ours
        ? `MCP server "${MCP_SERVER_NAME}" updated to ${describeEntry}`
        : `MCP server "${MCP_SERVER_NAME}" replaced (the previous entry is kept in the install record and restored by uninstall): ${describeEntry}`
      const change = { ...base, action: existing === undefined ? "created" as const : "updated" as const, detail }
      if (Option.isSome(cli)) {
        const claude = cli.value
        const actions: Array<CliAction> = []
        if (existing !== undefined) {
          actions.push({ argv: [claude, "mcp", "remove", MCP_SERVER_NAME, "-s", "user"], file: doc, verify: () => true })
        }
        actions.push({
          argv: [claude, "mcp", "add", "-s", "user", MCP_SERVER_NAME, "--", currentMcp.command, ...currentMcp.args],
          file: doc,
          verify: (after) => sameMcpEntry(mcpServersOf(after)?.[MCP_SERVER_NAME], currentMcp)
        })
        return { change: { ...change, detail: dryRun ? `${detail} (via: ${shellLine(actions.map((a) => a.argv))})` : detail }, cli: actions, record } satisfies Step
      }
      const value = structuredClone(doc.value)
      value.mcpServers = { ...(mcpServersOf(value) ?? {}), [MCP_SERVER_NAME]: currentMcp }
      return {
        change,
        edit: { piece: "mcp", file: doc, text: renderJson(doc, value), ensureDir: path.dirname(claudeJson), dirMode: 0o700, mode: 0o600 },
        record
      } satisfies Step
    })

  const planMcpUninstall = (m: Manifest) =>
    Effect.gen(function*() {
      const rec = m.mcp
      const drop: Step["record"] = (mm) => {
        const { mcp: _, ...rest } = mm
        return rest
      }
      const cli = yield* claudeCli
      const via = Option.isSome(cli) ? "claude-cli" as const : "file" as const
      const base = { piece: "mcp" as const, target: claudeJson, via }
      const doc = yield* readJsonObject(fs, claudeJson)
      const existing = mcpServersOf(doc.value)?.[MCP_SERVER_NAME]
      if (!doc.exists || existing === undefined) {
        return { ...unchanged({ ...base, action: "absent", detail: `no MCP server named "${MCP_SERVER_NAME}"` }), record: drop }
      }
      const ours = [currentMcp, ...(rec?.entries ?? [])].some((e) => sameMcpEntry(e, existing))
      if (!ours) {
        return {
          ...unchanged({
            ...base,
            action: "skipped",
            detail: `the MCP server "${MCP_SERVER_NAME}" registered there is not the one parallel-cc installed; left in place`
          }),
          record: drop
        }
      }
      const replaced = rec?.replaced
      if (Option.isSome(cli)) {
        const claude = cli.value
        const actions: Array<CliAction> = [{
          argv: [claude, "mcp", "remove", MCP_SERVER_NAME, "-s", "user"],
          file: doc,
          verify: (after) => replaced !== undefined || mcpServersOf(after)?.[MCP_SERVER_NAME] === undefined
        }]
        if (replaced !== undefined) {
          actions.push({
            argv: [claude, "mcp", "add-json", "-s", "user", MCP_SERVER_NAME, JSON.stringify(replaced)],
            file: doc,
            verify: (after) => jsonEqual(mcpServersOf(after)?.[MCP_SERVER_NAME], replaced)
          })
        }
        // `claude mcp remove` leaves an empty mcpServers (and file) behind; drop what install created.
        const tidy = Effect.gen(function*() {
          if (replaced !== undefined || rec === undefined) return
          const after = yield* readJsonObject(fs, claudeJson)
          const value = structuredClone(after.value)
          const servers = mcpServersOf(value)
          if (servers !== undefined && Object.keys(servers).length === 0 && rec.createdKeys.includes("mcpServers")) {
            delete value.mcpServers
          }
          if (rec.createdFile && Object.keys(value).length === 0) {
            yield* removeFile(fs, after)
            yield* removeEmptyDirs(fs, rec.createdDirs)
          } else if (!jsonEqual(value, after.value)) {
            yield* writeAtomic(fs, path, after, renderJson(after, value), 0o600)
          }
        })
        return {
          change: {
            ...base,
            action: replaced !== undefined ? "restored" : "removed",
            detail: replaced !== undefined ? "MCP server entry restored to what it was before install" : "MCP server registration removed"
          },
          cli: actions,
          tidy,
          record: drop
        } satisfies Step
      }
      const value = structuredClone(doc.value)
      const servers = { ...(mcpServersOf(value) ?? {}) }
      delete servers[MCP_SERVER_NAME]
      if (replaced !== undefined) servers[MCP_SERVER_NAME] = replaced
      if (Object.keys(servers).length === 0 && (rec === undefined || rec.createdKeys.includes("mcpServers"))) delete value.mcpServers
      else value.mcpServers = servers
      const deleteFile = rec?.createdFile === true && Object.keys(value).length === 0
      return {
        change: {
          ...base,
          action: replaced !== undefined ? "restored" : "removed",
          detail: replaced !== undefined
            ? "MCP server entry restored to what it was before install"
            : `MCP server registration removed${deleteFile ? " (and the file install created)" : ""}`
        },
        edit: {
          piece: "mcp",
          file: doc,
          text: deleteFile ? null : renderJson(doc, value),
          cleanupDirs: deleteFile ? rec?.createdDirs : undefined
        },
        record: drop
      } satisfies Step
    })

  // ---- applying ----------------------------------------------------------------------------------------

  const runCli = (action: CliAction) =>
    Effect.gen(function*() {
      const r = yield* exec(action.argv, { cwd: host.cwd, env: childEnv }).pipe(
        Effect.provideService(CommandExecutor.CommandExecutor, executor),
        Effect.timeout("60 seconds"),
        Effect.mapError((e) => new InstallError({ reason: "ClaudeCliFailed", detail: `${action.argv.slice(1, 3).join(" ")}: ${String(e.message ?? e)}` }))
      )
      if (r.exitCode !== 0) {
        return yield* new InstallError({
          reason: "ClaudeCliFailed",
          detail: `${shellLine([action.argv])} exited ${r.exitCode}: ${(r.stderr || r.stdout).trim().split("\n").slice(-2).join(" / ")}`
        })
      }
      const after = yield* readJsonObject(fs, action.file.path)
      if (!action.verify(after.value)) {
        return yield* new InstallError({
          reason: "ClaudeCliFailed",
          path: action.file.path,
          detail: `${shellLine([action.argv])} succeeded but the expected entry is not in the file afterwards`
        })
      }
    })

  const apply = (steps: ReadonlyArray<Step>, manifest: Manifest, dryRun: boolean) =>
    Effect.gen(function*() {
      const changing = steps.filter((s) => s.edit !== undefined || (s.cli?.length ?? 0) > 0)
      const recordOnly = steps.filter((s) => !changing.includes(s))
      if (dryRun) {
        return { changes: steps.map((s): Change => s.change), backupDir: undefined, manifest }
      }
      let m = manifest
      for (const s of recordOnly) m = s.record(m, [])
      if (changing.length === 0 && jsonEqual(m, manifest)) return { changes: steps.map((s): Change => s.change), backupDir: undefined, manifest }
      // Preflight: every file that will change must be writable, and so must the data directory.
      for (const s of changing) {
        const file = s.edit?.file ?? s.cli?.[0]?.file
        if (file !== undefined) yield* checkWritable(fs, path, file)
      }
      yield* checkWritable(fs, path, yield* readText(fs, manifestFile))
      let backupDir: string | undefined
      let backups = 0
      const index: Array<{ original: string; backup: string }> = []
      const backup = (file: TextFile) =>
        Effect.gen(function*() {
          if (!file.exists) return undefined
          if (backupDir === undefined) {
            const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z")
            backupDir = path.join(backupsRoot, `${stamp}-${globalThis.crypto.randomUUID().slice(0, 6)}`)
            yield* makeDirs(fs, path, backupDir, 0o700)
          }
          const dest = path.join(backupDir, `${++backups}-${path.basename(file.path)}`)
          yield* writeAtomic(fs, path, { path: dest, realPath: dest, exists: false, text: "", mode: undefined }, file.text, 0o600)
          index.push({ original: file.path, backup: dest })
          yield* writeAtomic(
            fs,
            path,
            { path: path.join(backupDir, "index.json"), realPath: path.join(backupDir, "index.json"), exists: true, text: "", mode: 0o600 },
            JSON.stringify(index, null, 2) + "\n",
            0o600
          )
          return dest
        })

      const changes: Array<Change> = []
      for (const s of steps) {
        if (!changing.includes(s)) {
          changes.push(s.change)
          continue
        }
        let backedUp: string | undefined
        let triedBackup = false
        let createdDirs: ReadonlyArray<string> = []
        if (s.edit !== undefined) {
          const e = s.edit
          backedUp = yield* backup(e.file)
          triedBackup = true
          if (e.text === null) {
            yield* removeFile(fs, e.file)
            if (e.cleanupDirs !== undefined) yield* removeEmptyDirs(fs, e.cleanupDirs)
          } else {
            if (e.ensureDir !== undefined) createdDirs = yield* makeDirs(fs, path, e.ensureDir, e.dirMode ?? 0o755)
            yield* writeAtomic(fs, path, e.file, e.text, e.mode ?? 0o644)
          }
        }
        for (const a of s.cli ?? []) {
          // The claude CLI writes the file itself; back it up first (once), then check what it wrote.
          if (!triedBackup) backedUp = yield* backup(yield* readText(fs, a.file.path))
          triedBackup = true
          yield* runCli(a)
        }
        if (s.tidy !== undefined) yield* s.tidy
        m = s.record(m, createdDirs)
        yield* writeManifest(m)
        changes.push({ ...s.change, ...(backedUp !== undefined ? { backup: backedUp } : {}) })
      }
      if (recordOnly.length > 0 && changing.length === 0 && !jsonEqual(m, manifest)) yield* writeManifest(m)
      return { changes, backupDir, manifest: m }
    })

  const install = (selection: Selection, options: { readonly dryRun?: boolean } = {}) =>
    Effect.gen(function*() {
      const dryRun = options.dryRun === true
      const m = yield* readManifest
      const steps: Array<Step> = []
      if (selection.hooks !== undefined) {
        steps.push(yield* planHooksInstall(selection.hooks.scope ?? "global", selection.hooks.repo, m))
      }
      if (selection.alias === true) steps.push(...(yield* planAliasInstall(m)))
      if (selection.mcp === true) steps.push(yield* planMcpInstall(m, dryRun))
      const r = yield* apply(steps, m, dryRun)
      return { dryRun, changes: r.changes, backupDir: r.backupDir, cleaned: [], kept: [] } satisfies Report
    }).pipe(Effect.withSpan("Installer.install"))

  const uninstall = (selection: Selection | "all", options: { readonly dryRun?: boolean } = {}) =>
    Effect.gen(function*() {
      const dryRun = options.dryRun === true
      const all = selection === "all"
      const sel: Selection = all ? { hooks: {}, alias: true, mcp: true } : selection
      const m = yield* readManifest
      const steps: Array<Step> = []
      if (sel.hooks !== undefined) {
        const scope = sel.hooks.scope
        const files: Array<{ file: string; scope: HookScope }> = []
        if (scope === "local") files.push({ file: yield* localSettingsFor(sel.hooks.repo), scope: "local" })
        else {
          files.push({ file: globalSettings, scope: "global" })
          if (scope === undefined) {
            const local = yield* localSettingsFor(sel.hooks.repo).pipe(Effect.option)
            if (Option.isSome(local)) files.push({ file: local.value, scope: "local" })
          }
          for (const r of m.hooks) if (scope === undefined || r.scope === scope) files.push({ file: r.file, scope: r.scope })
        }
        steps.push(...(yield* planHooksUninstall(dedupeBy(files, (f) => f.file), m)))
      }
      if (sel.alias === true) steps.push(...(yield* planAliasUninstall(m)))
      if (sel.mcp === true) steps.push(yield* planMcpUninstall(m))
      const r = yield* apply(steps, m, dryRun)
      const cleaned: Array<string> = []
      const kept: Array<string> = []
      if (all) {
        // parallel-cc's own install state goes too, so that a full uninstall leaves the home as it was.
        for (const p of [manifestFile, backupsRoot, path.join(config.dataDir, "cache")]) {
          if (yield* fs.exists(p).pipe(Effect.orElseSucceed(() => false))) {
            cleaned.push(p)
            if (!dryRun) yield* fs.remove(p, { recursive: true }).pipe(Effect.ignore)
          }
        }
        const rest = yield* fs.readDirectory(config.dataDir).pipe(Effect.orElseSucceed(() => undefined))
        if (rest !== undefined) {
          const left = dryRun ? rest.filter((n) => !cleaned.includes(path.join(config.dataDir, n))) : rest
          if (left.length === 0) {
            cleaned.push(config.dataDir)
            if (!dryRun) yield* removeEmptyDirs(fs, [config.dataDir])
          } else {
            kept.push(`${config.dataDir} (holds ${left.sort().join(", ")}: your data; delete it yourself if you want it gone)`)
          }
        }
      }
      // A full uninstall removed the backups with the rest of the install state.
      const backupsGone = all && cleaned.includes(backupsRoot) || cleaned.includes(config.dataDir)
      return {
        dryRun,
        changes: backupsGone && !dryRun ? r.changes.map(({ backup: _, ...c }) => c) : r.changes,
        backupDir: backupsGone && !dryRun ? undefined : r.backupDir,
        cleaned,
        kept
      } satisfies Report
    }).pipe(Effect.withSpan("Installer.uninstall"))

  const hookStatus = (file: string, scope: HookScope, m: Manifest): Effect.Effect<PieceStatus> =>
    Effect.gen(function*() {
      const base = { piece: "hooks" as const, scope, location: file }
      const doc = yield* readJsonObject(fs, file).pipe(Effect.either)
      if (Either.isLeft(doc)) return { ...base, state: "error" as const, detail: doc.left.message }
      const commands = postToolUseHooks(doc.right.value).map((h) => h.command)
      if (commands.includes(currentHook)) {
        const ok = yield* isExecutable(fs, artifacts.hookScript)
        return ok
          ? { ...base, state: "installed" as const, detail: `PostToolUse → ${currentHook}` }
          : { ...base, state: "broken" as const, detail: `the hook script ${artifacts.hookScript} is missing or not executable` }
      }
      const rec = m.hooks.find((r) => r.file === file)
      const old = commands.find((c) => rec?.commands.includes(c))
      if (old !== undefined) return { ...base, state: "outdated" as const, detail: `points to ${old}; run install --hooks again` }
      const legacy = legacyHookCommands(doc.right.value)
      return {
        ...base,
        state: "missing" as const,
        detail: legacy.length > 0
          ? `not installed; a hook of the original parallel-cc is there (${legacy.join(", ")})`
          : "not installed"
      }
    })

  const status = Effect.gen(function*() {
    const m = yield* readManifest
    const out: Array<PieceStatus> = []
    out.push(yield* hookStatus(globalSettings, "global", m))
    const local = yield* localSettingsFor(undefined).pipe(Effect.option)
    const localFiles = dedupe([
      ...(Option.isSome(local) ? [local.value] : []),
      ...m.hooks.filter((r) => r.scope === "local").map((r) => r.file)
    ])
    for (const f of localFiles) out.push(yield* hookStatus(f, "local", m))

    const target = yield* aliasTarget
    const shells = yield* targetShells
    const aliasFiles = dedupeBy(
      [...shells.map((shell) => ({ shell, file: rcFile(shell) })), ...m.alias.map((r) => ({ shell: r.shell, file: r.file }))],
      (x) => x.file
    )
    if (aliasFiles.length === 0) {
      out.push({ piece: "alias", location: rcFile("bash"), state: "missing", detail: `no supported shell (SHELL=${env.SHELL ?? "unset"})` })
    }
    for (const { file, shell } of aliasFiles) {
      const base = { piece: "alias" as const, shell, location: file }
      const t = yield* readText(fs, file).pipe(Effect.either)
      if (Either.isLeft(t)) {
        out.push({ ...base, state: "error", detail: t.left.message })
        continue
      }
      const found = findBlock(t.right.text)
      if (Option.isNone(found)) {
        out.push({ ...base, state: "missing", detail: "not installed" })
        continue
      }
      const text = t.right.text.slice(found.value[0], found.value[1])
      if (Option.isSome(target) && (text === aliasBlock(shell, target.value) || text + "\n" === aliasBlock(shell, target.value))) {
        out.push({ ...base, state: "installed", detail: `claude → ${target.value}` })
      } else {
        out.push({
          ...base,
          state: Option.isSome(target) ? "outdated" : "broken",
          detail: Option.isSome(target)
            ? `the alias runs another path; run install --alias again (now: ${target.value})`
            : "the claude-parallel wrapper it runs cannot be found"
        })
      }
    }

    const doc = yield* readJsonObject(fs, claudeJson).pipe(Effect.either)
    const base = { piece: "mcp" as const, location: claudeJson }
    if (Either.isLeft(doc)) {
      out.push({ ...base, state: "error", detail: doc.left.message })
    } else {
      const existing = mcpServersOf(doc.right.value)?.[MCP_SERVER_NAME]
      if (existing === undefined) out.push({ ...base, state: "missing", detail: `no MCP server named "${MCP_SERVER_NAME}" (user scope)` })
      else if (sameMcpEntry(existing, currentMcp)) {
        const cmdOk = yield* isExecutable(fs, currentMcp.command)
        const script = currentMcp.args.find((a) => a.startsWith("/"))
        const scriptOk = script === undefined || (yield* fs.exists(script).pipe(Effect.orElseSucceed(() => false)))
        out.push(
          cmdOk && scriptOk
            ? { ...base, state: "installed", detail: `${currentMcp.command} ${currentMcp.args.join(" ")}` }
            : { ...base, state: "broken", detail: `${!cmdOk ? currentMcp.command : script} does not exist` }
        )
      } else if ((m.mcp?.entries ?? []).some((e) => sameMcpEntry(e, existing))) {
        out.push({ ...base, state: "outdated", detail: "registered with another path; run install --mcp again" })
      } else {
        const cmd = isRecord(existing) ? `${String(existing.command ?? existing.url ?? "?")}` : "?"
        out.push({ ...base, state: "conflict", detail: `another server is registered as "${MCP_SERVER_NAME}" (${cmd}); install --mcp replaces it` })
      }
    }
    return out
  }).pipe(Effect.withSpan("Installer.status"))

  const locations = Effect.map(localSettingsFor(undefined).pipe(Effect.option), (local) => ({
    globalSettings,
    localSettings: local,
    claudeJson,
    manifest: manifestFile,
    rcFiles
  }))

  return Installer.of({ install, uninstall, status, locations })
})

const withHook = (m: Manifest, r: HookRecord): Manifest => ({ ...m, hooks: [...m.hooks.filter((x) => x.file !== r.file), r] })
const withAlias = (m: Manifest, r: AliasRecord): Manifest => ({ ...m, alias: [...m.alias.filter((x) => x.file !== r.file), r] })
const dedupe = <A>(xs: ReadonlyArray<A>): Array<A> => [...new Set(xs)]
const dedupeBy = <A>(xs: ReadonlyArray<A>, key: (a: A) => string): Array<A> => {
  const seen = new Set<string>()
  return xs.filter((x) => (seen.has(key(x)) ? false : (seen.add(key(x)), true)))
}
const baseName = (p: string) => p.slice(p.lastIndexOf("/") + 1)
const shellLine = (argvs: ReadonlyArray<ReadonlyArray<string>>) =>
  argvs.map((a) => [baseName(a[0] ?? ""), ...a.slice(1)].map(shQuote).join(" ")).join(" && ")

/** The installer; needs the Host and the Artifacts of this installation, plus AppConfig, Git and the platform. */
export const layer = Layer.effect(Installer, make)
