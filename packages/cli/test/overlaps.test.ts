/**
 * `overlaps`, `claim`/`unclaim` and the wrapper's watcher, through the built CLI, with agents that have no
 * hooks (the scripted agent): parallel-cc notices their changes itself.
 */
import { Cli, ScriptedAgent, TempDir, TempRepo } from "@parallel-cc/testkit"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import Database from "better-sqlite3"
import { afterEach, assert, describe, it } from "vitest"

const dirs: Array<string> = []
const children: Array<ChildProcess> = []
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL")
  for (const d of dirs.splice(0)) TempDir.removeSync(d)
})

const cart = "export function total(xs: Array<number>) {\n  let sum = 0\n  for (const x of xs) sum += x\n  return sum\n}\n"

const world = () => {
  const base = TempDir.makeSync()
  dirs.push(base)
  const repo = TempRepo.makeSync(base, { files: { "README.md": "# r\n", "src/cart.ts": cart } })
  const data = path.join(base, "data")
  return { base, repo, data, env: { ...repo.env, PARALLEL_CC_DATA_DIR: data, PARALLEL_CC_AGENT: ScriptedAgent.path } }
}
type World = ReturnType<typeof world>

const cli = (w: World, args: ReadonlyArray<string>, options: { cwd?: string; env?: Record<string, string> } = {}) =>
  Cli.runSync(args, { env: { ...w.env, ...options.env }, cwd: options.cwd ?? w.repo.root })
const json = (w: World, args: ReadonlyArray<string>, options: { cwd?: string; env?: Record<string, string> } = {}) => {
  const r = cli(w, [...args, "--json"], options)
  assert.strictEqual(r.code, 0, r.stderr)
  return Cli.json(r)
}

const wrap = (w: World, script: ScriptedAgent.Script) => {
  const child = spawn(process.execPath, [Cli.wrapperPath, "-p", "work"], {
    cwd: w.repo.root,
    env: { ...w.env, ...ScriptedAgent.env(script) },
    stdio: ["ignore", "pipe", "pipe"]
  })
  children.push(child)
  let stderr = ""
  child.stderr!.setEncoding("utf8").on("data", (d) => (stderr += d))
  child.stdout!.resume()
  return new Promise<{ code: number | null; stderr: string }>((resolve) => child.on("close", (code) => resolve({ code, stderr })))
}

const until = async <A>(what: string, f: () => A | undefined, timeoutMs = 60_000): Promise<A> => {
  const end = Date.now() + timeoutMs
  for (;;) {
    const v = f()
    if (v !== undefined) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 200))
  }
}

/** `parallel-cc watch session ID` as its own process; `out()` is what it printed so far. */
const watchSession = (w: World, id: string) => {
  const child = spawn(process.execPath, [Cli.binPath, "watch", "session", id, "--poll", "2"], { env: w.env, stdio: ["ignore", "pipe", "pipe"] })
  children.push(child)
  let out = ""
  child.stdout!.setEncoding("utf8").on("data", (d) => (out += d))
  child.stderr!.resume()
  return { child, out: () => out }
}

const stop = (c: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (c.exitCode !== null || c.signalCode !== null) return resolve()
    c.on("close", () => resolve())
    c.kill("SIGTERM")
  })

