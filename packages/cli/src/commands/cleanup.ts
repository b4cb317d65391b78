import { Sessions } from "@parallel-cc/core"
import { Effect } from "effect"
import { defineCommand } from "../internal/Command.js"
import { withCore } from "../internal/Env.js"
import { print, printJson } from "../internal/Output.js"
import { releasedLines } from "../internal/Render.js"

export const cleanup = defineCommand({
  name: "cleanup",
  description:
    "Release sessions whose process is gone (or stale), remove kept worktrees that are merged now, prune git's worktree records",
  spec: {
    dryRun: { kind: "boolean", description: "Show what would happen; change nothing" },
    force: { kind: "boolean", description: "Also remove worktrees with uncommitted or unmerged work, and delete their branches" },
    json: { kind: "boolean", description: "Print one JSON document" }
  },
  handler: (opts) =>
    withCore(Effect.gen(function*() {
      const sessions = yield* Sessions.Sessions
      const report = yield* sessions.cleanup({ dryRun: opts.dryRun, force: opts.force })
      if (opts.json) return yield* printJson(report)
      const dry = report.dryRun
      const lines: Array<string> = []
      for (const r of report.released) lines.push(...releasedLines(r, { dryRun: dry }))
      for (const r of report.rechecked) lines.push(...releasedLines(r, { dryRun: dry }))
      for (const p of report.pruned) {
        lines.push(`${dry ? "Would prune" : "Pruned"} stale worktree records of ${p.repoPath}:`, ...p.lines.map((l) => `  ${l}`))
      }
      if (lines.length === 0) lines.push("Nothing to clean up.")
      lines.push(
        (report.alive === 0
          ? "No active session is running"
          : `${report.alive} active session${report.alive === 1 ? " is" : "s are"} still running (left alone)`) +
          (dry ? "; dry run: nothing was changed." : ".")
      )
      yield* print(lines.join("\n"))
    }))
})
