import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, assert, describe, it } from "vitest"
import { world, type World } from "./harness.js"

const worlds: Array<World> = []
afterEach(async () => {
  for (const w of worlds.splice(0)) await w.dispose()
})

describe("overlap tools", () => {
  it("get_overlaps scans and reports the pair, the symbol and the conflict; get_my_session lists the caller's", async () => {
    const w = world({ files: { "src/app.ts": "export function run() {\n  return 1\n}\n\nexport const other = 2\n" } })
    worlds.push(w)
    const a = w.register()
    const b = w.register()
    const c = w.register()
    fs.writeFileSync(path.join(a.worktreePath, "src/app.ts"), "export function run() {\n  return 10\n}\n\nexport const other = 2\n")
    fs.writeFileSync(path.join(b.worktreePath, "src/app.ts"), "export function run() {\n  return 20\n}\n\nexport const other = 2\n")
    fs.writeFileSync(path.join(c.worktreePath, "notes.md"), "c alone\n")
    const [sa, sc] = await Promise.all([w.connect(a.worktreePath), w.connect(c.worktreePath)])
    assert.deepStrictEqual((await sa.ok("get_my_session")).overlaps, [], "nothing scanned yet")
    const got = await sa.ok("get_overlaps")
    assert.strictEqual(got.repoPath, w.repo.root)
    assert.strictEqual(got.you, a.sessionId)
    assert.lengthOf(got.overlaps, 1)
    const o = got.overlaps[0]
    assert.sameMembers([o.sessionA, o.sessionB], [a.sessionId, b.sessionId])
    assert.strictEqual(o.filePath, "src/app.ts")
    assert.strictEqual(o.level, "symbol")
    assert.deepStrictEqual(o.symbols, ["run"])
    assert.isTrue(o.conflict)
    const r = await sa.call("get_overlaps", { refresh: false })
    assert.include(r.content.map((x) => (x.type === "text" ? x.text : "")).join(""), "would conflict")
    assert.lengthOf((await sa.ok("get_my_session")).overlaps, 1)
    assert.deepStrictEqual((await sc.ok("get_overlaps", { mine: true, refresh: false })).overlaps, [])
    assert.lengthOf((await sc.ok("get_overlaps", { refresh: false })).overlaps, 1, "the repository's, by default")
  })
})
