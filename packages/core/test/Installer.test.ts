import { AppConfig, Git, Host, Installer, Live, SessionHooks } from "@parallel-cc/core"
import { ScriptedAgent, TempDir, TempRepo } from "@parallel-cc/testkit"
import { Cause, Effect, Exit, Layer } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, assert, describe, it } from "vitest"

const dirs: Array<string> = []
afterEach(() => {
  for (const d of dirs.splice(0)) TempDir.removeSync(d)
})
const tmp = () => {
  const d = TempDir.makeSync("pcc-install-")
  dirs.push(d)
  return d
}

/** A fake installation of parallel-cc: the files the installer registers, at absolute paths. */
const fakePackage = (root: string): Installer.ArtifactPaths => {
  fs.mkdirSync(path.join(root, "hooks"), { recursive: true })
  fs.mkdirSync(path.join(root, "dist"), { recursive: true })
  for (const script of ["heartbeat.sh", "session-hook.sh", "state.sh", "guard.sh", "worktree.sh"]) {
    fs.writeFileSync(path.join(root, "hooks", script), "#!/bin/sh\nexit 0\n", { mode: 0o755 })
  }
  fs.writeFileSync(path.join(root, "dist", "bin.cjs"), "", { mode: 0o755 })
  fs.writeFileSync(path.join(root, "dist", "wrapper.cjs"), "#!/bin/sh\nexit 0\n", { mode: 0o755 })
  return {
    hookScript: path.join(root, "hooks", "heartbeat.sh"),
    mcpServer: { command: process.execPath, args: [path.join(root, "dist", "bin.cjs"), "mcp", "serve"] },
    wrapper: path.join(root, "dist", "wrapper.cjs")
  }
}

/** A bin directory with `claude` = the scripted agent (the stand-in for the claude CLI). */
const claudeBin = () => {
  const bin = tmp()
  fs.symlinkSync(ScriptedAgent.path, path.join(bin, "claude"))
  return bin
}

interface Ctx {
  readonly home: string
  readonly artifacts: Installer.ArtifactPaths
  readonly env?: Record<string, string>
  readonly cwd?: string
  /** Another hook plan than this release's (a later release's, say). */
  readonly hooks?: ReadonlyArray<Installer.HookSpec>
}

const run = <A, E>(ctx: Ctx, eff: Effect.Effect<A, E, Installer.Installer>) => {
  const env: Record<string, string> = {
    HOME: ctx.home,
    PATH: `${path.dirname(process.execPath)}:/usr/bin:/bin`,
    SHELL: "/bin/bash",
    ...ctx.env
  }
  const setup = ctx.hooks === undefined
    ? Live.setupLayer
    : Layer.effect(Installer.Installer, Installer.makeWith({ hooks: ctx.hooks })).pipe(
      Layer.provideMerge(Git.layer),
      Layer.provideMerge(Live.configLayer)
    )
  const layer = setup.pipe(
    Layer.provide(Host.layer({ homeDir: ctx.home, cwd: ctx.cwd ?? ctx.home, env, nodeVersion: process.versions.node })),
    Layer.provide(Layer.succeed(Installer.Artifacts, ctx.artifacts)),
    Layer.provide(Layer.setConfigProvider(AppConfig.envProvider(env, { homeDir: ctx.home })))
  )
  return Effect.runPromiseExit(eff.pipe(Effect.provide(layer)))
}
const ok = async <A, E>(ctx: Ctx, eff: Effect.Effect<A, E, Installer.Installer>) => {
  const exit = await run(ctx, eff)
  if (Exit.isFailure(exit)) throw new Error(Cause.pretty(exit.cause))
  return exit.value
}
const failure = async <A, E>(ctx: Ctx, eff: Effect.Effect<A, E, Installer.Installer>) => {
  const exit = await run(ctx, eff)
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  return Cause.squash(exit.cause) as any
}

const install = (sel: Installer.Selection, dryRun = false) => Effect.flatMap(Installer.Installer, (i) => i.install(sel, { dryRun }))
const uninstall = (sel: Installer.Selection | "all", dryRun = false) =>
  Effect.flatMap(Installer.Installer, (i) => i.uninstall(sel, { dryRun }))
