// Run one task unattended in a sandbox and get its changes back for review — with async/await.
//
//   node examples/sandbox-task.mjs REPO "PROMPT"
//
// The agent and the provider come from the environment, as for the CLI (`env: process.env`): the agent
// is PARALLEL_CC_AGENT (default `claude`, which needs ANTHROPIC_API_KEY or a Claude Code login), the
// provider is `e2b` when E2B_API_KEY is set and otherwise `local` (an isolated copy on this machine).
import { createClient, isParallelCcError } from "@parallel-cc/core/promise"

const [repoPath = ".", prompt = "Add a short CONTRIBUTING.md"] = process.argv.slice(2)

const client = createClient({ env: process.env })
try {
  const result = await client.sandbox.run(
    { repoPath, prompt },
    {
      // Progress as it happens; the agent's own output arrives as AgentOutput lines.
      onEvent: (e) => {
        if (e._tag === "SandboxReady") console.log(`sandbox: ${e.isolation.description}`)
        if (e._tag === "AgentOutput") console.log(`  | ${e.line}`)
      }
    }
  )
  const { run, changes } = result
  console.log(`run ${run.sessionId}: ${run.status}${run.error !== null ? ` (${run.error})` : ""}`)
  console.log(`changes: ${changes.added.length} added, ${changes.modified.length} modified, ${changes.deleted.length} deleted`)
  if (result.worktreePath !== null) console.log(`review them in ${result.worktreePath} (branch ${result.branch})`)
  process.exitCode = run.status === "succeeded" ? 0 : 1
} catch (error) {
  // The run could not start (no agent, no credentials, not a repository, …): the message says what to do.
  if (!isParallelCcError(error)) throw error
  console.error(`${error._tag}: ${error.message}`)
  process.exitCode = 1
} finally {
  await client.close()
}
