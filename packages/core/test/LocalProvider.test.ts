import { assert, describe, it } from "@effect/vitest"
import { FileSync, LocalProvider } from "@parallel-cc/core"
import { Bubblewrap, ScriptedAgent, TempDir, TempRepo, TestConfig } from "@parallel-cc/testkit"
import { Effect, Layer, Stream } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Archive from "../src/sandboxes/archive.js"

const providerLayer = (dataDir: string, env: Record<string, string>) =>
  Layer.merge(LocalProvider.layer, FileSync.layer).pipe(Layer.provideMerge(TestConfig.layer(dataDir, env)))

const withProvider = <A, E>(
  env: Record<string, string>,
  f: (p: LocalProvider.LocalProvider["Type"], base: string) => Effect.Effect<A, E, import("effect").Scope.Scope | FileSync.FileSync>
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

describe("LocalProvider without bubblewrap", () => {
  it.scopedLive.skipIf(Bubblewrap.works)(
    `requiring bubblewrap where it does not work fails clearly${Bubblewrap.works ? " (skipped: bubblewrap works here)" : ""}`,
    () =>
      withProvider({ PARALLEL_CC_SANDBOX_LOCAL_ISOLATION: "bwrap" }, (provider) =>
        Effect.gen(function*() {
          const probed = yield* provider.probe.pipe(Effect.flip)
          assert.strictEqual(probed.reason, "Unavailable")
          assert.match(probed.message, /bubblewrap|bwrap/)
        }))
  )
})

for (const isolation of ["process", "bwrap"] as const) {
  const name = "uploads, runs an agent in the copy, lists its changes, and kill removes everything"
  describe(`LocalProvider (${isolation})`, () => {
    it.scopedLive.skipIf(isolation === "bwrap" && !Bubblewrap.works)(isolation === "bwrap" ? Bubblewrap.title(name) : `[process] ${name}`, () =>
      withProvider({ PARALLEL_CC_SANDBOX_LOCAL_ISOLATION: isolation }, (provider, base) =>
        Effect.gen(function*() {
          const probed = yield* provider.probe.pipe(Effect.either)
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

describe("LocalProvider uploadTree (the work tree copied as it is, no archive)", () => {
  it.scopedLive("copies exactly the listed work tree (links as links, modes kept, ignored files left out) and finds the changes against it", () =>
    withProvider({ PARALLEL_CC_SANDBOX_LOCAL_ISOLATION: "process" }, (provider) =>
      Effect.gen(function*() {
        const repo = yield* TempRepo.make({ files: { "README.md": "# r\n", ".gitignore": "dist/\n.env\n", "src/a.ts": "a\n", "bin/run": "#!/bin/sh\n" } })
        fs.chmodSync(path.join(repo.root, "bin/run"), 0o755)
        repo.write(".env", "SECRET=1\n")
        repo.write("dist/bundle.js", "built\n")
        repo.write("notes.md", "untracked, not ignored\n")
        fs.symlinkSync("src/a.ts", path.join(repo.root, "link-to-a"))
        fs.symlinkSync("/etc", path.join(repo.root, "etc-link"))
        fs.appendFileSync(path.join(repo.root, ".git", "info", "exclude"), "*.local\n")
        const sync = yield* FileSync.FileSync
        const listed = yield* sync.list(repo.root)
        assert.deepStrictEqual([...listed.files], [".gitignore", "README.md", "bin/run", "etc-link", "link-to-a", "notes.md", "src/a.ts"])
        assert.include(listed.excludes, "*.local")

        const sb = yield* provider.create({ runId: "tree", timeoutMs: 60_000, env: {}, metadata: {} })
        assert.isDefined(sb.uploadTree)
        const up = yield* sb.uploadTree!(repo.root, listed.files, { excludes: listed.excludes })
        assert.strictEqual(up.files, listed.files.length)
        assert.deepStrictEqual(yield* sb.listFiles, [...listed.files])
        const work = path.join(sb.id, "work")
        assert.isFalse(fs.existsSync(path.join(work, ".env")))
        assert.isFalse(fs.existsSync(path.join(work, "dist")))
        assert.strictEqual(fs.readlinkSync(path.join(work, "etc-link")), "/etc")
        assert.strictEqual(fs.readlinkSync(path.join(work, "link-to-a")), "src/a.ts")
        assert.strictEqual(fs.statSync(path.join(work, "bin/run")).mode & 0o777, 0o755)
        // The baseline holds ids only: blob objects are written for the two symlinks, for no file.
        const objects = path.join(sb.id, "meta", "baseline.git", "objects")
        assert.strictEqual(fs.readdirSync(objects).flatMap((d) => fs.readdirSync(path.join(objects, d))).length, 2)
        assert.deepStrictEqual(yield* sb.changes.pipe(Effect.map((c) => [c.added, c.modified, c.deleted])), [[], [], []])

        // Changes: content compared (a rewrite with the same bytes is no change), ignore rules of the copy
        // and of the repository's info/exclude apply to new files, a type change is a modification.
        fs.writeFileSync(path.join(work, "README.md"), "# r\n")
        fs.writeFileSync(path.join(work, "src/a.ts"), "a changed\n")
        fs.rmSync(path.join(work, "notes.md"))
        fs.rmSync(path.join(work, "link-to-a"))
        fs.writeFileSync(path.join(work, "link-to-a"), "now a file\n")
        fs.mkdirSync(path.join(work, "dist"))
        fs.writeFileSync(path.join(work, "dist/out.js"), "ignored\n")
        fs.writeFileSync(path.join(work, "machine.local"), "excluded by the repository\n")
        fs.writeFileSync(path.join(work, "src/new.ts"), "new\n")
        const c = yield* sb.changes
        assert.deepStrictEqual([c.added, c.modified, c.deleted], [["src/new.ts"], ["link-to-a", "src/a.ts"], ["notes.md"]])
        assert.isTrue(yield* provider.kill(sb.id))
      })
    ))

  it.scopedLive("refuses lists that would write outside the copy, and files that are gone", () =>
    withProvider({ PARALLEL_CC_SANDBOX_LOCAL_ISOLATION: "process" }, (provider, base) =>
      Effect.gen(function*() {
        const src = path.join(base, "src")
        const outside = path.join(base, "outside")
        fs.mkdirSync(src)
        fs.mkdirSync(outside)
        fs.writeFileSync(path.join(base, "secret.txt"), "outside the source\n")
        fs.writeFileSync(path.join(src, "ok.txt"), "ok\n")
        fs.symlinkSync(outside, path.join(src, "dir-link"))
        fs.mkdirSync(path.join(src, "sub"))
        fs.writeFileSync(path.join(src, "sub", "f.txt"), "f\n")
        const bad: Array<ReadonlyArray<string>> = [
          ["../secret.txt"],
          [path.join(base, "secret.txt")],
          [".git/config"],
          // A symlink to a directory, then a path beneath it: nothing is written through the link.
          ["dir-link", "dir-link/sub/f.txt"],
          ["missing.txt"]
        ]
        for (const files of bad) {
          const sb = yield* provider.create({ runId: "bad", timeoutMs: 60_000, env: {}, metadata: {} })
          const r = yield* sb.uploadTree!(src, files).pipe(Effect.either)
          assert.strictEqual(r._tag, "Left", files.join(", "))
          if (r._tag === "Left") assert.strictEqual(r.left.reason, "UploadFailed")
          assert.isTrue(yield* provider.kill(sb.id))
        }
        assert.deepStrictEqual(fs.readdirSync(outside), [])
        assert.deepStrictEqual(fs.readdirSync(base).sort(), ["data", "outside", "sandboxes", "secret.txt", "src"])
      })
    ))
})
