import { assert, describe, it } from "@effect/vitest"
import { Conflicts } from "@parallel-cc/core"
import { ConflictRepo, Git, TempDir, TestConfig } from "@parallel-cc/testkit"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import ts from "typescript"
import { corpus } from "./fixtures/conflictCorpus.js"

/** Type-check every TypeScript file under `dir` with the compiler API (strict). */
const typecheck = (dir: string): Array<string> => {
  const files: Array<string> = []
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (e.name === ".git" || e.name === "node_modules") continue
      const p = path.join(d, e.name)
      if (e.isDirectory()) walk(p)
      else if (/\.tsx?$/.test(e.name)) files.push(p)
    }
  }
  walk(dir)
  const program = ts.createProgram(files, {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    lib: ["lib.es2022.d.ts", "lib.dom.d.ts"],
    types: [],
    skipLibCheck: true
  })
  return ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"))
}

const parses = (file: string, text: string) =>
  ((ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true) as unknown as { parseDiagnostics: Array<unknown> }).parseDiagnostics).length === 0

const withConflicts = <A, E>(dataDir: string, f: (c: Conflicts.Conflicts["Type"]) => Effect.Effect<A, E>) =>
  Effect.flatMap(Conflicts.Conflicts, f).pipe(Effect.provide(TestConfig.layer(dataDir)))

