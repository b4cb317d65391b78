// parallel-cc from plain JavaScript: two agent sessions on one repository, a file claim, and a conflict
// preview between two branches — with async/await, no Effect.
//
//   node examples/promise-client.mjs REPO [OURS THEIRS]
//
// It uses the same state as the CLI (PARALLEL_CC_DATA_DIR, else ~/.parallel-cc) because it passes
// `env: process.env`; without that option the client reads no environment variable at all.
import { ClaimConflict, createClient } from "@parallel-cc/core/promise"

const [repoPath = ".", ours, theirs] = process.argv.slice(2)

const client = createClient({ env: process.env })
try {
  // The first session of a repository works in the repository itself; every other one gets its own
  // git worktree on a new branch. `pid` is the agent's process (here: this script).
  const first = await client.sessions.register({ repoPath, pid: process.pid })
  const second = await client.sessions.register({ repoPath, pid: process.pid })
  console.log(`session ${first.sessionId}: ${first.isMainRepo ? "the repository" : "a worktree"} ${first.worktreePath}`)
  console.log(`session ${second.sessionId}: ${second.isMainRepo ? "the repository" : "a worktree"} ${second.worktreePath} on ${second.branch}`)

  // File claims: the first session takes README.md exclusively, so the second one is refused.
  await client.claims.acquire({ sessionId: first.sessionId, path: "README.md", reason: "rewriting the intro" })
  try {
    await client.claims.acquire({ sessionId: second.sessionId, path: "README.md" })
  } catch (error) {
    if (!(error instanceof ClaimConflict)) throw error
    console.log(`claim refused (${error._tag}): README.md is held by ${error.holders.map((h) => h.sessionId).join(", ")}`)
  }

  // Would merging THEIRS into OURS conflict? Nothing in any work tree is touched.
  if (ours !== undefined && theirs !== undefined) {
    const preview = await client.conflicts.preview({ repoPath, ours, theirs })
    console.log(
      preview.clean
        ? `${theirs} merges cleanly into ${ours}`
        : `${theirs} conflicts with ${ours} in: ${preview.files.map((f) => f.path).join(", ")}`
    )
  }

  // Release both; a worktree is removed only when that loses no work (else it is kept and explained).
  for (const session of [second, first]) {
    for (const r of await client.sessions.release({ sessionId: session.sessionId })) {
      console.log(`released ${r.sessionId}: worktree ${r.worktree}`)
    }
  }
} finally {
  await client.close()
}
