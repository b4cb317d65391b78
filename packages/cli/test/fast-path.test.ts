/**
 * `register`, `release`, `heartbeat` and the wrapper have an Effect-free fast path (core FastPath,
 * dist/quick.cjs and dist/wrapq.cjs). These tests run the built CLI both ways — the fast path, and the
 * Sessions service (PARALLEL_CC_NO_FAST_PATH=1) — on twin worlds and require the same output, the same
 * rows, the same session directories and the same agent environment; they check that the fast path
 * really answered (PARALLEL_CC_TRACE_FAST_PATH=1 reports every hand-over on stderr), and that it steps
 * aside, leaving nothing behind, whenever the service has something to decide.
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

const world = (files: Record<string, string> = {}) => {
  const base = TempDir.makeSync()
  dirs.push(base)
  const repo = TempRepo.makeSync(base, { files: { "README.md": "# r\n", ".gitignore": "node_modules/\n", ...files } })
  const data = path.join(base, "data")
  const envOf = (service: boolean): Record<string, string> => ({
    ...repo.env,
    PARALLEL_CC_DATA_DIR: data,
    PARALLEL_CC_TRACE_FAST_PATH: "1",
    ...(service ? { PARALLEL_CC_NO_FAST_PATH: "1" } : {})
  })
  return { base, repo, data, envOf }
}
type World = ReturnType<typeof world>

// Asynchronous, so that the test worker stays responsive while the CLI runs (a loaded machine is slow).
const run = (w: World, args: ReadonlyArray<string>, service: boolean, env: Record<string, string> = {}) =>
  Cli.run(args, { env: { ...w.envOf(service), ...env }, cwd: w.repo.root })

/** The store and the recorded configuration exist, as after any first command. */
const warm = async (w: World, env: Record<string, string> = {}) => assert.strictEqual((await run(w, ["status"], true, env)).code, 0)

/** Replace the world's temp directory and the given session ids by stable names. */
const normalize = (w: World, text: string, ids: ReadonlyArray<string>) => {
  let out = text.replaceAll(w.base, "<base>")
  ids.forEach((id, i) => (out = out.replaceAll(id, `<id${i}>`)))
  return out.replace(/[0-9a-f]{40}/g, "<sha>")
}

/** Every session row, ids, pids and times replaced. */
const rows = (w: World, ids: ReadonlyArray<string>) => {
  const db = new Database(path.join(w.data, "coordinator.db"), { readonly: true })
  try {
    return (db.prepare("SELECT * FROM sessions ORDER BY created_at, id").all() as Array<Record<string, unknown>>).map((r) => {
      const { created_at, ended_at, last_heartbeat, pid, pid_start_time, ...rest } = r
      assert.isNumber(created_at)
      assert.isTrue(ended_at === null || typeof ended_at === "number")
      assert.isNumber(last_heartbeat)
      assert.isNumber(pid)
      assert.isString(pid_start_time)
      return JSON.parse(normalize(w, JSON.stringify(rest), ids))
    })
  } finally {
    db.close()
  }
}

/** The files of every session directory (names and contents, links as their target). */
const liveTree = (w: World, ids: ReadonlyArray<string>) => {
  const root = path.join(w.data, "live")
  const out: Record<string, string> = {}
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name)
      const rel = normalize(w, path.relative(root, p), ids)
      if (e.isSymbolicLink()) out[rel] = `-> ${normalize(w, fs.readlinkSync(p), ids)}`
      else if (e.isDirectory()) {
        out[`${rel}/`] = (fs.statSync(p).mode & 0o777).toString(8)
        walk(p)
      } else out[rel] = normalize(w, fs.readFileSync(p, "utf8"), ids)
    }
  }
  if (fs.existsSync(root)) walk(root)
  return out
}

const idsIn = (text: string) => [...new Set([...text.matchAll(/"sessionId": "([a-z0-9]+)"|Session ([a-z0-9]{10})/g)].map((m) => m[1] ?? m[2]!))]

