import { assert, describe, it } from "@effect/vitest"
import { LocalProvider } from "@parallel-cc/core"
import { ScriptedAgent, TempDir, TestConfig } from "@parallel-cc/testkit"
import { Effect, Layer, Stream } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Archive from "../src/internal/archive.js"

const providerLayer = (dataDir: string, env: Record<string, string>) =>
  LocalProvider.layer.pipe(Layer.provideMerge(TestConfig.layer(dataDir, env)))

const withProvider = <A, E>(
  env: Record<string, string>,
  f: (p: LocalProvider.LocalProvider["Type"], base: string) => Effect.Effect<A, E, import("effect").Scope.Scope>
) =>
  Effect.gen(function*() {
    const base = yield* TempDir.make()
    const root = path.join(base, "sandboxes")
    return yield* Effect.flatMap(LocalProvider.LocalProvider, (p) => f(p, base)).pipe(
      Effect.provide(providerLayer(path.join(base, "data"), { PARALLEL_CC_SANDBOX_LOCAL_ROOT: root, ...env }))
    )
  })

const sourceTree = (dir: string) => {
  fs.mkdirSync(path.join(dir, "src"), { recursive: true })
  fs.writeFileSync(path.join(dir, "README.md"), "# hello\n")
  fs.writeFileSync(path.join(dir, "src/a.ts"), "export const a = 1\n")
  fs.writeFileSync(path.join(dir, "old.txt"), "remove me\n")
  fs.writeFileSync(path.join(dir, ".gitignore"), "dist/\n")
  return ["README.md", "src/a.ts", "old.txt", ".gitignore"]
}

const agentEnv = { PATH: process.env.PATH ?? "/usr/bin:/bin", PARALLEL_CC_SANDBOX: "1" }

const runAgent = (sb: import("@parallel-cc/core").SandboxProvider.Sandbox, script: ScriptedAgent.Script) =>
  Effect.scoped(Effect.gen(function*() {
    const proc = yield* sb.start({ argv: [ScriptedAgent.path], env: agentEnv, stdin: ScriptedAgent.prompt("edit things", script) })
    const out = yield* proc.stdout.pipe(Stream.runCollect)
    const exit = yield* proc.exit
    return { exit, out: [...out] }
  }))

for (const isolation of ["process", "bwrap"] as const) {
  describe(`LocalProvider (${isolation})`, () => {
    it.scopedLive("uploads, runs an agent in the copy, lists its changes, and kill removes everything", () =>
      withProvider({ PARALLEL_CC_SANDBOX_LOCAL_ISOLATION: isolation }, (provider, base) =>
        Effect.gen(function*() {
          const probed = yield* provider.probe.pipe(Effect.either)
          if (isolation === "bwrap" && probed._tag === "Left") {
            // No usable bubblewrap on this machine: requiring it must fail clearly.
            assert.strictEqual(probed.left.reason, "Unavailable")
            assert.match(probed.left.message, /bubblewrap|bwrap/)
            return
          }
          assert.strictEqual(probed._tag, "Right")
          const src = path.join(base, "src")
          fs.mkdirSync(src)
          const files = sourceTree(src)
          const archive = yield* Effect.promise(() => Archive.pack(src, files))
          const sb = yield* provider.create({
            runId: "t1",
            timeoutMs: 60_000,
            env: {},
            metadata: {},
            hostExecutables: [ScriptedAgent.path]
          })
          assert.strictEqual(sb.isolation.kind, isolation)
          assert.isTrue(sb.id.startsWith(path.join(base, "sandboxes", LocalProvider.dirPrefix)))
          const up = yield* sb.upload(archive)
          assert.strictEqual(up.files, 4)
          assert.deepStrictEqual(yield* sb.listFiles, [".gitignore", "README.md", "old.txt", "src/a.ts"])

          const { exit, out } = yield* runAgent(sb, {
            actions: [
              { write: "src/new.ts", content: "export const n = 2\n" },
              { edit: "README.md", find: "hello", replace: "hello sandbox" },
              { delete: "old.txt" },
              { write: "dist/bundle.js", content: "ignored build output\n" }
            ]
          })
          assert.deepStrictEqual(exit, { exitCode: 0 })
          const events = out.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l))
          assert.strictEqual(events[0].type, "system")
          assert.strictEqual(events.at(-1).type, "result")
          assert.strictEqual(events[0].cwd, sb.workdir)

          const changes = yield* sb.changes
          assert.deepStrictEqual(changes.added, ["src/new.ts"])
          assert.deepStrictEqual(changes.modified, ["README.md"])
          assert.deepStrictEqual(changes.deleted, ["old.txt"])
          const read = yield* Effect.promise(() => Archive.read(changes.archive))
          assert.deepStrictEqual(read.map((e) => e.path).sort(), ["README.md", "src/new.ts"])

          // Another process would find it by id.
          const again = yield* provider.connect(sb.id)
          assert.deepStrictEqual((yield* again.changes).added, ["src/new.ts"])
          assert.strictEqual(yield* provider.state(sb.id), "stopped")
          assert.lengthOf(yield* provider.list, 1)

          assert.isTrue(yield* provider.kill(sb.id))
          assert.isFalse(fs.existsSync(sb.id))
          assert.strictEqual(yield* provider.state(sb.id), "gone")
          assert.isFalse(yield* provider.kill(sb.id))
        })
      ))
  })
}
