/**
 * The session hook script (packages/cli/hooks/session-hook.sh), run exactly as Claude Code runs it
 * (`/bin/sh -c <the installed command>`, payload on stdin), against session directories written by core's
 * SessionFiles: the contract between the two sides.
 */
import { AppConfig, Domain, LiveSessions, SessionFiles, SessionHooks } from "@parallel-cc/core"
import { Cli, TempDir, TempRepo } from "@parallel-cc/testkit"
import { Effect, Layer, ManagedRuntime, Option } from "effect"
import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import Database from "better-sqlite3"
import { afterEach, assert, describe, it } from "vitest"

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

const world = () => {
  const base = TempDir.makeSync("pcc-hook-")
  const data = path.join(base, "data")
  const worktree = path.join(base, "wt-a")
  fs.mkdirSync(worktree)
  const rt = ManagedRuntime.make(
    SessionFiles.layer.pipe(
      Layer.provideMerge(LiveSessions.configLayer),
      Layer.provide(Layer.setConfigProvider(AppConfig.envProvider({ PARALLEL_CC_DATA_DIR: data }, { homeDir: base })))
    )
  )
  cleanups.push(async () => {
    await rt.dispose()
    TempDir.removeSync(base)
  })
  const files = <A, E>(f: (s: SessionFiles.SessionFiles["Type"]) => Effect.Effect<A, E>) =>
    rt.runPromise(Effect.flatMap(SessionFiles.SessionFiles, f))
  const a = Domain.makeSessionId()
  const b = Domain.makeSessionId()
  const heartbeat = path.join(base, "hb")
  fs.writeFileSync(heartbeat, "")
  const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", PARALLEL_CC_SESSION_DIR: path.join(data, "live", a), PARALLEL_CC_WORKTREE: worktree, PARALLEL_CC_HEARTBEAT_FILE: heartbeat }
  const setup = async () => {
    await files((s) => s.create(a, { repoPath: worktree, worktreePath: worktree }))
    await files((s) => s.create(b, { repoPath: worktree, worktreePath: path.join(base, "wt-b") }))
    await files((s) => s.setPeers(a, [b]))
    await files((s) => s.setPeers(b, [a]))
  }
  return { base, data, worktree, heartbeat, a, b, env, files, setup, dir: (id: string) => path.join(data, "live", id) }
}
type World = ReturnType<typeof world>

/** Run the hook as Claude Code does. */
const hook = (w: World, arg: SessionHooks.SessionHookArg, input = "", env: Record<string, string> = w.env) => {
  const r = spawnSync("/bin/sh", ["-c", SessionHooks.sessionHookCommand(Cli.sessionHookPath, arg)], { env, input, encoding: "utf8" })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, json: r.stdout.trim() === "" ? undefined : JSON.parse(r.stdout) }
}

const payload = (w: World, tool: string, input: Record<string, unknown>) =>
  JSON.stringify({
    session_id: "9e0f3a4c-claude",
    transcript_path: path.join(w.base, "transcript.jsonl"),
    cwd: w.worktree,
    permission_mode: "default",
    hook_event_name: "PreToolUse",
    tool_name: tool,
    tool_input: input,
    tool_use_id: "toolu_1"
  }) + "\n"

const read = (file: string) => fs.readFileSync(file, "utf8")

