import { Cli, Git, TempDir, TempRepo } from "@parallel-cc/testkit"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, assert, describe, it } from "vitest"

const cleanup: Array<() => void> = []
afterEach(() => {
  for (const f of cleanup.splice(0).reverse()) f()
})

/** A repository with sessions whose worktrees exist, and the CLI over a temp data directory. */
const setup = () => {
  const base = TempDir.makeSync("pcc-merges-")
  cleanup.push(() => TempDir.removeSync(base))
  const repo = TempRepo.makeSync(base)
  const env = { ...Git.hermeticEnv(repo.home), PARALLEL_CC_DATA_DIR: path.join(base, "data") }
  const cli = (args: ReadonlyArray<string>) => Cli.runSync(args, { env })
  const register = () => {
    const r = cli(["register", "--repo", repo.root, "--pid", String(process.pid), "--json"])
    assert.strictEqual(r.code, 0, r.stderr)
    const reg = Cli.json(r)
    if (!reg.isMainRepo && !fs.existsSync(reg.worktreePath)) repo.git(["worktree", "add", "-q", "-b", reg.branch, reg.worktreePath, "HEAD"])
    return reg as { sessionId: string; worktreePath: string; branch: string }
  }
  const commit = (s: { worktreePath: string }, file: string) => {
    repo.write(file, `${file}\n`, s.worktreePath)
    return repo.commitAll(`add ${file}`, s.worktreePath)
  }
  const events = () => Cli.json(cli(["merge", "status", "--json", "--limit", "100"])).events as Array<any>
  const watcher = (args: ReadonlyArray<string>) => {
    const child = spawn(process.execPath, [Cli.binPath, "watch", "merges", ...args], { env, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (d) => (stdout += d))
    child.stderr.setEncoding("utf8").on("data", (d) => (stderr += d))
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)))
    cleanup.push(() => child.kill("SIGKILL"))
    // With --verbose, the watcher logs each finished poll at debug level.
    const polls = () => stderr.split("merge watch: polled ").length - 1
    return { child, exited, stdout: () => stdout, stderr: () => stderr, polls }
  }
  return { repo, cli, register, commit, events, watcher }
}

const until = async (what: string, cond: () => boolean, timeoutMs = 60_000) => {
  const start = Date.now()
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 300))
  }
}

const lines = (text: string) => text.split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l))

