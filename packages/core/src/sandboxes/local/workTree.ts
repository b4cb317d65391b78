/**
 * A local sandbox that works in the run's own worktree instead of a copy. The worktree is a fresh checkout
 * of the base commit (made by `Sessions.register`, with nothing copied in from outside the repository);
 * {@link prepare} makes it hold what an upload would — the repository's uncommitted and untracked-not-ignored
 * files put in, files deleted there taken out — and records the baseline: a copy of the worktree's own index
 * (stat data included, so nothing is hashed again; the caller refreshes it first, as a checkout leaves the
 * files of its last second racily clean), updated for those few paths. Under bubblewrap the agent
 * sees it at `/workspace`, its `.git` file covered by an empty one: the repository's git directory is
 * never visible.
 *
 * After the agent, {@link settle} leaves the worktree holding exactly the base commit plus the agent's
 * accepted changes, as applying them to a new checkout would: what the run refused is removed (escaping
 * symlinks, special files, nested repositories), the ignored files the agent made are removed, no file
 * keeps a mode that lets others write it or a set-id bit, and the uploaded differences the agent did not
 * touch are put back as the base commit has them.
 *
 * Nothing here follows a symlink: every removal checks each parent with `lstat` first.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import * as path from "node:path"
import type { Git } from "../../platform/Git.js"
import * as NodeFs from "../../platform/nodeFs.js"
import * as Archive from "../archive.js"
import { type Changes, SandboxError } from "../SandboxProvider.js"
import * as Baseline from "./baseline.js"

const fail = (reason: SandboxError["reason"], detail: string, sandboxId: string, cause?: unknown) =>
  new SandboxError({ reason, provider: "local", detail, sandboxId, ...(cause !== undefined ? { cause } : {}) })

const message = (e: unknown) => (e instanceof Error ? e.message : String(e))

/** The uploaded differences from the base commit, recorded for {@link settle} (any process). */
export const dirtyFile = (dir: string) => path.join(dir, "meta", "dirty.json")

/** Git in the worktree, on the baseline index, with no hooks and no fsmonitor. */
export const git = (run: Git["Type"]["run"], dir: string, workTree: string, args: ReadonlyArray<string>, stdin?: string) =>
  run(workTree, ["-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false", "-c", "core.quotepath=false", ...args], {
    env: { GIT_INDEX_FILE: Baseline.indexFile(dir), GIT_TERMINAL_PROMPT: "0", GIT_LITERAL_PATHSPECS: "1" },
    stdin
  }).pipe(Effect.mapError((e) => fail("CommandFailed", e.message, dir, e)))

const lstat = (p: string) => NodeFs.promises.lstat(p).catch(() => undefined)

/**
 * Remove `rel` under `root` without following a symlink: when a parent is not a real directory, that
 * parent (inside `root`) is what goes.
 */
export const safeRemove = async (root: string, rel: string): Promise<void> => {
  const parts = rel.split("/")
  let cur = root
  for (const part of parts.slice(0, -1)) {
    cur = path.join(cur, part)
    const st = await lstat(cur)
    if (st === undefined) return
    if (!st.isDirectory()) {
      await NodeFs.promises.rm(cur, { force: true })
      return
    }
  }
  await NodeFs.promises.rm(path.join(root, rel), { recursive: true, force: true })
}

/** Make `rel`'s parents real directories under `root` (anything else in the way is removed). */
const parents = async (root: string, rel: string): Promise<void> => {
  let cur = root
  for (const part of rel.split("/").slice(0, -1)) {
    cur = path.join(cur, part)
    const st = await lstat(cur)
    if (st !== undefined && st.isDirectory()) continue
    if (st !== undefined) await NodeFs.promises.rm(cur, { force: true })
    await NodeFs.promises.mkdir(cur, { mode: 0o755 })
  }
}

/** Put the repository's version of each `dirty` path into the work tree (or take it out when it has none). */
const applyDirty = async (root: string, workTree: string, dirty: ReadonlyArray<string>): Promise<void> => {
  for (const rel of dirty) {
    const checked = Archive.checkPath(rel)
    if ("refused" in checked) throw new Error(`${rel}: ${checked.refused}`)
    const src = path.join(root, checked.ok)
    const dst = path.join(workTree, checked.ok)
    const st = await lstat(src)
    if (st === undefined || st.isDirectory()) {
      // Deleted, or a directory now (a nested repository, a submodule, a type change): not a file of the upload.
      await safeRemove(workTree, checked.ok)
      continue
    }
    if (!st.isFile() && !st.isSymbolicLink()) continue
    await parents(workTree, checked.ok)
    await safeRemove(workTree, checked.ok)
    if (st.isSymbolicLink()) await NodeFs.promises.symlink(await NodeFs.promises.readlink(src), dst)
    else {
      await NodeFs.promises.copyFile(src, dst, NodeFs.constants.COPYFILE_EXCL)
      await NodeFs.promises.chmod(dst, st.mode & 0o777)
    }
  }
}

