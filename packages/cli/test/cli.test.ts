import { Database } from "@parallel-cc/core"
import { Cli, TempDir, TempRepo } from "@parallel-cc/testkit"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, assert, describe, it } from "vitest"

const dirs: Array<string> = []
afterEach(() => {
  for (const d of dirs.splice(0)) TempDir.removeSync(d)
})
const tmp = () => {
  const d = TempDir.makeSync()
  dirs.push(d)
  return d
}
const envFor = (dataDir: string, extra: Record<string, string> = {}) => ({
  PARALLEL_CC_DATA_DIR: dataDir,
  HOME: dataDir,
  ...extra
})

describe("parallel-cc CLI", () => {
  it("--version and --help describe every command", () => {
    const data = tmp()
    const v = Cli.runSync(["--version"], { env: envFor(data) })
    assert.strictEqual(v.code, 0)
    assert.match(v.stdout.trim(), /^\d+\.\d+\.\d+/)
    const h = Cli.runSync(["--help"], { env: envFor(data) })
    assert.strictEqual(h.code, 0)
    for (const cmd of ["status", "register", "config get", "config set", "config list", "migrate"]) {
      assert.include(h.stdout, cmd)
    }
    // --help never opens the store.
    assert.isFalse(fs.existsSync(path.join(data, "coordinator.db")))
  })

  it("status --json prints one document with a sessions array, on the fast path and the full CLI alike", () => {
    const data = tmp()
    const repo = TempRepo.makeSync(tmp())
    const reg = Cli.runSync(["register", "--repo", repo.root, "--pid", String(process.pid), "--json"], { env: envFor(data) })
    assert.strictEqual(reg.code, 0, reg.stderr)
    const registration = Cli.json(reg)
    assert.deepStrictEqual(Object.keys(registration).sort(), [
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
    assert.isTrue(registration.isMainRepo)
    assert.strictEqual(registration.worktreePath, repo.root)

    const fast = Cli.runSync(["status", "--json"], { env: envFor(data) })
    const full = Cli.runSync(["status", "--json"], { env: envFor(data, { PARALLEL_CC_NO_FAST_PATH: "1" }) })
    assert.strictEqual(fast.code, 0, fast.stderr)
    assert.strictEqual(full.code, 0, full.stderr)
    assert.strictEqual(fast.stdout, full.stdout)
    const doc = Cli.json(fast)
    assert.lengthOf(doc.sessions, 1)
    const s = doc.sessions[0]
    for (const key of ["sessionId", "repoPath", "worktreePath", "isMainRepo", "branch", "pid", "status", "lastHeartbeat"]) {
      assert.property(s, key)
    }
    assert.strictEqual(s.sessionId, registration.sessionId)
    assert.strictEqual(s.pid, process.pid)
    assert.strictEqual(s.status, "active")
    assert.isFalse(Number.isNaN(Date.parse(s.lastHeartbeat)))

    const human = Cli.runSync(["status"], { env: envFor(data) })
    assert.include(human.stdout, registration.sessionId)
    assert.include(human.stdout, repo.root)

    // --verbose logs go to stderr only (a new store logs its migrations): stdout stays one JSON document.
    for (const extra of [{}, { PARALLEL_CC_NO_FAST_PATH: "1" }]) {
      const verbose = Cli.runSync(["--verbose", "status", "--json"], { env: envFor(tmp(), extra) })
      assert.strictEqual(verbose.code, 0, verbose.stderr)
      assert.include(verbose.stderr, "DEBUG")
      assert.notInclude(verbose.stdout, "DEBUG")
      assert.lengthOf(Cli.json(verbose).sessions, 0)
    }
  })

  it("config set/get/list round-trip, and bad values fail with exit 1, the key named, no stack trace", () => {
    const data = tmp()
    const env = envFor(data)
    assert.strictEqual(Cli.runSync(["config", "set", "worktree.prefix", "agent-"], { env }).code, 0)
    const get = Cli.runSync(["config", "get", "worktree.prefix"], { env })
    assert.strictEqual(get.stdout.trim(), "agent-")
    const list = Cli.json(Cli.runSync(["config", "list", "--json"], { env }))
    const row = list.keys.find((k: any) => k.key === "worktree.prefix")
    assert.deepInclude(row, { value: "agent-", source: "file", env: "PARALLEL_CC_WORKTREE_PREFIX" })

    const before = fs.readFileSync(path.join(data, "config.json"), "utf8")
    const bad = Cli.runSync(["config", "set", "sessions.staleMinutes", "0"], { env })
    assert.strictEqual(bad.code, 1)
    assert.strictEqual(bad.stdout, "")
    assert.include(bad.stderr, "sessions.staleMinutes")
    assert.include(bad.stderr, "from 1 to 10080")
    assert.notInclude(bad.stderr, "    at ")
    const unknown = Cli.runSync(["config", "get", "nope"], { env })
    assert.strictEqual(unknown.code, 1)
    assert.include(unknown.stderr, "unknown config key \"nope\"")
    assert.strictEqual(fs.readFileSync(path.join(data, "config.json"), "utf8"), before)

    const envBad = Cli.runSync(["status"], { env: { ...env, PARALLEL_CC_AGENT: "" } })
    assert.strictEqual(envBad.code, 1)
    assert.include(envBad.stderr, "PARALLEL_CC_AGENT")
  })

  it("usage errors exit 2", () => {
    const data = tmp()
    const r = Cli.runSync(["register", "--pid", "abc"], { env: envFor(data) })
    assert.strictEqual(r.code, 2)
    const r2 = Cli.runSync(["no-such-command"], { env: envFor(data) })
    assert.strictEqual(r2.code, 2)
  })

  it("migrate --json reports the schema version; --version N goes forward only", () => {
    const data = tmp()
    const first = Cli.json(Cli.runSync(["migrate", "--version", "1", "--json"], { env: envFor(data) }))
    assert.strictEqual(first.version, 1)
    assert.strictEqual(first.fromVersion, 0)
    const latest = Cli.json(Cli.runSync(["migrate", "--json"], { env: envFor(data) }))
    assert.strictEqual(latest.version, latest.latestVersion)
    const again = Cli.json(Cli.runSync(["migrate", "--json"], { env: envFor(data) }))
    assert.deepStrictEqual(again.applied, [])
    assert.strictEqual(again.version, latest.version)
    const back = Cli.runSync(["migrate", "--version", "0", "--json"], { env: envFor(data) })
    assert.strictEqual(back.code, 1)
    assert.strictEqual(back.stdout, "")
  })

  // 32 CLI processes and 31 worktree checkouts at once: about a minute on a loaded 2-core machine, so it gets
  // five, and each process may wait up to four for the store's lock.
  it("32 simultaneous registers from separate processes: exactly one main, 31 distinct real worktrees, zero errors", { timeout: 300_000 }, async () => {
    const data = tmp()
    const repo = TempRepo.makeSync(tmp())
    const results = await Promise.all(
      Array.from({ length: 32 }, () =>
        Cli.run(["register", "--repo", repo.root, "--pid", String(process.pid), "--json"], {
          env: envFor(data, { PARALLEL_CC_DB_BUSY_TIMEOUT_MS: "240000" }),
          // Each process may wait as long as the test does (a loaded machine), not the default minute.
          timeoutMs: 280_000
        }))
    )
    const failures = results.filter((r) => r.code !== 0)
    assert.deepStrictEqual(failures.map((f) => f.stderr), [])
    const regs = results.map((r) => Cli.json(r))
    assert.strictEqual(regs.filter((r) => r.isMainRepo).length, 1)
    const others = regs.filter((r) => !r.isMainRepo)
    assert.strictEqual(others.length, 31)
    assert.strictEqual(new Set(others.map((r) => r.worktreePath)).size, 31)
    assert.strictEqual(new Set(regs.map((r) => r.sessionId)).size, 32)
    const status = Cli.json(Cli.runSync(["status", "--json"], { env: envFor(data) }))
    assert.lengthOf(status.sessions, 32)
    // Real worktrees, one per non-main session, each on its own branch.
    for (const r of others) assert.isTrue(fs.existsSync(path.join(r.worktreePath, "README.md")), r.worktreePath)
    const listed = repo.git(["worktree", "list", "--porcelain"]).split("\n").filter((l) => l.startsWith("worktree "))
    assert.lengthOf(listed, 32)
    assert.strictEqual(new Set(others.map((r) => r.branch)).size, 31)
    const released = Cli.json(Cli.runSync(["release", "--pid", String(process.pid), "--json"], { env: envFor(data) }))
    assert.lengthOf(released.released, 32)
    assert.lengthOf(repo.git(["worktree", "list", "--porcelain"]).split("\n").filter((l) => l.startsWith("worktree ")), 1)
  })

  it("commands started together on a new data directory all create and open the same store (no DatabaseBusy)", async () => {
    const data = tmp()
    const results = await Promise.all(Array.from({ length: 12 }, () => Cli.run(["migrate", "--json"], { env: envFor(data) })))
    assert.deepStrictEqual(results.filter((r) => r.code !== 0).map((r) => r.stderr), [])
    assert.deepStrictEqual(new Set(results.map((r) => Cli.json(r).version)), new Set([Database.latestVersion]))
    assert.deepStrictEqual(Cli.json(Cli.runSync(["status", "--json"], { env: envFor(data) })).sessions, [])
  })

  it("a database locked by another process: the command waits for the busy timeout, then fails with DatabaseBusy", async () => {
    const data = tmp()
    const repo = TempRepo.makeSync(tmp())
    assert.strictEqual(Cli.runSync(["migrate"], { env: envFor(data) }).code, 0)
    const holder = spawn(process.execPath, ["-e", `
      const Database = require(${JSON.stringify(require.resolve("better-sqlite3", { paths: [Cli.projectRoot] }))});
      const db = new Database(${JSON.stringify(path.join(data, "coordinator.db"))});
      db.exec("BEGIN IMMEDIATE");
      process.stdout.write("locked\\n");
      setInterval(() => {}, 1000);`], { stdio: ["ignore", "pipe", "inherit"] })
    try {
      await new Promise((r) => holder.stdout!.once("data", r))
      const started = Date.now()
      const r = await Cli.run(["register", "--repo", repo.root, "--pid", "1", "--json"], {
        env: envFor(data, { PARALLEL_CC_DB_BUSY_TIMEOUT_MS: "400" })
      })
      assert.isAtLeast(Date.now() - started, 400)
      assert.strictEqual(r.code, 1)
      assert.strictEqual(r.stdout, "")
      assert.include(r.stderr, "locked by another process")
    } finally {
      holder.kill("SIGKILL")
    }
    await new Promise((r) => holder.once("exit", r))
    const ok = Cli.runSync(["register", "--repo", repo.root, "--pid", "1", "--json"], { env: envFor(data) })
    assert.strictEqual(ok.code, 0, ok.stderr)
  })
})
