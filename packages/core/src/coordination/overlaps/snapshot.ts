/**
 * A snapshot of one session's work as git objects, without touching its work tree or its index: the
 * worktree's files (tracked, staged, unstaged, untracked and not ignored) are added to a temporary index of
 * our own (`GIT_INDEX_FILE`, a copy of the worktree's index the first time, then kept between scans so that
 * git re-reads only files whose stat changed), written as a tree, and wrapped in a commit whose parent is
 * the session's HEAD — so `git merge-tree` can merge two sessions' uncommitted work like branches. The
 * commit has a fixed identity and date: the same tree on the same HEAD is the same commit.
 */
import { CommandExecutor, type FileSystem } from "@effect/platform"
import { Effect } from "effect"
import { execBytes } from "../../platform/exec.js"
import * as NodeFs from "../../platform/nodeFs.js"
import { type Git, GitError, syntheticCommitEnv } from "../../platform/Git.js"

type G = Git["Type"]

export interface Snapshot {
  /** The worktree's HEAD commit (null: no commit yet). */
  readonly head: string | null
  /** Where the session's changes are counted from: merge-base(HEAD, the commit it started from). */
  readonly base: string
  readonly tree: string
  /** A commit of `tree` on top of `head`. */
  readonly commit: string
}

export interface ChangedFile {
  readonly path: string
  readonly status: "added" | "modified" | "deleted"
  /** Changed by the session's own commits (base..HEAD). */
  readonly committed: boolean
  /** Changed in the work tree or index (HEAD..snapshot). */
  readonly uncommitted: boolean
  readonly baseBlob: string | null
  readonly blob: string | null
}

// A fixed identity and date; never refresh the worktree's own index or take its lock.
const identity = syntheticCommitEnv

const isOid = (s: string | undefined): s is string => s !== undefined && /^[0-9a-f]{40,64}$/.test(s)

/** The worktree's git dir and HEAD (null when unborn). */
const headOf = (git: G, worktree: string) =>
  Effect.map(
    git.run(worktree, ["rev-parse", "--absolute-git-dir", "HEAD"], { okExitCodes: [0, 128], env: identity }),
    (r) => {
      const [gitDir, head] = r.stdout.split("\n").map((l) => l.trim())
      return { gitDir: gitDir ?? "", head: r.exitCode === 0 && isOid(head) ? head : null }
    }
  )

const emptyTree = (git: G, worktree: string) =>
  Effect.map(git.run(worktree, ["hash-object", "-t", "tree", "--stdin"], { stdin: "", env: identity }), (r) => r.stdout.trim())

/**
 * Snapshot the worktree. `indexFile` is our temporary index (created from the worktree's index when
 * missing); `startedFrom` the commit the session began at (null: count from HEAD).
 */
export const takeSnapshot = (
  git: G,
  fs: FileSystem.FileSystem,
  options: { readonly worktree: string; readonly indexFile: string; readonly startedFrom: string | null }
): Effect.Effect<Snapshot, GitError> =>
  Effect.gen(function*() {
    const { worktree, indexFile } = options
    const { gitDir, head } = yield* headOf(git, worktree)
    const have = yield* fs.exists(indexFile).pipe(Effect.orElseSucceed(() => false))
    // With the original's times, so that git re-reads files changed in the same second as it ("racy git").
    if (!have) yield* NodeFs.copyFileWithTimes(`${gitDir}/index`, indexFile).pipe(Effect.ignore)
    const env = { ...identity, GIT_INDEX_FILE: indexFile }
    yield* git.run(worktree, ["add", "-A", "--ignore-errors", "--", "."], { env, okExitCodes: [0, 1, 128] })
    const tree = (yield* git.run(worktree, ["write-tree"], { env })).stdout.trim()
    const commit = (yield* git.run(
      worktree,
      ["commit-tree", tree, ...(head !== null ? ["-p", head] : []), "-m", "parallel-cc snapshot"],
      { env: identity }
    )).stdout.trim()
    let base = head
    if (head !== null && options.startedFrom !== null && options.startedFrom !== head) {
      const mb = yield* git.run(worktree, ["merge-base", head, options.startedFrom], { okExitCodes: [0, 1, 128], env: identity })
      const found = mb.stdout.trim()
      if (mb.exitCode === 0 && isOid(found)) base = found
    }
    return { head, base: base ?? (yield* emptyTree(git, worktree)), tree, commit }
  })

