import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, assert, describe, it } from "vitest"
import { world, type World } from "./harness.js"

const worlds: Array<World> = []
afterEach(async () => {
  for (const w of worlds.splice(0)) await w.dispose()
})

// check_conflicts asks git for the directory's top level, the repository and both refs' commits in one
// `rev-parse` per call, then runs merge-base and merge-tree side by side. Nothing is remembered between
// calls: these tests move refs and replace repositories under one running server and expect every answer
// to be today's, and every bad input to be named as before.
describe("check_conflicts (one server, refs and repositories changing under it)", () => {
  it("follows refs that move between calls, and resolves HEAD, hexadecimal and dotted ref names", async () => {
    const w = world({ files: { "notes.txt": "one\ntwo\nthree\n", "other.txt": "x\n" } })
    worlds.push(w)
    const root = w.repo.root
    w.repo.git(["branch", "feature"])
    w.repo.git(["branch", "release/1.2"])
    w.repo.write("notes.txt", "one\nTWO (main)\nthree\n")
    w.repo.commitAll("main edit")
    const server = await w.connect(root)
    const commit = (ref: string) => w.repo.git(["rev-parse", ref]).trim()

    const first = await server.ok("check_conflicts", { currentBranch: "feature", targetBranch: "main" })
    assert.isTrue(first.clean)
    assert.strictEqual(first.repo, root)
    assert.deepStrictEqual(first.ours, { ref: "main", commit: commit("main") })
    assert.deepStrictEqual(first.theirs, { ref: "feature", commit: commit("feature") })
    assert.strictEqual(first.mergeBase, commit("feature"))
    assert.strictEqual(first.guidance, "feature merges cleanly into main")

    // feature moves: the next answer is about its new commit, which now conflicts.
    w.repo.git(["checkout", "-q", "feature"])
    w.repo.write("notes.txt", "one\nTWO (feature)\nthree\n")
    w.repo.commitAll("feature edit")
    w.repo.git(["checkout", "-q", "main"])
    const second = await server.ok("check_conflicts", { currentBranch: "feature", targetBranch: "main" })
    assert.isFalse(second.clean)
    assert.strictEqual(second.theirs.commit, commit("feature"))
    assert.notStrictEqual(second.theirs.commit, first.theirs.commit)
    assert.deepStrictEqual(second.files.map((f: any) => [f.path, f.kind]), [["notes.txt", "content"]])

    // main moves to feature's change: clean again, with main's new commit and merge base.
    w.repo.git(["merge", "-q", "-X", "theirs", "feature"])
    const third = await server.ok("check_conflicts", { currentBranch: "feature", targetBranch: "main" })
    assert.isTrue(third.clean)
    assert.strictEqual(third.ours.commit, commit("main"))
    assert.strictEqual(third.mergeBase, commit("feature"))

    // HEAD, a short hexadecimal commit and a name git's own rules must check (a dot) resolve the same way.
    const short = commit("feature").slice(0, 10)
    const byOther = await server.ok("check_conflicts", { currentBranch: short, targetBranch: "HEAD" })
    assert.deepStrictEqual(byOther.theirs, { ref: short, commit: commit("feature") })
    assert.deepStrictEqual(byOther.ours, { ref: "HEAD", commit: commit("main") })
    const dotted = await server.ok("check_conflicts", { currentBranch: "release/1.2", targetBranch: "feature" })
    assert.strictEqual(dotted.theirs.commit, commit("release/1.2"))
    assert.strictEqual(dotted.mergeBase, commit("release/1.2"))

    // A bad ref is named, whichever side it is on; unrelated histories are reported as such.
    for (const [args, bad] of [
      [{ currentBranch: "feature", targetBranch: "no-such" }, "no-such"],
      [{ currentBranch: "nope/again", targetBranch: "main" }, "nope/again"],
      [{ currentBranch: "main..feature", targetBranch: "main" }, "main..feature"],
      [{ currentBranch: "deadbeef00", targetBranch: "main" }, "deadbeef00"]
    ] as const) {
      const e = await server.fails("check_conflicts", args)
      assert.strictEqual(e.reason, "UnknownRef", JSON.stringify(args))
      assert.include(e.message, bad)
    }
    w.repo.git(["checkout", "-q", "--orphan", "island"])
    w.repo.write("z.txt", "z\n")
    w.repo.commitAll("unrelated")
    w.repo.git(["checkout", "-q", "main"])
    const unrelated = await server.fails("check_conflicts", { currentBranch: "island", targetBranch: "main" })
    assert.strictEqual(unrelated.reason, "UnrelatedHistories")
    // Still serving, with today's refs.
    assert.strictEqual((await server.ok("check_conflicts", { currentBranch: "feature", targetBranch: "main" })).ours.commit, commit("main"))
  })

  it("a directory whose repository is replaced, or that becomes a repository of its own, is answered for what it is now", async () => {
    const w = world({ files: { "lib/a.txt": "a\n" } })
    worlds.push(w)
    w.repo.git(["branch", "feature"])
    const server = await w.connect(w.repo.root)
    const args = (repo: string) => ({ repo, currentBranch: "feature", targetBranch: "main" })

    // A linked worktree of the repository, then, at the same path, a repository of its own.
    const spot = path.join(w.repo.base, "spot")
    w.repo.git(["worktree", "add", "-q", "--detach", spot, "main"])
    const inWorktree = await server.ok("check_conflicts", args(spot))
    assert.strictEqual(inWorktree.repo, w.repo.root)
    assert.strictEqual(inWorktree.ours.commit, w.repo.git(["rev-parse", "main"]).trim())
    w.repo.git(["worktree", "remove", spot])
    fs.mkdirSync(spot)
    w.repo.git(["init", "-q", "-b", "main"], spot)
    w.repo.write("own.txt", "own\n", spot)
    w.repo.commitAll("its own history", spot)
    w.repo.git(["branch", "feature"], spot)
    const own = await server.ok("check_conflicts", args(spot))
    assert.strictEqual(own.repo, spot)
    assert.strictEqual(own.ours.commit, w.repo.git(["rev-parse", "main"], spot).trim())

    // A folder of the repository, then a repository of its own inside it.
    const lib = path.join(w.repo.root, "lib")
    assert.strictEqual((await server.ok("check_conflicts", args(lib))).repo, w.repo.root)
    w.repo.git(["init", "-q", "-b", "main"], lib)
    w.repo.commitAll("nested", lib)
    w.repo.git(["branch", "feature"], lib)
    const nested = await server.ok("check_conflicts", args(lib))
    assert.strictEqual(nested.repo, lib)
    assert.strictEqual(nested.ours.commit, w.repo.git(["rev-parse", "main"], lib).trim())

    // No longer a repository at all: the same error as a directory that never was one.
    fs.rmSync(spot, { recursive: true })
    fs.mkdirSync(spot)
    const gone = await server.fails("check_conflicts", args(spot))
    assert.strictEqual(gone._tag, "GitError")
    assert.strictEqual(gone.reason, "NotARepo")
  })

  it("defaults: the session's branch into the branch checked out in the main repository, asked on every call", async () => {
    const w = world({ files: { "notes.txt": "one\n" } })
    worlds.push(w)
    w.register()
    const b = w.register()
    const server = await w.connect(b.worktreePath)
    const first = await server.ok("check_conflicts")
    assert.deepStrictEqual([first.ours.ref, first.theirs.ref, first.clean], ["main", b.branch, true])
    assert.strictEqual(first.repo, w.repo.root)
    // The main repository switches branch, then detaches: the default target follows it.
    w.repo.git(["checkout", "-q", "-b", "next"])
    assert.strictEqual((await server.ok("check_conflicts")).ours.ref, "next")
    w.repo.git(["checkout", "-q", "--detach"])
    const detached = await server.fails("check_conflicts")
    assert.strictEqual(detached.reason ?? detached._tag, "InvalidInput")
    assert.include(detached.message, "no branch checked out")
    // Its own branch as the target: refused, naming it.
    const same = await server.fails("check_conflicts", { targetBranch: b.branch })
    assert.include(same.message, `both ${b.branch}`)
  })
})
