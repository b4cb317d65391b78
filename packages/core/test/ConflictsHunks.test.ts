import { describe, it, assert } from "@effect/vitest"
import * as ts from "typescript"
import { fitted } from "../src/coordination/conflicts/calibration.js"
import { hunkCandidates, regionsOf } from "../src/coordination/conflicts/hunks.js"
import { resolveText } from "../src/coordination/conflicts/resolve.js"

describe("calibrated file confidence", () => {
  it("a file git conflicts on but the line merge does not gets the share fitted on the tuning part, not certainty", () => {
    // Both sides made the same change: the engine's line merge has no conflicting region.
    const text = `export const a = 2\n`
    const r = resolveText(ts, { path: "a.ts", base: `export const a = 1\n`, ours: text, theirs: text, oursLabel: "ours", theirsLabel: "theirs" })
    assert.strictEqual(r.hunks.length, 0)
    assert.strictEqual(r.suggestions[0]!.confidence, Math.round(fitted.noRegions * 100) / 100)
    assert.isBelow(r.suggestions[0]!.confidence, 1)
    assert.isFalse(r.suggestions[0]!.autoApply)
  })
})

describe("list union of entries", () => {
  const region = (base: string, ours: string, theirs: string) => {
    const { regions } = regionsOf(base, ours, theirs)
    assert.strictEqual(regions.length, 1)
    return regions[0]!
  }
  const listUnionOf = (r: ReturnType<typeof region>) => hunkCandidates(r).find((c) => c.strategies.includes("list-union"))

  it("keeps entries both sides added under different keys", () => {
    const r = region(`{\n  "a": "1",\n  "z": "9"\n}\n`, `{\n  "a": "1",\n  "b": "2",\n  "z": "9"\n}\n`, `{\n  "a": "1",\n  "c": "3",\n  "z": "9"\n}\n`)
    const u = listUnionOf(r)
    assert.isDefined(u)
    assert.strictEqual(u!.lines.join(""), `  "b": "2",\n  "c": "3",\n`)
  })

  it("is not offered when both sides changed the same key (a duplicate key is never the resolution)", () => {
    const base = `{\n  "dependencies": {\n    "left": "^1.0.0",\n    "right": "^1.0.0"\n  }\n}\n`
    const ours = `{\n  "dependencies": {\n    "left": "^1.1.0",\n    "right": "^1.0.0"\n  }\n}\n`
    const theirs = `{\n  "dependencies": {\n    "left": "^2.0.0",\n    "right": "^1.0.0"\n  }\n}\n`
    assert.isUndefined(listUnionOf(region(base, ours, theirs)))
    // The same for object keys written without quotes.
    const r = region(`const o = {\n  a: 1,\n  b: 2,\n}\n`, `const o = {\n  a: 10,\n  b: 2,\n}\n`, `const o = {\n  a: 20,\n  b: 2,\n}\n`)
    assert.isUndefined(listUnionOf(r))
  })
})
