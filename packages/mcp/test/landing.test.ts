import { afterEach, assert, describe, it } from "vitest"
import { world, type World } from "./harness.js"

const worlds: Array<World> = []
afterEach(async () => {
  for (const w of worlds.splice(0)) await w.dispose()
})

describe("landing tools", () => {
  it("request_land queues the caller's branch; get_land_status reports it landed, or sent back with the test's output", async () => {
    const w = world({ files: { "README.md": "# r\n", "check.mjs": "import fs from 'node:fs'\nif (fs.existsSync('BROKEN')) { console.log('BROKEN exists'); process.exit(2) }\n" } })
    worlds.push(w)
    w.register() // the main session, in the repository itself
    const a = w.register()
    const b = w.register()
    const [sa, sb, sm] = await Promise.all([w.connect(a.worktreePath), w.connect(b.worktreePath), w.connect(w.repo.root)])

    const empty = await sa.fails("request_land")
    assert.deepInclude(empty, { _tag: "LandError", reason: "NoCommits" })
    const mainSession = await sm.fails("request_land")
    assert.deepInclude(mainSession, { _tag: "LandError", reason: "NoSessionBranch" })
    w.repo.write("a.txt", "a\n", a.worktreePath)
    w.repo.commitAll("a work", a.worktreePath)
    w.repo.write("BROKEN", "b\n", b.worktreePath)
    w.repo.commitAll("b work", b.worktreePath)
    const notAllowed = await sa.fails("request_land", { test: "node check.mjs" })
    assert.deepInclude(notAllowed, { _tag: "LandError", reason: "TestNotAllowed" })

    const ra = await sa.ok("request_land")
    assert.deepInclude(ra.entry, { status: "queued", target: "main", name: a.branch, sessionId: a.sessionId, requestedBy: `session:${a.sessionId}` })
    assert.strictEqual(ra.ahead, 0)
    const rb = await sb.ok("request_land", { strategy: "squash" })
    assert.strictEqual(rb.ahead, 1)
    assert.strictEqual((await sa.ok("request_land")).entry.entryId, ra.entry.entryId)

    const landed = w.cli(["land", "--test", "node check.mjs", "--json"], w.repo.root)
    assert.strictEqual(landed.code, 1, landed.stderr)
    const mine = await sa.ok("get_land_status")
    assert.deepStrictEqual(mine.entries.map((e: any) => [e.entryId, e.status]), [[ra.entry.entryId, "landed"]])
    assert.match(mine.entries[0].landedCommit, /^[0-9a-f]{40}$/)
    const theirs = await sb.ok("get_land_status")
    assert.deepInclude(theirs.entries[0], { status: "sent_back", reason: "tests_failed", strategy: "squash" })
    assert.include(theirs.entries[0].detail.logTail, "BROKEN exists")
    const all = await sm.ok("get_land_status", { all: true })
    assert.lengthOf(all.entries, 2)
    assert.deepStrictEqual(all.running, [])
    const bad = await sa.fails("get_land_status", { entryId: "l_nope" })
    assert.strictEqual(bad._tag, "LandEntryNotFound")
  })
})
