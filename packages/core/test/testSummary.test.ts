/**
 * The summary `npm test` prints (scripts/test-summary.mjs): with PARALLEL_CC_REQUIRE_BWRAP=1 (CI) a full run
 * fails when no `[bwrap]` test ran or one was skipped, so the bubblewrap half of the sandbox tests cannot
 * disappear from CI unnoticed.
 */
import { assert, describe, it } from "vitest"
import { summarise } from "../../../scripts/test-summary.mjs"

const test = (fullName: string, status: string) => ({ fullName, title: fullName, status })
const report = (tests: ReadonlyArray<ReturnType<typeof test>>, failedTests = 0) => ({
  numPassedTests: tests.filter((t) => t.status === "passed").length,
  numFailedTests: failedTests,
  numFailedTestSuites: 0,
  testResults: [
    { name: "/r/packages/core/test/SandboxIsolation.test.ts", assertionResults: tests.filter((t) => t.fullName.includes("[bwrap]")) },
    { name: "/r/packages/core/test/Other.test.ts", assertionResults: tests.filter((t) => !t.fullName.includes("[bwrap]")) }
  ]
})

const ran = report([test("isolation [bwrap] /etc is minimal", "passed"), test("other works", "passed")])
const skipped = report([
  test("isolation [bwrap] /etc is minimal (skipped: bubblewrap (bwrap) is not installed)", "skipped"),
  test("other works", "passed")
])
const none = report([test("other works", "passed")])

describe("npm test's summary", () => {
  it("counts the bubblewrap tests that ran", () => {
    const s = summarise(ran, { requireBwrap: true, filtered: false })
    assert.deepStrictEqual(s, { passed: 2, failed: 0, lines: ["bubblewrap tests: 1 ran in 1 files, 0 skipped"] })
  })

  it("required (CI): a skipped [bwrap] test, or none at all, fails the run and says which", () => {
    const s = summarise(skipped, { requireBwrap: true, filtered: false })
    assert.strictEqual(s.failed, 1)
    assert.include(s.lines.join("\n"), "error: [bwrap] test skipped, but PARALLEL_CC_REQUIRE_BWRAP=1 requires it: isolation [bwrap] /etc")
    const n = summarise(none, { requireBwrap: true, filtered: false })
    assert.strictEqual(n.failed, 1)
    assert.include(n.lines.join("\n"), "error: no [bwrap] test ran")
  })

  it("not required (a developer's machine), or a filtered run: skipped [bwrap] tests are only counted", () => {
    assert.strictEqual(summarise(skipped, { requireBwrap: false, filtered: false }).failed, 0)
    assert.strictEqual(summarise(none, { requireBwrap: true, filtered: true }).failed, 0)
    assert.include(summarise(skipped, { requireBwrap: false, filtered: false }).lines[0], "0 ran in 0 files, 1 skipped")
  })

  it("failed tests and failed files still count", () => {
    assert.strictEqual(summarise(report([test("other works", "failed")], 1), { requireBwrap: false, filtered: false }).failed, 1)
    const broken = { numPassedTests: 0, numFailedTests: 0, numFailedTestSuites: 2, testResults: [] }
    assert.strictEqual(summarise(broken, { requireBwrap: false, filtered: false }).failed, 2)
  })
})
