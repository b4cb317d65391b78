import { assert, describe, it } from "@effect/vitest"
import { Sessions } from "@parallel-cc/core"
import { TempDir, TempRepo, TestConfig } from "@parallel-cc/testkit"
import { Effect, Exit } from "effect"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"

const setup = (options: { files?: Record<string, string>; env?: Record<string, string> } = {}) =>
  Effect.gen(function*() {
    const base = yield* TempDir.make()
    const repo = TempRepo.makeSync(base, { files: options.files ?? { "README.md": "# r\n", ".gitignore": ".env*\nnode_modules/\n" } })
    const data = path.join(base, "data")
    const run = <A, E>(eff: Effect.Effect<A, E, Sessions.Sessions>) => Effect.provide(eff, TestConfig.layer(data, options.env ?? {}))
    return { base, repo, run }
  })

/** Register the main session, then a worktree session; returns the second. */
const second = (root: string) =>
  Effect.gen(function*() {
    const sessions = yield* Sessions.Sessions
    yield* sessions.register({ repo: root, pid: process.pid })
    return yield* sessions.register({ repo: root, pid: process.pid })
  })

/** Like {@link second}, for a second registration that must fail; also returns the active sessions after. */
const secondFails = (root: string) =>
  Effect.gen(function*() {
    const sessions = yield* Sessions.Sessions
    yield* sessions.register({ repo: root, pid: process.pid })
    const exit = yield* sessions.register({ repo: root, pid: process.pid }).pipe(Effect.exit)
    const active = (yield* sessions.status()).sessions.length
    return { exit, active }
  })

const nothingLeft = (repo: TempRepo.TempRepo) => {
  assert.deepStrictEqual(repo.git(["worktree", "list", "--porcelain"]).split("\n").filter((l) => l.startsWith("worktree ")).length, 1)
  assert.strictEqual(repo.git(["branch", "--list", "parallel-*"]).trim(), "")
  assert.isFalse(fs.existsSync(`${repo.root}-worktrees`))
}

const hasGitLfs = spawnSync("git", ["lfs", "version"]).status === 0
const isRoot = process.getuid?.() === 0

