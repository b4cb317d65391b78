import { assert, describe, it } from "@effect/vitest"
import { FileSystem, Path } from "@effect/platform"
import { Git as GitService, Landing, SessionFiles, Sessions } from "@parallel-cc/core"
import { Git, TempDir, TempRepo, TestConfig } from "@parallel-cc/testkit"
import { Effect, Fiber } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Integrate from "../src/landing/integrate.js"
import type * as Resolve from "../src/landing/resolve.js"

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
    const log = (ref = "main") => repo.git(["log", "--first-parent", "--format=%s", ref]).trim().split("\n")
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

describe("Landing: strategies, conflicts, bad input", () => {
  it.scopedLive("squash puts one commit on main; rebase replays the commits with their authors; the branches stay as they were", () =>
    Effect.gen(function*() {
      const t = yield* setup()
      const sq = t.branch("sq", { "s1.txt": "1\n", "s2.txt": "2\n" })
      const r1 = yield* t.land({ candidates: ["sq"], strategy: "squash" })
      assert.strictEqual(r1.landed, 1)
      assert.strictEqual(t.repo.git(["rev-list", "--count", "--merges", "main"]).trim(), "0")
      assert.strictEqual(t.log()[0], "Squashed sq into main (2 commits)")
      assert.strictEqual(t.repo.git(["rev-parse", "main^"]).trim(), r1.targetBefore)
      assert.strictEqual(t.tip("sq"), sq)
      assert.strictEqual(r1.entries[0]!.landedCommit, t.tip())

      // rebase: a branch from an older main is replayed on top, author kept, no merge commit.
      const old = t.repo.git(["rev-parse", "main~1"]).trim()
      t.repo.git(["branch", "rb", old])
      const wt = path.join(t.base, "wt-rb")
      t.repo.git(["worktree", "add", "-q", wt, "rb"])
      t.repo.write("r1.txt", "1\n", wt)
      t.repo.git(["add", "-A"], wt)
      Git.git(wt, ["commit", "-q", "-m", "rb: one"], { ...t.repo.env, GIT_AUTHOR_NAME: "Someone Else", GIT_AUTHOR_EMAIL: "else@example.com" })
      t.repo.write("r2.txt", "2\n", wt)
      t.repo.commitAll("rb: two", wt)
      t.repo.git(["worktree", "remove", wt])
      const rb = t.tip("rb")
      const r2 = yield* t.land({ candidates: ["rb"], strategy: "rebase" })
      assert.strictEqual(r2.landed, 1)
      assert.deepStrictEqual(t.log().slice(0, 2), ["rb: two", "rb: one"])
      assert.strictEqual(t.repo.git(["log", "-1", "--format=%an", "main~1"]).trim(), "Someone Else")
      assert.strictEqual(t.repo.git(["rev-parse", "main~2"]).trim(), r2.targetBefore)
      assert.strictEqual(t.tip("rb"), rb)

      // rebase of a branch already on top of main: it lands as is (its commits are now in main).
      const ff = t.branch("ff", { "f.txt": "f\n" })
      yield* t.land({ candidates: ["ff"], strategy: "rebase" })
      assert.strictEqual(t.tip(), ff)
    }))

  it.scopedLive("a conflict the engine does not auto-apply sends the candidate back with the file and its class", () =>
    Effect.gen(function*() {
      const t = yield* setup()
      t.branch("one", { "src/a.ts": "export const a = 2\n" })
      const two = t.branch("two", { "src/a.ts": "export const a = 3\n" })
      const dry = yield* t.land({ candidates: ["one", "two"], dryRun: true })
      assert.deepStrictEqual(dry.plan.map((p) => [p.name, p.outcome]), [["one", "lands"], ["two", "conflicts"]])
      assert.strictEqual(dry.entries.length, 0)
      assert.strictEqual(t.tip(), dry.targetBefore)
      const report = yield* t.land({ candidates: ["one", "two"] })
      const [e1, e2] = report.entries
      assert.strictEqual(e1!.status, "landed")
      assert.strictEqual(e2!.status, "sent_back")
      assert.strictEqual(e2!.reason, "conflict")
      assert.deepStrictEqual(e2!.detail.conflicts.map((c) => [c.path, c.kind, c.class]), [["src/a.ts", "content", "CONCURRENT_EDIT"]])
      assert.include(e2!.message!, "src/a.ts (CONCURRENT_EDIT)")
      assert.strictEqual(t.tip("two"), two)
      assert.strictEqual(fs.readFileSync(path.join(t.repo.root, "src/a.ts"), "utf8"), "export const a = 2\n")
    }))

  it.scopedLive("bad input: unknown candidate, missing or non-branch target, no commits, the target itself, shell syntax", () =>
    Effect.gen(function*() {
      const t = yield* setup()
      t.branch("x", { "x.txt": "x\n" })
      t.repo.git(["tag", "v1"])
      t.repo.git(["branch", "empty"])
      const reason = (req: Omit<Landing.RunRequest, "repo">) =>
        t.land(req).pipe(Effect.flip, Effect.map((e) => (e._tag === "LandError" ? e.reason : e._tag)))
      assert.strictEqual(yield* reason({ candidates: ["nope"] }), "UnknownCandidate")
      assert.strictEqual(yield* reason({ candidates: ["--upload-pack=x"] }), "UnknownCandidate")
      assert.strictEqual(yield* reason({ candidates: ["x"], into: "missing" }), "TargetNotFound")
      assert.strictEqual(yield* reason({ candidates: ["x"], into: "v1" }), "NotABranch")
      assert.strictEqual(yield* reason({ candidates: ["empty"] }), "NoCommits")
      assert.strictEqual(yield* reason({ candidates: ["main"] }), "SameBranch")
      assert.strictEqual(yield* reason({ candidates: ["x"], test: "npm test && rm -rf /" }), "BadTestCommand")
      assert.strictEqual(yield* reason({ candidates: ["x"], test: "echo $HOME" }), "BadTestCommand")
      // Nothing was queued by any of these.
      const status = yield* t.run(Effect.flatMap(Landing.Landing, (l) => l.status({ repo: t.repo.root })))
      assert.deepStrictEqual(status.entries, [])
    }))

  it.scopedLive("a repository in the middle of a merge is refused; a dirty checked-out target moves nothing and keeps the queue", () =>
    Effect.gen(function*() {
      const t = yield* setup()
      t.branch("x", { "x.txt": "x\n" })
      t.branch("clash", { "README.md": "# clash\n" })
      t.repo.write("README.md", "# main side\n")
      t.repo.commitAll("main edits README")
      const before = t.tip()
      assert.notStrictEqual(Git.gitTry(t.repo.root, ["merge", "clash"], t.repo.env).status, 0)
      const busy = yield* t.land({ candidates: ["x"] }).pipe(Effect.flip)
      assert.strictEqual(busy._tag === "LandError" && busy.reason, "RepositoryBusy")
      t.repo.git(["merge", "--abort"])
      // A rebase stopped on a conflict: HEAD is detached, and the rebase is what the error names.
      assert.notStrictEqual(Git.gitTry(t.repo.root, ["rebase", "clash"], t.repo.env).status, 0)
      const rebasing = yield* t.land({ candidates: ["x"] }).pipe(Effect.flip)
      assert.strictEqual(rebasing._tag === "LandError" && rebasing.reason, "RepositoryBusy")
      assert.include(rebasing.message, "in the middle of a rebase of main")
      t.repo.git(["rebase", "--abort"])

      t.repo.write("src/a.ts", "export const a = 'uncommitted'\n")
      const dirty = yield* t.land({ candidates: ["x"] }).pipe(Effect.flip)
      assert.strictEqual(dirty._tag === "LandError" && dirty.reason, "TargetDirty")
      assert.include(dirty.message, "src/a.ts")
      assert.strictEqual(t.tip(), before)
      assert.strictEqual(fs.readFileSync(path.join(t.repo.root, "src/a.ts"), "utf8"), "export const a = 'uncommitted'\n")
      const queued = yield* t.run(Effect.flatMap(Landing.Landing, (l) => l.status({ repo: t.repo.root })))
      assert.deepStrictEqual(queued.entries.map((e) => [e.name, e.status]), [["x", "queued"]])

      t.repo.git(["checkout", "--", "src/a.ts"])
      const later = yield* t.land({})
      assert.strictEqual(later.landed, 1)
      assert.strictEqual(fs.readFileSync(path.join(t.repo.root, "x.txt"), "utf8"), "x\n")
    }))

  it.scopedLive("a test that hangs is stopped at the timeout and the candidate sent back", () =>
    Effect.gen(function*() {
      const t = yield* setup({ PARALLEL_CC_LAND_TEST_TIMEOUT_MINUTES: "0.02" })
      t.branch("slow", { "s.txt": "s\n" })
      const before = t.tip()
      const report = yield* t.land({ candidates: ["slow"], test: "node -e 'setInterval(()=>{},1000)'" })
      assert.strictEqual(report.entries[0]!.reason, "test_timeout")
      assert.include(report.entries[0]!.detail.logTail!, "stopped after")
      assert.strictEqual(t.tip(), before)
    }))

  it.scopedLive("a target moved by someone else during the run: the batch is integrated again on top, never forced", () =>
    Effect.gen(function*() {
      const base = yield* TempDir.make("pcc-land-pause-")
      const signal = path.join(base, "go")
      const t = yield* setup({ PARALLEL_CC_LAND_PAUSE_AT: "integrated", PARALLEL_CC_LAND_PAUSE_FILE: signal })
      t.branch("y", { "y.txt": "y\n" })
      const events: Array<Landing.LandEvent> = []
      const fiber = yield* Effect.fork(t.land({ candidates: ["y"] }, events))
      while (!fs.existsSync(`${signal}.reached`)) yield* Effect.sleep("20 millis")
      t.repo.write("other.txt", "someone else\n")
      const theirs = t.repo.commitAll("someone else's commit")
      fs.writeFileSync(signal, "")
      const report = yield* Fiber.join(fiber)
      assert.strictEqual(report.landed, 1)
      assert.strictEqual(t.repo.git(["rev-parse", "main^1"]).trim(), theirs)
      assert.isTrue(events.some((e) => e._tag === "TargetMoved"))
      assert.strictEqual(fs.readFileSync(path.join(t.repo.root, "y.txt"), "utf8"), "y\n")
    }))

  it.scopedLive("request, status and cancel: a session's branch queued by its agent, landed by a later run", () =>
    Effect.gen(function*() {
      const t = yield* setup({ PARALLEL_CC_LAND_AGENT_TESTS: JSON.stringify(["node check.mjs"]) })
      const landing = (f: (l: Landing.Landing["Type"]) => Effect.Effect<any, any>) => t.run(Effect.flatMap(Landing.Landing, f))
      const reg = yield* t.run(Effect.flatMap(Sessions.Sessions, (s) => s.register({ repo: t.repo.root, pid: process.pid, forceWorktree: true })))
      const sessionId = reg.session.sessionId
      const noCommits = yield* landing((l) => l.request({ sessionId })).pipe(Effect.flip)
      assert.strictEqual(noCommits.reason, "NoCommits")
      t.repo.write("s.txt", "s\n", reg.session.worktreePath)
      t.repo.commitAll("session work", reg.session.worktreePath)
      const refused = yield* landing((l) => l.request({ sessionId, test: "rm -rf ." })).pipe(Effect.flip)
      assert.strictEqual(refused.reason, "TestNotAllowed")
      const entry = yield* landing((l) => l.request({ sessionId, test: "node check.mjs" }))
      assert.strictEqual(entry.status, "queued")
      assert.strictEqual(entry.requestedBy, `session:${sessionId}`)
      assert.strictEqual(entry.testCommand, "node check.mjs")
      const again = yield* landing((l) => l.request({ sessionId }))
      assert.strictEqual(again.entryId, entry.entryId)
      const mine = yield* landing((l) => l.status({ sessionId }))
      assert.deepStrictEqual(mine.entries.map((e: Landing.LandEntryJson) => e.entryId), [entry.entryId])

      const report = yield* t.land({})
      assert.strictEqual(report.landed, 1)
      assert.strictEqual(report.entries[0]!.entryId, entry.entryId)
      // The agent hears it on its next tool call (the session hook delivers pending notices once).
      const notices = yield* t.run(Effect.flatMap(SessionFiles.SessionFiles, (f) => f.pendingNotices(reg.session.sessionId)))
      assert.deepStrictEqual(notices.map((n) => n.key), [`land:${entry.entryId}`])
      assert.include(notices[0]!.text, `landed your branch ${reg.session.branch} in main`)
      assert.strictEqual(fs.readFileSync(path.join(t.repo.root, "s.txt"), "utf8"), "s\n")
      const cancelDone = yield* landing((l) => l.cancel(entry.entryId)).pipe(Effect.flip)
      assert.strictEqual(cancelDone._tag, "InvalidInput")

      t.repo.write("s2.txt", "s2\n", reg.session.worktreePath)
      t.repo.commitAll("more session work", reg.session.worktreePath)
      const second = yield* landing((l) => l.request({ sessionId }))
      const cancelled = yield* landing((l) => l.cancel(second.entryId))
      assert.strictEqual(cancelled.status, "cancelled")
      const empty = yield* t.land({})
      assert.strictEqual(empty.entries.length, 0)

      // Named by a run: what was left uncommitted in its worktree is noted on the entry, sent back or not.
      t.repo.write("BROKEN", "x\n", reg.session.worktreePath)
      t.repo.commitAll("breaks the check", reg.session.worktreePath)
      t.repo.write("wip.txt", "wip\n", reg.session.worktreePath)
      const broken = yield* t.land({ candidates: [sessionId] })
      assert.strictEqual(broken.entries[0]!.status, "sent_back")
      assert.deepStrictEqual(broken.entries[0]!.detail.warnings, [
        `1 uncommitted file in ${reg.session.worktreePath} is not part of this landing (only commits are landed)`
      ])
    }))
})

