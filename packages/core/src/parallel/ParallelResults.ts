/**
 * What a parallel run leaves in its output directory: per task `<output>/<id>/` (`result.json`, `run.log`,
 * `events.jsonl`, `changes.patch` against the base commit, and `files/`, the changed files), and for the
 * run `summary.json` and `summary-report.md`, rewritten after every task. The results hold prompts and code:
 * the output directory and every task directory are 0700, every file 0600 (a directory the user made
 * beforehand is tightened to 0700 when it is ours).
 *
 * @since 0.1.0
 */
import { Cause, Effect, Option } from "effect"
import * as os from "node:os"
import * as path from "node:path"
import type { Git } from "../platform/Git.js"
import * as NodeFs from "../platform/nodeFs.js"
import type { FileSync } from "../sandboxes/FileSync.js"
import * as RunArtifacts from "../sandboxes/RunArtifacts.js"
import type { SandboxRun, SandboxRuns } from "../sandboxes/SandboxRuns.js"
import { durationOf, type Plan, ParallelRunError, type TaskState } from "./ParallelModel.js"
import * as Summary from "./ParallelSummary.js"

/** Modes of everything a run writes in its output directory. */
export const dirMode = 0o700
export const fileMode = 0o600

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString())

const emptyChanges = { added: [] as Array<string>, modified: [] as Array<string>, deleted: [] as Array<string> }

/** The entry of a task that has no directory (skipped, cancelled, or not started). */
export const placeholder = (s: TaskState): Summary.TaskResultJson => ({
  id: s.spec.id,
  prompt: s.spec.prompt,
  dependsOn: [...s.spec.dependsOn],
  agent: s.spec.agent ?? null,
  branchRequested: s.spec.branch ?? null,
  status: s.status,
  reason: s.reason,
  sessionId: s.sessionId,
  attempts: s.attempts,
  earlierAttempts: s.earlierAttempts,
  startedAt: iso(s.startedAt),
  endedAt: iso(s.endedAt),
  durationMs: null,
  waitedMs: s.waitedMs,
  costUsd: null,
  turns: null,
  changes: emptyChanges,
  worktreePath: null,
  branch: null,
  commit: null,
  pullRequestUrl: null,
  gitLiveError: null,
  error: s.error,
  resultDir: s.spec.id,
  patch: null,
  log: null,
  files: null,
  fromEarlierRun: false,
  refusedHosts: []
})

/** The summary of the run so far (`ended`: it is over). */
export const summarize = (
  plan: Plan,
  states: ReadonlyArray<TaskState>,
  status: Summary.RunStatus,
  startedAt: number,
  now: number,
  ended: boolean
): Summary.RunSummaryJson => {
  const tasks = states.map((s) => (s.saved !== null ? { ...s.saved, status: s.status, reason: s.reason } : placeholder(s)))
  const count = (st: Summary.TaskStatus) => tasks.filter((t) => t.status === st).length
  const costs = tasks.map((t) => t.costUsd).filter((c): c is number => c !== null)
  const ranNow = states.filter((s) => !s.fromEarlierRun && s.startedAt !== null && s.endedAt !== null)
  const sequentialMs = ranNow.reduce((n, s) => n + durationOf(s)!, 0)
  const wallMs = now - startedAt
  const endedAt = ended ? new Date(now).toISOString() : null
  return {
    format: "parallel-cc/parallel-run@1",
    runId: plan.runId,
    repoPath: plan.repoPath,
    baseCommit: plan.baseCommit,
    outputDir: plan.outputDir,
    status,
    startedAt: new Date(startedAt).toISOString(),
    endedAt,
    wallMs,
    sequentialMs,
    savedMs: Math.max(0, sequentialMs - wallMs),
    maxConcurrent: plan.maxConcurrent,
    failFast: plan.failFast,
    retries: plan.retries,
    options: plan.options,
    totals: {
      tasks: tasks.length,
      succeeded: count("succeeded"),
      failed: count("failed"),
      skipped: count("skipped"),
      cancelled: count("cancelled"),
      interrupted: count("interrupted"),
      pending: count("pending") + count("running"),
      costUsd: costs.length > 0 ? Math.round(costs.reduce((a, b) => a + b, 0) * 1e6) / 1e6 : null,
      filesChanged: tasks.reduce((n, t) => n + t.changes.added.length + t.changes.modified.length + t.changes.deleted.length, 0)
    },
    runs: [...plan.history, { runId: plan.runId, startedAt: new Date(startedAt).toISOString(), endedAt, status }],
    tasks,
    overlaps: null
  }
}

