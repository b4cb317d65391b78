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
    assert.includeMembers(["e2b", "sandbox-auth", "gh", "bubblewrap"], notOk, `only optional items may be missing: ${notOk}`)
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
