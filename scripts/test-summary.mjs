// The summary `npm test` prints from Vitest's JSON report: the plain counts, and the check that the tests
// which only run where bubblewrap works (titled `[bwrap] …`, see the testkit's Bubblewrap) did run.
//
// Where bubblewrap does not work they are skipped with the reason in their title, which is right on a
// developer's machine but would let CI shrink silently. So with `PARALLEL_CC_REQUIRE_BWRAP=1` (set by
// .ci/run, which installs bubblewrap) a full run fails unless at least one `[bwrap]` test ran and none was
// skipped. A runner where bubblewrap cannot work at all says so explicitly with PARALLEL_CC_REQUIRE_BWRAP=0.

/** Every test of the report, with its full name and whether it ran. */
const testsOf = (report) =>
  (report.testResults ?? []).flatMap((file) =>
    (file.assertionResults ?? []).map((t) => ({
      file: file.name,
      name: t.fullName ?? t.title ?? "",
      ran: t.status === "passed" || t.status === "failed"
    }))
  )

/**
 * The counts of a report, and the problems that fail the run beyond its failed tests.
 * `filtered`: the run was given arguments — files, filters, another config such as the e2e suite's — so the
 * bubblewrap check does not apply.
 */
export const summarise = (report, { requireBwrap, filtered }) => {
  const passed = report.numPassedTests ?? 0
  const failed = (report.numFailedTests ?? 0) + (report.numRuntimeErrorTestSuites ?? 0) +
    (report.numFailedTestSuites && !report.numFailedTests ? report.numFailedTestSuites : 0)
  const bwrap = testsOf(report).filter((t) => t.name.includes("[bwrap]"))
  const ran = bwrap.filter((t) => t.ran)
  const skipped = bwrap.filter((t) => !t.ran)
  const files = new Set(ran.map((t) => t.file)).size
  const lines = [`bubblewrap tests: ${ran.length} ran in ${files} files, ${skipped.length} skipped`]
  const problems = []
  if (requireBwrap && !filtered) {
    if (bwrap.length === 0) problems.push("no [bwrap] test ran, but PARALLEL_CC_REQUIRE_BWRAP=1 requires them")
    for (const t of skipped) problems.push(`[bwrap] test skipped, but PARALLEL_CC_REQUIRE_BWRAP=1 requires it: ${t.name}`)
  }
  return { passed, failed: failed + problems.length, lines: [...lines, ...problems.map((p) => `error: ${p}`)] }
}
