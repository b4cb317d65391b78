import { SessionHooks } from "@parallel-cc/core"
import { Cli, LegacyDb, ScriptedAgent, TempDir, TempRepo } from "@parallel-cc/testkit"
import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, assert, describe, it } from "vitest"

const dirs: Array<string> = []
afterEach(() => {
  for (const d of dirs.splice(0)) {
    fs.chmodSync(d, 0o755)
    TempDir.removeSync(d)
  }
})
const tmp = (prefix = "pcc-setup-") => {
  const d = TempDir.makeSync(prefix)
  dirs.push(d)
  return d
}

const snapshot = TempDir.snapshotSync

/**
 * A user's machine: a temp HOME (the data directory defaults to ~/.parallel-cc in it), SHELL=bash, and a bin
 * directory on PATH with `claude-parallel` (as scripts/install.sh links it) and optionally `claude` (the
 * scripted stand-in for the claude CLI).
 */
const machine = (options: { readonly claude?: boolean; readonly path?: string } = {}) => {
  const home = tmp("pcc-home-")
  const bin = tmp("pcc-bin-")
  fs.writeFileSync(path.join(bin, "claude-parallel"), "#!/bin/sh\nexec claude \"$@\"\n", { mode: 0o755 })
  if (options.claude === true) fs.symlinkSync(ScriptedAgent.path, path.join(bin, "claude"))
  const env = {
    HOME: home,
    SHELL: "/bin/bash",
    PATH: options.path ?? `${bin}:${path.dirname(process.execPath)}:/usr/bin:/bin`,
    LANG: "C"
  }
  return { home, bin, env }
}

const userSettings = {
  $schema: "https://json.schemastore.org/claude-code-settings.json",
  model: "sonnet",
  permissions: { allow: ["Bash(git status)"], defaultMode: "acceptEdits" },
  hooks: {
    PostToolUse: [{ matcher: "Write", hooks: [{ type: "command", command: "~/bin/format.sh", timeout: 20 }] }],
    SessionStart: [{ matcher: "startup", hooks: [{ type: "command", command: "echo hi" }] }]
  },
  includeCoAuthoredBy: false
}