/** `summary.json` and `summary-report.md`; a directory removed under the run is no failure. */
export const writeSummary = (plan: Plan, summary: Summary.RunSummaryJson): Effect.Effect<void> =>
  Effect.zipRight(
    NodeFs.writeAtomic(path.join(plan.outputDir, "summary.json"), JSON.stringify(summary, null, 2) + "\n", fileMode),
    NodeFs.writeAtomic(path.join(plan.outputDir, "summary-report.md"), Summary.renderReport(summary), fileMode)
  ).pipe(Effect.ignore)

/**
 * Create (or reuse, when resuming) the output directory, 0700; its `.gitignore` keeps it out of every
 * upload. A new run refuses a directory that is not empty.
 */
export const prepareOutput = (dir: string, resuming: boolean): Effect.Effect<void, ParallelRunError> =>
  Effect.gen(function*() {
    yield* NodeFs.makeDirectory(dir, { recursive: true, mode: dirMode })
    const entries = yield* NodeFs.readDirectory(dir)
    if (!resuming && entries.length > 0) return false
    // Made by the user at 0755 (or by an earlier version): the results hold prompts and code.
    yield* NodeFs.chmod(dir, dirMode)
    // Inside the repository, the results would otherwise be untracked files in the next upload.
    yield* NodeFs.writeFile(path.join(dir, ".gitignore"), "# parallel-cc results: not part of the repository\n*\n", { mode: fileMode })
    return true
  }).pipe(
    Effect.mapError((e) => new ParallelRunError({ reason: "OutputDirFailed", path: dir, detail: e.detail })),
    Effect.flatMap((ok) => (ok ? Effect.void : Effect.fail(new ParallelRunError({ reason: "OutputDirNotEmpty", path: dir, detail: "" }))))
  )

/**
 * `git diff --raw -z -p` output split into the changed paths (the raw records, `:META\0PATH\0` each, no
 * renames) and the patch after them (byte for byte what the same diff prints without `--raw`); undefined
 * when it does not have that shape.
 */
export const splitRawPatch = (out: string): { readonly patch: string; readonly files: ReadonlySet<string> } | undefined => {
  const files = new Set<string>()
  let at = 0
  while (at < out.length && out[at] === ":") {
    const metaEnd = out.indexOf("\0", at)
    const pathEnd = metaEnd < 0 ? -1 : out.indexOf("\0", metaEnd + 1)
    if (pathEnd < 0) return undefined
    files.add(out.slice(metaEnd + 1, pathEnd))
    at = pathEnd + 1
  }
  if (files.size === 0) return out === "" ? { patch: "", files } : undefined
  // The records end with one more NUL, then the patch.
  if (out[at] !== "\0" || !out.startsWith("diff --git ", at + 1)) return undefined
  return { patch: out.slice(at + 1), files }
}

/** The index file of a linked worktree (its `.git` file names its git directory), if it has one. */
const worktreeIndex = (worktree: string) =>
  Effect.gen(function*() {
    const text = yield* NodeFs.readText(path.join(worktree, ".git"))
    const m = /^gitdir: (.+)$/m.exec(text)
    if (m === null) return undefined
    const index = path.join(path.resolve(worktree, m[1]!.trim()), "index")
    return (yield* NodeFs.exists(index)) ? index : undefined
  }).pipe(Effect.orElseSucceed(() => undefined))

