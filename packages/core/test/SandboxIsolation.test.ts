/**
 * What an agent under bubblewrap can read of this machine, through the whole pipeline (`Sandboxes.run`,
 * the local provider, the real bwrap). Each agent is a shell script that tries to read files it must not
 * see and writes what happened into its work tree, which comes back as a change. Skipped — visibly, with
 * the reason — where bubblewrap does not work.
 */
import { assert, describe, it } from "@effect/vitest"
import { Sandboxes } from "@parallel-cc/core"
import { Bubblewrap, TempRepo, TestConfig } from "@parallel-cc/testkit"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { etcEntries } from "../src/sandboxes/local/bwrap.js"

/** A shell agent that reports, for each path, whether it could read it (`read`) or not (`denied`). */
const prober = (paths: ReadonlyArray<string>) =>
  "#!/bin/sh\ncat > /dev/null\n: > probe.txt\n" +
  paths.map((p) => `if cat '${p}' > /dev/null 2>&1; then echo 'read ${p}' >> probe.txt; else echo 'denied ${p}' >> probe.txt; fi\n`).join("")

const writeExe = (file: string, text: string) => {
  fs.mkdirSync(path.dirname(file), { recursive: true })
  fs.writeFileSync(file, text, { mode: 0o755 })
}

/** A run of `agent` in `repo` (its host's home is `home`, its PATH `pathEnv`); the agent's report. */
const probe = (repo: TempRepo.TempRepo, agent: string, pathEnv = "/usr/bin:/bin") =>
  Effect.gen(function*() {
    const sandboxRoot = path.join(repo.base, "sandboxes")
    fs.mkdirSync(sandboxRoot, { recursive: true })
    const layer = TestConfig.sandboxLayer(path.join(repo.base, "data"), {
      PARALLEL_CC_SANDBOX_LOCAL_ROOT: sandboxRoot,
      PARALLEL_CC_SANDBOX_LOCAL_ISOLATION: "bwrap"
    })
    const r = yield* Effect.flatMap(Sandboxes.Sandboxes, (s) =>
      s.run({
        repo: repo.root,
        prompt: "look around",
        agent,
        host: { env: { ...repo.env, HOME: repo.home, PATH: pathEnv }, homeDir: repo.home, cwd: repo.root }
      })).pipe(Effect.provide(layer))
    assert.strictEqual(r.run.status, "succeeded", r.run.error ?? "")
    assert.strictEqual(r.isolation.kind, "bwrap")
    assert.include(r.changes.added, "probe.txt")
    return fs.readFileSync(path.join(r.worktreePath!, "probe.txt"), "utf8").trim().split("\n")
  })

/** A repository whose user has an SSH key and other secrets in a home of their own. */
const setup = Effect.gen(function*() {
  const repo = yield* TempRepo.make({ files: { "README.md": "# r\n", ".gitignore": ".env\n" } })
  fs.mkdirSync(path.join(repo.home, ".ssh"), { mode: 0o700 })
  const key = path.join(repo.home, ".ssh", "id_rsa")
  fs.writeFileSync(key, "-----BEGIN OPENSSH PRIVATE KEY-----\nfake\n-----END OPENSSH PRIVATE KEY-----\n", { mode: 0o600 })
  repo.write(".env", "API_TOKEN=ignored-secret\n")
  return { repo, key }
})

const bwrapIt = (name: string, test: () => Effect.Effect<void, unknown, import("effect").Scope.Scope>) =>
  it.scopedLive.skipIf(!Bubblewrap.works)(Bubblewrap.title(name), test, 120_000)

