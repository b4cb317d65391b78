/**
 * Sessions as people use them: names, bases, worktree choice, parents, re-entry, diff and discard, setup that
 * streams and stops, registrations killed half-way.
 */
import { assert, describe, it } from "@effect/vitest"
import { AppConfig, Database, Live, Sessions, SessionStore } from "@parallel-cc/core"
import { TempDir, TempRepo, TestConfig } from "@parallel-cc/testkit"
import { Effect, Layer } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"

const setup = (env: Record<string, string> = {}) =>
  Effect.gen(function*() {
    const base = yield* TempDir.make()
    const repo = TempRepo.makeSync(base, { files: { "README.md": "# r\n", ".gitignore": ".env\nnode_modules/\n" } })
    const data = path.join(base, "data")
    const run = <A, E>(eff: Effect.Effect<A, E, Sessions.Sessions | SessionStore.SessionStore | Database.Database>) =>
      Effect.provide(eff, TestConfig.layer(data, env))
    return { repo, data, run }
  })

const exitedPid = Effect.promise(() =>
  new Promise<number>((resolve) => {
    const c = spawn(process.execPath, ["-e", "0"], { stdio: "ignore" })
    c.on("exit", () => resolve(c.pid!))
  })
)

const branches = (repo: TempRepo.TempRepo) =>
  repo.git(["for-each-ref", "--format=%(refname:short)", "refs/heads/"]).trim().split("\n").filter((b) => b !== "")
const worktreeCount = (repo: TempRepo.TempRepo) =>
  repo.git(["worktree", "list", "--porcelain"]).split("\n").filter((l) => l.startsWith("worktree ")).length

