/**
 * The Sandboxes service in-process: the real pipeline and local provider (plain process), the scripted
 * agent, real git and SQLite. The CLI tests cover the same runs through the built command, bubblewrap
 * included; these pin the service's own contract — the events in order, `check` refusing before anything
 * exists, and the commands that reach a run afterwards.
 */
import { assert, describe, it } from "@effect/vitest"
import { Sandboxes } from "@parallel-cc/core"
import { ScriptedAgent, TempDir, TempRepo, TestConfig } from "@parallel-cc/testkit"
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"

const world = Effect.map(TempDir.make("pcc-sbx-"), (base) => {
  const repo = TempRepo.makeSync(base, { files: { "README.md": "# shop\n", "old.txt": "obsolete\n", ".gitignore": ".env\n" } })
  const sandboxRoot = path.join(base, "sandboxes")
  fs.mkdirSync(sandboxRoot)
  const layer = TestConfig.sandboxLayer(path.join(base, "data"), {
    PARALLEL_CC_SANDBOX_LOCAL_ROOT: sandboxRoot,
    PARALLEL_CC_SANDBOX_LOCAL_ISOLATION: "process",
    PARALLEL_CC_BUDGET_DAILY_USD: "1"
  })
  return { base, repo, sandboxRoot, layer, host: { env: repo.env, homeDir: repo.home, cwd: repo.root } }
})

