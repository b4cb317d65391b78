/**
 * Budgets of sandboxed runs: what was spent in the current day, week and month (from the runs' recorded
 * costs), against the configured limits (`budget.dailyUsd`, `budget.weeklyUsd`, `budget.monthlyUsd`), and
 * the most a new run may spend — its own `--budget`, lowered to what each period has left; refused when a
 * period is spent.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { DbFailure } from "../platform/Database.js"
import { InvalidInput } from "../Errors.js"
import { budgetKey as keyOf, type BudgetPeriod, type BudgetPeriodStatus } from "../fleet/Fleet.js"
import { SandboxRunError } from "./RunModel.js"

export { type BudgetPeriod, type BudgetPeriodStatus, periodStart } from "../fleet/Fleet.js"

export interface SandboxBudget {
  /** Spending against the daily, weekly and monthly budgets (or one of them). */
  readonly status: (period?: BudgetPeriod | undefined) => Effect.Effect<ReadonlyArray<BudgetPeriodStatus>, DbFailure>
  /**
   * The most a new run may spend: `requested` (undefined: no limit of its own) lowered to what each period
   * budget has left. Fails when a period budget is spent, or `requested` is not above zero.
   */
  readonly limitFor: (requested: number | undefined) => Effect.Effect<number | undefined, InvalidInput | SandboxRunError | DbFailure>
}

/** `status`: the fleet's spending per period (sandboxed runs and interactive sessions, `Fleet.makeBudget`). */
export const make = (
  status: (period?: BudgetPeriod | undefined) => Effect.Effect<ReadonlyArray<BudgetPeriodStatus>, DbFailure>
): SandboxBudget => {

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
