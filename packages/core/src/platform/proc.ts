/**
 * Signals to whole process groups (a sandboxed agent and everything it started). Liveness by pid and start
 * time is `Processes`; `/proc/<pid>/stat` is parsed in `procStat`. And how busy a process is (`activity`).
 */
import * as fs from "node:fs"
import { parseProcStat } from "./procStat.js"

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

/**
 * A counter that grows while a process does something (Linux): its CPU ticks (user + system) plus the
 * bytes it wrote (to its terminal among others). Undefined when it cannot be read (no /proc, gone).
 */
export const activity = (pid: number): number | undefined => {
  let stat: ReturnType<typeof parseProcStat>
  try {
    stat = parseProcStat(fs.readFileSync(`/proc/${pid}/stat`, "utf8"))
  } catch {
    return undefined
  }
  if (stat === undefined) return undefined
  let written = 0
  try {
    const io = fs.readFileSync(`/proc/${pid}/io`, "utf8")
    written = Number(/^wchar:\s*(\d+)/m.exec(io)?.[1] ?? 0)
  } catch {
    // /proc/PID/io may be unreadable; the CPU ticks still tell.
  }
  return stat.cpuTicks + written
}