describe("overlaps", () => {
  it("agents without hooks: the wrappers' watchers record each one's changed files, and overlaps --json reports the pair", async () => {
    const w = world()
    const go = path.join(w.base, "go")
    const edit = (replace: string): ScriptedAgent.Script => ({
      actions: [{ edit: "src/cart.ts", find: "let sum = 0", replace }, { waitFor: go, timeoutMs: 120_000 }]
    })
    const a = wrap(w, edit("let sum = 1"))
    const b = wrap(w, edit("let sum = 2"))
    const found = await until("the overlap", () => {
      const o = json(w, ["overlaps", "--cached"]).overlaps
      return o.length > 0 ? o : undefined
    })
    assert.lengthOf(found, 1)
    const o = found[0]
    assert.strictEqual(o.filePath, "src/cart.ts")
    assert.strictEqual(o.level, "symbol")
    assert.deepStrictEqual(o.symbols, ["total"])
    assert.isTrue(o.conflict)
    const sessions = json(w, ["status"]).sessions as Array<{ sessionId: string }>
    assert.sameMembers([o.sessionA, o.sessionB], sessions.map((s) => s.sessionId))
    // The human view names both sessions and says it would conflict.
    const text = cli(w, ["overlaps", "--cached"]).stdout
    assert.include(text, "src/cart.ts")
    assert.include(text, o.sessionA)
    assert.match(text, /total\s+yes/)
    fs.writeFileSync(go, "")
    const [ra, rb] = await Promise.all([a, b])
    assert.strictEqual(ra.code, 0, ra.stderr)
    assert.strictEqual(rb.code, 0, rb.stderr)
    assert.deepStrictEqual(json(w, ["overlaps", "--cached"]).overlaps, [], "ended with the sessions")
  })

  it("overlaps (scanning now) finds sessions registered without a wrapper; --repo and --session filter", async () => {
    const w = world()
    const reg = () => json(w, ["register", "--repo", w.repo.root, "--pid", String(process.pid)]) as { sessionId: string; worktreePath: string }
    const a = reg()
    const b = reg()
    fs.appendFileSync(path.join(a.worktreePath, "README.md"), "a\n")
    fs.appendFileSync(path.join(b.worktreePath, "README.md"), "b\n")
    assert.deepStrictEqual(json(w, ["overlaps", "--cached"]).overlaps, [], "nothing scanned yet")
    const now = json(w, ["overlaps", "--repo", w.repo.root]).overlaps
    assert.lengthOf(now, 1)
    assert.strictEqual(now[0].filePath, "README.md")
    assert.lengthOf(json(w, ["overlaps", "--session", a.sessionId, "--cached"]).overlaps, 1)
    // A column of status.
    const st = cli(w, ["status"]).stdout
    assert.include(st, "OVERLAPS")
    assert.strictEqual(st.split("\n").filter((l) => l.includes("1 file, 1 conflict")).length, 2, st)
    const other = TempRepo.makeSync(TempDir.makeSync())
    dirs.push(path.dirname(other.root))
    assert.deepStrictEqual(json(w, ["overlaps", "--repo", other.root]).overlaps, [])
    for (const s of [a, b]) cli(w, ["release", "--session-id", s.sessionId, "--force"])
  })

  it("claim and unclaim from the command line; conflicts name the holder; bad --ttl and links out of the repository are refused", async () => {
    const w = world()
    const a = json(w, ["register", "--repo", w.repo.root, "--pid", String(process.pid)]) as { sessionId: string; worktreePath: string }
    const b = json(w, ["register", "--repo", w.repo.root, "--pid", String(process.pid)]) as { sessionId: string; worktreePath: string }
    // From inside a's checkout, a relative path and no --session: the session working here.
    const got = json(w, ["claim", "cart.ts", "--ttl", "2h", "--reason", "rewriting"], { cwd: path.join(a.worktreePath, "src") })
    assert.strictEqual(got.claim.filePath, "src/cart.ts")
    assert.strictEqual(got.claim.sessionId, a.sessionId)
    assert.strictEqual(got.claim.mode, "EXCLUSIVE")
    assert.approximately(Date.parse(got.claim.expiresAt) - Date.parse(got.claim.createdAt), 2 * 3_600_000, 1000)
    const refused = cli(w, ["claim", "src/cart.ts", "--session", b.sessionId])
    assert.strictEqual(refused.code, 1)
    assert.include(refused.stderr, a.sessionId)
    const intent = json(w, ["claim", "src/cart.ts", "--mode", "INTENT"], { env: { PARALLEL_CC_SESSION_ID: b.sessionId } })
    assert.strictEqual(intent.change, "acquired")
    assert.strictEqual(intent.others[0].sessionId, a.sessionId)
    for (const ttl of ["0", "abc", "8d", "-5"]) {
      const r = cli(w, ["claim", "README.md", "--session", a.sessionId, "--ttl", ttl])
      assert.notStrictEqual(r.code, 0, ttl)
      assert.include(r.stderr, "--ttl")
    }
    fs.symlinkSync(w.base, path.join(a.worktreePath, "out"))
    const outside = cli(w, ["claim", "out/x.ts", "--session", a.sessionId], { cwd: a.worktreePath })
    assert.strictEqual(outside.code, 1)
    assert.include(outside.stderr, "outside the repository")
    const nobody = cli(w, ["claim", "README.md"], { cwd: w.base })
    assert.notStrictEqual(nobody.code, 0)
    assert.include(nobody.stderr, "--session")
    assert.strictEqual(json(w, ["unclaim", "src/cart.ts", "--session", a.sessionId]).claim.releaseReason, "released")
    const again = cli(w, ["unclaim", "src/cart.ts", "--session", a.sessionId])
    assert.strictEqual(again.code, 1)
    assert.include(again.stderr, "no active claim")
    for (const s of [a, b]) cli(w, ["release", "--session-id", s.sessionId, "--force"])
  })
  it("watch session: one line once the session's work is known; a restarted watcher publishes its changes again and repairs missing peer links", async () => {
    const w = world()
    const reg = () => json(w, ["register", "--repo", w.repo.root, "--pid", String(process.pid)]) as { sessionId: string; worktreePath: string }
    const a = reg()
    const b = reg()
    fs.appendFileSync(path.join(a.worktreePath, "README.md"), "a\n")
    fs.writeFileSync(path.join(a.worktreePath, "notes.md"), "new\n")
    const live = (id: string, ...rest: Array<string>) => path.join(w.data, "live", id, ...rest)
    const watch = (id: string) => watchSession(w, id)
    const first = watch(a.sessionId)
    const line = await until("the watcher's first line", () => first.out().split("\n").find((l) => l.startsWith("watching")))
    assert.strictEqual(line, `watching session ${a.sessionId}: 2 changed files; stops when the session ends`)
    // Published for b's hook when the line came.
    assert.isTrue(fs.existsSync(live(a.sessionId, "changes", "README.md")))
    assert.isTrue(fs.existsSync(live(a.sessionId, "changes", "notes.md")))
    await stop(first.child)
    // A change published by another process and gone meanwhile, and a peer link lost (two sessions that
    // registered at the same instant can miss each other).
    fs.rmSync(live(a.sessionId, "changes", "notes.md"))
    fs.rmSync(live(a.sessionId, "peers", b.sessionId))
    const second = watch(a.sessionId)
    await until("the second watcher's first line", () => second.out().includes("2 changed files") || undefined)
    assert.isTrue(fs.existsSync(live(a.sessionId, "changes", "notes.md")), "republished although a's work did not change")
    assert.strictEqual(fs.readlinkSync(live(a.sessionId, "peers", b.sessionId)), path.join("..", "..", b.sessionId))
    // It stops by itself when the session ends.
    const ended = new Promise<number | null>((resolve) => second.child.on("close", (code) => resolve(code)))
    cli(w, ["release", "--session-id", a.sessionId, "--force"])
    assert.strictEqual(await ended, 0)
    cli(w, ["release", "--session-id", b.sessionId, "--force"])
  })
  it("8 sessions editing at once, each watched by its own process: every pair recorded exactly once, each agent told once per peer", async () => {
    const w = world()
    const sessions = Array.from({ length: 8 }, () =>
      json(w, ["register", "--repo", w.repo.root, "--pid", String(process.pid)]) as { sessionId: string; worktreePath: string })
    const watchers = sessions.map((s) => watchSession(w, s.sessionId))
    await until("every watcher's first line", () => watchers.every((x) => x.out().startsWith("watching")) || undefined, 180_000)
    // All at once, while eight processes scan: the same place of README.md, and a file of each one's own.
    for (const [i, s] of sessions.entries()) {
      fs.appendFileSync(path.join(s.worktreePath, "README.md"), `from ${i}\n`)
      fs.writeFileSync(path.join(s.worktreePath, `own-${i}.txt`), `${i}\n`)
    }
    await until("28 overlaps", () => (json(w, ["overlaps", "--cached"]).overlaps.length >= 28 || undefined), 180_000)
    // A watcher records a pair, then leaves the notices: wait for those too before stopping the watchers.
    const noticesOf = (id: string) => fs.readdirSync(path.join(w.data, "live", id, "notices")).filter((n) => !n.startsWith("."))
    await until("a notice per peer", () => sessions.every((s) => noticesOf(s.sessionId).length >= 7) || undefined, 180_000)
    await Promise.all(watchers.map((x) => stop(x.child)))
    const found = json(w, ["overlaps", "--cached"]).overlaps as Array<{ sessionA: string; sessionB: string; filePath: string; conflict: boolean }>
    assert.lengthOf(found, 28, "8 choose 2 pairs")
    assert.strictEqual(new Set(found.map((o) => [o.sessionA, o.sessionB].sort().join(" "))).size, 28, "no pair twice")
    assert.isTrue(found.every((o) => o.filePath === "README.md" && o.conflict))
    const db = new Database(path.join(w.data, "coordinator.db"), { readonly: true })
    try {
      assert.strictEqual((db.prepare("SELECT COUNT(*) AS n FROM overlaps").get() as { n: number }).n, 28, "no duplicate or ended rows")
    } finally {
      db.close()
    }
    // Each session has one notice per peer about README.md, none twice.
    for (const s of sessions) {
      const notices = noticesOf(s.sessionId)
      const peers = sessions.filter((p) => p !== s).map((p) => `overlap.${p.sessionId}.README.md`)
      assert.sameMembers(notices, peers, s.sessionId)
    }
  }, 400_000) // its waits allow 180 s each: eight watcher processes on a loaded 2-core runner take far more than the default minute
})
