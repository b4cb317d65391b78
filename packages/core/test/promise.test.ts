import {
  ClaimConflict,
  ClientClosed,
  ConfigError,
  createClient,
  Interrupted,
  InvalidInput,
  type LandEvent,
  LandError,
  isParallelCcError,
  type ParallelEvent,
  runParallel,
  SandboxRunNotFound,
  SessionNotFound,
  TaskListError
} from "@parallel-cc/core/promise"
import { ConflictRepo, ScriptedAgent, TempDir, TempRepo } from "@parallel-cc/testkit"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, assert, describe, it } from "vitest"

const dirs: Array<string> = []
const tempDir = () => {
  const d = TempDir.makeSync("pcc-promise-")
  dirs.push(d)
  return d
}
afterEach(() => {
  for (const d of dirs.splice(0)) TempDir.removeSync(d)
})

/** Await a rejection and return the error (fails the test when the promise resolves). */
const rejection = async (p: Promise<unknown>): Promise<unknown> => {
  try {
    await p
  } catch (e) {
    return e
  }
  throw new Error("expected the promise to reject")
}

describe("Promise facade (@parallel-cc/core/promise)", () => {
  it("registers, lists and releases sessions with plain JSON results, as the CLI's --json", async () => {
    const base = tempDir()
    const repo = TempRepo.makeSync(base)
    const client = createClient({ dataDir: path.join(base, "data"), homeDir: base })
    try {
      const first = await client.sessions.register({ repoPath: repo.root, pid: process.pid })
      const second = await client.sessions.register({ repoPath: path.join(repo.root, "."), pid: process.pid })
      // Exactly the fields of `register --json`.
      assert.deepStrictEqual(Object.keys(first).sort(), [
        "baseCommit",
        "branch",
        "isMainRepo",
        "name",
        "reentered",
        "repoPath",
        "sessionId",
        "worktreeName",
        "worktreePath"
      ])
      assert.isTrue(first.isMainRepo)
      assert.strictEqual(first.worktreePath, repo.root)
      assert.isFalse(second.isMainRepo)
      assert.isTrue(fs.existsSync(second.worktreePath))
      assert.match(second.branch ?? "", /^parallel-/)
      const named = await client.sessions.register({ repoPath: repo.root, pid: process.pid, name: "from-js", base: "main" })
      assert.strictEqual(named.branch, "parallel/from-js")
      assert.strictEqual(named.name, "from-js")
      await client.sessions.release({ sessionId: named.sessionId })

      const listed = await client.sessions.list({ repoPath: repo.root })
      assert.deepStrictEqual(listed.map((s) => s.sessionId).sort(), [first.sessionId, second.sessionId].sort())
      for (const s of listed) {
        assert.strictEqual(s.liveness.state, "alive")
        assert.strictEqual(typeof s.createdAt, "string")
        assert.deepStrictEqual(JSON.parse(JSON.stringify(s)), s)
      }
      // A worktree path finds the same repository.
      assert.lengthOf(await client.sessions.list({ repoPath: second.worktreePath }), 2)

      const got = await client.sessions.get({ sessionId: second.sessionId })
      assert.strictEqual(got.worktreePath, second.worktreePath)
      const env = await client.sessions.environment({ sessionId: second.sessionId })
      assert.strictEqual(env.PARALLEL_CC_SESSION_ID, second.sessionId)
      assert.strictEqual(env.PARALLEL_CC_WORKTREE, second.worktreePath)
      assert.isTrue(fs.existsSync(env.PARALLEL_CC_HEARTBEAT_FILE!))
      assert.match(env.PARALLEL_CC_PORT_BASE ?? "", /^\d+$/)
      assert.deepStrictEqual(await client.sessions.heartbeat({ sessionId: first.sessionId }), { touched: 1 })

      const released = await client.sessions.release({ sessionId: second.sessionId })
      assert.lengthOf(released, 1)
      assert.strictEqual(released[0]!.worktree, "removed")
      assert.isFalse(fs.existsSync(second.worktreePath))
      const status = await client.sessions.status({ repoPath: repo.root })
      assert.deepStrictEqual(status.sessions.map((s) => s.sessionId), [first.sessionId])
      assert.deepStrictEqual(status.kept, [])
    } finally {
      await client.close()
    }
  })

  it("rejects with the typed errors themselves (with _tag and a message), never a FiberFailure", async () => {
    const base = tempDir()
    const repo = TempRepo.makeSync(base)
    const client = createClient({ dataDir: path.join(base, "data"), homeDir: base })
    try {
      const notFound = await rejection(client.sessions.release({ sessionId: "zzzzzzzzzz" }))
      assert.instanceOf(notFound, SessionNotFound)
      assert.instanceOf(notFound, Error)
      assert.strictEqual((notFound as SessionNotFound)._tag, "SessionNotFound")
      assert.match((notFound as Error).message, /no active session with id zzzzzzzzzz/)
      assert.isTrue(isParallelCcError(notFound))

      const badType = await rejection(client.sessions.register({ repoPath: repo.root, pid: "1" as unknown as number }))
      assert.instanceOf(badType, InvalidInput)
      assert.strictEqual((badType as InvalidInput).field, "sessions.register.pid")

      const extra = await rejection(client.sessions.list({ repo: repo.root } as never))
      assert.instanceOf(extra, InvalidInput)
      assert.strictEqual((extra as InvalidInput).field, "sessions.list.repo")

      const both = await rejection(client.sessions.release({}))
      assert.instanceOf(both, InvalidInput)
      assert.match((both as Error).message, /exactly one of sessionId or pid/)

      const a = await client.sessions.register({ repoPath: repo.root, pid: process.pid })
      const b = await client.sessions.register({ repoPath: repo.root, pid: process.pid })
      const held = await client.claims.acquire({ sessionId: a.sessionId, path: "src/app.ts" })
      assert.strictEqual(held.change, "acquired")
      assert.strictEqual(held.claim.mode, "EXCLUSIVE")
      const conflict = await rejection(client.claims.acquire({ sessionId: b.sessionId, path: "./src/app.ts", mode: "SHARED" }))
      assert.instanceOf(conflict, ClaimConflict)
      assert.strictEqual((conflict as ClaimConflict).holders[0]!.sessionId, a.sessionId)
      const intent = await client.claims.acquire({ sessionId: b.sessionId, path: "src/app.ts", mode: "INTENT" })
      assert.deepStrictEqual(intent.others.map((c) => c.sessionId), [a.sessionId])
      assert.deepStrictEqual(
        (await client.claims.list({ repoPath: repo.root, path: "src/app.ts" })).map((c) => c.mode).sort(),
        ["EXCLUSIVE", "INTENT"]
      )
      assert.strictEqual((await client.claims.release({ sessionId: a.sessionId, path: "src/app.ts" })).releaseReason, "released")
      assert.lengthOf(await client.claims.releaseAll({ sessionId: b.sessionId }), 1)
      assert.lengthOf(await client.claims.list({ repoPath: repo.root }), 0)
    } finally {
      await client.close()
    }
  })

  it("overlaps.list scans live sessions and reports overlapping files; overlaps.changes lists a session's files", async () => {
    const base = tempDir()
    const repo = TempRepo.makeSync(base, { files: { "a.txt": "one\ntwo\n" } })
    const client = createClient({ dataDir: path.join(base, "data"), homeDir: base })
    try {
      const a = await client.sessions.register({ repoPath: repo.root, pid: process.pid })
      const b = await client.sessions.register({ repoPath: repo.root, pid: process.pid })
      fs.writeFileSync(path.join(a.worktreePath, "a.txt"), "ONE\ntwo\n")
      fs.writeFileSync(path.join(b.worktreePath, "a.txt"), "one\nTWO\n")
      assert.deepStrictEqual(await client.overlaps.list({ repoPath: repo.root, refresh: false }), [])
      const [o] = await client.overlaps.list({ repoPath: repo.root })
      assert.strictEqual(o!.filePath, "a.txt")
      assert.strictEqual(o!.level, "hunk")
      assert.isTrue(o!.conflict)
      assert.strictEqual(typeof o!.firstSeen, "string")
      assert.deepStrictEqual((await client.overlaps.changes({ sessionId: b.sessionId })).map((c) => [c.filePath, c.status]), [["a.txt", "modified"]])
      const bad = await rejection(client.overlaps.list({ sessionId: "NOT AN ID" }))
      assert.instanceOf(bad, InvalidInput)
      assert.strictEqual((bad as InvalidInput).field, "overlaps.list.sessionId")
    } finally {
      await client.close()
    }
  })

  it("previews a conflict and reads merge state, in plain JSON", async () => {
    const base = tempDir()
    const repo = ConflictRepo.makeSync(base, {
      base: { "src/greet.ts": "export const greet = (name: string) => `Hello, ${name}`\n" },
      ours: { "src/greet.ts": "export const greet = (name: string) => `Hi, ${name}!`\n" },
      theirs: { "src/greet.ts": "export const greet = (name: string) => `Welcome, ${name}.`\n" }
    })
    const client = createClient({ dataDir: path.join(base, "data"), homeDir: base })
    try {
      const preview = await client.conflicts.preview({ repoPath: repo.root, ours: "main", theirs: "feature" })
      assert.isFalse(preview.clean)
      assert.deepStrictEqual(preview.files.map((f) => f.path), ["src/greet.ts"])
      assert.strictEqual(repo.git(["status", "--porcelain"]), "")
      const detected = await client.conflicts.detect({ repoPath: repo.root, ours: "main", theirs: "feature" })
      assert.strictEqual(detected.conflicts[0]!.type, "CONCURRENT_EDIT")
      const suggestions = await client.conflicts.suggest({ conflictId: detected.conflicts[0]!.id })
      assert.isAbove(suggestions.length, 0)
      assert.lengthOf(await client.conflicts.history({ repoPath: repo.root }), 1)

      const check = await client.merges.check({ repoPath: repo.root, branch: "feature" })
      assert.isNull(check.event)
      assert.strictEqual(check.targetBranch, "main")
      assert.deepStrictEqual(await client.merges.status({ repoPath: repo.root }), [])
      const poll = await client.merges.poll()
      assert.deepStrictEqual(poll.events, [])
    } finally {
      await client.close()
    }
  })

  it("runs a sandboxed task (local provider) and brings its changes back in a worktree for review", async () => {
    const base = tempDir()
    const repo = TempRepo.makeSync(base, { files: { "README.md": "# shop\n", "old.txt": "obsolete\n" } })
    const client = createClient({
      dataDir: path.join(base, "data"),
      homeDir: base,
      config: { "sandbox.local.root": path.join(base, "sandboxes"), "sandbox.local.isolation": "process" }
    })
    try {
      const events: Array<string> = []
      const script: ScriptedAgent.Script = {
        actions: [
          { edit: "README.md", find: "# shop", replace: "# shop\n\nNow with a health check." },
          { write: "src/health.ts", content: "export const health = () => \"ok\"\n" },
          { delete: "old.txt" },
          { say: "Added a health check." }
        ],
        cost: 0.01
      }
      const result = await client.sandbox.run(
        {
          repoPath: repo.root,
          prompt: ScriptedAgent.prompt("Add a health check", script),
          provider: "local",
          agent: ScriptedAgent.path,
          env: { PATH: process.env.PATH }
        },
        { onEvent: (e) => events.push(e._tag) }
      )
      assert.strictEqual(result.run.status, "succeeded", result.run.error ?? "")
      assert.deepStrictEqual(JSON.parse(JSON.stringify(result)), result)
      assert.deepStrictEqual(result.changes, { added: ["src/health.ts"], modified: ["README.md"], deleted: ["old.txt"] })
      assert.include(events, "Started")
      assert.include(events, "Finished")
      assert.isNotNull(result.worktreePath)
      assert.include(fs.readFileSync(path.join(result.worktreePath!, "README.md"), "utf8"), "Now with a health check.")
      assert.strictEqual(fs.readFileSync(path.join(repo.root, "README.md"), "utf8"), "# shop\n")

      const id = result.run.sessionId
      assert.strictEqual((await client.sandbox.status({ sessionId: id })).run.status, "succeeded")
      assert.deepStrictEqual((await client.sandbox.list({ repoPath: repo.root })).map((r) => r.sessionId), [id])
      assert.isAbove((await client.sandbox.logs({ sessionId: id })).length, 0)
      const missing = await rejection(client.sandbox.status({ sessionId: "zzzzzzzzzz" }))
      assert.instanceOf(missing, SandboxRunNotFound)
    } finally {
      await client.close()
    }
  })

  it("runs tasks in parallel: a dependency graph, progress by callback and by async iterator, the summary on disk", async () => {
    const base = tempDir()
    const repo = TempRepo.makeSync(base, { files: { "README.md": "# shop\n" } })
    const options = {
      dataDir: path.join(base, "data"),
      homeDir: base,
      cwd: base,
      env: { PATH: process.env.PATH },
      config: { "sandbox.local.root": path.join(base, "sandboxes"), "sandbox.local.isolation": "process", agent: ScriptedAgent.path }
    } as const
    const writes = (file: string): ScriptedAgent.Script => ({ actions: [{ write: file, content: `${file}\n` }], cost: 0.01 })
    const client = createClient(options)
    try {
      // A cycle is refused before anything starts: no output directory, no run.
      const cycle = await rejection(client.parallel.run({
        repoPath: repo.root,
        outputDir: "cyclic",
        tasks: [{ id: "a", prompt: "a", dependsOn: ["b"] }, { id: "b", prompt: "b", dependsOn: ["a"] }]
      }))
      assert.instanceOf(cycle, TaskListError)
      assert.isFalse(fs.existsSync(path.join(base, "cyclic")))
      assert.instanceOf(await rejection(client.parallel.run({ repoPath: repo.root })), InvalidInput)

      // b depends on a failing task and is skipped; c runs beside it.
      const events: Array<ParallelEvent> = []
      const summary = await client.parallel.run(
        {
          repoPath: repo.root,
          outputDir: "results",
          maxConcurrent: 2,
          tasks: [
            { id: "a", prompt: ScriptedAgent.prompt("fails", { actions: [{ fail: "cannot do that" }] }) },
            { id: "b", prompt: ScriptedAgent.prompt("after a", writes("b.txt")), dependsOn: ["a"] },
            { id: "c", prompt: ScriptedAgent.prompt("independent", writes("c.txt")) }
          ]
        },
        { onEvent: (e) => events.push(e) }
      )
      const byId = Object.fromEntries(summary.tasks.map((t) => [t.id, t]))
      assert.strictEqual(byId.a?.status, "failed")
      assert.strictEqual(byId.b?.status, "skipped")
      assert.strictEqual(byId.c?.status, "succeeded")
      assert.deepStrictEqual(byId.c?.changes.added, ["c.txt"])
      assert.strictEqual(summary.totals.succeeded, 1)
      assert.strictEqual(summary.outputDir, path.join(base, "results"))
      assert.deepStrictEqual(JSON.parse(fs.readFileSync(path.join(base, "results", "summary.json"), "utf8")), summary)
      assert.strictEqual(events[0]?._tag, "RunStarted")
      assert.deepStrictEqual(
        events.filter((e) => e._tag === "TaskFinished").map((e) => e._tag === "TaskFinished" ? `${e.taskId}:${e.status}` : "").sort(),
        ["a:failed", "b:skipped", "c:succeeded"]
      )

      // The same as an async iterator; the iterator ends with the run.
      const handle = client.parallel.start({ repoPath: repo.root, outputDir: "results-2", tasks: [ScriptedAgent.prompt("one", writes("one.txt"))] })
      const seen: Array<string> = []
      for await (const e of handle) seen.push(e._tag)
      const second = await handle.summary
      assert.strictEqual(second.status, "succeeded")
      assert.strictEqual(seen[0], "RunStarted")
      assert.include(seen, "TaskFinished")
    } finally {
      await client.close()
    }

    // runParallel: one call, its own client, closed afterwards.
    const once = await runParallel(
      { repoPath: repo.root, outputDir: "results-3", tasks: [ScriptedAgent.prompt("two", writes("two.txt"))] },
      options
    )
    assert.strictEqual(once.totals.succeeded, 1)
  })

  it("lands branches through the test-gated queue with progress events; a failing one comes back with its log", async () => {
    const base = tempDir()
    const repo = TempRepo.makeSync(base, { files: { "README.md": "# r\n", "check.mjs": "import fs from 'node:fs'\nprocess.exit(fs.existsSync('BROKEN') ? 1 : 0)\n" } })
    for (const [name, file] of [["ok", "ok.txt"], ["broken", "BROKEN"]] as const) {
      repo.git(["branch", name])
      const wt = path.join(base, name)
      repo.git(["worktree", "add", "-q", wt, name])
      repo.write(file, "x\n", wt)
      repo.commitAll(`${name} work`, wt)
      repo.git(["worktree", "remove", wt])
    }
    await using client = createClient({ dataDir: path.join(base, "data"), cwd: repo.root, config: { "land.test": "node check.mjs" } })
    const plan = await client.land.run({ candidates: ["ok", "broken"], dryRun: true })
    assert.deepStrictEqual(plan.plan.map((p) => p.outcome), ["lands", "lands"])
    const events: Array<LandEvent> = []
    const report = await client.land.run({ candidates: ["ok", "broken"] }, { onEvent: (e) => events.push(e) })
    assert.deepStrictEqual(report.entries.map((e) => [e.name, e.status]), [["ok", "landed"], ["broken", "sent_back"]])
    assert.isTrue(fs.existsSync(report.entries[1]!.logPath!))
    assert.strictEqual(events[events.length - 1]!._tag, "Finished")
    assert.isTrue(events.some((e) => e._tag === "SentBack" && e.name === "broken"))
    const status = await client.land.status({ repoPath: repo.root })
    assert.lengthOf(status.entries, 2)
    const bad = await rejection(client.land.run({ candidates: ["nope"] }))
    assert.instanceOf(bad, LandError)
    assert.strictEqual((bad as LandError).reason, "UnknownCandidate")
    assert.isTrue(isParallelCcError(bad))
    const badInput = await rejection(client.land.run({ strategy: "octopus" } as never))
    assert.instanceOf(badInput, InvalidInput)
  })

  it("takes configuration from its options only: config overrides, env when given, home directory", async () => {
    const base = tempDir()
    const repo = TempRepo.makeSync(base)
    const bad = (() => {
      try {
        createClient({ config: { "worktree.prefx": "x" } as never })
      } catch (e) {
        return e
      }
    })()
    assert.instanceOf(bad, ConfigError)
    assert.strictEqual((bad as ConfigError).reason, "UnknownKey")
    const invalid = (() => {
      try {
        createClient({ config: { "claims.ttlMinutes": 0 } })
      } catch (e) {
        return e
      }
    })()
    assert.instanceOf(invalid, ConfigError)
    assert.match((invalid as Error).message, /claims\.ttlMinutes/)

    const home = path.join(base, "home")
    const byHome = createClient({ homeDir: home })
    try {
      const info = await byHome.info()
      assert.strictEqual(info.dataDir, path.join(home, ".parallel-cc"))
      assert.strictEqual(info.sources["worktree.prefix"], "default")
    } finally {
      await byHome.close()
    }

    const dataDir = path.join(base, "data")
    const client = createClient({
      dataDir,
      homeDir: base,
      env: { PARALLEL_CC_WORKTREE_PREFIX: "env-", PARALLEL_CC_DATA_DIR: path.join(base, "ignored"), HOME: "/nowhere" },
      config: { "ports.base": 5200 }
    })
    try {
      const info = await client.info()
      assert.strictEqual(info.dataDir, dataDir)
      assert.strictEqual(info.values["worktree.prefix"], "env-")
      assert.strictEqual(info.values["ports.base"], 5200)
      await client.sessions.register({ repoPath: repo.root, pid: process.pid })
      const second = await client.sessions.register({ repoPath: repo.root, pid: process.pid })
      assert.match(second.branch ?? "", /^env-/)
      assert.isTrue(fs.existsSync(path.join(dataDir, "coordinator.db")))
    } finally {
      await client.close()
    }
  })

  it("closes: await using, aborted calls reject with Interrupted, calls after close with ClientClosed", async () => {
    const base = tempDir()
    let outer: ReturnType<typeof createClient> | undefined
    {
      await using client = createClient({ dataDir: path.join(base, "data"), homeDir: base })
      outer = client
      assert.lengthOf(await client.sessions.list(), 0)
      const aborted = await rejection(client.sessions.list({}, { signal: AbortSignal.abort() }))
      assert.instanceOf(aborted, Interrupted)
      assert.strictEqual((aborted as Interrupted).reason, "Aborted")
    }
    const closed = await rejection(outer.sessions.list())
    assert.instanceOf(closed, ClientClosed)
    await outer.close()
  })
})