export const make = (deps: {
  readonly git: Git["Type"]
  readonly runs: SandboxRuns["Type"]
  readonly fileSync: FileSync["Type"]
}) => {
  const { fileSync, git, runs } = deps

  /**
   * The files each patch written by this process changes, by the patch's path: the overlaps of the run's
   * tasks are then found without applying the patches of tasks that share no file with another.
   */
  const patchFiles = new Map<string, ReadonlySet<string>>()

  /**
   * The diff of a result worktree against the base commit, new files included, without touching its
   * index: staged in a copy of that index (its stat data spares re-reading unchanged files), else in one
   * read from HEAD. The same `git diff` lists the changed paths (`--raw -z`, before the patch), so the
   * patch's files cost no second process; they are undefined when that listing cannot be read.
   */
  const patchOf = (worktree: string, base: string) =>
    Effect.acquireUseRelease(
      NodeFs.makeTempDirectory(path.join(os.tmpdir(), "parallel-cc-patch-")),
      (tmp) =>
        Effect.gen(function*() {
          const index = path.join(tmp, "index")
          const env = { GIT_INDEX_FILE: index }
          const own = yield* worktreeIndex(worktree)
          const copied = own !== undefined && (yield* NodeFs.copyFileWithTimes(own, index).pipe(Effect.as(true), Effect.orElseSucceed(() => false)))
          if (!copied) yield* git.run(worktree, ["read-tree", "HEAD"], { env })
          yield* git.run(worktree, ["add", "-A", "--", "."], { env })
          const args = ["diff", "--cached", "--binary", "--no-color", "--no-ext-diff", "--no-renames"]
          const split = splitRawPatch((yield* git.run(worktree, [...args, "--raw", "-z", base, "--"], { env })).stdout)
          if (split !== undefined) return split
          return { patch: (yield* git.run(worktree, [...args, base, "--"], { env })).stdout, files: undefined }
        }),
      (tmp) => NodeFs.remove(tmp, { recursive: true }).pipe(Effect.ignore)
    )

  /** Copy a run's log and events, its changed files and its patch into `dir`. */
  const copyArtifacts = (r: SandboxRun, s: TaskState, dir: string) =>
    Effect.gen(function*() {
      let log: string | null = null
      let patch: string | null = null
      let files: string | null = null
      let changes = s.result?.changes ?? emptyChanges
      if (yield* NodeFs.exists(r.logPath)) {
        yield* NodeFs.copyFile(r.logPath, path.join(dir, "run.log"))
        yield* NodeFs.chmod(path.join(dir, "run.log"), fileMode)
        log = "run.log"
      }
      if (yield* NodeFs.exists(r.eventsPath)) {
        yield* NodeFs.copyFile(r.eventsPath, path.join(dir, "events.jsonl"))
        yield* NodeFs.chmod(path.join(dir, "events.jsonl"), fileMode)
      }
      const saved = yield* RunArtifacts.loadSaved(r)
      if (Option.isSome(saved)) {
        changes = { added: saved.value.added, modified: saved.value.modified, deleted: saved.value.deleted }
        if (saved.value.added.length + saved.value.modified.length > 0) {
          const applied = yield* fileSync.apply({ ...saved.value, deleted: [] }, path.join(dir, "files")).pipe(Effect.option)
          if (Option.isSome(applied)) files = "files"
        }
      }
      if (r.worktreePath !== null && r.baseCommit !== null && (yield* NodeFs.exists(r.worktreePath))) {
        const diff = yield* patchOf(r.worktreePath, r.baseCommit).pipe(Effect.option)
        if (Option.isSome(diff) && diff.value.patch !== "") {
          yield* NodeFs.writeFile(path.join(dir, "changes.patch"), diff.value.patch, { mode: fileMode })
          patch = "changes.patch"
          if (diff.value.files !== undefined) patchFiles.set(path.resolve(dir, patch), diff.value.files)
        }
      }
      return { log, patch, files, changes }
    })

  /** Write `<output>/<id>/` for a task that ended (any way): log, patch, changed files, result.json. */
  const save = (plan: Plan, s: TaskState): Effect.Effect<Summary.TaskResultJson> =>
    Effect.gen(function*() {
      const dir = path.join(plan.outputDir, s.spec.id)
      patchFiles.delete(path.resolve(dir, "changes.patch"))
      yield* NodeFs.remove(dir, { recursive: true })
      yield* NodeFs.makeDirectory(dir, { recursive: true, mode: dirMode })
      const rec = s.sessionId !== null ? yield* runs.get(s.sessionId).pipe(Effect.option) : Option.none<SandboxRun>()
      const r = Option.getOrUndefined(rec)
      const copied = r !== undefined ? yield* copyArtifacts(r, s, dir) : { log: null, patch: null, files: null, changes: s.result?.changes ?? emptyChanges }
      const changes = copied.changes
      const result: Summary.TaskResultJson = {
        ...placeholder(s),
        durationMs: durationOf(s),
        waitedMs: s.waitedMs,
        costUsd: r?.costUsd ?? null,
        turns: r?.numTurns ?? null,
        changes: { added: [...changes.added], modified: [...changes.modified], deleted: [...changes.deleted] },
        worktreePath: r?.worktreePath ?? null,
        branch: r?.worktreePath !== null && r?.worktreePath !== undefined ? r.branch : null,
        commit: s.result?.commit ?? null,
        pullRequestUrl: s.result?.pullRequestUrl ?? r?.pullRequestUrl ?? null,
        gitLiveError: s.result?.gitLiveError ?? null,
        patch: copied.patch,
        log: copied.log,
        files: copied.files,
        refusedHosts: s.result?.refusedHosts ?? []
      }
      yield* NodeFs.writeAtomic(path.join(dir, "result.json"), JSON.stringify(result, null, 2) + "\n", fileMode)
      return result
    }).pipe(
      Effect.catchAllCause((cause) =>
        Effect.sync((): Summary.TaskResultJson => ({
          ...placeholder(s),
          error: `${s.error ?? ""}${s.error !== null ? "; " : ""}the result directory could not be written: ${Cause.pretty(cause).split("\n")[0]}`
        }))
      )
    )

  return {
    save,
    patchOf,
    /** The files the patch at `patchPath` changes, when this process wrote it (else undefined). */
    filesOfPatch: (patchPath: string): ReadonlySet<string> | undefined => patchFiles.get(path.resolve(patchPath))
  }
}
