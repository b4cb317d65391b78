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

/** Branch names read from files here: plain words joined by `-` or `/` (nothing git could read otherwise). */
const plainBranchName = /^[A-Za-z0-9_]+(?:[-/][A-Za-z0-9_]+)*$/

/**
 * The value of a local branch read as git reads the files ref store: the loose ref, else its line in
 * `packed-refs`; undefined when it is not plainly a commit id there (a symbolic ref, another ref store, a
 * file that cannot be read), and then git is asked.
 */
export const readBranch = (commonDir: string, name: string): string | undefined => {
  try {
    if (!plainBranchName.test(name) || fs.existsSync(path.join(commonDir, "reftable"))) return undefined
    const loose = path.join(commonDir, "refs", "heads", name)
    if (fs.existsSync(loose)) return /^([0-9a-f]{40,64})\n?$/.exec(fs.readFileSync(loose, "utf8"))?.[1]
    const packed = path.join(commonDir, "packed-refs")
    if (!fs.existsSync(packed)) return undefined
    const line = fs.readFileSync(packed, "utf8").split("\n").find((l) => l.endsWith(` refs/heads/${name}`))
    return line !== undefined ? /^([0-9a-f]{40,64}) /.exec(line)?.[1] : undefined
  } catch {
    return undefined
  }
}

/** The commit a work tree's HEAD is at (detached, or its branch's tip); undefined when not certain. */
export const worktreeHead = (worktree: string): string | undefined => {
  const dirs = dirsOf(worktree)
  const head = dirs === undefined ? undefined : readText(path.join(dirs.gitDir, "HEAD"))?.trim()
  if (dirs === undefined || head === undefined) return undefined
  if (isOid(head)) return head
  const ref = /^ref: refs\/heads\/(\S+)$/.exec(head)?.[1]
  return ref === undefined ? undefined : readBranch(dirs.commonDir, ref)
}

/** The tip of branch `name` of the repository whose (main) work tree is `repoPath`; undefined when not certain. */
export const branchTip = (repoPath: string, name: string): string | undefined => {
  const dirs = dirsOf(repoPath)
  return dirs === undefined ? undefined : readBranch(dirs.commonDir, name)
}