/**
 * Make the worktree hold the repository's work tree as it is (`dirty`: the paths that differ from the base
 * commit, from `FileSync.survey`) and record the baseline.
 */
export const prepare = (run: Git["Type"]["run"], dir: string, workTree: string, root: string, dirty: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    // A linked worktree's `.git` file names its git directory (gitrepository-layout(5)); git is asked only
    // when it does not.
    const named = yield* NodeFs.readText(path.join(workTree, ".git")).pipe(
      Effect.map((text) => /^gitdir: (.+)$/m.exec(text)?.[1]?.trim()),
      Effect.orElseSucceed(() => undefined)
    )
    const gitDir = named !== undefined
      ? path.resolve(workTree, named)
      : (yield* run(workTree, ["rev-parse", "--absolute-git-dir"]).pipe(Effect.mapError((e) => fail("UploadFailed", e.message, dir, e)))).stdout.trim()
    yield* NodeFs.copyFile(path.join(gitDir, "index"), Baseline.indexFile(dir)).pipe(
      Effect.mapError((e) => fail("UploadFailed", `the worktree's index: ${e.message}`, dir, e))
    )
    yield* Effect.tryPromise({
      try: () => applyDirty(root, workTree, dirty),
      catch: (e) => fail("UploadFailed", `putting the uncommitted files in: ${message(e)}`, dir, e)
    })
    if (dirty.length > 0) {
      yield* git(run, dir, workTree, ["update-index", "--add", "--remove", "-z", "--stdin"], dirty.map((p) => `${p}\0`).join("")).pipe(
        Effect.mapError((e) => fail("UploadFailed", `recording the baseline: ${e.message}`, dir, e))
      )
    }
    yield* NodeFs.writeFile(dirtyFile(dir), JSON.stringify(dirty), { mode: 0o600 }).pipe(
      Effect.mapError((e) => fail("UploadFailed", e.message, dir, e))
    )
  })

/** The worktree against the baseline. */
export const changes = (run: Git["Type"]["run"], dir: string, workTree: string): Effect.Effect<Changes, SandboxError> =>
  Effect.flatMap(git(run, dir, workTree, Baseline.statusArgs), (r) => Baseline.changesFrom(r.stdout, workTree, dir))

interface Found {
  readonly refused: Array<{ readonly path: string; readonly reason: string }>
}

/**
 * Runs `find` with an argument array in a directory: its stdout, or undefined when it did not finish cleanly
 * (not installed, a `find` without GNU's `-perm /MODE`, an unreadable directory).
 */
export type Finder = (cwd: string, args: ReadonlyArray<string>) => Effect.Effect<string | undefined>

/**
 * What the sweep must look at, found by one `find` process (a walk in C: ~0.1 s for 20 000 files where a
 * walk through node's promises takes 0.6–1.2 s): entries named `.git` in any case (but the worktree's own),
 * and, symlinks aside, entries that others may write, with a set-id or sticky bit, or that are neither a
 * file nor a directory.
 */
const findArgs = [
  ".", "-mindepth", "1",
  "(", "-path", "./.git", "-prune", ")", "-o",
  "(", "-iname", ".git", "-prune", "-print0", ")", "-o",
  "(", "!", "-type", "l", "(", "-perm", "/7022", "-o", "(", "!", "-type", "f", "!", "-type", "d", ")", ")", "-print0", ")"
]

/** Handle one entry the sweep looks at (see {@link sweep}). */
const sweepEntry = async (workTree: string, r: string, found: Found): Promise<"descend" | "done"> => {
  const full = path.join(workTree, r)
  if (path.basename(r).toLowerCase() === ".git") {
    await NodeFs.promises.rm(full, { recursive: true, force: true })
    found.refused.push({ path: r, reason: "writes into .git are not allowed" })
    return "done"
  }
  const st = await lstat(full)
  if (st === undefined || st.isSymbolicLink()) return "done"
  if (!st.isFile() && !st.isDirectory()) {
    await NodeFs.promises.rm(full, { force: true })
    found.refused.push({ path: r, reason: "not a regular file, directory or symlink" })
    return "done"
  }
  if ((st.mode & 0o7022) !== 0) await NodeFs.promises.chmod(full, st.mode & 0o755)
  return st.isDirectory() ? "descend" : "done"
}

