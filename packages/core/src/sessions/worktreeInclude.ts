/**
 * `.worktreeinclude`: which ignored files a new worktree brings along from the main checkout (the shared
 * convention of Claude Code, Codex, Conductor, ccmanager and worktrunk). The file, at the repository's top
 * level, uses gitignore syntax; a path is copied when it matches AND git ignores it. Git itself does the
 * matching (`ls-files --others --ignored --exclude-from`, `check-ignore`), so the syntax is exactly git's.
 *
 * - Tracked files that match are skipped with a note: git already puts them in the worktree, and copying
 *   the main checkout's version over them would change committed content.
 * - Untracked files that git does not ignore are skipped with a note: they are somebody's work, not
 *   configuration.
 * - A pattern that climbs out of the repository (`..`) is refused: the worktree is not created.
 * - A matched symlink that points outside the repository is skipped with a note (never followed).
 */
import { FileSystem, Path } from "@effect/platform"
import { Effect, Schema } from "effect"
import { Git, type GitError } from "../platform/Git.js"

export const INCLUDE_FILE = ".worktreeinclude"

/** `.worktreeinclude` asks for something parallel-cc will not do. */
export class IncludeError extends Schema.TaggedError<IncludeError>()("IncludeError", {
  reason: Schema.Literal("OutsideRepository", "Unreadable"),
  path: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return this.reason === "OutsideRepository"
      ? `${this.path}: ${this.detail}; a worktree only brings along ignored files of its own repository — remove ` +
        "that line (the worktree was not created)"
      : `cannot read ${this.path}: ${this.detail}`
  }
}

export interface IncludePlan {
  /** Paths (relative to the top level) to copy: files, and folders git ignores as a whole. */
  readonly copy: ReadonlyArray<string>
  /** Matched paths that are not copied, with why. */
  readonly skipped: ReadonlyArray<{ readonly path: string; readonly why: string }>
}

const SKIP_LIST_MAX = 20

const split0 = (s: string) => s.split("\0").filter((x) => x !== "")

/** Lines of a gitignore-syntax file that climb out of the repository. */
export const outsideLines = (text: string): ReadonlyArray<string> =>
  text.split(/\r?\n/).filter((line) => {
    const t = line.trim()
    if (t === "" || t.startsWith("#")) return false
    const p = t.replace(/^!/, "").replace(/^\\/, "")
    return p.split("/").includes("..")
  })

/** What `.worktreeinclude` of `repoPath` asks to bring into a new worktree (read-only). */
export const planInclude = (repoPath: string): Effect.Effect<
  IncludePlan,
  IncludeError | GitError,
  Git | FileSystem.FileSystem | Path.Path
> =>
  Effect.gen(function*() {
    const git = yield* Git
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const file = path.join(repoPath, INCLUDE_FILE)
    const info = yield* fs.stat(file).pipe(Effect.option)
    if (info._tag === "None" || info.value.type !== "File") return { copy: [], skipped: [] }
    const text = yield* fs.readFileString(file).pipe(
      Effect.mapError((e) => new IncludeError({ reason: "Unreadable", path: file, detail: e.message }))
    )
    const outside = outsideLines(text)
    if (outside.length > 0) {
      return yield* new IncludeError({
        reason: "OutsideRepository",
        path: file,
        detail: `${outside.map((l) => JSON.stringify(l.trim())).join(", ")} points outside the repository`
      })
    }
    const skipped: Array<{ path: string; why: string }> = []
    const matchArgs = ["-z", "--ignored", `--exclude-from=${file}`]
    const tracked = yield* git.run(repoPath, ["ls-files", "--cached", ...matchArgs])
    for (const p of split0(tracked.stdout)) skipped.push({ path: p, why: "tracked by git (the worktree has its own copy)" })
    const others = yield* git.run(repoPath, ["ls-files", "--others", ...matchArgs, "--directory", "--no-empty-directory"])
    const candidates = split0(others.stdout).filter((p) => p !== INCLUDE_FILE)
    const ignoredOf = (paths: ReadonlyArray<string>) =>
      paths.length === 0
        ? Effect.succeed(new Set<string>())
        : git.run(repoPath, ["check-ignore", "-z", "--stdin"], { stdin: paths.join("\0") + "\0", okExitCodes: [0, 1] })
          .pipe(Effect.map((r) => new Set(split0(r.stdout))))
    const ignored = yield* ignoredOf(candidates)
    const copy: Array<string> = []
    const notIgnored = (p: string) => skipped.push({ path: p, why: "not ignored by git (untracked work, not configuration)" })
    for (const c of candidates) {
      if (ignored.has(c)) {
        copy.push(c.replace(/\/$/, ""))
        continue
      }
      if (!c.endsWith("/")) {
        notIgnored(c)
        continue
      }
      // A folder git does not ignore as a whole: look at its files one by one.
      const inner = yield* git.run(repoPath, ["ls-files", "--others", ...matchArgs, "--", c])
      const files = split0(inner.stdout)
      const innerIgnored = yield* ignoredOf(files)
      for (const f of files) (innerIgnored.has(f) ? copy.push(f) : notIgnored(f))
    }
    // Never follow a symlink out of the repository.
    const root = yield* fs.realPath(repoPath).pipe(Effect.orElseSucceed(() => repoPath))
    const safe: Array<string> = []
    for (const rel of copy) {
      const full = path.join(repoPath, rel)
      const link = yield* fs.readLink(full).pipe(Effect.option)
      if (link._tag === "Some") {
        const target = yield* fs.realPath(full).pipe(Effect.orElseSucceed(() => path.resolve(path.dirname(full), link.value)))
        if (target !== root && !target.startsWith(root + path.sep)) {
          skipped.push({ path: rel, why: `a symlink to ${target}, outside the repository (not followed)` })
          continue
        }
      }
      safe.push(rel)
    }
    return { copy: safe, skipped }
  })

/** One line per skipped path (at most 20, then a count). */
export const skippedNotes = (plan: IncludePlan): ReadonlyArray<string> => {
  const lines = plan.skipped.slice(0, SKIP_LIST_MAX).map((s) => `${INCLUDE_FILE}: ${s.path} not copied: ${s.why}`)
  if (plan.skipped.length > SKIP_LIST_MAX) lines.push(`${INCLUDE_FILE}: ${plan.skipped.length - SKIP_LIST_MAX} more not copied`)
  return lines
}