describe("install (real processes, temp HOME)", () => {
  it("install --all, again, then --uninstall: other settings and hooks kept, nothing changed twice, the home as it was", () => {
    const m = machine()
    fs.mkdirSync(path.join(m.home, ".claude"))
    fs.writeFileSync(path.join(m.home, ".claude", "settings.json"), JSON.stringify(userSettings, null, 2) + "\n")
    fs.writeFileSync(path.join(m.home, ".bashrc"), "# my bashrc\nexport EDITOR=vi\n")
    const before = snapshot(m.home)

    const first = Cli.runSync(["install", "--all", "--json"], { env: m.env, cwd: m.home })
    assert.strictEqual(first.code, 0, first.stderr)
    const report = Cli.json(first)
    assert.deepStrictEqual(report.changes.map((c: any) => `${c.piece}:${c.action}`), ["hooks:created", "alias:created", "mcp:created"])
    const settings = JSON.parse(fs.readFileSync(path.join(m.home, ".claude", "settings.json"), "utf8"))
    assert.deepStrictEqual(settings.hooks.PostToolUse, [
      ...userSettings.hooks.PostToolUse,
      { matcher: "", hooks: [{ type: "command", command: SessionHooks.sessionHookCommand(Cli.sessionHookPath, "post"), timeout: 10 }] }
    ])
    assert.deepStrictEqual(settings.hooks.SessionStart, [
      ...userSettings.hooks.SessionStart,
      { hooks: [{ type: "command", command: SessionHooks.sessionHookCommand(Cli.sessionHookPath, "start"), timeout: 10 }] }
    ])
    assert.deepStrictEqual(settings.permissions, userSettings.permissions)
    const mcp = JSON.parse(fs.readFileSync(path.join(m.home, ".claude.json"), "utf8")).mcpServers["parallel-cc"]
    assert.deepStrictEqual(mcp, { type: "stdio", command: process.execPath, args: [Cli.binPath, "mcp", "serve"], env: {} })
    assert.include(fs.readFileSync(path.join(m.home, ".bashrc"), "utf8"), `alias claude=${path.join(m.bin, "claude-parallel")}\n`)

    const installed = snapshot(m.home)
    const second = Cli.runSync(["install", "--all"], { env: m.env, cwd: m.home })
    assert.strictEqual(second.code, 0, second.stderr)
    assert.include(second.stdout, "Nothing to change.")
    // (The code cache may be rewritten by any run; it is not part of what install manages.)
    const noCache = (snap: Record<string, string>) => Object.fromEntries(Object.entries(snap).filter(([k]) => !k.startsWith(".parallel-cc/cache")))
    assert.deepStrictEqual(noCache(snapshot(m.home)), noCache(installed))

    const status = Cli.json(Cli.runSync(["install", "--status", "--json"], { env: m.env, cwd: m.home }))
    assert.deepStrictEqual(status.pieces.map((p: any) => `${p.piece}=${p.state}`), ["hooks=installed", "worktree-provider=installed", "alias=installed", "mcp=installed"])

    const un = Cli.runSync(["install", "--uninstall"], { env: m.env, cwd: m.home })
    assert.strictEqual(un.code, 0, un.stderr)
    assert.include(un.stdout, "removed")
    assert.deepStrictEqual(snapshot(m.home), before)
  })

  it("--dry-run changes nothing; conflicting flags are usage errors", () => {
    const m = machine()
    const dry = Cli.runSync(["install", "--all", "--dry-run"], { env: m.env, cwd: m.home })
    assert.strictEqual(dry.code, 0, dry.stderr)
    assert.include(dry.stdout, "would create")
    assert.include(dry.stdout, "Dry run: nothing was changed.")
    assert.deepStrictEqual(snapshot(m.home), {})
    const both = Cli.runSync(["install", "--hooks", "--global", "--local"], { env: m.env, cwd: m.home })
    assert.strictEqual(both.code, 2)
    assert.include(both.stderr, "--global and --local")
    const notty = Cli.runSync(["install", "--interactive"], { env: m.env, cwd: m.home })
    assert.strictEqual(notty.code, 2)
    assert.include(notty.stderr, "needs a terminal")
    assert.deepStrictEqual(snapshot(m.home), {})
  })

  it("a corrupt or unreadable settings.json: a clear error, exit 1, and nothing anywhere touched", () => {
    const m = machine()
    const file = path.join(m.home, ".claude", "settings.json")
    fs.mkdirSync(path.dirname(file))
    fs.writeFileSync(file, "{ \"model\": \"sonnet\", }\n")
    const before = snapshot(m.home)
    const r = Cli.runSync(["install", "--all"], { env: m.env, cwd: m.home })
    assert.strictEqual(r.code, 1)
    assert.strictEqual(r.stdout, "")
    assert.include(r.stderr, file)
    assert.include(r.stderr, "not valid JSON")
    assert.include(r.stderr, "left untouched")
    assert.deepStrictEqual(snapshot(m.home), before)

    fs.writeFileSync(file, JSON.stringify(userSettings))
    fs.chmodSync(file, 0o000)
    Cli.giveToUnprivileged(m.home)
    const unreadable = Cli.runSync(["install", "--hooks"], { env: m.env, cwd: m.home, unprivileged: true })
    assert.strictEqual(unreadable.code, 1, unreadable.stdout)
    assert.include(unreadable.stderr, `cannot read ${file}`)
    assert.strictEqual(fs.statSync(file).mode & 0o777, 0)
    fs.chmodSync(file, 0o644)
    assert.deepStrictEqual(JSON.parse(fs.readFileSync(file, "utf8")), userSettings)
    assert.deepStrictEqual(fs.readdirSync(m.home), [".claude"])
  })

  it("a read-only home: install fails before changing anything and says what to check", () => {
    const m = machine()
    fs.writeFileSync(path.join(m.home, ".bashrc"), "# mine\n")
    Cli.giveToUnprivileged(m.home, m.bin)
    fs.chmodSync(m.home, 0o555)
    const before = snapshot(m.home)
    const r = Cli.runSync(["install", "--all"], { env: m.env, cwd: m.home, unprivileged: true })
    assert.strictEqual(r.code, 1, r.stdout)
    assert.include(r.stderr, "cannot write")
    assert.include(r.stderr, m.home)
    assert.include(r.stderr, "permissions")
    assert.deepStrictEqual(snapshot(m.home), before)
  })
})

