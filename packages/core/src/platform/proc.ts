/**
 * Process liveness by pid plus start time (so a reused pid is never taken for the process we recorded),
 * and signals to whole process groups.
 */
import * as fs from "node:fs"

/** The start time of a process as the kernel reports it (Linux: field 22 of /proc/PID/stat), or null. */
export const startTime = (pid: number): string | null => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    // The command name (field 2) may contain spaces and parentheses: split after its last ')'.
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return rest[19] ?? null
  } catch {
    return null
  }
}

/** True when `pid` exists (and, if `start` is known, is still the process that had that start time). */
export const isAlive = (pid: number, start?: string | null): boolean => {
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EPERM") return false
  }
  if (start === undefined || start === null) return true
  const now = startTime(pid)
  return now === null || now === start
}

/** True while a zombie-free process group led by `pgid` has members. */
export const groupAlive = (pgid: number): boolean => {
  if (!Number.isInteger(pgid) || pgid <= 1) return false
  try {
    process.kill(-pgid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"
  }
}

/** Send `signal` to the process group `pgid` (falls back to the process itself). Never throws. */
export const signalGroup = (pgid: number, signal: NodeJS.Signals): boolean => {
  if (!Number.isInteger(pgid) || pgid <= 1) return false
  try {
    process.kill(-pgid, signal)
    return true
  } catch {
    try {
      process.kill(pgid, signal)
      return true
    } catch {
      return false
    }
  }
}

/** The current process: pid and start time. */
export const self = (): { readonly pid: number; readonly start: string | null } => ({
  pid: process.pid,
  start: startTime(process.pid)
})
