// The conflict engine on input it cannot merge line by line (too large, not UTF-8, not parseable,
// renamed on one side, deleted on the other) and on conflicts that stop existing: each on a real git
// repository, through the service as the CLI and the MCP server call it.
import { assert, describe, it } from "@effect/vitest"
import { Conflicts } from "@parallel-cc/core"
import { ConflictRepo, Git, TempDir, TestConfig } from "@parallel-cc/testkit"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import ts from "typescript"

const withConflicts = <A, E>(dataDir: string, f: (c: Conflicts.Conflicts["Type"]) => Effect.Effect<A, E>) =>
  Effect.flatMap(Conflicts.Conflicts, f).pipe(Effect.provide(TestConfig.layer(dataDir)))

const parses = (file: string, text: string) =>
  ((ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true) as unknown as { parseDiagnostics: Array<unknown> }).parseDiagnostics).length === 0

/** The bytes a suggestion writes. */
const bytesOf = (s: Conflicts.Suggestion) =>
  s.resolvedContent === null ? null : Buffer.from(s.resolvedContent, s.encoding === "base64" ? "base64" : "utf8")

/** Merge `feature` into main in the work tree (it stops with conflicts), record them, and ask for suggestions. */
const mergeAndSuggest = (data: string, repo: ConflictRepo.ConflictRepo, file: string) =>
  Effect.gen(function*() {
    const merge = Git.gitTry(repo.root, ["merge", "--no-edit", "feature"], repo.env)
    assert.notStrictEqual(merge.status, 0, "the merge should stop with conflicts")
    const report = yield* withConflicts(data, (s) => s.detect({ worktree: repo.root }))
    const conflict = report.conflicts.find((c) => c.path === file)
    assert.isDefined(conflict, `conflicts: ${report.conflicts.map((c) => `${c.path} (${c.gitKind})`).join(", ")}`)
    const suggestions = yield* withConflicts(data, (s) => s.suggest({ conflictId: conflict!.id, worktree: repo.root }))
    assert.isAbove(suggestions.length, 0)
    return { conflict: conflict!, suggestions }
  })

/** A suggestion that keeps one side's whole file says which side's changes it drops. */
const saysWhatItDrops = (s: Conflicts.Suggestion) => assert.match(s.description, /DROPPING|drops/, `${s.strategy}: ${s.description}`)

