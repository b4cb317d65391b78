/**
 * Human text for session results: what was released, and for a kept worktree where it is, what work it
 * holds, and the exact commands to merge or remove it.
 */
import type { Sessions } from "@parallel-cc/core"

/** Quote for a POSIX shell only when needed, so hints can be pasted as they are. */
export const shq = (s: string): string => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`)

/** Lines explaining a kept worktree and what to do with it. */
export const keptLines = (sessionId: string, k: Sessions.KeptWorktree, indent = "  "): Array<string> => {
  const pad = `${indent}                 `
  const lines = [`${indent}worktree kept: ${k.path}${k.branch ? ` (branch ${k.branch})` : ""}`, `${indent}  it holds:      ${k.detail}`]
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
  lines.push(`${indent}  to discard it: parallel-cc release --session-id ${sessionId} --force`)
  return lines
}

const branchNote = (r: Sessions.Released): string => {
  const b = r.branchOutcome
  if (b === null || b.outcome === "absent") return ""
  if (b.outcome === "deleted") {
    return b.detail.includes("forced") && b.tip !== null
      ? `; branch ${b.name} deleted (was ${b.tip.slice(0, 12)}; \`git branch ${b.name} ${b.tip.slice(0, 12)}\` restores it)`
      : `; branch ${b.name} deleted (${b.detail})`
  }
  return `; branch ${b.name} kept (${b.detail})`
}

/** One released (or, in a dry run, to-be-released) session as text. */
export const releasedLines = (r: Sessions.Released, options: { readonly dryRun?: boolean } = {}): Array<string> => {
  const dry = options.dryRun === true
  const why = r.liveness !== null ? ` (${r.liveness.detail})` : ""
  const head = r.previouslyReleased
    ? `Session ${r.sessionId} (released earlier)`
    : `Session ${r.sessionId}${why} ${dry ? "would be released" : "released"}`
  switch (r.worktree) {
    case "main":
      return [`${head}; it worked in the repository itself.`]
    case "removed":
      return [`${head}; worktree ${r.worktreePath} ${dry ? "would be removed" : "removed"}${branchNote(r)}.`]
    case "missing":
      return [`${head}; its worktree ${r.worktreePath} was already gone${branchNote(r)}.`]
    case "kept":
      return [`${head}; its worktree is kept because removing it would lose work:`, ...keptLines(r.sessionId, r.kept!)]
  }
}
