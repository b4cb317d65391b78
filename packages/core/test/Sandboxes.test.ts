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
import * as fs from "node:fs"
import * as path from "node:path"

const world = Effect.map(TempDir.make("pcc-sbx-"), (base) => {
  const repo = TempRepo.makeSync(base, { files: { "README.md": "# shop\n", "old.txt": "obsolete\n" } })
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