describe("Sessions: names, bases, worktree choice, parents", () => {
  it.scopedLive("--name: branch parallel/NAME in folder NAME, refused while taken, free again once removed", () =>
    Effect.gen(function*() {
      const { repo, run } = yield* setup()
      yield* run(Effect.gen(function*() {
        const sessions = yield* Sessions.Sessions
        yield* sessions.register({ repo: repo.root, pid: process.pid })
        const a = yield* sessions.register({ repo: repo.root, pid: process.pid, name: "checkout-flow" })
        assert.strictEqual(a.session.name, "checkout-flow")
        assert.strictEqual(a.session.branch, "parallel/checkout-flow")
        assert.strictEqual(a.session.worktreePath, `${repo.root}-worktrees/checkout-flow`)
        assert.strictEqual(a.registration.name, "checkout-flow")
        assert.strictEqual(repo.git(["rev-parse", "--abbrev-ref", "HEAD"], a.session.worktreePath).trim(), "parallel/checkout-flow")
        const taken = yield* Effect.flip(sessions.register({ repo: repo.root, pid: process.pid, name: "checkout-flow" }))
        assert.strictEqual(taken._tag, "SessionConflict")
        assert.strictEqual((taken as any).reason, "NameTaken")
        assert.include(taken.message, a.session.sessionId)
        for (const bad of ["-x", "a/b", "a..b", "x.lock", "", "a b", "a\nb"]) {
          const e = yield* Effect.flip(sessions.register({ repo: repo.root, pid: process.pid, name: bad }))
          assert.strictEqual(e._tag, "InvalidInput", JSON.stringify(bad))
        }
        yield* sessions.release({ sessionId: a.session.sessionId })
        const again = yield* sessions.register({ repo: repo.root, pid: process.pid, name: "checkout-flow" })
        assert.notStrictEqual(again.session.sessionId, a.session.sessionId)
      }))
    }))

  it.scopedLive("--base REF starts the worktree there; worktree always/never; config worktree.always; parent", () =>
    Effect.gen(function*() {
      const { repo, run } = yield* setup({ PARALLEL_CC_WORKTREE_ALWAYS: "true" })
      const first = repo.git(["rev-parse", "HEAD"]).trim()
      repo.git(["branch", "release-1"])
      repo.write("later.txt", "later\n")
      repo.commitAll("later")
      yield* run(Effect.gen(function*() {
        const sessions = yield* Sessions.Sessions
        // worktree.always: even the first session gets its own worktree; the repository stays the user's.
        const a = yield* sessions.register({ repo: repo.root, pid: process.pid })
        assert.isFalse(a.session.isMainRepo)
        const b = yield* sessions.register({ repo: repo.root, pid: process.pid, base: "release-1", parent: a.session.sessionId })
        assert.strictEqual(repo.git(["rev-parse", "HEAD"], b.session.worktreePath).trim(), first)
        assert.isFalse(fs.existsSync(path.join(b.session.worktreePath, "later.txt")))
        assert.strictEqual(b.session.baseCommit, first)
        assert.strictEqual(b.session.baseBranch, "release-1")
        assert.strictEqual(b.session.parentId, a.session.sessionId)
        const tag = yield* sessions.register({ repo: repo.root, pid: process.pid, base: `${first.slice(0, 10)}` })
        assert.strictEqual(tag.session.baseCommit, first)
        assert.isNull(tag.session.baseBranch)
        for (const bad of ["no-such-ref", "--upload-pack=touch pwned", "a\nb"]) {
          const e = yield* Effect.flip(sessions.register({ repo: repo.root, pid: process.pid, base: bad }))
          assert.strictEqual(e._tag, "InvalidInput", bad)
        }
        assert.isFalse(fs.existsSync(path.join(repo.root, "pwned")))
        const orphan = yield* Effect.flip(sessions.register({ repo: repo.root, pid: process.pid, parent: "zzzzzzzzzz" }))
        assert.strictEqual(orphan._tag, "SessionNotFound")
        // --no-worktree: the repository itself (free, since every session so far is in a worktree) ...
        const main = yield* sessions.register({ repo: repo.root, pid: process.pid, worktree: "never" })
        assert.isTrue(main.session.isMainRepo)
        // ... and refused once another session has it, instead of silently getting a worktree.
        const busy = yield* Effect.flip(sessions.register({ repo: repo.root, pid: process.pid, worktree: "never" }))
        assert.strictEqual((busy as any).reason, "RepositoryInUse")
        const mixed = yield* Effect.flip(sessions.register({ repo: repo.root, pid: process.pid, worktree: "never", name: "x" }))
        assert.strictEqual(mixed._tag, "InvalidInput")
      }))
    }))

  it.scopedLive("a repository path with a line break gets an error that says so (not 'has no commits yet')", () =>
    Effect.gen(function*() {
      const base = yield* TempDir.make()
      const odd = path.join(base, "odd\nname")
      const repo = TempRepo.makeSync(odd)
      yield* Effect.provide(
        Effect.gen(function*() {
          const sessions = yield* Sessions.Sessions
          const e = yield* Effect.flip(sessions.register({ repo: repo.root, pid: process.pid }))
          assert.strictEqual(e._tag, "InvalidInput")
          assert.include(e.message, "line break")
          assert.notInclude(e.message, "no commits")
        }),
        TestConfig.layer(path.join(base, "data"))
      )
    }))
})