/** One scenario, run in a world: every command's code, stdout and stderr, then rows and session directories. */
const scenario = async (w: World, service: boolean) => {
  await warm(w)
  const [a1, a2, a3] = [agent(), agent(), agent()]
  const log: Array<{ args: string; code: number | null; stdout: string; stderr: string }> = []
  const step = async (args: ReadonlyArray<string>) => {
    const r = await run(w, args, service)
    log.push({ args: args.join(" "), code: r.code, stdout: r.stdout, stderr: r.stderr })
    return r
  }
  const main = Cli.json(await step(["register", "--repo", w.repo.root, "--pid", String(a1), "--json"]))
  const second = Cli.json(await step(["register", `--repo=${w.repo.root}`, "--pid", String(a2), "--json"]))
  await step(["register", "--repo", ".", "--pid", String(a3), "--verbose"])
  const ids = idsIn(log.map((l) => l.stdout).join("\n"))
  const live = liveTree(w, ids)
  await step(["heartbeat", "--pid", String(a2)])
  await step(["heartbeat", "--session-id", main.sessionId])
  await step(["release", "--session-id", second.sessionId, "--json"])
  await step(["release", "--pid", String(a3)])
  await step(["release", "--session-id", main.sessionId, "--json"])
  const worktrees = w.repo.git(["worktree", "list", "--porcelain"]).split("\n").filter((l) => l.startsWith("worktree ")).length
  const branches = w.repo.git(["branch", "--format=%(refname:short)"]).trim()
  return {
    log: log.map((l) => ({
      args: normalize(w, [a1, a2, a3].reduce((t, pid, i) => t.replaceAll(String(pid), `<pid${i}>`), l.args), ids),
      code: l.code,
      stdout: normalize(w, l.stdout, ids),
      stderr: normalize(w, l.stderr, ids)
    })),
    rows: rows(w, ids),
    live,
    liveAfter: liveTree(w, ids),
    worktrees,
    branches,
    worktreeRoot: fs.existsSync(`${w.repo.root}-worktrees`)
  }
}