describe("Conflicts on input it cannot merge line by line", () => {
  it.scopedLive("a file over the size limit: both whole versions offered, each saying what it drops, applied byte for byte", () =>
    Effect.gen(function*() {
      const tmp = yield* TempDir.make()
      const data = path.join(tmp, "data")
      const lines = (edit: string) => Array.from({ length: 90_000 }, (_, i) => (i === 10 ? edit : `export const v${i} = ${i}\n`)).join("")
      const base = lines("export const v10 = 10\n")
      assert.isAbove(Buffer.byteLength(base), 2 * 1024 * 1024)
      const ours = lines("export const v10 = 11\n")
      const repo = ConflictRepo.makeSync(tmp, {
        base: { "src/huge.ts": base },
        ours: { "src/huge.ts": ours },
        theirs: { "src/huge.ts": lines("export const v10 = 12\n") }
      })
      const { conflict, suggestions } = yield* mergeAndSuggest(data, repo, "src/huge.ts")
      assert.strictEqual(conflict.severity, "HIGH")
      assert.match(conflict.reasons.join("; "), /too large to analyse \(\d+ bytes, over \d+\)/)
      assert.deepStrictEqual(suggestions.map((s) => s.strategy).sort(), ["take-ours", "take-theirs"])
      for (const s of suggestions) saysWhatItDrops(s)
      const take = suggestions.find((s) => s.strategy === "take-ours")!
      yield* withConflicts(data, (s) => s.apply({ suggestionId: take.id, worktree: repo.root }))
      assert.strictEqual(fs.readFileSync(path.join(repo.root, "src/huge.ts"), "utf8"), ours)
    }))

  it.scopedLive("a file that is not UTF-8 text: kept as bytes (base64), never re-encoded, applied byte for byte", () =>
    Effect.gen(function*() {
      const tmp = yield* TempDir.make()
      const data = path.join(tmp, "data")
      // Latin-1 "café" (0xE9 is not UTF-8) and no NUL byte, so git merges it as text and stops on the same line.
      const latin1 = (value: number) => Buffer.concat([Buffer.from("// caf"), Buffer.from([0xe9]), Buffer.from(`\nexport const price = ${value}\n`)])
      const ours = latin1(2)
      const repo = ConflictRepo.makeSync(tmp, {
        base: { "src/legacy.js": latin1(1) },
        ours: { "src/legacy.js": ours },
        theirs: { "src/legacy.js": latin1(3) }
      })
      const { conflict, suggestions } = yield* mergeAndSuggest(data, repo, "src/legacy.js")
      assert.match(conflict.reasons.join("; "), /not valid UTF-8/)
      for (const s of suggestions) {
        saysWhatItDrops(s)
        assert.strictEqual(s.encoding, "base64", `${s.strategy} keeps the bytes as they are`)
      }
      const take = suggestions.find((s) => s.strategy === "take-ours")!
      assert.deepStrictEqual(bytesOf(take), ours)
      yield* withConflicts(data, (s) => s.apply({ suggestionId: take.id, worktree: repo.root }))
      assert.deepStrictEqual(fs.readFileSync(path.join(repo.root, "src/legacy.js")), ours)
    }))

  it.scopedLive("a side that does not parse as TypeScript: classified as text, and no suggestion claims to parse when it does not", () =>
    Effect.gen(function*() {
      const tmp = yield* TempDir.make()
      const data = path.join(tmp, "data")
      const file = (line: string) => `export function total(xs: Array<number>): number {\n${line}\n}\n\nexport const unit = "EUR"\n`
      const repo = ConflictRepo.makeSync(tmp, {
        base: { "src/total.ts": file("  return xs.reduce((a, b) => a + b, 0)") },
        ours: { "src/total.ts": file("  return xs.reduce((a, b) => a + b, 0) * 100") },
        theirs: { "src/total.ts": file("  return xs.reduce((a, b) => a + b, 0 +") }
      })
      const { conflict, suggestions } = yield* mergeAndSuggest(data, repo, "src/total.ts")
      assert.strictEqual(conflict.analyzer, "text")
      assert.include(conflict.reasons, "one side does not parse as TypeScript/JavaScript; classified as text")
      for (const s of suggestions) {
        if (s.parses === true) assert.isTrue(parses("src/total.ts", s.resolvedContent!), `${s.strategy} claims to parse`)
        const text = s.resolvedContent ?? ""
        const keepsBoth = text.includes("* 100") && text.includes("0 +\n")
        if (s.complete && !keepsBoth) saysWhatItDrops(s)
      }
    }))

  it.scopedLive("rename/modify: the conflict is at the renamed path and each suggestion keeps the rename", () =>
    Effect.gen(function*() {
      const tmp = yield* TempDir.make()
      const data = path.join(tmp, "data")
      const body = (rate: string) =>
        `export const rate = ${rate}\n` + Array.from({ length: 20 }, (_, i) => `export const fee${i} = ${i} * rate\n`).join("")
      const repo = ConflictRepo.makeSync(tmp, {
        base: { "src/fees.ts": body("0.1") },
        ours: { "src/fees.ts": null, "src/pricing.ts": body("0.2") },
        theirs: { "src/fees.ts": body("0.3") }
      })
      const { conflict, suggestions } = yield* mergeAndSuggest(data, repo, "src/pricing.ts")
      assert.strictEqual(conflict.hunks.length, 1)
      for (const s of suggestions.filter((x) => x.complete)) {
        assert.include(s.resolvedContent, "export const fee19 = 19 * rate\n")
        const text = s.resolvedContent ?? ""
        if (!(text.includes("0.2") && text.includes("0.3"))) saysWhatItDrops(s)
      }
      assert.isFalse(fs.existsSync(path.join(repo.root, "src/fees.ts")), "git carried theirs' edit to the renamed file")
    }))

  it.scopedLive("rename/delete: kept or deleted, each saying which side's change it undoes", () =>
    Effect.gen(function*() {
      const tmp = yield* TempDir.make()
      const data = path.join(tmp, "data")
      const body = Array.from({ length: 20 }, (_, i) => `export const fee${i} = ${i}\n`).join("")
      const repo = ConflictRepo.makeSync(tmp, {
        base: { "src/fees.ts": body, "src/keep.ts": "export const keep = 1\n" },
        ours: { "src/fees.ts": null, "src/pricing.ts": body },
        theirs: { "src/fees.ts": null }
      })
      const merge = Git.gitTry(repo.root, ["merge", "--no-edit", "feature"], repo.env)
      assert.notStrictEqual(merge.status, 0, "the merge should stop with a rename/delete conflict")
      const report = yield* withConflicts(data, (s) => s.detect({ worktree: repo.root }))
      assert.isAbove(report.conflicts.length, 0)
      const conflict = report.conflicts.find((c) => c.path === "src/pricing.ts") ?? report.conflicts[0]!
      assert.strictEqual(conflict.type, "STRUCTURAL", `${conflict.path} (${conflict.gitKind}): ${conflict.reasons.join("; ")}`)
      const suggestions = yield* withConflicts(data, (s) => s.suggest({ conflictId: conflict.id, worktree: repo.root }))
      assert.deepStrictEqual(suggestions.map((s) => s.strategy).sort(), ["delete-file", "keep-file"])
      for (const s of suggestions) assert.match(s.description, /UNDOING|DROPPING/)
      assert.strictEqual(suggestions.find((s) => s.strategy === "keep-file")!.resolvedContent, body)
    }))
})