describe("Landing: the test worktree is set up like a session's", () => {
  /** Installs "dependencies": node_modules/dep/index.js holds package-lock.json's content; "bad" fails. */
  const install = (counter: string) =>
    [
      process.execPath,
      "-e",
      "const fs = require('node:fs'); const lock = fs.readFileSync('package-lock.json', 'utf8').trim();" +
      ` fs.appendFileSync(${JSON.stringify(counter)}, lock + '\\n');` +
      " if (lock === 'bad') { console.error('npm ERR! cannot install bad'); process.exit(3) }" +
      " fs.mkdirSync('node_modules/dep', { recursive: true }); fs.writeFileSync('node_modules/dep/index.js', lock)"
    ]
  const checkEnv = "import fs from 'node:fs'\n" +
    "const has = (f) => fs.existsSync(f)\n" +
    "const dep = has('node_modules/dep/index.js') ? fs.readFileSync('node_modules/dep/index.js', 'utf8') : 'missing'\n" +
    "const lock = fs.readFileSync('package-lock.json', 'utf8').trim()\n" +
    "console.log(`env=${has('.env')} include=${has('secrets.local')} local=${has('local.json')} dep=${dep} lock=${lock}`)\n" +
    "if (dep !== lock || !has('.env') || !has('secrets.local') || !has('local.json')) process.exit(1)\n"

  it.scopedLive(".worktreeinclude, worktree.share, worktree.copy and worktree.setup; changed dependencies installed again, never into the main checkout's", () =>
    Effect.gen(function*() {
      const base = yield* TempDir.make("pcc-land-setup-")
      const counter = path.join(base, "installs")
      const t = yield* setup({
        PARALLEL_CC_LAND_TEST: "node check-env.mjs",
        PARALLEL_CC_WORKTREE_SHARE: JSON.stringify(["node_modules"]),
        PARALLEL_CC_WORKTREE_SHARE_MODE: "symlink",
        PARALLEL_CC_WORKTREE_COPY: JSON.stringify([".env", "local.json"]),
        PARALLEL_CC_WORKTREE_SETUP: JSON.stringify([install(counter)])
      })
      // A trailing slash: the shared folder, a symlink in the test worktree, is not ignored there.
      t.repo.write(".gitignore", "node_modules/\n.env\nsecrets.local\n")
      t.repo.write(".worktreeinclude", "secrets.local\n")
      t.repo.write("package-lock.json", "v1\n")
      t.repo.write("check-env.mjs", checkEnv)
      t.repo.commitAll("dependencies and their check")
      t.repo.write("node_modules/dep/index.js", "v1")
      t.repo.write(".env", "KEY=1\n")
      t.repo.write("secrets.local", "s\n")
      t.repo.write("local.json", "{}\n") // untracked and not ignored: kept across checkouts all the same
      const mainDep = path.join(t.repo.root, "node_modules", "dep", "index.js")
      const installs = () => (fs.existsSync(counter) ? fs.readFileSync(counter, "utf8").trim().split("\n") : [])
      const warnings = (events: ReadonlyArray<Landing.LandEvent>) =>
        events.flatMap((e) => (e._tag === "Warning" ? [e.message] : []))

      // Same lockfile: the main checkout's node_modules is shared, nothing installed.
      t.branch("plain", { "p.txt": "p\n" })
      const a = yield* t.land({ candidates: ["plain"] })
      assert.strictEqual(a.landed, 1, JSON.stringify(a.entries))
      assert.include(fs.readFileSync(a.entries[0]!.logPath!, "utf8"), "env=true include=true local=true dep=v1 lock=v1")
      assert.deepStrictEqual(installs(), [])

      // A candidate changes the lockfile: the batch's tree installs again (the shared folder taken out first).
      t.branch("plain-2", { "p2.txt": "p2\n" })
      t.branch("deps", { "package-lock.json": "v2\n" })
      const events: Array<Landing.LandEvent> = []
      const b = yield* t.land({ candidates: ["plain-2", "deps"] }, events)
      assert.strictEqual(b.landed, 2, JSON.stringify(b.entries))
      assert.strictEqual(b.tests.runs, 1)
      assert.include(fs.readFileSync(b.entries[1]!.logPath!, "utf8"), "dep=v2 lock=v2")
      assert.deepStrictEqual(installs(), ["v2"])
      assert.isTrue(warnings(events).some((w) => w.startsWith("package-lock.json changed: worktree.setup ran again")), warnings(events).join("\n"))
      assert.strictEqual(fs.readFileSync(mainDep, "utf8"), "v1")

      // An install that fails sends the candidate back with what failed; main and its node_modules stay.
      const before = t.tip()
      t.branch("bad-deps", { "package-lock.json": "bad\n" })
      const c = yield* t.land({ candidates: ["bad-deps"] })
      assert.strictEqual(c.sentBack, 1)
      assert.strictEqual(c.entries[0]!.reason, "tests_failed")
      assert.include(c.entries[0]!.message!, "failed (exit 3) after package-lock.json changed")
      assert.include(c.entries[0]!.detail.logTail!, "npm ERR! cannot install bad")
      assert.include(fs.readFileSync(c.entries[0]!.logPath!, "utf8"), "npm ERR! cannot install bad")
      assert.strictEqual(t.tip(), before)
      assert.strictEqual(fs.readFileSync(mainDep, "utf8"), "v1")
      assert.deepStrictEqual(fs.readdirSync(path.join(t.dataDir, "land", "work")), [])
    }))

  it.scopedLive("a setup that cannot work on the target itself stops the run with SetupFailed; nothing moves, the queue is kept", () =>
    Effect.gen(function*() {
      // worktree.share names a folder the main checkout lacks, and no worktree.setup would install it.
      const t = yield* setup({ PARALLEL_CC_WORKTREE_SHARE: JSON.stringify(["node_modules"]) })
      t.repo.write("package.json", "{}\n")
      t.repo.commitAll("a package")
      t.branch("x", { "x.txt": "x\n" })
      const before = t.tip()
      const err = yield* t.land({ candidates: ["x"] }).pipe(Effect.flip)
      assert.strictEqual(err._tag === "LandError" && err.reason, "SetupFailed")
      assert.include(err.message, "worktree.share lists node_modules")
      assert.strictEqual(t.tip(), before)
      const queue = yield* t.run(Effect.flatMap(Landing.Landing, (l) => l.status({ repo: t.repo.root })))
      assert.deepStrictEqual(queue.entries.map((e: Landing.LandEntryJson) => [e.name, e.status]), [["x", "queued"]])
      assert.deepStrictEqual(fs.readdirSync(path.join(t.dataDir, "land", "work")), [])
    }))
})