describe("Sessions: setup output and failures", () => {
  it.scopedLive("setup output is streamed line by line and logged; a failing command stops: no agent, nothing left behind", () =>
    Effect.gen(function*() {
      const say = `console.log("installing"); console.error("warn: slow")`
      const { data, repo, run } = yield* setup({
        PARALLEL_CC_WORKTREE_SETUP: JSON.stringify([[process.execPath, "-e", say], [process.execPath, "-e", "console.log('boom'); process.exit(3)"], [
          process.execPath,
          "-e",
          "require('fs').writeFileSync('never-ran', '')"
        ]])
      })
      yield* run(Effect.gen(function*() {
        const sessions = yield* Sessions.Sessions
        const store = yield* SessionStore.SessionStore
        yield* sessions.register({ repo: repo.root, pid: process.pid })
        const events: Array<Sessions.SetupEvent> = []
        const e = yield* Effect.flip(sessions.register({
          repo: repo.root,
          pid: process.pid,
          onSetupOutput: (ev) => Effect.sync(() => events.push(ev))
        }))
        assert.strictEqual(e._tag, "SetupFailed")
        assert.include(e.message, "exited with code 3")
        const lines = events.filter((x) => x._tag === "Output").map((x) => (x as any).line)
        assert.deepStrictEqual(lines.sort(), ["boom", "installing", "warn: slow"])
        assert.deepStrictEqual(events.filter((x) => x._tag === "Exit").map((x) => (x as any).exitCode), [0, 3])
        const log = (e as any).log as string
        assert.strictEqual(path.dirname(log), path.join(data, "logs"))
        assert.include(fs.readFileSync(log, "utf8"), "boom")
        assert.strictEqual(fs.statSync(log).mode & 0o077, 0)
        // No session, worktree or branch left; the third command never ran.
        assert.strictEqual((yield* store.list({})).length, 1)
        assert.deepStrictEqual(branches(repo), ["main"])
        assert.strictEqual(worktreeCount(repo), 1)
      }))
    }))

  it.scopedLive("worktree.setupFailure=continue: the registration goes on with a warning", () =>
    Effect.gen(function*() {
      const { repo, run } = yield* setup({
        PARALLEL_CC_WORKTREE_SETUP: JSON.stringify([[process.execPath, "-e", "process.exit(5)"]]),
        PARALLEL_CC_WORKTREE_SETUP_FAILURE: "continue"
      })
      yield* run(Effect.gen(function*() {
        const sessions = yield* Sessions.Sessions
        yield* sessions.register({ repo: repo.root, pid: process.pid })
        const b = yield* sessions.register({ repo: repo.root, pid: process.pid })
        assert.strictEqual(b.setup.failed?.exitCode, 5)
        assert.isTrue(b.setup.warnings.some((w) => w.includes("exited 5")))
      }))
    }))
})

describe("Sessions: a registration killed half-way", () => {
  it.scopedLive("is not shown alive; its worktree (even half checked out) and its branch are removed by the next status", () =>
    Effect.gen(function*() {
      const { repo, run } = yield* setup()
      const dead = yield* exitedPid
      yield* run(Effect.gen(function*() {
        const sessions = yield* Sessions.Sessions
        const store = yield* SessionStore.SessionStore
        const values = { "worktree.prefix": "parallel-", "worktree.root": "" } as any
        const reserve = (name: string) =>
          store.register({
            repoPath: repo.root,
            pid: dead,
            pidStartTime: null,
            worktree: "always",
            name,
            registering: true,
            planWorktree: SessionStore.planWorktree(values, repo.root),
            baseCommit: repo.git(["rev-parse", "HEAD"]).trim()
          })
        // Killed after git made the worktree, half-way through the checkout.
        const half = yield* reserve("half")
        repo.git(["worktree", "add", "-q", "-b", half.branch!, "--", half.worktreePath])
        fs.rmSync(path.join(half.worktreePath, "README.md"))
        // Killed after the branch was created, before the directory existed.
        const branchOnly = yield* reserve("branch-only")
        repo.git(["branch", branchOnly.branch!])
        // Killed right after the reservation.
        const rowOnly = yield* reserve("row-only")
        const st = yield* sessions.status()
        assert.deepStrictEqual(st.sessions, [])
        assert.sameMembers(st.released.map((r) => r.sessionId), [half.sessionId, branchOnly.sessionId, rowOnly.sessionId])
        assert.isTrue(st.released.every((r) => r.interrupted && r.worktree !== "kept"))
        assert.deepStrictEqual(st.kept, [])
        assert.deepStrictEqual(branches(repo), ["main"])
        assert.strictEqual(worktreeCount(repo), 1)
        assert.isFalse(fs.existsSync(half.worktreePath))
      }))
    }))

  it.scopedLive("a half-finished registration whose branch somehow has commits is kept, not forced", () =>
    Effect.gen(function*() {
      const { repo, run } = yield* setup()
      const dead = yield* exitedPid
      yield* run(Effect.gen(function*() {
        const sessions = yield* Sessions.Sessions
        const store = yield* SessionStore.SessionStore
        const s = yield* store.register({
          repoPath: repo.root,
          pid: dead,
          pidStartTime: null,
          worktree: "always",
          name: "work",
          registering: true,
          planWorktree: SessionStore.planWorktree({ "worktree.prefix": "parallel-", "worktree.root": "" } as any, repo.root),
          baseCommit: repo.git(["rev-parse", "HEAD"]).trim()
        })
        repo.git(["worktree", "add", "-q", "-b", s.branch!, "--", s.worktreePath])
        repo.write("w.txt", "w\n", s.worktreePath)
        repo.commitAll("work", s.worktreePath)
        const st = yield* sessions.status()
        assert.strictEqual(st.released[0]!.worktree, "kept")
        assert.include(branches(repo), "parallel/work")
      }))
    }))
})