const nameOnly = (git: G, worktree: string, a: string, b: string) =>
  Effect.map(
    git.run(worktree, ["diff-tree", "-r", "-z", "--no-renames", "--name-only", a, b, "--"], { env: identity }),
    (r) => new Set(r.stdout.split("\0").filter((p) => p !== ""))
  )

/** The files that differ between the snapshot and its base, with their blobs on both sides. */
export const changedFiles = (git: G, worktree: string, snap: Snapshot): Effect.Effect<ReadonlyArray<ChangedFile>, GitError> =>
  Effect.gen(function*() {
    const raw = yield* git.run(worktree, ["diff-tree", "-r", "-z", "--no-renames", snap.base, snap.tree, "--"], { env: identity })
    const committed = snap.head !== null && snap.head !== snap.base
      ? yield* nameOnly(git, worktree, snap.base, snap.head)
      : new Set<string>()
    const uncommitted = snap.head !== null ? yield* nameOnly(git, worktree, snap.head, snap.tree) : null
    const fields = raw.stdout.split("\0")
    const out: Array<ChangedFile> = []
    for (let i = 0; i + 1 < fields.length; i += 2) {
      const meta = fields[i]!
      const path = fields[i + 1]!
      if (!meta.startsWith(":")) continue
      const [, , oldOid, newOid, letter] = meta.slice(1).split(" ")
      const zero = (o: string | undefined) => o === undefined || /^0+$/.test(o) ? null : o
      out.push({
        path,
        status: letter === "A" ? "added" : letter === "D" ? "deleted" : "modified",
        committed: committed.has(path),
        uncommitted: uncommitted === null ? true : uncommitted.has(path),
        baseBlob: zero(oldOid),
        blob: zero(newOid)
      })
    }
    return out
  })

/** Contents of blobs (by id), read with one `git cat-file --batch`; blobs above `maxBytes` are left out. */
export const readBlobs = (
  git: G,
  executor: CommandExecutor.CommandExecutor,
  worktree: string,
  oids: ReadonlyArray<string>,
  maxBytes: number
): Effect.Effect<ReadonlyMap<string, string>, GitError> =>
  Effect.gen(function*() {
    const unique = [...new Set(oids)].filter(isOid)
    const out = new Map<string, string>()
    if (unique.length === 0) return out
    const sizes = yield* git.run(worktree, ["cat-file", "--batch-check=%(objectname) %(objectsize)"], {
      stdin: unique.join("\n") + "\n",
      env: identity
    })
    const small = sizes.stdout.split("\n").map((l) => l.split(" ")).filter(([o, s]) => isOid(o) && Number(s) <= maxBytes)
      .map(([o]) => o!)
    if (small.length === 0) return out
    const args = ["cat-file", "--batch"]
    const r = yield* execBytes(["git", ...args], { cwd: worktree, stdin: small.join("\n") + "\n", env: { LC_ALL: "C", ...identity } }).pipe(
      Effect.provideService(CommandExecutor.CommandExecutor, executor),
      Effect.mapError((e) => new GitError({ reason: "CommandFailed", args, cwd: worktree, stderr: e.message }))
    )
    if (r.exitCode !== 0) return yield* new GitError({ reason: "CommandFailed", args, cwd: worktree, exitCode: r.exitCode, stderr: r.stderr })
    // A header line, then <size> bytes and a newline; contents are decoded as UTF-8 (the analysis is by line).
    const bytes = r.stdout
    let at = 0
    const decoder = new TextDecoder()
    while (at < bytes.length) {
      const nl = bytes.indexOf(10, at)
      if (nl < 0) break
      const [oid, type, size] = decoder.decode(bytes.subarray(at, nl)).split(" ")
      const n = Number(size)
      if (type === undefined || !Number.isFinite(n)) break
      const body = bytes.subarray(nl + 1, nl + 1 + n)
      if (type === "blob" && oid !== undefined) out.set(oid, decoder.decode(body))
      at = nl + 1 + n + 1
    }
    return out
  })

/** The files `git merge-tree` would leave conflicted when merging the two commits (empty: clean). */
export const conflictedFiles = (git: G, worktree: string, a: string, b: string): Effect.Effect<ReadonlySet<string>, GitError> =>
  Effect.map(
    git.run(worktree, ["merge-tree", "--write-tree", "--name-only", "-z", "--no-messages", a, b], {
      okExitCodes: [0, 1],
      env: identity
    }),
    (r) => r.exitCode === 0 ? new Set<string>() : new Set(r.stdout.split("\0").slice(1).filter((p) => p !== ""))
  )
