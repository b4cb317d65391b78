/**
 * The dependency rules fire: modules that break them, planted in the real tree for the length of one run of
 * `npm run lint` (a real process over the real .dependency-cruiser.cjs), make it fail naming each rule and
 * file. They are removed afterwards (and before, should an earlier run have been killed).
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, assert, describe, it } from "vitest"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..")
const PREFIX = "__planted-violation"

/** Each planted module: where it goes, what it imports, and the rule it breaks. */
const planted = [
  {
    file: `packages/core/src/sessions/${PREFIX}-platform-node.ts`,
    source: `import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"\nexport const fs = NodeFileSystem.layer\n`,
    rule: "platform-node-only-at-edges"
  },
  {
    file: `packages/core/src/platform/${PREFIX}-effect-cli.ts`,
    source: `import * as Options from "@effect/cli/Options"\nexport const flag = Options.boolean("x")\n`,
    rule: "no-effect-cli-in-core"
  },
  {
    file: `packages/cli/src/${PREFIX}-core-internals.ts`,
    source: `import * as Sessions from "../../core/src/sessions/Sessions.js"\nexport const tag = Sessions.Sessions\n`,
    rule: "core-public-api-only"
  },
  {
    file: `packages/mcp/src/${PREFIX}-testkit.ts`,
    source: `import * as Testkit from "@parallel-cc/testkit"\nexport const kit = Testkit\n`,
    rule: "no-testkit-in-src"
  }
]

const removePlanted = () => {
  for (const dir of ["packages/core/src/sessions", "packages/core/src/platform", "packages/cli/src", "packages/mcp/src"]) {
    for (const name of fs.readdirSync(path.join(root, dir))) {
      if (name.startsWith(PREFIX)) fs.rmSync(path.join(root, dir, name), { force: true })
    }
  }
}
afterAll(removePlanted)

describe("dependency rules", () => {
  it("npm run lint fails on a core module importing @effect/platform-node or @effect/cli, a shell importing core's modules, src importing the testkit", () => {
    removePlanted()
    for (const p of planted) fs.writeFileSync(path.join(root, p.file), p.source)
    let r: ReturnType<typeof spawnSync>
    try {
      r = spawnSync("npm", ["run", "lint"], { cwd: root, encoding: "utf8", timeout: 180_000 })
    } finally {
      removePlanted()
    }
    const out = `${r.stdout}${r.stderr}`
    assert.notStrictEqual(r.status, 0, `npm run lint passed with planted violations:\n${out}`)
    for (const p of planted) {
      const line = out.split("\n").find((l) => l.includes(p.rule) && l.includes(p.file))
      assert.isDefined(line, `no "${p.rule}" violation reported for ${p.file}:\n${out}`)
    }
  }, 200_000)
})
