/**
 * The agent slots of a parallel run: at most `slots` agents at once. Tasks take a place in line when they
 * start preparing (the coordinator starts them in task-list order) and get a slot, in that order, once
 * they are ready — a task that prepared quickly does not overtake one that started before it, so agents
 * start in the order of the task list, as without the gate.
 *
 * All state changes are synchronous (one JavaScript thread), so a slot is never lost or handed out twice:
 * `leave` is the one way out of the line or of a slot, and it is idempotent.
 */
import { Deferred, Effect, Exit } from "effect"

export interface Ticket {
  /** `queued`: preparing; `ready`: waiting for a slot; `granted`: holds one; `done`: gave it back (or left). */
  state: "queued" | "ready" | "granted" | "done"
  readonly admit: Deferred.Deferred<void>
}

export interface AgentGate {
  /** A place at the end of the line (when a task's attempt starts preparing). */
  readonly enqueue: Effect.Effect<Ticket>
  /** The task is ready: a slot if one is free and nobody earlier is still in line; `true` when granted at once. */
  readonly arrive: (ticket: Ticket) => Effect.Effect<boolean>
  /** Wait for the slot after `arrive` (interruptible). */
  readonly await: (ticket: Ticket) => Effect.Effect<void>
  /** Leave the line, or give the slot back. Safe to call more than once and in any state. */
  readonly leave: (ticket: Ticket) => Effect.Effect<void>
  /** Hand out no more slots (a fail-fast run is about to stop). */
  readonly close: Effect.Effect<void>
  /** Slots free and places in line, for tests and diagnostics. */
  readonly snapshot: Effect.Effect<{ readonly free: number; readonly inLine: number }>
}

export const make = (slots: number): Effect.Effect<AgentGate> =>
  Effect.sync(() => {
    let free = slots
    let closed = false
    const line: Array<Ticket> = []
    const pump = () => {
      while (!closed && free > 0 && line[0]?.state === "ready") {
        const t = line.shift()!
        free--
        t.state = "granted"
        Deferred.unsafeDone(t.admit, Exit.void)
      }
    }
    return {
      enqueue: Effect.map(Deferred.make<void>(), (admit) => {
        const t: Ticket = { state: "queued", admit }
        line.push(t)
        return t
      }),
      arrive: (t) =>
        Effect.sync(() => {
          if (t.state === "queued") t.state = "ready"
          pump()
          return t.state === "granted"
        }),
      await: (t) => Deferred.await(t.admit),
      leave: (t) =>
        Effect.sync(() => {
          if (t.state === "queued" || t.state === "ready") {
            const i = line.indexOf(t)
            if (i >= 0) line.splice(i, 1)
          } else if (t.state === "granted") free++
          t.state = "done"
          pump()
        }),
      close: Effect.sync(() => void (closed = true)),
      snapshot: Effect.sync(() => ({ free, inLine: line.length }))
    }
  })
