import { assert, describe, it } from "@effect/vitest"
import type { Outcome } from "../src/sandboxes/AgentAdapters.js"
import { outcomeOf } from "../src/sandboxes/AgentSupervisor.js"

const context = { timeoutMs: 90_000, budgetUsd: 0.5, stderrTail: ["warming up", "boom: no such file"] }
const ok = { exitCode: 0 }
const outcome = (o: Partial<Outcome> & Pick<Outcome, "subtype" | "isError">): Outcome =>
  ({ numTurns: undefined, costUsd: undefined, durationMs: undefined, resultText: undefined, ...o })

describe("AgentSupervisor.outcomeOf", () => {
  it("turns what ended the agent and what it reported into the run's status and error", () => {
    assert.deepInclude(outcomeOf({ _tag: "Exited", exit: ok }, ok, undefined, context), { status: "succeeded", error: undefined })
    assert.deepInclude(outcomeOf({ _tag: "Killed" }, undefined, undefined, context), { status: "killed", error: "stopped by `sandbox kill`" })
    assert.deepInclude(outcomeOf({ _tag: "TimedOut" }, undefined, undefined, context), {
      status: "timed_out",
      error: "stopped after the hard timeout of 1.5 min"
    })
    assert.deepInclude(outcomeOf({ _tag: "OverBudget" }, undefined, undefined, context), {
      status: "budget_exceeded",
      error: "stopped: the sandbox time reached the budget of $0.5000"
    })
    const atBudget = outcome({ subtype: "error_max_budget_usd", isError: true, costUsd: 0.42 })
    assert.deepInclude(outcomeOf({ _tag: "Exited", exit: ok }, ok, atBudget, context), {
      status: "budget_exceeded",
      error: "the agent stopped at its budget ($0.4200 spent)"
    })
    const reported = outcome({ subtype: "error_during_execution", isError: true, resultText: "gave up" })
    assert.deepInclude(outcomeOf({ _tag: "Exited", exit: ok }, ok, reported, context), {
      status: "failed",
      error: "the agent reported an error (error_during_execution: gave up)"
    })
    const crashed = { exitCode: 3 }
    assert.deepInclude(outcomeOf({ _tag: "Exited", exit: crashed }, crashed, undefined, context), {
      status: "failed",
      error: "the agent exited with code 3: warming up / boom: no such file"
    })
    const signalled = { exitCode: null, signal: "SIGKILL" }
    assert.strictEqual(outcomeOf({ _tag: "Exited", exit: signalled }, signalled, undefined, { ...context, stderrTail: [] }).error, "the agent exited on signal SIGKILL")
    const long = outcomeOf({ _tag: "Exited", exit: crashed }, crashed, undefined, { ...context, stderrTail: ["x".repeat(5000)] })
    assert.strictEqual(long.error?.length, 1000)
  })
})