describe("Conflicts", () => {
  for (const c of corpus) {
    it.scopedLive(`${c.name}: ${c.type}, resolved by applying a suggestion`, () =>
      Effect.gen(function*() {
        const tmp = yield* TempDir.make()
        const data = path.join(tmp, "data")
        const repo = ConflictRepo.makeSync(tmp, c.scenario)
        const head = repo.git(["rev-parse", "HEAD"]).trim()

        const preview = yield* withConflicts(data, (s) => s.preview({ repo: repo.root, ours: "main", theirs: "feature" }))
        assert.isFalse(preview.clean)
        assert.include(preview.files.map((f) => f.path), c.file)
        // The preview touched nothing: same HEAD, clean status.
        assert.strictEqual(repo.git(["rev-parse", "HEAD"]).trim(), head)
        assert.strictEqual(repo.git(["status", "--porcelain"]), "")

        const byRefs = yield* withConflicts(data, (s) => s.detect({ repo: repo.root, ours: "main", theirs: "feature" }))
        const refConflict = byRefs.conflicts.find((x) => x.path === c.file)!
        assert.strictEqual(refConflict.type, c.type, refConflict.reasons.join("; "))
        assert.strictEqual(refConflict.severity, c.severity)

        // The real flow: merge in the work tree, classify what git left, resolve with a suggestion.
        const merge = Git.gitTry(repo.root, ["merge", "--no-edit", "feature"], repo.env)
        assert.notStrictEqual(merge.status, 0)
        const report = yield* withConflicts(data, (s) => s.detect({ worktree: repo.root }))
        const conflict = report.conflicts.find((x) => x.path === c.file)!
        assert.strictEqual(conflict.type, c.type, conflict.reasons.join("; "))
        assert.strictEqual(conflict.source, "worktree")

        const suggestions = yield* withConflicts(data, (s) => s.suggest({ conflictId: conflict.id, worktree: repo.root }))
        assert.isAbove(suggestions.length, 0)
        for (let i = 1; i < suggestions.length; i++) assert.isAtMost(suggestions[i]!.confidence, suggestions[i - 1]!.confidence)
        const first = suggestions[0]!
        if (c.notTop === true) assert.include(first.description, "DROPPING", `${first.strategy}: ${first.description}`)
        const top = c.notTop === true ? suggestions.find((s) => s.resolvedContent === c.expected) ?? first : first
        if (c.expected !== undefined) assert.strictEqual(top.resolvedContent, c.expected, `${top.strategy}: ${top.description}`)
        if (/\.ts$/.test(c.file) && !top.deletesFile) {
          assert.isTrue(top.parses)
          assert.isTrue(parses(c.file, top.resolvedContent!))
        }

        const applied = yield* withConflicts(data, (s) => s.apply({ suggestionId: top.id, worktree: repo.root }))
        const file = path.join(repo.root, c.file)
        if (top.deletesFile) assert.isFalse(fs.existsSync(file))
        else if (top.encoding === "base64") assert.deepStrictEqual(fs.readFileSync(file).toString("base64"), top.resolvedContent)
        else assert.strictEqual(fs.readFileSync(file, "utf8"), top.resolvedContent)
        assert.isNotNull(applied.suggestion.appliedAt)
        if (c.typecheck) {
          // Other conflicted files of the scenario are taken from main for the check.
          for (const other of report.conflicts.filter((x) => x.path !== c.file)) repo.git(["checkout", "--ours", "--", other.path])
          assert.deepStrictEqual(typecheck(repo.root), [])
        }
        if (c.file.endsWith(".json")) assert.doesNotThrow(() => JSON.parse(fs.readFileSync(file, "utf8")))

        const again = yield* withConflicts(data, (s) => s.apply({ suggestionId: top.id, worktree: repo.root })).pipe(Effect.flip)
        assert.strictEqual(again._tag, "ConflictError")
        assert.strictEqual((again as Conflicts.ConflictError).reason, "AlreadyApplied")

        const history = yield* withConflicts(data, (s) => s.history({ resolved: true }))
        assert.include(history.map((h) => h.id), conflict.id)
      }))
  }

  it.scopedLive("applying refuses when the file changed since the suggestion was made, and writes nothing", () =>
    Effect.gen(function*() {
      const tmp = yield* TempDir.make()
      const data = path.join(tmp, "data")
      const c = corpus.find((x) => x.file === "src/strings.ts")!
      const repo = ConflictRepo.makeSync(tmp, c.scenario)
      Git.gitTry(repo.root, ["merge", "--no-edit", "feature"], repo.env)
      const report = yield* withConflicts(data, (s) => s.detect({ worktree: repo.root }))
      const suggestions = yield* withConflicts(data, (s) => s.suggest({ conflictId: report.conflicts[0]!.id, worktree: repo.root }))
      const file = path.join(repo.root, c.file)
      fs.appendFileSync(file, "// edited by someone else\n")
      const before = fs.readFileSync(file, "utf8")
      const err = yield* withConflicts(data, (s) => s.apply({ suggestionId: suggestions[0]!.id, worktree: repo.root })).pipe(Effect.flip)
      assert.strictEqual((err as Conflicts.ConflictError).reason, "FileChanged")
      assert.strictEqual(fs.readFileSync(file, "utf8"), before)
      const open = yield* withConflicts(data, (s) => s.suggestions({ applied: false }))
      assert.include(open.map((s) => s.id), suggestions[0]!.id)
    }))

  it.scopedLive("resolveMerge: the top resolution of each conflicted file, reading objects only", () =>
    Effect.gen(function*() {
      const tmp = yield* TempDir.make()
      const data = path.join(tmp, "data")
      const c = corpus.find((x) => x.file === "src/strings.ts")!
      const repo = ConflictRepo.makeSync(tmp, c.scenario)
      const head = repo.git(["rev-parse", "HEAD"]).trim()
      const r = yield* withConflicts(data, (s) => s.resolveMerge({ repo: repo.root, ours: "main", theirs: "feature" }))
      assert.isFalse(r.clean)
      assert.strictEqual(r.ours.commit, head)
      const file = r.files.find((f) => f.path === c.file)!
      assert.isFalse(file.autoApply)
      assert.isFalse(r.autoApply)
      assert.isString(file.resolvedContent)
      assert.notInclude(file.resolvedContent!, "<<<<<<<")
      assert.strictEqual(repo.git(["status", "--porcelain"]), "")
      const none = yield* withConflicts(data, (s) => s.history({}))
      assert.lengthOf(none, 0)

      const clean = ConflictRepo.makeSync(path.join(tmp, "clean"), { base: { "a.txt": "a\n" }, ours: { "b.txt": "b\n" }, theirs: { "c.txt": "c\n" } })
      const ok = yield* withConflicts(data, (s) => s.resolveMerge({ repo: clean.root, ours: "main", theirs: "feature" }))
      assert.isTrue(ok.clean)
      assert.isTrue(ok.autoApply)
      assert.lengthOf(ok.files, 0)
    }))

  it.scopedLive("bad refs, unrelated histories and a clean merge", () =>
    Effect.gen(function*() {
      const tmp = yield* TempDir.make()
      const data = path.join(tmp, "data")
      const repo = ConflictRepo.makeSync(tmp, { base: { "a.txt": "a\n" }, ours: { "b.txt": "b\n" }, theirs: { "c.txt": "c\n" } })
      const clean = yield* withConflicts(data, (s) => s.preview({ repo: repo.root, ours: "main", theirs: "feature" }))
      assert.isTrue(clean.clean)
      assert.lengthOf(clean.files, 0)
      for (const bad of ["nope", "--upload-pack=touch /tmp/x", "main..feature", "a b"]) {
        const err = yield* withConflicts(data, (s) => s.preview({ repo: repo.root, ours: "main", theirs: bad })).pipe(Effect.flip)
        assert.strictEqual(err._tag, "ConflictError", bad)
        assert.strictEqual((err as Conflicts.ConflictError).reason, "UnknownRef")
      }
      repo.git(["checkout", "-q", "--orphan", "island"])
      repo.write("z.txt", "z\n")
      repo.commitAll("unrelated")
      const err = yield* withConflicts(data, (s) => s.preview({ repo: repo.root, ours: "main", theirs: "island" })).pipe(Effect.flip)
      assert.strictEqual((err as Conflicts.ConflictError).reason, "UnrelatedHistories")
      const none = yield* withConflicts(data, (s) => s.detect({ worktree: repo.root })).pipe(Effect.flip)
      assert.strictEqual((none as Conflicts.ConflictError).reason, "NoMergeInProgress")
    }))

  it.scopedLive("rebase assist: check, then perform stopping with conflicts and instructions, and abort", () =>
    Effect.gen(function*() {
      const tmp = yield* TempDir.make()
      const data = path.join(tmp, "data")
      const c = corpus.find((x) => x.file === "src/defaults.ts")!
      const repo = ConflictRepo.makeSync(tmp, c.scenario)
      const wt = path.join(tmp, "wt")
      repo.git(["worktree", "add", "-q", wt, "feature"])
      const check = yield* withConflicts(data, (s) => s.rebaseAssist({ worktree: wt, onto: "main", mode: "check" }))
      assert.strictEqual(check.status, "conflicts")
      assert.deepStrictEqual(check.conflicts.map((f) => f.path), [c.file])
      assert.strictEqual(check.commits.length, 1)
      assert.strictEqual(check.behind, 1)

      const aborted = yield* withConflicts(data, (s) => s.rebaseAssist({ worktree: wt, onto: "main", mode: "perform", onConflict: "abort" }))
      assert.strictEqual(aborted.status, "aborted")
      assert.strictEqual(repo.git(["rev-parse", "HEAD"], wt).trim(), check.head)
      assert.strictEqual(repo.git(["status", "--porcelain"], wt), "")

      const stopped = yield* withConflicts(data, (s) => s.rebaseAssist({ worktree: wt, onto: "main", mode: "perform" }))
      assert.strictEqual(stopped.status, "stopped")
      assert.isTrue(stopped.nextSteps.some((s) => s.includes("rebase --continue")))
      assert.isTrue(stopped.nextSteps.some((s) => s.includes("rebase --abort")))
      const again = yield* withConflicts(data, (s) => s.rebaseAssist({ worktree: wt, onto: "main", mode: "check" })).pipe(Effect.flip)
      assert.strictEqual((again as Conflicts.ConflictError).reason, "RebaseInProgress")
      const during = yield* withConflicts(data, (s) => s.detect({ worktree: wt }))
      assert.strictEqual(during.theirs.ref, "feature")
      assert.strictEqual(during.conflicts[0]!.type, "CONCURRENT_EDIT")
      repo.git(["rebase", "--abort"], wt)

      // A branch without conflicts rebases cleanly.
      repo.git(["checkout", "-q", "-b", "side", "main~1"], wt)
      repo.write("other.txt", "x\n", wt)
      repo.commitAll("side change", wt)
      const done = yield* withConflicts(data, (s) => s.rebaseAssist({ worktree: wt, onto: "main", mode: "perform" }))
      assert.strictEqual(done.status, "rebased")
      assert.strictEqual(repo.git(["rev-parse", "HEAD~1"], wt).trim(), repo.git(["rev-parse", "main"]).trim())
    }))
})