describe("Landing: integration on git objects", () => {
  it.scopedLive("the conflict engine's own autoApply resolution (both sides bumped a version in JSON; the higher is kept) lands the candidate", () =>
    Effect.gen(function*() {
      const t = yield* setup()
      const pkg = (version: string) => JSON.stringify({ name: "r", version: "1.0.0", dependencies: { lib: version } }, null, 2) + "\n"
      t.repo.write("package.json", pkg("1.0.0"))
      t.repo.commitAll("package.json")
      t.branch("bump-high", { "package.json": pkg("1.3.0") })
      const low = t.branch("bump-low", { "package.json": pkg("1.2.5"), "low.txt": "low\n" })
      const report = yield* t.land({ candidates: ["bump-high", "bump-low"] })
      assert.deepStrictEqual(report.entries.map((e) => [e.name, e.status]), [["bump-high", "landed"], ["bump-low", "landed"]])
      const resolutions = report.entries[1]!.detail.resolutions
      assert.deepStrictEqual(resolutions.map((r) => r.path), ["package.json"])
      assert.isAbove(resolutions[0]!.confidence, 0)
      assert.strictEqual(JSON.parse(t.repo.git(["show", "main:package.json"])).dependencies.lib, "1.3.0")
      assert.strictEqual(t.repo.git(["show", "main:low.txt"]), "low\n")
      assert.strictEqual(t.tip("bump-low"), low, "the candidate's branch is untouched")
    }))

  it.scopedLive("a conflict whose resolution is marked autoApply is written into the merged tree, with its confidence reported", () =>
    Effect.gen(function*() {
      const t = yield* setup()
      t.branch("one", { "src/a.ts": "export const a = 2\n", "keep.txt": "k\n" })
      const two = t.branch("two", { "src/a.ts": "export const a = 3\n" })
      // Land `one`, then integrate `two` on top with a resolver that trusts its resolution of src/a.ts.
      yield* t.land({ candidates: ["one"] })
      const scratch = path.join(t.base, "scratch")
      fs.mkdirSync(scratch)
      const resolver: Resolve.Resolver = (req) =>
        Effect.succeed(req.files.map((f) => ({
          path: f.path,
          kind: f.kind,
          class: "CONCURRENT_EDIT",
          autoApply: true,
          complete: true,
          content: new TextEncoder().encode("export const a = 5\n"),
          strategy: "keep-both",
          confidence: 0.97,
          note: "fixture"
        })))
      const r = yield* t.run(Effect.gen(function*() {
        const ctx: Integrate.Context = {
          git: yield* GitService.Git,
          fs: yield* FileSystem.FileSystem,
          path: yield* Path.Path,
          repo: t.repo.root,
          scratchDir: scratch,
          identityEnv: {},
          resolver
        }
        return yield* Integrate.integrate(ctx, t.tip(), { head: two, name: "two", sessionId: null }, "merge", "main")
      }))
      assert.strictEqual(r._tag, "Clean")
      if (r._tag !== "Clean") return
      assert.deepStrictEqual(r.resolutions, [{ path: "src/a.ts", strategy: "keep-both", confidence: 0.97, class: "CONCURRENT_EDIT", commit: null }])
      assert.strictEqual(t.repo.git(["show", `${r.commit}:src/a.ts`]), "export const a = 5\n")
      assert.strictEqual(t.repo.git(["show", `${r.commit}:keep.txt`]), "k\n")
      assert.deepStrictEqual(t.repo.git(["rev-list", "--parents", "-1", r.commit]).trim().split(" ").slice(1), [t.tip(), two])
      assert.deepStrictEqual(fs.readdirSync(scratch), [])
      // main did not move: integration writes objects only.
      assert.strictEqual(t.repo.git(["status", "--porcelain"]), "")
    }))
})
