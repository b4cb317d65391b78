/**
 * The E2B provider through the Sandboxes service, against the testkit's contract double of the e2b SDK
 * (no network, no account). Every path: a run, keep and reconnect from another process, kill from another
 * process, and the SDK's failure modes.
 */
import { assert, describe, it } from "@effect/vitest"
import { E2BProvider, Sandboxes, SandboxRuns, SessionStore } from "@parallel-cc/core"
import { E2BDouble, ScriptedAgent, TempDir, TempRepo, TestConfig } from "@parallel-cc/testkit"
import type * as E2B from "e2b"
import { Effect, Fiber, Layer } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"

// Compile-time contract: the real SDK provides the surface the provider uses (the double mirrors it).
type RealSdkFits = typeof E2B extends E2BProvider.E2BModule ? true : false
const realSdkFits: RealSdkFits = true

interface World {
  readonly base: string
  readonly repo: TempRepo.TempRepo
  readonly data: string
  readonly host: Sandboxes.HostContext
  /** A "process": its own double over the shared VM directory, its own store connection. */
  readonly process: (options?: Omit<E2BDouble.Options, "root">) => {
    readonly double: ReturnType<typeof E2BDouble.make>
    readonly layer: Layer.Layer<Sandboxes.Sandboxes | SandboxRuns.SandboxRuns | SessionStore.SessionStore, unknown>
  }
}

const world = Effect.map(TempDir.make("pcc-e2b-"), (base): World => {
  const repo = TempRepo.makeSync(base, { files: { "README.md": "# shop\n", "old.txt": "obsolete\n", ".gitignore": "dist/\n" } })
  const data = path.join(base, "data")
  const vms = path.join(base, "vms")
  return {
    base,
    repo,
    data,
    host: { env: { E2B_API_KEY: E2BDouble.apiKey, PATH: process.env.PATH ?? "/usr/bin:/bin" }, homeDir: repo.home, cwd: repo.root },
    process: (options = {}) => {
      const double = E2BDouble.make({ root: vms, ...options })
      const layer = TestConfig.sandboxLayer(data, {}, {
        e2b: (ctx) => E2BProvider.provider(() => Promise.resolve(double as unknown as E2BProvider.E2BModule), ctx)
      })
      return { double, layer }
    }
  }
})

const editScript: ScriptedAgent.Script = {
  actions: [
    { edit: "README.md", find: "# shop", replace: "# shop (improved)" },
    { write: "src/health.ts", content: "export const health = () => \"ok\"\n" },
    { delete: "old.txt" },
    { write: "dist/out.js", content: "ignored\n" }
  ],
  cost: 0.02
}

const request = (w: World, prompt: string, extra: Partial<Sandboxes.RunRequest> = {}): Sandboxes.RunRequest => ({
  repo: w.repo.root,
  prompt,
  provider: "e2b",
  agent: ScriptedAgent.path,
  host: w.host,
  ...extra
})

type Failure = { readonly _tag: string; readonly message: string; readonly reason?: string }

const runIn = <A, E>(layer: Layer.Layer<any, unknown>, f: (s: Sandboxes.Sandboxes["Type"]) => Effect.Effect<A, E>) =>
  Effect.flatMap(Sandboxes.Sandboxes, f).pipe(Effect.provide(layer))

