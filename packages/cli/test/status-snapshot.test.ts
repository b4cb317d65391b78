/**
 * `status --json` is answered at start-up from a read-only snapshot of the store (StatusSnapshot) when that
 * changes nothing. These tests run the built CLI both ways — the snapshot path, and the Sessions service
 * (PARALLEL_CC_NO_FAST_PATH=1) — on the same states and require the same bytes, and check that the snapshot
 * declines whenever the service has something to decide.
 */
import { Database as Db, StatusSnapshot } from "@parallel-cc/core"
import { Cli, TempDir, TempRepo } from "@parallel-cc/testkit"
import Database from "better-sqlite3"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, assert, describe, it } from "vitest"

const dirs: Array<string> = []
const children: Array<ChildProcess> = []
afterEach(() => {
  for (const c of children.splice(0)) c.kill("SIGKILL")
  for (const d of dirs.splice(0)) TempDir.removeSync(d)
})

/** A process that stays alive until the test ends: the "agent" of a session. */
const agent = (): number => {
  const c = spawn("sleep", ["300"], { stdio: "ignore" })
  children.push(c)
  return c.pid!
}

const world = () => {
  const base = TempDir.makeSync()
  dirs.push(base)
  const repo = TempRepo.makeSync(base, { files: { "README.md": "# r\n" } })
  const data = path.join(base, "data")
  const env: Record<string, string> = { ...repo.env, PARALLEL_CC_DATA_DIR: data }
  return { base, repo, data, env }
}
type World = ReturnType<typeof world>

const run = (w: World, args: ReadonlyArray<string>, service: boolean) =>
  Cli.runSync(args, { env: { ...w.env, ...(service ? { PARALLEL_CC_NO_FAST_PATH: "1" } : {}) }, cwd: w.repo.root })

/** Both paths print the same document; returns it. */
const same = (w: World, args: ReadonlyArray<string> = ["status", "--json"]) => {
  const fast = run(w, args, false)
  const slow = run(w, args, true)
  assert.strictEqual(fast.code, 0, fast.stderr)
  assert.strictEqual(slow.code, 0, slow.stderr)
  assert.strictEqual(fast.stdout, slow.stdout)
  assert.strictEqual(fast.stderr, "")
  return JSON.parse(fast.stdout)
}

const snapshot = (w: World, extra: Partial<StatusSnapshot.Options> = {}) =>
  StatusSnapshot.read({ dbPath: path.join(w.data, "coordinator.db"), dataDir: w.data, ...extra })

const register = (w: World, pid: number) => {
  const r = Cli.runSync(["register", "--repo", w.repo.root, "--pid", String(pid), "--json"], { env: w.env, cwd: w.repo.root })
  assert.strictEqual(r.code, 0, r.stderr)
  return Cli.json(r)
}

