import { assert, describe, it } from "@effect/vitest"
import { AppConfig, Database, Fleet, SandboxRuns, UsageStore } from "@parallel-cc/core"
import { TempDir, TestConfig } from "@parallel-cc/testkit"
import { Effect, Layer } from "effect"
import * as path from "node:path"
import * as SandboxBudget from "../src/sandboxes/SandboxBudget.js"

const withBudget = <A, E>(env: Record<string, string>, f: (b: SandboxBudget.SandboxBudget, runs: SandboxRuns.SandboxRuns["Type"]) => Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const dir = yield* TempDir.make()
    return yield* Effect.gen(function*() {
      const runs = yield* SandboxRuns.SandboxRuns
      const status = Fleet.makeBudget(yield* AppConfig.AppConfig, yield* UsageStore.make, yield* Database.Database)
      return yield* f(SandboxBudget.make(status), runs)
    }).pipe(Effect.provide(SandboxRuns.layer.pipe(Layer.provideMerge(TestConfig.layer(path.join(dir, "data"), env)))))
  })

const spend = (runs: SandboxRuns.SandboxRuns["Type"], id: string, usd: number) =>
  Effect.zipRight(
    runs.create({
      sessionId: id as SandboxRuns.SandboxRun["sessionId"],
      repoPath: "/r",
      provider: "local",
      agent: "claude",
      prompt: "p",
      template: null,
      managedTemplate: null,
      branchMode: "review",
      branch: null,
      keep: false,
      dryRun: false,
      supervisorPid: null,
      supervisorStart: null,
      timeoutMs: 1,
      logPath: "/l",
      eventsPath: "/e",
      budgetUsd: null
    }),
    runs.update(id, { totalCostUsd: usd })
  )

describe("SandboxBudget", () => {
  it("periods start at local midnight, on Monday, on the first of the month", () => {
    const thursday = new Date(2026, 0, 15, 13, 30)
    assert.deepStrictEqual(SandboxBudget.periodStart("daily", thursday), new Date(2026, 0, 15))
    assert.deepStrictEqual(SandboxBudget.periodStart("weekly", thursday), new Date(2026, 0, 12))
    assert.deepStrictEqual(SandboxBudget.periodStart("monthly", thursday), new Date(2026, 0, 1))
    assert.deepStrictEqual(SandboxBudget.periodStart("weekly", new Date(2026, 0, 18)), new Date(2026, 0, 12), "a Sunday belongs to the week before")
  })

  it.scopedLive("a run's limit is its own budget lowered to what the periods have left; a spent period refuses it", () =>
    withBudget({ PARALLEL_CC_BUDGET_DAILY_USD: "1", PARALLEL_CC_BUDGET_MONTHLY_USD: "5" }, (budget, runs) =>
      Effect.gen(function*() {
        assert.strictEqual(yield* budget.limitFor(undefined), 1)
        assert.strictEqual(yield* budget.limitFor(0.25), 0.25)
        assert.strictEqual((yield* budget.limitFor(0).pipe(Effect.flip))._tag, "InvalidInput")
        yield* spend(runs, "aaaaaaaaaa", 0.75)
        assert.strictEqual(yield* budget.limitFor(2), 0.25)
        const [daily, weekly, monthly] = yield* budget.status()
        assert.deepInclude(daily, { period: "daily", limitUsd: 1, spentUsd: 0.75, remainingUsd: 0.25, runs: 1 })
        assert.deepInclude(weekly, { period: "weekly", limitUsd: null, remainingUsd: null })
        assert.deepInclude(monthly, { period: "monthly", limitUsd: 5, remainingUsd: 4.25 })
        yield* spend(runs, "bbbbbbbbbb", 0.25)
        const spent = yield* budget.limitFor(undefined).pipe(Effect.flip)
        assert.strictEqual(spent._tag, "SandboxRunError")
        assert.include(spent.message, "raise budget.dailyUsd")
      })))
})
