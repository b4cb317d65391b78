import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, assert, describe, it } from "vitest"
import { type Server, world, type World } from "./harness.js"

const worlds: Array<World> = []
afterEach(async () => {
  for (const w of worlds.splice(0)) await w.dispose()
})

const math = `export function sum(a: number, b: number): number {
  return a + b
}

export function total(values: ReadonlyArray<number>): number {
  return values.reduce((acc, x) => sum(acc, x), 0)
}
`
const pkg = (deps: Record<string, string>) => JSON.stringify({ name: "demo", version: "1.0.0", dependencies: deps }, null, 2) + "\n"

/** Calls made through `server`, kept as a transcript (written out when PARALLEL_CC_MCP_TRANSCRIPT is set). */
const recorder = (server: Server, who: string) => {
  const log: Array<unknown> = []
  const call = async (name: string, args: Record<string, unknown> = {}) => {
    const r = await server.call(name, args)
    log.push({ who, request: { name, arguments: args }, response: r })
    return r
  }
  return { log, call }
}

describe("conflict tools (stdio, real client)", () => {
  it("a conflict between two worktrees: checked, classified, resolved through the tools, and recorded", async () => {
    const w = world({ files: { "src/math.ts": math, "package.json": pkg({ effect: "^3.22.0" }) } })
    worlds.push(w)
    w.register()
    const b = w.register()
    // The main session renames sum → add; the worktree session uses sum in new code and edits a call.
    w.repo.write("src/math.ts", math.replace("function sum(", "function add(").replace("sum(acc, x)", "add(acc, x)"))
    w.repo.write("package.json", pkg({ effect: "^3.22.0", yaml: "^2.9.1" }))
    w.repo.commitAll("rename sum to add; add yaml")
    w.repo.write(
      "src/math.ts",
      math.replace("sum(acc, x)", "sum(acc, Math.round(x))") +
        "\nexport const average = (values: ReadonlyArray<number>): number =>\n  values.length === 0 ? 0 : total(values) / values.length + sum(0, 0)\n",
      b.worktreePath
    )
    w.repo.write("package.json", pkg({ effect: "^3.22.0", zod: "^4.6.7" }), b.worktreePath)
    w.repo.commitAll("average; add zod", b.worktreePath)

    const server = await w.connect(b.worktreePath)
    const rec = recorder(server, `session ${b.sessionId} in ${b.worktreePath}`)
    const ok = async (name: string, args: Record<string, unknown> = {}) => {
      const r = await rec.call(name, args)
      assert.notStrictEqual(r.isError, true, `${name}: ${JSON.stringify(r.content)}`)
      return r.structuredContent as any
    }

    const check = await ok("check_conflicts")
    assert.isFalse(check.clean)
    assert.strictEqual(check.ours.ref, "main")
    assert.strictEqual(check.theirs.ref, b.branch)
    assert.sameMembers(check.files.map((f: any) => f.path), ["src/math.ts", "package.json"])
    assert.strictEqual(w.repo.git(["status", "--porcelain"], b.worktreePath), "")

    const plan = await ok("rebase_assist")
    assert.strictEqual(plan.status, "conflicts")
    assert.strictEqual(plan.behind, 1)
    assert.deepStrictEqual(plan.commits.map((c: any) => c.subject), ["average; add zod"])

    const predicted = await ok("detect_advanced_conflicts")
    assert.strictEqual(predicted.source, "refs")
    const types = Object.fromEntries(predicted.conflicts.map((c: any) => [c.path, c.type]))
    assert.deepStrictEqual(types, { "src/math.ts": "SEMANTIC", "package.json": "ADDITIVE" })
    const semantic = predicted.conflicts.find((c: any) => c.path === "src/math.ts")
    assert.strictEqual(semantic.analyzer, "typescript")
    assert.isTrue(semantic.reasons.some((r: string) => r.includes("renamed sum to add")))
    // Per hunk: both sides' text, where it is, the declarations and the commits that changed it.
    const additive = predicted.conflicts.find((c: any) => c.path === "package.json")
    assert.isAbove(additive.hunks.length, 0)
    const hunk = additive.hunks[0]
    assert.include(hunk.ours, "yaml")
    assert.include(hunk.theirs, "zod")
    assert.strictEqual(hunk.kind, "insertions")
    assert.deepStrictEqual(hunk.commits, { ours: ["rename sum to add; add yaml"], theirs: ["average; add zod"] })
    assert.isAbove(hunk.options.length, 0)

    // Do the rebase in the worktree; it stops on the conflicts with instructions.
    const stopped = await ok("rebase_assist", { checkOnly: false })
    assert.strictEqual(stopped.status, "stopped")
    assert.isTrue(stopped.nextSteps.some((s: string) => s.includes("rebase --continue")))
    assert.isTrue(stopped.nextSteps.some((s: string) => s.includes("rebase --abort")))

    const inProgress = await ok("detect_advanced_conflicts")
    assert.strictEqual(inProgress.source, "worktree")
    assert.strictEqual(inProgress.ours.ref, "main")
    assert.strictEqual(inProgress.theirs.ref, b.branch)

    for (const file of ["src/math.ts", "package.json"]) {
      const got = await ok("get_auto_fix_suggestions", { filePath: file })
      assert.isAbove(got.total, 0)
      const best = got.suggestions[0]
      assert.isTrue(best.parses)
      assert.isBoolean(best.autoApply)
      assert.isTrue(best.complete)
      assert.isAbove(best.hunks.length, 0)
      assert.include(best.diff, `--- a/${file}`)
      const applied = await ok("apply_auto_fix", { suggestionId: best.id })
      assert.strictEqual(applied.action, "written")
      assert.strictEqual(fs.readFileSync(path.join(b.worktreePath, file), "utf8"), best.resolvedContent)
      assert.isTrue(applied.nextSteps.some((s: string) => s.includes("git -C")))
    }
    const resolvedMath = fs.readFileSync(path.join(b.worktreePath, "src/math.ts"), "utf8")
    assert.include(resolvedMath, "add(acc, Math.round(x))")
    assert.include(resolvedMath, "+ add(0, 0)")
    assert.notInclude(resolvedMath, "sum")
    assert.deepStrictEqual(JSON.parse(fs.readFileSync(path.join(b.worktreePath, "package.json"), "utf8")).dependencies, {
      effect: "^3.22.0",
      yaml: "^2.9.1",
      zod: "^4.6.7"
    })

    // What the agent does next, as the tool said: stage and continue.
    w.repo.git(["add", "src/math.ts", "package.json"], b.worktreePath)
    w.repo.git(["-c", "core.editor=true", "rebase", "--continue"], b.worktreePath)
    assert.isTrue((await ok("check_conflicts")).clean)

    const history = await ok("conflict_history", { resolved: true })
    assert.isAtLeast(history.total, 2)
    assert.isTrue(history.conflicts.every((c: any) => c.resolution !== null && c.resolvedAt !== null))
    const semantics = await ok("conflict_history", { type: "SEMANTIC" })
    assert.isTrue(semantics.conflicts.every((c: any) => c.type === "SEMANTIC"))
    // The CLI reads the same records.
    const cli = JSON.parse(w.cli(["suggestions", "--applied", "--json"]).stdout)
    assert.strictEqual(cli.suggestions.length, 2)

    if (process.env["PARALLEL_CC_MCP_TRANSCRIPT"] !== undefined) {
      fs.writeFileSync(process.env["PARALLEL_CC_MCP_TRANSCRIPT"], JSON.stringify(rec.log, null, 2))
    }
  })

  it("refuses a stale suggestion, and every conflict tool answers bad input with a tool error", async () => {
    const w = world({ files: { "notes.txt": "one\ntwo\nthree\n" } })
    worlds.push(w)
    w.register()
    const b = w.register()
    w.repo.write("notes.txt", "one\nTWO (main)\nthree\n")
    w.repo.commitAll("main edit")
    w.repo.write("notes.txt", "one\nTWO (branch)\nthree\n", b.worktreePath)
    w.repo.commitAll("branch edit", b.worktreePath)
    const server = await w.connect(b.worktreePath)

    const found = await server.ok("detect_advanced_conflicts")
    assert.strictEqual(found.conflicts[0].type, "CONCURRENT_EDIT")
    const got = await server.ok("get_auto_fix_suggestions", { conflictId: found.conflicts[0].id, minConfidence: 0.2, includeContent: false })
    assert.isTrue(got.suggestions.every((s: any) => s.resolvedContent === null && s.confidence >= 0.2))
    fs.appendFileSync(path.join(b.worktreePath, "notes.txt"), "four\n")
    const stale = await server.fails("apply_auto_fix", { suggestionId: got.suggestions[0].id })
    assert.strictEqual(stale._tag, "ConflictError")
    assert.strictEqual(stale.reason, "FileChanged")
    assert.strictEqual(fs.readFileSync(path.join(b.worktreePath, "notes.txt"), "utf8"), "one\nTWO (branch)\nthree\nfour\n")

    const bad: Array<[string, Record<string, unknown>, string]> = [
      ["check_conflicts", { targetBranch: "--upload-pack=touch /tmp/pwned" }, "UnknownRef"],
      ["check_conflicts", { targetBranch: "no-such-branch" }, "UnknownRef"],
      ["check_conflicts", { currentBranch: 42 }, "ProtocolError"],
      ["check_conflicts", { nope: true }, "ProtocolError"],
      ["rebase_assist", { targetBranch: "no-such-branch" }, "UnknownRef"],
      ["rebase_assist", { checkOnly: "yes" }, "ProtocolError"],
      ["rebase_assist", { checkOnly: false }, "DirtyWorktree"],
      ["detect_advanced_conflicts", { source: "somewhere" }, "ProtocolError"],
      ["detect_advanced_conflicts", { source: "worktree" }, "NoMergeInProgress"],
      ["detect_advanced_conflicts", { worktree: "/no/such/dir" }, "InvalidInput"],
      ["get_auto_fix_suggestions", {}, "InvalidInput"],
      ["get_auto_fix_suggestions", { conflictId: "cfdoesnotexist" }, "ConflictNotFound"],
      ["get_auto_fix_suggestions", { filePath: "nothing.txt" }, "InvalidInput"],
      ["get_auto_fix_suggestions", { conflictId: found.conflicts[0].id, minConfidence: 2 }, "ProtocolError"],
      ["apply_auto_fix", {}, "ProtocolError"],
      ["apply_auto_fix", { suggestionId: "sgdoesnotexist" }, "ConflictNotFound"],
      ["conflict_history", { limit: 0 }, "ProtocolError"],
      ["conflict_history", { type: "WEIRD" }, "ProtocolError"],
      ["conflict_history", { repo: "/no/such/repo" }, "InvalidInput"]
    ]
    for (const [name, args, expected] of bad) {
      const e = await server.fails(name, args)
      assert.include([e._tag, e.reason], expected, `${name} ${JSON.stringify(args)} → ${e.text}`)
    }
    // Still serving after all of that.
    assert.strictEqual((await server.ok("conflict_history")).total, 1)
  })
})
