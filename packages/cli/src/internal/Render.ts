/**
 * Human text for session results: what was released, and for a kept worktree where it is, what work it
 * holds, and the exact commands to merge, re-enter or remove it; for a forced removal, exactly what was
 * thrown away.
 */
import type { Domain, Sessions } from "@parallel-cc/core"

/** Quote for a POSIX shell only when needed, so hints can be pasted as they are. */
export const shq = (s: string): string => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`)

/** The arguments that go on with an agent's latest conversation in the directory, by the agent's name. */
const RESUME_ARGS: Record<string, ReadonlyArray<string>> = {
  claude: ["--continue"],
  codex: ["resume", "--last"],
  gemini: ["--resume", "latest"]
}

/**
 * How to work in a kept worktree again, with the agent the session ran (null: not known). Claude Code,
 * Codex and Gemini go on with their latest conversation there; any other agent starts afresh. An agent
 * other than Claude Code is named (PARALLEL_CC_AGENT), so the command runs it whatever the configured agent.
 */
export const reenterCommand = (ref: string, agent: string | null): string => {
  const name = agent === null ? null : agent.slice(agent.lastIndexOf("/") + 1)
  const resume = name !== null ? RESUME_ARGS[name] : undefined
  const who = agent === null || name === "claude" ? "" : `PARALLEL_CC_AGENT=${shq(agent)} `
  return `${who}claude-parallel --session ${shq(ref)}${resume !== undefined ? ` ${resume.join(" ")}` : ""}`
}

/** Lines explaining a kept worktree and what to do with it. */
export const keptLines = (sessionId: string, k: Sessions.KeptWorktree, indent = "  ", agent: string | null = null): Array<string> => {
  const pad = `${indent}                 `
  const ref = k.name ?? sessionId
  const lines = [`${indent}worktree kept: ${k.path}${k.branch ? ` (branch ${k.branch})` : ""}`, `${indent}  it holds:      ${k.detail}`]
  lines.push(`${indent}  to go on:      ${reenterCommand(ref, agent)}`)
  const steps: Array<string> = []
  if (k.changeCount > 0 || k.untrackedCount > 0) {
    steps.push(`cd ${shq(k.path)} && git add -A && git commit -m "…"`)
  }
  if (k.branch !== null) {
    steps.push(`git -C ${shq(k.repoPath)} merge ${shq(k.branch)}${k.baseBranch ? `   # into ${k.baseBranch}` : ""}`)
    steps.push("then `parallel-cc cleanup` removes the merged worktree and its branch")
    if (k.uniqueCommits > 0) steps.push(`or, tested first: parallel-cc land ${shq(k.branch)}   # the test-gated queue`)
  }
  if (steps.length > 0) lines.push(`${indent}  to keep it:    ${steps.join(`\n${pad}`)}`)
  lines.push(`${indent}  to look at it: parallel-cc diff ${shq(ref)}`)
  lines.push(`${indent}  to discard it: parallel-cc discard ${shq(ref)} --force`)
  return lines
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`

const listed = (paths: ReadonlyArray<string>, max = 10) =>
  paths.slice(0, max).join(", ") + (paths.length > max ? `, … (${paths.length - max} more; --json lists all)` : "")

/** Every item of a `discarded` report, one kind per line (empty when nothing is thrown away). */
export const discardedLines = (d: Domain.Discarded, indent = "  "): Array<string> => {
  const out: Array<string> = []
  if (d.uncommitted.length > 0) out.push(`${indent}${plural(d.uncommitted.length, "uncommitted change")}: ${listed(d.uncommitted)}`)
  if (d.untracked.length > 0) out.push(`${indent}${plural(d.untracked.length, "untracked file")}: ${listed(d.untracked)}`)
  if (d.ignored.length > 0) out.push(`${indent}${plural(d.ignored.length, "ignored file")} (not build output): ${listed(d.ignored)}`)
  for (const n of d.nested) out.push(`${indent}${n.kind === "repository" ? "nested repository" : "submodule"} ${n.path}: ${n.detail}`)
  const byRestore = new Map<string, Array<Domain.DiscardedCommit>>()
  for (const c of d.commits) byRestore.set(c.restore, [...(byRestore.get(c.restore) ?? []), c])
  for (const [restore, commits] of byRestore) {
    const where = commits[0]!.branch !== null ? `only on ${commits[0]!.branch}` : "at a detached HEAD"
    out.push(`${indent}${plural(commits.length, "commit")} ${where} (restore: ${restore}):`)
    for (const c of commits.slice(0, 10)) out.push(`${indent}  ${c.sha.slice(0, 12)} ${c.subject}`)
    if (commits.length > 10) out.push(`${indent}  … ${commits.length - 10} more`)
  }
  return out
}

const branchNote = (r: Sessions.Released): string => {
  const b = r.branchOutcome
  if (b === null || b.outcome === "absent") return ""
  if (b.outcome === "deleted") {
    return b.why === "forced" && b.tip !== null
      ? `; branch ${b.name} deleted (was ${b.tip.slice(0, 12)}; \`git branch ${b.name} ${b.tip.slice(0, 12)}\` restores it)`
      : `; branch ${b.name} deleted (${b.detail})`
  }
  return `; branch ${b.name} kept (${b.detail})`
}

/** One released (or, in a dry run, to-be-released) session as text. */
export const releasedLines = (r: Sessions.Released, options: { readonly dryRun?: boolean } = {}): Array<string> => {
  const dry = options.dryRun === true
  const why = r.liveness !== null ? ` (${r.liveness.detail}${r.interrupted ? "; its registration never finished" : ""})` : ""
  const who = r.name !== null ? `${r.sessionId} (${r.name})` : r.sessionId
  const head = r.previouslyReleased
    ? `Session ${who} (released earlier)`
    : `Session ${who}${why} ${dry ? "would be released" : "released"}`
  const lost = r.discarded !== null ? discardedLines(r.discarded, "    ") : []
  const lostHead = lost.length > 0 ? [`  ${dry ? "would throw away" : "thrown away"}:`, ...lost] : []
  switch (r.worktree) {
    case "main":
      return [`${head}; it worked in the repository itself.`]
    case "removed":
      return [`${head}; worktree ${r.worktreePath} ${dry ? "would be removed" : "removed"}${branchNote(r)}.`, ...lostHead]
    case "missing":
      return [`${head}; its worktree ${r.worktreePath} was already gone${branchNote(r)}.`, ...lostHead]
    case "kept":
      return [`${head}; its worktree is kept because removing it would lose work:`, ...keptLines(r.sessionId, r.kept!)]
  }
}

/** What `register` prints for a new session (the service's path and the start-up fast path alike). */
export const registeredLines = (
  s: {
    readonly sessionId: string
    readonly isMainRepo: boolean
    readonly repoPath: string
    readonly worktreePath: string
    readonly branch: string | null
    readonly name: string | null
  },
  ports: { readonly base: number | null; readonly count: number }
): Array<string> => [
  s.isMainRepo
    ? `Session ${s.sessionId}: working in the repository ${s.repoPath}`
    : `Session ${s.sessionId}${s.name !== null ? ` (${s.name})` : ""}: working in the worktree ${s.worktreePath} (branch ${s.branch})`,
  ...(ports.base !== null ? [`Ports ${ports.base}–${ports.base + ports.count - 1} (PARALLEL_CC_PORT_BASE)`] : [])
]
