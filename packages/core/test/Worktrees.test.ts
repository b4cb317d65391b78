import { assert, describe, it } from "@effect/vitest"
import { Worktrees } from "@parallel-cc/core"
import { TempDir, TempRepo, TestConfig } from "@parallel-cc/testkit"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"

const setup = Effect.gen(function*() {
  const base = yield* TempDir.make()
  const repo = TempRepo.makeSync(base, { files: { "README.md": "# r\n", ".gitignore": "ignored/\n.env\ndist/\n*.pyc\n" } })
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
        // Regenerable build output (worktree.regenerable) is not work.
        fs.mkdirSync(path.join(wtPath, "dist"))
        fs.writeFileSync(path.join(wtPath, "dist", "build.out"), "x")
        fs.mkdirSync(path.join(wtPath, "src", "__pycache__"), { recursive: true })
        fs.writeFileSync(path.join(wtPath, "src", "__pycache__", "m.pyc"), "x")
        const insp = yield* w.inspect({ repoPath: repo.root, path: wtPath, branch: "feature/w1" })
        assert.isTrue(insp.lossless, insp.summary)
        assert.strictEqual(insp.summary, "clean")
        assert.sameMembers([...insp.regenerable], ["dist/", "src/__pycache__/m.pyc"])
        const r = yield* w.remove({ repoPath: repo.root, path: wtPath, branch: "feature/w1" })
        assert.strictEqual(r.outcome, "removed")
        assert.strictEqual(r.branch?.outcome, "deleted")
        assert.isFalse(fs.existsSync(wtPath))
        assert.notInclude(branches(repo), "feature/w1")
      }))
    }))

  it.scopedLive("ignored files that are not build output keep the worktree; copies of the repository's own do not", () =>
    Effect.gen(function*() {
      const { data, repo, wtRoot } = yield* setup
      repo.write(".env", "TOKEN=1\n")
      yield* withWorktrees(data, Effect.gen(function*() {
        const w = yield* Worktrees.Worktrees
        const p = path.join(wtRoot, "env")
        const req = { repoPath: repo.root, path: p, branch: "env", copiesFrom: repo.root }
        yield* w.create({ repoPath: repo.root, path: p, branch: "env" })
        fs.copyFileSync(path.join(repo.root, ".env"), path.join(p, ".env"))
        fs.mkdirSync(path.join(p, "ignored", "deep"), { recursive: true })
        fs.copyFileSync(path.join(repo.root, ".env"), path.join(p, "ignored", "deep", "x"))
        const copy = yield* w.inspect(req)
        // The copied .env is the repository's own; ignored/ is not in the repository: work.
        assert.deepStrictEqual(copy.discarded.ignored, ["ignored/"])
        fs.rmSync(path.join(p, "ignored"), { recursive: true })
        assert.isTrue((yield* w.inspect(req)).lossless)
        // The agent wrote its own .env: a normal release keeps the worktree and says why.
        fs.writeFileSync(path.join(p, ".env"), "TOKEN=2\n")
        const r = yield* w.remove(req)
        assert.strictEqual(r.outcome, "kept")
        assert.include(r.detail, "1 ignored file that is not build output (.env)")
        assert.deepStrictEqual(r.inspection.discarded.ignored, [".env"])
        assert.strictEqual(fs.readFileSync(path.join(p, ".env"), "utf8"), "TOKEN=2\n")
        // Patterns are configurable per request (and by worktree.regenerable).
        const lenient = yield* w.remove({ ...req, regenerable: [".env"] })
        assert.strictEqual(lenient.outcome, "removed")
      }))
    }))

  it.scopedLive("discarded lists exactly what a forced removal throws away; the branch is called merged only when it is", () =>
    Effect.gen(function*() {
      const { data, repo, wtRoot } = yield* setup
      const base = repo.git(["rev-parse", "HEAD"]).trim()
      yield* withWorktrees(data, Effect.gen(function*() {
        const w = yield* Worktrees.Worktrees
        const p = path.join(wtRoot, "all")
        yield* w.create({ repoPath: repo.root, path: p, branch: "all" })
        repo.write("feature.txt", "f\n", p)
        const tip = repo.commitAll("feature work", p)
        fs.appendFileSync(path.join(p, "README.md"), "edit\n")
        repo.write("new/file.ts", "export {}\n", p)
        repo.write(".env", "MINE=1\n", p)
        repo.write("dist/out.js", "x\n", p)
        const nested = path.join(p, "vendor", "lib")
        fs.mkdirSync(nested, { recursive: true })
        repo.git(["init", "-q", "-b", "main"], nested)
        repo.write("a.txt", "a\n", nested)
        repo.commitAll("nested history", nested)
        const req = { repoPath: repo.root, path: p, branch: "all", copiesFrom: repo.root, base }
        const insp = yield* w.inspect(req)
        assert.isFalse(insp.lossless)
        assert.deepStrictEqual(insp.discarded.uncommitted, ["README.md"])
        assert.deepStrictEqual(insp.discarded.untracked, ["new/file.ts"])
        assert.deepStrictEqual(insp.discarded.ignored, [".env"])
        assert.deepStrictEqual(insp.regenerable, ["dist/"])
        assert.deepStrictEqual(insp.discarded.nested.map((n) => [n.path, n.kind, n.commits]), [["vendor/lib", "repository", 1]])
        assert.deepStrictEqual(insp.discarded.commits.map((c) => [c.sha, c.subject, c.branch]), [[tip, "feature work", "all"]])
        assert.strictEqual(insp.discarded.commits[0]!.restore, `git -C ${repo.root} branch all ${tip}`)
        const r = yield* w.remove({ ...req, force: true })
        assert.strictEqual(r.outcome, "removed")
        assert.strictEqual(r.branch?.why, "forced")
        assert.notInclude(r.branch?.detail ?? "", "merged")
        // The restore command brings the branch back.
        repo.git(["branch", "all", tip])
        assert.include(branches(repo), "all")

        // Forced with only uncommitted work: the branch had no commits of its own — not "merged".
        const q = path.join(wtRoot, "dirty")
        yield* w.create({ repoPath: repo.root, path: q, branch: "dirty" })
        fs.appendFileSync(path.join(q, "README.md"), "x\n")
        const d = yield* w.remove({ repoPath: repo.root, path: q, branch: "dirty", base, force: true })
        assert.strictEqual(d.branch?.why, "no-commits")
        assert.notInclude(d.branch!.detail, "merged")
        assert.deepStrictEqual(d.inspection.discarded.uncommitted, ["README.md"])

        // Really merged: the word is used.
        const m = path.join(wtRoot, "m")
        yield* w.create({ repoPath: repo.root, path: m, branch: "m" })
        repo.write("m.txt", "m\n", m)
        repo.commitAll("m", m)
        repo.git(["merge", "-q", "--no-ff", "-m", "merge m", "m"])
        const merged = yield* w.remove({ repoPath: repo.root, path: m, branch: "m", base })
        assert.strictEqual(merged.branch?.why, "merged")
        assert.strictEqual(merged.branch?.detail, "merged into main")
      }))
    }))

  it.scopedLive("a changed submodule is listed as nested work", () =>
    Effect.gen(function*() {
      const { data, repo, wtRoot } = yield* setup
      const sub = TempRepo.makeSync(path.join(repo.base, "subsrc"), { files: { "lib.txt": "1\n" } })
      repo.git(["-c", "protocol.file.allow=always", "submodule", "add", "-q", sub.root, "lib"])
      repo.commitAll("add submodule")
      yield* withWorktrees(data, Effect.gen(function*() {
        const w = yield* Worktrees.Worktrees
        const p = path.join(wtRoot, "sub")
        yield* w.create({ repoPath: repo.root, path: p, branch: "sub" })
        repo.git(["-c", "protocol.file.allow=always", "submodule", "update", "--init", "-q"], p)
        const req = { repoPath: repo.root, path: p, branch: "sub", copiesFrom: repo.root }
        // A clean submodule is not work, and git's refusal to remove worktrees with submodules is handled.
        assert.isTrue((yield* w.inspect(req)).lossless)
        fs.appendFileSync(path.join(p, "lib", "lib.txt"), "2\n")
        const insp = yield* w.inspect(req)
        assert.deepStrictEqual(insp.discarded.nested.map((n) => [n.path, n.kind, n.changes]), [["lib", "submodule", 1]])
        assert.strictEqual((yield* w.remove(req)).outcome, "kept")
        fs.writeFileSync(path.join(p, "lib", "lib.txt"), "1\n")
        assert.strictEqual((yield* w.remove(req)).outcome, "removed")
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
  it.scopedLive("inspect reads a worktree's facts in one git call, the same as asked one by one (branch gone, tag of the same name, detached)", () =>
    Effect.gen(function*() {
      const { data, repo, wtRoot } = yield* setup
      yield* withWorktrees(data, Effect.gen(function*() {
        const w = yield* Worktrees.Worktrees
        const p = path.join(wtRoot, "facts")
        yield* w.create({ repoPath: repo.root, path: p, branch: "facts" })
        const inWt = (args: Array<string>) => repo.git(args, p)
        const expected = () => ({
          head: inWt(["rev-parse", "HEAD"]).trim(),
          headBranch: (() => {
            try {
              return inWt(["symbolic-ref", "-q", "--short", "HEAD"]).trim()
            } catch {
              return null
            }
          })()
        })
        const check = (branch: string | null, tip: string | null) =>
          Effect.gen(function*() {
            const insp = yield* w.inspect({ repoPath: repo.root, path: p, branch })
            const e = expected()
            assert.isTrue(insp.isWorktree)
            assert.strictEqual(insp.head, e.head)
            assert.strictEqual(insp.headBranch, e.headBranch)
            assert.strictEqual(insp.branchTip, tip)
            return insp
          })
        const tip = inWt(["rev-parse", "HEAD"]).trim()
        yield* check("facts", tip)
        yield* check(null, null)
        // A tag named like the branch: git shortens the branch to heads/facts.
        repo.git(["tag", "facts"])
        assert.strictEqual(expected().headBranch, "heads/facts")
        yield* check("facts", tip)
        // The session's branch is gone (the one call fails; the facts are asked one by one).
        inWt(["checkout", "-q", "-b", "other"])
        repo.git(["branch", "-D", "facts"])
        const gone = yield* check("facts", null)
        assert.strictEqual(gone.headBranch, "other")
        // A detached HEAD with a commit no ref has: listed, with the command that restores it.
        inWt(["checkout", "-q", "--detach"])
        fs.writeFileSync(path.join(p, "x.txt"), "x\n")
        inWt(["add", "x.txt"])
        inWt(["commit", "-q", "-m", "x"])
        const detached = yield* check("other", inWt(["rev-parse", "other"]).trim())
        assert.strictEqual(detached.detachedCommits, 1)
        assert.isFalse(detached.lossless)
      }))
    }))
})
