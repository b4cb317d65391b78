/**
 * Run the built CLI as a real child process, the way users do.
 */
import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const here = path.dirname(fileURLToPath(import.meta.url))

/** The repository root of parallel-cc itself. */
export const projectRoot = path.resolve(here, "../../..")

/** The built `parallel-cc` entry (run `npm run build` first; `npm test` does). */
export const binPath = path.join(projectRoot, "packages/cli/dist/bin.cjs")

/** The built `claude-parallel` wrapper. */
export const wrapperPath = path.join(projectRoot, "packages/cli/dist/wrapper.cjs")

/** The heartbeat hook script shipped with the CLI package. */
export const heartbeatHookPath = path.join(projectRoot, "packages/cli/hooks/heartbeat.sh")

/** The session hook script shipped with the CLI package (state, notices, the write guard). */
export const sessionHookPath = path.join(projectRoot, "packages/cli/hooks/session-hook.sh")

export interface RunOptions {
  readonly cwd?: string
  readonly env?: Readonly<Record<string, string | undefined>>
  readonly input?: string
  readonly timeoutMs?: number
  /**
   * Run as an unprivileged user, so that file permissions apply (root ignores them): as root the process
   * gets uid/gid {@link unprivileged}; otherwise it runs as the current user, who is unprivileged already.
   */
  readonly unprivileged?: boolean
}

/** The user tests switch to when they run as root (nobody/nogroup). */
export const unprivileged = { uid: 65534, gid: 65534 } as const

/** Whether permission tests must drop privileges (the tests run as root, as in CI containers). */
export const isRoot = (): boolean => process.getuid?.() === 0

/** Hand `paths` (recursively) to the unprivileged user when running as root, so it owns its temp HOME. */
export const giveToUnprivileged = (...paths: ReadonlyArray<string>): void => {
  if (!isRoot()) return
  const walk = (p: string) => {
    fs.lchownSync(p, unprivileged.uid, unprivileged.gid)
    if (fs.lstatSync(p).isDirectory()) for (const e of fs.readdirSync(p)) walk(path.join(p, e))
  }
  for (const p of paths) walk(p)
}

const ids = (options: RunOptions) => (options.unprivileged === true && isRoot() ? unprivileged : {})

export interface RunResult {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

const baseEnv = (env: RunOptions["env"]) => {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries({ PATH: process.env.PATH, ...env })) if (v !== undefined) out[k] = v
  return out
}

/** Run `parallel-cc args…` synchronously. */
export const runSync = (args: ReadonlyArray<string>, options: RunOptions = {}): RunResult => {
  const r = spawnSync(process.execPath, [binPath, ...args], {
    cwd: options.cwd,
    env: baseEnv(options.env),
    input: options.input,
    encoding: "utf8",
    timeout: options.timeoutMs ?? 60_000,
    ...ids(options)
  })
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr }
}

/** Run `parallel-cc args…` asynchronously (for concurrent starts). */
export const run = (args: ReadonlyArray<string>, options: RunOptions = {}): Promise<RunResult> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [binPath, ...args], {
      cwd: options.cwd,
      env: baseEnv(options.env),
      stdio: ["pipe", "pipe", "pipe"],
      ...ids(options)
    })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (d) => (stdout += d))
    child.stderr.setEncoding("utf8").on("data", (d) => (stderr += d))
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000)
    child.on("error", reject)
    child.on("close", (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr })
    })
    child.stdin.end(options.input ?? "")
  })

/** Parse stdout as the single JSON document a `--json` command prints. */
export const json = <A = any>(r: RunResult): A => {
  try {
    return JSON.parse(r.stdout) as A
  } catch {
    throw new Error(`not JSON (exit ${r.code}):\nstdout: ${r.stdout}\nstderr: ${r.stderr}`)
  }
}
