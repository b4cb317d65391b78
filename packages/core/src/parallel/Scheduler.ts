/**
 * The coordinator of a parallel run: it starts ready tasks (all dependencies succeeded) in task-list order
 * while the limits allow — remote sandboxes at most K under way; the local provider at most K before their
 * agent slot and 2K under way, so the next K prepare while K agents run (`agentGate`) — retries transient
 * provider failures with backoff, skips what a failed dependency blocks, and on fail-fast or interruption
 * stops everything (running tasks interrupted, their sandboxes killed by `Sandboxes.run`'s scopes;
 * pending ones cancelled). The summary is rewritten after every task and at the end.
 *
 * @since 0.1.0
 */
import { Cause, Clock, Effect, Either, Fiber, Queue } from "effect"
import * as path from "node:path"
import type { RunEvent, RunRequest } from "../sandboxes/RunModel.js"
import type { Sandboxes } from "../sandboxes/Sandboxes.js"
import { isTransient } from "../sandboxes/SandboxProvider.js"
import * as AgentGate from "./agentGate.js"
import { durationOf, type Emit, type Plan, type TaskPhase, type TaskState } from "./ParallelModel.js"
import * as Results from "./ParallelResults.js"
import type { ParallelRunStore } from "./ParallelRunStore.js"
import * as Summary from "./ParallelSummary.js"

/** What the scheduler needs beyond the plan: the runs, the store and the results. */
export interface SchedulerDeps {
  readonly sandboxes: Sandboxes["Type"]
  readonly store: ParallelRunStore
  readonly save: (plan: Plan, s: TaskState) => Effect.Effect<Summary.TaskResultJson>
  readonly requestFor: (plan: Plan, spec: TaskState["spec"], agentSlot?: RunRequest["agentSlot"]) => RunRequest
  /** The tasks' overlaps, for the final summary of a run that was not interrupted (`ParallelRunner`). */
  readonly overlapsOf?: (plan: Plan, tasks: ReadonlyArray<Summary.TaskResultJson>) => Effect.Effect<Summary.RunOverlapsJson | null>
}

/** "admitted": a task holds an agent slot; "ended": its sandbox part is over; "saved": its directory is written. */
type Completion = { readonly id: string; readonly kind: "admitted" | "ended" | "saved" }

/** One run of the scheduler. */
interface Ctx extends SchedulerDeps {
  readonly plan: Plan
  readonly states: ReadonlyArray<TaskState>
  readonly byId: Map<string, TaskState>
  readonly emit: Emit
  readonly completions: Queue.Queue<Completion>
  readonly gate: AgentGate.AgentGate | undefined
  readonly running: Map<string, Fiber.RuntimeFiber<void>>
  /** With fail-fast, an agent that failed closes the gate: no further agent starts only to be interrupted. */
  gateClosed: boolean
}

export const phaseOf = (e: RunEvent): TaskPhase | undefined => {
  switch (e._tag) {
    case "Started":
      return "starting"
    case "SandboxReady":
      return "uploading"
    case "AgentStarted":
      return "agent"
    case "AgentExited":
      return "collecting"
    case "ChangesApplied":
      return "publishing"
    case "Finished":
      return "saving"
    default:
      return undefined
  }
}

/** TaskFinished, from the saved result or (before saving) from the run's own result. */
const finished = (ctx: Ctx, s: TaskState) =>
  Effect.zipRight(
    Effect.zipRight(Effect.sync(() => (s.announced = true)), ctx.store.recordTask(ctx.plan.runId, s)),
    ctx.emit({
      _tag: "TaskFinished",
      taskId: s.spec.id,
      status: s.status,
      durationMs: s.saved?.durationMs ?? durationOf(s),
      waitedMs: s.waitedMs,
      costUsd: s.saved?.costUsd ?? s.result?.run.costUsd ?? null,
      filesChanged: s.saved !== null
        ? Summary.filesChanged(s.saved)
        : s.result !== null
        ? s.result.changes.added.length + s.result.changes.modified.length + s.result.changes.deleted.length
        : 0,
      reason: s.reason,
      error: s.error,
      resultDir: path.join(ctx.plan.outputDir, s.spec.id),
      pullRequest: s.saved?.pullRequestUrl ?? s.result?.pullRequestUrl ?? null
    })
  )

