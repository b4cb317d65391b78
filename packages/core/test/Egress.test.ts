/**
 * The egress policy of the local sandbox, enforced: a real bubblewrap sandbox without a network of its own,
 * the filtering proxy on the host, and an HTTP server on this machine's loopback that the agent may reach
 * only when the policy allows it. The agent is a node script (the interpreter is mounted read-only).
 */
import { assert, describe, it } from "@effect/vitest"
import { Sandboxes } from "@parallel-cc/core"
import { Bubblewrap, TempRepo, TestConfig } from "@parallel-cc/testkit"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as http from "node:http"
import * as path from "node:path"

/** The agent: reports what it reached (directly, through the proxy, and the outside world) into net.txt. */
const agentScript = `#!/usr/bin/env node
const http = require("http"), net = require("net"), fs = require("fs")
const port = Number(process.argv[2] ?? process.env.PCC_TEST_PORT)
const get = (opts) => new Promise((res) => {
  const r = http.get(opts, (x) => { let b = ""; x.on("data", (d) => (b += d)); x.on("end", () => res(x.statusCode + " " + b.trim())) })
  r.on("error", (e) => res("error " + e.code)); r.setTimeout(5000, () => r.destroy(new Error("timeout")))
})
const proxied = (url) => {
  if (!process.env.HTTP_PROXY) return Promise.resolve("no proxy")
  const p = new URL(process.env.HTTP_PROXY)
  return get({ host: p.hostname, port: p.port, path: url, headers: { host: new URL(url).host } })
}
const dial = (host, p) => new Promise((res) => { const s = net.connect(p, host, () => { s.destroy(); res("connected") }); s.on("error", (e) => res("error " + e.code)); s.setTimeout(3000, () => { s.destroy(); res("error timeout") }) })
;(async () => {
  process.stdin.resume(); process.stdin.on("data", () => {})
  const lines = []
  lines.push("direct " + await get({ host: "127.0.0.1", port, path: "/" }))
  lines.push("proxied " + await proxied("http://127.0.0.1:" + port + "/"))
  lines.push("refused " + await proxied("http://blocked.example/"))
  lines.push("outside " + await dial("192.0.2.1", 80))
  fs.writeFileSync("net.txt", lines.join("\\n") + "\\n")
  process.exit(0)
})()
`

const withServer = Effect.acquireRelease(
  Effect.async<http.Server & { port: number }>((resume) => {
    const server = http.createServer((_req, res) => res.end("hello from the host\n"))
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed(Object.assign(server, { port: (server.address() as { port: number }).port }))))
  }),
  (server) => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
)

const run = (network: "on" | "off" | "allow", allowHosts: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const server = yield* withServer
    const repo = yield* TempRepo.make({ files: { "README.md": "# r\n" } })
    const agent = path.join(repo.base, "agent.cjs")
    fs.writeFileSync(agent, agentScript, { mode: 0o755 })
    const sandboxRoot = path.join(repo.base, "sandboxes")
    fs.mkdirSync(sandboxRoot)
    const layer = TestConfig.sandboxLayer(path.join(repo.base, "data"), {
      PARALLEL_CC_SANDBOX_LOCAL_ROOT: sandboxRoot,
      PARALLEL_CC_SANDBOX_LOCAL_ISOLATION: "bwrap",
      PARALLEL_CC_SANDBOX_PASS_ENV: JSON.stringify(["PCC_TEST_PORT"])
    })
    const r = yield* Effect.flatMap(Sandboxes.Sandboxes, (s) =>
      s.run({
        repo: repo.root,
        prompt: "reach out",
        agent,
        network,
        allowHosts: allowHosts.map((h) => h.replace("PORT", String(server.port))),
        host: { env: { ...repo.env, PATH: process.env.PATH ?? "/usr/bin:/bin", PCC_TEST_PORT: String(server.port) }, homeDir: repo.home, cwd: repo.root }
      })).pipe(Effect.provide(layer))
    assert.strictEqual(r.run.status, "succeeded", r.run.error ?? "")
    const lines = Object.fromEntries(
      fs.readFileSync(path.join(r.worktreePath!, "net.txt"), "utf8").trim().split("\n").map((l) => [l.slice(0, l.indexOf(" ")), l.slice(l.indexOf(" ") + 1)])
    )
    return { r, lines, log: fs.readFileSync(r.run.logPath, "utf8"), port: server.port }
  })

