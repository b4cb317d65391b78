/**
 * What removing a worktree (and its branch) would throw away: `Worktrees.inspect`, the one inspection behind
 * release, cleanup, discard and landing. Read-only: no index refresh, no locks (GIT_OPTIONAL_LOCKS=0), so an
 * agent's own git is never disturbed.
 *
 * Work is: uncommitted changes (staged or not), untracked files that are not ignored, ignored files that are
 * not regenerable build output (`worktree.regenerable`), nested repositories and changed submodules, commits
 * at a detached HEAD on no branch, and commits on the session branch that no other branch, tag or remote
 * contains. Untracked or ignored files byte-identical to the repository's own (what `worktree.copy` brought
 * in) are copies, not work.
 */
import { FileSystem, Path } from "@effect/platform"
import { Effect, Option } from "effect"
import type { Discarded, DiscardedCommit, NestedRepository } from "../Domain.js"
import { InvalidInput } from "../Errors.js"
import { AppConfig } from "../platform/AppConfig.js"
import { Git, type GitError } from "../platform/Git.js"
import { parseStatusV2, pathMatcher, shellQuote, summarizeDiscarded } from "./worktreeStatus.js"

export interface InspectRequest {
  readonly repoPath: string
  readonly path: string
  /** A branch whose commits must not be lost (the session's own branch). */
  readonly branch?: string | null | undefined
  /**
   * Untracked files identical to the file at the same path in this directory are copies (for example the
   * `.env` files copied in by `worktree.copy`), not work; they do not keep the worktree.
   */
  readonly copiesFrom?: string | undefined
  /**
   * The commit the worktree started from: a branch still at it "had no commits of its own" (it is never
   * called merged).
   */
  readonly base?: string | null | undefined
  /** The branch its work would be merged into (named first when it contains the branch). */
  readonly target?: string | null | undefined
  /** Ignored paths that are regenerable (default: config `worktree.regenerable`). */
  readonly regenerable?: ReadonlyArray<string> | undefined
}