/** The run's events for one task, as the task's phases, output and warnings. */
const onRunEvent = (ctx: Ctx, s: TaskState) => (e: RunEvent): Effect.Effect<void> =>
  Effect.gen(function*() {
    if (e._tag === "Started") {
      s.sessionId = e.sessionId
      yield* ctx.store.recordTask(ctx.plan.runId, s)
    }
    if (e._tag === "AgentOutput") return yield* ctx.emit({ _tag: "TaskOutput", taskId: s.spec.id, line: e.line })
    if (e._tag === "AgentExited" && e.status !== "succeeded" && ctx.plan.failFast && ctx.gate !== undefined) {
      ctx.gateClosed = true
      yield* ctx.gate.close
    }
    if (e._tag === "Warning") return yield* ctx.emit({ _tag: "Warning", taskId: s.spec.id, message: e.message })
    const phase = phaseOf(e)
    if (phase !== undefined && !(phase === "publishing" && ctx.plan.gitLive === undefined)) {
      yield* ctx.emit({ _tag: "TaskPhase", taskId: s.spec.id, phase, sessionId: s.sessionId })
    }
  })

/**
 * The agent phase of an attempt, in one of the K agent slots (`ticket`: its place in line). A task that
 * cannot have one at once says it is ready and waits; the wait is not part of its duration.
 */