describe("Sandboxes", () => {
  it.scopedLive("a run reports its steps in order, lands the changes in a review worktree, and is found again by its id", () =>
    Effect.gen(function*() {
      const w = yield* world
      const events: Array<Sandboxes.RunEvent> = []
      const script: ScriptedAgent.Script = {
        actions: [{ write: "new.txt", content: "new\n" }, { edit: "README.md", find: "shop", replace: "shop!" }, { delete: "old.txt" }],
        cost: 0.02
      }
      yield* Effect.gen(function*() {
        const sandboxes = yield* Sandboxes.Sandboxes
        const r = yield* sandboxes.run({ repo: w.repo.root, prompt: ScriptedAgent.prompt("do it", script), agent: ScriptedAgent.path, host: w.host }, (e) =>
          Effect.sync(() => events.push(e)))
        assert.deepStrictEqual(
          [...new Set(events.map((e) => e._tag))],
          ["Started", "Packed", "SandboxReady", "Warning", "Uploaded", "AgentStarted", "AgentOutput", "AgentExited", "ChangesApplied", "Finished"]
        )
        assert.deepStrictEqual(r.changes, { added: ["new.txt"], modified: ["README.md"], deleted: ["old.txt"] })
        assert.strictEqual(r.run.status, "succeeded")
        assert.strictEqual(r.run.costUsd, 0.02)
        assert.isNotNull(r.worktreePath)
        assert.strictEqual(fs.readFileSync(path.join(r.worktreePath!, "README.md"), "utf8"), "# shop!\n")
        assert.isFalse(fs.existsSync(path.join(r.worktreePath!, "old.txt")))
        assert.deepStrictEqual(fs.readdirSync(w.sandboxRoot), [], "the sandbox is removed")

        const id = r.run.sessionId
        const status = yield* sandboxes.status(id, w.host)
        assert.deepInclude(status, { sandbox: "gone", supervisorAlive: true })
        assert.deepStrictEqual((yield* sandboxes.list({ repoPath: w.repo.root })).map((x) => x.sessionId), [id])
        const log = yield* sandboxes.logs(id, { lines: 1 })
        assert.match(log[0]!, /finished: succeeded; sandbox killed$/)
        // Downloaded again from the saved changes (the sandbox is gone).
        const out = path.join(w.base, "download")
        const dl = yield* sandboxes.download(id, out, w.host)
        assert.strictEqual(dl.source, "saved")
        assert.deepStrictEqual([...dl.written].sort(), ["README.md", "new.txt"])
        assert.deepInclude(yield* sandboxes.kill(id, w.host), { action: "none" })
        const [daily] = yield* sandboxes.budgetStatus("daily")
        assert.deepInclude(daily, { runs: 1, limitUsd: 1 })
      }).pipe(Effect.provide(w.layer))
    }))

  it.scopedLive("the agent works in the run's own worktree: the repository's uncommitted and untracked files are put in, its ignored files are not; the review worktree holds the base commit plus the agent's changes only", () =>
    Effect.gen(function*() {
      const w = yield* world
      // The user's work in progress: a modified file, a deleted one, an untracked one, an ignored secret.
      w.repo.write("README.md", "# shop (draft)\n")
      fs.rmSync(path.join(w.repo.root, "old.txt"))
      w.repo.write("notes.md", "mine\n")
      w.repo.write(".env", "TOKEN=secret\n")
      const script: ScriptedAgent.Script = {
        actions: [
          { run: ["sh", "-c", "ls -A > seen.txt; cat README.md >> seen.txt; git status >> seen.txt 2>&1; true"] },
          { append: "notes.md", content: "theirs\n" },
          { write: "new.txt", content: "new\n" }
        ]
      }
      yield* Effect.gen(function*() {
        const sandboxes = yield* Sandboxes.Sandboxes
        const r = yield* sandboxes.run({ repo: w.repo.root, prompt: ScriptedAgent.prompt("do it", script), agent: ScriptedAgent.path, host: w.host })
        assert.strictEqual(r.run.status, "succeeded", r.run.error ?? "")
        assert.deepStrictEqual(r.changes, { added: ["new.txt", "seen.txt"], modified: ["notes.md"], deleted: [] })
        const wt = r.worktreePath!
        assert.notStrictEqual(wt, w.repo.root)
        const seen = fs.readFileSync(path.join(wt, "seen.txt"), "utf8").split("\n")
        assert.includeMembers(seen, [".git", ".gitignore", "README.md", "notes.md", "# shop (draft)"])
        assert.notInclude(seen, ".env", "ignored files are not put in")
        assert.notInclude(seen, "old.txt", "a file deleted in the repository is not there")
        // The review worktree: the base commit plus the agent's changes, nothing else of the user's.
        const read = (f: string) => fs.readFileSync(path.join(wt, f), "utf8")
        assert.strictEqual(read("README.md"), "# shop\n", "an uncommitted change the agent did not touch is not in the review worktree")
        assert.strictEqual(read("old.txt"), "obsolete\n")
        assert.strictEqual(read("notes.md"), "mine\ntheirs\n")
        assert.strictEqual(read("new.txt"), "new\n")
        assert.isFalse(fs.existsSync(path.join(wt, ".env")))
        const status = execFileSync("git", ["status", "--porcelain", "--untracked-files=all"], { cwd: wt, encoding: "utf8" })
        assert.deepStrictEqual(status.trim().split("\n").sort(), ["?? new.txt", "?? notes.md", "?? seen.txt"])
        // The repository itself is as the user left it.
        assert.strictEqual(fs.readFileSync(path.join(w.repo.root, "README.md"), "utf8"), "# shop (draft)\n")
        assert.strictEqual(fs.readFileSync(path.join(w.repo.root, "notes.md"), "utf8"), "mine\n")
        assert.strictEqual(fs.readFileSync(path.join(w.repo.root, ".env"), "utf8"), "TOKEN=secret\n")
        const log = (yield* sandboxes.logs(r.run.sessionId, {})).join("\n")
        assert.include(log, `the agent works in the run's worktree ${wt}; 3 uncommitted path(s) of the repository put in`)
        assert.include(log, `worktree ${wt}: kept`)
      }).pipe(Effect.provide(w.layer))
    }))

  it.scopedLive("in the run's worktree, what the agent leaves that a review must not get is swept: modes others may write or with set-id bits, special files, nested .git", () =>
    Effect.gen(function*() {
      const w = yield* world
      const script: ScriptedAgent.Script = {
        actions: [
          { run: ["sh", "-c", "chmod 0666 README.md; chmod 4755 old.txt; mkdir -p deep/er; chmod 0777 deep; mkfifo deep/er/pipe; mkdir -p vendor/.GIT; echo x > vendor/.GIT/HEAD"] },
          { write: "new.txt", content: "new\n" }
        ]
      }
      yield* Effect.gen(function*() {
        const sandboxes = yield* Sandboxes.Sandboxes
        const r = yield* sandboxes.run({ repo: w.repo.root, prompt: ScriptedAgent.prompt("do it", script), agent: ScriptedAgent.path, host: w.host })
        assert.strictEqual(r.run.status, "succeeded", r.run.error ?? "")
        const wt = r.worktreePath!
        const mode = (f: string) => fs.lstatSync(path.join(wt, f)).mode & 0o7777
        assert.strictEqual(mode("README.md"), 0o644)
        assert.strictEqual(mode("old.txt"), 0o755)
        assert.strictEqual(mode("deep"), 0o755)
        assert.isFalse(fs.existsSync(path.join(wt, "deep/er/pipe")))
        assert.isFalse(fs.existsSync(path.join(wt, "vendor/.GIT")))
        const refused = r.refused.map((x) => x.path)
        assert.includeMembers(refused, ["deep/er/pipe", "vendor/.GIT"])
        assert.strictEqual(fs.readFileSync(path.join(wt, "new.txt"), "utf8"), "new\n")
      }).pipe(Effect.provide(w.layer))
    }))

  it.scopedLive("a run whose agent changed nothing, and a dry run, leave no worktree and no branch, even from a repository with uncommitted work", () =>
    Effect.gen(function*() {
      const w = yield* world
      w.repo.write("README.md", "# shop (draft)\n")
      w.repo.write("notes.md", "mine\n")
      yield* Effect.gen(function*() {
        const sandboxes = yield* Sandboxes.Sandboxes
        const idle = yield* sandboxes.run({ repo: w.repo.root, prompt: ScriptedAgent.prompt("look", { actions: [{ say: "nothing to do" }] }), agent: ScriptedAgent.path, host: w.host })
        assert.strictEqual(idle.run.status, "succeeded", idle.run.error ?? "")
        assert.isNull(idle.worktreePath)
        const dry = yield* sandboxes.run({ repo: w.repo.root, prompt: "x", agent: ScriptedAgent.path, host: w.host, dryRun: true })
        assert.strictEqual(dry.run.status, "succeeded", dry.run.error ?? "")
        assert.strictEqual(dry.run.uploadFiles, 4)
        const worktrees = w.repo.git(["worktree", "list", "--porcelain"]).split("\n").filter((l) => l.startsWith("worktree "))
        assert.deepStrictEqual(worktrees, [`worktree ${w.repo.root}`])
        assert.deepStrictEqual(w.repo.git(["branch", "--format=%(refname:short)"]).trim().split("\n"), ["main"])
        assert.isFalse(fs.existsSync(`${w.repo.root}-worktrees`))
        assert.strictEqual(fs.readFileSync(path.join(w.repo.root, "notes.md"), "utf8"), "mine\n")
      }).pipe(Effect.provide(w.layer))
    }))

  it.scopedLive("a repository with an initialised submodule: the agent works in a copy holding the submodule's files, and its changes land in the run's worktree", () =>
    Effect.gen(function*() {
      const w = yield* world
      const lib = TempRepo.makeSync(path.join(w.base, "lib-src"), { files: { "lib.txt": "lib\n" } })
      w.repo.git(["-c", "protocol.file.allow=always", "submodule", "add", "-q", lib.root, "libs/lib"])
      w.repo.commitAll("submodule")
      const script: ScriptedAgent.Script = { actions: [{ run: ["sh", "-c", "cat libs/lib/lib.txt > copied.txt"] }] }
      yield* Effect.gen(function*() {
        const sandboxes = yield* Sandboxes.Sandboxes
        const r = yield* sandboxes.run({ repo: w.repo.root, prompt: ScriptedAgent.prompt("copy", script), agent: ScriptedAgent.path, host: w.host })
        assert.strictEqual(r.run.status, "succeeded", r.run.error ?? "")
        assert.deepStrictEqual(r.changes, { added: ["copied.txt"], modified: [], deleted: [] })
        assert.strictEqual(fs.readFileSync(path.join(r.worktreePath!, "copied.txt"), "utf8"), "lib\n")
        const log = (yield* sandboxes.logs(r.run.sessionId, {})).join("\n")
        assert.notInclude(log, "the agent works in the run's worktree")
      }).pipe(Effect.provide(w.layer))
    }))

  it.scopedLive("check refuses a run that cannot start, before anything is created", () =>
    Effect.gen(function*() {
      const w = yield* world
      yield* Effect.gen(function*() {
        const sandboxes = yield* Sandboxes.Sandboxes
        const refused = (req: Partial<Sandboxes.RunRequest>) =>
          sandboxes.check({ repo: w.repo.root, prompt: "p", agent: ScriptedAgent.path, host: w.host, ...req }).pipe(Effect.flip)
        assert.strictEqual((yield* refused({ prompt: "  " }))._tag, "InvalidInput")
        assert.strictEqual((yield* refused({ repo: w.base }))._tag, "InvalidInput")
        const agent = yield* refused({ agent: path.join(w.base, "no-such-agent") })
        assert.include(agent.message, "agent not found")
        assert.include((yield* refused({ gitUser: "Only Name" })).message, "give both or neither")
        assert.include((yield* refused({ budgetUsd: -1 })).message, "above 0")
        assert.deepStrictEqual(yield* sandboxes.list({}), [])
        assert.deepStrictEqual(fs.readdirSync(w.sandboxRoot), [])
      }).pipe(Effect.provide(w.layer))
    }))
})
