/**
 * A dry run: the queue as it would be processed — order, which candidate would conflict (after the ones
 * before it) and which the conflict engine would resolve — computed on git objects only. No ref moves, no
 * work tree is touched, nothing is queued, no test runs.
 */
import { Effect } from "effect"
import type { Candidate } from "./candidates.js"
import { type Context, integrate } from "./integrate.js"
import type { PlannedCandidate, Strategy } from "./LandDomain.js"

export interface PlanItem {
  readonly candidate: Candidate
  readonly strategy: Strategy
  /** Already waiting in the queue. */
  readonly queued: boolean
}

export const planQueue = (ctx: Context, targetBranch: string, targetTip: string, items: ReadonlyArray<PlanItem>) =>
  Effect.gen(function*() {
    let tip = targetTip
    const out: Array<PlannedCandidate> = []
    for (const [i, item] of items.entries()) {
      const c = item.candidate
      const base = {
        position: i + 1,
        name: c.name,
        kind: c.kind,
        sessionId: c.sessionId,
        branch: c.branch,
        head: c.head,
        strategy: item.strategy,
        warnings: c.warnings,
        queued: item.queued
      }
      const r = yield* integrate(ctx, tip, { head: c.head, name: c.name, sessionId: c.sessionId }, item.strategy, targetBranch)
      switch (r._tag) {
        case "Clean":
          tip = r.commit
          out.push({ ...base, outcome: "lands", conflicts: [], resolutions: r.resolutions })
          break
        case "Empty":
          out.push({ ...base, outcome: "empty", conflicts: [], resolutions: [] })
          break
        case "Conflict":
          out.push({ ...base, outcome: "conflicts", conflicts: r.files, resolutions: r.resolutions })
          break
        case "Unrelated":
          out.push({
            ...base,
            outcome: "conflicts",
            conflicts: [{ path: "", kind: "unrelated", class: null, note: `shares no history with ${targetBranch}` }],
            resolutions: []
          })
      }
    }
    return out
  })
