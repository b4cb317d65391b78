/**
 * What the two paths of `parallel-cc worktree-hook` share without Effect: the detached watcher they start
 * after a WorktreeCreate, and the payload the fast path (quick.ts) hands to the regular path when it
 * declines (it has read stdin by then; the regular path runs in the same process).
 */
import { spawn } from "node:child_process"

/** Start the detached watcher that releases `pid`'s sessions after it exits (its output goes nowhere). */
export const startWatcher = (pid: number, env: Readonly<Record<string, string | undefined>>): void => {
  const bin = process.argv[1]
  if (bin === undefined) return
  const child = spawn(process.execPath, [bin, "worktree-hook", "--watch", String(pid)], {
    detached: true,
    stdio: "ignore",
    env: env as NodeJS.ProcessEnv
  })
  child.unref()
}

/** The stdin bytes the fast path read; `complete` when it read to the end. */
export interface Handoff {
  readonly bytes: Buffer
  readonly complete: boolean
}

const KEY = Symbol.for("parallel-cc.worktree-hook.stdin")

export const handOver = (h: Handoff): void => {
  ;(globalThis as Record<symbol, Handoff | undefined>)[KEY] = h
}

export const handedOver = (): Handoff | undefined => (globalThis as Record<symbol, Handoff | undefined>)[KEY]
