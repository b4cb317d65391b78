/**
 * The baseline of a local sandbox: what was uploaded, recorded in a git directory of our own outside the
 * copy (`meta/baseline.git` and `meta/baseline.index`), so that the agent's changes are found by comparing
 * the copy with it — without trusting anything inside the copy, and without the copy ever having a `.git`.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import * as path from "node:path"
import type { Git } from "../../platform/Git.js"
import * as NodeFs from "../../platform/nodeFs.js"
import * as Archive from "../archive.js"
import { type Changes, SandboxError } from "../SandboxProvider.js"

const fail = (reason: SandboxError["reason"], detail: string, sandboxId: string, cause?: unknown) =>
  new SandboxError({ reason, provider: "local", detail, sandboxId, ...(cause !== undefined ? { cause } : {}) })

export const gitDir = (dir: string) => path.join(dir, "meta", "baseline.git")
export const indexFile = (dir: string) => path.join(dir, "meta", "baseline.index")

const gitEnv = { GIT_CONFIG_GLOBAL: "/dev/null", GIT_CONFIG_NOSYSTEM: "1", GIT_TERMINAL_PROMPT: "0" }

/** Our own git directory, outside the copy: nothing the agent writes can configure what git runs here. */
export const git = (run: Git["Type"]["run"], dir: string, args: ReadonlyArray<string>, stdin?: string) =>
  run(path.join(dir, "meta"), [
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "core.fsmonitor=false",
    "-c",
    "core.autocrlf=false",
    "-c",
    "core.symlinks=true",
    "-c",
    "core.quotepath=false",
    "--git-dir",
    gitDir(dir),
    "--work-tree",
    path.join(dir, "work"),
    ...args
  ], { env: { ...gitEnv, GIT_INDEX_FILE: indexFile(dir) }, stdin }).pipe(
    Effect.mapError((e) => fail("CommandFailed", e.message, dir, e))
  )

/**
 * A minimal git directory (gitrepository-layout(5): `HEAD`, `objects/`, `refs/` are what makes one), made
 * without `git init`: no template files, one process less per sandbox. `info/exclude` carries the ignore
 * patterns of the source repository that do not travel with the files.
 */
const initGitDir = (dir: string, excludes: string | undefined) =>
  Effect.gen(function*() {
    const g = gitDir(dir)
    yield* NodeFs.makeDirectory(path.join(g, "objects"), { recursive: true, mode: 0o700 })
    yield* NodeFs.makeDirectory(path.join(g, "refs"), { mode: 0o700 })
    yield* NodeFs.writeFile(path.join(g, "HEAD"), "ref: refs/heads/baseline\n", { mode: 0o600 })
    if (excludes !== undefined && excludes !== "") {
      yield* NodeFs.makeDirectory(path.join(g, "info"), { mode: 0o700 })
      yield* NodeFs.writeFile(path.join(g, "info", "exclude"), excludes, { mode: 0o600 })
    }
  })

/**
 * Record the uploaded files as the baseline: their ids and stat data in the baseline index. `--info-only`
 * hashes without writing objects: a file is compared with the baseline by hashing it, so its blob is never
 * needed (the changes are collected from the copy). A symlink is compared by reading its blob, so symlinks
 * get theirs (a second process, only when the work tree has symlinks).
 */
export const record = (
  run: Git["Type"]["run"],
  dir: string,
  files: ReadonlyArray<string>,
  links: ReadonlyArray<string>,
  excludes: string | undefined
) =>
  Effect.gen(function*() {
    yield* initGitDir(dir, excludes).pipe(Effect.mapError((e) => fail("UploadFailed", `creating ${gitDir(dir)}: ${e.message}`, dir, e)))
    const isLink = new Set(links)
    const add = (paths: ReadonlyArray<string>, infoOnly: boolean) =>
      git(run, dir, ["update-index", "--add", ...(infoOnly ? ["--info-only"] : []), "-z", "--stdin"], paths.map((f) => `${f}\0`).join("")).pipe(
        Effect.mapError((e) => fail("UploadFailed", `recording the baseline: ${e.message}`, dir, e))
      )
    yield* add(files.filter((f) => !isLink.has(f)), true)
    if (links.length > 0) yield* add(links, false)
  })

/** Parse `git status --porcelain=v1 -z` against the baseline index into added, modified and deleted paths. */
export const parseStatus = (status: string): { added: Array<string>; modified: Array<string>; deleted: Array<string> } => {
  const added: Array<string> = []
  const modified: Array<string> = []
  const deleted: Array<string> = []
  for (const record of status.split("\0")) {
    if (record.length < 4) continue
    const code = record.slice(0, 2)
    // A nested repository shows as its directory ("dir/"); it is refused when collected, as before.
    const p = record.slice(3).replace(/\/$/, "")
    if (code === "??") added.push(p)
    else if (code[1] === "D") deleted.push(p)
    else if (code[1] !== " ") modified.push(p)
  }
  return { added: added.sort(), modified: modified.sort(), deleted: deleted.sort() }
}

/** The arguments of the read-only status against a baseline index. */
export const statusArgs = ["--no-optional-locks", "status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames", "--ignore-submodules=none"]

/**
 * The changes of `work` given its status against the baseline: added and modified files are packed into
 * one archive, read without following any symlink; what cannot be packed, and symlinks that point outside
 * `work`, are refused.
 */
export const changesFrom = (status: string, work: string, sandboxId: string): Effect.Effect<Changes, SandboxError> =>
  Effect.gen(function*() {
    const { added, deleted, modified } = parseStatus(status)
    const collected = yield* Effect.tryPromise({
      try: () => Archive.collect(work, [...added, ...modified]),
      catch: (e) => fail("DownloadFailed", String(e), sandboxId, e)
    })
    // Refused here as applying them would refuse them: a sandbox working in place is its own destination.
    const entries = collected.entries.filter((e) => e.kind !== "symlink" || Archive.symlinkInside(e.path, e.target) !== undefined)
    const escaping = collected.entries.flatMap((e) =>
      e.kind === "symlink" && Archive.symlinkInside(e.path, e.target) === undefined
        ? [{ path: e.path, reason: `symlink to ${JSON.stringify(e.target)} points outside the target directory` }]
        : []
    )
    const archive = yield* Effect.tryPromise({
      try: () => Archive.packEntries(entries),
      catch: (e) => fail("DownloadFailed", String(e), sandboxId, e)
    })
    const packed = new Set(entries.map((e) => e.path))
    return {
      archive,
      added: added.filter((p) => packed.has(p)),
      modified: modified.filter((p) => packed.has(p)),
      deleted,
      refused: [...collected.refused, ...escaping]
    }
  })

/**
 * The copy against the baseline index: tracked entries are "A" against the (empty) HEAD, and their second
 * column says how the copy differs (content compared, not only stat data); "??" is a new file that the
 * copy's .gitignore files and the repository's excludes do not ignore. Read-only on the index.
 */
export const changes = (run: Git["Type"]["run"], dir: string): Effect.Effect<Changes, SandboxError> =>
  Effect.flatMap(git(run, dir, statusArgs), (r) => changesFrom(r.stdout, path.join(dir, "work"), dir))
