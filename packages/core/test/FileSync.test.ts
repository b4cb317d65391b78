import { assert, describe, it } from "@effect/vitest"
import { FileSync, Git } from "@parallel-cc/core"
import { Tar, TempDir, TempRepo, TestConfig } from "@parallel-cc/testkit"
import { Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Archive from "../src/sandboxes/archive.js"

const layer = (dataDir: string) => FileSync.layer.pipe(Layer.provideMerge(TestConfig.layer(dataDir)))

const withSync = <A, E>(f: (s: FileSync.FileSync["Type"], base: string) => Effect.Effect<A, E, import("effect").Scope.Scope | Git.Git>) =>
  Effect.gen(function*() {
    const base = yield* TempDir.make()
    return yield* Effect.flatMap(FileSync.FileSync, (s) => f(s, base)).pipe(Effect.provide(layer(path.join(base, "data"))))
  })

const changes = (archive: Uint8Array, deleted: ReadonlyArray<string> = []) => ({
  archive,
  added: [],
  modified: [],
  deleted,
  refused: []
})

describe("FileSync", () => {
  it.scopedLive("packs tracked and untracked-not-ignored files, never ignored build output", () =>
    withSync((sync) =>
      Effect.gen(function*() {
        const repo = yield* TempRepo.make({ files: { "README.md": "# r\n", ".gitignore": "dist/\n*.log\n", "src/a.ts": "a\n" } })
        repo.write("dist/bundle.js", "built\n")
        repo.write("debug.log", "noise\n")
        repo.write("notes.md", "untracked, not ignored\n")
        repo.write("src/a.ts", "a changed, uncommitted\n")
        fs.symlinkSync("src/a.ts", path.join(repo.root, "link-to-a"))
        fs.rmSync(path.join(repo.root, "README.md"))
        const packed = yield* sync.pack(repo.root)
        assert.deepStrictEqual([...packed.files].sort(), [".gitignore", "link-to-a", "notes.md", "src/a.ts"])
        const entries = yield* Effect.promise(() => Archive.read(packed.archive))
        const byPath = Object.fromEntries(entries.map((e) => [e.path, e]))
        assert.strictEqual(byPath["link-to-a"]?.type, "SymbolicLink")
        assert.strictEqual(new TextDecoder().decode(byPath["src/a.ts"]?.body), "a changed, uncommitted\n")
      })
    ))

  it.scopedLive("uploads an initialised submodule's files with the rest; an uninitialised one is reported", () =>
    withSync((sync, base) =>
      Effect.gen(function*() {
        const lib = TempRepo.makeSync(path.join(base, "lib"), { files: { "lib.txt": "lib\n", ".gitignore": "out/\n" } })
        const repo = yield* TempRepo.make({ files: { "README.md": "# r\n" } })
        repo.git(["-c", "protocol.file.allow=always", "submodule", "add", "-q", lib.root, "libs/lib"])
        repo.git(["-c", "protocol.file.allow=always", "submodule", "add", "-q", lib.root, "libs/other"])
        repo.commitAll("submodules")
        repo.git(["submodule", "deinit", "-q", "libs/other"])
        repo.write("libs/lib/out/build.bin", "ignored in the submodule\n")
        repo.write("libs/lib/new.txt", "untracked in the submodule\n")
        const listed = yield* sync.list(repo.root)
        assert.includeMembers([...listed.files], ["libs/lib/lib.txt", "libs/lib/.gitignore", "libs/lib/new.txt", "README.md"])
        assert.notInclude([...listed.files], "libs/lib/out/build.bin")
        assert.deepStrictEqual([...listed.skipped], ["libs/other"])
      })
    ))

  it.scopedLive("applies good entries and refuses every path that would land outside the target", () =>
    withSync((sync, base) =>
      Effect.gen(function*() {
        const target = path.join(base, "target")
        const outside = path.join(base, "outside")
        fs.mkdirSync(path.join(target, "docs"), { recursive: true })
        fs.mkdirSync(outside)
        fs.writeFileSync(path.join(target, "gone.txt"), "delete me\n")
        // A symlink already in the target that points outside it: nothing may be written through it.
        fs.symlinkSync(outside, path.join(target, "escape-dir"))
        // Deleting a symlink removes the link, never what it points to.
        fs.writeFileSync(path.join(outside, "keep.txt"), "outside\n")
        fs.symlinkSync(path.join(outside, "keep.txt"), path.join(target, "link-del"))
        const archive = Tar.make([
          { path: "ok.txt", content: "fine\n" },
          { path: "sub/dir/ok2.txt", content: "nested\n", mode: 0o755 },
          { path: "../evil.txt", content: "x" },
          { path: "/tmp/abs-evil.txt", content: "x" },
          { path: "a/../../evil2.txt", content: "x" },
          { path: ".git/hooks/post-checkout", content: "#!/bin/sh\nexit 1\n" },
          { path: "sub/.GIT/config", content: "x" },
          { path: "link-out", type: "2", linkpath: "/etc/passwd" },
          { path: "link-up", type: "2", linkpath: "../../outside" },
          { path: "link-in", type: "2", linkpath: "ok.txt" },
          { path: "link-in/through.txt", content: "x" },
          { path: "hard", type: "1", linkpath: "/etc/passwd" },
          { path: "dev", type: "3" },
          { path: "escape-dir/pwned.txt", content: "x" },
          { path: "ok.txt", content: "duplicate" }
        ])
        const applied = yield* sync.apply(changes(archive, ["gone.txt", "../outside/victim", "link-del"]), target)
        assert.deepStrictEqual([...applied.written].sort(), ["link-in", "ok.txt", "sub/dir/ok2.txt"])
        assert.deepStrictEqual([...applied.deleted].sort(), ["gone.txt", "link-del"])
        const refused = new Set(applied.refused.map((r) => r.path))
        for (
          const p of [
            "../evil.txt",
            "/tmp/abs-evil.txt",
            "a/../../evil2.txt",
            ".git/hooks/post-checkout",
            "sub/.GIT/config",
            "link-out",
            "link-up",
            "link-in/through.txt",
            "hard",
            "dev",
            "escape-dir/pwned.txt",
            "../outside/victim"
          ]
        ) assert.isTrue(refused.has(p), `${p} should be refused: ${JSON.stringify(applied.refused)}`)
        assert.strictEqual(fs.readFileSync(path.join(target, "ok.txt"), "utf8"), "fine\n")
        assert.strictEqual(fs.statSync(path.join(target, "sub/dir/ok2.txt")).mode & 0o777, 0o755)
        assert.strictEqual(fs.readlinkSync(path.join(target, "link-in")), "ok.txt")
        assert.deepStrictEqual(fs.readdirSync(outside), ["keep.txt"])
        assert.isFalse(fs.existsSync(path.join(base, "evil.txt")))
        assert.isFalse(fs.existsSync(path.join(path.dirname(base), "evil2.txt")))
        assert.isFalse(fs.existsSync("/tmp/abs-evil.txt"))
        assert.isFalse(fs.existsSync(path.join(target, ".git")))
      })
    ))

  it.scopedLive("a corrupt or truncated archive applies nothing", () =>
    withSync((sync, base) =>
      Effect.gen(function*() {
        const target = path.join(base, "t")
        const good = Tar.make([{ path: "a.txt", content: "a".repeat(5000) }])
        const r = yield* sync.apply(changes(good.slice(0, 40)), target).pipe(Effect.either)
        assert.strictEqual(r._tag, "Left")
        if (r._tag === "Left") assert.strictEqual(r.left.reason, "BadArchive")
        assert.isFalse(fs.existsSync(path.join(target, "a.txt")))
      })
    ))

  it("round-trips long paths and symlinks through the change archive", async () => {
    const long = `${"d".repeat(80)}/${"e".repeat(80)}/file-${"f".repeat(60)}.txt`
    const archive = await Archive.packEntries([
      { kind: "file", path: long, executable: false, body: new TextEncoder().encode("deep\n") },
      { kind: "symlink", path: "l", target: long }
    ])
    const checked = Archive.check(await Archive.read(archive))
    assert.deepStrictEqual(checked.refused, [])
    assert.deepStrictEqual(checked.entries.map((e) => e.path), [long, "l"])
  })
})
