/**
 * A contract double of the `e2b` SDK (the surface `E2BProvider` uses, see `E2BModule`), for tests without
 * network or account. Each "VM" is a directory on this machine that serves as the sandbox user's $HOME;
 * commands run as local `bash -c` processes in it (the SDK runs them with `bash -l -c` in the VM).
 *
 * It honours the contract the real SDK documents: a missing or wrong API key is an AuthenticationError; a
 * non-zero exit of `run`/`wait()` throws CommandExitError with exitCode/stdout/stderr; `connect`, `kill` and
 * operations on a sandbox that is gone throw SandboxNotFoundError (kill returns false); `list` is a
 * paginator filtered by metadata; the sandbox dies at its `timeoutMs`. Failures can be injected: rate
 * limiting, timeouts, no capacity, authentication, and a sandbox that dies mid-run.
 *
 * Sandboxes live on disk under `root`, so a second double over the same root (another "process") finds
 * them again, as `Sandbox.connect(id)` does.
 */
import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"

class SandboxError extends Error {
  override name = "SandboxError"
}
export class TimeoutError extends SandboxError {
  override name = "TimeoutError"
}
export class NotFoundError extends SandboxError {
  override name = "NotFoundError"
}
export class SandboxNotFoundError extends NotFoundError {
  override name = "SandboxNotFoundError"
}
export class FileNotFoundError extends NotFoundError {
  override name = "FileNotFoundError"
}
export class RateLimitError extends SandboxError {
  override name = "RateLimitError"
}
export class AuthenticationError extends Error {
  override name = "AuthenticationError"
}
export class ServiceBusyError extends Error {
  override name = "ServiceBusyError"
}
export class CommandExitError extends SandboxError {
  override name = "CommandExitError"
  constructor(readonly result: { exitCode: number; stdout: string; stderr: string; error?: string }) {
    super(result.error ?? `exit status ${result.exitCode}`)
  }
  get exitCode() {
    return this.result.exitCode
  }
  get stdout() {
    return this.result.stdout
  }
  get stderr() {
    return this.result.stderr
  }
}

export type Failure = "auth" | "rateLimit" | "timeout" | "busy"

export interface Options {
  /** Where the double keeps its sandboxes. */
  readonly root: string
  /** The only API key it accepts. */
  readonly apiKey?: string
  /** Fail every call of these operations. */
  readonly fail?: {
    readonly create?: Failure
    readonly connect?: Failure
    readonly kill?: Failure
    readonly list?: Failure
  }
  /** Fail only the first N calls of each operation in `fail` (default: every call). */
  readonly failTimes?: number
  /** Every sandbox dies this long after it was created (its processes killed, its files gone). */
  readonly dieAfterMs?: number
}

/** The key the double accepts by default. */
export const apiKey = "e2b_test_double_key"

interface Info {
  readonly sandboxId: string
  readonly template: string
  readonly metadata: Record<string, string>
  readonly envs: Record<string, string>
  readonly startedAt: string
  readonly timeoutMs: number
}

const failure = (f: Failure, what: string): Error => {
  switch (f) {
    case "auth":
      return new AuthenticationError(`401: invalid API key (${what})`)
    case "rateLimit":
      return new RateLimitError(`429: rate limit exceeded (${what})`)
    case "timeout":
      return new TimeoutError(`request timed out (${what})`)
    case "busy":
      return new ServiceBusyError(`503: no capacity (${what})`)
  }
}