describe("the local sandbox never shows the user's home, whatever the agent's layout (issue 13 item 1)", () => {
  bwrapIt("an agent in ~/bin next to ~/lib: only the agent file is mounted; ~/.ssh/id_rsa is unreadable", () =>
    Effect.gen(function*() {
      const { key, repo } = yield* setup
      fs.mkdirSync(path.join(repo.home, "lib"))
      const agent = path.join(repo.home, "bin", "agent")
      writeExe(agent, prober([key, path.join(repo.home, "lib")]))
      assert.deepStrictEqual(yield* probe(repo, agent), [`denied ${key}`, `denied ${path.join(repo.home, "lib")}`])
    }))

  bwrapIt("an agent in ~/.local/bin next to ~/.local/lib: ~/.ssh/id_rsa and the rest of ~/.local are unreadable", () =>
    Effect.gen(function*() {
      const { key, repo } = yield* setup
      const keyring = path.join(repo.home, ".local", "share", "keyrings", "login.keyring")
      fs.mkdirSync(path.join(repo.home, ".local", "lib"), { recursive: true })
      fs.mkdirSync(path.dirname(keyring), { recursive: true })
      fs.writeFileSync(keyring, "secret\n")
      const agent = path.join(repo.home, ".local", "bin", "agent")
      writeExe(agent, prober([key, keyring]))
      assert.deepStrictEqual(yield* probe(repo, agent), [`denied ${key}`, `denied ${keyring}`])
    }))

  bwrapIt("an agent inside the repository (bin/ next to lib/): neither ~/.ssh/id_rsa nor the repository's ignored files and .git", () =>
    Effect.gen(function*() {
      const { key, repo } = yield* setup
      const dotEnv = path.join(repo.root, ".env")
      const gitConfig = path.join(repo.root, ".git", "config")
      repo.write("lib/helper.txt", "a library\n")
      writeExe(path.join(repo.root, "bin", "agent"), prober([key, dotEnv, gitConfig]))
      repo.commitAll("an agent of the repository's own")
      assert.deepStrictEqual(yield* probe(repo, "./bin/agent"), [`denied ${key}`, `denied ${dotEnv}`, `denied ${gitConfig}`])
    }))

  bwrapIt("an agent found on PATH through a symlink (~/.local/bin/agent → ~/bin/real-agent, with ~/lib): ~/.ssh/id_rsa is unreadable", () =>
    Effect.gen(function*() {
      const { key, repo } = yield* setup
      fs.mkdirSync(path.join(repo.home, "lib"))
      const real = path.join(repo.home, "bin", "real-agent")
      writeExe(real, prober([key, path.join(repo.home, ".ssh")]))
      fs.mkdirSync(path.join(repo.home, ".local", "bin"), { recursive: true })
      fs.symlinkSync(real, path.join(repo.home, ".local", "bin", "agent"))
      const lines = yield* probe(repo, "agent", `${path.join(repo.home, ".local", "bin")}:/usr/bin:/bin`)
      assert.deepStrictEqual(lines, [`denied ${key}`, `denied ${path.join(repo.home, ".ssh")}`])
    }))
})

describe("the local sandbox's /etc leaves out secrets (issue 13 item 5)", () => {
  bwrapIt("shadow, gshadow, sudoers and SSH host keys are unreadable, even as root; what programs need is there", () =>
    Effect.gen(function*() {
      const { repo } = yield* setup
      const secrets = ["/etc/shadow", "/etc/gshadow", "/etc/sudoers", "/etc/ssh/ssh_host_ed25519_key", "/etc/ssh/ssh_host_rsa_key", "/etc/machine-id"]
      const needed = ["/etc/passwd", "/etc/group", "/etc/hosts", "/etc/nsswitch.conf"].filter((f) => fs.existsSync(f))
      const agent = path.join(repo.base, "agents", "etc-agent")
      writeExe(agent, prober([...secrets, ...needed]) + "ls -A /etc > etc.txt\n")
      const lines = yield* probe(repo, agent)
      assert.deepStrictEqual(lines, [...secrets.map((f) => `denied ${f}`), ...needed.map((f) => `read ${f}`)])
    }))

  bwrapIt("/etc holds only the listed entries (and mtab, the sandbox's own mount table)", () =>
    Effect.gen(function*() {
      const { repo } = yield* setup
      const agent = path.join(repo.base, "agents", "ls-agent")
      writeExe(agent, "#!/bin/sh\ncat > /dev/null\nls -A /etc > probe.txt\nls -A /etc/ssl >> probe.txt 2>/dev/null\n")
      const seen = yield* probe(repo, agent)
      const allowed = new Set([...etcEntries.map((e) => e.split("/")[0]!), "mtab"])
      const unexpected = seen.filter((e) => !allowed.has(e) && !/^(python3|java)/.test(e) && !["certs", "openssl.cnf"].includes(e))
      assert.deepStrictEqual(unexpected, [])
      assert.notInclude(seen, "private", "/etc/ssl/private is not shown")
    }))
})