describe("the fast path of register, release and heartbeat", () => {
  it("prints what the Sessions service prints and leaves the same rows, session directories, worktrees and branches", async () => {
    const fast = await scenario(world(), false)
    const service = await scenario(world(), true)
    // The fast path answered every command itself (a hand-over would be reported on stderr).
    assert.deepStrictEqual(fast.log.filter((l) => l.stderr !== "" || l.code !== 0), [])
    assert.deepStrictEqual(fast, service)
    assert.strictEqual(fast.worktrees, 1)
    assert.strictEqual(fast.branches, "main")
    assert.isFalse(fast.worktreeRoot)
    assert.deepStrictEqual(fast.liveAfter, {})
    // Three sessions, each linked with the two others.
    assert.lengthOf(Object.keys(fast.live).filter((k) => /^<id\d>\/peers\/<id\d>$/.test(k)), 6)
  }, 300_000)

  it("keeps a branch that is checked out in another worktree, saying where, as the service does", async () => {
    const once = async (service: boolean) => {
      const w = world()
      await warm(w)
      Cli.json(await run(w, ["register", "--repo", w.repo.root, "--pid", String(agent()), "--json"], service))
      const s = Cli.json(await run(w, ["register", "--repo", w.repo.root, "--pid", String(agent()), "--json"], service))
      // The same branch checked out a second time elsewhere (git allows it with --force).
      const other = path.join(w.base, "other")
      w.repo.git(["worktree", "add", "-q", "--force", other, s.branch])
      const r = await run(w, ["release", "--session-id", s.sessionId, "--json"], service)
      assert.strictEqual(r.code, 0, r.stderr)
      assert.isFalse(fs.existsSync(s.worktreePath))
      assert.include(w.repo.git(["branch", "--format=%(refname:short)"]), s.branch)
      const out = JSON.parse(normalize(w, r.stdout, [s.sessionId]))
      return { out, stderr: r.stderr }
    }
    const fast = await once(false)
    const service = await once(true)
    assert.strictEqual(fast.stderr, "")
    assert.deepStrictEqual(fast.out, service.out)
    assert.include(JSON.stringify(fast.out), "checked out at <base>/other")
  }, 300_000)

  it("reads HEAD and refs from files: a commit only on the session branch keeps the worktree; merged and packed, it goes as the service says", async () => {
    const declined = (r: Cli.RunResult) => /fast path declined: (.*)/.exec(r.stderr)?.[1]
    const once = async (service: boolean) => {
      const w = world()
      await warm(w)
      Cli.json(await run(w, ["register", "--repo", w.repo.root, "--pid", String(agent()), "--json"], service))
      const commitIn = (wt: string, name: string) => {
        fs.writeFileSync(path.join(wt, name), `${name}\n`)
        w.repo.git(["-C", wt, "add", name])
        w.repo.git(["-C", wt, "commit", "-q", "-m", name])
      }
      // A commit on no other ref: kept (the fast path hands it to the service, which says why).
      const own = Cli.json(await run(w, ["register", "--repo", w.repo.root, "--pid", String(agent()), "--json"], service))
      commitIn(own.worktreePath, "own.txt")
      const kept = await run(w, ["release", "--session-id", own.sessionId], service)
      assert.strictEqual(kept.code, 0, kept.stderr)
      if (!service) assert.strictEqual(declined(kept), "worktree not pristine")
      assert.include(kept.stdout, "its worktree is kept because removing it would lose work")
      assert.include(w.repo.git(["branch", "--format=%(refname:short)"]), own.branch)
      // A commit the base branch now has, every ref packed: removed, the branch deleted as merged.
      const merged = Cli.json(await run(w, ["register", "--repo", w.repo.root, "--pid", String(agent()), "--json"], service))
      commitIn(merged.worktreePath, "merged.txt")
      w.repo.git(["merge", "-q", "--ff-only", merged.branch])
      w.repo.git(["pack-refs", "--all"])
      const r = await run(w, ["release", "--session-id", merged.sessionId, "--json"], service)
      assert.strictEqual(r.code, 0, r.stderr)
      assert.isFalse(fs.existsSync(merged.worktreePath))
      assert.notInclude(w.repo.git(["branch", "--format=%(refname:short)"]), merged.branch)
      return { out: JSON.parse(normalize(w, r.stdout, [merged.sessionId])), stderr: r.stderr, w }
    }
    const fast = await once(false)
    const service = await once(true)
    assert.strictEqual(fast.stderr, "")
    assert.deepStrictEqual(fast.out, service.out)
    assert.include(JSON.stringify(fast.out), "merged into main")
    // Sparse-checkout patterns in the repository: git is asked, and a sparse checkout is the service's.
    const w = fast.w
    fs.mkdirSync(path.join(w.repo.root, ".git", "info"), { recursive: true })
    fs.writeFileSync(path.join(w.repo.root, ".git", "info", "sparse-checkout"), "/*\n")
    w.repo.git(["config", "core.sparseCheckout", "true"])
    const sparse = await run(w, ["register", "--repo", w.repo.root, "--pid", String(agent())], false)
    assert.strictEqual(sparse.code, 0, sparse.stderr)
    assert.match(declined(sparse) ?? "", /needs preparing/)
  }, 300_000)

  it("remembers a commit's plain checkout (no LFS, no submodule) by its id; a new commit with LFS attributes still steps aside", async () => {
    const w = world()
    await warm(w)
    const declined = (r: Cli.RunResult) => /fast path declined: (.*)/.exec(r.stderr)?.[1]
    const start = async () => {
      const r = await run(w, ["register", "--repo", w.repo.root, "--pid", String(agent()), "--json"], false)
      assert.strictEqual(r.code, 0, r.stderr)
      return r
    }
    await start() // the repository itself
    const head = w.repo.git(["rev-parse", "HEAD"]).trim()
    assert.isUndefined(declined(await start()))
    const cache = path.join(w.data, "cache", "plain-commits")
    assert.include(fs.readFileSync(cache, "utf8").split("\n"), head)
    assert.isUndefined(declined(await start()))
    // Another commit, with an LFS filter: not in the list, so git is asked, and the service prepares it.
    w.repo.write(".gitattributes", "*.bin filter=lfs diff=lfs merge=lfs -text\n")
    const lfs = w.repo.commitAll("lfs")
    assert.match(declined(await start()) ?? "", /needs preparing/)
    assert.notInclude(fs.readFileSync(cache, "utf8").split("\n"), lfs)
    // Replace refs can change what a commit's tree is: then the list is not used.
    w.repo.git(["checkout", "-q", "--detach", head])
    w.repo.git(["replace", head, lfs])
    assert.match(declined(await start()) ?? "", /needs preparing/)
  }, 300_000)

  it("steps aside, with nothing left behind, whenever the service has something to decide", async () => {
    const w = world()
    const declined = (r: Cli.RunResult) => /fast path declined: (.*)/.exec(r.stderr)?.[1]
    // No configuration recorded yet: the service answers (and records it).
    const first = await run(w, ["register", "--repo", w.repo.root, "--pid", String(agent()), "--json"], false)
    assert.strictEqual(first.code, 0, first.stderr)
    assert.match(declined(first) ?? "", /no configuration recorded/)
    const main = Cli.json(first)
    // A session whose process is gone: the service releases it (and says so) before registering.
    const doomed = spawn("sleep", ["300"], { stdio: "ignore" })
    const gone = Cli.json(await run(w, ["register", "--repo", w.repo.root, "--pid", String(doomed.pid), "--json"], false))
    doomed.kill("SIGKILL")
    // Gone once the kernel ended it (it stays a zombie of this test process until reaped).
    const stat = `/proc/${doomed.pid}/stat`
    for (const until = Date.now() + 10_000; Date.now() < until;) {
      if (!fs.existsSync(stat) || fs.readFileSync(stat, "utf8").includes(") Z")) break
    }
    const swept = await run(w, ["register", "--repo", w.repo.root, "--pid", String(agent()), "--json"], false)
    assert.strictEqual(swept.code, 0, swept.stderr)
    assert.strictEqual(declined(swept), "a session to sweep")
    assert.include(swept.stderr, `Session ${gone.sessionId} (pid ${doomed.pid} no longer runs) released`)
    const dirty = Cli.json(swept)

    // Work in a worktree (an untracked file, or an ignored one): the service keeps it and says why.
    fs.writeFileSync(path.join(dirty.worktreePath, "notes.txt"), "work\n")
    const kept = await run(w, ["release", "--session-id", dirty.sessionId], false)
    assert.strictEqual(kept.code, 0, kept.stderr)
    assert.strictEqual(declined(kept), "worktree not pristine")
    assert.include(kept.stdout, "its worktree is kept because removing it would lose work")
    assert.isTrue(fs.existsSync(path.join(dirty.worktreePath, "notes.txt")))
    const ignored = Cli.json(await run(w, ["register", "--repo", w.repo.root, "--pid", String(agent()), "--json"], false))
    fs.mkdirSync(path.join(ignored.worktreePath, "node_modules"))
    fs.writeFileSync(path.join(ignored.worktreePath, "node_modules", "x.js"), "x\n")
    const ign = await run(w, ["release", "--session-id", ignored.sessionId], false)
    assert.strictEqual(declined(ign), "worktree not pristine")

    // Settings the fast path leaves to the service: worktree.setup, a .worktreeinclude file.
    const setup = await run(w, ["register", "--repo", w.repo.root, "--pid", String(agent())], false)
    assert.isUndefined(declined(setup), setup.stderr)
    const withSetup = { ...w.envOf(false), PARALLEL_CC_WORKTREE_SETUP: JSON.stringify([["true"]]) }
    await warm(w, withSetup)
    const s2 = await Cli.run(["register", "--repo", w.repo.root, "--pid", String(agent())], { env: withSetup, cwd: w.repo.root })
    assert.strictEqual(s2.code, 0, s2.stderr)
    assert.match(declined(s2) ?? "", /worktree.setup/)
    await warm(w)
    fs.writeFileSync(path.join(w.repo.root, ".worktreeinclude"), "")
    const inc = await run(w, ["register", "--repo", w.repo.root, "--pid", String(agent())], false)
    assert.strictEqual(inc.code, 0, inc.stderr)
    assert.match(declined(inc) ?? "", /needs preparing/)
    fs.rmSync(path.join(w.repo.root, ".worktreeinclude"))

    // An unknown session: the service's error, exit 1.
    const unknown = await run(w, ["heartbeat", "--session-id", "zzzzzzzzzz"], false)
    assert.strictEqual(unknown.code, 1)
    assert.include(unknown.stderr, "fast path declined")
    // Every session row belongs to a process that runs, and no reservation was left behind.
    const status = Cli.json(await run(w, ["status", "--json"], true))
    assert.isTrue(status.sessions.every((s: any) => s.liveness.state === "alive"))
    assert.include(status.sessions.map((s: any) => s.sessionId), main.sessionId)
  }, 300_000)

  it("runs the repository's post-checkout hook in a new worktree, once; a failing hook fails the start and leaves nothing", async () => {
    for (const service of [false, true]) {
      const w = world()
      await warm(w)
      const hook = path.join(w.repo.root, ".git", "hooks", "post-checkout")
      const out = path.join(w.base, "hook.log")
      fs.writeFileSync(hook, `#!/bin/sh\necho "$PWD $1 $2 $3" >> ${out}\nexit \${FAIL:-0}\n`, { mode: 0o755 })
      assert.strictEqual((await run(w, ["register", "--repo", w.repo.root, "--pid", String(agent())], service)).code, 0)
      const r = await run(w, ["register", "--repo", w.repo.root, "--pid", String(agent()), "--json"], service)
      assert.strictEqual(r.code, 0, r.stderr)
      const reg = Cli.json(r)
      const head = w.repo.git(["rev-parse", "HEAD"]).trim()
      assert.strictEqual(fs.readFileSync(out, "utf8"), `${reg.worktreePath} ${"0".repeat(40)} ${head} 1\n`)
      assert.isTrue(fs.existsSync(path.join(reg.worktreePath, "README.md")))

      const failing = await run(w, ["register", "--repo", w.repo.root, "--pid", String(agent())], service, { FAIL: "3" })
      assert.strictEqual(failing.code, 1, `${service}: ${failing.stderr}`)
      assert.lengthOf(w.repo.git(["worktree", "list", "--porcelain"]).split("\n").filter((l) => l.startsWith("worktree ")), 2)
      assert.strictEqual(w.repo.git(["branch", "--list", "parallel-*"]).trim().split("\n").length, 1)
      assert.lengthOf(Cli.json(await run(w, ["status", "--json"], true)).sessions, 2)
    }
  }, 300_000)
})

