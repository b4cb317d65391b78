/**
 * The watcher of one live session: it notices the session's changes as they happen — whatever the agent
 * (no hooks needed) — and keeps its overlaps current. It lives as long as the session: in the wrapper
 * (`claude-parallel`) while the agent runs, or in `parallel-cc watch session <id>` for a session without a
 * wrapper (Claude Code's own worktrees).
 *
 * Triggers: a change in any directory of the worktree that git tracks or would track (one `fs.watch` per
 * directory, none in ignored ones such as `node_modules`), in the worktree's git directory (commits,
 * checkouts), or in the session directory (the hook's `edits` journal), debounced; and a slow poll as a
 * safety net. Each trigger: the session's `peers/` links are checked against the live sessions of the
 * repository (two sessions registering at once may miss each other), the journal's new files get an INTENT
 * claim of the session (the "I am editing this" that needs no cooperation from the agent), then
 * `Overlaps.scan` (the first one publishes all the session's changes to its peers' hooks again). It stops
 * when the session ends.
 *
 * @since 0.2.0
 */
import { FileSystem, Path } from "@effect/platform"
import { Cause, Context, Duration, Effect, Fiber, Layer, Option, Queue, Stream } from "effect"
import type { Session, SessionId } from "../Domain.js"
import { Git } from "../platform/Git.js"
import { SessionFiles } from "../sessions/SessionFiles.js"
import { SessionStore } from "../sessions/SessionStore.js"
import { ClaimsLedger } from "./ClaimsLedger.js"
import { Overlaps } from "./Overlaps.js"

export interface WatchOptions {
  /** Wait this long after a change before scanning (more changes in that time join the same scan). */
  readonly debounceMs?: number | undefined
  /** Scan at least this often, whatever was noticed. */
  readonly pollMs?: number | undefined
  /** At most this many directories are watched; a bigger worktree relies on the poll. */
  readonly maxDirectories?: number | undefined
  /** Called after each scan (`first`: the watcher's first; tests, benchmarks, `watch session`). */
  readonly onScan?: ((r: { readonly files: number; readonly opened: number; readonly first: boolean }) => void) | undefined
}

export class SessionWatcher extends Context.Tag("@parallel-cc/core/SessionWatcher")<SessionWatcher, {
  /** Watch a session until it ends (or the fiber is interrupted). Never fails: problems are logged. */
  readonly watch: (sessionId: SessionId, options?: WatchOptions) => Effect.Effect<void>
  /** Give the INTENT claims for the files the hook journaled since `offset`; returns the new offset. */
  readonly claimEdits: (sessionId: SessionId, offset: number) => Effect.Effect<number>
}>() {}

