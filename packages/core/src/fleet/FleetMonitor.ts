/**
 * The fleet side of one live session's watcher, running beside its `SessionWatcher` (in `claude-parallel`
 * while the agent runs, or in `parallel-cc watch session`):
 *
 * - **notifications**: when the agent enters `needs-input` or `idle`, the person is notified once per state
 *   change (a claim in the session directory makes it once, however many watchers there are);
 * - **usage**: the session's transcripts are read as they grow and the usage stored (`Fleet.usage`);
 * - **budgets**: after new usage, the fleet's spending is compared with the budgets: at `budget.warnAt` the
 *   agent is told (a notice on its next tool call) and the person notified; at the limit, with
 *   `budget.onLimit` = block, a session that spent in the period gets every tool call refused with the
 *   reason (`block`), lifted when the budget allows again (a new period, a raised limit);
 * - **activity** of agents without hooks (anything but Claude Code): from what the wrapper can see of the
 *   process — CPU time and bytes written rise → `working`, quiet for a while → `idle` — until a hook writes
 *   the state itself.
 *
 * @since 0.2.0
 */
import { Cause, Context, Duration, Effect, Layer, Option } from "effect"
import * as nodePath from "node:path"
import type { SessionId } from "../Domain.js"
import { AppConfig } from "../platform/AppConfig.js"
import { activity } from "../platform/proc.js"
import { type AgentState, SessionFiles } from "../sessions/SessionFiles.js"
import { SessionStore } from "../sessions/SessionStore.js"
import { budgetKey, type BudgetPeriodStatus, Fleet } from "./Fleet.js"
import { Notifier } from "./Notifier.js"
import * as fs from "node:fs"

export interface MonitorOptions {
  /** Writes a terminal notification to the wrapper's terminal (omit where there is none). */
  readonly terminal?: ((sequence: string) => void) | undefined
  /** Follow this process's activity for the state (agents without hooks). */
  readonly activityPid?: number | undefined
  /** How often the state is looked at (default 500 ms). */
  readonly pollMs?: number | undefined
  /** How often the transcripts are read at most (default 2 s). */
  readonly usageMs?: number | undefined
  /** Quiet this long → idle (activity only; default 5 s). */
  readonly idleAfterMs?: number | undefined
}

export class FleetMonitor extends Context.Tag("@parallel-cc/core/FleetMonitor")<FleetMonitor, {
  /** Watch a session until it ends (or the fiber is interrupted). Never fails: problems are logged. */
  readonly watch: (sessionId: SessionId, options?: MonitorOptions) => Effect.Effect<void>
  /** One look at the budgets for a session: notices, notifications, block or unblock. */
  readonly checkBudget: (sessionId: SessionId, terminal?: ((sequence: string) => void) | undefined) => Effect.Effect<void>
}>() {}

const usd = (n: number) => `$${n.toFixed(2)}`

const label = (s: { readonly name: string | null; readonly sessionId: string; readonly branch: string | null }) =>
  `${s.name ?? s.sessionId}${s.branch !== null ? ` (${s.branch})` : ""}`

