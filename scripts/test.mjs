// `npm test`: build the CLI bundle the tests run as a real process, then run every test project once.
// Prints the Vitest summary, the count of bubblewrap tests that ran (see test-summary.mjs) and, last, the
// plain line `N passed, N failed`.
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { summarise } from "./test-summary.mjs"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const report = path.join(root, ".vitest-report.json")
const extra = process.argv.slice(2)

const build = spawnSync(process.execPath, [path.join(root, "scripts/build.mjs")], { cwd: root, stdio: "inherit" })
if (build.status !== 0) process.exit(build.status ?? 1)

fs.rmSync(report, { force: true })
const vitest = spawnSync(
  process.execPath,
  [path.join(root, "node_modules/vitest/vitest.mjs"), "run", "--reporter=default", "--reporter=json", `--outputFile.json=${report}`, ...extra],
  { cwd: root, stdio: "inherit" }
)
let summary
try {
  summary = summarise(JSON.parse(fs.readFileSync(report, "utf8")), {
    requireBwrap: process.env.PARALLEL_CC_REQUIRE_BWRAP === "1",
    filtered: extra.length > 0
  })
} catch {
  summary = { passed: 0, failed: 1, lines: ["error: no Vitest report was written"] }
}
for (const line of summary.lines) console.log(line)
console.log(`${summary.passed} passed, ${summary.failed} failed`)
process.exit(vitest.status === 0 && summary.failed === 0 ? 0 : 1)
