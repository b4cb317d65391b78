import { assert, describe, it } from "@effect/vitest"
import { Git } from "@parallel-cc/core"
import { TempDir, TestConfig } from "@parallel-cc/testkit"
import { Effect } from "effect"
import { spawnSync } from "node:child_process"
import * as path from "node:path"

/** git's own verdict on a branch name (both forms checkBranchName asks about). */
const gitAccepts = (name: string) => {
  const b = spawnSync("git", ["check-ref-format", "--branch", name], { encoding: "utf8" })
  const r = spawnSync("git", ["check-ref-format", `refs/heads/${name}`], { encoding: "utf8" })
  return b.status === 0 && b.stdout.trim() === name && r.status === 0
}

const names = [
  "parallel-g7fleg3k2r",
  "feature/w1",
  "fix-123",
  "a_b/c-d/e",
  "UPPER_case",
  "HEAD",
  "head",
  "a.b",
  "a..b",
  ".hidden",
  "x.lock",
  "a//b",
  "a/",
  "/a",
  "a@{1}",
  "@",
  "-x",
  "x~1",
  "x^",
  "x:y",
  "x?",
  "x*",
  "x[1]",
  "a--b",
  "a-/b",
  "_"
]

describe("Git.checkBranchName", () => {
  it("the names accepted without asking git are all names git accepts", () => {
    for (const n of names) {
      if (Git.plainBranchName.test(n) && n !== "HEAD") assert.isTrue(gitAccepts(n), n)
    }
  })

  it.scopedLive("agrees with git check-ref-format, with and without the shortcut", () =>
    Effect.gen(function*() {
      const base = yield* TempDir.make()
      yield* Effect.gen(function*() {
        const git = yield* Git.Git
        for (const n of names) {
          const ours = yield* git.checkBranchName(n).pipe(Effect.either)
          assert.strictEqual(ours._tag === "Right", gitAccepts(n), n)
        }
      }).pipe(Effect.provide(TestConfig.layer(path.join(base, "data"))))
    }))
})