describe("status --json from the store snapshot", { timeout: 180_000 }, () => {
  it("prints exactly what the Sessions service prints: empty, main and worktree sessions, heartbeats, filters, kept worktrees", () => {
    const w = world()
    // No store yet: the snapshot declines (the service creates the store).
    assert.isUndefined(snapshot(w))
    assert.deepStrictEqual(same(w), { sessions: [], kept: [], released: [] })
    assert.deepStrictEqual(snapshot(w), { sessions: [], kept: [], released: [] })

    const main = register(w, agent())
    const second = register(w, agent())
    // A heartbeat through the hook's file moves lastHeartbeat past the stored value.
    const later = new Date(Date.now() + 5_000)
    fs.utimesSync(path.join(w.data, "heartbeats", second.sessionId), later, later)
    const both = same(w)
    assert.deepStrictEqual(both.sessions.map((s: any) => [s.sessionId, s.isMainRepo, s.liveness.state]), [
      [main.sessionId, true, "alive"],
      [second.sessionId, false, "alive"]
    ])
    assert.strictEqual(both.sessions[1].lastHeartbeat, later.toISOString())
    assert.isNotNull(snapshot(w))
    same(w, ["status", "--json", "--repo", w.repo.root])
    same(w, ["status", "--repo", path.join(w.repo.root, "."), "--json", "--verbose"])
    assert.deepStrictEqual(same(w, ["status", "--json", "--sandbox-only"]).sessions, [])

    // A worktree released with uncommitted work is kept and listed under `kept`.
    fs.writeFileSync(path.join(second.worktreePath, "work.txt"), "unsaved\n")
    const rel = Cli.runSync(["release", "--session-id", second.sessionId, "--json"], { env: w.env, cwd: w.repo.root })
    assert.strictEqual(rel.code, 0, rel.stderr)
    const after = same(w)
    assert.deepStrictEqual(after.kept.map((s: any) => s.sessionId), [second.sessionId])
    assert.isString(after.kept[0].keptReason)
    // Another store file through --db and through the environment.
    const other = path.join(w.base, "other.db")
    same({ ...w, env: { ...w.env, PARALLEL_CC_DB_PATH: other } })
    same(w, ["status", "--json", "--db", other])
  })

  it("agent state and usage: the same bytes both ways; the snapshot reads stored usage only while the transcripts are as stored", () => {
    const w = world()
    const s = register(w, agent())
    const dir = path.join(w.data, "live", s.sessionId)
    fs.writeFileSync(path.join(dir, "state"), "needs-input\n")
    const transcript = path.join(w.base, "t.jsonl")
    const line = (id: string, input: number, output: number) =>
      JSON.stringify({
        type: "assistant",
        timestamp: new Date(Date.now() + 1000).toISOString(),
        message: {
          id,
          role: "assistant",
          model: "claude-sonnet-4-5",
          content: [{ type: "text", text: "done" }],
          usage: { input_tokens: input, output_tokens: output, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 }
        }
      }) + "\n"
    fs.writeFileSync(transcript, JSON.stringify({ type: "user", timestamp: new Date(Date.now() + 500).toISOString(), message: { role: "user", content: "go" } }) + "\n" + line("m1", 1000, 200))
    fs.writeFileSync(path.join(dir, "transcript"), `${transcript}\n`)
    // Nothing stored yet: the snapshot declines; the service reads the transcript and stores its usage.
    assert.isUndefined(snapshot(w))
    const first = same(w)
    assert.strictEqual(first.sessions[0].state, "needs-input")
    assert.strictEqual(first.sessions[0].stateSince, fs.statSync(path.join(dir, "state")).mtime.toISOString())
    // Sonnet 4.5 at $3 / $15 per million tokens.
    assert.deepInclude(first.sessions[0].usage, { known: true, costUsd: 0.006, requests: 1, turns: 1 })
    assert.isDefined(snapshot(w))
    assert.deepStrictEqual(same(w), first)
    // The transcript grew: the stored usage is not current, so the snapshot declines until the service read it.
    fs.appendFileSync(transcript, line("m2", 2000, 0))
    assert.isUndefined(snapshot(w))
    const grown = same(w)
    assert.strictEqual(grown.sessions[0].usage.costUsd, 0.012)
    assert.isDefined(snapshot(w))
    // Prices in the configuration: the service prices, the snapshot declines.
    const priced = { ...w, env: { ...w.env, PARALLEL_CC_COST_MODELS: JSON.stringify({ "claude-sonnet-4-5": { input: 1, output: 1 } }) } }
    assert.strictEqual(same(priced).sessions[0].usage.costUsd, 0.0032)
    // A broken transcript: unknown, never wrong, never an error.
    fs.appendFileSync(transcript, "not json at all\n")
    const broken = same(w)
    assert.deepInclude(broken.sessions[0].usage, { known: false, costUsd: null, tokens: null })
  })

  it("declines whenever the service has something to decide, and the service then decides it", () => {
    const w = world()
    const doomed = spawn("sleep", ["300"], { stdio: "ignore" })
    const s = register(w, doomed.pid!)
    register(w, agent())
    assert.isDefined(snapshot(w))
    doomed.kill("SIGKILL")
    const until = Date.now() + 10_000
    while (fs.existsSync(`/proc/${doomed.pid}/stat`) && !fs.readFileSync(`/proc/${doomed.pid}/stat`, "utf8").includes(") Z") && Date.now() < until) {
      // wait for the kernel to end it
    }
    // The agent is gone: only the service may release its session.
    assert.isUndefined(snapshot(w))
    const r = run(w, ["status", "--json"], false)
    assert.strictEqual(r.code, 0, r.stderr)
    const out = JSON.parse(r.stdout)
    assert.deepStrictEqual(out.released.map((x: any) => x.sessionId), [s.sessionId])
    assert.strictEqual(out.sessions.length, 1)

    // A pid whose start time cannot be verified, another schema version, a store that is not a database.
    const dbPath = path.join(w.data, "coordinator.db")
    const db = new Database(dbPath)
    try {
      db.prepare("UPDATE sessions SET pid_start_time = NULL WHERE status = 'active'").run()
      assert.isUndefined(snapshot(w))
      db.prepare("UPDATE sessions SET pid_start_time = 'linux:other-boot:1' WHERE status = 'active'").run()
      assert.isUndefined(snapshot(w))
      db.pragma(`user_version = ${Db.latestVersion + 1}`)
      assert.isUndefined(snapshot(w))
    } finally {
      db.close()
    }
    const junk = path.join(w.base, "junk.db")
    fs.writeFileSync(junk, "not a database")
    assert.isUndefined(snapshot(w, { dbPath: junk }))
    // A store at a newer schema is the service's error to report, not a snapshot.
    const newer = run(w, ["status", "--json"], false)
    assert.strictEqual(newer.code, 1)
    assert.match(newer.stderr, /newer/)
  })
})