describe("Sessions: re-entry, diff, discard", () => {
  it.scopedLive("a kept worktree is re-entered by name or id (same session, branch and directory); refused while running", () =>
    Effect.gen(function*() {
      const { repo, run } = yield* setup()
      yield* run(Effect.gen(function*() {
        const sessions = yield* Sessions.Sessions
        yield* sessions.register({ repo: repo.root, pid: process.pid })
        const a = yield* sessions.register({ repo: repo.root, pid: process.pid, name: "feat-x" })
        repo.write("wip.txt", "wip\n", a.session.worktreePath)
        const running = yield* Effect.flip(sessions.reenter({ session: "feat-x", pid: process.pid }))
        assert.strictEqual((running as any).reason, "StillRunning")
        const r = yield* sessions.release({ sessionId: a.session.sessionId })
        assert.strictEqual(r[0]!.worktree, "kept")
        const back = yield* sessions.reenter({ session: "feat-x", pid: process.pid, repo: repo.root })
        assert.strictEqual(back.session.sessionId, a.session.sessionId)
        assert.strictEqual(back.session.status, "active")
        assert.strictEqual(back.session.worktreePath, a.session.worktreePath)
        assert.isTrue(back.registration.reentered)
        assert.strictEqual(back.env.PARALLEL_CC_SESSION_ID, a.session.sessionId)
        assert.isTrue(fs.existsSync(back.heartbeatFile))
        assert.strictEqual((yield* sessions.status()).kept.length, 0)
        // Commit, release (kept: unmerged), delete the directory by hand: re-entry re-creates it from the branch.
        repo.commitAll("wip", a.session.worktreePath)
        yield* sessions.release({ sessionId: a.session.sessionId })
        fs.rmSync(a.session.worktreePath, { recursive: true, force: true })
        const again = yield* sessions.reenter({ session: a.session.sessionId, pid: process.pid })
        assert.isTrue(fs.existsSync(path.join(again.session.worktreePath, "wip.txt")))
        yield* sessions.release({ sessionId: a.session.sessionId }, { force: true })
        const gone = yield* Effect.flip(sessions.reenter({ session: "feat-x", pid: process.pid }))
        assert.strictEqual((gone as any).reason, "NoWorktree")
        const unknown = yield* Effect.flip(sessions.reenter({ session: "nope", pid: process.pid }))
        assert.strictEqual(unknown._tag, "SessionNotFound")
      }))
    }))

  it.scopedLive("diff shows committed, uncommitted and added files against the base, without touching the index", () =>
    Effect.gen(function*() {
      const { repo, run } = yield* setup()
      yield* run(Effect.gen(function*() {
        const sessions = yield* Sessions.Sessions
        yield* sessions.register({ repo: repo.root, pid: process.pid })
        const a = yield* sessions.register({ repo: repo.root, pid: process.pid, name: "d" })
        const wt = a.session.worktreePath
        repo.write("committed.txt", "c\n", wt)
        repo.commitAll("c", wt)
        fs.appendFileSync(path.join(wt, "README.md"), "more\n")
        repo.write("added.txt", "new\n", wt)
        repo.write(".env", "ignored\n", wt)
        const before = repo.git(["status", "--porcelain"], wt)
        const d = yield* sessions.diff("parallel/d")
        assert.deepStrictEqual(d.files.map((f) => [f.path, f.status, f.added]).sort(), [
          ["README.md", "M", 1],
          ["added.txt", "A", 1],
          ["committed.txt", "A", 1]
        ])
        assert.include(d.text, "+new")
        const stat = yield* sessions.diff("d", { stat: true })
        assert.include(stat.text, "3 files changed")
        assert.strictEqual(repo.git(["status", "--porcelain"], wt), before)
        assert.strictEqual((yield* sessions.open("d")).worktreePath, wt)
      }))
    }))

  it.scopedLive("discard refuses while work would be lost; --dry-run and --force list exactly what is thrown away", () =>
    Effect.gen(function*() {
      const { repo, run } = yield* setup()
      yield* run(Effect.gen(function*() {
        const sessions = yield* Sessions.Sessions
        yield* sessions.register({ repo: repo.root, pid: process.pid })
        const a = yield* sessions.register({ repo: repo.root, pid: process.pid, name: "throwaway" })
        const wt = a.session.worktreePath
        repo.write("x.txt", "x\n", wt)
        const tip = repo.commitAll("x", wt)
        repo.write("untracked.txt", "u\n", wt)
        repo.write(".env", "mine\n", wt)
        const running = yield* Effect.flip(sessions.discard("throwaway", { force: true }))
        assert.strictEqual((running as any).reason, "StillRunning")
        yield* sessions.release({ sessionId: a.session.sessionId })
        const refused = yield* Effect.flip(sessions.discard("throwaway"))
        assert.strictEqual((refused as any).reason, "WouldLoseWork")
        assert.include(refused.message, "1 untracked file")
        const dry = yield* sessions.discard("throwaway", { force: true, dryRun: true })
        assert.isTrue(fs.existsSync(wt))
        const expected = {
          uncommitted: [],
          untracked: ["untracked.txt"],
          ignored: [".env"],
          nested: [],
          commits: [{ sha: tip, subject: "x", branch: "parallel/throwaway", restore: `git -C ${repo.root} branch parallel/throwaway ${tip}` }]
        }
        assert.deepStrictEqual(dry.discarded, expected)
        const done = yield* sessions.discard("throwaway", { force: true })
        assert.deepStrictEqual(done.discarded, expected)
        assert.strictEqual(done.worktree, "removed")
        assert.isFalse(fs.existsSync(wt))
        assert.deepStrictEqual(branches(repo), ["main"])
      }))
    }))
})

