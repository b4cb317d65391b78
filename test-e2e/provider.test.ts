import { AnthropicApiDouble, ClaudeCode, Cli, TempRepo } from "@parallel-cc/testkit"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "vitest"
import { claudeParallel, dbRows, installAll, installHooks, keepTranscript, pcc, status, type World, world } from "./support.js"

const { Reply } = AnthropicApiDouble
const hasGitLfs = spawnSync("git", ["lfs", "version"]).status === 0
const marker = AnthropicApiDouble.AnthropicApiDouble.marker

/** `claude -w NAME -p …` in the repository, headless, with the hook events in the stream. */
const claudeWorktree = (w: World, name: string, prompt: string) =>
  ClaudeCode.run(ClaudeCode.binary(), ["-w", name, ...ClaudeCode.headlessArgs(prompt), "--include-hook-events"], {
    cwd: w.repo.root,
    env: w.env
  })

/**
 * Poll the stored session rows until `done` says so (the detached watcher releases the session after
 * Claude Code exits; `kept_reason` stays "release in progress" until its worktree has been dealt with).
 */
const waitForRows = async (w: World, done: (rows: Array<Record<string, any>>) => boolean, timeoutMs = 30_000) => {
  const until = Date.now() + timeoutMs
  for (;;) {
    const rows = dbRows(w, "SELECT id, status, kept_reason FROM sessions")
    if (done(rows)) return rows
    if (Date.now() > until) throw new Error(`the sessions never got there: ${JSON.stringify(rows)}`)
    await new Promise((r) => setTimeout(r, 200))
  }
}
const settled = (rows: Array<Record<string, any>>) =>
  rows.length > 0 && rows.every((r) => r.status === "released" && r.kept_reason !== "release in progress")

/** A repository with `.env` (ignored, named by .worktreeinclude), a submodule and `node_modules`. */
const realRepo = (w: World) => {
  w.repo.write(".gitignore", ".env\nnode_modules/\n")
  w.repo.write(".worktreeinclude", ".env\n")
  w.repo.write("package.json", "{}\n")
  w.repo.write("package-lock.json", "{\"lockfileVersion\":3}\n")
  const lib = TempRepo.makeSync(path.join(w.repo.base, "libsrc"), { files: { "lib.txt": "library\n" } })
  w.repo.git(["-c", "protocol.file.allow=always", "submodule", "add", "-q", lib.root, "libs/lib"])
  w.repo.commitAll("app with a submodule")
  w.repo.write(".env", "SECRET=from-main\n")
  w.repo.write("node_modules/dep/index.js", "module.exports = 'dep'\n")
  return lib
}