export const make = Effect.gen(function*() {
  const files = yield* SessionFiles
  const store = yield* SessionStore
  const fleet = yield* Fleet
  const notifier = yield* Notifier
  const config = yield* AppConfig
  const v = config.values
  const notifiedDir = nodePath.join(config.dataDir, "notified")

  /** True for exactly one process per key across the fleet (budget notifications are not per session). */
  const fleetOnce = (key: string) =>
    Effect.sync(() => {
      try {
        fs.mkdirSync(notifiedDir, { recursive: true, mode: 0o700 })
        fs.writeFileSync(nodePath.join(notifiedDir, encodeURIComponent(key)), "", { flag: "wx", mode: 0o600 })
        return true
      } catch {
        return false
      }
    })

  const checkBudget = (sessionId: SessionId, terminal?: (sequence: string) => void) =>
    Effect.gen(function*() {
      const periods = yield* fleet.budget()
      let blockFor: BudgetPeriodStatus | undefined
      for (const p of periods) {
        if (p.limitUsd === null) continue
        const since = p.since.getTime()
        const spentHere = p.bySession.some((s) => s.sessionId === sessionId && s.usd > 0)
        if (p.spentUsd >= p.limitUsd) {
          const key = `budget.${p.period}.${since}.limit`
          const block = v["budget.onLimit"] === "block"
          yield* files.addNotice(sessionId, {
            key,
            text: `parallel-cc: the ${p.period} budget of ${usd(p.limitUsd)} is spent (${usd(p.spentUsd)} since ` +
              `${p.since.toISOString()}). ` +
              (block && spentHere
                ? "Your tool calls are refused until it allows again; tell the user and stop."
                : "Finish the current step, tell the user, and stop.")
          }).pipe(Effect.ignore)
          if (block && spentHere) blockFor ??= p
          if (notifier.wants("budget") && (yield* fleetOnce(key))) {
            yield* notifier.notify({
              title: "parallel-cc: budget spent",
              body: `The ${p.period} budget of ${usd(p.limitUsd)} is spent (${usd(p.spentUsd)})` +
                (block ? "; sessions that spent in it are blocked" : "")
            }, terminal)
          }
        } else if (p.spentUsd >= p.limitUsd * v["budget.warnAt"]) {
          const key = `budget.${p.period}.${since}.warn`
          const pct = Math.floor((p.spentUsd / p.limitUsd) * 100)
          yield* files.addNotice(sessionId, {
            key,
            text: `parallel-cc: ${pct} % of the ${p.period} budget is spent (${usd(p.spentUsd)} of ${usd(p.limitUsd)}). ` +
              "Work economically and wrap up soon."
          }).pipe(Effect.ignore)
          if (notifier.wants("budget") && (yield* fleetOnce(key))) {
            yield* notifier.notify({
              title: "parallel-cc: budget",
              body: `${pct} % of the ${p.period} budget spent (${usd(p.spentUsd)} of ${usd(p.limitUsd)})`
            }, terminal)
          }
        }
      }
      const current = yield* files.block(sessionId)
      if (blockFor !== undefined) {
        const reason = `parallel-cc: the ${blockFor.period} budget of ${usd(blockFor.limitUsd!)} is spent ` +
          `(${usd(blockFor.spentUsd)}); tool calls are refused until it allows again. Tell the user; they can raise ` +
          `${budgetKey[blockFor.period]} (parallel-cc config set ${budgetKey[blockFor.period]} N) or wait for the next period.`
        if (Option.getOrUndefined(current) !== reason) yield* files.setBlock(sessionId, reason).pipe(Effect.ignore)
      } else if (Option.isSome(current)) {
        yield* files.setBlock(sessionId, null).pipe(Effect.ignore)
      }
    }).pipe(
      Effect.catchAllCause((c) => Effect.logWarning(`budget check of ${sessionId} failed: ${Cause.pretty(c)}`)),
      Effect.withSpan("FleetMonitor.checkBudget")
    )

  const watch = (sessionId: SessionId, options: MonitorOptions = {}) =>
    Effect.gen(function*() {
      const poll = Duration.millis(options.pollMs ?? 500)
      const usageEvery = options.usageMs ?? 2000
      const idleAfter = options.idleAfterMs ?? 5000
      let last: { state: AgentState; since: number } | undefined
      let lastUsageAt = 0
      let lastUsage = ""
      let lastBudgetAt = 0
      // Activity of an agent without hooks: what we wrote, so that a hook's write is recognised.
      let ours: AgentState | undefined
      let tracking = options.activityPid !== undefined
      let lastCounter: number | undefined
      let lastActive = Date.now()
      while (true) {
        const session = yield* store.get(sessionId).pipe(Effect.option)
        if (Option.isNone(session) || session.value.status !== "active") return
        const s = session.value
        const now = Date.now()
        if (tracking) {
          const cur = yield* files.state(sessionId)
          const word = Option.getOrUndefined(cur)?.state
          if (word !== undefined && word !== "starting" && word !== ours) tracking = false
          else {
            const counter = activity(options.activityPid!)
            if (counter !== undefined && lastCounter !== undefined && counter !== lastCounter) lastActive = now
            if (counter !== undefined) lastCounter = counter
            const next: AgentState = now - lastActive < idleAfter ? "working" : "idle"
            if (word !== next && counter !== undefined) {
              ours = next
              yield* files.setState(sessionId, next).pipe(Effect.ignore)
            }
          }
        }
        const st = Option.getOrUndefined(yield* files.state(sessionId))
        if (st !== undefined) {
          const since = st.since.getTime()
          const changed = last === undefined || last.state !== st.state || last.since !== since
          if (changed && last !== undefined && (st.state === "needs-input" || st.state === "idle") && notifier.wants(st.state)) {
            if (yield* files.claimOnce(sessionId, `state.${st.state}.${since}`)) {
              yield* notifier.notify({
                title: st.state === "needs-input" ? "parallel-cc: input needed" : "parallel-cc: turn finished",
                body: st.state === "needs-input" ? `${label(s)} needs your input` : `${label(s)} finished its turn`
              }, options.terminal)
            }
          }
          last = { state: st.state, since }
        }
        if (now - lastUsageAt >= usageEvery) {
          lastUsageAt = now
          const r = yield* fleet.usage(s).pipe(Effect.option)
          const mark = JSON.stringify(Option.getOrUndefined(r)?.usage ?? null)
          if (mark !== lastUsage || now - lastBudgetAt > 60_000) {
            lastUsage = mark
            lastBudgetAt = now
            yield* checkBudget(sessionId, options.terminal)
          }
        }
        yield* Effect.sleep(poll)
      }
    }).pipe(
      Effect.catchAllCause((c) =>
        Cause.isInterruptedOnly(c) ? Effect.interrupt : Effect.logWarning(`the fleet monitor of ${sessionId} stopped: ${Cause.pretty(c)}`)
      ),
      Effect.withSpan("FleetMonitor.watch", { attributes: { sessionId } })
    )

  return FleetMonitor.of({ watch, checkBudget })
})

/** The monitor over the session directories, the store, usage and budgets, and the notifier. */
export const layer = Layer.effect(FleetMonitor, make)
