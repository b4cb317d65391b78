/**
 * Parser of `git merge-tree --write-tree -z` output (git ≥ 2.38): the tree, the conflicted stages and
 * the machine-readable messages (`<N>\0<path>…\0<type>\0<message>\0`).
 */
import type { GitKind } from "./vocabulary.js"

export interface StageEntry {
  readonly mode: string
  readonly oid: string
}

export interface ConflictedPath {
  readonly path: string
  readonly base: StageEntry | null
  readonly ours: StageEntry | null
  readonly theirs: StageEntry | null
}

export interface MergeMessage {
  readonly paths: ReadonlyArray<string>
  readonly type: string
  readonly message: string
}

export interface MergeTreeOutput {
  readonly tree: string
  readonly paths: ReadonlyArray<ConflictedPath>
  readonly messages: ReadonlyArray<MergeMessage>
}

/** Parse the `-z` output; `conflicted` is whether git exited with 1 (conflicts). */
export const parseMergeTree = (stdout: string, conflicted: boolean): MergeTreeOutput => {
  const fields = stdout.split("\0")
  const tree = (fields[0] ?? "").trim()
  let i = 1
  const byPath = new Map<string, { base: StageEntry | null; ours: StageEntry | null; theirs: StageEntry | null }>()
  if (conflicted) {
    for (; i < fields.length && fields[i] !== ""; i++) {
      const rec = fields[i]!
      const tab = rec.indexOf("\t")
      const [mode, oid, stage] = rec.slice(0, tab).split(" ")
      const path = rec.slice(tab + 1)
      const entry = byPath.get(path) ?? { base: null, ours: null, theirs: null }
      const value = { mode: mode!, oid: oid! }
      if (stage === "1") entry.base = value
      else if (stage === "2") entry.ours = value
      else if (stage === "3") entry.theirs = value
      byPath.set(path, entry)
    }
    i++ // the empty field that ends the conflicted-file section
  }
  const messages: Array<MergeMessage> = []
  while (i < fields.length) {
    const count = Number(fields[i])
    if (!Number.isInteger(count) || count <= 0) break
    const paths = fields.slice(i + 1, i + 1 + count)
    const type = fields[i + 1 + count] ?? ""
    const message = (fields[i + 2 + count] ?? "").trim()
    messages.push({ paths, type, message })
    i += count + 3
  }
  return { tree, paths: [...byPath].map(([path, e]) => ({ path, ...e })), messages }
}

/** What kind of conflict git reported for a path, from its stages and messages. */
export type GitConflictKind = GitKind

export const gitKindOf = (p: ConflictedPath, messages: ReadonlyArray<MergeMessage>): GitConflictKind => {
  const types = messages.filter((m) => m.paths.includes(p.path)).map((m) => m.type)
  const has = (t: string) => types.some((x) => x.includes(t))
  if ([p.base, p.ours, p.theirs].some((s) => s?.mode === "160000") || has("submodule")) return "submodule"
  if (has("rename/delete")) return "rename/delete"
  if (has("rename/rename") || has("rename involved")) return "rename/rename"
  if (has("modify/delete") || (p.base !== null && (p.ours === null || p.theirs === null))) return "modify/delete"
  if (has("file/directory") || has("directory/file")) return "file/directory"
  if (has("binary")) return "binary"
  if (has("add/add") || (p.base === null && p.ours !== null && p.theirs !== null)) return "add/add"
  if (has("distinct modes") || has("mode")) return "mode"
  if (has("contents") || (p.base !== null && p.ours !== null && p.theirs !== null)) return "content"
  return "other"
}

/** What to do about a conflict of this kind, in a sentence. */
export const guidanceFor = (kind: GitConflictKind, path: string, ours: string, theirs: string): string => {
  switch (kind) {
    case "content":
      return `${path}: both ${ours} and ${theirs} changed the same lines; ask for a classification and suggested resolutions (detect_advanced_conflicts / get_auto_fix_suggestions), or edit the hunks by hand`
    case "add/add":
      return `${path}: added on both ${ours} and ${theirs} with different contents; keep one, or combine both versions`
    case "binary":
      return `${path}: a binary file changed on both sides and cannot be merged line by line; pick one version (git checkout --ours/--theirs -- ${path}) or regenerate it`
    case "modify/delete":
      return `${path}: deleted on one side and modified on the other; decide whether the file should still exist, and if its code moved elsewhere, carry the modification over`
    case "rename/delete":
      return `${path}: renamed on one side and deleted on the other; keep the renamed file only if it is still needed`
    case "rename/rename":
      return `${path}: renamed differently on the two sides; choose one name and update its imports`
    case "file/directory":
      return `${path}: a file on one side and a directory on the other; rename one of them`
    case "mode":
      return `${path}: the file mode (e.g. executable bit) changed differently; choose one`
    case "submodule":
      return `${path}: a submodule moved to different commits on each side; check out the commit you want in the submodule and stage it`
    case "other":
      return `${path}: git could not merge this path; inspect it with git status after merging`
    case "clean":
      return `${path}: git merges it without a conflict, but the result uses a name the other side renamed or deleted; apply a suggestion or fix the uses before merging`
  }
}
