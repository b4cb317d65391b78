/**
 * Reading a worktree's HEAD and a branch's tip from git's files, as git does (loose ref, else packed ref),
 * for the Effect-free start-up paths that must not spawn git for it. Every reader answers only when the
 * files leave no doubt (the files-backed ref storage, a real branch with a commit) and says `undefined`
 * otherwise, so that its caller steps aside to git.
 *
 * This module imports nothing but `node:fs` and `node:path` on purpose.
 */
import * as fs from "node:fs"
import * as path from "node:path"

const isOid = (s: string | undefined): s is string => s !== undefined && /^[0-9a-f]{40,64}$/.test(s)

const readText = (file: string): string | undefined => {
  try {
    return fs.readFileSync(file, "utf8")
  } catch {
    return undefined
  }
}

/** The git dir of a work tree (its `.git` directory, or where its `.git` file points) and the common dir. */
const dirsOf = (worktree: string): { readonly gitDir: string; readonly commonDir: string } | undefined => {
  const dotGit = path.join(worktree, ".git")
  let isFile: boolean
  try {
    isFile = fs.statSync(dotGit).isFile()
  } catch {
    return undefined
  }
  const link = isFile ? /^gitdir: (.+)$/m.exec(readText(dotGit) ?? "")?.[1]?.trim() : dotGit
  if (link === undefined) return undefined
  const gitDir = path.resolve(worktree, link)
  const common = readText(path.join(gitDir, "commondir"))
  return { gitDir, commonDir: common === undefined ? gitDir : path.resolve(gitDir, common.trim()) }
}

/** The commit `refs/heads/…` `ref` names in the common dir: its loose file, else its packed line. */
const refTip = (commonDir: string, ref: string): string | undefined => {
  if (!/^refs\/heads\/[^\s]+$/.test(ref) || ref.includes("..")) return undefined
  const loose = readText(path.join(commonDir, ref))
  if (loose !== undefined) return isOid(loose.trim()) ? loose.trim() : undefined
  const packed = (readText(path.join(commonDir, "packed-refs")) ?? "").split("\n").find((l) => l.endsWith(` ${ref}`))?.split(" ")[0]
  return isOid(packed) ? packed : undefined
}

/** The commit a work tree's HEAD is at (detached, or its branch's tip); undefined when not certain. */
export const worktreeHead = (worktree: string): string | undefined => {
  const dirs = dirsOf(worktree)
  const head = dirs === undefined ? undefined : readText(path.join(dirs.gitDir, "HEAD"))?.trim()
  if (dirs === undefined || head === undefined) return undefined
  if (isOid(head)) return head
  const ref = /^ref: (refs\/heads\/\S+)$/.exec(head)?.[1]
  return ref === undefined ? undefined : refTip(dirs.commonDir, ref)
}

/** The tip of branch `name` of the repository whose (main) work tree is `repoPath`; undefined when not certain. */
export const branchTip = (repoPath: string, name: string): string | undefined => {
  const dirs = dirsOf(repoPath)
  return dirs === undefined ? undefined : refTip(dirs.commonDir, `refs/heads/${name}`)
}
