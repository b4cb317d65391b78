import { assert, describe, it } from "@effect/vitest"
import { Worktrees } from "@parallel-cc/core"
import { TempDir, TempRepo, TestConfig } from "@parallel-cc/testkit"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"

const setup = Effect.gen(function*() {
  const base = yield* TempDir.make()
  const repo = TempRepo.makeSync(base, { files: { "README.md": "# r\n", ".gitignore": "ignored/\n.env\n" } })
  const data = path.join(base, "data")
  return { repo, data, wtRoot: `${repo.root}-worktrees` }
})

const withWorktrees = <A, E>(data: string, eff: Effect.Effect<A, E, Worktrees.Worktrees>) =>
  Effect.provide(eff, TestConfig.layer(data))

const branches = (repo: TempRepo.TempRepo) =>
  repo.git(["for-each-ref", "--format=%(refname:short)", "refs/heads/"]).trim().split("\n").filter((b) => b !== "")

describe("Worktrees", () => {
  it.scopedLive("create, list, inspect clean, remove: the branch goes too when fully merged", () =>
    Effect.gen(function*() {
      const { data, repo, wtRoot } = yield* setup
      const wtPath = path.join(wtRoot, "w1")
      yield* withWorktrees(data, Effect.gen(function*() {
        const w = yield* Worktrees.Worktrees
        const created = yield* w.create({ repoPath: repo.root, path: wtPath, branch: "feature/w1" })
        assert.strictEqual(created.branch, "feature/w1")
        assert.isTrue(fs.existsSync(path.join(wtPath, "README.md")))
        const list = yield* w.list(repo.root)
        assert.strictEqual(list.length, 2)
        assert.isTrue(list[0]!.isMain)
        assert.strictEqual(list[1]!.branch, "feature/w1")
        fs.mkdirSync(path.join(wtPath, "ignored"))
        fs.writeFileSync(path.join(wtPath, "ignored", "build.out"), "x")
        const insp = yield* w.inspect({ repoPath: repo.root, path: wtPath, branch: "feature/w1" })
        assert.isTrue(insp.lossless, insp.summary)
        assert.strictEqual(insp.summary, "clean")
        const r = yield* w.remove({ repoPath: repo.root, path: wtPath, branch: "feature/w1" })
        assert.strictEqual(r.outcome, "removed")
        assert.strictEqual(r.branch?.outcome, "deleted")
        assert.isFalse(fs.existsSync(wtPath))
        assert.notInclude(branches(repo), "feature/w1")
      }))
    }))

  it.scopedLive("never loses work: uncommitted, untracked, unmerged and detached commits keep the worktree; force removes it", () =>
    Effect.gen(function*() {
      const { data, repo, wtRoot } = yield* setup
      yield* withWorktrees(data, Effect.gen(function*() {
        const w = yield* Worktrees.Worktrees
        const mk = (name: string) => w.create({ repoPath: repo.root, path: path.join(wtRoot, name), branch: name })
        const req = (name: string) => ({ repoPath: repo.root, path: path.join(wtRoot, name), branch: name })

        yield* mk("dirty")
        fs.appendFileSync(path.join(wtRoot, "dirty", "README.md"), "more\n")
        yield* mk("untracked")
        fs.writeFileSync(path.join(wtRoot, "untracked", "notes.txt"), "new\n")
        yield* mk("unmerged")
        repo.write("feature.txt", "f\n", path.join(wtRoot, "unmerged"))
        const tip = repo.commitAll("feature", path.join(wtRoot, "unmerged"))
        yield* mk("detached")
        const det = path.join(wtRoot, "detached")
        repo.git(["checkout", "-q", "--detach"], det)
        repo.write("d.txt", "d\n", det)
        repo.commitAll("detached work", det)

        const expectations: Record<string, string> = {
          dirty: "1 uncommitted change",
          untracked: "1 untracked file",
          unmerged: "1 commit only on branch unmerged",
          detached: "1 commit at a detached HEAD on no branch"
        }
        for (const [name, summary] of Object.entries(expectations)) {
          const r = yield* w.remove(req(name))
          assert.strictEqual(r.outcome, "kept", name)
          assert.include(r.detail, summary)
          assert.isTrue(fs.existsSync(path.join(wtRoot, name)), name)
          assert.include(branches(repo), name)
        }

        // Merged meanwhile: now it goes, and so does its branch.
        repo.git(["merge", "-q", "--ff-only", "unmerged"])
        const merged = yield* w.remove(req("unmerged"))
        assert.strictEqual(merged.outcome, "removed")
        assert.strictEqual(merged.branch?.outcome, "deleted")

        const forced = yield* w.remove({ ...req("dirty"), force: true })
        assert.strictEqual(forced.outcome, "removed")
        assert.isFalse(fs.existsSync(path.join(wtRoot, "dirty")))
        assert.notInclude(branches(repo), "dirty")

        // Forced on an unmerged branch: deleted, with the tip reported for recovery.
        yield* mk("unmerged2")
        repo.write("g.txt", "g\n", path.join(wtRoot, "unmerged2"))
        const tip2 = repo.commitAll("more", path.join(wtRoot, "unmerged2"))
        const forced2 = yield* w.remove({ ...req("unmerged2"), force: true })
        assert.strictEqual(forced2.branch?.outcome, "deleted")
        assert.strictEqual(forced2.branch?.tip, tip2)
        assert.notStrictEqual(tip, tip2)
      }))
    }))

  it.scopedLive("untracked copies of the repository's own files are not work; a missing directory is pruned", () =>
    Effect.gen(function*() {
      const { data, repo, wtRoot } = yield* setup
      yield* withWorktrees(data, Effect.gen(function*() {
        const w = yield* Worktrees.Worktrees
        const p = path.join(wtRoot, "copies")
        repo.write("local.conf", "secret=1\n")
        yield* w.create({ repoPath: repo.root, path: p, branch: "copies" })
        fs.copyFileSync(path.join(repo.root, "local.conf"), path.join(p, "local.conf"))
        const insp = yield* w.inspect({ repoPath: repo.root, path: p, branch: "copies", copiesFrom: repo.root })
        assert.strictEqual(insp.copies, 1)
        assert.isTrue(insp.lossless)
        const withoutCopyRule = yield* w.inspect({ repoPath: repo.root, path: p, branch: "copies" })
        assert.isFalse(withoutCopyRule.lossless)
        const r = yield* w.remove({ repoPath: repo.root, path: p, branch: "copies", copiesFrom: repo.root })
        assert.strictEqual(r.outcome, "removed")

        const gone = path.join(wtRoot, "gone")
        yield* w.create({ repoPath: repo.root, path: gone, branch: "gone" })
        fs.rmSync(gone, { recursive: true, force: true })
        const m = yield* w.remove({ repoPath: repo.root, path: gone, branch: "gone" })
        assert.strictEqual(m.outcome, "missing")
        assert.strictEqual((yield* w.list(repo.root)).length, 1)
        assert.notInclude(branches(repo), "gone")
      }))
    }))

  it.scopedLive("rejects option-looking, metacharacter and newline branch names and start points; nothing is created", () =>
    Effect.gen(function*() {
      const { data, repo, wtRoot } = yield* setup
      yield* withWorktrees(data, Effect.gen(function*() {
        const w = yield* Worktrees.Worktrees
        const bad = ["--upload-pack=touch pwned", "-b", "a;touch pwned", "$(touch pwned)", "a\nb", "a b", "a..b", "x`id`", "HEAD", ""]
        for (const [i, branch] of bad.entries()) {
          const e = yield* Effect.flip(w.create({ repoPath: repo.root, path: path.join(wtRoot, `b${i}`), branch }))
          assert.strictEqual(e._tag, "InvalidInput", JSON.stringify(branch))
        }
        const start = yield* Effect.flip(
          w.create({ repoPath: repo.root, path: path.join(wtRoot, "s"), branch: "ok", startPoint: "--upload-pack=touch pwned" })
        )
        assert.strictEqual(start._tag, "WorktreeError")
        assert.strictEqual((start as Worktrees.WorktreeError).reason, "BadStartPoint")
        const rel = yield* Effect.flip(w.create({ repoPath: repo.root, path: "../escape", branch: "ok" }))
        assert.strictEqual(rel._tag, "InvalidInput")
        assert.isFalse(fs.existsSync(wtRoot))
        assert.isFalse(fs.existsSync(path.join(repo.root, "pwned")))
        assert.deepStrictEqual(branches(repo), ["main"])
        const exists = yield* Effect.flip(w.create({ repoPath: repo.root, path: repo.root, branch: "ok" }))
        assert.strictEqual((exists as Worktrees.WorktreeError).reason, "PathExists")
      }))
    }))

  it.scopedLive("concurrent creates in one process are serialised and all succeed", () =>
    Effect.gen(function*() {
      const { data, repo, wtRoot } = yield* setup
      yield* withWorktrees(data, Effect.gen(function*() {
        const w = yield* Worktrees.Worktrees
        const names = Array.from({ length: 8 }, (_, i) => `c${i}`)
        yield* Effect.forEach(names, (n) => w.create({ repoPath: repo.root, path: path.join(wtRoot, n), branch: n }), {
          concurrency: "unbounded"
        })
        assert.strictEqual((yield* w.list(repo.root)).length, 9)
      }))
    }))
})
