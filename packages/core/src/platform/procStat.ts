/**
 * `/proc/<pid>/stat` (Linux), parsed in this one place. Free of Effect so that the modules that must start
 * like a bare Node script (`StatusSnapshot`, behind `status --json`) can use it too.
 */

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
  return { comm: text.slice(open + 1, close), state, ppid, startTicks }
}
