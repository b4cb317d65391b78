import * as fs from "node:fs"
import { assert, describe, it } from "vitest"
import { parseProcStat } from "../src/platform/procStat.js"

describe("parseProcStat", () => {
  it("reads the command name, state, parent, start time and CPU ticks, even when the name holds spaces and parentheses", () => {
    const rest = "S 41 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 200"
    assert.deepStrictEqual(parseProcStat(`4242 (my (odd) cmd) ${rest}\n`), { comm: "my (odd) cmd", state: "S", ppid: 41, startTicks: "987654", cpuTicks: 3 })
    assert.isUndefined(parseProcStat("4242 no parentheses S 1"))
    assert.isUndefined(parseProcStat("4242 (short) S 1 2 3"))
  })

  it.skipIf(!fs.existsSync("/proc/self/stat"))("agrees with the kernel about this process (skipped without /proc)", () => {
    const stat = parseProcStat(fs.readFileSync(`/proc/${process.pid}/stat`, "utf8"))
    assert.strictEqual(stat?.ppid, process.ppid)
    assert.match(stat?.startTicks ?? "", /^\d+$/)
  })
})