/**
 * Run `parallel-cc args…` on a pseudo-terminal (util-linux `script`), answering each prompt when its text
 * appears on the screen. Returns the screen text with terminal escapes removed.
 */
const onTerminal = (args: ReadonlyArray<string>, env: Record<string, string>, cwd: string, answers: ReadonlyArray<readonly [string, string]>) =>
  new Promise<{ code: number | null; screen: string }>((resolve, reject) => {
    const cmd = [process.execPath, Cli.binPath, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ")
    const child = spawn("script", ["-qec", cmd, "/dev/null"], { cwd, env: { ...env, TERM: "xterm" }, stdio: ["pipe", "pipe", "pipe"] })
    let screen = ""
    let next = 0
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      screen += d.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "")
      while (next < answers.length && screen.includes(answers[next]![0])) child.stdin.write(answers[next++]![1])
    })
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000)
    child.on("error", reject)
    child.on("close", (code) => {
      clearTimeout(timer)
      resolve({ code, screen })
    })
  })

describe("install --interactive (on a pseudo-terminal)", () => {
  it("asks for each piece, shows the plan, applies only what was chosen after a confirmation", async () => {
    const m = machine()
    const r = await onTerminal(["install", "--interactive"], m.env, m.home, [
      ["Install the session hooks", "\x1b[B\r"], // down to "no"
      ["shell alias", "n"],
      ["MCP server", "y"],
      ["Apply these changes", "y"]
    ])
    assert.strictEqual(r.code, 0, r.screen)
    assert.include(r.screen, "Planned changes:")
    assert.match(r.screen, /created\s+mcp/)
    assert.deepStrictEqual(fs.readdirSync(m.home).sort(), [".claude.json", ".parallel-cc"])
    const declined = await onTerminal(["install", "--interactive"], m.env, m.home, [
      ["Install the session hooks", "\r"],
      ["shell alias", "y"],
      ["MCP server", "y"],
      ["Apply these changes", "n"]
    ])
    assert.strictEqual(declined.code, 0, declined.screen)
    assert.include(declined.screen, "Nothing was changed.")
    assert.isFalse(fs.existsSync(path.join(m.home, ".claude")))
    assert.isFalse(fs.existsSync(path.join(m.home, ".bashrc")))
  })
})

