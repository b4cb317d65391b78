import { describe, it, assert } from "@effect/vitest"
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { diff, diff3, mergeTokens, splitLines, unifiedDiff } from "../src/coordination/conflicts/diff.js"

const apply = (a: Array<string>, b: Array<string>) => {
  const hs = diff(a, b)
  const out: Array<string> = []
  let i = 0
  for (const h of hs) {
    out.push(...a.slice(i, h.aStart), ...b.slice(h.bStart, h.bEnd))
    i = h.aEnd
  }
  out.push(...a.slice(i))
  return out
}

// A small deterministic generator, so failures reproduce.
const rng = (seed: number) => () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff)

describe("diff", () => {
  it("reconstructs the target for random edits", () => {
    const r = rng(7)
    for (let n = 0; n < 300; n++) {
      const a = Array.from({ length: Math.floor(r() * 30) }, () => String(Math.floor(r() * 6)))
      const b = a.filter(() => r() > 0.3).flatMap((x) => (r() > 0.8 ? [x, String(Math.floor(r() * 6))] : [x]))
      assert.deepStrictEqual(apply(a, b), b)
    }
  })

  it("diff3 agrees with git merge-file on whether a line merge is clean", () => {
    const r = rng(11)
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pcc-diff3-"))
    try {
      let compared = 0
      for (let n = 0; n < 120; n++) {
        const base = Array.from({ length: 12 }, (_, i) => `line ${i}\n`)
        const mutate = (xs: Array<string>, tag: string) => {
          const out = [...xs]
          const at = Math.floor(r() * out.length)
          if (r() < 0.5) out.splice(at, 1, `${tag} ${at}\n`)
          else out.splice(at, 0, `${tag} inserted\n`)
          return out
        }
        const ours = mutate(base, "ours")
        const theirs = mutate(base, "theirs")
        const files = { base: base.join(""), ours: ours.join(""), theirs: theirs.join("") }
        for (const [k, v] of Object.entries(files)) fs.writeFileSync(path.join(dir, k), v)
        const git = spawnSync("git", ["merge-file", "-p", "ours", "base", "theirs"], { cwd: dir, encoding: "utf8" })
        const chunks = diff3(base, ours, theirs)
        const clean = !chunks.some((c) => c.kind === "conflict")
        assert.strictEqual(clean, git.status === 0, JSON.stringify(files))
        if (clean) assert.strictEqual(chunks.flatMap((c) => (c.kind === "ok" ? c.items : [])).join(""), git.stdout)
        compared++
      }
      assert.strictEqual(compared, 120)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it("unifiedDiff output applies with git apply", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pcc-udiff-"))
    try {
      const a = "one\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine\nten\n"
      const b = "zero\none\ntwo\nTHREE\nfour\nfive\nsix\nseven\neight\nnine\nten"
      fs.writeFileSync(path.join(dir, "f.txt"), a)
      fs.writeFileSync(path.join(dir, "p.diff"), unifiedDiff(a, b, { path: "f.txt" }))
      execFileSync("git", ["apply", "p.diff"], { cwd: dir })
      assert.strictEqual(fs.readFileSync(path.join(dir, "f.txt"), "utf8"), b)
      assert.deepStrictEqual(splitLines("a\nb"), ["a\n", "b"])
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it("mergeTokens combines edits to different words of one line, and reformatting with an edit", () => {
    const m = mergeTokens("total = sum(acc, x)\n", "total = add(acc, x)\n", "total = sum(acc, Math.round(x))\n")
    assert.strictEqual(m.conflicts, 0)
    assert.strictEqual(m.text, "total = add(acc, Math.round(x))\n")
    const f = mergeTokens("if (a) {\nreturn b\n}\n", "if (a) {\n  return b\n}\n", "if (a) {\nreturn c\n}\n")
    assert.strictEqual(f.conflicts, 0)
    assert.strictEqual(f.text, "if (a) {\n  return c\n}\n")
    assert.isAbove(mergeTokens("a = 1\n", "a = 2\n", "a = 3\n").conflicts, 0)
  })
})
