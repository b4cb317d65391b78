import { assert, describe, it } from "@effect/vitest"
import { AppConfig, type Domain, MergeWatcher, Sessions, SessionStore } from "@parallel-cc/core"
import { TempDir, TempRepo, TestConfig } from "@parallel-cc/testkit"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"

/** A repository with a main session, and worktree sessions whose worktrees really exist. */
const setup = Effect.gen(function*() {
  const base = yield* TempDir.make()
  const repo = TempRepo.makeSync(base, { files: { "README.md": "# r\n", "src/a.ts": "export const a = 1\n" } })
  const layer = TestConfig.layer(path.join(base, "data"))
  const run = <A, E>(eff: Effect.Effect<A, E, any>) => Effect.provide(eff, layer) as Effect.Effect<A, E>
  const session = Effect.gen(function*() {
    const store = yield* SessionStore.SessionStore
    const config = yield* AppConfig.AppConfig
    const s = yield* store.register({
      repoPath: repo.root,
      pid: process.pid,
      pidStartTime: null,
      planWorktree: SessionStore.planWorktree(config.values, repo.root)
    })
    if (!s.isMainRepo && !fs.existsSync(s.worktreePath)) {
      repo.git(["worktree", "add", "-q", "-b", s.branch!, s.worktreePath, "HEAD"])
    }
    return s
  })
  /** Commit a change to `file` in the session's worktree. */
  const work = (s: Domain.Session, file: string, content: string) => {
    repo.write(file, content, s.worktreePath)
    return repo.commitAll(`edit ${file}`, s.worktreePath)
  }
  const poll = Effect.flatMap(MergeWatcher.MergeWatcher, (w) => w.poll)
  return { repo, run, session, work, poll }
})

