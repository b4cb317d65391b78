/**
 * The real Claude Code CLI for end-to-end tests: installed from npm at a pinned version on first use
 * (bin/install-claude-code.mjs), run headless against the AnthropicApiDouble with a temp HOME.
 */
import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import type { AnthropicApiDouble } from "./AnthropicApiDouble.js"

/** The installer script (prints the binary's path). */
export const installScript = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../bin/install-claude-code.mjs")

/** The pinned version (kept in the installer script, the single source). */
export const version = (() => {
  const m = /export const VERSION = "([^"]+)"/.exec(fs.readFileSync(installScript, "utf8"))
  if (!m?.[1]) throw new Error(`no VERSION in ${installScript}`)
  return m[1]
})()

let installed: string | undefined

/** The absolute path of the `claude` binary, installing it through npm if it is not cached yet. */
export const binary = (): string => {
  if (installed !== undefined) return installed
  const r = spawnSync(process.execPath, [installScript, "--quiet"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })
  if (r.status !== 0) throw new Error(`could not install Claude Code ${version}:\n${r.stderr}`)
  installed = r.stdout.trim()
  return installed
}

/** A directory holding the binary under the name `claude`, to put first on PATH. */
export const binDir = (): string => path.dirname(binary())

export interface EnvOptions {
  /** The temp HOME (Claude Code keeps ~/.claude.json and ~/.claude/ there). */
  readonly home: string
  readonly api: AnthropicApiDouble
  /** How often Claude Code retries a failed API call (its default of 10 with backoff takes minutes). */
  readonly maxRetries?: number
  readonly extra?: Readonly<Record<string, string>>
}

/**
 * A hermetic environment for Claude Code: only PATH (with `claude` first), HOME, git identity, the API
 * double and the switches that keep it from talking to anything else. As root, `IS_SANDBOX=1` lets
 * `--dangerously-skip-permissions` through (Claude Code refuses that flag for root otherwise).
 */
export const env = (options: EnvOptions): Record<string, string> => ({
  PATH: `${binDir()}${path.delimiter}${process.env.PATH ?? "/usr/bin:/bin"}`,
  HOME: options.home,
  LANG: "C.UTF-8",
  GIT_CONFIG_GLOBAL: "/dev/null",
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_AUTHOR_NAME: "Test Author",
  GIT_AUTHOR_EMAIL: "author@example.com",
  GIT_COMMITTER_NAME: "Test Committer",
  GIT_COMMITTER_EMAIL: "committer@example.com",
  ...options.api.env(),
  CLAUDE_CODE_MAX_RETRIES: String(options.maxRetries ?? 1),
  // Claude Code connects to MCP servers in the background by default; a server that starts slowly (a loaded
  // machine) then shows as "pending" in init and its tools are missing from the first turn. Tests wait.
  MCP_CONNECTION_NONBLOCKING: "0",
  ...(process.getuid?.() === 0 ? { IS_SANDBOX: "1" } : {}),
  ...options.extra
})

/** The headless command line our tools use: print mode, stream-json, no permission prompts. */
export const headlessArgs = (prompt: string, extra: ReadonlyArray<string> = []): Array<string> => [
  "-p",
  prompt,
  "--output-format",
  "stream-json",
  "--verbose",
  "--dangerously-skip-permissions",
  ...extra
]

/** One stream-json event (parsed leniently; switch on `type`/`subtype`). */
export type Event = { readonly type: string; readonly subtype?: string; readonly [key: string]: any }

/** Parse stream-json output; lines that are not JSON objects are skipped. */
export const events = (stdout: string): Array<Event> =>
  stdout.split("\n").flatMap((line) => {
    const t = line.trim()
    if (!t.startsWith("{")) return []
    try {
      const v = JSON.parse(t)
      return v && typeof v === "object" && typeof v.type === "string" ? [v as Event] : []
    } catch {
      return []
    }
  })

export const initOf = (evs: ReadonlyArray<Event>): Event | undefined => evs.find((e) => e.type === "system" && e.subtype === "init")
export const resultOf = (evs: ReadonlyArray<Event>): Event | undefined => [...evs].reverse().find((e) => e.type === "result")
/** The tool_use blocks of all assistant events. */
export const toolUses = (evs: ReadonlyArray<Event>): Array<{ id: string; name: string; input: any }> =>
  evs.flatMap((e) => (e.type === "assistant" ? (e.message?.content ?? []).filter((b: any) => b?.type === "tool_use") : []))

export interface RunOptions {
  readonly cwd: string
  readonly env: Readonly<Record<string, string>>
  readonly timeoutMs?: number
  /** Called with the child as soon as it started (to kill it mid-turn, say). */
  readonly onSpawn?: (child: import("node:child_process").ChildProcess) => void
}

export interface RunResult {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
  readonly events: Array<Event>
  readonly ms: number
}

/**
 * Run `command args…` (the claude binary, or a wrapper of it) with stdin closed — Claude Code waits 3 s
 * for piped stdin otherwise — and collect its output. Killed with SIGKILL after `timeoutMs`.
 */
export const run = (command: string, args: ReadonlyArray<string>, options: RunOptions): Promise<RunResult> =>
  new Promise((resolve, reject) => {
    const started = Date.now()
    const child = spawn(command, args as Array<string>, {
      cwd: options.cwd,
      env: options.env as Record<string, string>,
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (d) => (stdout += d))
    child.stderr.setEncoding("utf8").on("data", (d) => (stderr += d))
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 120_000)
    child.on("error", (e) => {
      clearTimeout(timer)
      reject(e)
    })
    child.on("close", (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr, events: events(stdout), ms: Date.now() - started })
    })
    options.onSpawn?.(child)
  })

/** Run the claude binary itself headless with `prompt`. */
export const runHeadless = (prompt: string, options: RunOptions & { readonly args?: ReadonlyArray<string> }) =>
  run(binary(), headlessArgs(prompt, options.args), options)