describe("doctor (real processes)", () => {
  const findings = (r: Cli.RunResult) => Object.fromEntries(Cli.json(r).findings.map((f: any) => [f.id, f]))

  it("after install --all with the agent on PATH: healthy apart from optional items; --strict counts them", () => {
    const m = machine({ claude: true })
    assert.strictEqual(Cli.runSync(["install", "--all"], { env: m.env, cwd: m.home }).code, 0)
    const r = Cli.runSync(["doctor", "--json"], { env: m.env, cwd: m.home })
    assert.strictEqual(r.code, 0, r.stdout + r.stderr)
    const f = findings(r)
    for (const id of ["git", "node", "agent", "database", "hooks", "mcp", "alias"]) assert.strictEqual(f[id].level, "ok", `${id}: ${f[id].detail}`)
    assert.strictEqual(f.e2b.level, "warning")
    assert.isString(f.e2b.fix)
    const withKey = Cli.runSync(["doctor", "--json"], { env: { ...m.env, E2B_API_KEY: "e2b_secret_value_123" }, cwd: m.home })
    assert.strictEqual(findings(withKey).e2b.level, "ok")
    assert.notInclude(withKey.stdout + withKey.stderr, "e2b_secret_value_123")
    const strict = Cli.runSync(["doctor", "--strict"], { env: m.env, cwd: m.home })
    assert.strictEqual(strict.code, 1)
    assert.include(strict.stdout, "(--strict)")
    // doctor changes nothing: no store was created.
    assert.isFalse(fs.existsSync(path.join(m.home, ".parallel-cc", "coordinator.db")))
  })

  it("no git on PATH, and a store at an old schema: each an error with a fix, exit 1", () => {
    const m = machine({ claude: true })
    const noGit = Cli.runSync(["doctor", "--json"], { env: { ...m.env, PATH: m.bin }, cwd: m.home })
    assert.strictEqual(noGit.code, 1)
    const f = findings(noGit)
    assert.strictEqual(f.git.level, "error")
    assert.include(f.git.detail, "not on PATH")
    assert.include(f.git.fix, "2.38")
    assert.include(noGit.stderr, "doctor found")

    assert.strictEqual(Cli.runSync(["migrate", "--version", "1"], { env: m.env, cwd: m.home }).code, 0)
    const old = Cli.runSync(["doctor"], { env: m.env, cwd: m.home })
    assert.strictEqual(old.code, 1)
    assert.match(old.stdout, /✗ database .*schema version 1; this parallel-cc uses \d+/)
    assert.include(old.stdout, "run `parallel-cc migrate`")
  })

  it("a read-only database directory is an error naming the directory", () => {
    const m = machine({ claude: true })
    Cli.giveToUnprivileged(m.home, m.bin)
    assert.strictEqual(Cli.runSync(["migrate"], { env: m.env, cwd: m.home, unprivileged: true }).code, 0)
    const data = path.join(m.home, ".parallel-cc")
    fs.chmodSync(data, 0o500)
    const r = Cli.runSync(["doctor", "--json"], { env: m.env, cwd: m.home, unprivileged: true })
    fs.chmodSync(data, 0o700)
    assert.strictEqual(r.code, 1)
    const f = findings(r)
    assert.strictEqual(f.database.level, "error")
    assert.include(f.database.detail, `${data} is read-only`)
  })
})

describe("migrate: the original tool's database", () => {
  it("is detected by its schema, backed up, kept, imported; other commands point at migrate until then", () => {
    const m = machine()
    const data = path.join(m.home, ".parallel-cc")
    fs.mkdirSync(data, { mode: 0o700 })
    const db = path.join(data, "coordinator.db")
    const now = Date.now()
    LegacyDb.create(db, {
      sessions: [
        { id: "0f0e0d0c-0b0a-4908-8706-050403020100", pid: process.pid, repo_path: "/r", worktree_path: "/r", is_main_repo: 1, last_heartbeat: LegacyDb.sqliteTime(now) },
        { id: "11111111-2222-4333-8444-555555555555", pid: 2 ** 22 + 5, repo_path: "/r", worktree_path: "/r-worktrees/p1", worktree_name: "p1", is_main_repo: 0 }
      ],
      fileClaims: [{ id: "fc1", session_id: "0f0e0d0c-0b0a-4908-8706-050403020100", repo_path: "/r", file_path: "a.ts", claim_mode: "EXCLUSIVE", expires_at: LegacyDb.sqliteTime(now + 3_600_000) }]
    })
    const original = fs.readFileSync(db)

    const doc = Cli.runSync(["doctor", "--json"], { env: m.env, cwd: m.home })
    assert.include(Cli.json(doc).findings.find((f: any) => f.id === "database").detail, "original parallel-cc (schema 1.1.0, 2 sessions)")
    const status = Cli.runSync(["status"], { env: m.env, cwd: m.home })
    assert.strictEqual(status.code, 1)
    assert.include(status.stderr, "original parallel-cc; run `parallel-cc migrate`")

    const r = Cli.runSync(["migrate", "--json"], { env: m.env, cwd: m.home })
    assert.strictEqual(r.code, 0, r.stderr)
    const out = Cli.json(r)
    assert.strictEqual(out.legacy.movedTo, path.join(data, "coordinator.legacy.db"))
    assert.isTrue(fs.readFileSync(out.legacy.movedTo).equals(original))
    assert.isTrue(fs.existsSync(out.legacy.backup))
    assert.deepStrictEqual(out.imports[0].sessions, { found: 2, imported: 2, skipped: 0, pending: 0 })
    assert.deepStrictEqual(out.imports[0].fileClaims, { found: 1, imported: 1, skipped: 0, pending: 0 })

    const sessions = Cli.json(Cli.runSync(["status", "--json"], { env: m.env, cwd: m.home })).sessions
    assert.deepStrictEqual(sessions.map((s: any) => s.sessionId), ["0f0e0d0c0b0a49088706050403020100"])
    const human = Cli.runSync(["migrate"], { env: m.env, cwd: m.home })
    assert.strictEqual(human.code, 0, human.stderr)
    assert.include(human.stdout, "nothing to do")
    assert.isTrue(fs.readFileSync(out.legacy.movedTo).equals(original))
  })
})

