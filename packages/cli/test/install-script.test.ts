import { Cli, ScriptedAgent, TempDir } from "@parallel-cc/testkit"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, assert, describe, it } from "vitest"

const dirs: Array<string> = []
afterEach(() => {
  for (const d of dirs.splice(0)) TempDir.removeSync(d)
})
const tmp = (prefix: string) => {
  const d = TempDir.makeSync(prefix)
  dirs.push(d)
  return d
}

const snapshot = TempDir.snapshotSync

/**
 * A clone of parallel-cc in a temp directory: its own scripts/ (so .install-state lands there, not in the
 * real clone) over the real, already built packages.
 */
const clone = () => {
  const root = tmp("pcc-clone-")
  fs.mkdirSync(path.join(root, "scripts"))
  for (const f of ["install.sh", "uninstall.sh"]) {
    fs.copyFileSync(path.join(Cli.projectRoot, "scripts", f), path.join(root, "scripts", f))
  }
  fs.symlinkSync(path.join(Cli.projectRoot, "packages"), path.join(root, "packages"))
  fs.symlinkSync(path.join(Cli.projectRoot, "node_modules"), path.join(root, "node_modules"))
  return root
}

const sh = (script: string, args: ReadonlyArray<string>, env: Record<string, string>) =>
  spawnSync("sh", [script, ...args], { env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 120_000 })

