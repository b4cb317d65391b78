/**
 * Budgets of sandboxed runs: what was spent in the current day, week and month (from the runs' recorded
 * costs), against the configured limits (`budget.dailyUsd`, `budget.weeklyUsd`, `budget.monthlyUsd`), and
 * the most a new run may spend — its own `--budget`, lowered to what each period has left; refused when a
 * period is spent.
 *
 * @since 0.1.0
 */
import { Clock, Effect } from "effect"
import type { AppConfig } from "../platform/AppConfig.js"
import type { DbFailure } from "../platform/Database.js"
import { InvalidInput } from "../Errors.js"
import { SandboxRunError } from "./RunModel.js"
import type { SandboxRuns } from "./SandboxRuns.js"

export type BudgetPeriod = "daily" | "weekly" | "monthly"

/** Spending of one budget period. */
export interface BudgetPeriodStatus {
  readonly period: BudgetPeriod
  readonly since: Date
  /** The configured limit; null when the period has none. */
  readonly limitUsd: number | null
  readonly spentUsd: number
  readonly remainingUsd: number | null
  readonly runs: number
}

/** When the current period started (local time; weeks start on Monday). */
export const periodStart = (period: BudgetPeriod, now: Date): Date => {
  const d = new Date(now.getFullYear(), now.getMonth(), now.getDate())
  if (period === "weekly") d.setDate(d.getDate() - ((d.getDay() + 6) % 7))
  if (period === "monthly") d.setDate(1)
  return d
}

const keyOf: Record<BudgetPeriod, "budget.dailyUsd" | "budget.weeklyUsd" | "budget.monthlyUsd"> = {
  daily: "budget.dailyUsd",
  weekly: "budget.weeklyUsd",
  monthly: "budget.monthlyUsd"
}

export interface SandboxBudget {
  /** Spending against the daily, weekly and monthly budgets (or one of them). */
  readonly status: (period?: BudgetPeriod | undefined) => Effect.Effect<ReadonlyArray<BudgetPeriodStatus>, DbFailure>
  /**
   * The most a new run may spend: `requested` (undefined: no limit of its own) lowered to what each period
   * budget has left. Fails when a period budget is spent, or `requested` is not above zero.
   */
  readonly limitFor: (requested: number | undefined) => Effect.Effect<number | undefined, InvalidInput | SandboxRunError | DbFailure>
}

export const make = (config: AppConfig["Type"], runs: SandboxRuns["Type"]): SandboxBudget => {
  const limitOf = (p: BudgetPeriod) => config.values[keyOf[p]]

  const status = (period?: BudgetPeriod | undefined) =>
    Effect.gen(function*() {
      const now = new Date(yield* Clock.currentTimeMillis)
      const periods: ReadonlyArray<BudgetPeriod> = period !== undefined ? [period] : ["daily", "weekly", "monthly"]
      return yield* Effect.forEach(periods, (p) =>
        Effect.map(runs.spentSince(periodStart(p, now).getTime()), (spent): BudgetPeriodStatus => ({
          period: p,
          since: periodStart(p, now),
          limitUsd: limitOf(p) > 0 ? limitOf(p) : null,
          spentUsd: spent.usd,
          remainingUsd: limitOf(p) > 0 ? Math.max(0, limitOf(p) - spent.usd) : null,
          runs: spent.runs
        })))
    })

  const limitFor = (requested: number | undefined) =>
    Effect.gen(function*() {
      if (requested !== undefined && !(requested > 0)) {
        return yield* new InvalidInput({ field: "--budget", detail: "must be an amount above 0 (US dollars)" })
      }
      let limit = requested
      for (const s of yield* status()) {
        if (s.remainingUsd === null) continue
        if (s.remainingUsd <= 0) {
          return yield* new SandboxRunError({
            reason: "BudgetExhausted",
            detail: `the ${s.period} budget of $${s.limitUsd!.toFixed(2)} is spent ($${s.spentUsd.toFixed(4)} since ${s.since.toISOString()}); ` +
              `raise ${keyOf[s.period]} or wait for the next period`
          })
        }
        limit = limit === undefined ? s.remainingUsd : Math.min(limit, s.remainingUsd)
      }
      return limit
    })

  return { status, limitFor }
}
