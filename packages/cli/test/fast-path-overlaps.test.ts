/**
 * `overlaps` has an Effect-free fast path (core OverlapsSnapshot, dist/quick.cjs). These tests run the built
 * CLI both ways — the fast path, and the full CLI (PARALLEL_CC_NO_FAST_PATH=1) — on the same repository and
 * store and require the same stdout and exit code; they check that the fast path really answered
 * (PARALLEL_CC_TRACE_FAST_PATH=1 reports every hand-over on stderr), that it leaves the scans the full
 * scan leaves, and that it steps aside whenever the live scan could find or change something.
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

const world = () => {
  const base = TempDir.makeSync()
  dirs.push(base)
  const repo = TempRepo.makeSync(base, { files: { "README.md": "# r\n", "src/a.ts": "export const a = 1\n", "src/b.ts": "export const b = 1\n" } })
  const data = path.join(base, "data")
  return { base, repo, data }
}
type World = ReturnType<typeof world>

const run = (w: World, args: ReadonlyArray<string>, full: boolean, cwd = w.repo.root) =>
  Cli.run(args, {
    env: { ...w.repo.env, PARALLEL_CC_DATA_DIR: w.data, PARALLEL_CC_TRACE_FAST_PATH: "1", ...(full ? { PARALLEL_CC_NO_FAST_PATH: "1" } : {}) },
    cwd
  })

/** What the scans left in the store: the scans (times apart) and the changed files (times apart). */
const scans = (w: World) => {
  const db = new Database(path.join(w.data, "coordinator.db"), { readonly: true })
  try {
    const rows = db.prepare("SELECT session_id, head, base, snapshot, tree, scanned_at FROM session_scans ORDER BY session_id").all() as Array<
      { scanned_at: number }
    >
    const changes = db.prepare("SELECT session_id, file_path, status, committed, uncommitted, symbols, ranges FROM session_changes ORDER BY 1, 2").all()
    const open = db.prepare("SELECT session_a, session_b, file_path, level, conflict, notify_pending FROM overlaps WHERE ended_at IS NULL ORDER BY 1, 2, 3")
      .all()
    return {
      facts: JSON.stringify({ scans: rows.map(({ scanned_at, ...r }) => r), changes, open }),
      scannedAt: rows.map((r) => r.scanned_at)
    }
  } finally {
    db.close()
  }
}

describe("the fast path of overlaps", () => {
  it("prints what the full CLI prints, leaves the scans the full scan leaves, and steps aside when the scan could find something", async () => {
    const w = world()
    assert.strictEqual((await run(w, ["status"], true)).code, 0)
    const a = Cli.json(await run(w, ["register", "--repo", w.repo.root, "--pid", String(agent()), "--json"], true))
    const b = Cli.json(await run(w, ["register", "--repo", w.repo.root, "--pid", String(agent()), "--json"], true))
    assert.notStrictEqual(a.worktreePath, b.worktreePath)

    /** Both ways on the same store; `fast` says whether the fast path must have answered. */
    const same = async (args: ReadonlyArray<string>, fast: boolean, cwd?: string) => {
      const quick = await run(w, args, false, cwd)
      const full = await run(w, args, true, cwd)
      assert.strictEqual(quick.code, full.code, `${args.join(" ")}: ${quick.stderr} / ${full.stderr}`)
      assert.strictEqual(quick.stdout, full.stdout, args.join(" "))
      if (fast) assert.strictEqual(quick.stderr, "", `the fast path declined ${args.join(" ")}`)
      else assert.include(quick.stderr, "fast path declined", `the fast path answered ${args.join(" ")}`)
      return quick
    }

    // Nothing scanned yet: the scan has work to record, so the full CLI answers.
    await same(["overlaps"], false)
    // Work in each session, in different files: scanned once, then unchanged.
    fs.writeFileSync(path.join(a.worktreePath, "src/a.ts"), "export const a = 2\n")
    fs.writeFileSync(path.join(b.worktreePath, "new.txt"), "added\n")
    assert.include((await run(w, ["overlaps"], false)).stderr, "work changed since its last scan")
    const before = scans(w)
    const none = await same(["overlaps"], true)
    assert.strictEqual(none.stdout, "No overlaps: no two live sessions change the same file.\n")
    assert.deepStrictEqual(JSON.parse((await same(["overlaps", "--json"], true)).stdout), { overlaps: [] })
    await same(["overlaps", "--repo", w.repo.root], true, w.base)
    await same(["overlaps", "--session", a.sessionId, "--json"], true)
    await same(["overlaps", "--cached"], true)
    // Outside any repository: every repository's sessions.
    await same(["overlaps", "--json"], true, w.base)
    // The fast scan records what the full scan records: the same rows, with the time of this scan.
    const stamp = Date.now()
    assert.strictEqual((await run(w, ["overlaps"], false)).stderr, "")
    const after = scans(w)
    assert.strictEqual(after.facts, before.facts)
    for (const t of after.scannedAt) assert.isAtLeast(t, stamp)
    // Bad input is the full CLI's error, with its exit code.
    await same(["overlaps", "--session", "nosuchsession"], false)
    await same(["overlaps", "--repo", path.join(w.base, "missing")], false)

    // Both change src/a.ts: the scan finds an overlap, so the full CLI answers the live scan from now on
    // (each full scan moves lastSeen: the two ways' outputs are compared on the cached rows below)…
    fs.writeFileSync(path.join(b.worktreePath, "src/a.ts"), "export const a = 3\n")
    const scanned = await run(w, ["overlaps", "--json"], false)
    assert.include(scanned.stderr, "fast path declined")
    const found = JSON.parse(scanned.stdout).overlaps
    assert.lengthOf(found, 1)
    assert.strictEqual(found[0].filePath, "src/a.ts")
    assert.include((await run(w, ["overlaps"], false)).stderr, "an overlap is open")
    // …while the last scans (dated so that the age shown stays put) are read the same by both.
    const db = new Database(path.join(w.data, "coordinator.db"))
    db.prepare("UPDATE overlaps SET first_seen = ?").run(Date.now() - 3 * 3_600_000 - 30 * 60_000)
    db.close()
    const table = await same(["overlaps", "--cached"], true)
    assert.match(table.stdout, /src\/a\.ts .* 3h 30m\n$/)
    await same(["overlaps", "--cached", "--json"], true)
    await same(["overlaps", "--cached", "--session", b.sessionId], true)
  }, 240_000)
})