describe("new worktrees of real repositories", () => {
  it.scopedLive(".worktreeinclude: ignored matches are copied (files and whole folders), tracked and unignored ones are not", () =>
    Effect.gen(function*() {
      const { repo, run } = yield* setup({
        files: { "README.md": "# r\n", ".gitignore": ".env*\n!.env.example\nnode_modules/\nconfig/local.json\n", ".env.example": "X=\n", "config/app.json": "{}\n" }
      })
      repo.write(".env", "SECRET=1\n")
      repo.write(".env.local", "LOCAL=1\n")
      repo.write("node_modules/dep/index.js", "module.exports = 1\n")
      repo.write("config/local.json", "{\"local\":true}\n")
      repo.write("notes.txt", "my work\n")
      repo.write(".worktreeinclude", "# what a worktree needs\n.env*\nnode_modules\nconfig/\nnotes.txt\n")
      const b = yield* run(second(repo.root))
      const wt = b.session.worktreePath
      assert.strictEqual(fs.readFileSync(path.join(wt, ".env"), "utf8"), "SECRET=1\n")
      assert.strictEqual(fs.readFileSync(path.join(wt, ".env.local"), "utf8"), "LOCAL=1\n")
      assert.strictEqual(fs.readFileSync(path.join(wt, "node_modules/dep/index.js"), "utf8"), "module.exports = 1\n")
      assert.strictEqual(fs.readFileSync(path.join(wt, "config/local.json"), "utf8"), "{\"local\":true}\n")
      assert.isFalse(fs.existsSync(path.join(wt, "notes.txt")))
      assert.sameMembers([...b.prepared.included], [".env", ".env.local", "node_modules", "config/local.json"])
      const warnings = b.setup.warnings.join("\n")
      assert.include(warnings, ".worktreeinclude: .env.example not copied: tracked by git")
      assert.include(warnings, ".worktreeinclude: notes.txt not copied: not ignored by git")
      // Copies of ignored files are not work: the worktree goes at release.
      const released = yield* run(Effect.flatMap(Sessions.Sessions, (s) => s.release({ sessionId: b.session.sessionId })))
      assert.strictEqual(released[0]!.worktree, "removed")
    }))

  it.scopedLive(".worktreeinclude with a line that climbs out of the repository: refused, nothing created", () =>
    Effect.gen(function*() {
      const { repo, run } = yield* setup()
      repo.write(".worktreeinclude", ".env\n../secrets.env\n")
      const { active, exit } = yield* run(secondFails(repo.root))
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit)) assert.include(String(exit.cause), "points outside the repository")
      nothingLeft(repo)
      assert.strictEqual(active, 1)
    }))

  it.scopedLive("worktree.share clone: node_modules cloned (hard links here unless the file system clones), setup skipped; removed at release, the main checkout's intact", () =>
    Effect.gen(function*() {
      const { repo, run } = yield* setup({
        files: { "README.md": "# r\n", ".gitignore": "node_modules/\n", "package.json": "{}\n", "package-lock.json": "{\"v\":1}\n" },
        env: { PARALLEL_CC_WORKTREE_SHARE: "[\"node_modules\",\".venv\"]", PARALLEL_CC_WORKTREE_SETUP: "[[\"node\",\"-e\",\"require('fs').writeFileSync('setup-ran','')\"]]" }
      })
      repo.write("node_modules/dep/index.js", "module.exports = 1\n")
      const b = yield* run(second(repo.root))
      const wt = b.session.worktreePath
      const nm = b.prepared.share.folders.find((f) => f.path === "node_modules")!
      assert.strictEqual(nm.outcome, "shared")
      assert.include(["reflink", "hardlink", "copy"], nm.method)
      assert.strictEqual(b.prepared.share.folders.find((f) => f.path === ".venv")!.outcome, "absent")
      assert.isFalse(fs.lstatSync(path.join(wt, "node_modules")).isSymbolicLink())
      assert.strictEqual(fs.readFileSync(path.join(wt, "node_modules/dep/index.js"), "utf8"), "module.exports = 1\n")
      if (nm.method === "hardlink") {
        assert.strictEqual(fs.statSync(path.join(wt, "node_modules/dep/index.js")).ino, fs.statSync(path.join(repo.root, "node_modules/dep/index.js")).ino)
      }
      assert.isFalse(fs.existsSync(path.join(wt, "setup-ran")), "worktree.setup is the fallback, not run when shared")
      const released = yield* run(Effect.flatMap(Sessions.Sessions, (s) => s.release({ sessionId: b.session.sessionId })))
      assert.strictEqual(released[0]!.worktree, "removed")
      assert.strictEqual(fs.readFileSync(path.join(repo.root, "node_modules/dep/index.js"), "utf8"), "module.exports = 1\n")
    }))

  it.scopedLive("worktree.share symlink: a link to the main checkout's folder, not work at release; the main folder survives removal", () =>
    Effect.gen(function*() {
      const { repo, run } = yield* setup({
        files: { "README.md": "# r\n", ".gitignore": "/node_modules/\n", "package.json": "{}\n", "yarn.lock": "x\n" },
        env: { PARALLEL_CC_WORKTREE_SHARE: "[\"node_modules\"]", PARALLEL_CC_WORKTREE_SHARE_MODE: "symlink" }
      })
      repo.write("node_modules/dep/index.js", "module.exports = 1\n")
      const b = yield* run(second(repo.root))
      const link = path.join(b.session.worktreePath, "node_modules")
      assert.isTrue(fs.lstatSync(link).isSymbolicLink())
      assert.strictEqual(fs.readlinkSync(link), path.join(repo.root, "node_modules"))
      const released = yield* run(Effect.flatMap(Sessions.Sessions, (s) => s.release({ sessionId: b.session.sessionId })))
      assert.strictEqual(released[0]!.worktree, "removed")
      assert.isTrue(fs.existsSync(path.join(repo.root, "node_modules/dep/index.js")))
    }))

  it.scopedLive("worktree.share: a lockfile that differs from the main checkout's → nothing shared, worktree.setup installs instead", () =>
    Effect.gen(function*() {
      const { repo, run } = yield* setup({
        files: { "README.md": "# r\n", ".gitignore": "node_modules/\n", "package.json": "{}\n", "package-lock.json": "{\"v\":1}\n" },
        env: {
          PARALLEL_CC_WORKTREE_SHARE: "[\"node_modules\"]",
          PARALLEL_CC_WORKTREE_SETUP: "[[\"node\",\"-e\",\"require('fs').mkdirSync('node_modules/own',{recursive:true})\"]]"
        }
      })
      repo.write("node_modules/dep/index.js", "1\n")
      repo.write("package-lock.json", "{\"v\":2}\n") // uncommitted: the worktree gets the committed one
      const b = yield* run(second(repo.root))
      const nm = b.prepared.share.folders[0]!
      assert.strictEqual(nm.outcome, "fallback")
      assert.include(nm.detail, "package-lock.json differs from the main checkout's")
      assert.isTrue(fs.existsSync(path.join(b.session.worktreePath, "node_modules/own")))
      assert.isFalse(fs.existsSync(path.join(b.session.worktreePath, "node_modules/dep")))
      assert.include(b.setup.warnings.join("\n"), "running worktree.setup to install dependencies instead")
    }))

  it.scopedLive("worktree.share: a folder the main checkout lacks, with nothing to install it → refused with the reason, nothing created", () =>
    Effect.gen(function*() {
      const { repo, run } = yield* setup({
        files: { "README.md": "# r\n", ".gitignore": "node_modules/\n", "package.json": "{}\n" },
        env: { PARALLEL_CC_WORKTREE_SHARE: "[\"node_modules\"]" }
      })
      const { exit } = yield* run(secondFails(repo.root))
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit)) assert.include(String(exit.cause), "does not exist (dependencies not installed in the main checkout)")
      nothingLeft(repo)
    }))

  it.scopedLive("worktree.share: an entry outside the repository or tracked by git is refused", () =>
    Effect.gen(function*() {
      for (const [entry, expected] of [["../elsewhere", "points outside"], ["src", "holds files tracked by git"]] as const) {
        const { repo, run } = yield* setup({ files: { "README.md": "# r\n", "src/a.ts": "1\n" }, env: { PARALLEL_CC_WORKTREE_SHARE: JSON.stringify([entry]) } })
        const { exit } = yield* run(secondFails(repo.root))
        assert.isTrue(Exit.isFailure(exit))
        if (Exit.isFailure(exit)) assert.include(String(exit.cause), expected)
        nothingLeft(repo)
      }
    }))

  it.scopedLive("submodules: initialised from the main checkout's module store (the original remote gone), origin kept; a clean worktree with a submodule is removed at release", () =>
    Effect.gen(function*() {
      const { base, repo, run } = yield* setup()
      const lib = TempRepo.makeSync(path.join(base, "libsrc"), { files: { "lib.txt": "lib v1\n" } })
      repo.git(["-c", "protocol.file.allow=always", "submodule", "add", "-q", lib.root, "libs/lib"])
      repo.commitAll("add lib")
      // The remote disappears: only the main checkout's module store can provide the submodule now.
      fs.renameSync(lib.root, `${lib.root}-gone`)
      const b = yield* run(second(repo.root))
      const wt = b.session.worktreePath
      assert.strictEqual(fs.readFileSync(path.join(wt, "libs/lib/lib.txt"), "utf8"), "lib v1\n")
      assert.deepStrictEqual(b.prepared.contents.submodules.map((s) => [s.path, s.outcome]), [["libs/lib", "initialised"]])
      assert.match(repo.git(["submodule", "status"], wt), /^ [0-9a-f]{40} libs\/lib/)
      assert.strictEqual(repo.git(["remote", "get-url", "origin"], path.join(wt, "libs/lib")).trim(), lib.root)
      assert.strictEqual(repo.git(["config", "--get", "submodule.libs/lib.url"]).trim(), lib.root)
      const released = yield* run(Effect.flatMap(Sessions.Sessions, (s) => s.release({ sessionId: b.session.sessionId })))
      assert.strictEqual(released[0]!.worktree, "removed")
    }))

  it.scopedLive("submodules: a commit made only in the worktree's submodule keeps the worktree", () =>
    Effect.gen(function*() {
      const { base, repo, run } = yield* setup()
      const lib = TempRepo.makeSync(path.join(base, "libsrc"), { files: { "lib.txt": "lib v1\n" } })
      repo.git(["-c", "protocol.file.allow=always", "submodule", "add", "-q", lib.root, "libs/lib"])
      repo.commitAll("add lib")
      const b = yield* run(second(repo.root))
      const sub = path.join(b.session.worktreePath, "libs/lib")
      repo.git(["checkout", "-q", "-b", "topic"], sub)
      repo.write("lib.txt", "lib v2\n", sub)
      repo.commitAll("lib work", sub)
      repo.git(["checkout", "-q", "--detach", "HEAD~1"], sub)
      const released = yield* run(Effect.flatMap(Sessions.Sessions, (s) => s.release({ sessionId: b.session.sessionId })))
      assert.strictEqual(released[0]!.worktree, "kept")
      assert.include(released[0]!.kept!.detail, "a submodule libs/lib (1 commit on none of its remotes)")
      assert.deepStrictEqual(released[0]!.kept!.discarded!.nested.map((n) => [n.path, n.kind, n.commits]), [["libs/lib", "submodule", 1]])
      assert.isTrue(fs.existsSync(sub))
    }))

  it.scopedLive("sparse checkout: the main checkout's patterns apply in the new worktree", () =>
    Effect.gen(function*() {
      const { repo, run } = yield* setup({ files: { "README.md": "# r\n", "a/1.txt": "1\n", "b/2.txt": "2\n" } })
      repo.git(["sparse-checkout", "set", "a"])
      const b = yield* run(second(repo.root))
      assert.isTrue(fs.existsSync(path.join(b.session.worktreePath, "a/1.txt")))
      assert.isFalse(fs.existsSync(path.join(b.session.worktreePath, "b")))
      assert.include(["carried", "applied"], b.prepared.contents.sparse)
    }))

  it.scopedLive.skipIf(!hasGitLfs)("Git LFS (skipped when git-lfs is not installed): LFS files have their content, the worktree is clean", () =>
    Effect.gen(function*() {
      const { repo, run } = yield* setup()
      repo.git(["lfs", "install", "--local"])
      repo.git(["lfs", "track", "*.bin"])
      repo.write("data.bin", "binary payload ".repeat(100))
      repo.commitAll("lfs")
      const b = yield* run(second(repo.root))
      assert.strictEqual(fs.readFileSync(path.join(b.session.worktreePath, "data.bin"), "utf8"), "binary payload ".repeat(100))
      assert.strictEqual(b.prepared.contents.lfs.state, "checked-out")
      assert.strictEqual(b.prepared.contents.lfs.pointers, 0)
      assert.strictEqual(repo.git(["status", "--porcelain"], b.session.worktreePath), "")
    }))

  it.scopedLive("PARALLEL_CC_SLUG and COMPOSE_PROJECT_NAME: unique per session, safe as compose project and database names", () =>
    Effect.gen(function*() {
      const { repo, run } = yield* setup()
      const [a, b] = yield* run(Effect.gen(function*() {
        const sessions = yield* Sessions.Sessions
        return [yield* sessions.register({ repo: repo.root, pid: process.pid }), yield* sessions.register({ repo: repo.root, pid: process.pid })] as const
      }))
      assert.strictEqual(a.env.PARALLEL_CC_SLUG, `repo_${a.session.sessionId}`)
      assert.strictEqual(a.env.COMPOSE_PROJECT_NAME, a.env.PARALLEL_CC_SLUG)
      assert.notStrictEqual(a.env.PARALLEL_CC_SLUG, b.env.PARALLEL_CC_SLUG)
      assert.match(b.env.PARALLEL_CC_SLUG!, /^[a-z0-9][a-z0-9_]{0,39}$/)
    }))

  it.scopedLive.skipIf(!isRoot)("a full disk while copying (skipped unless root, which can mount a small tmpfs): refused with the reason, nothing left", (ctx) =>
    Effect.gen(function*() {
      const { base, repo } = yield* setup({ files: { "README.md": "# r\n", ".gitignore": "big/\n" } })
      const small = path.join(base, "small")
      fs.mkdirSync(small)
      const mounted = spawnSync("mount", ["-t", "tmpfs", "-o", "size=512k", "tmpfs", small]).status === 0
      if (!mounted) return ctx.skip("skipped: mounting a tmpfs is not permitted here")
      yield* Effect.addFinalizer(() => Effect.sync(() => spawnSync("umount", [small])))
      repo.write("big/blob.bin", "x".repeat(2 * 1024 * 1024))
      repo.write(".worktreeinclude", "big\n")
      const env = { PARALLEL_CC_WORKTREE_ROOT: small }
      const data = path.join(base, "data2")
      const { exit } = yield* secondFails(repo.root).pipe(Effect.provide(TestConfig.layer(data, env)))
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit)) assert.include(String(exit.cause), "no space left on the device")
      assert.deepStrictEqual(fs.readdirSync(small), [])
      assert.strictEqual(repo.git(["branch", "--list", "parallel-*"]).trim(), "")
    }))
})