describe("MergeWatcher", () => {
  it.scopedLive("detects merge commits, fast-forwards, squashes, rebases and content merges, each once", () =>
    Effect.gen(function*() {
      const { poll, repo, run, session, work } = yield* setup
      yield* run(Effect.gen(function*() {
        const watcher = yield* MergeWatcher.MergeWatcher
        yield* session // the main session
        const [mc, ff, ffCold, squash, rebase, content, idle] = yield* Effect.all([session, session, session, session, session, session, session])
        const mcHead = (work(mc!, "mc.txt", "1\n"), work(mc!, "mc.txt", "2\n"))
        const ffHead = work(ff!, "ff.txt", "ff\n")
        work(squash!, "sq1.txt", "1\n")
        const sqHead = work(squash!, "sq2.txt", "2\n")
        const rb1 = work(rebase!, "rb1.txt", "1\n")
        const rb2 = work(rebase!, "rb2.txt", "2\n")
        const ctHead = work(content!, "ct.txt", "content\n")

        const first = yield* poll
        assert.deepStrictEqual(first.events, [])
        assert.strictEqual(first.repos, 1)
        assert.strictEqual(first.checked, 7)

        // Merge each branch into main its own way.
        repo.git(["merge", "-q", "--ff-only", ff!.branch!])
        repo.git(["merge", "-q", "--no-ff", "-m", "merge mc", mc!.branch!])
        const mergeCommit = repo.git(["rev-parse", "HEAD"]).trim()
        repo.git(["merge", "-q", "--squash", squash!.branch!])
        const squashCommit = repo.commitAll("squashed")
        repo.git(["cherry-pick", rb1, rb2])
        const rebasedTip = repo.git(["rev-parse", "HEAD"]).trim()
        // "content": the same change lands together with an unrelated one, so no patch-id matches.
        repo.write("ct.txt", "content\n")
        repo.write("unrelated.txt", "x\n")
        repo.commitAll("content and more")
        // ffCold caught up with main, committed, and was fast-forwarded before the watcher saw its commit:
        // its own work is known from the reflog (the catch-up fast-forward is not its own).
        repo.git(["merge", "-q", "--ff-only", "main"], ffCold!.worktreePath)
        const coldHead = work(ffCold!, "cold.txt", "cold\n")
        repo.git(["merge", "-q", "--ff-only", ffCold!.branch!])
        repo.write("after.txt", "later\n")
        repo.commitAll("main moves on")

        const second = yield* poll
        const byBranch = Object.fromEntries(second.events.map((e) => [e.branch, e]))
        assert.sameMembers(Object.keys(byBranch), [mc!.branch!, ff!.branch!, ffCold!.branch!, squash!.branch!, rebase!.branch!, content!.branch!])
        assert.deepInclude(byBranch[mc!.branch!], { method: "merge-commit", mergeCommit, branchHead: mcHead, targetBranch: "main", sessionId: mc!.sessionId })
        assert.deepInclude(byBranch[ff!.branch!], { method: "fast-forward", mergeCommit: ffHead })
        assert.deepInclude(byBranch[ffCold!.branch!], { method: "fast-forward", branchHead: coldHead })
        assert.deepInclude(byBranch[squash!.branch!], { method: "squash", mergeCommit: squashCommit, branchHead: sqHead })
        assert.deepInclude(byBranch[rebase!.branch!], { method: "rebase", mergeCommit: rebasedTip, branchHead: rb2 })
        assert.deepInclude(byBranch[content!.branch!], { method: "content", branchHead: ctHead })
        // The idle branch (no commits of its own) is on main's line too, but was never merged.
        assert.notProperty(byBranch, idle!.branch!)

        // Once: polling again, and checking, record nothing new.
        assert.deepStrictEqual((yield* poll).events, [])
        const again = yield* watcher.check({ repoPath: repo.root, branch: squash!.branch! })
        assert.isFalse(again.newlyRecorded)
        assert.strictEqual(again.event?.eventId, byBranch[squash!.branch!]!.eventId)
        assert.lengthOf(yield* watcher.events({ repoPath: repo.root }), 6)

        // New work on a merged branch is not merged.
        work(mc!, "mc.txt", "3\n")
        assert.deepStrictEqual((yield* poll).events, [])
        const status = yield* watcher.check({ repoPath: repo.root, branch: mc!.branch! })
        assert.isNull(status.event)
        assert.strictEqual(status.ahead, 1)
      }))
    }))

  it.scopedLive("a branch deleted right after its merge is still recognised; discarded work is not a merge", () =>
    Effect.gen(function*() {
      const { poll, repo, run, session, work } = yield* setup
      yield* run(Effect.gen(function*() {
        yield* session
        const gone = yield* session
        const reset = yield* session
        work(gone, "g1.txt", "g\n")
        const head = work(gone, "g2.txt", "g\n")
        work(reset, "r.txt", "r\n")
        yield* poll
        repo.git(["merge", "-q", "--squash", gone.branch!])
        repo.commitAll("squash gone")
        repo.git(["worktree", "remove", "--force", gone.worktreePath])
        repo.git(["branch", "-D", gone.branch!])
        // The other session throws its work away and goes back to main.
        repo.git(["reset", "-q", "--hard", "main"], reset.worktreePath)

        const report = yield* poll
        assert.deepStrictEqual(report.events.map((e) => [e.branch, e.method, e.branchHead]), [[gone.branch!, "squash", head]])
        assert.deepStrictEqual((yield* poll).events, [])
      }))
    }))

  it.scopedLive("subscriptions: pending until the merge, satisfied at once when already merged; bad requests are typed", () =>
    Effect.gen(function*() {
      const { poll, repo, run, session, work } = yield* setup
      yield* run(Effect.gen(function*() {
        const watcher = yield* MergeWatcher.MergeWatcher
        const main = yield* session
        const a = yield* session
        work(a, "a.txt", "a\n")
        const sub = yield* watcher.subscribe({ sessionId: main.sessionId, repoPath: repo.root, branch: a.branch! })
        assert.isTrue(sub.created)
        assert.isNull(sub.alreadyMerged)
        assert.strictEqual(sub.subscription.targetBranch, "main")
        assert.isNull(sub.subscription.notifiedAt)
        const dup = yield* watcher.subscribe({ sessionId: main.sessionId, repoPath: repo.root, branch: a.branch! })
        assert.isFalse(dup.created)
        assert.strictEqual(dup.subscription.subscriptionId, sub.subscription.subscriptionId)

        repo.git(["merge", "-q", "--no-ff", "-m", "merge a", a.branch!])
        const [event] = (yield* poll).events
        const [notified] = yield* watcher.subscriptions({ sessionId: main.sessionId })
        assert.strictEqual(notified!.mergeEventId, event!.eventId)
        assert.isNotNull(notified!.notifiedAt)
        assert.lengthOf(yield* watcher.subscriptions({ pendingOnly: true }), 0)

        const late = yield* watcher.subscribe({ sessionId: a.sessionId, repoPath: repo.root, branch: a.branch! })
        assert.strictEqual(late.alreadyMerged?.eventId, event!.eventId)
        assert.isNotNull(late.subscription.notifiedAt)

        const fail = (req: { branch: string; targetBranch?: string }) =>
          watcher.check({ repoPath: repo.root, ...req }).pipe(Effect.flip, Effect.map((e) => `${e._tag}:${"reason" in e ? e.reason : ""}`))
        assert.strictEqual(yield* fail({ branch: "no-such-branch" }), "MergeWatchError:BranchNotFound")
        assert.strictEqual(yield* fail({ branch: "main" }), "MergeWatchError:SameBranch")
        assert.strictEqual(yield* fail({ branch: a.branch!, targetBranch: "nope" }), "MergeWatchError:TargetNotFound")
        assert.strictEqual(yield* fail({ branch: "--upload-pack=evil" }), "InvalidInput:")
        assert.strictEqual(yield* fail({ branch: "a..b" }), "InvalidInput:")
      }))
    }))

  it.scopedLive("a session branch's target is the branch its worktree was created from", () =>
    Effect.gen(function*() {
      const { poll, repo, run } = yield* setup
      yield* run(Effect.gen(function*() {
        const sessions = yield* Sessions.Sessions
        const watcher = yield* MergeWatcher.MergeWatcher
        repo.git(["switch", "-q", "-c", "develop"])
        yield* sessions.register({ repo: repo.root, pid: process.pid })
        const s = (yield* sessions.register({ repo: repo.root, pid: process.pid })).session
        assert.strictEqual(s.baseBranch, "develop")
        repo.git(["switch", "-q", "main"])
        repo.write("d.txt", "d\n", s.worktreePath)
        repo.commitAll("on develop's session", s.worktreePath)
        assert.strictEqual((yield* watcher.check({ repoPath: repo.root, branch: s.branch! })).targetBranch, "develop")
        assert.deepStrictEqual((yield* poll).events, [])
        repo.git(["switch", "-q", "develop"])
        repo.git(["merge", "-q", "--no-ff", "-m", "merge into develop", s.branch!])
        repo.git(["switch", "-q", "main"])
        assert.deepStrictEqual((yield* poll).events.map((e) => [e.branch, e.targetBranch, e.method]), [[s.branch!, "develop", "merge-commit"]])
      }))
    }))
})