describe("session-hook.sh", () => {
  it("does nothing outside a session, or for a session without a directory", async () => {
    const w = world()
    await w.setup()
    for (const env of [{ PATH: w.env.PATH }, { ...w.env, PARALLEL_CC_SESSION_DIR: path.join(w.data, "live", "s_gone000000") }]) {
      for (const arg of ["pre", "pre-edit", "post", "stop", "start"] as const) {
        const r = hook(w, arg, payload(w, "Write", { file_path: path.join(w.worktree, "a.ts"), content: "x" }), env)
        assert.deepStrictEqual([r.code, r.stdout, r.stderr], [0, "", ""], arg)
      }
    }
    assert.strictEqual(read(path.join(w.dir(w.a), "state")), "starting\n")
  })

  it("without our environment (a worktree from the worktree provider), finds the session through the worktree's marker", async () => {
    const w = world()
    await w.setup()
    // A linked worktree's layout: `.git` is a file naming its admin directory, which holds the marker.
    const admin = path.join(w.base, "admin")
    fs.mkdirSync(admin)
    fs.writeFileSync(path.join(w.worktree, ".git"), `gitdir: ${admin}\n`)
    fs.writeFileSync(path.join(admin, "parallel-cc-session"), `PARALLEL_CC_SESSION_ID=${w.a}\nPARALLEL_CC_SESSION_DIR=${w.dir(w.a)}\n`)
    const sub = path.join(w.worktree, "src", "deep")
    fs.mkdirSync(sub, { recursive: true })
    const run = (cwd: string) =>
      spawnSync("/bin/sh", ["-c", SessionHooks.sessionHookCommand(Cli.sessionHookPath, "stop")], { cwd, env: { PATH: w.env.PATH }, encoding: "utf8" })
    assert.strictEqual(run(sub).status, 0)
    assert.strictEqual(read(path.join(w.dir(w.a), "state")), "idle\n")
    // No marker (any other checkout): nothing happens.
    fs.rmSync(path.join(admin, "parallel-cc-session"))
    fs.writeFileSync(path.join(w.dir(w.a), "state"), "starting\n")
    assert.strictEqual(run(sub).status, 0)
    assert.strictEqual(read(path.join(w.dir(w.a), "state")), "starting\n")
  })

  it("writes the agent state only when it changes; its mtime is when the state began", async () => {
    const w = world()
    await w.setup()
    const stateFile = path.join(w.dir(w.a), "state")
    const seen: Array<string> = []
    for (const arg of ["prompt", "pre", "post", "needs-input", "post", "stop", "end"] as const) {
      assert.strictEqual(hook(w, arg, "{}").code, 0)
      seen.push(read(stateFile).trim())
    }
    assert.deepStrictEqual(seen, ["working", "working", "working", "needs-input", "working", "idle", "exited"])
    hook(w, "prompt")
    fs.utimesSync(stateFile, new Date(1000), new Date(1000))
    hook(w, "pre")
    hook(w, "post")
    assert.strictEqual(fs.statSync(stateFile).mtimeMs, 1000, "a tool call in the same state does not rewrite the file")
    const info = await w.files((s) => s.state(w.a))
    assert.deepStrictEqual(Option.getOrThrow(info), { state: "working", since: new Date(1000) })
    // Notification: only the types that mean "waiting for the person" (the payload decides when it says).
    hook(w, "needs-input", JSON.stringify({ hook_event_name: "Notification", notification_type: "auth_success" }))
    assert.strictEqual(read(stateFile).trim(), "working")
    hook(w, "needs-input", JSON.stringify({ hook_event_name: "Notification", notification_type: "permission_prompt", message: "Claude needs your permission" }))
    assert.strictEqual(read(stateFile).trim(), "needs-input")
  })

  it("records the transcript path from SessionStart (and from the first prompt when missing); PostToolUse beats", async () => {
    const w = world()
    await w.setup()
    const transcript = path.join(w.base, "with \"quote\" and \\ back.jsonl")
    hook(w, "start", JSON.stringify({ session_id: "x", transcript_path: transcript, cwd: w.worktree, hook_event_name: "SessionStart", source: "startup" }) + "\n")
    assert.strictEqual(Option.getOrThrow(await w.files((s) => s.transcript(w.a))), transcript)
    fs.rmSync(path.join(w.dir(w.a), "transcript"))
    hook(w, "prompt", JSON.stringify({ session_id: "x", transcript_path: "/t/2.jsonl", hook_event_name: "UserPromptSubmit", prompt: "p".repeat(100_000) }))
    assert.strictEqual(Option.getOrThrow(await w.files((s) => s.transcript(w.a))), "/t/2.jsonl")
    fs.utimesSync(w.heartbeat, new Date(0), new Date(0))
    hook(w, "post", "{}")
    assert.isAbove(fs.statSync(w.heartbeat).mtimeMs, 0)
  })

  it("delivers each notice once, as additionalContext of the event that runs", async () => {
    const w = world()
    await w.setup()
    assert.isTrue(await w.files((s) => s.addNotice(w.a, { key: "budget:80", text: "80 % of the \"daily\" budget\nis used" })))
    assert.isFalse(await w.files((s) => s.addNotice(w.a, { key: "budget:80", text: "again" })), "same key queued: dropped")
    assert.deepStrictEqual(await w.files((s) => s.pendingNotices(w.a)), [{ key: "budget:80", text: "80 % of the \"daily\" budget\nis used" }])
    const first = hook(w, "post")
    assert.deepStrictEqual(first.json, {
      hookSpecificOutput: { hookEventName: "PostToolUse", additionalContext: "80 % of the \"daily\" budget\nis used" }
    })
    assert.strictEqual(hook(w, "pre").stdout, "", "delivered once")
    assert.isTrue(await w.files((s) => s.delivered(w.a, "budget:80")))
    assert.isFalse(await w.files((s) => s.addNotice(w.a, { key: "budget:80", text: "later" })), "delivered key: dropped")
    await w.files((s) => s.addNotice(w.a, { key: "n/1", text: "one" }))
    await w.files((s) => s.addNotice(w.a, { key: "n/2", text: "two" }))
    assert.deepStrictEqual(hook(w, "pre").json.hookSpecificOutput, { hookEventName: "PreToolUse", additionalContext: "one\n\ntwo" })
    assert.isFalse(await w.files((s) => s.addNotice(Domain.makeSessionId(), { key: "k", text: "t" })), "no directory: nothing queued")
  })

  it("many hooks at once deliver a notice exactly once", async () => {
    const w = world()
    await w.setup()
    await w.files((s) => s.addNotice(w.a, { key: "overlap", text: "shared news" }))
    const runs = await Promise.all(Array.from({ length: 8 }, (_, i) =>
      new Promise<string>((resolve) => {
        const c = spawn("/bin/sh", ["-c", SessionHooks.sessionHookCommand(Cli.sessionHookPath, i % 2 ? "pre" : "post")], { env: w.env })
        let out = ""
        c.stdout.on("data", (d) => (out += d))
        c.on("close", () => resolve(out))
        // The hook does not read this event's payload; it may be gone before it is written.
        c.stdin.on("error", () => undefined)
        c.stdin.end("{}")
      })))
    assert.strictEqual(runs.filter((o) => o.includes("shared news")).length, 1)
  })

  it("a blocked session is refused every tool call, with the reason, until unblocked", async () => {
    const w = world()
    await w.setup()
    await w.files((s) => s.setBlock(w.a, "Daily budget of $5 reached (\"fleet\")"))
    for (const arg of ["pre", "pre-edit"] as const) {
      const r = hook(w, arg, payload(w, "Edit", { file_path: path.join(w.worktree, "a.ts"), old_string: "a", new_string: "b" }))
      assert.deepStrictEqual(r.json, {
        hookSpecificOutput: { hookEventName: "PreToolUse", permissionDecision: "deny", permissionDecisionReason: "Daily budget of $5 reached (\"fleet\")" }
      })
    }
    assert.isFalse(fs.existsSync(path.join(w.dir(w.a), "edits")), "a refused edit is not journaled")
    assert.deepStrictEqual(Option.getOrThrow(await w.files((s) => s.block(w.a))), "Daily budget of $5 reached (\"fleet\")")
    await w.files((s) => s.setBlock(w.a, null))
    assert.strictEqual(hook(w, "pre").stdout, "")
  })

  it("pre-edit: a peer's live EXCLUSIVE claim refuses the write; an expired one does not; the edit is journaled", async () => {
    const w = world()
    await w.setup()
    const target = path.join(w.worktree, "src", "cart.ts")
    const refusal = `src/cart.ts is claimed EXCLUSIVE by session ${w.b}`
    await w.files((s) => s.setClaim(w.b, "src/cart.ts", { expiresAt: new Date(Date.now() + 3_600_000), refusal }))
    for (const tool of ["Write", "Edit"]) {
      const r = hook(w, "pre-edit", payload(w, tool, { file_path: target, content: "x".repeat(3_000_000) }))
      assert.strictEqual(r.json?.hookSpecificOutput?.permissionDecision, "deny", tool)
      assert.strictEqual(r.json.hookSpecificOutput.permissionDecisionReason, refusal)
    }
    // The main checkout's path of the same file (an agent in a worktree writing into the repository) too.
    const viaRepo = { ...w.env, PARALLEL_CC_WORKTREE: path.join(w.base, "wt-b") }
    assert.strictEqual(hook(w, "pre-edit", payload(w, "Write", { file_path: target, content: "" }), viaRepo).json?.hookSpecificOutput?.permissionDecision, "deny")
    await w.files((s) => s.setClaim(w.b, "src/cart.ts", { expiresAt: new Date(Date.now() - 1000), refusal }))
    assert.strictEqual(hook(w, "pre-edit", payload(w, "Write", { file_path: target, content: "x" })).stdout, "")
    await w.files((s) => s.setClaim(w.b, "src/cart.ts", { expiresAt: new Date(Date.now() + 3_600_000), refusal }))
    await w.files((s) => s.clearClaim(w.b, "src/cart.ts"))
    assert.strictEqual(hook(w, "pre-edit", payload(w, "Edit", { file_path: target, old_string: "a", new_string: "b" })).stdout, "")
    const edits = await w.files((s) => s.readEdits(w.a, 0))
    assert.deepStrictEqual(edits.files, ["src/cart.ts", "src/cart.ts"])
    assert.deepStrictEqual(await w.files((s) => s.readEdits(w.a, edits.offset)), { files: [], offset: edits.offset })
  })

  it("pre-edit: who else changed the file, once per peer and file; paths with quotes and backslashes", async () => {
    const w = world()
    await w.setup()
    const name = "src/we \"ird\\ name.ts"
    await w.files((s) => s.setChange(w.b, name, { key: `overlap.${w.b}.${name}`, text: `Session ${w.b} changed it in \`total\`` }))
    const p = payload(w, "Edit", { file_path: path.join(w.worktree, name), old_string: "a", new_string: "b" })
    assert.deepStrictEqual(hook(w, "pre-edit", p).json, {
      hookSpecificOutput: { hookEventName: "PreToolUse", additionalContext: `Session ${w.b} changed it in \`total\`` }
    })
    assert.strictEqual(hook(w, "pre-edit", p).stdout, "")
    assert.isTrue(await w.files((s) => s.delivered(w.a, `overlap.${w.b}.${name}`)))
    assert.isFalse(await w.files((s) => s.addNotice(w.a, { key: `overlap.${w.b}.${name}`, text: "same news" })), "the same news as a notice: dropped")
    assert.deepStrictEqual((await w.files((s) => s.readEdits(w.a, 0))).files, [name, name])
  })

  it("never touches the database: with none, and with one held under an exclusive lock, a claim still refuses and news is still delivered", async () => {
    const w = world()
    await w.setup()
    const target = path.join(w.worktree, "src", "cart.ts")
    await w.files((s) => s.setClaim(w.b, "src/cart.ts", { expiresAt: new Date(Date.now() + 3_600_000), refusal: "held by b" }))
    await w.files((s) => s.setChange(w.b, "src/tax.ts", { key: `overlap.${w.b}.src%2Ftax.ts`, text: "b changed `rate`" }))
    const check = (label: string) => {
      const denied = hook(w, "pre-edit", payload(w, "Write", { file_path: target, content: "x" }))
      assert.deepStrictEqual([denied.code, denied.json?.hookSpecificOutput?.permissionDecisionReason], [0, "held by b"], label)
      return hook(w, "pre-edit", payload(w, "Edit", { file_path: path.join(w.worktree, "src", "tax.ts"), old_string: "a", new_string: "b" }))
    }
    // No database at all (the data directory holds only the session directories).
    assert.isFalse(fs.existsSync(path.join(w.data, "coordinator.db")))
    assert.strictEqual(check("no database").json?.hookSpecificOutput?.additionalContext, "b changed `rate`")
    // A database another process holds under an exclusive lock (a hook that waited for it would hang here).
    const db = new Database(path.join(w.data, "coordinator.db"))
    cleanups.push(() => void db.close())
    db.exec("CREATE TABLE t (x); BEGIN EXCLUSIVE; INSERT INTO t VALUES (1)")
    await w.files((s) => s.setChange(w.b, "src/tax.ts", { key: `overlap.${w.b}.src%2Ftax.ts.2`, text: "b changed `rate` again" }))
    assert.strictEqual(check("locked database").json?.hookSpecificOutput?.additionalContext, "b changed `rate` again")
    assert.isTrue(db.inTransaction, "the lock was held throughout")
    db.exec("ROLLBACK")
  })

  it("pre-edit records nothing for payloads it does not understand or files outside the repository", async () => {
    const w = world()
    await w.setup()
    await w.files((s) => s.setClaim(w.b, "x.ts", { expiresAt: new Date(Date.now() + 3_600_000), refusal: "held" }))
    const bad = [
      "not json at all",
      "",
      JSON.stringify({ tool_name: "Write" }),
      payload(w, "Write", { file_path: "/etc/passwd", content: "x" }),
      payload(w, "Write", { file_path: `${w.worktree}/../x.ts`, content: "x" }),
      payload(w, "Write", { file_path: `${w.worktree}/a/../x.ts`, content: "x" }),
      payload(w, "Write", { file_path: `${w.worktree}/./x.ts`, content: "x" }),
      payload(w, "Write", { file_path: `${w.worktree}//x.ts`, content: "x" }),
      payload(w, "Write", { file_path: path.join(w.worktree, ".git/config"), content: "x" }),
      payload(w, "Write", { file_path: "x.ts", content: "x" }),
      payload(w, "Write", { file_path: path.join(w.worktree, "a\nb.ts"), content: "x" }),
      payload(w, "Write", { file_path: path.join(w.worktree, "\u00e9t\u00e9.ts"), content: "x" }).replace(/\u00e9/g, "\\u00e9"),
      payload(w, "Write", { file_path: path.join(w.worktree, "x".repeat(9000)), content: "x" })
    ]
    for (const input of bad) {
      const r = hook(w, "pre-edit", input)
      assert.deepStrictEqual([r.code, r.stdout, r.stderr], [0, "", ""], input.slice(0, 80))
    }
    assert.isFalse(fs.existsSync(path.join(w.dir(w.a), "edits")))
    assert.strictEqual(read(path.join(w.dir(w.a), "state")), "starting\n", "nothing recorded, not even the state")
  })

  it("outside claude-parallel, finds the session through the marker of its worktree's git directory (Claude Code's own worktrees)", async () => {
    const w = world()
    await w.setup()
    const gitDir = path.join(w.base, "admin")
    fs.mkdirSync(gitDir)
    fs.writeFileSync(path.join(w.worktree, ".git"), `gitdir: ${gitDir}\n`)
    fs.writeFileSync(path.join(gitDir, "parallel-cc-session"), [
      `PARALLEL_CC_SESSION_ID=${w.a}`,
      `PARALLEL_CC_WORKTREE=${w.worktree}`,
      `PARALLEL_CC_HEARTBEAT_FILE=${w.heartbeat}`,
      `PARALLEL_CC_SESSION_DIR=${w.dir(w.a)}`
    ].join("\n") + "\n")
    const run = (arg: SessionHooks.SessionHookArg, input: string, cwd: string) =>
      spawnSync("/bin/sh", ["-c", SessionHooks.sessionHookCommand(Cli.sessionHookPath, arg)], { env: { PATH: w.env.PATH }, input, cwd, encoding: "utf8" })
    await w.files((s) => s.setClaim(w.b, "x.ts", { expiresAt: new Date(Date.now() + 60_000), refusal: "held by b" }))
    const denied = run("pre-edit", payload(w, "Write", { file_path: path.join(w.worktree, "x.ts"), content: "" }), w.worktree)
    assert.strictEqual(JSON.parse(denied.stdout).hookSpecificOutput.permissionDecisionReason, "held by b")
    run("stop", "{}", w.worktree)
    assert.strictEqual(read(path.join(w.dir(w.a), "state")), "idle\n")
    fs.utimesSync(w.heartbeat, new Date(0), new Date(0))
    run("post", "{}", w.worktree)
    assert.isAbove(fs.statSync(w.heartbeat).mtimeMs, 0)
    // Anywhere else (a main checkout: .git is a directory; no .git at all) nothing happens.
    fs.mkdirSync(path.join(w.base, "plain", ".git"), { recursive: true })
    for (const cwd of [path.join(w.base, "plain"), w.base]) {
      const r = run("stop", "{}", cwd)
      assert.deepStrictEqual([r.status, r.stdout, r.stderr], [0, "", ""])
    }
    assert.strictEqual(read(path.join(w.dir(w.a), "state")), "working\n", "still the state the last tool call in the worktree set")
  })

  it("a worktree-isolated subagent under a claude-parallel session: its hooks and its edits are its own session's (real repository, provider worktree)", async () => {
    const base = TempDir.makeSync("pcc-hook-sub-")
    const agent = spawn("sleep", ["300"], { stdio: "ignore" })
    cleanups.push(() => {
      agent.kill("SIGKILL")
      TempDir.removeSync(base)
    })
    const repo = TempRepo.makeSync(base, { files: { "README.md": "# r\n", "src/cart.ts": "export const total = 0\n" } })
    const data = path.join(base, "data")
    const env = { ...repo.env, PARALLEL_CC_DATA_DIR: data }
    const cli = (args: ReadonlyArray<string>, options: { cwd?: string; input?: string; env?: Record<string, string> } = {}) => {
      const r = Cli.runSync(args, { cwd: options.cwd ?? repo.root, env: { ...env, ...options.env }, ...(options.input === undefined ? {} : { input: options.input }) })
      assert.strictEqual(r.code, 0, `${args.join(" ")}: ${r.stderr}`)
      return r
    }
    // The lead: a claude-parallel session of the agent process in the main checkout (its environment is ours).
    const lead = Cli.json(cli(["register", "--repo", repo.root, "--pid", String(agent.pid), "--json"]))
    const leadDir = path.join(data, "live", lead.sessionId)
    const leadEnv = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      PARALLEL_CC_SESSION_ID: lead.sessionId,
      PARALLEL_CC_SESSION_DIR: leadDir,
      PARALLEL_CC_WORKTREE: lead.worktreePath,
      PARALLEL_CC_HEARTBEAT_FILE: path.join(data, "heartbeats", lead.sessionId)
    }
    // Its subagent's worktree, asked of the worktree provider by the same process (as Claude Code does).
    const request = (cwd: string, name: string) =>
      cli(["worktree-hook"], { cwd, env: { CLAUDE_PID: String(agent.pid) }, input: JSON.stringify({ session_id: "s", cwd, hook_event_name: "WorktreeCreate", name }) }).stdout.trim()
    const subTree = request(repo.root, "agent-a1")
    const rows = (Cli.json(cli(["status", "--repo", repo.root, "--json"])) as { sessions: Array<Record<string, any>> }).sessions
    const sub = rows.find((s) => s.worktreePath === subTree)!
    assert.strictEqual(sub.parentId, lead.sessionId)
    const subDir = path.join(data, "live", sub.sessionId)
    // Another repository's provider worktree (its own session, same data directory): never this repository's.
    const other = TempRepo.makeSync(path.join(base, "other"))
    const otherTree = request(other.root, "elsewhere")
    const run = (arg: SessionHooks.SessionHookArg, input: string, cwd: string) => {
      const r = spawnSync("/bin/sh", ["-c", SessionHooks.sessionHookCommand(Cli.sessionHookPath, arg)], { env: leadEnv, input, cwd, encoding: "utf8" })
      assert.deepStrictEqual([r.status, r.stderr], [0, ""])
      return r.stdout.trim() === "" ? undefined : JSON.parse(r.stdout)
    }
    const write = (file: string, cwd: string) =>
      run("pre-edit", JSON.stringify({ session_id: "lead-claude", cwd, hook_event_name: "PreToolUse", tool_name: "Write", tool_input: { file_path: file, content: "x" } }) + "\n", cwd)
    const journal = (dir: string) => fs.existsSync(path.join(dir, "edits")) ? read(path.join(dir, "edits")).split("\n").filter(Boolean) : []

    // The subagent's hooks run in its worktree with the lead's environment: its edit is its own session's.
    assert.isUndefined(write(path.join(subTree, "src", "new.ts"), subTree))
    assert.deepStrictEqual([journal(subDir), journal(leadDir)], [["src/new.ts"], []])
    assert.strictEqual(read(path.join(subDir, "state")).trim(), "working")
    assert.notStrictEqual(read(path.join(leadDir, "state")).trim(), "working")
    run("stop", "{}\n", subTree)
    assert.strictEqual(read(path.join(subDir, "state")).trim(), "idle")
    // Claims apply between siblings: the lead's EXCLUSIVE claim refuses the subagent's write, and the reverse.
    cli(["claim", "src/cart.ts", "--session", lead.sessionId, "--reason", "the lead rewrites the cart"])
    const denied = write(path.join(subTree, "src", "cart.ts"), subTree)
    assert.strictEqual(denied?.hookSpecificOutput?.permissionDecision, "deny")
    assert.include(denied.hookSpecificOutput.permissionDecisionReason, "the lead rewrites the cart")
    cli(["claim", "README.md", "--session", sub.sessionId])
    assert.strictEqual(write(path.join(repo.root, "README.md"), repo.root)?.hookSpecificOutput?.permissionDecision, "deny")
    // The edited file decides: the lead writing into the subagent's worktree is an edit of the subagent's session.
    assert.isUndefined(write(path.join(subTree, "docs", "sub.md"), repo.root))
    assert.deepStrictEqual([journal(subDir), journal(leadDir)], [["src/new.ts", "docs/sub.md"], []])
    // Fall back to the caller's session for anything else: the main checkout, a worktree of another
    // repository (outside this one: nothing recorded), a linked worktree without a marker.
    assert.isUndefined(write(path.join(repo.root, "src", "lead.ts"), repo.root))
    assert.isUndefined(write(path.join(otherTree, "x.ts"), repo.root))
    const plain = path.join(base, "plain-wt")
    repo.git(["worktree", "add", "-q", "-b", "plain", plain])
    assert.isUndefined(write(path.join(plain, "y.ts"), repo.root))
    assert.deepStrictEqual([journal(subDir), journal(leadDir)], [["src/new.ts", "docs/sub.md"], ["src/lead.ts"]])
    const otherSub = (Cli.json(cli(["status", "--repo", other.root, "--json"])) as { sessions: Array<Record<string, any>> }).sessions[0]!
    assert.deepStrictEqual(journal(path.join(data, "live", otherSub.sessionId)), [])
  })
})
