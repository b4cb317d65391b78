/**
 * The agent slots of a parallel run (internal/agentGate): slots go in line order to ready tasks, a task
 * still preparing keeps its place, leaving frees a place or a slot exactly once, a closed gate hands out none.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber } from "effect"
import * as AgentGate from "../src/parallel/agentGate.js"

describe("AgentGate", () => {
  it.effect("hands slots out in line order to ready tasks; leaving frees exactly one", () =>
    Effect.gen(function*() {
      const gate = yield* AgentGate.make(1)
      const [a, b, c] = [yield* gate.enqueue, yield* gate.enqueue, yield* gate.enqueue]
      // c is ready first, but a and b started before it: it waits for them.
      assert.isFalse(yield* gate.arrive(c))
      assert.isTrue(yield* gate.arrive(a))
      assert.isFalse(yield* gate.arrive(b))
      assert.isFalse(yield* Deferred.isDone(b.admit))
      yield* gate.leave(a)
      yield* gate.leave(a) // twice: still one slot given back
      assert.strictEqual(b.state, "granted")
      assert.strictEqual(c.state, "ready")
      assert.deepStrictEqual(yield* gate.snapshot, { free: 0, inLine: 1 })
      yield* gate.leave(b)
      assert.strictEqual(c.state, "granted")
      yield* gate.leave(c)
      assert.deepStrictEqual(yield* gate.snapshot, { free: 1, inLine: 0 })
    }))

  it.effect("with slots to spare a ready task does not wait for an earlier one still preparing", () =>
    Effect.gen(function*() {
      const gate = yield* AgentGate.make(2)
      const [a, b, c] = [yield* gate.enqueue, yield* gate.enqueue, yield* gate.enqueue]
      // Two slots: c (third in line) must leave both to a and b; b (second) may take one, a keeps the other.
      assert.isFalse(yield* gate.arrive(c))
      assert.isTrue(yield* gate.arrive(b))
      assert.strictEqual(a.state, "queued")
      assert.isTrue(yield* gate.arrive(a))
      assert.strictEqual(c.state, "ready")
      yield* gate.leave(b)
      assert.strictEqual(c.state, "granted")
    }))

  it.effect("a task that leaves while preparing or waiting gives up its place; a closed gate admits nobody", () =>
    Effect.gen(function*() {
      const gate = yield* AgentGate.make(1)
      const [a, b, c] = [yield* gate.enqueue, yield* gate.enqueue, yield* gate.enqueue]
      assert.isFalse(yield* gate.arrive(b))
      yield* gate.leave(a) // failed while preparing: b is now first
      assert.strictEqual(b.state, "granted")
      assert.isFalse(yield* gate.arrive(c))
      const waiting = yield* Effect.fork(gate.await(c))
      yield* gate.close
      yield* gate.leave(b)
      assert.strictEqual(c.state, "ready")
      yield* Fiber.interrupt(waiting)
      yield* gate.leave(c)
      assert.deepStrictEqual(yield* gate.snapshot, { free: 1, inLine: 0 })
    }))
})