export const make = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const git = yield* Git
  const sessions = yield* SessionStore
  const files = yield* SessionFiles
  const claims = yield* ClaimsLedger
  const overlaps = yield* Overlaps

  const claimEdits = (sessionId: SessionId, offset: number) =>
    Effect.gen(function*() {
      const r = yield* files.readEdits(sessionId, offset)
      if (r.files.length === 0) return r.offset
      const held = new Set((yield* claims.list({ sessionId })).map((c) => c.filePath))
      for (const file of new Set(r.files)) {
        if (held.has(file)) continue
        yield* claims.acquire({ sessionId, path: file, mode: "INTENT", reason: "edited (seen by the parallel-cc hook)" }).pipe(
          Effect.catchAll((e) => Effect.logDebug(`no INTENT claim on ${file}: ${e.message}`))
        )
      }
      return r.offset
    }).pipe(Effect.catchAll((e) => Effect.logWarning(`could not read the edits of ${sessionId}: ${e.message}`).pipe(Effect.as(offset))))

  /** Make the session's `peers/` link exactly the repository's other live sessions. */
  const repairPeers = (s: Session) =>
    sessions.list({ repoPath: s.repoPath }).pipe(
      Effect.flatMap((all) => files.setPeers(s.sessionId, all.map((p) => p.sessionId).filter((p) => p !== s.sessionId))),
      Effect.catchAll((e) => Effect.logDebug(`could not check the peers of ${s.sessionId}: ${e.message}`))
    )

  /** The directories to watch: the worktree's git-visible ones (from the index and untracked files). */
  const directoriesOf = (worktree: string, max: number) =>
    Effect.gen(function*() {
      const r = yield* git.run(worktree, ["ls-files", "-z", "--cached", "--others", "--exclude-standard", "--directory", "--no-empty-directory"], {
        env: { GIT_OPTIONAL_LOCKS: "0" }
      })
      const dirs = new Set<string>([worktree])
      for (const f of r.stdout.split("\0")) {
        if (f === "") continue
        let d = f.endsWith("/") ? f.slice(0, -1) : path.dirname(f)
        while (d !== "." && d !== "" && !dirs.has(path.join(worktree, d))) {
          dirs.add(path.join(worktree, d))
          d = path.dirname(d)
        }
        if (dirs.size > max) return Option.none<ReadonlyArray<string>>()
      }
      const gitDir = (yield* git.run(worktree, ["rev-parse", "--absolute-git-dir"])).stdout.trim()
      if (gitDir !== "") dirs.add(gitDir)
      return Option.some([...dirs])
    })

  const watch = (sessionId: SessionId, options: WatchOptions = {}) =>
    Effect.gen(function*() {
      const debounce = Duration.millis(options.debounceMs ?? 150)
      const poll = Duration.millis(options.pollMs ?? 15_000)
      const max = options.maxDirectories ?? 4000
      const session = yield* sessions.get(sessionId)
      const worktree = session.worktreePath
      const wake = yield* Queue.sliding<void>(1)
      const signal = Queue.offer(wake, undefined).pipe(Effect.asVoid)
      const watchers = new Map<string, Fiber.RuntimeFiber<void>>()
      const sessionDir = files.dir(sessionId)
      // More directories than `max`: only the session directory is watched (the hook's journal; the poll covers
      // the worktree), and a change in a new folder does not list the worktree's folders again.
      let overflow = false
      // In the session directory only the hook's journal counts: the rest is written by scans themselves
      // (the temporary index) and by other sessions (notices), and must not start another scan.
      const follow = (dir: string) =>
        Stream.runForEach(
          dir === sessionDir ? Stream.filter(fs.watch(dir), (e) => path.basename(e.path) === "edits") : fs.watch(dir),
          () => signal
        ).pipe(
          Effect.catchAllCause((c) => Effect.logDebug(`stopped watching ${dir}: ${Cause.pretty(c)}`)),
          Effect.forkScoped
        )
      const rewatch = Effect.gen(function*() {
        const dirs = yield* directoriesOf(worktree, max).pipe(Effect.orElseSucceed(() => Option.some([worktree])))
        overflow = Option.isNone(dirs)
        const want = new Set([...Option.getOrElse(dirs, () => [] as ReadonlyArray<string>), sessionDir])
        for (const [d, f] of watchers) if (!want.has(d)) {
          yield* Fiber.interrupt(f)
          watchers.delete(d)
        }
        for (const d of want) if (!watchers.has(d)) watchers.set(d, yield* follow(d))
      })
      yield* rewatch
      let offset = 0
      let first = true
      // Until a scan succeeded, each scan publishes all the session's changes again.
      let published = false
      while (true) {
        if (!first) {
          const woke = yield* Queue.take(wake).pipe(Effect.timeout(poll), Effect.option)
          if (Option.isSome(woke)) yield* Effect.sleep(debounce)
          yield* Queue.takeAll(wake)
        }
        const now = yield* sessions.get(sessionId).pipe(Effect.option)
        first = false
        if (Option.isNone(now) || now.value.status !== "active") return
        yield* repairPeers(session)
        offset = yield* claimEdits(sessionId, offset)
        const r = yield* overlaps.scan(sessionId, { republish: !published }).pipe(Effect.either)
        if (r._tag === "Left") yield* Effect.logWarning(`overlap scan of ${sessionId} failed: ${r.left.message}`)
        else {
          options.onScan?.({ files: r.right.files, opened: r.right.opened.length, first: !published })
          published = true
          // A file in a folder not watched yet (a new folder): watch the worktree's folders again.
          if (r.right.changed && !overflow && r.right.paths.some((p) => !watchers.has(path.dirname(path.join(worktree, p))))) yield* rewatch
        }
      }
    }).pipe(
      Effect.scoped,
      Effect.catchAllCause((c) => Cause.isInterruptedOnly(c) ? Effect.interrupt : Effect.logWarning(`the watcher of ${sessionId} stopped: ${Cause.pretty(c)}`)),
      Effect.withSpan("SessionWatcher.watch", { attributes: { sessionId } })
    )

  return SessionWatcher.of({ watch, claimEdits })
})

/** Watchers over the file system, git, the claims and overlap detection. */
export const layer = Layer.effect(SessionWatcher, make)
