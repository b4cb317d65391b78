/**
 * The human report of `parallel-cc land` (pure rendering of a report the core produced): the failing
 * test's excerpt and what the report says about landed sessions' worktrees.
 */
import type { Landing } from "@parallel-cc/core"
import { assert, describe, it } from "vitest"
import { failureLines, renderReport } from "../src/commands/land.js"

const entry = (over: Partial<Landing.LandEntryJson>): Landing.LandEntryJson => ({
  entryId: "l_1",
  position: 1,
  repoPath: "/r",
  target: "main",
  kind: "session",
  spec: "alpha",
  name: "parallel/alpha",
  sessionId: "s1",
  branch: "parallel/alpha",
  worktreePath: "/r-worktrees/alpha",
  head: "a".repeat(40),
  strategy: "merge",
  testCommand: null,
  requestedBy: "cli",
  status: "landed",
  runId: "r_1",
  attempts: 1,
  plannedCommit: "b".repeat(40),
  targetBefore: "c".repeat(40),
  landedCommit: "b".repeat(40),
  reason: null,
  message: null,
  detail: { conflicts: [], resolutions: [], warnings: [], logTail: null, batchSize: 2 },
  logPath: null,
  testMs: 3400,
  createdAt: "2026-12-03T14:00:00.000Z",
  startedAt: "2026-12-03T14:00:00.000Z",
  endedAt: "2026-12-03T14:00:05.000Z",
  ...over
})

const report = (entries: ReadonlyArray<Landing.LandEntryJson>): Landing.LandReport => ({
  runId: "r_1",
  repoPath: "/r",
  target: "main",
  dryRun: false,
  testCommand: "npm test",
  targetBefore: "c".repeat(40),
  targetAfter: "b".repeat(40),
  entries,
  plan: [],
  skipped: [],
  worktree: null,
  tests: { runs: 1, totalMs: 3400 },
  landed: entries.filter((e) => e.status === "landed").length,
  sentBack: entries.filter((e) => e.status === "sent_back").length,
  waiting: 0,
  durationMs: 5000
})

describe("land report", () => {
  it("a failing node --test run is shown from its `not ok` line", () => {
    const tail = ["TAP version 13", "# Subtest: sum", "not ok 1 - sum", "  ---", "  failureType: 'testCodeFailure'", "  error: '7 == 6'"].join("\n")
    assert.strictEqual(failureLines(tail).split("\n")[0], "not ok 1 - sum")
    assert.strictEqual(failureLines("ok\nError: boom\nat x").split("\n")[0], "Error: boom")
    const quiet = Array.from({ length: 30 }, (_, i) => `line ${i}`).join("\n")
    assert.strictEqual(failureLines(quiet).split("\n")[0], "line 10", "no error line: the last 20")
  })

  it("merged sessions point to cleanup; a squashed one to discard; branches and sent-back ones to nothing", () => {
    const text = renderReport(report([
      entry({}),
      entry({ entryId: "l_2", name: "parallel/beta", sessionId: "s2" }),
      entry({ entryId: "l_3", name: "parallel/gamma", sessionId: "s3", strategy: "squash", landedCommit: "d".repeat(40) }),
      entry({ entryId: "l_4", name: "parallel/delta", sessionId: "s4", strategy: "rebase", landedCommit: "a".repeat(40) }),
      entry({ entryId: "l_5", name: "feature", kind: "branch", sessionId: null, worktreePath: null }),
      entry({ entryId: "l_6", name: "parallel/eps", sessionId: "s6", status: "sent_back", landedCommit: null, reason: "tests_failed", message: "failed" })
    ]))
    assert.include(text, "The landed sessions keep their worktrees (their commits are on main now): `parallel-cc cleanup` removes them")
    assert.include(text, "parallel/gamma landed as new commits (squash), so its branch keeps commits of its own: `parallel-cc discard s3 --force`")
    assert.notInclude(text, "discard s4", "a rebase that landed the commits as they were is on main")
    assert.notInclude(text, "discard s6")
    const none = renderReport(report([entry({ kind: "branch", sessionId: null, worktreePath: null })]))
    assert.notInclude(none, "cleanup")
  })
})