/** Everything in a worktree that removing it (and its branch) could lose. */
export interface Inspection {
  readonly path: string
  readonly exists: boolean
  /** The directory is the top level of a linked worktree of this repository. */
  readonly isWorktree: boolean
  readonly head: string | null
  /** The branch checked out in the worktree (null when detached or unknown). */
  readonly headBranch: string | null
  /** Tracked files with staged or unstaged changes (at most 20 listed). */
  readonly changes: ReadonlyArray<string>
  readonly changeCount: number
  /** Untracked files that are not ignored and are not copies (at most 20 listed). */
  readonly untracked: ReadonlyArray<string>
  readonly untrackedCount: number
  /** Untracked files that are byte-identical copies of the repository's own. */
  readonly copies: number
  /** Commits at a detached HEAD that no branch, tag or remote contains. */
  readonly detachedCommits: number
  readonly branch: string | null
  readonly branchTip: string | null
  /** Commits on `branch` that no other branch, tag or remote contains. */
  readonly uniqueCommits: number
  /** Removing the worktree and its branch would lose nothing. */
  readonly lossless: boolean
  /** "2 uncommitted changes, 1 untracked file, 3 commits only on branch x", or "clean". */
  readonly summary: string
  /** Everything removing the worktree (and, with force, its branch) throws away, in full. */
  readonly discarded: Discarded
  /** Ignored paths that are regenerable build output (deleted with the worktree; not work). */
  readonly regenerable: ReadonlyArray<string>
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`

const LIST_MAX = 20
const COPY_CHECK_MAX = 200
const TREE_COMPARE_MAX = 200
const COPY_SIZE_MAX = 1 << 20

/** The inspection functions over git and the file system (used by `Worktrees.make`). */
export const makeInspector = Effect.gen(function*() {
  const git = yield* Git
  const config = yield* AppConfig
  const fs = yield* FileSystem.FileSystem
  const pathApi = yield* Path.Path
  const defaultRegenerable = pathMatcher(config.values["worktree.regenerable"])
  const realpath = (p: string) => fs.realPath(p).pipe(Effect.orElseSucceed(() => pathApi.resolve(p)))
  const exists = (p: string) => fs.exists(p).pipe(Effect.orElseSucceed(() => false))

  const requireAbsolute = (p: string) =>
    pathApi.isAbsolute(p) && !p.split(/[\\/]/).includes("..")
      ? Effect.succeed(pathApi.normalize(p))
      : Effect.fail(new InvalidInput({ field: "worktree path", detail: `${JSON.stringify(p)} must be an absolute path without '..'` }))

  // Read-only: no index refresh, no lock files (GIT_OPTIONAL_LOCKS=0), so an agent's git is never disturbed.
  const noLocks = { env: { GIT_OPTIONAL_LOCKS: "0" } }

  const sameBytes = (a: string, b: string) =>
    Effect.gen(function*() {
      const [sa, sb] = yield* Effect.all([fs.stat(a), fs.stat(b)])
      if (sa.type !== "File" || sb.type !== "File" || sa.size !== sb.size || Number(sa.size) > COPY_SIZE_MAX) return false
      const [ba, bb] = yield* Effect.all([fs.readFile(a), fs.readFile(b)])
      return Buffer.compare(Buffer.from(ba), Buffer.from(bb)) === 0
    }).pipe(Effect.orElseSucceed(() => false))

  /** A directory (or file) that is a byte-identical copy of another, within a small budget of files. */
  const sameTree = (a: string, b: string) =>
    Effect.gen(function*() {
      let budget = TREE_COMPARE_MAX
      const walk = (x: string, y: string): Effect.Effect<boolean> =>
        Effect.gen(function*() {
          if (--budget < 0) return false
          const [sx, sy] = yield* Effect.all([fs.stat(x), fs.stat(y)])
          if (sx.type === "File") return yield* sameBytes(x, y)
          if (sx.type !== "Directory" || sy.type !== "Directory") return false
          const [ex, ey] = yield* Effect.all([fs.readDirectory(x), fs.readDirectory(y)])
          if (ex.length !== ey.length || ex.some((e) => !ey.includes(e))) return false
          for (const e of ex) if (!(yield* walk(pathApi.join(x, e), pathApi.join(y, e)))) return false
          return true
        }).pipe(Effect.orElseSucceed(() => false))
      return yield* walk(a, b)
    })

  /** Commits reachable from `tip` and from no ref but `exclude` (listed newest first). */
  const commitsOnlyAt = (cwd: string, tip: string, exclude: string | null) =>
    git.run(cwd, [
      "log",
      "--format=%H%x1f%s",
      tip,
      "--not",
      ...(exclude !== null ? [`--exclude=${exclude}`] : []),
      "--branches",
      "--remotes",
      "--tags"
    ], noLocks).pipe(
      Effect.map((r) =>
        r.stdout.split("\n").filter((l) => l !== "").map((l) => {
          const [sha, ...subject] = l.split("\x1f")
          return { sha: sha!, subject: subject.join("\x1f") }
        })
      )
    )

  const branchState = (repoPath: string, branch: string | null | undefined) =>
    Effect.gen(function*() {
      if (branch === null || branch === undefined) return { tip: null, commits: [] as Array<DiscardedCommit> }
      yield* git.checkBranchName(branch)
      const tip = yield* git.run(repoPath, ["rev-parse", "-q", "--verify", `refs/heads/${branch}`], { okExitCodes: [0, 1] })
      if (tip.exitCode !== 0) return { tip: null, commits: [] as Array<DiscardedCommit> }
      const sha = tip.stdout.trim()
      const restore = `git -C ${shellQuote(repoPath)} branch ${branch} ${sha}`
      const commits = (yield* commitsOnlyAt(repoPath, sha, branch)).map((c) => ({ ...c, branch, restore }))
      return { tip: sha, commits }
    })

  /** A repository inside the worktree: its commits that no remote has, and its uncommitted changes. */
  const nestedRepo = (dir: string, rel: string, kind: NestedRepository["kind"]) =>
    Effect.gen(function*() {
      const full = pathApi.join(dir, rel)
      const head = yield* git.run(full, ["rev-parse", "-q", "--verify", "HEAD"], { ...noLocks, okExitCodes: [0, 1, 128] })
      const commits = head.exitCode === 0
        ? Number((yield* git.run(full, ["rev-list", "--count", "HEAD", "--not", "--remotes"], { ...noLocks, okExitCodes: [0, 128] })).stdout.trim()) || 0
        : 0
      const st = yield* git.run(full, ["status", "--porcelain=v1", "-z", "--untracked-files=normal"], { ...noLocks, okExitCodes: [0, 128] })
      const changes = st.stdout.split("\0").filter((e) => e.length > 3).length
      const parts: Array<string> = []
      if (commits > 0) parts.push(`${plural(commits, "commit")} on none of its remotes`)
      if (changes > 0) parts.push(plural(changes, "uncommitted change"))
      const detail = parts.length > 0 ? parts.join(", ") : kind === "submodule" ? "checked out at another commit" : "its own history"
      return { path: rel.replace(/\/+$/, ""), kind, commits, changes, detail } satisfies NestedRepository
    }).pipe(Effect.orElseSucceed(() => ({ path: rel.replace(/\/+$/, ""), kind, commits: 0, changes: 0, detail: "could not be read" })))

  // A `worktree.share` symlink (`node_modules -> <repo>/node_modules`) is a share, not work.
  const sharedLink = (link: string, target: string) =>
    fs.readLink(link).pipe(Effect.map((t) => t.replace(/\/+$/, "") === target), Effect.orElseSucceed(() => false))

  /**
   * Commits of the worktree's submodules that none of their remotes has, per submodule (their local
   * branches and HEAD live in the worktree's own module store and go with it). Run only when `.gitmodules`
   * exists; the command is a fixed string (git runs `foreach` through a shell).
   */
  const submoduleCommits = (path: string) =>
    Effect.gen(function*() {
      if (!(yield* exists(pathApi.join(path, ".gitmodules")))) return new Map<string, number>()
      const r = yield* git.run(path, [
        "submodule",
        "foreach",
        "--quiet",
        "--recursive",
        "echo \"$(git rev-list --count HEAD --branches --not --remotes) $displaypath\""
      ], { ...noLocks, okExitCodes: [0, 1, 128] })
      const out = new Map<string, number>()
      for (const line of r.stdout.split("\n")) {
        const m = /^(\d+) (.+)$/.exec(line.trim())
        if (m !== null && Number(m[1]) > 0) out.set(m[2]!, Number(m[1]))
      }
      return out
    }).pipe(Effect.orElseSucceed(() => new Map<string, number>()))

  /** Sort a worktree's status into work, copies of the repository's own files, and regenerable output. */
  const contents = (path: string, req: InspectRequest) =>
    Effect.gen(function*() {
      const status = yield* git.run(
        path,
        ["status", "--porcelain=v2", "-z", "--untracked-files=all", "--ignored=matching", "--ignore-submodules=none"],
        noLocks
      )
      const isRegenerable = req.regenerable !== undefined ? pathMatcher(req.regenerable) : defaultRegenerable
      const from = req.copiesFrom
      const isCopy = (rel: string, checked: { n: number }) =>
        from === undefined || ++checked.n > COPY_CHECK_MAX
          ? Effect.succeed(false)
          : Effect.flatMap(
            sharedLink(pathApi.join(path, rel), pathApi.join(from, rel)),
            (shared) => shared ? Effect.succeed(true) : sameTree(pathApi.join(path, rel), pathApi.join(from, rel))
          )
      const checked = { n: 0 }
      const out = {
        uncommitted: [] as Array<string>,
        untracked: [] as Array<string>,
        ignored: [] as Array<string>,
        nested: [] as Array<NestedRepository>,
        regenerable: [] as Array<string>,
        copies: 0
      }
      for (const e of parseStatusV2(status.stdout)) {
        if (e.kind === "changed") {
          if (e.submodule !== null) out.nested.push(yield* nestedRepo(path, e.path, "submodule"))
          else out.uncommitted.push(e.path)
        } else if (e.kind === "untracked") {
          // git lists a nested repository as one untracked directory.
          if (e.path.endsWith("/") && (yield* exists(pathApi.join(path, e.path, ".git")))) {
            out.nested.push(yield* nestedRepo(path, e.path, "repository"))
          } else if (yield* isCopy(e.path, checked)) out.copies++
          else out.untracked.push(e.path)
        } else if (isRegenerable(e.path)) out.regenerable.push(e.path)
        else if (yield* isCopy(e.path, checked)) out.copies++
        else out.ignored.push(e.path)
      }
      // Commits on a submodule's own branches do not show in `git status`.
      for (const [sub, commits] of yield* submoduleCommits(path)) {
        const at = out.nested.findIndex((n) => n.kind === "submodule" && n.path === sub)
        const known = at >= 0 ? out.nested[at]! : undefined
        if (known !== undefined && known.commits >= commits) continue
        const changes = known?.changes ?? 0
        const detail = `${plural(commits, "commit")} on none of its remotes` + (changes > 0 ? `, ${plural(changes, "uncommitted change")}` : "")
        const entry = { path: sub, kind: "submodule" as const, commits, changes, detail }
        if (at >= 0) out.nested[at] = entry
        else out.nested.push(entry)
      }
      return out
    })

  const identity = (p: string) =>
    fs.stat(p).pipe(
      Effect.map((st) => Option.match(st.ino, { onNone: () => undefined, onSome: (ino) => `${p}\0${st.dev}:${ino}` })),
      Effect.orElseSucceed(() => undefined)
    )
  const inspect = makeInspect({ git, exists, realpath, identity, requireAbsolute, contents, branchState, commitsOnlyAt, noLocks })

  /** Why a branch with no commits of its own elsewhere may go: never "merged" unless another branch has it. */
  const deletable = (repoPath: string, name: string, tip: string, base: string | null | undefined, target?: string | null) =>
    Effect.gen(function*() {
      // A branch still at the commit it started from is its own ancestor: no git needed to say so.
      if (base === tip) return { why: "no-commits" as const, detail: "it had no commits of its own" }
      if (base !== null && base !== undefined) {
        const behind = yield* git.run(repoPath, ["merge-base", "--is-ancestor", tip, base], { okExitCodes: [0, 1, 128] })
        if (behind.exitCode === 0) return { why: "no-commits" as const, detail: "it had no commits of its own" }
      }
      const holders = yield* git.run(repoPath, ["for-each-ref", "--contains", tip, "--format=%(refname:short)", "refs/heads/"])
      const others = holders.stdout.split("\n").filter((b) => b !== "" && b !== name)
      const into = target !== null && target !== undefined && others.includes(target) ? [target] : others
      return others.length > 0
        ? { why: "merged" as const, detail: `merged into ${into.slice(0, 3).join(", ")}${into.length > 3 ? ", …" : ""}` }
        : { why: "elsewhere" as const, detail: "its commits are on a remote branch or tag" }
    })

  return { inspect, deletable, requireAbsolute }
})

type InspectTools = {
  readonly git: Git["Type"]
  readonly exists: (p: string) => Effect.Effect<boolean>
  readonly realpath: (p: string) => Effect.Effect<string>
  /** The file's device and inode (undefined when it cannot be read). */
  readonly identity: (p: string) => Effect.Effect<string | undefined>
  readonly requireAbsolute: (p: string) => Effect.Effect<string, InvalidInput>
  readonly contents: (path: string, req: InspectRequest) => Effect.Effect<Contents, GitError>
  readonly branchState: (
    repoPath: string,
    branch: string | null | undefined
  ) => Effect.Effect<{ tip: string | null; commits: Array<DiscardedCommit> }, GitError | InvalidInput>
  readonly commitsOnlyAt: (cwd: string, tip: string, exclude: string | null) => Effect.Effect<Array<{ sha: string; subject: string }>, GitError>
  readonly noLocks: { readonly env: Record<string, string> }
}

interface Contents {
  readonly uncommitted: Array<string>
  readonly untracked: Array<string>
  readonly ignored: Array<string>
  readonly nested: Array<NestedRepository>
  readonly regenerable: Array<string>
  readonly copies: number
}

const SHA = /^[0-9a-f]{40,64}$/

/**
 * `Worktrees.inspect`. A worktree's facts — top level, common directory, HEAD and its branch, the session
 * branch's tip — come from one `git rev-parse`; the repository's common directory is asked once per
 * repository (and again if its `.git` is replaced). When that one call fails (an unborn HEAD, a missing
 * branch, not a repository) the facts are asked one by one as before.
 */
const makeInspect = (t: InspectTools) => {
  const { git, noLocks } = t
  const commonDirs = new Map<string, string>()
  const repoCommonDir = (repoPath: string) =>
    Effect.gen(function*() {
      const id = yield* t.identity(`${repoPath}/.git`)
      const known = id !== undefined ? commonDirs.get(id) : undefined
      if (known !== undefined) return known
      const r = yield* git.run(repoPath, ["rev-parse", "--path-format=absolute", "--git-common-dir"])
      const common = yield* t.realpath(r.stdout.trim())
      if (id !== undefined) commonDirs.set(id, common)
      return common
    })

  /** The worktree's facts in one `git rev-parse`; undefined when it fails (then they are asked one by one). */
  const facts = (path: string, req: InspectRequest) =>
    Effect.gen(function*() {
      const branch = req.branch ?? null
      const r = yield* git.run(path, [
        "rev-parse",
        "--path-format=absolute",
        "--show-toplevel",
        "--git-common-dir",
        "HEAD",
        ...(branch !== null ? [`refs/heads/${branch}`] : []),
        "--symbolic-full-name",
        "HEAD",
        "--abbrev-ref=loose",
        "HEAD"
      ], { ...noLocks, okExitCodes: [0, 1, 128] })
      const lines = r.stdout.split("\n").map((l) => l.trim()).filter((l) => l !== "")
      if (r.exitCode !== 0 || lines.length !== (branch !== null ? 6 : 5)) return undefined
      const [top, common, head, ...rest] = lines as [string, string, string, ...Array<string>]
      const tip = branch !== null ? rest.shift()! : null
      const [full, short] = rest as [string, string]
      if (!SHA.test(head) || (tip !== null && !SHA.test(tip))) return undefined
      return { top, common, head, tip, headBranch: full === "HEAD" ? null : short }
    })

  return (req: InspectRequest) =>
    Effect.gen(function*() {
      const path = yield* t.requireAbsolute(req.path)
      const branch = req.branch ?? null
      if (branch !== null) yield* git.checkBranchName(branch)
      const finish = (
        i: { exists: boolean; isWorktree: boolean; head: string | null; headBranch: string | null; copies: number },
        d: Discarded,
        regenerable: ReadonlyArray<string>,
        tip: string | null
      ): Inspection => {
        const detachedCommits = d.commits.filter((c) => c.branch === null).length
        const lossless = i.exists && !i.isWorktree ? false : d.uncommitted.length === 0 && d.untracked.length === 0 &&
          d.ignored.length === 0 && d.nested.length === 0 && d.commits.length === 0
        return {
          path,
          ...i,
          changes: d.uncommitted.slice(0, LIST_MAX),
          changeCount: d.uncommitted.length,
          untracked: d.untracked.slice(0, LIST_MAX),
          untrackedCount: d.untracked.length,
          detachedCommits,
          branch,
          branchTip: tip,
          uniqueCommits: d.commits.length - detachedCommits,
          lossless,
          summary: summarizeDiscarded(d, branch, i),
          discarded: d,
          regenerable
        }
      }
      const gone = { exists: false, isWorktree: false, head: null, headBranch: null, copies: 0 }
      const onlyCommits = (commits: Array<DiscardedCommit>): Discarded => ({ uncommitted: [], untracked: [], ignored: [], nested: [], commits })
      const branchOnly = (i: typeof gone) =>
        Effect.map(t.branchState(req.repoPath, branch), (b) => finish(i, onlyCommits(b.commits), [], b.tip))
      if (!(yield* t.exists(path))) return yield* branchOnly(gone)
      const f = yield* facts(path, req)
      let top: string | undefined, common: string | undefined, ok: boolean
      if (f !== undefined) [top, common, ok] = [f.top, f.common, true]
      else {
        const where = yield* git.run(path, ["rev-parse", "--path-format=absolute", "--show-toplevel", "--git-common-dir"], {
          ...noLocks,
          okExitCodes: [0, 128]
        })
        ;[top, common] = where.stdout.trim().split("\n")
        ok = where.exitCode === 0
      }
      const repoCommon = yield* repoCommonDir(req.repoPath)
      const isWorktree = ok && top !== undefined && common !== undefined &&
        (yield* t.realpath(top)) === (yield* t.realpath(path)) && (yield* t.realpath(common)) === repoCommon
      if (!isWorktree) return yield* branchOnly({ ...gone, exists: true })
      // The worktree shares the repository's refs: the branch's tip read in it is the repository's.
      const b = f !== undefined
        ? {
          tip: f.tip,
          commits: f.tip === null ? [] : (yield* t.commitsOnlyAt(req.repoPath, f.tip, branch)).map((c) => ({
            ...c,
            branch,
            restore: `git -C ${shellQuote(req.repoPath)} branch ${branch} ${f.tip}`
          }))
        }
        : yield* t.branchState(req.repoPath, branch)
      const c = yield* t.contents(path, req)
      let headSha: string | null, headBranch: string | null
      if (f !== undefined) [headSha, headBranch] = [f.head, f.headBranch]
      else {
        const headRef = yield* git.run(path, ["symbolic-ref", "-q", "--short", "HEAD"], { ...noLocks, okExitCodes: [0, 1] })
        const head = yield* git.run(path, ["rev-parse", "-q", "--verify", "HEAD"], { ...noLocks, okExitCodes: [0, 1] })
        headSha = head.exitCode === 0 ? head.stdout.trim() : null
        headBranch = headRef.exitCode === 0 ? headRef.stdout.trim() : null
      }
      const detached: Array<DiscardedCommit> = []
      if (headBranch === null && headSha !== null) {
        const restore = `git -C ${shellQuote(req.repoPath)} branch restored-${headSha.slice(0, 12)} ${headSha}`
        for (const x of yield* t.commitsOnlyAt(path, headSha, null)) detached.push({ ...x, branch: null, restore })
      }
      return finish(
        { exists: true, isWorktree: true, head: headSha, headBranch, copies: c.copies },
        { uncommitted: c.uncommitted, untracked: c.untracked, ignored: c.ignored, nested: c.nested, commits: [...detached, ...b.commits] },
        c.regenerable,
        b.tip
      )
    }).pipe(Effect.withSpan("Worktrees.inspect", { attributes: { path: req.path } }))
}