/** The same sweep as a walk in node (where `find` cannot be used): every entry is looked at. */
const walkAll = async (workTree: string, found: Found): Promise<void> => {
  const walk = async (rel: string): Promise<void> => {
    const entries = await NodeFs.promises.readdir(path.join(workTree, rel), { withFileTypes: true })
    for (const e of entries) {
      if (rel === "" && e.name === ".git") continue
      const r = rel === "" ? e.name : `${rel}/${e.name}`
      if ((await sweepEntry(workTree, r, found)) === "descend") await walk(r)
    }
  }
  await walk("")
}

/** Special files and nested `.git` entries go (refused); no mode lets others write, no set-id bit stays. */
const sweep = (workTree: string, found: Found, finder: Finder | undefined) =>
  Effect.gen(function*() {
    const listed = finder === undefined ? undefined : yield* finder(workTree, findArgs)
    yield* Effect.tryPromise({
      try: async () => {
        if (listed === undefined) return walkAll(workTree, found)
        for (const rec of listed.split("\0")) {
          if (rec.startsWith("./")) await sweepEntry(workTree, rec.slice(2), found)
        }
      },
      catch: (e) => e
    })
  })

/**
 * Leave the worktree as the base commit plus the agent's accepted `changes` (see the module doc). Returns
 * what it removed besides `changes.refused`.
 */
export const settle = (run: Git["Type"]["run"], dir: string, workTree: string, changes: Changes, finder?: Finder) =>
  Effect.gen(function*() {
    const found: Found = { refused: [] }
    const dirty = yield* NodeFs.readText(dirtyFile(dir)).pipe(
      Effect.flatMap((t) => Effect.try(() => JSON.parse(t) as Array<string>)),
      Effect.orElseSucceed((): Array<string> => [])
    )
    yield* Effect.tryPromise({
      try: async () => {
        for (const r of changes.refused) {
          const checked = Archive.checkPath(r.path)
          if ("ok" in checked) await safeRemove(workTree, checked.ok)
        }
      },
      catch: (e) => fail("DownloadFailed", `removing what was refused: ${message(e)}`, dir, e)
    })
    // Ignored files are never part of a run's changes: those the agent made go (nested repositories too).
    yield* run(workTree, ["-c", "core.hooksPath=/dev/null", "clean", "-ffdXq"]).pipe(Effect.mapError((e) => fail("DownloadFailed", e.message, dir, e)))
    yield* sweep(workTree, found, finder).pipe(Effect.mapError((e) => fail("DownloadFailed", `checking the worktree: ${message(e)}`, dir, e)))
    const touched = new Set([...changes.added, ...changes.modified, ...changes.deleted])
    const back = [...new Set([...dirty.filter((p) => !touched.has(p)), ...changes.refused.map((r) => r.path), ...found.refused.map((r) => r.path)])]
    if (back.length > 0) {
      // The worktree's own index is the base commit's: what it has comes back from there, the rest goes.
      const tracked = new Set((yield* run(workTree, ["ls-files", "-z"]).pipe(Effect.mapError((e) => fail("DownloadFailed", e.message, dir, e)))).stdout.split("\0"))
      yield* Effect.tryPromise({
        try: async () => {
          for (const p of back) if (!tracked.has(p)) await safeRemove(workTree, p)
          for (const p of back) if (tracked.has(p)) await safeRemove(workTree, p)
        },
        catch: (e) => fail("DownloadFailed", message(e), dir, e)
      })
      const restore = back.filter((p) => tracked.has(p))
      if (restore.length > 0) {
        yield* run(workTree, ["-c", "core.hooksPath=/dev/null", "checkout-index", "-f", "-z", "--stdin"], {
          stdin: restore.map((p) => `${p}\0`).join(""),
          env: { GIT_LITERAL_PATHSPECS: "1" }
        }).pipe(Effect.mapError((e) => fail("DownloadFailed", `restoring ${restore.length} file(s): ${e.message}`, dir, e)))
      }
    }
    return found.refused
  })
