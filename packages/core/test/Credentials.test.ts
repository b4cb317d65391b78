import { assert, describe, it } from "@effect/vitest"
import { TempDir } from "@parallel-cc/testkit"
import { Effect, Redacted } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import type * as Agents from "../src/sandboxes/AgentAdapters.js"
import * as Credentials from "../src/sandboxes/Credentials.js"

const claude: Agents.Agent = { kind: "claude", setting: "claude", command: "claude", hostPath: "/usr/bin/claude" }
const custom: Agents.Agent = { kind: "custom", setting: "./agent", command: "/x/agent", hostPath: "/x/agent" }
const hostIn = (homeDir: string, env: Record<string, string> = {}) => ({ env: { PATH: "/usr/bin", ...env }, homeDir, cwd: homeDir })

const key = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU=\n-----END OPENSSH PRIVATE KEY-----\n"

describe("Credentials", () => {
  it.scopedLive("an API key from the environment; OAuth from Claude Code's credentials file, every token in it a secret", () =>
    Effect.gen(function*() {
      const home = yield* TempDir.make()
      const withKey = yield* Credentials.credentialsFor(claude, undefined, hostIn(home, { ANTHROPIC_API_KEY: "sk-ant-api-key-0123456789" }))
      assert.strictEqual(withKey.method, "api-key")
      assert.deepStrictEqual(withKey.env, { ANTHROPIC_API_KEY: "sk-ant-api-key-0123456789" })
      assert.deepStrictEqual(withKey.secrets, ["sk-ant-api-key-0123456789"])

      const missing = yield* Credentials.credentialsFor(claude, undefined, hostIn(home)).pipe(Effect.flip)
      assert.strictEqual(missing.reason, "MissingCredentials")
      assert.include(missing.message, "ANTHROPIC_API_KEY")

      fs.mkdirSync(path.join(home, ".claude"), { mode: 0o700 })
      const creds = JSON.stringify({ claudeAiOauth: { accessToken: "oauth-access-token-abcdefgh", refreshToken: "short" } })
      fs.writeFileSync(path.join(home, ".claude", ".credentials.json"), creds, { mode: 0o600 })
      const oauth = yield* Credentials.credentialsFor(claude, undefined, hostIn(home))
      assert.strictEqual(oauth.method, "oauth")
      assert.deepStrictEqual(oauth.files, [{ path: ".claude/.credentials.json", content: creds, mode: 0o600 }])
      assert.include(oauth.secrets, creds)
      assert.include(oauth.secrets, "oauth-access-token-abcdefgh")
      assert.notInclude(oauth.secrets, "short")

      // A custom agent needs nothing unless asked; OAuth is only for Claude-like agents.
      assert.strictEqual((yield* Credentials.credentialsFor(custom, undefined, hostIn(home))).method, "none")
      const codex = yield* Credentials.credentialsFor({ ...claude, kind: "codex" }, "oauth", hostIn(home)).pipe(Effect.flip)
      assert.include(codex.message, "only supported for Claude Code")
    }))

  it.scopedLive("an SSH key is checked (exists, a private key, confirmed) and comes with warnings and known hosts", () =>
    Effect.gen(function*() {
      const home = yield* TempDir.make()
      const host = hostIn(home)
      const reason = (p: string, confirmed = true) => Credentials.sshKeyFor(p, confirmed, host).pipe(Effect.flip, Effect.map((e) => e.reason))
      assert.strictEqual(yield* reason("missing"), "SshKeyInvalid")
      fs.writeFileSync(path.join(home, "id.pub"), "ssh-ed25519 AAAA user@host\n")
      assert.strictEqual(yield* reason("id.pub"), "SshKeyInvalid")
      fs.writeFileSync(path.join(home, "id"), key, { mode: 0o644 })
      assert.strictEqual(yield* reason("id", false), "SshKeyNotConfirmed")
      const ok = yield* Credentials.sshKeyFor("id", true, host)
      assert.strictEqual(ok.content, key)
      assert.strictEqual(ok.knownHosts, "")
      assert.isTrue(ok.warnings.some((w) => w.includes("chmod 600")))
      assert.isTrue(ok.warnings.some((w) => w.includes("known_hosts")))
    }))

  it.effect("npm settings: https registries only (http for localhost); files carry the credentials, all 0600", () =>
    Effect.gen(function*() {
      const bad = yield* Credentials.npmSettingsFor(Redacted.make("tok"), "http://registry.example.com").pipe(Effect.flip)
      assert.strictEqual(bad.field, "--npm-registry")
      const local = yield* Credentials.npmSettingsFor(undefined, "http://localhost:4873")
      assert.deepStrictEqual(local, { token: undefined, registry: "http://localhost:4873/", registryGiven: true })
      const npm = yield* Credentials.npmSettingsFor(Redacted.make("npm_secret"), undefined)
      const ssh = { content: key, knownHosts: "github.com ssh-ed25519 AAAA\n", warnings: [] }
      const out = Credentials.secretFiles(Credentials.none, ssh, npm, "/home/agent")
      assert.deepStrictEqual(out.files.map((f) => [f.path, f.mode]), [
        [".ssh/id_parallel_cc", 0o600],
        [".ssh/known_hosts", 0o600],
        [".ssh/config", 0o600],
        [".npmrc", 0o600]
      ])
      assert.include(out.files[3]!.content, "//registry.npmjs.org/:_authToken=npm_secret")
      assert.strictEqual(out.env.GIT_SSH_COMMAND, "ssh -F '/home/agent/.ssh/config'")
      assert.deepStrictEqual(Credentials.secretFiles(Credentials.none, undefined, yield* Credentials.npmSettingsFor(undefined, undefined), "/h").files, [])
    }))
})
