import { Conflicts } from "@parallel-cc/core"
import { Cli, ConflictRepo, Git, TempDir, TestConfig } from "@parallel-cc/testkit"
import { Effect } from "effect"
import * as path from "node:path"
import { afterEach, assert, describe, it } from "vitest"

const dirs: Array<string> = []
afterEach(() => {
  for (const d of dirs.splice(0)) TempDir.removeSync(d)
})

const scenario: ConflictRepo.Scenario = {
  base: {
    "src/a.ts": "export const a = 1\n",
    "src/b.ts": "export function b() {\n  return 1\n}\n"
  },
  ours: { "src/a.ts": "export const a = 2\n", "src/b.ts": "export function b() {\n    return 1\n}\n" },
  theirs: { "src/a.ts": "export const a = 3\n", "src/b.ts": "export function b() {\n  return 2\n}\n" }
}

describe("conflicts and suggestions commands", () => {
  it("list recorded conflicts and suggestions, filter them, and reject bad filters", async () => {
    const tmp = TempDir.makeSync()
    dirs.push(tmp)
    const data = path.join(tmp, "data")
    const repo = ConflictRepo.makeSync(tmp, scenario)
    Git.gitTry(repo.root, ["merge", "--no-edit", "feature"], repo.env)
    const applied = await Effect.runPromise(
      Effect.gen(function*() {
        const s = yield* Conflicts.Conflicts
        const report = yield* s.detect({ worktree: repo.root })
        const trivial = report.conflicts.find((c) => c.path === "src/b.ts")!
        const edit = report.conflicts.find((c) => c.path === "src/a.ts")!
        yield* s.suggest({ conflictId: edit.id, worktree: repo.root })
        const sugg = yield* s.suggest({ conflictId: trivial.id, worktree: repo.root })
        return yield* s.apply({ suggestionId: sugg[0]!.id, worktree: repo.root })
      }).pipe(Effect.provide(TestConfig.layer(data)))
    )
    const env = { PARALLEL_CC_DATA_DIR: data, HOME: data }

    const open = Cli.runSync(["conflicts", "--json"], { env })
    assert.strictEqual(open.code, 0, open.stderr)
    const openDoc = Cli.json(open)
    assert.deepStrictEqual(openDoc.conflicts.map((c: any) => [c.path, c.type]), [["src/a.ts", "CONCURRENT_EDIT"]])

    const resolved = Cli.json(Cli.runSync(["conflicts", "--resolved", "--json"], { env }))
    assert.deepStrictEqual(resolved.conflicts.map((c: any) => [c.path, c.type, c.resolution]), [["src/b.ts", "TRIVIAL", applied.suggestion.id]])
    const semantic = Cli.json(Cli.runSync(["conflicts", "--type", "SEMANTIC", "--json"], { env }))
    assert.lengthOf(semantic.conflicts, 0)
    const human = Cli.runSync(["conflicts"], { env })
    assert.strictEqual(human.code, 0)
    assert.match(human.stdout, /CONCURRENT_EDIT\s+MEDIUM\s+src\/a\.ts\s+main ← feature/)

    const all = Cli.json(Cli.runSync(["suggestions", "--json"], { env }))
    assert.isAbove(all.suggestions.length, 0)
    for (const s of all.suggestions) {
      assert.isNull(s.appliedAt)
      assert.isString(s.resolvedContent)
      assert.isString(s.diff)
    }
    const high = Cli.json(Cli.runSync(["suggestions", "--min-confidence", "0.29", "--json"], { env }))
    assert.isTrue(high.suggestions.every((s: any) => s.confidence >= 0.29))
    assert.isBelow(high.suggestions.length, all.suggestions.length)
    const done = Cli.json(Cli.runSync(["suggestions", "--applied", "--json"], { env }))
    assert.deepStrictEqual(done.suggestions.map((s: any) => s.id), [applied.suggestion.id])
    const table = Cli.runSync(["suggestions"], { env })
    assert.match(table.stdout, /STRATEGY\s+CONFIDENCE/)

    const badType = Cli.runSync(["conflicts", "--type", "WEIRD"], { env })
    assert.strictEqual(badType.code, 1)
    assert.match(badType.stderr, /TRIVIAL, ADDITIVE, CONCURRENT_EDIT, STRUCTURAL, SEMANTIC/)
    const badConf = Cli.runSync(["suggestions", "--min-confidence", "1.5"], { env })
    assert.strictEqual(badConf.code, 1)
    assert.match(badConf.stderr, /from 0 to 1/)
  })
})
