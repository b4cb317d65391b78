/**
 * Where the installer reads and writes, resolved once per installer from the Host (home, environment, cwd),
 * the configuration (data directory) and the Artifacts of this installation: Claude Code's settings files and
 * `~/.claude.json` (both honouring `CLAUDE_CONFIG_DIR`), the shell rc files (honouring `ZDOTDIR` and
 * `XDG_CONFIG_HOME`), the manifest and backups; plus the checks every plan shares. A plain value, so that each
 * plan (hooks, alias, MCP) is a function of it and can be tested on its own.
 *
 * @since 0.2.0
 */
import { CommandExecutor, FileSystem, Path } from "@effect/platform"
import { Effect, Option } from "effect"
import { InstallError } from "../../Errors.js"
import { AppConfig } from "../../platform/AppConfig.js"
import { Git } from "../../platform/Git.js"
import { Host, type HostInfo, pathDirs } from "../../platform/Host.js"
import { isExecutable, which } from "../../platform/files.js"
import { Artifacts, type ArtifactPaths, type Shell, Shells } from "./model.js"

export interface InstallContext {
  readonly fs: FileSystem.FileSystem
  readonly path: Path.Path
  readonly executor: CommandExecutor.CommandExecutor
  readonly host: HostInfo
  readonly artifacts: ArtifactPaths
  readonly dataDir: string
  /** `~/.claude/settings.json` (or under `CLAUDE_CONFIG_DIR`). */
  readonly globalSettings: string
  /** `~/.claude.json` (or `$CLAUDE_CONFIG_DIR/.claude.json`): user-scope MCP servers. */
  readonly claudeJson: string
  readonly manifestFile: string
  readonly backupsRoot: string
  readonly rcFile: (shell: Shell) => string
  readonly rcFiles: ReadonlyArray<{ readonly shell: Shell; readonly file: string }>
  /** The environment for the `claude` CLI (the host's, without unset entries). */
  readonly childEnv: Record<string, string>
  /** `<repo>/.claude/settings.json` of the repository at `repo` (default: the cwd). */
  readonly localSettingsFor: (repo: string | undefined) => Effect.Effect<string, InstallError>
  /** The `claude` CLI on PATH, if any. */
  readonly claudeCli: Effect.Effect<Option.Option<string>>
  /** The wrapper the alias runs: `claude-parallel` on PATH, else the one shipped with this CLI. */
  readonly aliasTarget: Effect.Effect<Option.Option<string>>
  /** Shells to write the alias for: the login shell, and every supported shell whose rc file exists. */
  readonly targetShells: Effect.Effect<ReadonlyArray<Shell>>
  readonly requireExecutable: (file: string, what: string) => Effect.Effect<void, InstallError>
  readonly requireFile: (file: string, what: string) => Effect.Effect<void, InstallError>
  readonly exists: (file: string) => Effect.Effect<boolean>
}

const nonEmpty = (s: string | undefined): s is string => s !== undefined && s !== ""

export const makeContext = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const executor = yield* CommandExecutor.CommandExecutor
  const git = yield* Git
  const host = yield* Host
  const config = yield* AppConfig
  const artifacts = yield* Artifacts

  const env = host.env
  const home = host.homeDir
  const claudeDir = nonEmpty(env.CLAUDE_CONFIG_DIR) ? path.resolve(host.cwd, env.CLAUDE_CONFIG_DIR) : path.join(home, ".claude")
  const rcFile = (shell: Shell): string => {
    switch (shell) {
      case "bash":
        return path.join(home, ".bashrc")
      case "zsh":
        return path.join(nonEmpty(env.ZDOTDIR) ? env.ZDOTDIR : home, ".zshrc")
      case "fish":
        return path.join(nonEmpty(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : path.join(home, ".config"), "fish", "config.fish")
    }
  }
  const rcFiles = Shells.map((shell) => ({ shell, file: rcFile(shell) }))
  const exists = (file: string) => fs.exists(file).pipe(Effect.orElseSucceed(() => false))

  const ctx: InstallContext = {
    fs,
    path,
    executor,
    host,
    artifacts,
    dataDir: config.dataDir,
    globalSettings: path.join(claudeDir, "settings.json"),
    claudeJson: nonEmpty(env.CLAUDE_CONFIG_DIR) ? path.join(claudeDir, ".claude.json") : path.join(home, ".claude.json"),
    manifestFile: path.join(config.dataDir, "install.json"),
    backupsRoot: path.join(config.dataDir, "backups"),
    rcFile,
    rcFiles,
    childEnv: Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined)),
    localSettingsFor: (repo) =>
      git.toplevel(path.resolve(host.cwd, repo ?? ".")).pipe(
        Effect.map((top) => path.join(top, ".claude", "settings.json")),
        Effect.mapError(() => new InstallError({ reason: "NotARepo", path: path.resolve(host.cwd, repo ?? ".") }))
      ),
    claudeCli: which(fs, path, "claude", pathDirs(env), host.cwd),
    aliasTarget: Effect.gen(function*() {
      const onPath = yield* which(fs, path, "claude-parallel", pathDirs(env), host.cwd)
      if (Option.isSome(onPath)) return onPath
      return (yield* isExecutable(fs, artifacts.wrapper)) ? Option.some(artifacts.wrapper) : Option.none<string>()
    }),
    targetShells: Effect.gen(function*() {
      const login = path.basename(env.SHELL ?? "")
      const out: Array<Shell> = []
      for (const { file, shell } of rcFiles) {
        if ((yield* exists(file)) || login === shell) out.push(shell)
      }
      return out
    }),
    requireExecutable: (file, what) =>
      Effect.flatMap(isExecutable(fs, file), (ok) =>
        ok ? Effect.void : Effect.fail(
          new InstallError({ reason: "TargetMissing", path: file, detail: `${what} is missing or not executable` })
        )),
    requireFile: (file, what) =>
      Effect.flatMap(exists(file), (ok) =>
        ok ? Effect.void : Effect.fail(new InstallError({ reason: "TargetMissing", path: file, detail: `${what} does not exist` }))),
    exists
  }
  return ctx
})
