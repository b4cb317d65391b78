/**
 * The cross-process lock that serialises `git worktree add/remove/list/prune` of one repository, waiting in
 * the kernel: flock(2) on `<git common dir>/parallel-cc-worktrees.lock`.
 *
 * Node has no flock, so the `flock` program (util-linux) takes the lock on *our* open file description,
 * passed to it as its fd 3, and exits; a flock lock belongs to the open file description, so it is then
 * ours until we close the descriptor — or until this process dies, when the kernel drops it. A waiter
 * sleeps in flock(2) and is woken when the lock is free: no polling, and a killed holder never blocks
 * anyone. The lock file lives in the repository's own git directory, so every parallel-cc process working
 * on the repository shares it, whatever its data directory.
 *
 * Where there is no `flock` program (macOS) or the git directory cannot be written, {@link acquire} says
 * so and the caller relies on the store's lease alone (`Worktrees`).
 *
 * Plain Node on purpose (no Effect): the start-up fast path (`sessions/FastPath`) and `Worktrees` share it.
 */
import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"

/** The lock file's name inside the git common dir. */
export const LOCK_FILE = "parallel-cc-worktrees.lock"

/** A held lock: close it with {@link release}. */
export interface Held {
  readonly fd: number
  readonly file: string
  /** Set by {@link release}: the descriptor number may belong to another file afterwards. */
  released: boolean
}

export type Outcome =
  | { readonly _tag: "Held"; readonly held: Held }
  | { readonly _tag: "TimedOut" }
  /** No kernel lock here (no `flock` program, or the lock file cannot be opened); `detail` says why. */
  | { readonly _tag: "Unavailable"; readonly detail: string }

let missing = false

const open = (commonDir: string): { fd: number; file: string } | string => {
  const file = path.join(commonDir, LOCK_FILE)
  try {
    return { fd: fs.openSync(file, "a", 0o600), file }
  } catch (e) {
    return `cannot open ${file}: ${(e as Error).message}`
  }
}

const closeQuietly = (fd: number) => {
  try {
    fs.closeSync(fd)
  } catch {
    // Already closed.
  }
}

const args = (timeoutMs: number) => ["-x", "-w", (Math.max(0, timeoutMs) / 1000).toFixed(3), "3"]

const outcomeOf = (fd: number, file: string, code: number | null, error: NodeJS.ErrnoException | undefined): Outcome => {
  if (code === 0 && error === undefined) return { _tag: "Held", held: { fd, file, released: false } }
  closeQuietly(fd)
  if (error?.code === "ENOENT") {
    missing = true
    return { _tag: "Unavailable", detail: "no flock program on PATH" }
  }
  if (code === 1) return { _tag: "TimedOut" }
  return { _tag: "Unavailable", detail: error !== undefined ? error.message : `flock exited with ${code}` }
}

/** Take the lock, waiting at most `timeoutMs`; blocks this thread (for the start-up fast path). */
export const acquireSync = (commonDir: string, timeoutMs: number): Outcome => {
  if (missing) return { _tag: "Unavailable", detail: "no flock program on PATH" }
  const o = open(commonDir)
  if (typeof o === "string") return { _tag: "Unavailable", detail: o }
  const r = spawnSync("flock", args(timeoutMs), { stdio: ["ignore", "ignore", "ignore", o.fd] })
  return outcomeOf(o.fd, o.file, r.status, r.error as NodeJS.ErrnoException | undefined)
}

/**
 * Take the lock, waiting at most `timeoutMs`, without blocking the event loop. When `signal` aborts, the
 * wait is given up: the promise settles (with TimedOut) only once nothing is held any more.
 */
export const acquire = (commonDir: string, timeoutMs: number, signal?: AbortSignal): Promise<Outcome> => {
  if (missing) return Promise.resolve({ _tag: "Unavailable", detail: "no flock program on PATH" })
  const o = open(commonDir)
  if (typeof o === "string") return Promise.resolve({ _tag: "Unavailable", detail: o })
  return new Promise((resolve) => {
    let error: NodeJS.ErrnoException | undefined
    let aborted = false
    const child = spawn("flock", args(timeoutMs), { stdio: ["ignore", "ignore", "ignore", o.fd] })
    const onAbort = () => {
      aborted = true
      child.kill("SIGKILL")
    }
    signal?.addEventListener("abort", onAbort, { once: true })
    child.once("error", (e) => (error = e))
    child.once("close", (code) => {
      signal?.removeEventListener("abort", onAbort)
      const outcome = outcomeOf(o.fd, o.file, code, error)
      // flock may have taken the lock just before it was killed: closing our descriptor drops it.
      if (aborted) {
        if (outcome._tag === "Held") release(outcome.held)
        resolve({ _tag: "TimedOut" })
      } else resolve(outcome)
    })
    if (signal?.aborted === true) onAbort()
  })
}

/** Release a held lock (closing the descriptor drops the flock lock). Idempotent. */
export const release = (held: Held): void => {
  if (held.released) return
  held.released = true
  closeQuietly(held.fd)
}
