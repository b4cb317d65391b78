import { describe, it, assert } from "@effect/vitest"
import * as ts from "typescript"
import { fitted } from "../src/coordination/conflicts/calibration.js"
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
