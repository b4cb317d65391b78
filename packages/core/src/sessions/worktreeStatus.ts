/**
 * Pure helpers of the worktree inspection (`Worktrees.inspect`): parsing `git status --porcelain=v2 -z`,
 * matching ignored paths against the regenerable patterns (`worktree.regenerable`), and the one-line
 * summary of what a worktree holds.
 */
import type { Discarded } from "../Domain.js"
import { segmentRegExp } from "./worktreeSetup.js"

/** One entry of `git status --porcelain=v2 -z --untracked-files=all --ignored=matching`. */
export type StatusEntry =
  | { readonly kind: "changed"; readonly path: string; readonly submodule: SubmoduleState | null }
  | { readonly kind: "untracked"; readonly path: string }
  | { readonly kind: "ignored"; readonly path: string }

/** The `S<c><m><u>` field of a submodule entry. */
export interface SubmoduleState {
  readonly commitChanged: boolean
  readonly trackedChanges: boolean
  readonly untrackedChanges: boolean
}

const submoduleState = (field: string): SubmoduleState | null =>
  field.startsWith("S") && field.length === 4
    ? { commitChanged: field[1] === "C", trackedChanges: field[2] === "M", untrackedChanges: field[3] === "U" }
    : null

/** Fields before the path in each entry type of porcelain v2 (the path may contain spaces). */
const PATH_AT: Record<string, number> = { "1": 8, "2": 9, "u": 10 }

/** Parse `git status --porcelain=v2 -z` (with `--ignored`): tracked changes, untracked and ignored paths. */
export const parseStatusV2 = (out: string): ReadonlyArray<StatusEntry> => {
  const entries: Array<StatusEntry> = []
  const parts = out.split("\0")
  for (let i = 0; i < parts.length; i++) {
    const entry = parts[i]!
    if (entry.length < 3) continue
    const type = entry[0]!
    if (type === "?") entries.push({ kind: "untracked", path: entry.slice(2) })
    else if (type === "!") entries.push({ kind: "ignored", path: entry.slice(2) })
    else if (type in PATH_AT) {
      const fields = entry.split(" ")
      const path = fields.slice(PATH_AT[type]!).join(" ")
      entries.push({ kind: "changed", path, submodule: submoduleState(fields[2] ?? "") })
      // A rename or copy is followed by its original path.
      if (type === "2") i++
    }
  }
  return entries
}

/**
 * A matcher for gitignore-style patterns: `dir/` matches a directory (or a symlink to one) of that name at
 * any depth and everything under it; a pattern without `/` matches a name at any depth; a pattern with a
 * `/` inside is anchored at the top (`a/b/` matches `a/b` and below). `*`, `?` and `[…]` work per segment.
 */
export const pathMatcher = (patterns: ReadonlyArray<string>): (path: string) => boolean => {
  const compiled = patterns.map((raw) => {
    const p = raw.trim().replace(/^\.\//, "")
    const body = p.replace(/\/+$/, "").replace(/^\/+/, "")
    const anchored = raw.trim().startsWith("/") || body.includes("/")
    return { segments: body.split("/").map(segmentRegExp), anchored }
  })
  return (path: string) => {
    const segs = path.replace(/\/+$/, "").split("/").filter((s) => s !== "")
    return compiled.some((c) => {
      if (c.anchored) {
        if (segs.length < c.segments.length) return false
        // `a/b/` matches a/b and what is under it.
        return c.segments.every((re, i) => re.test(segs[i]!))
      }
      // `dir/` or `name` at any depth; a directory pattern also matches a symlink standing for the
      // directory (git lists a symlink without the trailing '/').
      const re = c.segments[0]!
      return segs.some((s) => re.test(s))
    })
  }
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`

/** What a worktree holds, in one line: "2 uncommitted changes, 1 ignored file (.env), …", or "clean". */
export const summarizeDiscarded = (
  d: Discarded,
  branch: string | null,
  options: { readonly exists: boolean; readonly isWorktree: boolean }
): string => {
  const branchCommits = d.commits.filter((c) => c.branch !== null).length
  const detached = d.commits.length - branchCommits
  if (!options.exists) return branchCommits > 0 ? `directory gone; ${plural(branchCommits, "commit")} only on branch ${branch}` : "directory gone"
  if (!options.isWorktree) return "not a git worktree of this repository"
  const parts: Array<string> = []
  if (d.uncommitted.length > 0) parts.push(plural(d.uncommitted.length, "uncommitted change"))
  if (d.untracked.length > 0) parts.push(plural(d.untracked.length, "untracked file"))
  if (d.ignored.length > 0) {
    const shown = d.ignored.slice(0, 3).join(", ") + (d.ignored.length > 3 ? ", …" : "")
    parts.push(`${plural(d.ignored.length, "ignored file")} that ${d.ignored.length === 1 ? "is" : "are"} not build output (${shown})`)
  }
  for (const n of d.nested) parts.push(`${n.kind === "repository" ? "a nested repository" : "a submodule"} ${n.path} (${n.detail})`)
  if (detached > 0) parts.push(`${plural(detached, "commit")} at a detached HEAD on no branch`)
  if (branchCommits > 0) parts.push(`${plural(branchCommits, "commit")} only on branch ${branch}`)
  return parts.length === 0 ? "clean" : parts.join(", ")
}

/** Quote for a POSIX shell only when needed (for restore commands shown to people). */
export const shellQuote = (s: string): string => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`)