describe("parallel-cc as Claude Code's worktree provider (the real binary)", () => {
  it("claude -w feature-x: the worktree is a parallel-cc session (our naming, .env, dependencies, the submodule) while it runs; released by the never-lose-work rule after it exits", async () => {
    const w = await world()
    realRepo(w)
    const share = { PARALLEL_CC_WORKTREE_SHARE: "[\"node_modules\"]" }
    Object.assign(w.env, share)
    installHooks(w)
    let during: ReturnType<typeof status> | undefined
    let state = ""
    w.api.script("fx", [
      Reply.bash("pwd && cat .env && cat libs/lib/lib.txt && node -p \"require('dep')\""),
      Reply.dynamic(() => {
        during = status(w)
        const id = during.sessions[0]?.sessionId ?? "none"
        state = fs.readFileSync(path.join(w.dataDir, "live", id, "state"), "utf8").trim()
        return Reply.bash("printf 'work in progress\\n' > feature.txt")
      }),
      Reply.text("feature done")
    ])
    const r = await claudeWorktree(w, "feature-x", `build it ${marker("fx")}`)
    keepTranscript("provider-claude-w", r.stdout)
    assert.deepStrictEqual(w.api.failures, [])
    assert.strictEqual(r.code, 0, r.stderr)
    const hook = r.events.find((e) => e.type === "system" && e.subtype === "hook_response" && e.hook_event === "WorktreeCreate")
    // The agent worked in the worktree our hook made, with .env, the submodule and the shared dependency.
    const out = w.api.toolResults("fx")[0]!.text.split("\n")
    const wt = out[0]!
    assert.deepStrictEqual(out.slice(1, 4), ["SECRET=from-main", "library", "dep"], JSON.stringify({ out, hook }))
    assert.strictEqual(ClaudeCode.initOf(r.events)!.cwd, wt)
    // While it ran: one session, in that worktree, on our branch, for the Claude Code process.
    assert.ok(during)
    assert.lengthOf(during!.sessions, 1)
    const s = during!.sessions[0]!
    assert.strictEqual(s.worktreePath, wt)
    assert.isFalse(s.isMainRepo)
    // Claude Code's name is the session's name, as `claude-parallel --name feature-x` gives it.
    assert.strictEqual(wt, path.join(`${w.repo.root}-worktrees`, "feature-x"))
    assert.deepStrictEqual([s.name, s.branch], ["feature-x", "parallel/feature-x"])
    assert.strictEqual(w.repo.git(["rev-parse", "--abbrev-ref", "HEAD"], wt).trim(), s.branch)
    // The session hook found the session through the worktree's marker (Claude Code gave it none of our env).
    assert.strictEqual(state, "working")
    // After Claude Code exits the watcher releases the session; the uncommitted feature.txt keeps the worktree.
    await waitForRows(w, settled)
    const after = status(w)
    assert.deepStrictEqual(after.sessions, [])
    const kept = after.kept.find((k) => k.sessionId === s.sessionId)
    assert.ok(kept, JSON.stringify(after))
    assert.strictEqual(kept!.keptReason, "1 untracked file")
    assert.isTrue(fs.existsSync(path.join(wt, "feature.txt")))
    assert.isTrue(fs.existsSync(path.join(w.repo.root, "node_modules/dep/index.js")))
  })

  it("a worktree with nothing in it is removed when the session ends; WorktreeRemove releases by the same rule and keeps one with work", async () => {
    const w = await world()
    installHooks(w)
    w.api.script("clean", [Reply.bash("pwd"), Reply.text("nothing to do")])
    const r = await claudeWorktree(w, "look-only", `look ${marker("clean")}`)
    assert.strictEqual(r.code, 0, r.stderr)
    const wt = w.api.toolResults("clean")[0]!.text.split("\n")[0]!
    const rows = await waitForRows(w, settled)
    assert.deepStrictEqual(rows.map((r) => r.kept_reason), [null])
    assert.isFalse(fs.existsSync(wt), "a clean worktree goes")

    // WorktreeRemove as Claude Code sends it (interactive sessions and subagents), on a worktree with work.
    const create = Cli.runSync(["worktree-hook"], {
      cwd: w.repo.root,
      env: { ...w.env, CLAUDE_PID: String(process.pid) },
      input: JSON.stringify({ session_id: "s", cwd: w.repo.root, hook_event_name: "WorktreeCreate", name: "kept-one" })
    })
    assert.strictEqual(create.code, 0, create.stderr)
    const made = create.stdout.trim()
    assert.isTrue(path.isAbsolute(made) && fs.existsSync(made), create.stdout)
    fs.writeFileSync(path.join(made, "work.txt"), "keep me\n")
    const removeReq = JSON.stringify({ session_id: "s", cwd: made, hook_event_name: "WorktreeRemove", worktree_path: made })
    const rm = Cli.runSync(["worktree-hook"], { cwd: w.repo.root, env: w.env, input: removeReq })
    assert.strictEqual(rm.code, 1)
    assert.include(rm.stderr, "kept the worktree")
    assert.include(rm.stderr, "1 untracked file")
    assert.isTrue(fs.existsSync(path.join(made, "work.txt")))
  })

  it("bad requests: a bare repository, a rebase in progress, an invalid name, outside any repository — a clear error, exit 1, nothing created", async () => {
    const w = await world()
    const run = (cwd: string, name: string) =>
      Cli.runSync(["worktree-hook"], {
        cwd,
        env: { ...w.env, CLAUDE_PID: String(process.pid) },
        input: JSON.stringify({ session_id: "s", cwd, hook_event_name: "WorktreeCreate", name })
      })
    const bare = path.join(w.repo.base, "bare.git")
    w.repo.git(["clone", "-q", "--bare", w.repo.root, bare])
    const outside = path.join(w.repo.base, "plain")
    fs.mkdirSync(outside)
    const cases: Array<[string, string, RegExp]> = [
      [bare, "x", /is a bare repository/],
      [outside, "x", /not inside a git repository/],
      [w.repo.root, "bad..name", /not a valid/],
      [w.repo.root, "-x", /starts with '-'/]
    ]
    for (const [cwd, name, expected] of cases) {
      const r = run(cwd, name)
      assert.strictEqual(r.code, 1, `${cwd} ${name}: ${r.stderr}`)
      assert.strictEqual(r.stdout, "", "nothing on stdout")
      assert.match(r.stderr, expected)
    }
    // A rebase stopped at a conflict.
    w.repo.write("f.txt", "base\n")
    w.repo.commitAll("base")
    w.repo.git(["checkout", "-q", "-b", "other"])
    w.repo.write("f.txt", "other\n")
    w.repo.commitAll("other")
    w.repo.git(["checkout", "-q", "main"])
    w.repo.write("f.txt", "main\n")
    w.repo.commitAll("main")
    w.repo.git(["checkout", "-q", "other"])
    assert.notStrictEqual(pcc(w, ["status"]).code, null)
    try {
      w.repo.git(["rebase", "main"])
    } catch {
      // The conflict is the point.
    }
    const r = run(w.repo.root, "x")
    assert.strictEqual(r.code, 1, r.stderr)
    assert.match(r.stderr, /in the middle of a rebase/)
    assert.deepStrictEqual(status(w).sessions, [])
    assert.isFalse(fs.existsSync(`${w.repo.root}-worktrees`))
  })

  it("a worktree-isolated subagent of a claude -w session: its own session, linked to the lead's; both released after exit", async () => {
    const w = await world()
    installHooks(w)
    let during: ReturnType<typeof status> | undefined
    let duringText = ""
    const journals: Record<string, string> = {}
    w.api.script("sub", [
      Reply.dynamic(() => {
        during = status(w)
        duringText = pcc(w, ["status"]).stdout
        return Reply.bash("pwd")
      }),
      Reply.dynamic((req) => Reply.write(path.join(AnthropicApiDouble.workingDirectoryOf(req), "sub.txt"), "the subagent's\n")),
      Reply.dynamic(() => {
        for (const s of during?.sessions ?? []) {
          const f = path.join(w.dataDir, "live", s.sessionId, "edits")
          journals[s.sessionId] = fs.existsSync(f) ? fs.readFileSync(f, "utf8") : ""
        }
        return Reply.text("sub done")
      })
    ])
    w.api.script("lead", [
      Reply.tool("Task", { description: "isolated work", prompt: `do it ${marker("sub")}`, subagent_type: "general-purpose", isolation: "worktree" }),
      Reply.text("lead done")
    ])
    const r = await claudeWorktree(w, "lead", `delegate ${marker("lead")}`)
    keepTranscript("provider-subagent", r.stdout)
    assert.deepStrictEqual(w.api.failures, [])
    assert.strictEqual(r.code, 0, r.stderr)
    assert.ok(during, "the subagent ran")
    // Two sessions of the one Claude Code process: the lead's (claude -w) and the subagent's.
    assert.lengthOf(during!.sessions, 2, JSON.stringify({ during, lead: ClaudeCode.initOf(r.events)?.cwd, sub: w.api.toolResults("sub") }))
    const leadDir = ClaudeCode.initOf(r.events)!.cwd as string
    const lead = during!.sessions.find((s) => s.worktreePath === leadDir)!
    const sub = during!.sessions.find((s) => s.worktreePath !== leadDir)!
    assert.ok(lead && sub, JSON.stringify({ leadDir, during }))
    assert.strictEqual(lead.pid, sub.pid)
    assert.deepStrictEqual([lead.name, lead.branch, lead.parentId], ["lead", "parallel/lead", null])
    // The subagent's session is the lead's child, started from the lead's branch, and `status` nests it.
    assert.strictEqual(sub.parentId, lead.sessionId)
    assert.strictEqual(sub.baseBranch, "parallel/lead")
    assert.match(duringText, new RegExp(`\\n\\s*└ ${sub.sessionId}`))
    // The subagent's worktree says which session it belongs to and whose child it is (hooks read this).
    const gitDir = fs.readFileSync(path.join(sub.worktreePath, ".git"), "utf8").replace(/^gitdir:\s*/, "").trim()
    const markerText = fs.readFileSync(path.join(gitDir, "parallel-cc-session"), "utf8")
    assert.include(markerText, `PARALLEL_CC_SESSION_ID=${sub.sessionId}\n`)
    assert.include(markerText, `PARALLEL_CC_PARENT_SESSION_ID=${lead.sessionId}\n`)
    // The subagent's Write is its own session's edit (its hooks run in its worktree), not the lead's.
    assert.deepStrictEqual(journals, { [lead.sessionId]: "", [sub.sessionId]: "sub.txt\n" })
    const rows = await waitForRows(w, settled)
    assert.lengthOf(rows, 2)
  })

  it("a worktree-isolated subagent of a claude-parallel session: its edits are its own session's (journaled, claimed INTENT for it) and the lead's EXCLUSIVE claim refuses its write", async () => {
    const w = await world({ files: { "README.md": "# r\n", "src/cart.ts": "export const total = 0\n" } })
    installAll(w)
    const seen: { lead?: Record<string, any> | undefined; sub?: Record<string, any> | undefined; claims?: Array<Record<string, any>>; edits?: Record<string, string> } = {}
    let subDir = ""
    const journal = (id: string) => {
      const f = path.join(w.dataDir, "live", id, "edits")
      return fs.existsSync(f) ? fs.readFileSync(f, "utf8") : ""
    }
    w.api.script("sub", [
      Reply.dynamic((req) => {
        // Claude Code runs the subagent in the worktree our hook made for it (its hooks too, see docs/worktrees.md).
        subDir = AnthropicApiDouble.workingDirectoryOf(req)
        const st = status(w)
        seen.lead = st.sessions.find((s) => s.isMainRepo)
        seen.sub = st.sessions.find((s) => s.worktreePath === subDir)
        if (seen.lead) pcc(w, ["claim", "src/cart.ts", "--session", seen.lead.sessionId, "--reason", "the lead rewrites the cart"])
        return Reply.write(path.join(subDir, "notes.txt"), "from the subagent\n")
      }),
      Reply.dynamic(() => Reply.write(path.join(subDir, "src", "cart.ts"), "export const total = 1\n")),
      Reply.dynamic(async () => {
        // The subagent session's watcher claims what its journal names, INTENT, for that session.
        const until = Date.now() + 60_000
        const query = "SELECT session_id, file_path, mode FROM file_claims WHERE file_path = 'notes.txt'"
        while (dbRows(w, query).length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 200))
        seen.claims = dbRows(w, query)
        seen.edits = { lead: journal(seen.lead?.sessionId ?? "none"), sub: journal(seen.sub?.sessionId ?? "none") }
        return Reply.text("sub done")
      })
    ])
    w.api.script("lead", [
      Reply.tool("Task", { description: "isolated work", prompt: `do it ${marker("sub")}`, subagent_type: "general-purpose", isolation: "worktree" }),
      Reply.text("lead done")
    ])
    const r = await claudeParallel(w, ClaudeCode.headlessArgs(`delegate ${marker("lead")}`))
    keepTranscript("provider-subagent-of-wrapper", r.stdout)
    assert.deepStrictEqual(w.api.failures, [])
    assert.strictEqual(r.code, 0, r.stderr)
    const { lead, sub } = seen
    assert.ok(lead && sub, JSON.stringify({ subDir, seen }))
    // The subagent's worktree is a session of its own, the claude-parallel session's child.
    assert.strictEqual(sub!.parentId, lead!.sessionId)
    const results = w.api.toolResults("sub")
    // Its write went to its own session: journaled there (not the lead's), and claimed INTENT for it.
    assert.isNotTrue(results[0]!.is_error, results[0]!.text)
    assert.deepStrictEqual(seen.edits, { lead: "", sub: "notes.txt\n" })
    assert.deepStrictEqual(seen.claims, [{ session_id: sub!.sessionId, file_path: "notes.txt", mode: "INTENT" }])
    // Claims apply between siblings: the lead's EXCLUSIVE claim refused the subagent's write of the file.
    assert.isTrue(results[1]!.is_error, results[1]!.text)
    assert.include(results[1]!.text, "the lead rewrites the cart")
    assert.strictEqual(fs.readFileSync(path.join(subDir, "src", "cart.ts"), "utf8"), "export const total = 0\n")
    await waitForRows(w, settled)
  })

  it("after install --all, claude -w through the claude-parallel alias is one session: the provider's worktree, not the repository", async () => {
    const w = await world()
    installAll(w)
    let during: ReturnType<typeof status> | undefined
    w.api.script("alias", [
      Reply.dynamic(() => {
        during = status(w)
        return Reply.bash("pwd")
      }),
      Reply.text("done")
    ])
    const r = await claudeParallel(w, ["-w", "via-alias", ...ClaudeCode.headlessArgs(`go ${marker("alias")}`)])
    assert.deepStrictEqual(w.api.failures, [])
    assert.strictEqual(r.code, 0, r.stderr)
    assert.lengthOf(during!.sessions, 1, JSON.stringify(during))
    const s = during!.sessions[0]!
    assert.isFalse(s.isMainRepo)
    assert.strictEqual(w.api.toolResults("alias")[0]!.text.trim(), s.worktreePath)
    await waitForRows(w, settled)
  })

  it.skipIf(!hasGitLfs)("an LFS file and a sparse checkout (skipped when git-lfs is not installed): the claude -w worktree has the LFS content and the main checkout's sparse patterns", async () => {
    const w = await world({ files: { "README.md": "# r\n", "docs/guide.md": "guide\n", "app/main.ts": "main\n" } })
    w.repo.git(["lfs", "install", "--local"])
    w.repo.git(["lfs", "track", "*.bin"])
    w.repo.write("app/model.bin", "weights ".repeat(64))
    w.repo.commitAll("lfs")
    w.repo.git(["sparse-checkout", "set", "app"])
    installHooks(w)
    w.api.script("lfs", [Reply.bash("head -c 16 app/model.bin; echo; test -e docs && echo docs-present || echo docs-absent"), Reply.text("ok")])
    const r = await claudeWorktree(w, "lfs-sparse", `check ${marker("lfs")}`)
    assert.strictEqual(r.code, 0, r.stderr)
    assert.deepStrictEqual(w.api.toolResults("lfs")[0]!.text.trim().split("\n"), ["weights weights ", "docs-absent"])
    await waitForRows(w, settled)
  })
})