describe("a fast register killed half-way", () => {
  it("is undone by the next status: no session alive, no worktree or branch left", async () => {
    const w = world()
    await warm(w)
    assert.strictEqual((await run(w, ["register", "--repo", w.repo.root, "--pid", String(agent())], false)).code, 0)
    // The repository's post-checkout hook says where it runs, then waits: the register is in the middle of
    // making its worktree (the fast path runs hooks itself; it steps aside only for setup and preparation).
    const marker = path.join(w.base, "hook-started")
    const hook = path.join(w.repo.root, ".git", "hooks", "post-checkout")
    fs.writeFileSync(hook, `#!/bin/sh\necho $$ > ${marker}\nexec sleep 300\n`, { mode: 0o755 })
    const child = spawn(process.execPath, [Cli.binPath, "register", "--repo", w.repo.root, "--pid", String(agent())], {
      env: { ...w.envOf(false) },
      cwd: w.repo.root,
      stdio: ["ignore", "ignore", "pipe"]
    })
    children.push(child)
    let stderr = ""
    child.stderr!.setEncoding("utf8").on("data", (d) => (stderr += d))
    let hookPid: number | undefined
    for (const until = Date.now() + 120_000; hookPid === undefined && Date.now() < until;) {
      await new Promise((r) => setTimeout(r, 20))
      const text = fs.existsSync(marker) ? fs.readFileSync(marker, "utf8").trim() : ""
      if (/^\d+$/.test(text)) hookPid = Number(text)
    }
    assert.isDefined(hookPid, "the post-checkout hook never ran")
    child.kill("SIGKILL")
    await new Promise((r) => child.once("close", r))
    assert.notInclude(stderr, "fast path declined")
    process.kill(hookPid!, "SIGKILL")
    fs.rmSync(hook)
    const st = await run(w, ["status", "--json"], false)
    assert.strictEqual(st.code, 0, st.stderr)
    const report = Cli.json(st)
    assert.strictEqual(report.sessions.length, 1, "only the first session is alive")
    assert.strictEqual(report.released.length, 1)
    assert.isTrue(report.released[0].interrupted)
    assert.deepStrictEqual(report.kept, [])
    assert.strictEqual(w.repo.git(["branch", "--format=%(refname:short)"]).trim(), "main")
    assert.lengthOf(w.repo.git(["worktree", "list", "--porcelain"]).split("\n").filter((l) => l.startsWith("worktree ")), 1)
  }, 300_000)
})

