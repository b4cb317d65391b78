import { assert, describe, it } from "@effect/vitest"
import { Landing } from "@parallel-cc/core"
import { Git, TempDir, TempRepo, TestConfig } from "@parallel-cc/testkit"
import { Effect, Either, Fiber } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"

/** A repository with a test script (`node check.mjs`: fails when a file named BROKEN exists). */
const setup = (env: Record<string, string> = {}) =>
  Effect.gen(function*() {
    const base = yield* TempDir.make("pcc-land-")
    const repo = TempRepo.makeSync(base, {
      files: {
        "README.md": "# r\n",
        "src/a.ts": "export const a = 1\n",
        "check.mjs": "import fs from 'node:fs'\nif (fs.existsSync('BROKEN')) { console.log('boom: BROKEN is here'); process.exit(3) }\nconsole.log('ok')\n"
      }
    })
    const dataDir = path.join(base, "data")
    const layer = TestConfig.layer(dataDir, { PARALLEL_CC_LAND_TEST: "node check.mjs", ...env })
    const run = <A, E>(eff: Effect.Effect<A, E, any>) => Effect.provide(eff, layer) as Effect.Effect<A, E>
    /** A branch from main with one commit per file. */
    const branch = (name: string, files: Record<string, string>, from = "main") => {
      repo.git(["branch", name, from])
      const wt = path.join(base, `wt-${name}`)
      repo.git(["worktree", "add", "-q", wt, name])
      for (const [f, c] of Object.entries(files)) {
        repo.write(f, c, wt)
        repo.commitAll(`${name}: ${f}`, wt)
      }
      repo.git(["worktree", "remove", wt])
      return repo.git(["rev-parse", name]).trim()
    }
    const land = (req: Omit<Landing.RunRequest, "repo">, events?: Array<Landing.LandEvent>) =>
      run(Effect.flatMap(Landing.Landing, (l) => l.run({ repo: repo.root, ...req }, (e) => Effect.sync(() => events?.push(e)))))
    const tip = (ref = "main") => repo.git(["rev-parse", ref]).trim()
    const log = (ref = "main") => repo.git(["log", "--format=%s", ref]).trim().split("\n")
    return { base, repo, dataDir, run, branch, land, tip, log }
  })

describe("Landing", () => {
  it.scopedLive("three non-conflicting branches land in order, tested together once; the checked-out main follows", () =>
    Effect.gen(function*() {
      const t = yield* setup()
      const heads = ["a", "b", "c"].map((n) => t.branch(`feat-${n}`, { [`${n}.txt`]: `${n}\n` }))
      const before = t.tip()
      const events: Array<Landing.LandEvent> = []
      const report = yield* t.land({ candidates: ["feat-a", "feat-b", "feat-c"] }, events)
      assert.strictEqual(report.landed, 3)
      assert.strictEqual(report.sentBack, 0)
      assert.strictEqual(report.tests.runs, 1)
      assert.deepStrictEqual(report.entries.map((e) => e.name), ["feat-a", "feat-b", "feat-c"])
      assert.deepStrictEqual(t.log().slice(0, 3), ["Merge feat-c into main", "Merge feat-b into main", "Merge feat-a into main"])
      for (const h of heads) assert.strictEqual(Git.gitTry(t.repo.root, ["merge-base", "--is-ancestor", h, "main"]).status, 0)
      assert.strictEqual(report.targetBefore, before)
      assert.strictEqual(report.targetAfter, t.tip())
      // main is checked out in the repository: its files and index came along.
      assert.strictEqual(fs.readFileSync(path.join(t.repo.root, "c.txt"), "utf8"), "c\n")
      assert.strictEqual(t.repo.git(["status", "--porcelain"]), "")
      assert.deepStrictEqual(report.worktree, { path: t.repo.root, moved: true, detail: `brought forward to ${t.tip().slice(0, 12)}` })
      const tags = events.map((e) => e._tag)
      assert.includeMembers(tags, ["Queued", "Integrated", "TestStarted", "TestFinished", "Landed", "Finished"])
      // No private worktree left behind.
      assert.deepStrictEqual(fs.readdirSync(path.join(t.dataDir, "land", "work")), [])
      assert.strictEqual(t.repo.git(["worktree", "list"]).trim().split("\n").length, 1)
    }))

  it.scopedLive("a candidate whose tests fail is sent back with its log; the others land; alone it leaves main unchanged", () =>
    Effect.gen(function*() {
      const t = yield* setup()
      t.branch("good-1", { "g1.txt": "1\n" })
      t.branch("bad", { "BROKEN": "x\n" })
      t.branch("good-2", { "g2.txt": "2\n" })
      const report = yield* t.land({ candidates: ["good-1", "bad", "good-2"] })
      const byName = Object.fromEntries(report.entries.map((e) => [e.name, e]))
      assert.strictEqual(byName["good-1"]!.status, "landed")
      assert.strictEqual(byName["good-2"]!.status, "landed")
      assert.strictEqual(byName["bad"]!.status, "sent_back")
      assert.strictEqual(byName["bad"]!.reason, "tests_failed")
      assert.include(byName["bad"]!.message!, "exit 3")
      assert.include(byName["bad"]!.detail.logTail!, "boom: BROKEN is here")
      assert.include(fs.readFileSync(byName["bad"]!.logPath!, "utf8"), "boom: BROKEN is here")
      assert.isFalse(fs.existsSync(path.join(t.repo.root, "BROKEN")))
      assert.strictEqual(t.tip("bad"), t.repo.git(["rev-parse", "bad"]).trim())

      const before = t.tip()
      const bad2 = t.branch("bad-2", { "BROKEN": "y\n" })
      const alone = yield* t.land({ candidates: ["bad-2"] })
      assert.strictEqual(alone.sentBack, 1)
      assert.strictEqual(t.tip(), before)
      assert.strictEqual(t.tip("bad-2"), bad2)
    }))
})
