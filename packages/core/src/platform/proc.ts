/**
 * Signals to whole process groups (a sandboxed agent and everything it started). Liveness by pid and start
 * time is `Processes`; `/proc/<pid>/stat` is parsed in `procStat`.
 */

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
