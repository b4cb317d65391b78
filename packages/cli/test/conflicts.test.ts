import { Conflicts } from "@parallel-cc/core"
import { Cli, ConflictRepo, Git, TempDir, TestConfig } from "@parallel-cc/testkit"
import { Effect } from "effect"
import * as fs from "node:fs"
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
  it("conflicts check finds and records a branch's conflicts; suggestions --conflict makes them; apply is refused once the file changed", () => {
    const tmp = TempDir.makeSync()
    dirs.push(tmp)
    const data = path.join(tmp, "data")
    const repo = ConflictRepo.makeSync(tmp, scenario)
    const env = { ...repo.env, PARALLEL_CC_DATA_DIR: data, HOME: data }

    const check = Cli.runSync(["conflicts", "check", "--repo", repo.root, "--branch", "feature", "--into", "main", "--json"], { env })
    assert.strictEqual(check.code, 0, check.stderr)
    const report = Cli.json(check)
    const edit = report.conflicts.find((c: any) => c.path === "src/a.ts")
    assert.strictEqual(edit.type, "CONCURRENT_EDIT")
    assert.strictEqual(edit.hunks.length, 1)
    assert.deepStrictEqual(edit.hunks[0].commits, { ours: ["main changes"], theirs: ["feature changes"] })
    const human = Cli.runSync(["conflicts", "check", "--repo", repo.root, "--branch", "feature", "--into", "main"], { env })
    assert.match(human.stdout, /src\/a\.ts\s+CONCURRENT_EDIT/)
    assert.include(human.stdout, "hunk 1")
    const same = Cli.runSync(["conflicts", "check", "--repo", repo.root, "--branch", "main", "--into", "main"], { env })
    assert.strictEqual(same.code, 1)
    assert.include(same.stderr, "--into")

    const listed = Cli.json(Cli.runSync(["suggestions", "--conflict", edit.id, "--json"], { cwd: repo.root, env }))
    assert.strictEqual(listed.conflict.id, edit.id)
    assert.isAbove(listed.suggestions.length, 0)
    const top = listed.suggestions[0]
    assert.isBoolean(top.autoApply)
    const shown = Cli.runSync(["suggestions", "--conflict", edit.id], { cwd: repo.root, env })
    assert.include(shown.stdout, "feature changes")

    fs.appendFileSync(path.join(repo.root, "src/a.ts"), "// edited meanwhile\n")
    const refused = Cli.runSync(["suggestions", "apply", top.id, "--worktree", repo.root], { env })
    assert.strictEqual(refused.code, 1)
    assert.include(refused.stderr, `parallel-cc suggestions --conflict ${edit.id} --worktree ${repo.root}`)
    assert.include(fs.readFileSync(path.join(repo.root, "src/a.ts"), "utf8"), "// edited meanwhile")
    // The command the refusal names makes new suggestions against the file as it is now; one of them applies.
    const fresh = Cli.json(Cli.runSync(["suggestions", "--conflict", edit.id, "--worktree", repo.root, "--json"], { env }))
    const again = fresh.suggestions.find((x: any) => x.complete && x.id !== top.id)
    const applied = Cli.runSync(["suggestions", "apply", again.id, "--worktree", repo.root, "--json"], { env })
    assert.strictEqual(applied.code, 0, applied.stderr)
    assert.strictEqual(Cli.json(applied).action, "written")
    assert.strictEqual(fs.readFileSync(path.join(repo.root, "src/a.ts"), "utf8"), again.resolvedContent)
  })
})
