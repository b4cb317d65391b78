// `npm test`: build the CLI bundle the tests run as a real process, then run every test project once.
// Prints the Vitest summary and, last, the plain line `N passed, N failed`.
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

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
let passed = 0
let failed = 0
try {
  const r = JSON.parse(fs.readFileSync(report, "utf8"))
  passed = r.numPassedTests
  failed = r.numFailedTests + (r.numRuntimeErrorTestSuites ?? 0) + (r.numFailedTestSuites && r.numFailedTests === 0 ? r.numFailedTestSuites : 0)
} catch {
  failed = Math.max(failed, 1)
}
console.log(`${passed} passed, ${failed} failed`)
process.exit(vitest.status === 0 && failed === 0 ? 0 : 1)