describe("Sessions: the store of the previous release", () => {
  it.scopedLive("a session recorded at schema 11 (the previous release) reads back with no name and no parent, and counts as ready", () =>
    Effect.gen(function*() {
      const base = yield* TempDir.make()
      const data = path.join(base, "data")
      const repo = TempRepo.makeSync(base)
      const provider = Layer.setConfigProvider(AppConfig.envProvider({ PARALLEL_CC_DATA_DIR: data }, { homeDir: data }))
      yield* Effect.provide(
        Effect.gen(function*() {
          const db = yield* Database.Database
          yield* db.migrate({ toVersion: 11 })
          yield* db.sql`INSERT INTO sessions (id, repo_path, worktree_path, is_main, pid, pid_start_time, created_at, last_heartbeat, port_base)
                        VALUES ('oldsession1', ${repo.root}, ${repo.root}, 1, ${process.pid}, NULL, 1, ${Date.now()}, 4100)`
        }),
        Live.layerNoMigrate.pipe(Layer.provide(provider))
      )
      yield* Effect.provide(
        Effect.gen(function*() {
          const sessions = yield* Sessions.Sessions
          const st = yield* sessions.status()
          assert.strictEqual(st.sessions.length, 1)
          assert.isNull(st.sessions[0]!.session.name)
          assert.isNull(st.sessions[0]!.session.parentId)
          const store = yield* SessionStore.SessionStore
          assert.strictEqual((yield* store.unfinished).size, 0)
        }),
        TestConfig.layer(data)
      )
    }))
})