const slotFor = (ctx: Ctx, s: TaskState, ticket: AgentGate.Ticket | undefined): RunRequest["agentSlot"] => {
  const gate = ctx.gate
  if (gate === undefined || ticket === undefined) return undefined
  return <A, E, R>(phase: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.flatMap(Clock.currentTimeMillis, (from) =>
      Effect.gen(function*() {
        if (!(yield* gate.arrive(ticket))) {
          s.stage = "waiting"
          yield* ctx.emit({ _tag: "TaskPhase", taskId: s.spec.id, phase: "ready", sessionId: s.sessionId })
          yield* gate.await(ticket)
        }
        s.waitedMs += (yield* Clock.currentTimeMillis) - from
        s.stage = "agent"
        yield* Queue.offer(ctx.completions, { id: s.spec.id, kind: "admitted" })
        return yield* phase
      }).pipe(
        Effect.onExit(() =>
          Effect.gen(function*() {
            // Interrupted while still waiting: the wait lasted until now (and no agent started).
            if (s.stage === "waiting") s.waitedMs += (yield* Clock.currentTimeMillis) - from
            else if (s.stage === "agent") s.stage = "after"
            yield* gate.leave(ticket)
          })
        )
      ))
}

/** One task: its attempts, then (with its slot already free for the next task) its result directory. */
const runTask = (ctx: Ctx, s: TaskState) =>
  Effect.gen(function*() {
    const { gate, plan } = ctx
    for (let attempt = 1;; attempt++) {
      s.attempts = attempt
      s.stage = "preparing"
      yield* ctx.emit({ _tag: "TaskStarted", taskId: s.spec.id, attempt })
      // Its place in line for an agent slot is taken now, in start order (see `AgentGate`).
      const ticket = gate !== undefined ? yield* gate.enqueue : undefined
      const r = yield* ctx.sandboxes.run(ctx.requestFor(plan, s.spec, slotFor(ctx, s, ticket)), onRunEvent(ctx, s)).pipe(
        Effect.ensuring(gate !== undefined && ticket !== undefined ? gate.leave(ticket) : Effect.void),
        Effect.either
      )
      if (Either.isRight(r)) {
        s.result = r.right
        s.status = r.right.run.status === "succeeded" ? "succeeded" : "failed"
        s.error = s.status === "succeeded" ? null : (r.right.run.error ?? `the run ended ${r.right.run.status}`)
        break
      }
      const e = r.left
      const transient = e._tag === "SandboxError" && isTransient(e)
      if (transient && attempt <= plan.retries) {
        const delayMs = Math.min(60_000, plan.retryDelayMs * 2 ** (attempt - 1))
        s.earlierAttempts.push({ sessionId: s.sessionId, status: "failed", error: e.message, worktreePath: null })
        yield* ctx.emit({ _tag: "TaskRetrying", taskId: s.spec.id, attempt, delayMs, error: e.message })
        yield* ctx.emit({ _tag: "TaskPhase", taskId: s.spec.id, phase: "retrying", sessionId: s.sessionId })
        yield* Effect.sleep(delayMs)
        continue
      }
      s.status = "failed"
      s.error = transient && plan.retries > 0 ? `${e.message} (still failing after ${attempt} attempts)` : e.message
      break
    }
    s.endedAt = yield* Clock.currentTimeMillis
    yield* finished(ctx, s)
    yield* Queue.offer(ctx.completions, { id: s.spec.id, kind: "ended" })
    s.saved = yield* ctx.save(plan, s)
  })

/** Start a task's fiber; never fails (an internal error fails the task), interruption is left to the caller. */
const start = (ctx: Ctx, s: TaskState) =>
  Effect.gen(function*() {
    s.status = "running"
    s.stage = "preparing"
    s.startedAt = yield* Clock.currentTimeMillis
    const fiber = yield* Effect.fork(
      runTask(ctx, s).pipe(
        Effect.catchAllCause((cause) =>
          Cause.isInterruptedOnly(cause)
            ? Effect.failCause(cause)
            : Effect.gen(function*() {
              const ended = Summary.isFinal(s.status)
              if (!ended) {
                s.status = "failed"
                s.error = `internal error: ${Cause.pretty(cause).split("\n")[0]}`
                s.endedAt = yield* Clock.currentTimeMillis
              }
              s.saved = yield* ctx.save(ctx.plan, s)
              if (!s.announced) yield* finished(ctx, s)
              if (!ended) yield* Queue.offer(ctx.completions, { id: s.spec.id, kind: "ended" })
            })
        ),
        Effect.zipRight(Queue.offer(ctx.completions, { id: s.spec.id, kind: "saved" })),
        Effect.asVoid
      )
    )
    ctx.running.set(s.spec.id, fiber)
  })

/** Tasks whose dependency did not (and now cannot) succeed. */
const skipBlocked = (ctx: Ctx) =>
  Effect.gen(function*() {
    let changed = true
    while (changed) {
      changed = false
      for (const s of ctx.states) {
        if (s.status !== "pending") continue
        const blocker = s.spec.dependsOn.map((d) => ctx.byId.get(d)!).find((d) => Summary.isFinal(d.status) && d.status !== "succeeded")
        if (blocker === undefined) continue
        s.status = "skipped"
        s.reason = `depends on ${blocker.spec.id}, which ${blocker.status === "failed" ? "failed" : `was ${blocker.status}`}`
        s.saved = Results.placeholder(s)
        changed = true
        yield* finished(ctx, s)
      }
    }
  })

/** Stop everything: interrupt the running tasks (their scopes clean up), cancel the pending ones. */
const stopAll = (ctx: Ctx, why: "fail-fast" | "interrupt", cause: string) =>
  Effect.gen(function*() {
    const fibers = [...ctx.running.entries()]
    ctx.running.clear()
    // No agent starts from here on (a slot freed by an interrupted agent must not go to a waiting task).
    if (ctx.gate !== undefined) yield* ctx.gate.close
    // Tasks still in their sandbox are interrupted (those waiting for an agent slot too: their sandbox is
    // removed and their session released like any other); those only writing their results finish that.
    const inSandbox = fibers.filter(([id]) => ctx.byId.get(id)!.status === "running")
    yield* Fiber.interruptAll(inSandbox.map(([, f]) => f))
    yield* Effect.forEach(fibers, ([, f]) => Fiber.await(f), { discard: true })
    const notStarted = why === "fail-fast" ? `not started: ${cause} failed (--fail-fast)` : "not started: the run was interrupted"
    for (const [id] of inSandbox) {
      const s = ctx.byId.get(id)!
      if (s.status === "running" && ctx.plan.prepareAhead && (s.stage === "preparing" || s.stage === "waiting")) {
        // Preparing or prepared, but its agent never started: nothing was done, like a pending task.
        s.status = "cancelled"
        s.reason = notStarted
      } else if (s.status === "running") {
        s.status = "interrupted"
        s.reason = why === "fail-fast" ? `stopped because ${cause} failed (--fail-fast); partial results kept` : "interrupted; partial results kept"
      }
      s.endedAt = s.endedAt ?? (yield* Clock.currentTimeMillis)
      if (s.saved === null) s.saved = yield* ctx.save(ctx.plan, s)
      if (!s.announced) yield* finished(ctx, s)
    }
    for (const s of ctx.states) {
      if (s.status !== "pending") continue
      s.status = "cancelled"
      s.reason = notStarted
      s.saved = Results.placeholder(s)
      yield* finished(ctx, s)
    }
  })

/**
 * Whether one more task may start. Remote sandboxes: at most K under way. Local: at most K before their
 * agent slot (preparing or waiting) and 2K under way, so the next K prepare while K agents run.
 */
const mayStart = (ctx: Ctx) => {
  const busy = [...ctx.running.keys()].map((id) => ctx.byId.get(id)!).filter((s) => s.status === "running")
  if (!ctx.plan.prepareAhead) return busy.length < ctx.plan.maxConcurrent
  if (ctx.gateClosed) return false
  const before = busy.filter((s) => s.stage === "preparing" || s.stage === "waiting").length
  return busy.length < 2 * ctx.plan.maxConcurrent && before < ctx.plan.maxConcurrent
}

/** Start what may start, wait for the next completion, until nothing runs (or fail-fast stops it all). */
const loop = (ctx: Ctx, snapshot: (status: Summary.RunStatus, ended: boolean) => Effect.Effect<Summary.RunSummaryJson>) =>
  Effect.gen(function*() {
    while (true) {
      yield* skipBlocked(ctx)
      for (const s of ctx.states) {
        if (!mayStart(ctx)) break
        if (s.status === "pending" && s.spec.dependsOn.every((d) => ctx.byId.get(d)!.status === "succeeded")) yield* start(ctx, s)
      }
      if (ctx.running.size === 0) return
      const { id, kind } = yield* Queue.take(ctx.completions)
      if (kind === "saved") {
        ctx.running.delete(id)
        yield* snapshot("running", false)
        continue
      }
      if (kind === "ended" && ctx.byId.get(id)!.status === "failed" && ctx.plan.failFast) {
        yield* stopAll(ctx, "fail-fast", `task ${id}`)
        return
      }
    }
  })

/** Run the tasks of `plan` to the end (or to an interruption); the final summary, also written to disk. */
export const execute = (deps: SchedulerDeps, plan: Plan, states: ReadonlyArray<TaskState>, emitRaw: Emit) =>
  Effect.gen(function*() {
    const emit: Emit = (e) => emitRaw(e).pipe(Effect.catchAllCause(() => Effect.void))
    const startedAt = yield* Clock.currentTimeMillis
    const ctx: Ctx = {
      ...deps,
      plan,
      states,
      byId: new Map(states.map((s) => [s.spec.id, s])),
      emit,
      completions: yield* Queue.unbounded<Completion>(),
      // The agent slots: at most K agents at once, while up to K further tasks prepare (local provider).
      gate: plan.prepareAhead ? yield* AgentGate.make(plan.maxConcurrent) : undefined,
      running: new Map(),
      gateClosed: false
    }
    let interrupted = false
    const snapshot = (status: Summary.RunStatus, ended: boolean) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const summary = Results.summarize(plan, states, status, startedAt, now, ended)
        return Effect.as(Results.writeSummary(plan, summary), summary)
      })
    yield* loop(ctx, snapshot).pipe(
      Effect.onInterrupt(() =>
        Effect.gen(function*() {
          interrupted = true
          yield* stopAll(ctx, "interrupt", "")
          yield* deps.store.recordEnd(plan.runId, "interrupted", yield* Clock.currentTimeMillis)
          yield* snapshot("interrupted", true)
        })
      )
    )
    const status: Summary.RunStatus = interrupted ? "interrupted" : states.every((s) => s.status === "succeeded") ? "succeeded" : "failed"
    let summary = yield* snapshot(status, true)
    if (!interrupted && deps.overlapsOf !== undefined) {
      const overlaps = yield* deps.overlapsOf(plan, summary.tasks)
      if (overlaps !== null) {
        summary = { ...summary, overlaps }
        yield* Results.writeSummary(plan, summary)
      }
    }
    yield* deps.store.recordEnd(plan.runId, status, yield* Clock.currentTimeMillis)
    yield* emit({ _tag: "RunFinished", summary })
    return summary
  })