describe("the wrapper's fast path", () => {
  const wrap = (w: World, service: boolean, agentScript: string) =>
    new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      const c = spawn(process.execPath, [Cli.wrapperPath, "--flag"], {
        cwd: w.repo.root,
        env: { PATH: process.env.PATH, ...w.envOf(service), PARALLEL_CC_AGENT: agentScript }
      })
      let stdout = ""
      let stderr = ""
      c.stdout.setEncoding("utf8").on("data", (d) => (stdout += d))
      c.stderr.setEncoding("utf8").on("data", (d) => (stderr += d))
      c.on("close", (status) => resolve({ status, stdout, stderr }))
    })

  it("runs the agent in the repository, then in a worktree, with the same environment and messages as the service", async () => {
    const results: Array<any> = []
    for (const service of [false, true]) {
      const w = world()
      await warm(w)
      const script = path.join(w.base, "agent.sh")
      fs.writeFileSync(script, `#!/bin/sh\necho "args $* cwd $PWD"\nenv | grep -E '^(PARALLEL_CC_|COMPOSE_)' | grep -v -E 'TRACE|NO_FAST|DATA_DIR|AGENT=' | sort\n`, { mode: 0o755 })
      const first = await wrap(w, service, script)
      const holder = agent()
      const held = Cli.json(await run(w, ["register", "--repo", w.repo.root, "--pid", String(holder), "--json"], true))
      const second = await wrap(w, service, script)
      const ids = [...new Set([...`${first.stdout}${second.stdout}`.matchAll(/PARALLEL_CC_SESSION_ID=([a-z0-9]+)/g)].map((m) => m[1]!))]
      results.push({
        first: { code: first.status, stdout: normalize(w, first.stdout, ids), stderr: normalize(w, first.stderr, ids) },
        second: { code: second.status, stdout: normalize(w, second.stdout, ids), stderr: normalize(w, second.stderr, ids) },
        sessions: Cli.json(await run(w, ["status", "--json"], true)).sessions.map((s: any) => s.sessionId),
        held: held.sessionId,
        worktrees: w.repo.git(["worktree", "list", "--porcelain"]).split("\n").filter((l) => l.startsWith("worktree ")).length
      })
    }
    const [fast, service] = results
    assert.strictEqual(fast!.first.code, 0)
    assert.include(fast!.first.stdout, "args --flag cwd <base>/repo\n")
    assert.include(fast!.second.stdout, "cwd <base>/repo-worktrees/parallel-<id1>\n")
    assert.include(fast!.second.stdout, "PARALLEL_CC_SESSION_DIR=<base>/data/live/<id1>\n")
    assert.include(fast!.second.stderr, "released; worktree <base>/repo-worktrees/parallel-<id1> removed; branch parallel-<id1> deleted (it had no commits of its own).")
    assert.notInclude(fast!.first.stderr + fast!.second.stderr, "fast path declined")
    assert.deepStrictEqual(fast!.sessions, [fast!.held])
    assert.strictEqual(fast!.worktrees, 1)
    assert.deepStrictEqual({ ...fast!, sessions: [], held: "" }, { ...service!, sessions: [], held: "" })
  }, 300_000)
})