describe("scripts/install.sh and scripts/uninstall.sh", () => {
  it("a new user: install.sh --all, doctor healthy apart from cloud keys, install --uninstall and uninstall.sh leave the home as it was", () => {
    const root = clone()
    const home = tmp("pcc-newhome-")
    // The user's own tools: the agent CLI (the scripted stand-in for claude), node, git.
    const tools = tmp("pcc-tools-")
    fs.symlinkSync(ScriptedAgent.path, path.join(tools, "claude"))
    const env = { HOME: home, SHELL: "/bin/bash", LANG: "C", PATH: `${tools}:${path.dirname(process.execPath)}:/usr/bin:/bin` }
    fs.writeFileSync(path.join(home, ".bashrc"), "# the user's bashrc\n")
    const before = snapshot(home)

    const inst = sh(path.join(root, "scripts", "install.sh"), ["--all", "--no-build"], env)
    assert.strictEqual(inst.status, 0, inst.stdout + inst.stderr)
    const bin = path.join(home, ".local", "bin")
    assert.include(inst.stdout, `Linked ${bin}/parallel-cc`)
    assert.include(inst.stdout, `Linked ${bin}/claude-parallel`)
    assert.include(inst.stdout, "Healthy")
    assert.include(inst.stdout, `${bin} is not on your PATH`)
    assert.include(fs.readFileSync(path.join(home, ".bashrc"), "utf8"), `alias claude=${bin}/claude-parallel`)

    const userEnv = { ...env, PATH: `${bin}:${env.PATH}` }
    const doctor = spawnSync("parallel-cc", ["doctor", "--json"], { env: userEnv, encoding: "utf8" })
    assert.strictEqual(doctor.status, 0, doctor.stdout + doctor.stderr)
    const report = JSON.parse(doctor.stdout)
    assert.isTrue(report.healthy)
    const notOk = report.findings.filter((f: any) => f.level !== "ok").map((f: any) => f.id)
    assert.includeMembers(["e2b", "sandbox-auth", "gh", "bubblewrap", "notifications"], notOk, `only optional items may be missing: ${notOk}`)
    assert.include(notOk, "e2b")

    const un = spawnSync("parallel-cc", ["install", "--uninstall"], { env: userEnv, encoding: "utf8" })
    assert.strictEqual(un.status, 0, un.stdout + un.stderr)
    // Only install.sh's links are left; uninstall.sh removes them and the directories it created.
    const left = snapshot(home)
    assert.deepStrictEqual(
      Object.keys(left).filter((k) => !(k in before)).sort(),
      [".local/", ".local/bin/", ".local/bin/claude-parallel", ".local/bin/parallel-cc"]
    )
    const uninst = sh(path.join(root, "scripts", "uninstall.sh"), [], env)
    assert.strictEqual(uninst.status, 0, uninst.stdout + uninst.stderr)
    assert.deepStrictEqual(snapshot(home), before)
    assert.isFalse(fs.existsSync(path.join(root, ".install-state")))
  })

  it("right after install.sh, before ~/.local/bin is on PATH: doctor and install --status say 'not on PATH' with the line to add, the alias is not 'outdated'; uninstall leaves no cache and says unalias claude", () => {
    const root = clone()
    const home = tmp("pcc-newhome-")
    const tools = tmp("pcc-tools-")
    fs.symlinkSync(ScriptedAgent.path, path.join(tools, "claude"))
    const env = { HOME: home, SHELL: "/bin/bash", LANG: "C", PATH: `${tools}:${path.dirname(process.execPath)}:/usr/bin:/bin` }
    fs.writeFileSync(path.join(home, ".bashrc"), "# the user's bashrc\n")
    const inst = sh(path.join(root, "scripts", "install.sh"), ["--all", "--no-build"], env)
    assert.strictEqual(inst.status, 0, inst.stdout + inst.stderr)
    const bin = path.join(home, ".local", "bin")
    const pcc = (args: ReadonlyArray<string>, e: Record<string, string> = env) =>
      spawnSync(path.join(bin, "parallel-cc"), args as Array<string>, { env: e, encoding: "utf8" })

    // The user's shell, PATH as it was: the commands are not on it yet.
    const doctor = pcc(["doctor", "--json"])
    assert.strictEqual(doctor.status, 0, doctor.stdout + doctor.stderr)
    const f = Object.fromEntries(JSON.parse(doctor.stdout).findings.map((x: any) => [x.id, x]))
    assert.strictEqual(f.alias.level, "ok", f.alias.detail)
    assert.include(f.alias.detail, `claude → ${bin}/claude-parallel (its directory is not on PATH)`)
    assert.strictEqual(f.commands.level, "warning")
    assert.include(f.commands.detail, `claude-parallel is installed in ${bin}, which is not on PATH`)
    assert.include(f.commands.detail, `parallel-cc is installed in ${bin}, which is not on PATH`)
    assert.strictEqual(f.commands.fix, `add this line to ${home}/.bashrc, then open a new shell: export PATH="${bin}:$PATH"`)
    const human = pcc(["doctor"])
    assert.notInclude(human.stdout, "outdated")
    const st = JSON.parse(pcc(["install", "--status", "--json"]).stdout)
    assert.deepStrictEqual(st.pieces.filter((p: any) => p.piece === "alias").map((p: any) => p.state), ["installed"])
    assert.deepStrictEqual(st.commands.map((c: any) => `${c.command}=${c.state}`), ["parallel-cc=not-on-path", "claude-parallel=not-on-path"])
    const stHuman = pcc(["install", "--status"]).stdout
    assert.include(stHuman, `add this line to ${home}/.bashrc and open a new shell:\n  export PATH="${bin}:$PATH"`)

    // With the line added: on PATH, nothing to warn about.
    const userEnv = { ...env, PATH: `${bin}:${env.PATH}` }
    const onPath = Object.fromEntries(JSON.parse(pcc(["doctor", "--json"], userEnv).stdout).findings.map((x: any) => [x.id, x]))
    assert.strictEqual(onPath.commands.level, "ok", onPath.commands.detail)
    // A wrapper that is gone is broken, not outdated.
    fs.renameSync(path.join(bin, "claude-parallel"), path.join(bin, "claude-parallel.away"))
    const gone = Object.fromEntries(JSON.parse(pcc(["doctor", "--json"]).stdout).findings.map((x: any) => [x.id, x]))
    assert.strictEqual(gone.alias.level, "error")
    assert.include(gone.alias.detail, `the alias runs ${bin}/claude-parallel, which is missing`)
    fs.renameSync(path.join(bin, "claude-parallel.away"), path.join(bin, "claude-parallel"))

    // The user has sessions' data: the data directory stays, the code cache goes and is not written again.
    assert.strictEqual(pcc(["migrate"], userEnv).status, 0)
    const data = path.join(home, ".parallel-cc")
    assert.isTrue(fs.existsSync(path.join(data, "cache")), "the commands ran with a code cache")
    const un = pcc(["install", "--uninstall"], userEnv)
    assert.strictEqual(un.status, 0, un.stdout + un.stderr)
    assert.include(un.stdout, "Shells that are already open still have the claude alias; in each, run: unalias claude")
    assert.deepStrictEqual(fs.readdirSync(data).filter((n) => !n.startsWith("coordinator.db")), [])
    assert.isFalse(fs.existsSync(path.join(data, "cache")))
    assert.strictEqual(sh(path.join(root, "scripts", "uninstall.sh"), [], env).status, 0)
  })

  it("never replaces a file it did not create, and rejects unknown options", () => {
    const root = clone()
    const home = tmp("pcc-newhome-")
    const bin = path.join(home, "bin")
    fs.mkdirSync(bin)
    fs.writeFileSync(path.join(bin, "parallel-cc"), "#!/bin/sh\necho mine\n", { mode: 0o755 })
    const env = { HOME: home, SHELL: "/bin/bash", PATH: `${path.dirname(process.execPath)}:/usr/bin:/bin` }
    const r = sh(path.join(root, "scripts", "install.sh"), ["--no-build", "--prefix", bin], env)
    assert.strictEqual(r.status, 1)
    assert.include(r.stderr, `${bin}/parallel-cc exists and is not a link made by this script`)
    assert.strictEqual(fs.readFileSync(path.join(bin, "parallel-cc"), "utf8"), "#!/bin/sh\necho mine\n")
    const bad = sh(path.join(root, "scripts", "install.sh"), ["--everything"], env)
    assert.strictEqual(bad.status, 1)
    assert.include(bad.stderr, "unknown option: --everything")
  })
})
