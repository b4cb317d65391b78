/**
 * The agent's lifetime in its sandbox: start it, decode its output line by line into the run log and
 * events, warn at the configured minutes, and end it on whichever comes first — its own exit, a stop asked
 * by `sandbox kill` (seen in the store, from any process), the hard timeout, or the budget's share of
 * sandbox time. The outcome says how the run ended ({@link outcomeOf}).
 *
 * @since 0.1.0
 */
import { Clock, Duration, Effect, Either, Fiber, Option, Ref, Stream } from "effect"
import * as path from "node:path"
import * as Agents from "./AgentAdapters.js"
import type { DbFailure } from "../platform/Database.js"
import type * as Redact from "../platform/redact.js"
import type { RunDeps } from "./RunDeps.js"
import { duration, type RunEvent } from "./RunModel.js"
import type { ProcessExit, Sandbox, SandboxError } from "./SandboxProvider.js"
import type { RunStatus, SandboxRunNotFound } from "./SandboxRuns.js"

/** Where the supervisor reports to. */
export interface Hooks {
  readonly log: (text: string) => Effect.Effect<void>
  readonly emit: (e: RunEvent) => Effect.Effect<void>
  readonly warn: (message: string) => Effect.Effect<void>
  readonly redact: Redact.Redactor
  /** Appends one decoded agent event (a JSON line) to the run's events file. */
  readonly event: (line: string) => Effect.Effect<void>
}

/** How the agent ended, and what the run's status becomes. */
export interface Supervised {
  readonly status: RunStatus
  readonly exit: ProcessExit | undefined
  readonly result: Agents.Outcome | undefined
  readonly error: string | undefined
}

/** What ended the agent. */
export type Ended =
  | { readonly _tag: "Exited"; readonly exit: ProcessExit }
  | { readonly _tag: "Killed" }
  | { readonly _tag: "TimedOut" }
  | { readonly _tag: "OverBudget" }

export interface AgentCommand {
  readonly argv: readonly [string, ...Array<string>]
  readonly env: Record<string, string>
  readonly stdin: string
  readonly kind: Agents.AgentKind
  readonly timeoutMs: number
  /** The sandbox time the budget pays for (`ms`), and the budget itself, for the message. */
  readonly budget: { readonly ms: number; readonly usd: number } | undefined
}

/** Run `effect` every `interval` until `done` holds for its value; returns that value. */
export const pollUntil = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  done: (a: A) => boolean,
  interval: Duration.DurationInput
): Effect.Effect<A, E, R> =>
  Effect.flatMap(effect, (a) => (done(a) ? Effect.succeed(a) : Effect.zipRight(Effect.sleep(interval), pollUntil(effect, done, interval))))

/**
 * The run's status from what ended the agent and what it reported: a stop, the timeout and the budget
 * say so; an agent that stopped at its own budget is `budget_exceeded`; exit 0 without a reported error
 * is success; anything else fails, with the last lines of stderr.
 */
export const outcomeOf = (
  ended: Ended,
  exit: ProcessExit | undefined,
  result: Agents.Outcome | undefined,
  context: { readonly timeoutMs: number; readonly budgetUsd: number | undefined; readonly stderrTail: ReadonlyArray<string> }
): Supervised => {
  if (ended._tag === "Killed") return { status: "killed", exit, result, error: "stopped by `sandbox kill`" }
  if (ended._tag === "TimedOut") {
    return { status: "timed_out", exit, result, error: `stopped after the hard timeout of ${duration(context.timeoutMs)}` }
  }
  if (ended._tag === "OverBudget") {
    return { status: "budget_exceeded", exit, result, error: `stopped: the sandbox time reached the budget of $${context.budgetUsd?.toFixed(4)}` }
  }
  if (result?.subtype === "error_max_budget_usd") {
    return {
      status: "budget_exceeded",
      exit,
      result,
      error: `the agent stopped at its budget${result.costUsd !== undefined ? ` ($${result.costUsd.toFixed(4)} spent)` : ""}`
    }
  }
  const code = exit?.exitCode ?? null
  if (code === 0 && result?.isError !== true) return { status: "succeeded", exit, result, error: undefined }
  const tail = context.stderrTail
  const why = result?.isError === true
    ? `the agent reported an error (${result.subtype}${result.resultText !== undefined ? `: ${result.resultText}` : ""})`
    : `the agent exited ${code !== null ? `with code ${code}` : `on signal ${exit?.signal ?? "?"}`}${tail.length > 0 ? `: ${tail.slice(-3).join(" / ")}` : ""}`
  return { status: "failed", exit, result, error: why.length > 1000 ? `${why.slice(0, 999)}…` : why }
}

