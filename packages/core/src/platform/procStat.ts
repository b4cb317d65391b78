/**
 * `/proc/<pid>/stat` (Linux), parsed in this one place. Free of Effect so that the modules that must start
 * like a bare Node script (`StatusSnapshot`, behind `status --json`; the start-up `FastPath`) can use it too.
 */
import * as fs from "node:fs"

/** The fields of `/proc/<pid>/stat` we use. */
export interface ProcStat {
  /** The command name (field 2), which may hold spaces and parentheses. */
  readonly comm: string
  /** Field 3: R, S, D, Z (zombie), X (dead), … */
  readonly state: string
  /** Field 4. */
  readonly ppid: number
  /** Field 22: the start time in clock ticks since boot. */
  readonly startTicks: string
  /** Fields 14 + 15: CPU time used so far (user + system), in clock ticks. */
  readonly cpuTicks: number
}

/** Parse the text of `/proc/<pid>/stat`; undefined when it is not one. */
export const parseProcStat = (text: string): ProcStat | undefined => {
  const open = text.indexOf("(")
  const close = text.lastIndexOf(")")
  if (open < 0 || close < open) return undefined
  // The command name may contain spaces and parentheses: the fields start after its last ')'.
  const fields = text.slice(close + 2).trim().split(/\s+/)
  const state = fields[0]
  const ppid = Number(fields[1])
  const startTicks = fields[19]
  if (state === undefined || !Number.isInteger(ppid) || startTicks === undefined || !/^\d+$/.test(startTicks)) return undefined
  const cpuTicks = Number(fields[11]) + Number(fields[12])
  return { comm: text.slice(open + 1, close), state, ppid, startTicks, cpuTicks: Number.isFinite(cpuTicks) ? cpuTicks : 0 }
}

let bootId: string | undefined

/**
 * The start time of a running (not zombie) process exactly as `Processes.probe` records it on Linux,
 * `linux:<boot id>:<start ticks>`; undefined when the pid does not run or there is no `/proc`.
 */
export const linuxStartTime = (pid: number): string | undefined => {
  if (!Number.isSafeInteger(pid) || pid <= 0 || pid >= 2 ** 31) return undefined
  let text: string
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    bootId ??= fs.readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim()
  } catch {
    return undefined
  }
  const stat = parseProcStat(text)
  if (stat === undefined || stat.state === "Z" || stat.state === "X") return undefined
  return `linux:${bootId}:${stat.startTicks}`
}