const bwrapIt = (name: string, test: () => Effect.Effect<void, unknown, import("effect").Scope.Scope>) =>
  it.scopedLive.skipIf(!Bubblewrap.works)(Bubblewrap.title(name), test, 120_000)

describe("sandbox run --network (egress policy, local provider)", () => {
  bwrapIt("allow: an allowed loopback service answers, directly and through the proxy; anything else is refused and listed", () =>
    Effect.gen(function*() {
      const { lines, log, port, r } = yield* run("allow", ["127.0.0.1:PORT"])
      assert.strictEqual(lines.direct, "200 hello from the host")
      assert.strictEqual(lines.proxied, "200 hello from the host")
      assert.match(lines.refused!, /^403 parallel-cc: blocked\.example:80 not on the allow list/)
      assert.match(lines.outside!, /^error (ENETUNREACH|EHOSTUNREACH|timeout)/)
      assert.deepStrictEqual(r.network, { mode: "allow", allow: [`127.0.0.1:${port}`] })
      assert.deepStrictEqual(r.refusedHosts.map((h) => [h.host, h.port]), [["blocked.example", 80]])
      assert.include(log, "network: refused blocked.example:80: not on the allow list")
      assert.isTrue(r.warnings.some((w) => w.includes("refused blocked.example:80")))
    }))

  bwrapIt("allow without the host: this machine's loopback is not reachable, and asking the proxy for it is refused", () =>
    Effect.gen(function*() {
      const { lines, port, r } = yield* run("allow", [])
      assert.match(lines.direct!, /^error ECONNREFUSED/)
      assert.match(lines.proxied!, new RegExp(`^403 parallel-cc: 127\\.0\\.0\\.1:${port} not on the allow list`))
      assert.deepInclude(r.refusedHosts.map((h) => `${h.host}:${h.port}`), `127.0.0.1:${port}`)
    }))

  bwrapIt("off: no network at all, not even the proxy", () =>
    Effect.gen(function*() {
      const { lines, r } = yield* run("off", [])
      assert.match(lines.direct!, /^error ECONNREFUSED/)
      assert.strictEqual(lines.proxied, "no proxy")
      assert.match(lines.outside!, /^error (ENETUNREACH|EHOSTUNREACH|timeout)/)
      assert.deepStrictEqual(r.refusedHosts, [])
    }))

  bwrapIt("on: the machine's network as it is (this machine's loopback included)", () =>
    Effect.gen(function*() {
      const { lines } = yield* run("on", [])
      assert.strictEqual(lines.direct, "200 hello from the host")
      assert.strictEqual(lines.proxied, "no proxy")
    }))

  it.scopedLive("--allow-host is checked, and goes with --network allow", () =>
    Effect.gen(function*() {
      const repo = yield* TempRepo.make()
      const layer = TestConfig.sandboxLayer(path.join(repo.base, "data"), { PARALLEL_CC_SANDBOX_LOCAL_ISOLATION: "process" })
      const check = (network: "on" | "allow", allowHosts: ReadonlyArray<string>) =>
        Effect.flatMap(Sandboxes.Sandboxes, (s) =>
          s.check({ repo: repo.root, prompt: "p", agent: "/bin/true", network, allowHosts, host: { env: repo.env, homeDir: repo.home, cwd: repo.root } })).pipe(
          Effect.provide(layer),
          Effect.flip
        )
      assert.include((yield* check("allow", ["http://x.com"])).message, "--allow-host")
      assert.include((yield* check("on", ["x.com"])).message, "goes with --network allow")
    }))
})