describe("watch merges / merge status", () => {
  it("--once, human and JSON; merge status with events and subscriptions", () => {
    const t = setup()
    t.register()
    const a = t.register()
    t.commit(a, "a.txt")
    const none = t.cli(["watch", "merges", "--once"])
    assert.strictEqual(none.code, 0, none.stderr)
    assert.include(none.stdout, "Checked 1 branch in 1 repository: 0 new merges.")
    t.repo.git(["merge", "-q", "--no-ff", "-m", "merge a", a.branch])
    const once = t.cli(["watch", "merges", "--once"])
    assert.include(once.stdout, `merged: ${a.branch} → main (merge-commit at `)
    assert.include(once.stdout, "1 new merge.")
    assert.strictEqual(t.cli(["watch", "merges", "--once", "--json"]).stdout, "")

    const status = t.cli(["merge", "status"])
    assert.include(status.stdout, a.branch)
    assert.include(status.stdout, "merge-commit")
    const [event] = t.events()
    assert.deepInclude(event, { branch: a.branch, targetBranch: "main", method: "merge-commit", sessionId: a.sessionId, repoPath: t.repo.root })
    assert.lengthOf(Cli.json(t.cli(["merge", "status", "--branch", "other", "--json"])).events, 0)
    assert.lengthOf(Cli.json(t.cli(["merge", "status", "--repo", a.worktreePath, "--json"])).events, 1)
    const subs = t.cli(["merge", "status", "--subscriptions", "--json"])
    assert.deepStrictEqual(Cli.json(subs), { subscriptions: [] })
    assert.include(t.cli(["merge", "status", "--subscriptions"]).stdout, "No merge subscriptions.")

    const bad = t.cli(["merge", "status", "--branch", "--upload-pack=x"])
    assert.notStrictEqual(bad.code, 0)
    assert.strictEqual(t.cli(["merge", "status", "--limit", "0"]).code, 1)
    assert.strictEqual(t.cli(["watch", "merges", "--once", "--interval", "0"]).code, 1)
  })

  it("two watchers at once record each merge exactly once, and stop on Ctrl-C", async () => {
    const t = setup()
    t.register()
    const sessions = [t.register(), t.register(), t.register(), t.register()]
    const w1 = t.watcher(["--interval", "1", "--json", "--verbose"])
    const w2 = t.watcher(["--interval", "1", "--json", "--verbose"])
    const [ff, mc, sq, rb] = sessions as [any, any, any, any]
    t.commit(ff, "ff.txt")
    t.commit(mc, "mc.txt")
    t.commit(sq, "sq1.txt")
    t.commit(sq, "sq2.txt")
    const rb1 = t.commit(rb, "rb1.txt")
    const rb2 = t.commit(rb, "rb2.txt")
    t.repo.git(["merge", "-q", "--ff-only", ff.branch])
    t.repo.git(["merge", "-q", "--no-ff", "-m", "merge mc", mc.branch])
    t.repo.git(["merge", "-q", "--squash", sq.branch])
    t.repo.commitAll("squash sq")
    t.repo.git(["cherry-pick", rb1, rb2])

    await until("four merge events", () => t.events().length === 4)
    // Both watchers poll again over the same state (a poll under way may have started before the last merge).
    const [p1, p2] = [w1.polls(), w2.polls()]
    await until("two more polls by each watcher", () => w1.polls() >= p1 + 2 && w2.polls() >= p2 + 2)
    w1.child.kill("SIGINT")
    w2.child.kill("SIGINT")
    assert.strictEqual(await w1.exited, 130)
    assert.strictEqual(await w2.exited, 130)
    assert.include(w1.stderr(), "watching merges every 1s")

    const recorded = t.events()
    assert.sameMembers(recorded.map((e) => `${e.branch}:${e.method}`), [
      `${ff.branch}:fast-forward`,
      `${mc.branch}:merge-commit`,
      `${sq.branch}:squash`,
      `${rb.branch}:rebase`
    ])
    const printed = [...lines(w1.stdout()), ...lines(w2.stdout())]
    assert.sameMembers(printed.map((e) => e.eventId), recorded.map((e) => e.eventId), "each event printed by exactly one watcher")
  })

  it("a killed watcher resumes: no duplicates, no misses (even of a branch deleted meanwhile)", async () => {
    const t = setup()
    t.register()
    const [x, y, z] = [t.register(), t.register(), t.register()]
    t.commit(x, "x.txt")
    t.commit(y, "y1.txt")
    t.commit(y, "y2.txt")
    t.commit(z, "z1.txt")
    const zHead = t.commit(z, "z2.txt")
    const w = t.watcher(["--interval", "1", "--json", "--verbose"])
    t.repo.git(["merge", "-q", "--no-ff", "-m", "merge x", x.branch])
    await until("x's merge", () => t.events().length === 1)
    // It finishes that poll and runs another (it must have seen z's last head before z disappears).
    const seen = w.polls()
    await until("two more polls", () => w.polls() >= seen + 2)
    w.child.kill("SIGKILL")
    await w.exited

    // While no watcher runs: y is squash-merged; z is squash-merged and its branch deleted.
    t.repo.git(["merge", "-q", "--squash", y.branch])
    t.repo.commitAll("squash y")
    t.repo.git(["merge", "-q", "--squash", z.branch])
    t.repo.commitAll("squash z")
    t.repo.git(["worktree", "remove", "--force", z.worktreePath])
    t.repo.git(["branch", "-D", z.branch])

    const resumed = t.cli(["watch", "merges", "--once", "--json"])
    assert.strictEqual(resumed.code, 0, resumed.stderr)
    assert.sameMembers(lines(resumed.stdout).map((e) => `${e.branch}:${e.method}`), [`${y.branch}:squash`, `${z.branch}:squash`])
    assert.strictEqual(lines(resumed.stdout).find((e) => e.branch === z.branch).branchHead, zHead)
    assert.strictEqual(t.cli(["watch", "merges", "--once", "--json"]).stdout, "")
    assert.lengthOf(t.events(), 3)
  })
})

