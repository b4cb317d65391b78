/**
 * The programs in examples/ run as a user runs them: `node` in a child process, importing the built
 * library (packages/core/dist, as `npm test` builds it), over a temp data directory and a temp repository.
 * scripts/pack-check.mjs runs the same programs against the packed and installed packages.
 */
import { ConflictRepo, Git, ScriptedAgent, TempDir } from "@parallel-cc/testkit"
import * as esbuild from "esbuild"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, assert, beforeAll, describe, it } from "vitest"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..")
const examples = path.join(root, "examples")

let base: string
let repo: ConflictRepo.ConflictRepo
beforeAll(() => {
  if (!fs.existsSync(path.join(root, "packages/core/dist/promise.js"))) {
    throw new Error("packages/core/dist is missing: build the library first (node scripts/build.mjs)")
  }
  base = TempDir.makeSync("pcc-examples-")
  repo = ConflictRepo.makeSync(base, {
    base: { "src/price.ts": "export const price = (n: number) => n * 1.0\n" },
    ours: { "src/price.ts": "export const price = (n: number) => n * 1.2\n" },
    theirs: { "src/price.ts": "export const price = (n: number) => Math.round(n * 1.1)\n" }
  })
})
afterAll(() => TempDir.removeSync(base))

const run = (file: string, args: ReadonlyArray<string>, env: Record<string, string> = {}) => {
  const r = spawnSync(process.execPath, [file, ...args], {
    cwd: base,
    encoding: "utf8",
    env: { ...Git.hermeticEnv(repo.home), PARALLEL_CC_DATA_DIR: path.join(base, "data"), ...env },
    timeout: 120_000
  })
  assert.strictEqual(r.status, 0, `${path.basename(file)} failed:\n${r.stdout}\n${r.stderr}`)
  return r.stdout.trim().split("\n")
}

describe("examples/", () => {
  it("promise-client.mjs: registers two sessions, is refused a claim, previews the conflict, releases", () => {
    const lines = run(path.join(examples, "promise-client.mjs"), [repo.root, "main", "feature"])
    assert.lengthOf(lines, 6, lines.join("\n"))
    assert.match(lines[0]!, new RegExp(`^session [a-z0-9]+: the repository ${repo.root}$`))
    assert.match(lines[1]!, /^session [a-z0-9]+: a worktree .*-worktrees\/parallel-[a-z0-9]+ on parallel-[a-z0-9]+$/)
    assert.match(lines[2]!, /^claim refused \(ClaimConflict\): README\.md is held by [a-z0-9]+$/)
    assert.strictEqual(lines[3], "feature conflicts with main in: src/price.ts")
    assert.match(lines[4]!, /^released [a-z0-9]+: worktree removed$/)
    assert.match(lines[5]!, /^released [a-z0-9]+: worktree main$/)
  })

  it("sandbox-task.mjs: a sandboxed run with the local provider, its changes in a review worktree", () => {
    const prompt = ScriptedAgent.prompt("Add a contributing guide", {
      actions: [{ write: "CONTRIBUTING.md", content: "# Contributing\n" }, { say: "Wrote CONTRIBUTING.md." }]
    })
    const lines = run(path.join(examples, "sandbox-task.mjs"), [repo.root, prompt], {
      PARALLEL_CC_AGENT: ScriptedAgent.path,
      PARALLEL_CC_SANDBOX_PROVIDER: "local",
      PARALLEL_CC_SANDBOX_LOCAL_ISOLATION: "process",
      PARALLEL_CC_SANDBOX_LOCAL_ROOT: path.join(base, "sandboxes")
    })
    assert.match(lines[0]!, /^sandbox: /)
    assert.include(lines, "  | assistant: Wrote CONTRIBUTING.md.")
    assert.match(lines.at(-3)!, /^run [a-z0-9]+: succeeded$/)
    assert.strictEqual(lines.at(-2), "changes: 1 added, 0 modified, 0 deleted")
    const worktree = /^review them in (.+) \(branch .+\)$/.exec(lines.at(-1)!)?.[1]
    assert.isDefined(worktree, lines.join("\n"))
    assert.strictEqual(fs.readFileSync(path.join(worktree!, "CONTRIBUTING.md"), "utf8"), "# Contributing\n")
  })

  it("effect-program.ts: a scoped session, the preview and the classified conflict", async () => {
    // What a TypeScript toolchain (tsx, tsc) does: strip the types; the imports resolve as in a project.
    const source = fs.readFileSync(path.join(examples, "effect-program.ts"), "utf8")
    const { code } = await esbuild.transform(source, { loader: "ts", format: "esm", target: "node20" })
    const dir = path.join(root, "node_modules", ".cache", "parallel-cc-examples")
    fs.mkdirSync(dir, { recursive: true })
    const file = path.join(dir, `effect-program-${process.pid}.mjs`)
    fs.writeFileSync(file, code)
    try {
      const lines = run(file, [repo.root, "main", "feature"])
      assert.lengthOf(lines, 2, lines.join("\n"))
      assert.match(lines[0]!, new RegExp(`^session [a-z0-9]+ works in ${repo.root}$`))
      assert.match(lines[1]!, /^src\/price\.ts: CONCURRENT_EDIT \((LOW|MEDIUM|HIGH)\) — .+/)
    } finally {
      fs.rmSync(file, { force: true })
    }
    // The scoped session was released when the program ended.
    const status = spawnSync(process.execPath, [path.join(root, "packages/cli/dist/bin.cjs"), "status", "--json"], {
      encoding: "utf8",
      env: { ...Git.hermeticEnv(repo.home), PARALLEL_CC_DATA_DIR: path.join(base, "data") }
    })
    assert.deepStrictEqual(JSON.parse(status.stdout).sessions, [])
  })
})
