import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, assert, describe, it } from "vitest"
import { plainBranchName } from "../src/platform/Git.js"
import * as RepoLock from "../src/platform/repoLock.js"
import { runColumns } from "../src/sandboxes/runRows.js"
import { SandboxRun } from "../src/sandboxes/SandboxRuns.js"
import { RELEASE_IN_PROGRESS } from "../src/sessions/SessionStore.js"
import { INCLUDE_FILE } from "../src/sessions/worktreeInclude.js"
import { SESSION_MARKER } from "../src/sessions/WorktreeProvider.js"

// The Effect-free start-up paths read and write the store without the services' code; these keep them in
// step and free of Effect. Their behaviour is tested through the built CLI next to the services
// (packages/cli/test/fast-path.test.ts).
const src = (p: string) => fs.readFileSync(path.join(__dirname, "../src", p), "utf8")
const imports = (source: string) => [...source.matchAll(/^import .* from "([^"]+)"/gm)].map((m) => m[1]).sort()

describe("FastPath, FastProvider, ClaimsSnapshot, RunsSnapshot", () => {
  it("import no Effect code (that is what keeps a start near a bare Node start)", () => {
    const plain = (p: string): Array<string> => {
      const deps = imports(src(p)).filter((d): d is string => d !== undefined)
      for (const d of deps) assert.match(d, /^(node:|better-sqlite3$|\.)/, `${p} imports ${d}`)
      return deps.filter((d) => d.startsWith(".")).map((d) => path.join(path.dirname(p), d).replace(/\.js$/, ".ts"))
    }
    const seen = new Set<string>()
    const queue = ["sessions/FastPath.ts", "sessions/FastProvider.ts", "coordination/ClaimsSnapshot.ts", "coordination/OverlapsSnapshot.ts", "sandboxes/RunsSnapshot.ts"]
    while (queue.length > 0) {
      const p = queue.shift()!
      if (seen.has(p)) continue
      seen.add(p)
      queue.push(...plain(p))
    }
    assert.includeMembers([...seen], ["platform/repoLock.ts", "platform/configSnapshot.ts", "sandboxes/runRows.ts"])
  })

  it("share the services' markers and rules", () => {
    const fast = src("sessions/FastPath.ts")
    assert.include(fast, `const RELEASE_IN_PROGRESS = "${RELEASE_IN_PROGRESS}"`)
    assert.include(fast, `const INCLUDE_FILE = "${INCLUDE_FILE}"`)
    assert.include(fast, `const plainBranchName = ${plainBranchName.toString()}`)
    assert.include(src("sessions/FastProvider.ts"), `export const SESSION_MARKER = "${SESSION_MARKER}"`)
    assert.include(src("sessions/FastProvider.ts"), `${plainBranchName.toString()}.test(name)`)
    // Every field of a run has its column, in the order the JSON shows them.
    assert.deepStrictEqual(Object.keys(runColumns), Object.keys(SandboxRun.fields))
  })
})

describe("RepoLock: the repository's worktree lock waits in the kernel", () => {
  const dirs: Array<string> = []
  afterEach(() => {
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true })
  })

  it.skipIf(process.platform !== "linux")("is exclusive across processes, waits, and is dropped when its holder dies (Linux: flock)", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pcc-lock-"))
    dirs.push(dir)
    // Another process (one process: `exec` keeps the descriptor) takes the lock and keeps it until killed.
    const file = path.join(dir, RepoLock.LOCK_FILE)
    const holder = spawn("sh", ["-c", 'exec 9>>"$0"; flock -x 9; exec sleep 300', file], { stdio: "ignore" })
    for (let i = 0; i < 500 && !fs.existsSync(file); i++) await new Promise((r) => setTimeout(r, 10))
    // Not before it is free: a bounded wait times out, holding nothing.
    let taken: RepoLock.Outcome | undefined
    for (let i = 0; i < 100; i++) {
      taken = RepoLock.acquireSync(dir, 50)
      if (taken._tag === "TimedOut") break
      if (taken._tag === "Held") RepoLock.release(taken.held)
      await new Promise((r) => setTimeout(r, 20))
    }
    assert.strictEqual(taken?._tag, "TimedOut")
    // A waiter is woken when the holder dies (SIGKILL: it never unlocks).
    const waiting = RepoLock.acquire(dir, 60_000)
    holder.kill("SIGKILL")
    const got = await waiting
    assert.strictEqual(got._tag, "Held")
    // Now ours: an interrupted wait gives up and leaves nothing held.
    const abort = new AbortController()
    const second = RepoLock.acquire(dir, 60_000, abort.signal)
    abort.abort()
    assert.strictEqual((await second)._tag, "TimedOut")
    if (got._tag === "Held") RepoLock.release(got.held)
    const third = RepoLock.acquireSync(dir, 1000)
    assert.strictEqual(third._tag, "Held")
    if (third._tag === "Held") RepoLock.release(third.held)
  })
})