const status = Effect.flatMap(Installer.Installer, (i) => i.status)
const all: Installer.Selection = { hooks: { scope: "global" }, alias: true, mcp: true }

/** Every file (with content) and directory under `dir`. */
const snapshot = (dir: string): Record<string, string> => {
  const out: Record<string, string> = {}
  const walk = (d: string) => {
    for (const name of fs.readdirSync(d).sort()) {
      const p = path.join(d, name)
      const rel = path.relative(dir, p)
      const st = fs.lstatSync(p)
      if (st.isSymbolicLink()) out[rel] = `-> ${fs.readlinkSync(p)}`
      else if (st.isDirectory()) {
        out[rel + "/"] = `dir ${(st.mode & 0o777).toString(8)}`
        walk(p)
      } else out[rel] = `${(st.mode & 0o777).toString(8)} ${fs.readFileSync(p, "utf8")}`
    }
  }
  walk(dir)
  return out
}

const readJson = (file: string) => JSON.parse(fs.readFileSync(file, "utf8"))

const userSettings = {
  model: "opus",
  permissions: { allow: ["Bash(npm test:*)", "Read(~/notes/**)"], deny: ["Bash(rm -rf:*)"] },
  env: { FOO: "1", BAR: "two" },
  statusLine: { type: "command", command: "~/.claude/statusline.sh" },
  hooks: {
    PreToolUse: [{ matcher: "Bash", hooks: [{ type: "command", command: "/usr/local/bin/guard.sh", timeout: 5 }] }],
    PostToolUse: [
      { matcher: "Edit|Write", hooks: [{ type: "command", command: "npx prettier --write \"$FILE\"" }] },
      { hooks: [{ type: "http", url: "http://localhost:9999/hook" }] }
    ],
    Stop: [{ hooks: [{ type: "command", command: "say done" }] }]
  },
  enabledPlugins: { "x@y": true }
}

const seedHome = (home: string) => {
  fs.mkdirSync(path.join(home, ".claude"), { recursive: true })
  fs.writeFileSync(path.join(home, ".claude", "settings.json"), JSON.stringify(userSettings, null, 4) + "\n")
  fs.writeFileSync(path.join(home, ".bashrc"), "export PATH=\"$HOME/bin:$PATH\"\nalias ll='ls -l'\n")
  fs.writeFileSync(path.join(home, ".zshrc"), "setopt autocd\n# no final newline", { mode: 0o600 })
  fs.writeFileSync(
    path.join(home, ".claude.json"),
    JSON.stringify({
      numStartups: 12,
      mcpServers: { github: { type: "http", url: "https://example.com/mcp", headers: { Authorization: "Bearer x" } } },
      projects: { "/somewhere": { mcpServers: { local: { type: "stdio", command: "x", args: [] } } } }
    }),
    { mode: 0o600 }
  )
}

