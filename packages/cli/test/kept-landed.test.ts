/**
 * A kept worktree whose branch the landing queue has landed: `status` (text and JSON, the fast path and the
 * Sessions service alike) says it landed instead of the stale "1 commit only on branch" written at its
 * release — and says the commits are only on the branch again once the branch moves on. Real repository,
 * real `land`, the built CLI both ways.
 */
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

const agent = (): number => {
  const c = spawn("sleep", ["300"], { stdio: "ignore" })
  children.push(c)
  return c.pid!
}

describe("status of a kept worktree whose branch has landed (issue 17)", () => {
  it("says the branch landed (squash), both ways, until the branch moves on", async () => {
    const base = TempDir.makeSync()
    dirs.push(base)
    const repo = TempRepo.makeSync(base, { files: { "README.md": "# r\n" } })
    const data = path.join(base, "data")
    const run = (args: ReadonlyArray<string>, full: boolean) =>
      Cli.run(args, {
        env: { ...repo.env, PARALLEL_CC_DATA_DIR: data, PARALLEL_CC_TRACE_FAST_PATH: "1", ...(full ? { PARALLEL_CC_NO_FAST_PATH: "1" } : {}) },
        cwd: repo.root
      })
    /** `status` (text and JSON) both ways: the same bytes, answered by the fast path; the kept reason. */
    const keptReason = async () => {
      for (const args of [["status"], ["status", "--json"]]) {
        const quick = await run(args, false)
        const full = await run(args, true)
        assert.strictEqual(quick.code, 0, quick.stderr)
        assert.strictEqual(full.code, 0, full.stderr)
        assert.strictEqual(quick.stderr, "", `the fast path declined ${args.join(" ")}`)
        assert.strictEqual(quick.stdout, full.stdout, args.join(" "))
      }
      const kept = JSON.parse((await run(["status", "--json"], false)).stdout).kept
      assert.lengthOf(kept, 1)
      return kept[0].keptReason as string
    }

    assert.strictEqual((await run(["status"], true)).code, 0)
    Cli.json(await run(["register", "--repo", repo.root, "--pid", String(agent()), "--json"], true))
    const s = Cli.json(await run(["register", "--repo", repo.root, "--pid", String(agent()), "--json"], true))
    fs.writeFileSync(path.join(s.worktreePath, "feature.txt"), "a feature\n")
    repo.git(["-C", s.worktreePath, "add", "feature.txt"])
    repo.git(["-C", s.worktreePath, "commit", "-q", "-m", "add a feature"])
    assert.strictEqual((await run(["release", "--session-id", s.sessionId], true)).code, 0)
    // Dated three days back, so that the ages shown stay put between the two runs.
    const past = Date.now() - 3 * 86_400_000 - 30 * 60_000
    const db = new Database(path.join(data, "coordinator.db"))
    db.prepare("UPDATE sessions SET created_at = ?, last_heartbeat = ?, ended_at = CASE WHEN ended_at IS NULL THEN NULL ELSE ? END").run(past, past, past)
    db.close()
    for (const f of fs.readdirSync(path.join(data, "heartbeats"))) fs.utimesSync(path.join(data, "heartbeats", f), new Date(past), new Date(past))
    assert.strictEqual(await keptReason(), `1 commit only on branch ${s.branch}`)

    const landed = await run(["land", s.sessionId, "--strategy", "squash", "--json"], true)
    assert.strictEqual(landed.code, 0, landed.stderr)
    const main = repo.git(["rev-parse", "main"]).trim()
    assert.strictEqual(repo.git(["show", "main:feature.txt"]), "a feature\n")
    // Squashed: the branch's own commit is still on no other branch, but it has landed.
    const said = `branch ${s.branch} landed in main as ${main.slice(0, 12)} (squash)`
    assert.strictEqual(await keptReason(), said)
    assert.include((await run(["status"], false)).stdout, said)

    // A new commit on the branch has not landed: the reason written at the release shows again.
    fs.writeFileSync(path.join(s.worktreePath, "more.txt"), "more\n")
    repo.git(["-C", s.worktreePath, "add", "more.txt"])
    repo.git(["-C", s.worktreePath, "commit", "-q", "-m", "more"])
    assert.strictEqual(await keptReason(), `1 commit only on branch ${s.branch}`)
  }, 240_000)
})