describe("E2BProvider (through the e2b contract double)", () => {
  it("the real e2b SDK fits the interface the provider uses", () => {
    assert.isTrue(realSdkFits)
  })

  it.scopedLive("runs the agent in a VM: upload, background agent with streamed output, changes into a worktree; the VM is killed", () =>
    Effect.gen(function*() {
      const w = yield* world
      const p = w.process()
      yield* Effect.addFinalizer(() => Effect.sync(p.double.dispose))
      const events: Array<Sandboxes.RunEvent> = []
      const result = yield* runIn(p.layer, (s) =>
        s.run(request(w, ScriptedAgent.prompt("improve", editScript)), (e) => Effect.sync(() => void events.push(e))))
      assert.strictEqual(result.run.status, "succeeded", result.run.error ?? "")
      assert.deepInclude(result.run, { provider: "e2b", isolation: "e2b", sandboxState: "killed", costUsd: 0.02, numTurns: 4 })
      assert.isTrue(result.isolation.isolated)
      assert.deepStrictEqual(result.changes, { added: ["src/health.ts"], modified: ["README.md"], deleted: ["old.txt"] })
      assert.strictEqual(fs.readFileSync(path.join(result.worktreePath!, "README.md"), "utf8"), "# shop (improved)\n")
      assert.isFalse(fs.existsSync(path.join(result.worktreePath!, "dist")))
      assert.deepStrictEqual(p.double.alive(), [])
      assert.includeMembers(p.double.calls, ["Sandbox.create", "files.write", "commands.run (background)", "Sandbox.kill"])
      assert.include(events.filter((e) => e._tag === "AgentOutput").map((e) => (e as { line: string }).line), "tool Write: src/health.ts")
    }))

  it.scopedLive("--network: on by default (the VM's own network); off is no internet access; allow denies all but the allowed hosts", () =>
    Effect.gen(function*() {
      const w = yield* world
      const p = w.process()
      yield* Effect.addFinalizer(() => Effect.sync(p.double.dispose))
      const script = ScriptedAgent.prompt("net", { actions: [{ write: "n.txt", content: "n\n" }] })
      for (const network of [undefined, "off", "allow"] as const) {
        const r = yield* runIn(p.layer, (s) => s.run(request(w, script, { network, allowHosts: network === "allow" ? ["registry.example.org:8443"] : undefined })))
        assert.strictEqual(r.run.status, "succeeded", r.run.error ?? "")
      }
      assert.deepStrictEqual(p.double.networks, [
        { allowInternetAccess: undefined, network: undefined },
        { allowInternetAccess: false, network: undefined },
        { allowInternetAccess: undefined, network: { denyOut: ["0.0.0.0/0"], allowOut: ["registry.example.org"] } }
      ])
    }))

  it.scopedLive("--keep: status, download and kill reconnect to the VM by id from another process", () =>
    Effect.gen(function*() {
      const w = yield* world
      const first = w.process()
      const result = yield* runIn(first.layer, (s) => s.run(request(w, ScriptedAgent.prompt("keep", editScript), { keep: true })))
      assert.strictEqual(result.run.sandboxState, "kept")
      const id = result.run.sandboxId!
      assert.deepStrictEqual(first.double.alive(), [id])

      const second = w.process()
      yield* Effect.addFinalizer(() => Effect.sync(second.double.dispose))
      const st = yield* runIn(second.layer, (s) => s.status(result.run.sessionId, w.host))
      assert.strictEqual(st.sandbox, "stopped")
      const out = path.join(w.base, "out")
      const dl = yield* runIn(second.layer, (s) => s.download(result.run.sessionId, out, w.host))
      assert.strictEqual(dl.source, "sandbox")
      assert.deepStrictEqual([...dl.written].sort(), ["README.md", "src/health.ts"])
      const k = yield* runIn(second.layer, (s) => s.kill(result.run.sessionId, w.host))
      assert.strictEqual(k.action, "removed")
      assert.strictEqual(k.run.sandboxState, "killed")
      assert.deepStrictEqual(second.double.alive(), [])
      assert.include(second.double.calls, "Sandbox.connect")
    }))

  it.scopedLive("`kill` while the agent runs stops it through the store; its partial changes are kept", () =>
    Effect.gen(function*() {
      // One store connection for both sides: two connections in one event loop can deadlock on SQLite's
      // synchronous busy wait, which separate processes (the CLI tests) never do.
      const w = yield* world
      const p = w.process()
      yield* Effect.addFinalizer(() => Effect.sync(p.double.dispose))
      const script: ScriptedAgent.Script = { actions: [{ write: "partial.txt", content: "half\n" }, { hang: true }] }
      const result = yield* runIn(p.layer, (s) =>
        Effect.gen(function*() {
          const fiber = yield* Effect.fork(s.run(request(w, ScriptedAgent.prompt("long", script))))
          for (let i = 0;; i++) {
            const [r] = yield* s.list({})
            if (r !== undefined && r.status === "running" && fs.existsSync(r.eventsPath) && fs.readFileSync(r.eventsPath, "utf8").includes("tool_result")) {
              const k = yield* s.kill(r.sessionId, w.host)
              assert.strictEqual(k.action, "stopped")
              break
            }
            if (i > 300) return yield* Effect.die(new Error(`the agent never got going: ${JSON.stringify(r?.status)}`))
            yield* Effect.sleep("100 millis")
          }
          return yield* Fiber.join(fiber)
        }))
      assert.deepInclude(result.run, { status: "killed", sandboxState: "killed", filesAdded: 1 })
      assert.isTrue(fs.existsSync(path.join(result.worktreePath!, "partial.txt")))
      assert.deepStrictEqual(p.double.alive(), [])
    }))

  it.scopedLive("failure modes of the SDK: no key, a refused key, rate limiting, no capacity, a request timeout", () =>
    Effect.gen(function*() {
      const w = yield* world
      const noKey = w.process()
      const missing = yield* runIn(noKey.layer, (s) =>
        s.run(request(w, "x", { host: { ...w.host, env: { PATH: w.host.env.PATH } } }))).pipe(Effect.flip, Effect.map((x) => x as Failure))
      assert.strictEqual(missing._tag, "SandboxError")
      assert.match(missing.message, /E2B_API_KEY is not set/)
      assert.notInclude(noKey.double.calls, "Sandbox.create")

      const cases: ReadonlyArray<[Omit<E2BDouble.Options, "root">, Partial<Sandboxes.RunRequest>, string, RegExp]> = [
        [{}, { host: { ...w.host, env: { ...w.host.env, E2B_API_KEY: "e2b_wrong" } } }, "Authentication", /refused the credentials/],
        [{ fail: { create: "rateLimit" } }, {}, "RateLimited", /rate limiting/],
        [{ fail: { create: "busy" } }, {}, "Unavailable", /no capacity/],
        [{ fail: { create: "timeout" } }, {}, "Timeout", /timed out/]
      ]
      for (const [options, extra, reason, message] of cases) {
        const p = w.process(options)
        const e = yield* runIn(p.layer, (s) => s.run(request(w, "x", extra))).pipe(Effect.flip, Effect.map((x) => x as Failure))
        assert.strictEqual(e._tag, "SandboxError")
        assert.strictEqual(e.reason, reason)
        assert.match(e.message, message)
        const [run] = yield* runIn(p.layer, (s) => s.list({}))
        assert.deepInclude(run, { status: "failed", sandboxState: "none" })
        assert.deepStrictEqual(p.double.alive(), [])
      }
      const active = yield* Effect.flatMap(SessionStore.SessionStore, (s) => s.list({ mode: "sandbox" })).pipe(Effect.provide(w.process().layer))
      assert.deepStrictEqual(active, [], "every failed run released its session")
    }))

  it.scopedLive("a VM that dies mid-run ends the run as failed, recorded as killed; nothing is left", () =>
    Effect.gen(function*() {
      const w = yield* world
      const p = w.process({ dieAfterMs: 4000 })
      yield* Effect.addFinalizer(() => Effect.sync(p.double.dispose))
      const result = yield* runIn(p.layer, (s) =>
        s.run(request(w, ScriptedAgent.prompt("long", { actions: [{ say: "working" }, { hang: true }] })))).pipe(Effect.either)
      // Either the run records the failure (status failed) or the provider error surfaces; both are final.
      const [run] = yield* runIn(p.layer, (s) => s.list({}))
      assert.strictEqual(run!.status, "failed")
      assert.match(run!.error ?? "", /gone|killed|timed out/)
      assert.strictEqual(run!.sandboxState, "killed")
      assert.deepStrictEqual(p.double.alive(), [])
      if (result._tag === "Left") assert.strictEqual((result.left as Failure)._tag, "SandboxError")
    }))
})