/** Start the agent in `sandbox` and supervise it to its end (see the module doc). */
export const supervise = (
  deps: Pick<RunDeps, "config" | "runs">,
  id: string,
  sandbox: Sandbox,
  command: AgentCommand,
  hooks: Hooks
): Effect.Effect<Supervised, SandboxError | DbFailure | SandboxRunNotFound> =>
  Effect.scoped(Effect.gen(function*() {
    const { argv, timeoutMs } = command
    const proc = yield* sandbox.start({ argv, env: command.env, stdin: command.stdin })
    const startedAt = yield* Clock.currentTimeMillis
    yield* deps.runs.update(id, { status: "running", startedAt: new Date(startedAt), agentPid: proc.pid })
    yield* hooks.log(`agent started: ${path.basename(argv[0])} ${argv.slice(1).join(" ")}`.trim())
    yield* hooks.emit({ _tag: "AgentStarted", command: path.basename(argv[0]) })

    const decode = Agents.decoder(command.kind)
    const outcome = yield* Ref.make<Agents.Outcome | undefined>(undefined)
    const stderrTail: Array<string> = []
    const onLine = (raw: string) =>
      Effect.gen(function*() {
        const line = hooks.redact(raw)
        const d = decode.line(line)
        if (d.event) yield* hooks.event(line)
        if (d.outcome !== undefined) yield* Ref.set(outcome, d.outcome)
        for (const l of d.lines) {
          yield* hooks.log(`agent: ${l}`)
          yield* hooks.emit({ _tag: "AgentOutput", line: l })
        }
      })
    const onStderr = (raw: string) =>
      Effect.gen(function*() {
        const line = hooks.redact(raw)
        if (line.trim() === "") return
        stderrTail.push(line)
        if (stderrTail.length > 20) stderrTail.shift()
        yield* hooks.log(`stderr: ${line}`)
      })
    const out = yield* Effect.forkScoped(proc.stdout.pipe(Stream.runForEach(onLine), Effect.either))
    const err = yield* Effect.forkScoped(proc.stderr.pipe(Stream.runForEach(onStderr), Effect.either))

    for (const minutes of deps.config.values["sandbox.warnAtMinutes"]) {
      const at = minutes * 60_000
      if (at >= timeoutMs) continue
      yield* Effect.forkScoped(Effect.zipRight(
        Effect.sleep(Duration.millis(at)),
        hooks.warn(`the sandbox has been running for ${duration(at)} (hard limit ${duration(timeoutMs)})`)
      ))
    }

    const exited = proc.exit.pipe(
      Effect.tap(() => Effect.all([Fiber.join(out), Fiber.join(err)]).pipe(Effect.timeout("10 seconds"), Effect.ignore)),
      Effect.map((exit): Ended => ({ _tag: "Exited", exit }))
    )
    const killWatch = pollUntil(deps.runs.get(id), (r) => r.killRequestedAt !== null, "1 second").pipe(Effect.map((): Ended => ({ _tag: "Killed" })))
    const timedOut = Effect.sleep(Duration.millis(timeoutMs)).pipe(Effect.map((): Ended => ({ _tag: "TimedOut" })))
    const overBudget = command.budget !== undefined
      ? Effect.sleep(Duration.millis(command.budget.ms)).pipe(Effect.map((): Ended => ({ _tag: "OverBudget" })))
      : Effect.never
    // raceAll takes the first success; a failure (the sandbox died, the store broke) must end the race too.
    const settle = (e: Effect.Effect<Ended, SandboxError | DbFailure | SandboxRunNotFound>) => Effect.either(e)
    const raced = yield* Effect.raceAll([settle(exited), settle(killWatch), settle(timedOut), settle(overBudget)])
    if (Either.isLeft(raced)) return yield* Effect.fail(raced.left)
    const ended = raced.right
    let exit: ProcessExit | undefined
    if (ended._tag === "Exited") exit = ended.exit
    else {
      yield* hooks.log(
        ended._tag === "Killed"
          ? "stop requested by `sandbox kill`; stopping the agent"
          : ended._tag === "OverBudget"
          ? `the sandbox time reached the budget of $${command.budget?.usd.toFixed(4)}; stopping the agent`
          : `hard timeout after ${duration(timeoutMs)}; stopping the agent`
      )
      yield* proc.kill
      exit = yield* proc.exit.pipe(Effect.timeout("10 seconds"), Effect.option, Effect.map(Option.getOrUndefined), Effect.orElseSucceed(() => undefined))
      yield* Effect.all([Fiber.join(out), Fiber.join(err)]).pipe(Effect.timeout("5 seconds"), Effect.ignore)
    }
    const end = decode.end(exit?.exitCode ?? null)
    for (const l of end.lines) {
      yield* hooks.log(`agent: ${l}`)
      yield* hooks.emit({ _tag: "AgentOutput", line: l })
    }
    const result = (yield* Ref.get(outcome)) ?? end.outcome
    if (ended._tag === "Exited") {
      const code = exit?.exitCode ?? null
      if (result?.subtype !== "error_max_budget_usd") {
        yield* hooks.log(`agent exited ${code !== null ? `with code ${code}` : `on signal ${exit?.signal ?? "?"}`}`)
      }
    }
    return outcomeOf(ended, exit, result, { timeoutMs, budgetUsd: command.budget?.usd, stderrTail })
  }))
