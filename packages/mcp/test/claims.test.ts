import { TempDir } from "@parallel-cc/testkit"
import * as path from "node:path"
import { afterEach, assert, describe, it } from "vitest"
import { world, type World } from "./harness.js"

const worlds: Array<World> = []
const make = (...args: Parameters<typeof world>) => {
  const w = world(...args)
  worlds.push(w)
  return w
}
afterEach(async () => {
  for (const w of worlds.splice(0)) await w.dispose()
})

describe("claim tools", () => {
  it("claim_file / list_file_claims / release_file between sessions in real worktrees, and `claims`", async () => {
    const w = make({ files: { "src/app.ts": "export const app = 1\n", "README.md": "# r\n" } })
    const main = w.register()
    const a = w.register()
    const b = w.register()
    const [sa, sb, sm] = await Promise.all([w.connect(a.worktreePath), w.connect(b.worktreePath), w.connect(w.repo.root)])

    const got = await sa.ok("claim_file", { path: "./src/../src/app.ts", reason: "renaming app" })
    assert.strictEqual(got.change, "acquired")
    assert.strictEqual(got.claim.mode, "EXCLUSIVE")
    assert.strictEqual(got.claim.filePath, "src/app.ts")
    assert.strictEqual(got.claim.sessionId, a.sessionId)
    assert.strictEqual(got.claim.branch, a.branch)

    // b asks for the same file by an absolute path into its own worktree: the same file, refused.
    const refused = await sb.fails("claim_file", { path: path.join(b.worktreePath, "src/app.ts"), mode: "SHARED" })
    assert.strictEqual(refused._tag, "ClaimConflict")
    assert.include(refused.message, a.sessionId)
    assert.include(refused.message, "EXCLUSIVE")

    const intent = await sb.ok("claim_file", { path: "src/app.ts", mode: "INTENT" })
    assert.strictEqual(intent.change, "acquired")
    assert.deepStrictEqual(intent.others.map((c: any) => c.sessionId), [a.sessionId])

    const listed = await sb.ok("list_file_claims", { path: "src/app.ts" })
    assert.strictEqual(listed.repoPath, w.repo.root)
    assert.strictEqual(listed.you, b.sessionId)
    assert.deepStrictEqual(
      listed.claims.map((c: any) => [c.sessionId, c.mode, c.isYours]),
      [[a.sessionId, "EXCLUSIVE", false], [b.sessionId, "INTENT", true]]
    )
    assert.strictEqual((await sm.ok("list_file_claims", { mine: true })).total, 0)
    assert.strictEqual((await sm.ok("list_file_claims", { sessionId: a.sessionId })).total, 1)

    const status = await sm.ok("get_parallel_status")
    const counts = Object.fromEntries(status.sessions.map((s: any) => [s.sessionId, s.claims]))
    assert.deepStrictEqual(counts, { [main.sessionId]: 0, [a.sessionId]: 1, [b.sessionId]: 1 })
    assert.deepStrictEqual((await sa.ok("get_my_session")).claims.map((c: any) => c.filePath), ["src/app.ts"])

    // The CLI sees the same ledger.
    const cli = w.cli(["claims", "--json"])
    assert.strictEqual(cli.code, 0, cli.stderr)
    assert.deepStrictEqual(JSON.parse(cli.stdout).claims.map((c: any) => [c.filePath, c.mode]), [["src/app.ts", "EXCLUSIVE"], ["src/app.ts", "INTENT"]])
    const bySession = JSON.parse(w.cli(["claims", "--session", b.sessionId, "--json"]).stdout)
    assert.deepStrictEqual(bySession.claims.map((c: any) => c.mode), ["INTENT"])
    const byFile = JSON.parse(w.cli(["claims", "--repo", w.repo.root, "--file", "./src/app.ts", "--json"]).stdout)
    assert.lengthOf(byFile.claims, 2)
    const human = w.cli(["claims"], w.repo.root)
    assert.include(human.stdout, "src/app.ts")
    assert.include(human.stdout, a.branch!)
    assert.include(human.stdout, "renaming app")

    // a escalation path: b goes SHARED only after a downgrades; then a cannot escalate back.
    assert.strictEqual((await sa.ok("claim_file", { path: "src/app.ts", mode: "SHARED" })).change, "downgraded")
    assert.strictEqual((await sb.ok("claim_file", { path: "src/app.ts", mode: "SHARED" })).change, "escalated")
    assert.strictEqual((await sa.fails("claim_file", { path: "src/app.ts" }))._tag, "ClaimConflict")

    const rel = await sa.ok("release_file", { path: "src/app.ts" })
    assert.deepStrictEqual(rel.released.map((c: any) => [c.filePath, c.releaseReason]), [["src/app.ts", "released"]])
    assert.strictEqual((await sb.ok("claim_file", { path: "src/app.ts" })).change, "escalated")
    await sb.ok("claim_file", { path: "README.md", mode: "SHARED" })
    const all = await sb.ok("release_file", { all: true })
    assert.sameMembers(all.released.map((c: any) => c.filePath), ["src/app.ts", "README.md"])
    assert.strictEqual((await sm.ok("list_file_claims")).total, 0)
    assert.strictEqual(w.cli(["claims"]).stdout.trim(), "No active claims.")

    // Ending a session (here `parallel-cc release`, as the wrapper does when its agent exits) ends its claims.
    await sa.ok("claim_file", { path: "src/app.ts" })
    const released = w.cli(["release", "--session-id", a.sessionId, "--force", "--json"])
    assert.strictEqual(released.code, 0, released.stderr)
    assert.deepStrictEqual(JSON.parse(w.cli(["claims", "--json"]).stdout).claims, [])
    assert.strictEqual((await sb.ok("claim_file", { path: "src/app.ts" })).change, "acquired")
    assert.strictEqual((await sa.fails("claim_file", { path: "src/app.ts" }))._tag, "NoCallingSession")
  })

  it("bad inputs are tool errors, for every claim tool", async () => {
    const w = make()
    const a = w.register()
    const s = await w.connect(a.worktreePath)
    const invalid = async (name: string, args: Record<string, unknown>) =>
      assert.include((await s.fails(name, args)).text, "Input validation error", `${name} ${JSON.stringify(args)}`)

    await invalid("claim_file", {})
    await invalid("claim_file", { path: "" })
    await invalid("claim_file", { path: "a.ts", mode: "BOGUS" })
    await invalid("claim_file", { path: "a.ts", ttlMinutes: 0 })
    await invalid("claim_file", { path: "a.ts", ttlMinutes: 1.5 })
    await invalid("claim_file", { path: "a.ts", ttlMinutes: 1e9 })
    await invalid("claim_file", { path: "a.ts", reason: "x".repeat(501) })
    await invalid("claim_file", { path: ["a.ts"] })
    await invalid("claim_file", { path: "a.ts", session: "other" })
    await invalid("release_file", { path: 3 })
    await invalid("list_file_claims", { mine: "yes" })

    const outside = await s.fails("claim_file", { path: "../../etc/passwd" })
    assert.deepInclude(outside, { _tag: "ClaimError", reason: "OutsideRepo" })
    assert.strictEqual((await s.fails("claim_file", { path: "/etc/passwd" })).reason, "OutsideRepo")
    assert.strictEqual((await s.fails("claim_file", { path: ".git/config" })).reason, "InvalidPath")
    assert.strictEqual((await s.fails("claim_file", { path: "." })).reason, "InvalidPath")
    assert.strictEqual((await s.fails("claim_file", { path: "a\u0000b" })).reason, "InvalidPath")

    assert.strictEqual((await s.fails("release_file", {}))._tag, "InvalidInput")
    assert.strictEqual((await s.fails("release_file", { path: "a.ts", all: true }))._tag, "InvalidInput")
    assert.strictEqual((await s.fails("release_file", { path: "never-claimed.ts" }))._tag, "ClaimNotFound")
    assert.strictEqual((await s.fails("list_file_claims", { sessionId: "NOT VALID" }))._tag, "InvalidInput")
    assert.strictEqual((await s.fails("list_file_claims", { repo: "/no/such/repo" }))._tag, "InvalidInput")
    assert.strictEqual((await s.fails("list_file_claims", { path: "/etc/passwd" })).reason, "OutsideRepo")

    // Without a session: acting tools fail, listing works.
    const outsideDir = TempDir.makeSync()
    try {
      const anon = await w.connect(outsideDir)
      assert.strictEqual((await anon.fails("claim_file", { path: "a.ts" }))._tag, "NoCallingSession")
      assert.strictEqual((await anon.fails("release_file", { all: true }))._tag, "NoCallingSession")
      assert.strictEqual((await anon.fails("list_file_claims", { mine: true }))._tag, "NoCallingSession")
      assert.strictEqual((await anon.fails("list_file_claims", { path: "a.ts" }))._tag, "InvalidInput")
      assert.strictEqual((await anon.ok("list_file_claims", { repo: w.repo.root })).total, 0)
    } finally {
      TempDir.removeSync(outsideDir)
    }
    // The server survived all of it.
    assert.strictEqual((await s.ok("claim_file", { path: "a.ts" })).change, "acquired")
  })

  it("claim races between separate server processes: exactly one EXCLUSIVE winner", async () => {
    const w = make()
    const sessions = Array.from({ length: 6 }, () => w.register())
    const servers = await Promise.all(sessions.map((s) => w.connect(s.worktreePath)))
    for (let round = 0; round < 3; round++) {
      const file = `race-${round}.ts`
      const results = await Promise.all(servers.map((s) => s.call("claim_file", { path: file })))
      const winners = results.filter((r) => r.isError !== true)
      assert.lengthOf(winners, 1, `round ${round}`)
      for (const r of results.filter((r) => r.isError === true)) {
        assert.strictEqual((r._meta as any)["parallel-cc/error"]._tag, "ClaimConflict")
      }
    }
    // Mixed SHARED and EXCLUSIVE at once: either one EXCLUSIVE and no SHARED, or SHARED only.
    const mixed = await Promise.all(servers.map((s, i) => s.call("claim_file", { path: "mixed.ts", mode: i % 2 === 0 ? "SHARED" : "EXCLUSIVE" })))
    const granted = mixed.filter((r) => r.isError !== true).map((r) => (r.structuredContent as any).claim.mode)
    const exclusive = granted.filter((m) => m === "EXCLUSIVE").length
    const shared = granted.filter((m) => m === "SHARED").length
    assert.isTrue((exclusive === 1 && shared === 0) || (exclusive === 0 && shared === 3), JSON.stringify(granted))
    const listed = await servers[0]!.ok("list_file_claims", { path: "mixed.ts" })
    assert.strictEqual(listed.total, granted.length)
  })
})
