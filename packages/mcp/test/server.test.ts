import { Cli, TempDir } from "@parallel-cc/testkit"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, assert, describe, it } from "vitest"
import { connect, envFor, world, type World } from "./harness.js"

const worlds: Array<World> = []
const make = (...args: Parameters<typeof world>) => {
  const w = world(...args)
  worlds.push(w)
  return w
}
afterEach(async () => {
  for (const w of worlds.splice(0)) await w.dispose()
})

describe("MCP server (stdio, real client)", () => {
  it("lists its tools, each with an input and an output schema", async () => {
    const w = make()
    const server = await w.connect(w.repo.root)
    const { tools } = await server.client.listTools()
    const names = tools.map((t) => t.name)
    // The original tool's 14, plus the sandboxed-run tools and get_overlaps.
    assert.sameMembers(names, [
      "get_parallel_status",
      "get_my_session",
      "notify_when_merged",
      "check_merge_status",
      "check_conflicts",
      "rebase_assist",
      "get_merge_events",
      "claim_file",
      "release_file",
      "list_file_claims",
      "get_overlaps",
      "detect_advanced_conflicts",
      "get_auto_fix_suggestions",
      "apply_auto_fix",
      "conflict_history",
      "get_sandbox_runs",
      "get_sandbox_run_status",
      "request_land",
      "get_land_status"
    ])
    assert.strictEqual(new Set(names).size, names.length)
    for (const t of tools) {
      assert.strictEqual(t.inputSchema.type, "object", t.name)
      assert.strictEqual(t.outputSchema?.type, "object", t.name)
      assert.isAbove(t.description?.length ?? 0, 20, t.name)
    }
  })

  it("is its own bundle: no other command loads the MCP SDK or zod", () => {
    const dist = path.dirname(Cli.binPath)
    const marker = "StdioServerTransport already started"
    assert.include(fs.readFileSync(path.join(dist, "mcp.cjs"), "utf8"), marker)
    for (const other of ["cli.cjs", "fast.cjs"]) {
      const code = fs.readFileSync(path.join(dist, other), "utf8")
      assert.notInclude(code, marker, other)
      assert.notInclude(code, "modelcontextprotocol", other)
    }
  })

  it("finds the calling session from PARALLEL_CC_SESSION_ID, else from the working directory", async () => {
    const w = make()
    const main = w.register()
    const second = w.register()
    assert.isFalse(second.isMainRepo)

    // From the worktree directory (a subdirectory of it, even).
    fs.mkdirSync(path.join(second.worktreePath, "src"), { recursive: true })
    const inWorktree = await w.connect(path.join(second.worktreePath, "src"))
    const mine = await inWorktree.ok("get_my_session")
    assert.strictEqual(mine.session.sessionId, second.sessionId)
    assert.strictEqual(mine.session.branch, second.branch)
    assert.strictEqual(mine.resolvedBy, "cwd")
    assert.strictEqual(mine.otherSessions, 1)

    // The env var wins over the directory.
    const byEnv = await w.connect(second.worktreePath, { PARALLEL_CC_SESSION_ID: main.sessionId })
    const me = await byEnv.ok("get_my_session")
    assert.strictEqual(me.session.sessionId, main.sessionId)
    assert.strictEqual(me.resolvedBy, "env")
    assert.isTrue(me.session.isMainRepo)

    const status = await inWorktree.ok("get_parallel_status")
    assert.strictEqual(status.repoPath, w.repo.root)
    assert.strictEqual(status.you, second.sessionId)
    assert.strictEqual(status.total, 2)
    assert.sameMembers(status.sessions.map((s: any) => s.sessionId), [main.sessionId, second.sessionId])
    assert.deepStrictEqual(status.sessions.filter((s: any) => s.isYou).map((s: any) => s.sessionId), [second.sessionId])
  })

  it("the heartbeat it reports is the one status shows: the hook's heartbeat file, not the time of registration", async () => {
    const w = make()
    w.register()
    const s = w.register()
    // What the heartbeat hook does on every tool call: rewrite the session's heartbeat file.
    const file = path.join(w.dataDir, "heartbeats", s.sessionId)
    assert.isTrue(fs.existsSync(file), file)
    const later = new Date(Date.now() + 90_000)
    fs.utimesSync(file, later, later)
    const shown = Cli.json(w.cli(["status", "--json"])).sessions.find((x: any) => x.sessionId === s.sessionId)
    assert.strictEqual(shown.lastHeartbeat, later.toISOString())
    const server = await w.connect(s.worktreePath)
    const mine = await server.ok("get_my_session")
    assert.notStrictEqual(mine.session.lastHeartbeat, mine.session.createdAt)
    assert.strictEqual(mine.session.lastHeartbeat, shown.lastHeartbeat)
    const all = await server.ok("get_parallel_status")
    assert.strictEqual(all.sessions.find((x: any) => x.sessionId === s.sessionId).lastHeartbeat, shown.lastHeartbeat)
  })

  it("status answers from the store snapshot exactly as through the services, and steps aside for a dead session", async () => {
    const w = make()
    const main = w.register()
    const second = w.register()
    const later = new Date(Date.now() + 90_000)
    fs.utimesSync(path.join(w.dataDir, "heartbeats", second.sessionId), later, later)
    const trace = { PARALLEL_CC_TRACE_FAST_PATH: "1", PARALLEL_CC_SESSION_ID: second.sessionId }
    const fast = await w.connect(main.worktreePath, trace)
    const slow = await w.connect(main.worktreePath, { ...trace, PARALLEL_CC_NO_FAST_PATH: "1" })
    const compare = async () => {
      for (const [tool, args] of [["get_parallel_status", {}], ["get_parallel_status", { allRepos: true }], ["get_my_session", {}]] as const) {
        const a = await fast.call(tool, args)
        const b = await slow.call(tool, args)
        assert.isNotTrue(a.isError, JSON.stringify(a.content))
        assert.deepStrictEqual(a, b, tool)
      }
    }
    await compare()
    assert.include(fast.stderr(), "answered from the store snapshot")
    assert.notInclude(fast.stderr(), "store snapshot declined")
    assert.notInclude(slow.stderr(), "store snapshot")

    // A session whose process is gone: the snapshot cannot prove it alive and steps aside; same answers.
    const agent = spawn("sleep", ["600"], { stdio: "ignore" })
    try {
      const r = w.cli(["register", "--repo", w.repo.root, "--pid", String(agent.pid), "--json"])
      assert.strictEqual(r.code, 0, r.stderr)
    } finally {
      agent.kill("SIGKILL")
    }
    await new Promise<void>((resolve) => (agent.exitCode !== null || agent.signalCode !== null ? resolve() : agent.once("exit", () => resolve())))
    await compare()
    assert.include(fast.stderr(), "store snapshot declined")
    assert.strictEqual((await fast.ok("get_parallel_status")).total, 3)
  }, 240_000) // two servers and a dozen calls: generous for a loaded machine

  it("answers bad calls with tool errors and keeps serving", async () => {
    const w = make()
    const outside = TempDir.makeSync()
    try {
      // Outside any session: no calling session is a tool error that says what to do.
      const server = await w.connect(outside)
      const none = await server.fails("get_my_session")
      assert.strictEqual(none._tag, "NoCallingSession")
      assert.include(none.message, "PARALLEL_CC_SESSION_ID")
      // An unknown session id in the env falls back to the directory, then fails naming the id.
      const stale = await w.connect(outside, { PARALLEL_CC_SESSION_ID: "zzzzzzzzzz" })
      assert.include((await stale.fails("get_my_session")).message, "zzzzzzzzzz")

      // zod-validated input: wrong types, unknown arguments.
      assert.include((await server.fails("get_parallel_status", { repo: 5 })).text, "Input validation error")
      assert.include((await server.fails("get_parallel_status", { repository: "." })).text, "Input validation error")
      assert.include((await server.fails("get_my_session", { extra: true })).text, "Input validation error")
      // Domain validation: a repo path that does not exist, or is not a repository.
      assert.strictEqual((await server.fails("get_parallel_status", { repo: "/no/such/dir" }))._tag, "InvalidInput")
      assert.strictEqual((await server.fails("get_parallel_status", { repo: outside })).reason, undefined)
      assert.include((await server.fails("nope")).text, "not found")

      // Still alive and answering.
      const all = await server.ok("get_parallel_status", { allRepos: true })
      assert.strictEqual(all.total, 0)
      assert.notInclude(server.stderr(), "internal error")
    } finally {
      TempDir.removeSync(outside)
    }
  })

  it("a store locked while it opens is a tool error on that call, and the next call opens it", async () => {
    const w = make()
    const server = await w.connect(w.repo.root, { PARALLEL_CC_DB_BUSY_TIMEOUT_MS: "200" })
    // The store does not exist yet: the server's first call must create and migrate it, while another
    // process holds the lock.
    fs.mkdirSync(w.dataDir, { recursive: true, mode: 0o700 })
    const holder = await holdLock(path.join(w.dataDir, "coordinator.db"))
    try {
      const busy = await server.fails("get_parallel_status")
      assert.strictEqual(busy._tag, "DatabaseBusy")
    } finally {
      holder.kill("SIGKILL")
      await new Promise((r) => holder.once("exit", r))
    }
    const ok = await server.ok("get_parallel_status")
    assert.strictEqual(ok.total, 0)
    w.register()
    assert.strictEqual((await server.ok("get_parallel_status")).total, 1)
  })

  it("works from any directory through the absolute bin path, and exits when the client goes away", async () => {
    const w = make()
    const elsewhere = TempDir.makeSync()
    try {
      const server = await connect({ cwd: elsewhere, dataDir: w.dataDir, home: w.repo.home })
      const all = await server.ok("get_parallel_status", { repo: w.repo.root })
      assert.strictEqual(all.repoPath, w.repo.root)
      await server.close()
      // Through the full CLI (no loader shortcut), and with the global --db flag.
      const db = path.join(elsewhere, "other.db")
      const viaCli = await connect({
        cwd: elsewhere,
        dataDir: w.dataDir,
        home: w.repo.home,
        env: { PARALLEL_CC_NO_FAST_PATH: "1" },
        args: ["--db", db]
      })
      assert.strictEqual((await viaCli.ok("get_parallel_status", { allRepos: true })).total, 0)
      assert.isTrue(fs.existsSync(db))
      await viaCli.close()
      // stdin closed → the process is gone (the SDK client would otherwise SIGTERM it after 2 s).
      const child = spawn(process.execPath, [Cli.binPath, "mcp", "serve"], {
        cwd: elsewhere,
        env: envFor(w.dataDir, w.repo.home),
        stdio: ["pipe", "pipe", "pipe"]
      })
      const started = Date.now()
      child.stdin.end()
      const code = await new Promise<number | null>((r) => child.once("exit", (c) => r(c)))
      assert.strictEqual(code, 0)
      assert.isBelow(Date.now() - started, 20_000)
    } finally {
      TempDir.removeSync(elsewhere)
    }
  })
})

/** A separate process that holds the SQLite write lock until killed. */
const holdLock = (file: string) =>
  new Promise<ReturnType<typeof spawn>>((resolve) => {
    const code = `
      const Database = require(${JSON.stringify(require.resolve("better-sqlite3", { paths: [process.cwd()] }))});
      const db = new Database(${JSON.stringify(file)});
      db.exec("BEGIN EXCLUSIVE");
      process.stdout.write("locked\\n");
      setInterval(() => {}, 1000);`
    const child = spawn(process.execPath, ["-e", code], { stdio: ["ignore", "pipe", "inherit"] })
    child.stdout!.once("data", () => resolve(child))
  })
