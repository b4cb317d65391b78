import { assert, describe, it } from "@effect/vitest"
import { FileSync, Git, SandboxRuns } from "@parallel-cc/core"
import { TempDir, TestConfig } from "@parallel-cc/testkit"
import { Effect, Layer } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { freshState, type Plan } from "../src/parallel/ParallelModel.js"
import * as ParallelResults from "../src/parallel/ParallelResults.js"
import { makeRunCache } from "../src/sandboxes/runCache.js"

const planFor = (outputDir: string): Plan => ({
  runId: "runid00001",
  repoPath: "/repo",
  baseCommit: null,
  outputDir,
  maxConcurrent: 2,
  prepareAhead: true,
  failFast: false,
  retries: 0,
  retryDelayMs: 0,
  options: {
    provider: null, agent: null, template: null, timeoutMs: null, authMethod: null, gitUser: null, gitEmail: null,
    branch: null, useTemplate: null, budgetUsd: null, gitLive: null, network: null, allowHosts: []
  },
  run: {},
  gitLive: undefined,
  host: { env: {}, homeDir: "/home/u", cwd: "/repo" },
  history: [],
  resumedFrom: null,
  cache: makeRunCache()
})

const modes = (dir: string): Record<string, string> => {
  const out: Record<string, string> = {}
  const walk = (d: string) => {
    for (const name of fs.readdirSync(d)) {
      const p = path.join(d, name)
      const st = fs.statSync(p)
      out[path.relative(dir, p) + (st.isDirectory() ? "/" : "")] = (st.mode & 0o777).toString(8)
      if (st.isDirectory()) walk(p)
    }
  }
  walk(dir)
  return out
}

describe("ParallelResults", () => {
  it.scopedLive("results hold prompts: the output directory (even one made at 0755 beforehand) and task folders are 0700, files 0600", () =>
    Effect.gen(function*() {
      const base = yield* TempDir.make()
      const out = path.join(base, "results")
      fs.mkdirSync(out, { mode: 0o755 })
      fs.chmodSync(out, 0o755)
      yield* ParallelResults.prepareOutput(out, false)
      assert.strictEqual(fs.statSync(out).mode & 0o777, 0o700)
      const notEmpty = yield* ParallelResults.prepareOutput(out, false).pipe(Effect.flip)
      assert.strictEqual(notEmpty.reason, "OutputDirNotEmpty")
      yield* ParallelResults.prepareOutput(out, true)

      const layer = Layer.mergeAll(SandboxRuns.layer, FileSync.layer).pipe(Layer.provideMerge(TestConfig.layer(path.join(base, "data"))))
      const results = yield* Effect.gen(function*() {
        return ParallelResults.make({ git: yield* Git.Git, runs: yield* SandboxRuns.SandboxRuns, fileSync: yield* FileSync.FileSync })
      }).pipe(Effect.provide(layer))
      const plan = planFor(out)
      const task = { ...freshState({ id: "task-1", prompt: "secret plans for the product", dependsOn: [] }), status: "failed" as const, error: "x" }
      const saved = yield* results.save(plan, task)
      assert.strictEqual(saved.prompt, "secret plans for the product")
      yield* ParallelResults.writeSummary(plan, ParallelResults.summarize(plan, [{ ...task, saved }], "failed", 0, 10, true))
      assert.deepStrictEqual(modes(out), {
        ".gitignore": "600",
        "summary.json": "600",
        "summary-report.md": "600",
        "task-1/": "700",
        "task-1/result.json": "600"
      })
      const summary = JSON.parse(fs.readFileSync(path.join(out, "summary.json"), "utf8"))
      assert.deepInclude(summary.totals, { tasks: 1, failed: 1 })
    }))

  it.scopedLive("a task's patch and its changed files come from one git diff: the patch is byte for byte the plain diff, the files are every changed path", () =>
    Effect.gen(function*() {
      const base = yield* TempDir.make()
      const repo = path.join(base, "repo")
      fs.mkdirSync(repo)
      const env = { ...process.env, GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null", GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@t", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@t" }
      const git = (...args: Array<string>) => execFileSync("git", args, { cwd: repo, env, encoding: "utf8" })
      git("init", "-q", "-b", "main")
      fs.writeFileSync(path.join(repo, "x y.txt"), "a\n")
      fs.writeFileSync(path.join(repo, "q\"é.txt"), "b\n")
      fs.writeFileSync(path.join(repo, "keep.txt"), "k\n")
      git("add", "-A")
      git("commit", "-q", "-m", "init")
      const head = git("rev-parse", "HEAD").trim()
      git("worktree", "add", "-q", "-b", "t", path.join(base, "wt"), head)
      const wt = path.join(base, "wt")
      fs.appendFileSync(path.join(wt, "x y.txt"), "c\n")
      fs.rmSync(path.join(wt, "q\"é.txt"))
      fs.writeFileSync(path.join(wt, "new\ttab.bin"), Buffer.from([0, 1, 2, 255]))
      fs.mkdirSync(path.join(wt, "dir"))
      fs.writeFileSync(path.join(wt, "dir", ":colon"), "z\n")

      const results = yield* Effect.gen(function*() {
        return ParallelResults.make({ git: yield* Git.Git, runs: yield* SandboxRuns.SandboxRuns, fileSync: yield* FileSync.FileSync })
      }).pipe(Effect.provide(Layer.mergeAll(SandboxRuns.layer, FileSync.layer).pipe(Layer.provideMerge(TestConfig.layer(path.join(base, "data"))))))
      const statusBefore = execFileSync("git", ["status", "--porcelain=v2"], { cwd: wt, env, encoding: "utf8" })
      const got = yield* results.patchOf(wt, head)
      // The plain diff, staged the same way in an index of its own.
      const index = path.join(base, "plain.index")
      const ienv = { ...env, GIT_INDEX_FILE: index }
      execFileSync("git", ["read-tree", "HEAD"], { cwd: wt, env: ienv })
      execFileSync("git", ["add", "-A", "--", "."], { cwd: wt, env: ienv })
      const plain = execFileSync("git", ["diff", "--cached", "--binary", "--no-color", "--no-ext-diff", "--no-renames", head, "--"], { cwd: wt, env: ienv, encoding: "utf8" })
      assert.strictEqual(got.patch, plain)
      assert.deepStrictEqual([...(got.files ?? [])].sort(), ["dir/:colon", "new\ttab.bin", "q\"é.txt", "x y.txt"])
      // The worktree's own index is untouched.
      assert.strictEqual(execFileSync("git", ["status", "--porcelain=v2"], { cwd: wt, env, encoding: "utf8" }), statusBefore)
      // Nothing changed: an empty patch and no files; output that is not a raw listing is refused.
      assert.deepStrictEqual(ParallelResults.splitRawPatch(""), { patch: "", files: new Set<string>() })
      assert.isUndefined(ParallelResults.splitRawPatch("diff --git a/x b/x\n"))
      assert.isUndefined(ParallelResults.splitRawPatch(":100644 100644 a b M\0x\0"))
    }))
})
