/**
 * The host as the edge sees it: home directory, working directory, environment and Node version. Core
 * never reads `process.env` or `os.homedir()`; the CLI (or a test) provides this service with its values,
 * so everything that depends on them — the installer, the doctor — works on a temporary HOME.
 *
 * @since 0.1.0
 */
import { Context, Layer } from "effect"

export interface HostInfo {
  /** The user's home directory (HOME, or the OS's answer at the edge). */
  readonly homeDir: string
  readonly cwd: string
  /** The environment of the process (PATH, SHELL, keys…); only read, never logged. */
  readonly env: Readonly<Record<string, string | undefined>>
  /** `process.versions.node` of the running process, e.g. "20.11.1". */
  readonly nodeVersion: string
}

export class Host extends Context.Tag("@parallel-cc/core/Host")<Host, HostInfo>() {}

/** A Host with the given values. */
export const layer = (info: HostInfo): Layer.Layer<Host> => Layer.succeed(Host, Host.of(info))

/** `PATH` split into its directories (empty entries dropped). */
export const pathDirs = (env: HostInfo["env"]): ReadonlyArray<string> =>
  (env.PATH ?? "").split(":").filter((d) => d !== "")