describe("Installer", () => {
  it("install, install again, uninstall: everything of the user's stays, the home is byte-for-byte as before", async () => {
    const home = tmp()
    const ctx = { home, artifacts: fakePackage(tmp()) }
    seedHome(home)
    const before = snapshot(home)

    const first = await ok(ctx, install(all))
    const byPiece = Object.fromEntries(first.changes.map((c) => [`${c.piece}:${c.shell ?? c.scope ?? ""}`, c.action]))
    assert.deepStrictEqual(byPiece, { "hooks:global": "created", "alias:bash": "created", "alias:zsh": "created", "mcp:": "created" })
    assert.isDefined(first.backupDir)
    for (const c of first.changes) {
      assert.isDefined(c.backup, `${c.target} was backed up`)
      const original = before[path.relative(home, c.target)]!
      assert.strictEqual(fs.readFileSync(c.backup!, "utf8"), original.slice(original.indexOf(" ") + 1))
    }

    const settings = readJson(path.join(home, ".claude", "settings.json"))
    const { hooks, ...rest } = settings
    const { hooks: userHooks, ...userRest } = userSettings
    assert.deepStrictEqual(rest, userRest)
    // Each event: the user's groups first, untouched, then one group per entry of the session hook.
    const script = path.join(path.dirname(ctx.artifacts.hookScript), "session-hook.sh")
    for (const event of new Set(SessionHooks.SESSION_HOOKS.map((e) => e.event))) {
      const mine = (userHooks as Record<string, Array<unknown>>)[event] ?? []
      assert.deepStrictEqual(hooks[event].slice(0, mine.length), mine, event)
      assert.deepStrictEqual(
        hooks[event].slice(mine.length),
        SessionHooks.SESSION_HOOKS.filter((e) => e.event === event).map((e) => ({
          ...(e.matcher !== undefined ? { matcher: e.matcher } : {}),
          hooks: [{ type: "command", command: SessionHooks.sessionHookCommand(script, e.arg), timeout: 10 }]
        })),
        event
      )
    }
    assert.strictEqual(hooks.PostToolUse[2].hooks[0].command, `[ ! -r ${script} ] || { set -- post; . ${script}; }`)
    assert.match(fs.readFileSync(path.join(home, ".claude", "settings.json"), "utf8"), /^\{\n {4}"model"/)
    const bashrc = fs.readFileSync(path.join(home, ".bashrc"), "utf8")
    assert.include(bashrc, `alias claude=${ctx.artifacts.wrapper}\n`)
    assert.isTrue(bashrc.startsWith("export PATH=\"$HOME/bin:$PATH\"\nalias ll='ls -l'\n\n# >>> parallel-cc alias >>>\n"))
    assert.strictEqual(fs.statSync(path.join(home, ".zshrc")).mode & 0o777, 0o600)
    const claudeJson = readJson(path.join(home, ".claude.json"))
    assert.deepStrictEqual(claudeJson.mcpServers["parallel-cc"], {
      type: "stdio",
      command: process.execPath,
      args: [...ctx.artifacts.mcpServer.args],
      env: {}
    })
    assert.strictEqual(claudeJson.numStartups, 12)
    assert.property(claudeJson.mcpServers, "github")
    assert.strictEqual(fs.statSync(path.join(home, ".claude.json")).mode & 0o777, 0o600)

    const afterFirst = snapshot(home)
    const second = await ok(ctx, install(all))
    assert.isTrue(second.changes.every((c) => c.action === "unchanged"), JSON.stringify(second.changes))
    assert.isUndefined(second.backupDir)
    assert.deepStrictEqual(snapshot(home), afterFirst)

    const st = await ok(ctx, status)
    assert.deepStrictEqual(
      st.map((s) => `${s.piece}:${s.shell ?? s.scope ?? ""}=${s.state}`).sort(),
      ["alias:bash=installed", "alias:zsh=installed", "hooks:global=installed", "mcp:=installed", "worktree-provider:global=installed"]
    )

    const removed = await ok(ctx, uninstall("all"))
    assert.deepStrictEqual(removed.changes.filter((c) => c.action === "removed").length, 4)
    assert.include(removed.cleaned, path.join(home, ".parallel-cc"))
    assert.deepStrictEqual(snapshot(home), before)
    assert.deepStrictEqual(readJson(path.join(home, ".claude", "settings.json")), userSettings)
  })

  it("a fresh home: install --all creates what it needs, a full uninstall removes every trace", async () => {
    const home = tmp()
    const ctx = { home, artifacts: fakePackage(tmp()) }
    await ok(ctx, install(all))
    assert.isTrue(fs.existsSync(path.join(home, ".claude", "settings.json")))
    assert.isTrue(fs.existsSync(path.join(home, ".bashrc")))
    assert.isTrue(fs.existsSync(path.join(home, ".parallel-cc", "install.json")))
    const cleaned = await ok(ctx, uninstall("all"))
    assert.deepStrictEqual(snapshot(home), {}, JSON.stringify(cleaned))
  })

  it("a settings.json that is not valid JSON: a clear error, and nothing anywhere is written", async () => {
    const home = tmp()
    const ctx = { home, artifacts: fakePackage(tmp()) }
    fs.mkdirSync(path.join(home, ".claude"))
    fs.writeFileSync(path.join(home, ".claude", "settings.json"), "{\n  \"model\": \"opus\", // my model\n}\n")
    fs.writeFileSync(path.join(home, ".bashrc"), "# mine\n")
    const before = snapshot(home)
    const e = await failure(ctx, install(all))
    assert.strictEqual(e._tag, "InstallError")
    assert.strictEqual(e.reason, "FileInvalid")
    assert.include(e.message, path.join(home, ".claude", "settings.json"))
    assert.include(e.message, "left untouched")
    assert.deepStrictEqual(snapshot(home), before)
    // The same for a settings file whose hooks are not what Claude Code expects.
    fs.writeFileSync(path.join(home, ".claude", "settings.json"), JSON.stringify({ hooks: { PostToolUse: { matcher: "" } } }))
    const shape = await failure(ctx, install({ hooks: {} }))
    assert.strictEqual(shape.reason, "FileInvalid")
    assert.include(shape.message, "hooks.PostToolUse")
  })

  it("refuses to register paths that do not exist", async () => {
    const home = tmp()
    const artifacts = fakePackage(tmp())
    const script = path.join(path.dirname(artifacts.hookScript), "session-hook.sh")
    fs.rmSync(script)
    const e = await failure({ home, artifacts }, install(all))
    assert.strictEqual(e.reason, "TargetMissing")
    assert.include(e.message, script)
    assert.deepStrictEqual(snapshot(home), {})
    const noServer = fakePackage(tmp())
    fs.rmSync(noServer.mcpServer.args[0]!)
    const e2 = await failure({ home, artifacts: noServer }, install({ mcp: true }))
    assert.strictEqual(e2.reason, "TargetMissing")
    assert.deepStrictEqual(snapshot(home), {})
  })

  it("--dry-run reports the plan and writes nothing", async () => {
    const home = tmp()
    const ctx = { home, artifacts: fakePackage(tmp()) }
    seedHome(home)
    const before = snapshot(home)
    const plan = await ok(ctx, install(all, true))
    assert.isTrue(plan.dryRun)
    assert.isTrue(plan.changes.every((c) => c.action === "created"))
    assert.deepStrictEqual(snapshot(home), before)
    await ok(ctx, install(all))
    const after = snapshot(home)
    const unplan = await ok(ctx, uninstall("all", true))
    assert.isTrue(unplan.changes.every((c) => c.action === "removed" || c.action === "absent"))
    assert.include(unplan.cleaned, path.join(home, ".parallel-cc", "install.json"))
    assert.deepStrictEqual(snapshot(home), after)
  })

  it("a moved installation shows as outdated and is updated in place; uninstall removes old and new", async () => {
    const home = tmp()
    const a = { home, artifacts: fakePackage(tmp()) }
    const b = { home, artifacts: fakePackage(tmp()) }
    seedHome(home)
    const before = snapshot(home)
    await ok(a, install(all))
    const st = await ok(b, status)
    assert.deepStrictEqual([...new Set(st.map((s) => s.state))], ["outdated"], JSON.stringify(st))
    const upd = await ok(b, install(all))
    assert.isTrue(upd.changes.every((c) => c.action === "updated"), JSON.stringify(upd.changes))
    const post = readJson(path.join(home, ".claude", "settings.json")).hooks.PostToolUse
    assert.lengthOf(post, 3)
    assert.strictEqual(post[2].hooks[0].command, SessionHooks.sessionHookCommand(path.join(path.dirname(b.artifacts.hookScript), "session-hook.sh"), "post"))
    assert.isTrue((await ok(b, status)).every((s) => s.state === "installed"))
    await ok(b, uninstall("all"))
    assert.deepStrictEqual(snapshot(home), before)
  })

  it("an MCP entry of another program under the same name is replaced, and restored by uninstall", async () => {
    const home = tmp()
    const ctx = { home, artifacts: fakePackage(tmp()) }
    const foreign = { type: "stdio", command: "parallel-cc-mcp", args: [], env: {} }
    fs.writeFileSync(path.join(home, ".claude.json"), JSON.stringify({ mcpServers: { "parallel-cc": foreign } }, null, 2) + "\n")
    const before = snapshot(home)
    assert.strictEqual((await ok(ctx, status)).find((s) => s.piece === "mcp")?.state, "conflict")
    const r = await ok(ctx, install({ mcp: true }))
    assert.strictEqual(r.changes[0]?.action, "updated")
    assert.include(r.changes[0]?.detail, "replaced")
    const back = await ok(ctx, uninstall({ mcp: true }))
    assert.strictEqual(back.changes[0]?.action, "restored")
    assert.deepStrictEqual(readJson(path.join(home, ".claude.json")).mcpServers["parallel-cc"], foreign)
    await ok(ctx, uninstall("all"))
    assert.deepStrictEqual(snapshot(home), before)
  })

  it("uses `claude mcp add/remove` when the claude CLI is on PATH, and checks what it wrote", async () => {
    const home = tmp()
    const bin = claudeBin()
    const ctx = { home, artifacts: fakePackage(tmp()), env: { PATH: `${bin}:${path.dirname(process.execPath)}:/usr/bin:/bin` } }
    const r = await ok(ctx, install({ mcp: true }))
    assert.strictEqual(r.changes[0]?.via, "claude-cli")
    assert.deepStrictEqual(readJson(path.join(home, ".claude.json")).mcpServers["parallel-cc"].args, ctx.artifacts.mcpServer.args)
    assert.strictEqual((await ok(ctx, install({ mcp: true }))).changes[0]?.action, "unchanged")
    const u = await ok(ctx, uninstall({ mcp: true }))
    assert.strictEqual(u.changes[0]?.action, "removed")
    // The CLI left an empty mcpServers in a file install created: both are gone.
    assert.isFalse(fs.existsSync(path.join(home, ".claude.json")))
  })

  it("writes through a symlinked settings.json (dotfile managers) and keeps the link", async () => {
    const home = tmp()
    const dotfiles = tmp()
    const ctx = { home, artifacts: fakePackage(tmp()) }
    fs.writeFileSync(path.join(dotfiles, "settings.json"), JSON.stringify({ model: "x" }))
    fs.mkdirSync(path.join(home, ".claude"))
    fs.symlinkSync(path.join(dotfiles, "settings.json"), path.join(home, ".claude", "settings.json"))
    await ok(ctx, install({ hooks: {} }))
    assert.isTrue(fs.lstatSync(path.join(home, ".claude", "settings.json")).isSymbolicLink())
    assert.lengthOf(readJson(path.join(dotfiles, "settings.json")).hooks.PostToolUse, 1)
    await ok(ctx, uninstall({ hooks: {} }))
    assert.deepStrictEqual(readJson(path.join(dotfiles, "settings.json")), { model: "x" })
  })

  it("--local installs into <repo>/.claude/settings.json and uninstall removes the file and folder it created", async () => {
    const home = tmp()
    const repo = TempRepo.makeSync(tmp())
    const ctx = { home, artifacts: fakePackage(tmp()), cwd: path.join(repo.root) }
    const r = await ok(ctx, install({ hooks: { scope: "local" } }))
    assert.strictEqual(r.changes[0]?.target, path.join(repo.root, ".claude", "settings.json"))
    assert.strictEqual((await ok(ctx, status)).find((s) => s.scope === "local")?.state, "installed")
    await ok(ctx, uninstall({ hooks: { scope: "local" } }))
    assert.isFalse(fs.existsSync(path.join(repo.root, ".claude")))
    const notRepo = await failure({ ...ctx, cwd: home }, install({ hooks: { scope: "local" } }))
    assert.strictEqual(notRepo.reason, "NotARepo")
  })

  it("fish gets a function in config.fish; status names the original tool's leftover hook", async () => {
    const home = tmp()
    const ctx = { home, artifacts: fakePackage(tmp()), env: { SHELL: "/usr/bin/fish" } }
    fs.mkdirSync(path.join(home, ".claude"))
    fs.writeFileSync(
      path.join(home, ".claude", "settings.json"),
      JSON.stringify({ hooks: { PostToolUse: [{ matcher: "*", hooks: [{ type: "command", command: "~/.local/bin/parallel-cc-heartbeat.sh" }] }] } })
    )
    const st = await ok(ctx, status)
    assert.include(st.find((s) => s.piece === "hooks")?.detail, "original parallel-cc")
    await ok(ctx, install({ alias: true }))
    const fish = fs.readFileSync(path.join(home, ".config", "fish", "config.fish"), "utf8")
    assert.include(fish, `function claude --description 'claude through parallel-cc'\n    ${ctx.artifacts.wrapper} $argv\nend\n`)
    await ok(ctx, uninstall({ alias: true }))
    assert.isFalse(fs.existsSync(path.join(home, ".config")))
  })
})

describe("Installer: the hooks are a list", () => {
  // A later release that installs more hooks: the state script on three events, a guard before writes.
  const later: ReadonlyArray<Installer.HookSpec> = [
    ...Installer.hookPlan,
    { name: "state", event: "UserPromptSubmit", script: "state.sh", args: ["working"], timeout: 5 },
    { name: "state", event: "Stop", script: "state.sh", args: ["idle"], timeout: 5 },
    { name: "guard", event: "PreToolUse", matcher: "Edit|Write", script: "guard.sh", timeout: 5 }
  ]

  it("a release with more hooks: the earlier install shows outdated, install adds only what is new, uninstall removes all", async () => {
    const home = tmp()
    const artifacts = fakePackage(tmp())
    const before = { home, artifacts }
    const after = { home, artifacts, hooks: later }
    seedHome(home)
    const original = snapshot(home)
    await ok(before, install({ hooks: {} }))
    const st = (await ok(after, status)).find((s) => s.piece === "hooks")!
    assert.strictEqual(st.state, "outdated")
    assert.include(st.detail, "UserPromptSubmit state")
    const upd = await ok(after, install({ hooks: {} }))
    assert.strictEqual(upd.changes[0]?.action, "updated", JSON.stringify(upd.changes))
    assert.include(upd.changes[0]!.detail, "Stop state hook added")
    const hooks = readJson(path.join(home, ".claude", "settings.json")).hooks
    assert.deepStrictEqual(hooks.Stop.slice(2), [
      { hooks: [{ type: "command", command: `${path.join(artifacts.hookScript, "..", "state.sh")} idle`, timeout: 5 }] }
    ])
    assert.deepStrictEqual(hooks.PreToolUse.at(-1).matcher, "Edit|Write")
    assert.lengthOf(hooks.PostToolUse, 3, "the heartbeat is not added twice")
    assert.strictEqual((await ok(after, status)).find((s) => s.piece === "hooks")?.state, "installed")
    const again = await ok(after, install({ hooks: {} }))
    assert.strictEqual(again.changes[0]?.action, "unchanged")
    // Back to the earlier release: the hooks it does not know are its own record's, so they are retired.
    const back = await ok(before, install({ hooks: {} }))
    assert.include(back.changes[0]!.detail, "hook of an earlier release removed")
    await ok(after, install({ hooks: {} }))
    await ok(after, uninstall("all"))
    assert.deepStrictEqual(snapshot(home), original)
  })

  it("a fresh settings file gets every event key, and uninstall removes them and the file", async () => {
    const home = tmp()
    const ctx = { home, artifacts: fakePackage(tmp()), hooks: later }
    const r = await ok(ctx, install({ hooks: {} }))
    assert.strictEqual(r.changes[0]?.action, "created")
    assert.deepStrictEqual(Object.keys(readJson(path.join(home, ".claude", "settings.json")).hooks).sort(), [
      "Notification",
      "PostToolUse",
      "PreToolUse",
      "SessionEnd",
      "SessionStart",
      "Stop",
      "UserPromptSubmit",
      "WorktreeCreate",
      "WorktreeRemove"
    ])
    fs.rmSync(path.join(ctx.artifacts.hookScript, "..", "guard.sh"))
    const st = (await ok(ctx, status)).find((s) => s.piece === "hooks")!
    assert.strictEqual(st.state, "broken")
    assert.include(st.detail, "guard.sh")
    const refused = await failure(ctx, install({ hooks: {}, alias: true }))
    assert.strictEqual(refused.reason, "TargetMissing")
    await ok(ctx, uninstall("all"))
    assert.deepStrictEqual(snapshot(home), {})
  })
})

describe("Installer: the previous release's heartbeat hook", () => {
  const previous: ReadonlyArray<Installer.HookSpec> = [
    { name: "heartbeat", event: "PostToolUse", matcher: "", script: "heartbeat.sh", timeout: 10 }
  ]

  it("shows outdated; updating replaces it by the session hook (which beats too); uninstall leaves the user's settings", async () => {
    const home = tmp()
    const artifacts = fakePackage(tmp())
    seedHome(home)
    const original = snapshot(home)
    await ok({ home, artifacts, hooks: previous }, install({ hooks: {} }))
    const st = (await ok({ home, artifacts }, status)).find((s) => s.piece === "hooks")!
    assert.strictEqual(st.state, "outdated")
    const upd = await ok({ home, artifacts }, install({ hooks: {} }))
    assert.strictEqual(upd.changes[0]?.action, "updated")
    assert.include(upd.changes[0]!.detail, `hook of an earlier release removed: ${artifacts.hookScript}`)
    const text = fs.readFileSync(path.join(home, ".claude", "settings.json"), "utf8")
    assert.notInclude(text, "heartbeat.sh")
    assert.include(text, "session-hook.sh")
    assert.strictEqual((await ok({ home, artifacts }, status)).find((s) => s.piece === "hooks")?.state, "installed")
    await ok({ home, artifacts }, uninstall("all"))
    assert.deepStrictEqual(snapshot(home), original)
  })
})

describe("Installer text blocks", () => {
  it("quotes paths with spaces and quotes for sh and fish", () => {
    const block = Installer.aliasBlock("bash", "/opt/my tools/it's/claude-parallel")
    assert.include(block, `alias claude=''\\''/opt/my tools/it'\\''\\'\\'''\\''s/claude-parallel'\\'''\n`)
    assert.include(Installer.aliasBlock("fish", "/a b/c'd"), `'/a b/c\\'d' $argv`)
    assert.strictEqual(Installer.hookCommand("/x y/heartbeat.sh"), "'/x y/heartbeat.sh'")
  })

  it("removing a block restores the text exactly, whatever the file ended with", () => {
    for (const text of ["", "a\n", "a", "a\n\n", "x\ny\n"]) {
      const sep = text === "" ? "" : text.endsWith("\n") ? "\n" : "\n\n"
      const withBlock = text + sep + Installer.aliasBlock("zsh", "/bin/claude-parallel")
      assert.strictEqual(Installer.removeAliasBlock(withBlock, sep).pipe((o) => (o._tag === "Some" ? o.value : null)), text)
    }
  })
})

describe("Installer: the worktree provider hooks", () => {
  const events = (home: string) => Object.keys(readJson(path.join(home, ".claude", "settings.json")).hooks ?? {}).sort()

  it("installed with the hooks; --no-worktree-provider leaves them out (and removes them), the choice is kept, status says so; uninstall restores exactly", async () => {
    const home = tmp()
    const ctx = { home, artifacts: fakePackage(tmp()) }
    seedHome(home)
    const original = snapshot(home)
    await ok(ctx, install({ hooks: {} }))
    assert.includeMembers(events(home), ["WorktreeCreate", "WorktreeRemove"])
    const settings = readJson(path.join(home, ".claude", "settings.json"))
    const create = settings.hooks.WorktreeCreate[0].hooks[0]
    assert.strictEqual(create.command, Installer.hookCommand(path.join(ctx.artifacts.hookScript, "..", "worktree.sh")))
    assert.strictEqual(create.timeout, 600)
    assert.strictEqual((await ok(ctx, status)).find((s) => s.piece === "worktree-provider")!.state, "installed")

    await ok(ctx, install({ hooks: { worktreeProvider: false } }))
    assert.notInclude(events(home), "WorktreeCreate")
    assert.notInclude(events(home), "WorktreeRemove")
    const st = await ok(ctx, status)
    assert.strictEqual(st.find((s) => s.piece === "hooks")!.state, "installed")
    const provider = st.find((s) => s.piece === "worktree-provider")!
    assert.strictEqual(provider.state, "missing")
    assert.include(provider.detail, "--no-worktree-provider")
    // A later `install --hooks` keeps the opt-out; --worktree-provider undoes it.
    const again = await ok(ctx, install({ hooks: {} }))
    assert.isTrue(again.changes.every((c) => c.action === "unchanged"), JSON.stringify(again.changes))
    await ok(ctx, install({ hooks: { worktreeProvider: true } }))
    assert.includeMembers(events(home), ["WorktreeCreate", "WorktreeRemove"])

    await ok(ctx, uninstall("all"))
    assert.deepStrictEqual(snapshot(home), original)
  })
})