describe("Conflicts that stop existing", () => {
  const scenario = {
    base: { "src/rate.ts": "export const rate = 1\n" },
    ours: { "src/rate.ts": "export const rate = 2\n" },
    theirs: { "src/rate.ts": "export const rate = 3\n" }
  }

  it.scopedLive("a branch moves on so that the conflict is gone: the conflict and its suggestions are closed as stale", () =>
    Effect.gen(function*() {
      const tmp = yield* TempDir.make()
      const data = path.join(tmp, "data")
      const repo = ConflictRepo.makeSync(tmp, scenario)
      const report = yield* withConflicts(data, (s) => s.detect({ repo: repo.root, ours: "main", theirs: "feature" }))
      const conflict = report.conflicts.find((c) => c.path === "src/rate.ts")!
      const suggestions = yield* withConflicts(data, (s) => s.suggest({ conflictId: conflict.id }))
      const open = yield* withConflicts(data, (s) => s.suggestions({ applied: false }))
      assert.includeMembers(open.map((s) => s.id), suggestions.map((s) => s.id))
      assert.include((yield* withConflicts(data, (s) => s.history())).map((c) => c.id), conflict.id)

      // feature takes main's value: merging it no longer conflicts.
      repo.git(["checkout", "-q", "feature"])
      fs.writeFileSync(path.join(repo.root, "src/rate.ts"), "export const rate = 2\n")
      repo.commitAll("feature: take main's rate")
      repo.git(["checkout", "-q", "main"])
      const preview = yield* withConflicts(data, (s) => s.preview({ repo: repo.root, ours: "main", theirs: "feature" }))
      assert.isTrue(preview.clean)

      const listed = yield* withConflicts(data, (s) => s.history())
      assert.notInclude(listed.filter((c) => c.resolvedAt === null).map((c) => c.id), conflict.id)
      const closed = (yield* withConflicts(data, (s) => s.history({ resolved: true }))).find((c) => c.id === conflict.id)
      assert.isDefined(closed)
      assert.strictEqual(closed!.resolution, "stale: feature moved on since (check again)")
      const stillOpen = yield* withConflicts(data, (s) => s.suggestions({ applied: false }))
      for (const s of suggestions) assert.notInclude(stillOpen.map((x) => x.id), s.id)
    }))

  it.scopedLive("a conflict left in a worktree that is resolved there by hand is closed as stale", () =>
    Effect.gen(function*() {
      const tmp = yield* TempDir.make()
      const data = path.join(tmp, "data")
      const repo = ConflictRepo.makeSync(tmp, scenario)
      const { conflict, suggestions } = yield* mergeAndSuggest(data, repo, "src/rate.ts")
      fs.writeFileSync(path.join(repo.root, "src/rate.ts"), "export const rate = 5\n")
      repo.git(["add", "src/rate.ts"])
      const open = yield* withConflicts(data, (s) => s.suggestions({ applied: false }))
      for (const s of suggestions) assert.notInclude(open.map((x) => x.id), s.id)
      const closed = (yield* withConflicts(data, (s) => s.history({ resolved: true }))).find((c) => c.id === conflict.id)
      assert.strictEqual(closed?.resolution, "stale: no longer conflicted in its worktree")
      // Closing is bookkeeping only: the hand-made resolution is untouched.
      assert.strictEqual(fs.readFileSync(path.join(repo.root, "src/rate.ts"), "utf8"), "export const rate = 5\n")
    }))
})
