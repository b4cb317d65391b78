import { Cli, ScriptedAgent, TempDir, TempRepo } from "@parallel-cc/testkit"
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, assert, describe, it } from "vitest"

const dirs: Array<string> = []
const children: Array<ChildProcess> = []
/** Agent pids a test may leave running when it fails half-way (the wrapper was killed, say). */
const agentPids: Array<number> = []
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL")
  for (const pid of agentPids.splice(0)) {
    try {
      process.kill(pid, "SIGKILL")
    } catch {
      // already gone
    }
  }
  for (const d of dirs.splice(0)) TempDir.removeSync(d)
})
const tmp = () => {
  const d = TempDir.makeSync()
  dirs.push(d)
  return d
}

interface World {
  readonly repo: TempRepo.TempRepo
  readonly data: string
  readonly env: Record<string, string>
  readonly wtRoot: string
  readonly out: string
}

const world = (extra: Record<string, string> = {}): World => {
  const base = tmp()
  const repo = TempRepo.makeSync(base, { files: { "README.md": "# r\n", ".gitignore": "node_modules/\n" } })
  const data = path.join(base, "data")
  const out = path.join(base, "out")
  fs.mkdirSync(out)
  return {
    repo,
    data,
    out,
    wtRoot: `${repo.root}-worktrees`,
    env: { ...repo.env, PARALLEL_CC_DATA_DIR: data, PARALLEL_CC_AGENT: ScriptedAgent.path, ...extra }
  }
}

const cli = (w: World, args: ReadonlyArray<string>) => Cli.runSync(args, { env: w.env, cwd: w.repo.root })
const statusJson = (w: World) => {
  const r = cli(w, ["status", "--json"])
  assert.strictEqual(r.code, 0, r.stderr)
  return Cli.json(r)
}

interface Wrapped {
  readonly child: ChildProcess
  /** The wrapper process exited (its agent may still hold the output pipes). */
  readonly exited: Promise<void>
  readonly done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>
}

const wrap = (w: World, args: ReadonlyArray<string>, options: { cwd?: string; env?: Record<string, string> } = {}): Wrapped => {
  const child = spawn(process.execPath, [Cli.wrapperPath, ...args], {
    cwd: options.cwd ?? w.repo.root,
    env: { ...w.env, ...options.env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  children.push(child)
  let stdout = ""
  let stderr = ""
  child.stdout!.setEncoding("utf8").on("data", (d) => (stdout += d))
  child.stderr!.setEncoding("utf8").on("data", (d) => (stderr += d))
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }))
  )
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
  return { child, done, exited }
}

const script = (s: ScriptedAgent.Script) => ({ SCRIPTED_AGENT_SCRIPT: JSON.stringify(s) })

