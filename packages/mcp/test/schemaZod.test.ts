import { ClaimsLedger, Conflicts, Domain, MergeWatcher, SandboxRuns } from "@parallel-cc/core"
import { Schema } from "effect"
import { assert, describe, it } from "vitest"
import { z } from "zod"
import { describe as describeFields, objectOf, zodOf } from "../src/internal/schemaZod.js"

describe("zod derived from core's Schemas", () => {
  it("publishes the wire form: dates as strings, nulls, enums, bounds, patterns, optional fields", () => {
    const s = Schema.Struct({
      at: Schema.Date,
      maybe: Schema.NullOr(Schema.String),
      mode: ClaimsLedger.ClaimMode,
      n: Schema.optional(Schema.Int.pipe(Schema.between(1, 5))),
      id: Domain.SessionId,
      tags: Schema.Array(Schema.String.pipe(Schema.minLength(1))),
      env: Schema.Record({ key: Schema.String, value: Schema.String })
    })
    const json = z.toJSONSchema(zodOf(s)) as any
    assert.deepStrictEqual(json.properties.maybe.type, ["string", "null"])
    assert.deepStrictEqual(json.properties.at, { type: "string" }, "no decoding note as documentation")
    assert.isTrue(objectOf(s).shape.maybe.safeParse(null).success && !objectOf(s).shape.maybe.safeParse(undefined).success)
    assert.deepStrictEqual(json.properties.mode.enum, ["EXCLUSIVE", "SHARED", "INTENT"])
    assert.deepStrictEqual([json.properties.n.type, json.properties.n.minimum, json.properties.n.maximum], ["integer", 1, 5])
    assert.strictEqual(json.properties.id.pattern, "^[a-z0-9]{6,32}$")
    assert.deepStrictEqual(json.required, ["at", "maybe", "mode", "id", "tags", "env"])
    const ok = { at: "2026-01-01T00:00:00.000Z", maybe: null, mode: "SHARED", id: "abcdef1234", tags: ["x"], env: { A: "1" } }
    assert.isTrue(zodOf(s).safeParse(ok).success)
    for (const bad of [{ ...ok, mode: "BOGUS" }, { ...ok, n: 9 }, { ...ok, n: 1.5 }, { ...ok, id: "NOT VALID" }, { ...ok, tags: [""] }]) {
      assert.isFalse(zodOf(s).safeParse(bad).success, JSON.stringify(bad))
    }
  })

  it("every shape the tools take from core converts, and accepts core's own encoding of a value", () => {
    for (const schema of [Domain.Session, ClaimsLedger.Claim, MergeWatcher.MergeEvent, MergeWatcher.Subscription, SandboxRuns.SandboxRun]) {
      assert.instanceOf(objectOf(schema as Schema.Schema<any, any>), z.ZodObject)
    }
    for (const schema of [Conflicts.Preview, Conflicts.DetectReport, Conflicts.Suggestion, Conflicts.ApplyResult, Conflicts.RebaseReport]) {
      assert.instanceOf(objectOf(schema as Schema.Schema<any, any>), z.ZodObject)
    }
    const event = new MergeWatcher.MergeEvent({
      eventId: 1,
      repoPath: "/r",
      branch: "b",
      targetBranch: "main",
      branchHead: "a".repeat(40),
      targetHead: "b".repeat(40),
      method: "squash",
      mergeCommit: null,
      sessionId: null,
      detectedAt: new Date(0)
    })
    assert.isTrue(objectOf(MergeWatcher.MergeEvent).safeParse(Schema.encodeSync(MergeWatcher.MergeEvent)(event)).success)
  })

  it("documentation is laid over existing fields only; an unsupported shape fails at once", () => {
    const o = describeFields(objectOf(MergeWatcher.Subscription), { notifiedAt: "when" })
    assert.strictEqual(o.shape.notifiedAt.description, "when")
    assert.throws(() => describeFields(objectOf(MergeWatcher.Subscription), { nope: "x" } as any), /no field nope/)
    assert.throws(() => zodOf(Schema.Tuple(Schema.String, Schema.Number)), /schemaZod/)
  })
})
