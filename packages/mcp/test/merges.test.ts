import { TempDir } from "@parallel-cc/testkit"
import { afterEach, assert, describe, it } from "vitest"
import { world, type World } from "./harness.js"

const worlds: Array<World> = []
const make = (...args: Parameters<typeof world>) => {
  const w = world(...args)
  worlds.push(w)
  return w
}
afterEach(async () => {
  for (const w of worlds.splice(0)) await w.dispose()
})

describe("merge tools", () => {
  it("notify_when_merged / check_merge_status / get_merge_events through a squash and a rebase merge", async () => {
    const w = make()
    w.register() // the main session, in the repository itself
    const a = w.register()
    const b = w.register()
    const commit = (wt: string, file: string) => {
      w.repo.write(file, `${file}\n`, wt)
      return w.repo.commitAll(`add ${file}`, wt)
    }
    commit(a.worktreePath, "a1.txt")
    const aHead = commit(a.worktreePath, "a2.txt")
    const [sa, sb, sm] = await Promise.all([w.connect(a.worktreePath), w.connect(b.worktreePath), w.connect(w.repo.root)])

    const sub = await sa.ok("notify_when_merged")
    assert.isTrue(sub.created)
    assert.isNull(sub.alreadyMerged)
    assert.deepInclude(sub.subscription, { branch: a.branch, targetBranch: "main", sessionId: a.sessionId, notifiedAt: null })
    assert.isFalse((await sa.ok("notify_when_merged")).created)

    const before = await sa.ok("check_merge_status")
    assert.deepInclude(before, { branch: a.branch, targetBranch: "main", merged: false, ahead: 2, behind: 0, branchHead: aHead })

    // Squash-merge a's branch in the repository.
    w.repo.git(["merge", "-q", "--squash", a.branch!])
    const squash = w.repo.commitAll("squash a")
    const after = await sa.ok("check_merge_status")
    assert.isTrue(after.merged)
    assert.isTrue(after.newlyRecorded)
    assert.deepInclude(after.event, { method: "squash", mergeCommit: squash, branchHead: aHead, sessionId: a.sessionId })
    assert.strictEqual(after.subscriptions[0].mergeEventId, after.event.eventId)
    assert.isNotNull(after.subscriptions[0].notifiedAt)
    // Asked again: same event, not recorded twice.
    const again = await sm.ok("check_merge_status", { branch: a.branch })
    assert.isFalse(again.newlyRecorded)
    assert.strictEqual(again.event.eventId, after.event.eventId)

    // b's work is rebase-merged (its commits replayed onto main); the watcher process records it.
    const b1 = commit(b.worktreePath, "b1.txt")
    const b2 = commit(b.worktreePath, "b2.txt")
    w.repo.git(["cherry-pick", b1, b2])
    const watched = w.cli(["watch", "merges", "--once", "--json"])
    assert.strictEqual(watched.code, 0, watched.stderr)
    const lines = watched.stdout.trim().split("\n").map((l) => JSON.parse(l))
    assert.deepStrictEqual(lines.map((e) => [e.branch, e.method]), [[b.branch, "rebase"]])

    const late = await sb.ok("notify_when_merged")
    assert.strictEqual(late.alreadyMerged.eventId, lines[0].eventId)
    assert.isNotNull(late.subscription.notifiedAt)

    const events = await sm.ok("get_merge_events")
    assert.strictEqual(events.repoPath, w.repo.root)
    assert.deepStrictEqual(events.events.map((e: any) => e.branch), [b.branch, a.branch])
    const newer = await sm.ok("get_merge_events", { afterId: after.event.eventId })
    assert.deepStrictEqual(newer.events.map((e: any) => e.branch), [b.branch])
    assert.strictEqual((await sm.ok("get_merge_events", { branch: a.branch, limit: 1 })).total, 1)
    assert.strictEqual((await sm.ok("get_merge_events", { allRepos: true })).total, 2)
  })

  it("bad inputs are tool errors, for every merge tool", async () => {
    const w = make()
    w.register()
    const a = w.register()
    const [sm, sa] = await Promise.all([w.connect(w.repo.root), w.connect(a.worktreePath)])
    const invalid = async (name: string, args: Record<string, unknown>) =>
      assert.include((await sm.fails(name, args)).text, "Input validation error", `${name} ${JSON.stringify(args)}`)
    await invalid("notify_when_merged", { branch: "" })
    await invalid("notify_when_merged", { branch: 7 })
    await invalid("notify_when_merged", { branch: "x".repeat(201) })
    await invalid("check_merge_status", { target: "main" })
    await invalid("get_merge_events", { limit: 0 })
    await invalid("get_merge_events", { limit: 501 })
    await invalid("get_merge_events", { afterId: -1 })
    await invalid("get_merge_events", { afterId: "1" })

    // The main session has no branch of its own.
    assert.strictEqual((await sm.fails("notify_when_merged"))._tag, "InvalidInput")
    assert.strictEqual((await sm.fails("check_merge_status"))._tag, "InvalidInput")
    // Option-looking and malformed branch names never reach git as options.
    for (const branch of ["--upload-pack=touch /tmp/pwned", "-x", "a..b", "a b", "HEAD@{1}"]) {
      const e = await sa.fails("check_merge_status", { branch })
      assert.strictEqual(e._tag, "InvalidInput", branch)
    }
    assert.strictEqual((await sa.fails("notify_when_merged", { branch: "no-such-branch" })).reason, "BranchNotFound")
    assert.strictEqual((await sa.fails("check_merge_status", { targetBranch: a.branch })).reason, "SameBranch")
    assert.strictEqual((await sa.fails("check_merge_status", { targetBranch: "nope" })).reason, "TargetNotFound")
    assert.strictEqual((await sa.fails("check_merge_status", { repo: "/no/such/dir" }))._tag, "InvalidInput")

    const outside = TempDir.makeSync()
    try {
      const anon = await w.connect(outside)
      assert.strictEqual((await anon.fails("notify_when_merged", { branch: a.branch }))._tag, "NoCallingSession")
      assert.strictEqual((await anon.fails("check_merge_status", { branch: a.branch }))._tag, "InvalidInput")
      const ok = await anon.ok("check_merge_status", { branch: a.branch, repo: w.repo.root })
      assert.isFalse(ok.merged)
      assert.strictEqual((await anon.ok("get_merge_events")).repoPath, null)
    } finally {
      TempDir.removeSync(outside)
    }
    assert.strictEqual((await sa.ok("check_merge_status")).branch, a.branch)
  })
})
