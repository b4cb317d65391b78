import { assert, describe, it } from "@effect/vitest"
import { Conflicts } from "@parallel-cc/core"
import { ConflictRepo, TempDir, TestConfig } from "@parallel-cc/testkit"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

interface RealCase {
  readonly file: string
  readonly versions: ReadonlyArray<string>
  readonly kind: string
  readonly order: string
  readonly base: string
  readonly ours: string
  readonly theirs: string
  readonly expected: string
}

const cases: ReadonlyArray<RealCase> = JSON.parse(
  fs.readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures/synthetic-conflicts.json"), "utf8")
)

/**
 * SYNTHETIC: each case is one published edit split over two branches, so the right answer is nearly always
 * "apply both". A regression check of the engine, not a measure of real merges (scripts/conflict-quality.mjs
 * measures those, on the real-merge corpus).
 */
describe("Conflicts on synthetic splits of real edits (regression)", () => {
  it.scopedLive("every case has the published file among its suggestions, and most have it first", () =>
    Effect.gen(function*() {
      const tmp = yield* TempDir.make()
      const at = (i: number, c: RealCase) => `case-${String(i).padStart(2, "0")}/${c.file}`
      const pick = (k: "base" | "ours" | "theirs") => Object.fromEntries(cases.map((c, i) => [at(i, c), c[k]]))
      const repo = ConflictRepo.makeSync(tmp, { base: pick("base"), ours: pick("ours"), theirs: pick("theirs") })
      const results = yield* Effect.gen(function*() {
        const service = yield* Conflicts.Conflicts
        const report = yield* service.detect({ repo: repo.root, ours: "main", theirs: "feature" })
        assert.strictEqual(report.conflicts.length, cases.length)
        return yield* Effect.forEach(cases, (c, i) =>
          Effect.gen(function*() {
            const conflict = report.conflicts.find((x) => x.path === at(i, c))!
            // A half of a real edit may not parse on its own (e.g. a block opened by the other half).
            const sidesParse = conflict.analyzer === "typescript"
            if (!sidesParse) assert.isTrue(conflict.reasons.some((r) => r.includes("does not parse")), conflict.path)
            const suggestions = yield* service.suggest({ conflictId: conflict.id })
            const top = suggestions[0]!
            if (sidesParse) assert.isTrue(top.parses, `${conflict.path}: ${top.strategy}`)
            return {
              name: `${c.file} ${c.versions.join("→")} ${c.kind} ${c.order}`,
              top: top.resolvedContent === c.expected,
              any: suggestions.some((s) => s.resolvedContent === c.expected)
            }
          }))
      }).pipe(Effect.provide(TestConfig.layer(path.join(tmp, "data"))))
      const top = results.filter((r) => r.top).length
      const any = results.filter((r) => r.any).length
      // The engine is tuned on real merges, where two insertions at one place are often not both kept;
      // here they always are. 8 of the 12 come first (measured 2026-12-03); fewer is a regression.
      assert.isAtLeast(top, 8, results.filter((r) => !r.top).map((r) => r.name).join("\n"))
      assert.strictEqual(any, cases.length, results.filter((r) => !r.any).map((r) => r.name).join("\n"))
    }), 180_000)
})