describe("Conflicts across files", () => {
  it.scopedLive("a rename in one file and a new use of the old name in another file that git merges cleanly is SEMANTIC, and resolvable", () =>
    Effect.gen(function*() {
      const tmp = yield* TempDir.make()
      const data = path.join(tmp, "data")
      const math = "export function sum(a: number, b: number): number {\n  return a + b\n}\n"
      const index = "import { sum } from \"./math\"\n\nexport const two = sum(1, 1)\n"
      const report = "import { sum } from \"./math\"\n\nexport const report = (xs: ReadonlyArray<number>) => `total: ${xs.reduce(sum, 0)}`\n"
      const repo = ConflictRepo.makeSync(tmp, {
        base: { "src/math.ts": math, "src/index.ts": index },
        ours: { "src/math.ts": math.replace("sum", "add"), "src/index.ts": index.replaceAll("sum", "add") },
        theirs: { "src/report.ts": report }
      })
      const preview = yield* withConflicts(data, (s) => s.preview({ repo: repo.root, ours: "main", theirs: "feature" }))
      assert.isTrue(preview.clean)
      const found = yield* withConflicts(data, (s) => s.detect({ repo: repo.root, ours: "main", theirs: "feature" }))
      assert.deepStrictEqual(found.conflicts.map((c) => [c.path, c.gitKind, c.type, c.severity]), [["src/report.ts", "clean", "SEMANTIC", "HIGH"]])
      assert.isTrue(found.conflicts[0]!.reasons.some((r) => r.includes("renamed sum to add (in src/math.ts)")))

      // Merged as git would (cleanly), the tree does not type-check; the suggestion fixes it.
      assert.strictEqual(Git.gitTry(repo.root, ["merge", "--no-commit", "--no-ff", "feature"], repo.env).status, 0)
      assert.isAbove(typecheck(repo.root).length, 0)
      const suggestions = yield* withConflicts(data, (s) => s.suggest({ conflictId: found.conflicts[0]!.id, worktree: repo.root }))
      const top = suggestions[0]!
      assert.strictEqual(top.resolvedContent, report.replaceAll("sum", "add"), `${top.strategy}: ${top.description}`)
      yield* withConflicts(data, (s) => s.apply({ suggestionId: top.id, worktree: repo.root }))
      assert.deepStrictEqual(typecheck(repo.root), [])
    }))
})