const until = async <A>(what: string, f: () => A | undefined, timeoutMs = 30_000): Promise<A> => {
  const end = Date.now() + timeoutMs
  for (;;) {
    const v = f()
    if (v !== undefined) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** A session whose agent pid (not the wrapper's) is recorded: the wrapper has handed it over. */
const attachedSession = (w: World, wrapperPid: number) =>
  until("the agent to own its session", () => {
    const s = statusJson(w).sessions.find((x: any) => x.pid !== wrapperPid)
    if (s !== undefined) agentPids.push(s.pid)
    return s
  })

const branches = (repo: TempRepo.TempRepo) =>
  repo.git(["for-each-ref", "--format=%(refname:short)", "refs/heads/"]).trim().split("\n").filter((b) => b !== "")

describe("claude-parallel", () => {
  it("first session works in the repo, a concurrent one in a worktree; env, cwd and exit code pass through; both released", async () => {
    const w = world()
    fs.mkdirSync(path.join(w.repo.root, "sub"))
    w.repo.write("sub/x.txt", "x\n")
    w.repo.commitAll("sub")
    // The first agent runs until the second has started and recorded where it works (no timing involved).
    const a = wrap(w, ["-p", "first"], {
      env: script({ actions: [{ env: path.join(w.out, "a.json") }, { waitFor: path.join(w.out, "b.cwd"), timeoutMs: 240_000 }] })
    })
    await until("the first session", () => (statusJson(w).sessions.length === 1 ? true : undefined))
    const b = wrap(w, ["-p", "second", "--model", "x"], {
      cwd: path.join(w.repo.root, "sub"),
      env: script({
        actions: [
          { env: path.join(w.out, "b.json") },
          { run: [process.execPath, "-e", `require("fs").writeFileSync(${JSON.stringify(path.join(w.out, "b.cwd"))}, process.cwd())`] },
          { exit: 3 }
        ]
      })
    })
    const rb = await b.done
    assert.strictEqual(rb.code, 3, rb.stderr)
    const ra = await a.done
    assert.strictEqual(ra.code, 0, ra.stderr)

    const envA = JSON.parse(fs.readFileSync(path.join(w.out, "a.json"), "utf8"))
    const envB = JSON.parse(fs.readFileSync(path.join(w.out, "b.json"), "utf8"))
    assert.strictEqual(envA.PARALLEL_CC_WORKTREE, w.repo.root)
    assert.match(envB.PARALLEL_CC_WORKTREE, new RegExp(`^${w.wtRoot}/parallel-[a-z0-9]+$`))
    assert.notStrictEqual(envA.PARALLEL_CC_SESSION_ID, envB.PARALLEL_CC_SESSION_ID)
    assert.notStrictEqual(envA.PARALLEL_CC_PORT_BASE, envB.PARALLEL_CC_PORT_BASE)
    assert.include(rb.stderr, envB.PARALLEL_CC_WORKTREE)
    // The worktree session started in the same subdirectory it was launched from.
    assert.strictEqual(fs.readFileSync(path.join(w.out, "b.cwd"), "utf8"), path.join(envB.PARALLEL_CC_WORKTREE, "sub"))

    const after = statusJson(w)
    assert.deepStrictEqual(after.sessions, [])
    assert.deepStrictEqual(after.kept, [])
    assert.isFalse(fs.existsSync(envB.PARALLEL_CC_WORKTREE))
    assert.deepStrictEqual(branches(w.repo), ["main"])
  })

  it("outside a git repository the agent runs unchanged and nothing is registered", async () => {
    const w = world()
    const plain = tmp()
    const r = await wrap(w, ["-p", "hi"], { cwd: plain, env: script({ actions: [{ env: "env.json" }, { exit: 5 }] }) }).done
    assert.strictEqual(r.code, 5, r.stderr)
    const env = JSON.parse(fs.readFileSync(path.join(plain, "env.json"), "utf8"))
    assert.isUndefined(env.PARALLEL_CC_SESSION_ID)
    assert.isFalse(fs.existsSync(path.join(w.data, "coordinator.db")))
  })

  it("an unknown agent command: a clear error, exit 127, and the session is released", async () => {
    const w = world({ PARALLEL_CC_AGENT: "no-such-agent-xyz" })
    const r = await wrap(w, []).done
    assert.strictEqual(r.code, 127)
    assert.include(r.stderr, "no-such-agent-xyz")
    assert.include(r.stderr, "PARALLEL_CC_AGENT")
    assert.deepStrictEqual(statusJson(w).sessions, [])
  })

  it("the agent SIGKILLed: the wrapper exits 137 and releases its session and clean worktree", async () => {
    const w = world()
    const holder = wrap(w, [], { env: script({ actions: [{ hang: true }] }) })
    const main = await attachedSession(w, holder.child.pid!)
    const b = wrap(w, [], { env: script({ actions: [{ hang: true }] }) })
    const s = await until("the second session", () => statusJson(w).sessions.find((x: any) => !x.isMainRepo && x.pid !== b.child.pid))
    assert.isTrue(alive(s.pid))
    process.kill(s.pid, "SIGKILL")
    const r = await b.done
    assert.strictEqual(r.code, 137, r.stderr)
    const st = statusJson(w)
    assert.deepStrictEqual(st.sessions.map((x: any) => x.sessionId), [main.sessionId])
    assert.isFalse(fs.existsSync(s.worktreePath))
    holder.child.kill("SIGTERM")
    assert.strictEqual((await holder.done).code, 143)
    assert.deepStrictEqual(statusJson(w).sessions, [])
  })

  it("SIGTERM to the wrapper is forwarded to the agent; the session is released; exit 143", async () => {
    const w = world()
    const a = wrap(w, [], { env: script({ actions: [{ hang: true }] }) })
    const s = await attachedSession(w, a.child.pid!)
    a.child.kill("SIGTERM")
    const r = await a.done
    assert.strictEqual(r.code, 143, r.stderr)
    assert.isFalse(alive(s.pid))
    assert.deepStrictEqual(statusJson(w).sessions, [])
  })

  it("the wrapper SIGKILLed: the session lives as long as its agent, and the next status releases it", async () => {
    const w = world()
    const a = wrap(w, [], { env: script({ actions: [{ hang: true }] }) })
    const s = await attachedSession(w, a.child.pid!)
    a.child.kill("SIGKILL")
    await a.exited
    const still = statusJson(w)
    assert.strictEqual(still.sessions.length, 1)
    assert.strictEqual(still.sessions[0].liveness.state, "alive")
    process.kill(s.pid, "SIGKILL")
    await until("the agent to exit", () => (alive(s.pid) ? undefined : true))
    const after = statusJson(w)
    assert.deepStrictEqual(after.sessions, [])
    assert.strictEqual(after.released.length, 1)
    assert.strictEqual(after.released[0].sessionId, s.sessionId)
    assert.strictEqual(after.released[0].reason, "dead")
  })

  it("the heartbeat hook, run by the agent on every tool call, moves the session's last heartbeat", async () => {
    const w = world()
    const claudeDir = path.join(w.repo.home, ".claude")
    fs.mkdirSync(claudeDir, { recursive: true })
    fs.writeFileSync(path.join(claudeDir, "settings.json"), JSON.stringify({
      hooks: { PostToolUse: [{ matcher: "", hooks: [{ type: "command", command: Cli.heartbeatHookPath }] }] }
    }))
    const a = wrap(w, [], {
      env: script({ actions: [{ sleep: 2000 }, { write: path.join(w.out, "f.txt"), content: "x" }, { hang: true }] })
    })
    const s = await until("a heartbeat from the hook", () => {
      const x = statusJson(w).sessions[0]
      return x !== undefined && Date.parse(x.lastHeartbeat) - Date.parse(x.createdAt) >= 1500 ? x : undefined
    })
    assert.strictEqual(s.liveness.state, "alive")
    a.child.kill("SIGTERM")
    await a.done
    // Outside a session the hook does nothing, says nothing, and succeeds.
    const bare = spawnSync("sh", ["-c", Cli.heartbeatHookPath], { input: "{}", encoding: "utf8", env: { PATH: process.env.PATH } })
    assert.strictEqual(bare.status, 0)
    assert.strictEqual(bare.stdout + bare.stderr, "")
    const gone = spawnSync("sh", ["-c", Cli.heartbeatHookPath], {
      encoding: "utf8",
      env: { PATH: process.env.PATH, PARALLEL_CC_HEARTBEAT_FILE: path.join(w.out, "missing", "x") }
    })
    assert.strictEqual(gone.status, 0)
    assert.isFalse(fs.existsSync(path.join(w.out, "missing")))
  })
})

describe("release and cleanup never lose work", () => {
  const holder = () => {
    const c = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" })
    children.push(c)
    return c
  }
  const register = (w: World, pid: number) => {
    const r = cli(w, ["register", "--repo", w.repo.root, "--pid", String(pid), "--json"])
    assert.strictEqual(r.code, 0, r.stderr)
    return Cli.json(r)
  }

  it("a dirty worktree and an unmerged branch are kept on release and cleanup, and removed with --force", async () => {
    const w = world()
    const h = holder()
    register(w, h.pid!)
    const dirty = register(w, h.pid!)
    const unmerged = register(w, h.pid!)
    fs.appendFileSync(path.join(dirty.worktreePath, "README.md"), "edit\n")
    w.repo.write("feature.txt", "f\n", unmerged.worktreePath)
    w.repo.commitAll("feature", unmerged.worktreePath)

    for (const s of [dirty, unmerged]) {
      const r = cli(w, ["release", "--session-id", s.sessionId])
      assert.strictEqual(r.code, 0, r.stderr)
      assert.include(r.stdout, "kept")
      assert.include(r.stdout, s.worktreePath)
      assert.include(r.stdout, `git -C ${w.repo.root} merge ${s.branch}`)
      assert.include(r.stdout, `parallel-cc discard ${s.sessionId} --force`)
      assert.include(r.stdout, `claude-parallel --session ${s.sessionId}`)
      assert.isTrue(fs.existsSync(s.worktreePath))
    }
    const rj = Cli.json(cli(w, ["release", "--session-id", unmerged.sessionId, "--json"]))
    assert.strictEqual(rj.released[0].worktree, "kept")
    assert.strictEqual(rj.released[0].kept.uniqueCommits, 1)

    const st = statusJson(w)
    assert.strictEqual(st.sessions.length, 1)
    assert.sameMembers(st.kept.map((k: any) => k.sessionId), [dirty.sessionId, unmerged.sessionId])

    const c1 = Cli.json(cli(w, ["cleanup", "--json"]))
    assert.sameMembers(c1.rechecked.map((r: any) => r.worktree), ["kept", "kept"])
    assert.isTrue(fs.existsSync(dirty.worktreePath) && fs.existsSync(unmerged.worktreePath))
    assert.includeMembers(branches(w.repo), [dirty.branch, unmerged.branch])

    const forced = Cli.json(cli(w, ["release", "--session-id", dirty.sessionId, "--force", "--json"]))
    assert.strictEqual(forced.released[0].worktree, "removed")
    assert.isFalse(fs.existsSync(dirty.worktreePath))
    const c2 = Cli.json(cli(w, ["cleanup", "--force", "--json"]))
    assert.deepStrictEqual(c2.rechecked.map((r: any) => r.worktree), ["removed"])
    assert.strictEqual(c2.rechecked[0].branchOutcome.outcome, "deleted")
    assert.isFalse(fs.existsSync(unmerged.worktreePath))
    assert.deepStrictEqual(branches(w.repo), ["main"])
    assert.deepStrictEqual(statusJson(w).kept, [])
  })

  it("cleanup --dry-run changes nothing; cleanup then releases dead sessions under the same rule", async () => {
    const w = world()
    const h = holder()
    register(w, h.pid!)
    const shortLived = holder()
    const dead1 = register(w, shortLived.pid!)
    const dead2 = register(w, shortLived.pid!)
    fs.writeFileSync(path.join(dead2.worktreePath, "new.txt"), "work\n")
    shortLived.kill("SIGKILL")
    await until("the process to be gone", () => (alive(shortLived.pid!) ? undefined : true))

    const Database = (await import("better-sqlite3")).default
    const snapshot = () => {
      const db = new Database(path.join(w.data, "coordinator.db"), { readonly: true })
      const rows = db.prepare("SELECT * FROM sessions ORDER BY id").all()
      db.close()
      return JSON.stringify({
        rows,
        worktrees: w.repo.git(["worktree", "list", "--porcelain"]),
        branches: branches(w.repo),
        dirs: fs.readdirSync(w.wtRoot).sort()
      })
    }
    const before = snapshot()
    const dry = cli(w, ["cleanup", "--dry-run", "--json"])
    assert.strictEqual(dry.code, 0, dry.stderr)
    const report = Cli.json(dry)
    assert.isTrue(report.dryRun)
    const byId = Object.fromEntries(report.released.map((r: any) => [r.sessionId, r]))
    assert.strictEqual(byId[dead1.sessionId].worktree, "removed")
    assert.strictEqual(byId[dead2.sessionId].worktree, "kept")
    assert.strictEqual(report.alive, 1)
    const human = cli(w, ["cleanup", "--dry-run"])
    assert.include(human.stdout, "would be released")
    assert.strictEqual(snapshot(), before)

    const real = Cli.json(cli(w, ["cleanup", "--json"]))
    assert.sameMembers(real.released.map((r: any) => r.sessionId), [dead1.sessionId, dead2.sessionId])
    assert.isFalse(fs.existsSync(dead1.worktreePath))
    assert.isTrue(fs.existsSync(path.join(dead2.worktreePath, "new.txt")))
    assert.strictEqual(statusJson(w).sessions.length, 1)
  })

  it("release and heartbeat take exactly one of --session-id / --pid; unknown sessions fail with exit 1", () => {
    const w = world()
    assert.strictEqual(cli(w, ["release"]).code, 2)
    assert.strictEqual(cli(w, ["release", "--pid", "1", "--session-id", "abcdefghij"]).code, 2)
    assert.strictEqual(cli(w, ["heartbeat"]).code, 2)
    assert.strictEqual(cli(w, ["release", "--session-id", "--upload-pack=x"]).code, 2)
    const unknown = cli(w, ["release", "--session-id", "abcdefghij"])
    assert.strictEqual(unknown.code, 1)
    assert.include(unknown.stderr, "no active session")
    const reg = Cli.json(cli(w, ["register", "--repo", w.repo.root, "--pid", String(process.pid), "--json"]))
    const hb = cli(w, ["heartbeat", "--session-id", reg.sessionId])
    assert.strictEqual(hb.code, 0, hb.stderr)
    assert.strictEqual(cli(w, ["heartbeat", "--pid", String(process.pid)]).code, 0)
    const dead = cli(w, ["register", "--repo", w.repo.root, "--pid", "999999999", "--json"])
    assert.strictEqual(dead.code, 1)
    assert.include(dead.stderr, "no running process")
    const released = Cli.json(cli(w, ["release", "--pid", String(process.pid), "--json"]))
    assert.strictEqual(released.released.length, 1)
    assert.strictEqual(released.released[0].worktree, "main")
  })

  it("worktree prefixes that are option-looking or hold metacharacters or newlines are rejected", () => {
    const w = world()
    for (const bad of ["--upload-pack=x", "a;b", "a\nb", "$(id)"]) {
      const r = cli(w, ["config", "set", "worktree.prefix", bad])
      assert.strictEqual(r.code, 1, bad)
      const viaEnv = Cli.runSync(["register", "--repo", w.repo.root, "--pid", String(process.pid)], {
        env: { ...w.env, PARALLEL_CC_WORKTREE_PREFIX: bad }
      })
      assert.strictEqual(viaEnv.code, 1, bad)
      assert.include(viaEnv.stderr, "worktree.prefix")
    }
  })
})