describe("the read-only fast paths: status, claims, sandbox list, sandbox status", () => {
  const DAY = 86_400_000
  /** A world with two live sessions, claims and sandbox runs, all dated so that ages shown stay put for half an hour. */
  const populated = async () => {
    const w = world()
    await warm(w)
    const a = Cli.json(await run(w, ["register", "--repo", w.repo.root, "--pid", String(agent()), "--json"], true))
    const b = Cli.json(await run(w, ["register", "--repo", w.repo.root, "--pid", String(agent()), "--json"], true))
    // A named session working for `a` (shown nested under it), and a worktree kept with work in it.
    const named = ["register", "--repo", w.repo.root, "--pid", String(agent()), "--name", "feat-x", "--parent", a.sessionId, "--json"]
    const c = Cli.json(await run(w, named, true))
    const kept = Cli.json(await run(w, ["register", "--repo", w.repo.root, "--pid", String(agent()), "--json"], true))
    fs.writeFileSync(path.join(kept.worktreePath, "wip.txt"), "work in progress\n")
    assert.strictEqual((await run(w, ["release", "--session-id", kept.sessionId], true)).code, 0)
    const supervisor = agent()
    const start = fs.readFileSync(`/proc/${supervisor}/stat`, "utf8").split(") ")[1]!.split(" ")[19]
    const boot = fs.readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim()
    const now = Date.now()
    const past = now - 3 * DAY - 30 * 60_000
    const db = new Database(path.join(w.data, "coordinator.db"))
    try {
      db.prepare("UPDATE sessions SET created_at = ?, last_heartbeat = ?, ended_at = CASE WHEN ended_at IS NULL THEN NULL ELSE ? END")
        .run(past, past, past)
      for (const id of [a.sessionId, b.sessionId, c.sessionId]) {
        const hb = new Date(now - DAY - 30 * 60_000)
        fs.utimesSync(path.join(w.data, "heartbeats", id), hb, hb)
      }
      const claim = db.prepare(`INSERT INTO file_claims (id, session_id, repo_path, file_path, mode, reason, created_at, updated_at, expires_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
      claim.run("c1", a.sessionId, w.repo.root, "src/a.ts", "EXCLUSIVE", "refactor", past, past, now + 3 * DAY + 30 * 60_000)
      claim.run("c2", b.sessionId, w.repo.root, "README.md", "INTENT", null, past, past, now + 2 * DAY + 30 * 60_000)
      claim.run("c3", b.sessionId, w.repo.root, "old.ts", "SHARED", null, past, past, now - 60_000)
      const runRow = db.prepare(`INSERT INTO sandbox_runs (session_id, repo_path, provider, sandbox_id, isolation, agent, prompt, branch_mode,
        status, sandbox_state, supervisor_pid, supervisor_start, timeout_ms, log_path, events_path, num_turns, cost_usd,
        files_added, files_modified, files_deleted, created_at, ended_at, error)
        VALUES (?, ?, 'local', ?, 'bwrap', 'claude', ?, 'review', ?, ?, ?, ?, 3600000, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
      runRow.run("run1done00", w.repo.root, "sb1", "fix the bug in the parser, then write a test for it please", "succeeded", "killed",
        null, null, "/tmp/l1", "/tmp/e1", 3, 0.0123, 1, 2, 0, past, past + 60_000, null)
      runRow.run("run2live00", w.repo.root, "sb2", "second\nline", "running", "none", supervisor, `linux:${boot}:${start}`,
        "/tmp/l2", "/tmp/e2", null, null, null, null, null, past + 1, null, null)
      runRow.run("run3fail00", w.repo.root, "sb3", "p", "failed", "killed", 1, "linux:other:1", "/tmp/l3", "/tmp/e3", null, null,
        null, null, null, past + 2, past + 3, "it broke")
    } finally {
      db.close()
    }
    return w
  }

  it("print what the full CLI prints, and step aside when the service must reconcile or ask a provider", async () => {
    const w = await populated()
    const same = async (args: ReadonlyArray<string>) => {
      const fast = await run(w, args, false)
      const full = await run(w, args, true)
      assert.strictEqual(fast.code, 0, fast.stderr)
      assert.strictEqual(fast.stderr, "", `the fast path declined ${args.join(" ")}`)
      assert.strictEqual(full.code, 0, full.stderr)
      assert.strictEqual(fast.stdout, full.stdout, args.join(" "))
      return fast.stdout
    }
    const text = await same(["status"])
    assert.match(text, /3d 0h {2}1d 0h ago {2}alive/)
    assert.match(text, /\n└ [a-z0-9]+ \(feat-x\) /)
    assert.include(text, "GO ON WITH")
    assert.include(text, "claude-parallel --session ")
    await same(["status", "--repo", w.repo.root])
    const claims = await same(["claims"])
    assert.include(claims, "src/a.ts")
    assert.include(claims, "3d 0h")
    assert.notInclude(claims, "old.ts")
    assert.lengthOf(JSON.parse(await same(["claims", "--json"])).claims, 2)
    await same(["claims", "--repo", w.repo.root, "--json"])
    await same(["claims", "--session", "zzzzzzzzzz"])
    const list = await same(["sandbox", "list"])
    assert.include(list, "fix the bug in the parser, then write a…")
    assert.lengthOf(JSON.parse(await same(["sandbox", "list", "--json", "--limit", "2"])).runs, 2)
    await same(["sandbox", "list", `--repo=${w.repo.root}`])
    await same(["sandbox", "status", "--session-id", "run1done00"])
    await same(["sandbox", "status", "--session-id", "run3fail00", "--json"])

    // A run whose sandbox may still exist needs its provider asked; an unknown run is the service's error.
    assert.include((await run(w, ["sandbox", "status", "--session-id", "run2live00"], false)).stderr, "fast path declined")
    const missing = await run(w, ["sandbox", "status", "--session-id", "nosuchrun0"], false)
    assert.strictEqual(missing.code, 1)
    // A live run whose supervisor is gone: the service marks it lost, so the fast path steps aside.
    const db = new Database(path.join(w.data, "coordinator.db"))
    db.prepare("UPDATE sandbox_runs SET supervisor_start = 'linux:other:1' WHERE session_id = 'run2live00'").run()
    db.close()
    const lost = await run(w, ["sandbox", "list", "--json"], false)
    assert.include(lost.stderr, "fast path declined")
    assert.strictEqual(JSON.parse(lost.stdout).runs.find((r: any) => r.sessionId === "run2live00").status, "lost")
  }, 300_000)
})

describe("the WorktreeCreate hook's fast path", () => {
  const hook = (w: World, service: boolean, pid: number, payload: Record<string, unknown>) =>
    Cli.run(["worktree-hook"], { env: { ...w.envOf(service), CLAUDE_PID: String(pid) }, cwd: w.repo.root, input: JSON.stringify(payload) })
  const markers = (w: World, ids: ReadonlyArray<string>) => {
    const admin = path.join(w.repo.root, ".git", "worktrees")
    return Object.fromEntries(fs.readdirSync(admin).sort().map((d) => [
      normalize(w, d, ids),
      normalize(w, fs.readFileSync(path.join(admin, d, "parallel-cc-session"), "utf8"), ids)
    ]))
  }

  it("prints what the service prints and leaves the same rows, markers, worktrees and branches", async () => {
    const results: Array<any> = []
    for (const service of [false, true]) {
      const w = world({ ".env.example": "A=1\n" })
      await warm(w)
      const claude = agent()
      const log: Array<{ code: number | null; stdout: string; stderr: string }> = []
      for (const payload of [{ name: "feature-x" }, { worktree_name: "agent/a1b2" }, {}]) {
        const r = await hook(w, service, claude, { session_id: "s", transcript_path: "/dev/null", cwd: w.repo.root, hook_event_name: "WorktreeCreate", ...payload })
        log.push({ code: r.code, stdout: r.stdout, stderr: r.stderr })
      }
      const ids = [...new Set([...log.map((l) => l.stderr).join("\n").matchAll(/session ([a-z0-9]{10})/g)].map((m) => m[1]!))]
      results.push({
        log: log.map((l) => ({ code: l.code, stdout: normalize(w, l.stdout, ids), stderr: normalize(w, l.stderr, ids) })),
        rows: rows(w, ids),
        markers: markers(w, ids),
        worktrees: w.repo.git(["worktree", "list", "--porcelain"]).split("\n").filter((l) => l.startsWith("worktree ")).map((l) => normalize(w, l, ids)),
        branches: normalize(w, w.repo.git(["branch", "--format=%(refname:short)"]).trim(), ids)
      })
      // The watchers the hook started see no session of the process left, and end.
      assert.strictEqual((await run(w, ["release", "--pid", String(claude), "--force"], true)).code, 0)
    }
    const [fast, service] = results
    // The fast path answered every request (a hand-over would be reported on stderr).
    assert.notInclude(fast.log.map((l: any) => l.stderr).join(""), "fast path declined")
    assert.deepStrictEqual(fast.log.map((l: any) => l.stdout), [
      "<base>/repo-worktrees/feature-x\n",
      "<base>/repo-worktrees/agent-a1b2\n",
      "<base>/repo-worktrees/parallel-<id2>\n"
    ])
    assert.strictEqual(fast.log[1].stderr, "parallel-cc: session <id1> (child of <id0>) works in <base>/repo-worktrees/agent-a1b2 (branch parallel/agent-a1b2)\n")
    assert.include(fast.markers["agent-a1b2"], "PARALLEL_CC_PARENT_SESSION_ID=<id0>\n")
    assert.deepStrictEqual(fast, service)
  }, 300_000)

  it("hands every request it does not plainly understand to the service, which reads the same payload", async () => {
    const w = world()
    await warm(w)
    const claude = agent()
    const base = { session_id: "s", cwd: w.repo.root, hook_event_name: "WorktreeCreate" }
    const first = await hook(w, false, claude, { ...base, name: "first" })
    assert.strictEqual(first.code, 0, first.stderr)
    assert.notInclude(first.stderr, "fast path declined")
    fs.mkdirSync(path.join(w.repo.root, "sub"))
    const cases: Array<[string, Record<string, unknown>, (r: Cli.RunResult) => void]> = [
      ["a base", { ...base, name: "based", base_commit: "HEAD" }, (r) => assert.match(r.stdout, /repo-worktrees\/based\n$/)],
      ["a subdirectory", { ...base, cwd: path.join(w.repo.root, "sub"), name: "from-sub" }, (r) => assert.match(r.stdout, /from-sub\n$/)],
      ["a dot in the name", { ...base, name: "v1.2" }, (r) => assert.match(r.stdout, /repo-worktrees\/v1\.2\n$/)],
      ["a name in use", { ...base, name: "first" }, (r) => {
        assert.strictEqual(r.code, 1)
        assert.include(r.stderr, "first")
      }],
      ["an invalid name", { ...base, name: "bad..name" }, (r) => assert.match(r.stderr, /not a valid/)],
      ["a non-string field", { ...base, name: 7 }, (r) => assert.match(r.stderr, /not what Claude Code sends/)],
      ["not JSON", "{" as unknown as Record<string, unknown>, (r) => assert.match(r.stderr, /not what Claude Code sends/)]
    ]
    for (const [what, payload, check] of cases) {
      const r = typeof payload === "string"
        ? await Cli.run(["worktree-hook"], { env: { ...w.envOf(false), CLAUDE_PID: String(claude) }, cwd: w.repo.root, input: payload })
        : await hook(w, false, claude, payload)
      assert.include(r.stderr, "fast path declined", what)
      check(r)
    }
    // Every request that was served made a session; nothing was made twice.
    const names = Cli.json(await run(w, ["status", "--json"], true)).sessions.map((s: any) => s.name).sort()
    assert.deepStrictEqual(names, ["based", "first", "from-sub", "v1.2"])
    assert.strictEqual((await run(w, ["release", "--pid", String(claude), "--force"], true)).code, 0)
  }, 300_000)
})
