/**
 * The installer's vocabulary: what can be installed (pieces), what an installation registers (artifacts),
 * and what a run reports (changes, piece status).
 *
 * @since 0.2.0
 */
import { Context } from "effect"

/** The name the MCP server is registered under. */
export const MCP_SERVER_NAME = "parallel-cc"

/** The shells the alias is written for. */
export const Shells = ["bash", "zsh", "fish"] as const
export type Shell = (typeof Shells)[number]

export type Piece = "hooks" | "alias" | "mcp" | "worktree-provider"
export type HookScope = "global" | "local"

/** What this installation of parallel-cc registers: absolute paths, resolved by the edge from its own location. */
export interface ArtifactPaths {
  /**
   * The heartbeat hook script (POSIX sh), run by Claude Code after every tool call. The other hook scripts
   * (see `install/hooks.ts`) sit in the same directory unless {@link hooksDir} says otherwise.
   */
  readonly hookScript: string
  /** The directory of the hook scripts; default: the directory of {@link hookScript}. */
  readonly hooksDir?: string | undefined
  /** The MCP server: an absolute executable and its arguments (e.g. node, [bin.cjs, "mcp", "serve"]). */
  readonly mcpServer: { readonly command: string; readonly args: ReadonlyArray<string> }
  /** The `claude-parallel` wrapper shipped with this CLI, used when none is found on PATH. */
  readonly wrapper: string
}

export class Artifacts extends Context.Tag("@parallel-cc/core/Installer/Artifacts")<Artifacts, ArtifactPaths>() {}

/** Which pieces to install or remove. */
export interface Selection {
  readonly hooks?: {
    readonly scope?: HookScope | undefined
    readonly repo?: string | undefined
    /**
     * The worktree provider hooks (WorktreeCreate/WorktreeRemove): `false` leaves them out (and removes them),
     * `true` puts them in; unset keeps the choice recorded for that settings file (default: in).
     */
    readonly worktreeProvider?: boolean | undefined
  } | undefined
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
   * (another path), or only some of the entries; broken: present but what it runs is missing or not
   * executable; conflict: something else holds the name; error: the file cannot be read.
   */
  readonly state: "installed" | "missing" | "outdated" | "broken" | "conflict" | "error"
  readonly detail: string
}

export const isRecord = (u: unknown): u is Record<string, unknown> =>
  u !== null && typeof u === "object" && !Array.isArray(u)

export const dedupe = <A>(xs: ReadonlyArray<A>): Array<A> => [...new Set(xs)]

export const dedupeBy = <A>(xs: ReadonlyArray<A>, key: (a: A) => string): Array<A> => {
  const seen = new Set<string>()
  return xs.filter((x) => (seen.has(key(x)) ? false : (seen.add(key(x)), true)))
}