describe("deprecated commands and completions", () => {
  it("hyphenated commands of the original tool run the new command with a one-line warning on stderr", () => {
    const m = machine()
    const r = Cli.runSync(["update", "--json"], { env: m.env, cwd: m.home })
    assert.strictEqual(r.code, 0, r.stderr)
    assert.strictEqual(Cli.json(r).version, Cli.json(r).latestVersion)
    const lines = r.stderr.trim().split("\n")
    assert.lengthOf(lines, 1)
    assert.match(lines[0]!, /"update" is deprecated.*use "parallel-cc migrate"/)
    const serve = Cli.runSync(["mcp-serve", "--help"], { env: m.env, cwd: m.home })
    assert.match(serve.stderr.split("\n")[0]!, /"mcp-serve" is deprecated.*"parallel-cc mcp serve"/)
    assert.include(serve.stdout, "mcp serve")
    for (const old of ["sandbox-run", "sandbox-logs", "sandbox-download", "sandbox-kill", "sandbox-list", "sandbox-status", "watch-merges", "merge-status"]) {
      const x = Cli.runSync([old, "--help"], { env: m.env, cwd: m.home })
      assert.match(x.stderr.split("\n")[0]!, new RegExp(`"${old}" is deprecated.*"parallel-cc ${old.replace("-", " ")}"`))
    }
  })

  it("--completions bash completes commands, options and nested subcommands", () => {
    const m = machine()
    const r = Cli.runSync(["--completions", "bash"], { env: m.env, cwd: m.home })
    assert.strictEqual(r.code, 0, r.stderr)
    const script = path.join(m.home, "pcc.bash")
    fs.writeFileSync(script, r.stdout)
    const complete = (...words: Array<string>) => {
      const cmd = `source ${script}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; ` +
        `_parallel-cc_bash_completions parallel-cc '${words[words.length - 1]}' '${words[words.length - 2]}'; echo "\${COMPREPLY[@]}"`
      return spawnSync("bash", ["-c", cmd], { encoding: "utf8" }).stdout.trim().split(/\s+/)
    }
    assert.includeMembers(complete("parallel-cc", "ins"), ["install"])
    assert.includeMembers(complete("parallel-cc", "install", "--un"), ["--uninstall"])
    assert.includeMembers(complete("parallel-cc", "config", "g"), ["get"])
    for (const shell of ["zsh", "fish"]) {
      const s = Cli.runSync(["--completions", shell], { env: m.env, cwd: m.home })
      assert.strictEqual(s.code, 0)
      assert.notInclude(s.stdout, "parallel__cc")
      assert.include(s.stdout, "install")
    }
  })
})

describe("local hooks", () => {
  it("--hooks --local writes <repo>/.claude/settings.json; --uninstall --hooks --local removes what it created", () => {
    const m = machine()
    const repo = TempRepo.makeSync(tmp())
    const r = Cli.runSync(["install", "--hooks", "--local", "--json"], { env: m.env, cwd: path.join(repo.root) })
    assert.strictEqual(r.code, 0, r.stderr)
    assert.strictEqual(Cli.json(r).changes[0].target, path.join(repo.root, ".claude", "settings.json"))
    const u = Cli.runSync(["install", "--uninstall", "--hooks", "--local"], { env: m.env, cwd: repo.root })
    assert.strictEqual(u.code, 0, u.stderr)
    assert.isFalse(fs.existsSync(path.join(repo.root, ".claude")))
    const notRepo = Cli.runSync(["install", "--hooks", "--local"], { env: m.env, cwd: m.home })
    assert.strictEqual(notRepo.code, 1)
    assert.include(notRepo.stderr, "not inside a git repository")
  })
})