/** A double of the e2b module, with a log of the calls it received. */
export const make = (options: Options) => {
  const root = options.root
  fs.mkdirSync(root, { recursive: true })
  const key = options.apiKey ?? apiKey
  const calls: Array<string> = []
  const networks: Array<{ allowInternetAccess?: boolean | undefined; network?: { allowOut?: Array<string>; denyOut?: Array<string> } | undefined }> = []
  const timers = new Set<NodeJS.Timeout>()

  const failed: Record<string, number> = {}
  const shouldFail = (op: string) => {
    failed[op] = (failed[op] ?? 0) + 1
    return options.failTimes === undefined || failed[op] <= options.failTimes
  }

  const checkKey = (given: string | undefined, what: string) => {
    if (given === undefined || given === "") throw new AuthenticationError("API key is required (E2B_API_KEY)")
    if (given !== key) throw new AuthenticationError(`401: invalid API key (${what})`)
  }
  const dir = (id: string) => path.join(root, id)
  const infoFile = (id: string) => path.join(root, `${id}.json`)
  const pidDir = (id: string) => path.join(root, `${id}.pids`)
  const readInfo = (id: string): Info | undefined => {
    if (!/^[a-z0-9]+$/.test(id)) return undefined
    try {
      return JSON.parse(fs.readFileSync(infoFile(id), "utf8")) as Info
    } catch {
      return undefined
    }
  }
  const pids = (id: string): Array<number> => {
    try {
      return fs.readdirSync(pidDir(id)).map(Number).filter((n) => Number.isInteger(n))
    } catch {
      return []
    }
  }
  const destroy = (id: string): boolean => {
    if (readInfo(id) === undefined) return false
    for (const pid of pids(id)) {
      try {
        process.kill(-pid, "SIGKILL")
      } catch {
        // Already gone.
      }
    }
    fs.rmSync(infoFile(id), { force: true })
    fs.rmSync(pidDir(id), { recursive: true, force: true })
    fs.rmSync(dir(id), { recursive: true, force: true })
    return true
  }
  const alive = (id: string) => {
    const info = readInfo(id)
    if (info === undefined) return false
    if (Date.now() - Date.parse(info.startedAt) > info.timeoutMs) {
      destroy(id)
      return false
    }
    return true
  }
  const mustLive = (id: string) => {
    if (!alive(id)) throw new SandboxNotFoundError(`sandbox ${id} not found`)
  }
  const inside = (id: string, p: string) => {
    const full = path.resolve(p)
    if (full !== dir(id) && !full.startsWith(dir(id) + path.sep)) throw new SandboxError(`path ${p} is outside the sandbox`)
    return full
  }

  const sandbox = (id: string) => {
    const home = dir(id)
    const env = (extra: Record<string, string> | undefined) => ({
      ...(readInfo(id)?.envs ?? {}),
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: home,
      LANG: "C.UTF-8",
      ...extra
    })
    const run = (cmd: string, opts: {
      background?: boolean
      cwd?: string
      envs?: Record<string, string>
      timeoutMs?: number
      onStdout?: (d: string) => void | Promise<void>
      onStderr?: (d: string) => void | Promise<void>
    } = {}): Promise<any> => {
      calls.push(`commands.run${opts.background === true ? " (background)" : ""}`)
      mustLive(id)
      const child = spawn("bash", ["-c", cmd], {
        cwd: opts.cwd !== undefined ? inside(id, opts.cwd) : home,
        env: env(opts.envs),
        stdio: ["ignore", "pipe", "pipe"],
        detached: true
      })
      const pid = child.pid!
      fs.mkdirSync(pidDir(id), { recursive: true })
      fs.writeFileSync(path.join(pidDir(id), String(pid)), "")
      let stdout = ""
      let stderr = ""
      child.stdout!.setEncoding("utf8").on("data", (d: string) => {
        stdout += d
        void opts.onStdout?.(d)
      })
      child.stderr!.setEncoding("utf8").on("data", (d: string) => {
        stderr += d
        void opts.onStderr?.(d)
      })
      let killed = false
      const done = new Promise<{ exitCode: number; stdout: string; stderr: string }>((resolve, reject) => {
        const limit = opts.timeoutMs !== undefined && opts.timeoutMs > 0
          ? setTimeout(() => {
            try {
              process.kill(-pid, "SIGKILL")
            } catch {
              // Already gone.
            }
          }, opts.timeoutMs)
          : undefined
        child.on("close", (code, signal) => {
          if (limit !== undefined) clearTimeout(limit)
          fs.rmSync(path.join(pidDir(id), String(pid)), { force: true })
          if (!alive(id)) return reject(new TimeoutError("the sandbox was killed or timed out while the command ran"))
          if (signal !== null && !killed && opts.timeoutMs !== undefined && opts.timeoutMs > 0) {
            return reject(new TimeoutError(`command deadline of ${opts.timeoutMs} ms exceeded`))
          }
          const exitCode = code ?? 137
          if (exitCode !== 0) return reject(new CommandExitError({ exitCode, stdout, stderr, error: signal !== null ? `signal: ${signal}` : `exit status ${exitCode}` }))
          resolve({ exitCode, stdout, stderr })
        })
      })
      if (opts.background !== true) return done
      return Promise.resolve({
        pid,
        wait: () => done,
        kill: async () => {
          killed = true
          try {
            process.kill(-pid, "SIGKILL")
            return true
          } catch {
            return false
          }
        }
      })
    }
    return {
      sandboxId: id,
      commands: {
        run,
        list: async () => {
          mustLive(id)
          return pids(id).map((pid) => ({ pid }))
        }
      },
      files: {
        write: async (p: string, data: string | ArrayBuffer) => {
          calls.push("files.write")
          mustLive(id)
          const full = inside(id, p)
          fs.mkdirSync(path.dirname(full), { recursive: true })
          fs.writeFileSync(full, typeof data === "string" ? data : new Uint8Array(data))
          return { name: path.basename(full), path: p, type: "file" }
        },
        read: async (p: string, _opts: { format: "bytes" }) => {
          calls.push("files.read")
          mustLive(id)
          try {
            return new Uint8Array(fs.readFileSync(inside(id, p)))
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code === "ENOENT") throw new FileNotFoundError(`file ${p} not found`)
            throw e
          }
        }
      },
      kill: async () => destroy(id)
    }
  }

  let counter = 0
  const Sandbox = {
    create: async (template: string, opts: {
      apiKey: string
      timeoutMs: number
      envs?: Record<string, string>
      metadata?: Record<string, string>
      allowInternetAccess?: boolean
      network?: { allowOut?: Array<string>; denyOut?: Array<string> }
    }) => {
      calls.push("Sandbox.create")
      // The network options are recorded, not enforced: the double has no network of its own to filter.
      networks.push({ allowInternetAccess: opts.allowInternetAccess, network: opts.network })
      checkKey(opts.apiKey, "create")
      if (options.fail?.create !== undefined && shouldFail("create")) throw failure(options.fail.create, "create")
      const id = `i${Date.now().toString(36)}${process.pid.toString(36)}${(counter++).toString(36)}`
      fs.mkdirSync(dir(id), { recursive: true })
      const info: Info = {
        sandboxId: id,
        template,
        metadata: { ...opts.metadata },
        envs: { ...opts.envs },
        startedAt: new Date().toISOString(),
        timeoutMs: opts.timeoutMs
      }
      fs.writeFileSync(infoFile(id), JSON.stringify(info))
      const ttl = Math.min(opts.timeoutMs, options.dieAfterMs ?? Number.POSITIVE_INFINITY)
      const t = setTimeout(() => destroy(id), ttl)
      t.unref()
      timers.add(t)
      return sandbox(id)
    },
    connect: async (id: string, opts: { apiKey: string }) => {
      calls.push("Sandbox.connect")
      checkKey(opts.apiKey, "connect")
      if (options.fail?.connect !== undefined && shouldFail("connect")) throw failure(options.fail.connect, "connect")
      mustLive(id)
      return sandbox(id)
    },
    kill: async (id: string, opts: { apiKey: string }) => {
      calls.push("Sandbox.kill")
      checkKey(opts.apiKey, "kill")
      if (options.fail?.kill !== undefined && shouldFail("kill")) throw failure(options.fail.kill, "kill")
      return destroy(id)
    },
    list: (opts: { apiKey: string; query?: { metadata?: Record<string, string> } }) => {
      calls.push("Sandbox.list")
      let done = false
      return {
        get hasNext() {
          return !done
        },
        nextItems: async () => {
          done = true
          checkKey(opts.apiKey, "list")
          if (options.fail?.list !== undefined && shouldFail("list")) throw failure(options.fail.list, "list")
          const want = opts.query?.metadata ?? {}
          return fs.readdirSync(root)
            .filter((n) => n.endsWith(".json"))
            .map((n) => readInfo(n.slice(0, -5)))
            .filter((i): i is Info => i !== undefined && alive(i.sandboxId))
            .filter((i) => Object.entries(want).every(([k, v]) => i.metadata[k] === v))
            .map((i) => ({ sandboxId: i.sandboxId, metadata: i.metadata, startedAt: new Date(i.startedAt), state: "running" }))
        }
      }
    }
  }

  return {
    Sandbox,
    AuthenticationError,
    RateLimitError,
    TimeoutError,
    NotFoundError,
    SandboxNotFoundError,
    FileNotFoundError,
    ServiceBusyError,
    CommandExitError,
    /** Names of the calls received, in order. */
    calls,
    /** The network options of each `Sandbox.create`, in order. */
    networks,
    /** Ids of the sandboxes that exist now. */
    alive: (): Array<string> =>
      fs.readdirSync(root).filter((n) => n.endsWith(".json")).map((n) => n.slice(0, -5)).filter((id) => alive(id)),
    /** Kill every sandbox and stop the timers. */
    dispose: () => {
      for (const t of timers) clearTimeout(t)
      for (const n of fs.readdirSync(root)) if (n.endsWith(".json")) destroy(n.slice(0, -5))
    },
    /** Whether bash (which the double runs commands with) exists. */
    usable: spawnSync("bash", ["-c", "true"]).status === 0
  }
}
