import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "vitest"
import { latestVersion } from "../src/platform/Database.js"
import { LATEST_SCHEMA_VERSION } from "../src/platform/schemaVersion.js"
import { RELEASE_IN_PROGRESS } from "../src/sessions/SessionStore.js"

// The snapshot reads the store without the store's code; these keep the two in step. Its behaviour is
// tested through the built CLI next to the Sessions service (packages/cli/test/status-snapshot.test.ts).
describe("StatusSnapshot", () => {
  const source = fs.readFileSync(path.join(__dirname, "../src/sessions/StatusSnapshot.ts"), "utf8")

  it("knows the store's schema version and its release marker", () => {
    assert.strictEqual(LATEST_SCHEMA_VERSION, latestVersion)
    assert.include(source, `const RELEASE_IN_PROGRESS = "${RELEASE_IN_PROGRESS}"`)
  })

  it("imports no Effect code (that is what keeps `status --json` near a bare Node start)", () => {
    // Type-only imports are erased by the compiler (the session shape comes from Domain as a type).
    const imports = [...source.matchAll(/^import (?!type ).* from "([^"]+)"/gm)].map((m) => m[1])
    assert.deepStrictEqual(imports.sort(), [
      "../fleet/transcriptUsage.js",
      "../fleet/usageView.js",
      "../platform/gitRefs.js",
      "../platform/procStat.js",
      "../platform/schemaVersion.js",
      "./keptLanding.js",
      "./liveDir.js",
      "better-sqlite3",
      "node:fs"
    ])
    // The two helpers it shares with the service (the kept reason of a landed branch, git's ref files) import
    // nothing but Node's file system.
    for (const helper of ["keptLanding.ts", "../platform/gitRefs.ts"]) {
      const text = fs.readFileSync(path.join(__dirname, "../src/sessions", helper), "utf8")
      const used = [...text.matchAll(/^import (?!type ).* from "([^"]+)"/gm)].map((m) => m[1])
      assert.isTrue(used.every((m) => m === "node:fs" || m === "node:path"), `${helper}: ${used.join(", ")}`)
    }
  })
})
