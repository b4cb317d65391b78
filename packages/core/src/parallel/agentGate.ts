/**
 * The agent slots of a parallel run: at most `slots` agents at once. Tasks take a place in line when they
 * start preparing (the coordinator starts them in task-list order) and get a slot once they are ready and
 * enough slots are free for everyone ahead of them in line — a task that prepared quickly never takes the
 * slot an earlier task still preparing will need, so agents start in task-list order whenever slots are
 * short, and nobody waits while slots are to spare.
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
  /** The task is ready: a slot if enough are free for it and those ahead of it; `true` when granted at once. */
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
    // A ready ticket at position i gets a slot when more than i are free: the i tickets ahead of it keep theirs.
    const pump = () => {
      let i = 0
      while (!closed && i < line.length && i < free) {
        const t = line[i]!
        if (t.state !== "ready") {
          i++
          continue
        }
        line.splice(i, 1)
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
