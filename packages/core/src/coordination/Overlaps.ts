/**
 * Live overlap detection: what each live session has changed (committed on its branch since its base,
 * staged, unstaged, untracked and not ignored — without the agent's help), and where two sessions of a
 * repository change the same file, the same lines or the same symbols, and whether `git merge-tree` would
 * conflict on it.
 *
 * A scan of one session: snapshot its worktree as a commit (`overlaps/snapshot.ts`: a temporary index, never
 * the worktree's own) → the files that differ from its base, with the symbols and lines changed
 * (`overlaps/fileChange.ts`, the TypeScript parser for script files) → save → for each peer sharing a file,
 * `git merge-tree` of the two snapshots → record the pairs (`OverlapStore`, safe against concurrent scans),
 * with the notices they owe pending in the same transaction → tell both agents of each new overlap once
 * (`SessionFiles.addNotice`; a scan stopped before that leaves them to the next scan) and publish this session's changes to
 * its peers' hooks (`changes/<file>`). Scans run in each session's watcher (`SessionWatcher`), and on demand
 * (`refresh`), e.g. for sessions whose agent has no hooks and no wrapper.
 *
 * @since 0.2.0
 */
import { CommandExecutor, FileSystem, Path } from "@effect/platform"
import { Context, Effect, Either, Layer } from "effect"
import type { Session, SessionId } from "../Domain.js"
import type { SessionNotFound } from "../Errors.js"
import type { DbFailure } from "../platform/Database.js"
import { Git, type GitError } from "../platform/Git.js"
import { SessionFiles } from "../sessions/SessionFiles.js"
import { SessionStore } from "../sessions/SessionStore.js"
import type { Ts } from "./conflicts/typescript.js"
import { type FileChange, fileChange, MAX_ANALYSED_BYTES, meet } from "./overlaps/fileChange.js"
import { changeNews, conflictKey, conflictNotice, overlapKey, overlapNotice, type Who } from "./overlaps/messages.js"
import { changedFiles, conflictedFiles, readBlobs, type Snapshot, takeSnapshot } from "./overlaps/snapshot.js"
import { type ChangedFile, type ChangeInput, type Overlap, OverlapStore, type PairResult, type ScanRecord } from "./OverlapStore.js"

export type ScanFailure = GitError | DbFailure | SessionNotFound

/** What one scan found. */
export interface ScanResult {
  readonly sessionId: SessionId
  /** False when the session's work had not changed since its last scan (nothing was recomputed). */
  readonly changed: boolean
  readonly files: number
  /** The session's changed files (repository-relative; as last saved when `changed` is false). */
  readonly paths: ReadonlyArray<string>
  /** Overlaps seen for the first time by this scan. */
  readonly opened: ReadonlyArray<Overlap>
  /** Overlaps that started to conflict with this scan. */
  readonly nowConflicting: ReadonlyArray<Overlap>
}

export class Overlaps extends Context.Tag("@parallel-cc/core/Overlaps")<Overlaps, {
  /**
   * Scan one active session (a no-op for a session that is not active); `force` recomputes its pairs;
   * `republish` publishes all its changed files to its peers' hooks again, even when its work is unchanged
   * (a watcher starting afresh).
   */
  readonly scan: (sessionId: SessionId, options?: ScanOptions) => Effect.Effect<ScanResult, ScanFailure>
  /** Scan every active session of a repository, each pair computed once. */
  readonly scanRepo: (repoPath: string) => Effect.Effect<ReadonlyArray<ScanResult>, GitError | DbFailure>
  /** Open overlaps between live sessions; `refresh` scans their repositories first. */
  readonly list: (filter?: {
    readonly repoPath?: string | undefined
    readonly sessionId?: SessionId | undefined
    readonly refresh?: boolean | undefined
  }) => Effect.Effect<ReadonlyArray<Overlap>, GitError | DbFailure | SessionNotFound>
  /** The files live sessions changed, as last scanned. */
  readonly changes: (filter: { readonly repoPath?: string; readonly sessionId?: SessionId }) => Effect.Effect<ReadonlyArray<ChangedFile>, DbFailure>
}>() {}

export interface ScanOptions {
  readonly force?: boolean | undefined
  readonly republish?: boolean | undefined
}

const whoOf = (s: Session): Who => ({ sessionId: s.sessionId, branch: s.branch, worktreePath: s.worktreePath })

const sameChange = (a: ChangedFile, b: ChangeInput) =>
  JSON.stringify([a.symbols, a.ranges, a.status]) === JSON.stringify([b.symbols, b.ranges, b.status])

/** Tell both sides of each new overlap (and of each overlap that now conflicts), once. */
const notifier = (files: SessionFiles["Type"]) => (opened: ReadonlyArray<Overlap>, nowConflicting: ReadonlyArray<Overlap>) =>
  Effect.gen(function*() {
    const who = (o: Overlap, side: "A" | "B"): Who =>
      side === "A"
        ? { sessionId: o.sessionA, branch: o.branchA, worktreePath: o.worktreeA }
        : { sessionId: o.sessionB, branch: o.branchB, worktreePath: o.worktreeB }
    const tell = (to: SessionId, key: string, text: string) =>
      files.addNotice(to, { key, text }).pipe(Effect.catchAll((e) => Effect.logDebug(e.message)))
    for (const o of opened) {
      yield* tell(o.sessionA, overlapKey(o.sessionB, o.filePath), overlapNotice(who(o, "B"), o.filePath, o))
      yield* tell(o.sessionB, overlapKey(o.sessionA, o.filePath), overlapNotice(who(o, "A"), o.filePath, o))
    }
    for (const o of nowConflicting) {
      yield* tell(o.sessionA, conflictKey(o.sessionB, o.filePath), conflictNotice(who(o, "B"), o.filePath, o.symbols))
      yield* tell(o.sessionB, conflictKey(o.sessionA, o.filePath), conflictNotice(who(o, "A"), o.filePath, o.symbols))
    }
  })

export const make = Effect.gen(function*() {
  const git = yield* Git
  const store = yield* OverlapStore
  const sessions = yield* SessionStore
  const files = yield* SessionFiles
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const executor = yield* CommandExecutor.CommandExecutor

  // The TypeScript parser, loaded on first use (only when a script file changed).
  let ts: Ts | null | undefined
  const loadTs = Effect.suspend(() =>
    ts !== undefined
      ? Effect.succeed(ts)
      : Effect.promise(() => import("typescript").then((m) => (m.default ?? m) as unknown as Ts, () => null)).pipe(
        Effect.tap((t) => Effect.sync(() => (ts = t)))
      )
  )
  // Analyses by file and blob pair: a rescan reads and parses only files that changed since.
  const analysed = new Map<string, FileChange>()
  const remember = (key: string, value: FileChange) => {
    if (analysed.size > 5000) analysed.delete(analysed.keys().next().value!)
    analysed.set(key, value)
  }

  /** Snapshot a session's worktree (its temporary index lives in its session directory). */
  const snapshotOf = (s: Session) =>
    Effect.gen(function*() {
      const dir = files.dir(s.sessionId)
      const hasDir = yield* files.exists(s.sessionId)
      const indexFile = hasDir ? path.join(dir, ".snapshot-index") : path.join(yield* fs.makeTempDirectoryScoped().pipe(Effect.orDie), "index")
      return yield* takeSnapshot(git, fs, { worktree: s.worktreePath, indexFile, startedFrom: s.baseCommit })
    }).pipe(Effect.scoped)

  /** The changed files of a snapshot, analysed. */
  const analyse = (s: Session, snap: Snapshot) =>
    Effect.gen(function*() {
      const changed = yield* changedFiles(git, s.worktreePath, snap)
      const keyOf = (c: (typeof changed)[number]) => `${c.path}\0${c.baseBlob}\0${c.blob}`
      const todo = changed.filter((c) => !analysed.has(keyOf(c)))
      const parser = todo.some((c) => /\.(tsx?|jsx|mjs|cjs|js|mts|cts)$/i.test(c.path)) ? yield* loadTs : null
      const blobs = yield* readBlobs(git, executor, s.worktreePath, todo.flatMap((c) => [c.baseBlob, c.blob].filter((o): o is string => o !== null)), MAX_ANALYSED_BYTES)
      for (const c of todo) {
        const text = (oid: string | null) => (oid === null ? null : blobs.get(oid))
        const base = text(c.baseBlob)
        const side = text(c.blob)
        remember(keyOf(c), base === undefined || side === undefined ? { symbols: [], ranges: [] } : fileChange(parser, c.path, base, side))
      }
      return changed.map((c): ChangeInput => {
        const a = analysed.get(keyOf(c))!
        return { filePath: c.path, status: c.status, committed: c.committed, uncommitted: c.uncommitted, symbols: a.symbols, ranges: a.ranges }
      })
    })

  /** Publish this session's changed files to its peers' hooks (only what changed since the last scan). */
  const publish = (s: Session, before: ReadonlyArray<ChangedFile>, now: ReadonlyArray<ChangeInput>) =>
    Effect.gen(function*() {
      const old = new Map(before.map((c) => [c.filePath, c]))
      const keep = new Set(now.map((c) => c.filePath))
      for (const c of before) if (!keep.has(c.filePath)) yield* files.clearChange(s.sessionId, c.filePath)
      for (const c of now) {
        const was = old.get(c.filePath)
        if (was !== undefined && sameChange(was, c)) continue
        yield* files.setChange(s.sessionId, c.filePath, {
          key: overlapKey(s.sessionId, c.filePath),
          text: changeNews(whoOf(s), c.filePath, c.symbols, c.ranges)
        }).pipe(Effect.catchAll((e) => Effect.logDebug(e.message)))
      }
    })

  /** The pairs of `me` against `peers` (each with its scan and changed files). */
  const pairsOf = (
    me: { readonly session: Session; readonly snapshot: string; readonly changes: ReadonlyArray<ChangeInput> },
    peers: ReadonlyArray<{ readonly scan: ScanRecord; readonly changes: ReadonlyArray<ChangedFile> }>
  ) =>
    Effect.gen(function*() {
      const mine = new Map(me.changes.map((c) => [c.filePath, c]))
      const pairs: Array<PairResult> = []
      for (const p of peers) {
        const common = p.changes.filter((c) => mine.has(c.filePath))
        if (common.length === 0) continue
        const conflicted = yield* conflictedFiles(git, me.session.worktreePath, me.snapshot, p.scan.snapshot)
        for (const theirs of common) {
          const m = meet(mine.get(theirs.filePath)!, theirs)
          pairs.push({ peer: p.scan.sessionId, filePath: theirs.filePath, level: m.level, symbols: m.symbols, conflict: conflicted.has(theirs.filePath) })
        }
      }
      return pairs
    })

  const notify = notifier(files)

  /**
   * Queue the notices recording left pending for a session's overlaps (both sides of each), then mark them
   * queued: a scan stopped in between leaves them pending, and the next scan of either session sends them.
   */
  const deliver = (sessionId: SessionId) =>
    Effect.gen(function*() {
      const pending = yield* store.pendingNotices(sessionId)
      if (pending.opened.length === 0 && pending.nowConflicting.length === 0) return
      yield* notify(pending.opened, pending.nowConflicting)
      yield* store.noticesQueued(pending)
    })

  /**
   * Snapshot, analyse and save one session: Right with what was found, or Left with its changed files as
   * last saved when its work is unchanged since its last scan (nothing recomputed).
   */
  const refreshOne = (s: Session, options: ScanOptions) =>
    Effect.gen(function*() {
      const snap = yield* snapshotOf(s)
      const last = (yield* store.scans(s.repoPath)).find((x) => x.sessionId === s.sessionId)
      const stored = yield* store.changes({ sessionId: s.sessionId })
      // Republishing: from an empty `changes/` folder, every file is published again.
      if (options.republish === true) yield* files.clearChanges(s.sessionId)
      const before = options.republish === true ? [] : stored
      if (options.force !== true && last !== undefined && last.snapshot === snap.commit) {
        if (options.republish === true) yield* publish(s, before, stored)
        return Either.left(stored.map((c) => c.filePath))
      }
      const changes = yield* analyse(s, snap)
      yield* store.saveScan({
        sessionId: s.sessionId,
        repoPath: s.repoPath,
        head: snap.head,
        base: snap.base,
        snapshot: snap.commit,
        tree: snap.tree,
        scannedAt: new Date()
      }, changes)
      yield* publish(s, before, changes)
      return Either.right({ session: s, snapshot: snap.commit, changes })
    })

  /** Compute and record `me`'s pairs with the given peers (by id), from their current scans. */
  const pairUp = (
    me: { readonly session: Session; readonly snapshot: string; readonly changes: ReadonlyArray<ChangeInput> },
    peerIds: ReadonlyArray<SessionId>
  ) =>
    Effect.gen(function*() {
      const scans = (yield* store.scans(me.session.repoPath)).filter((x) => peerIds.includes(x.sessionId))
      const all = yield* store.changes({ repoPath: me.session.repoPath })
      const peers = scans.map((scan) => ({ scan, changes: all.filter((c) => c.sessionId === scan.sessionId) }))
      const pairs = yield* pairsOf(me, peers)
      const recorded = yield* store.recordPairs({
        sessionId: me.session.sessionId,
        repoPath: me.session.repoPath,
        snapshot: me.snapshot,
        basis: new Map(scans.map((x) => [x.sessionId, x.snapshot])),
        pairs
      })
      yield* deliver(me.session.sessionId)
      return recorded
    })

  const peersOf = (s: Session) =>
    Effect.map(sessions.list({ repoPath: s.repoPath }), (all) => all.filter((p) => p.sessionId !== s.sessionId).map((p) => p.sessionId))

  const scan = (sessionId: SessionId, options: ScanOptions = {}) =>
    Effect.gen(function*() {
      const s = yield* sessions.get(sessionId)
      const none: ScanResult = { sessionId, changed: false, files: 0, paths: [], opened: [], nowConflicting: [] }
      if (s.status !== "active") return none
      const fresh = yield* refreshOne(s, options)
      if (Either.isLeft(fresh)) {
        yield* deliver(sessionId)
        return { ...none, files: fresh.left.length, paths: fresh.left }
      }
      const recorded = yield* pairUp(fresh.right, yield* peersOf(s))
      const paths = fresh.right.changes.map((c) => c.filePath)
      return { sessionId, changed: true, files: paths.length, paths, opened: recorded.opened, nowConflicting: recorded.nowConflicting }
    }).pipe(Effect.withSpan("Overlaps.scan", { attributes: { sessionId } }))

  const scanRepo = (repoPath: string) =>
    Effect.gen(function*() {
      const live = yield* sessions.list({ repoPath })
      const ok = yield* Effect.forEach(live, (s) =>
        fs.exists(s.worktreePath).pipe(Effect.orElseSucceed(() => false), Effect.map((e) => (e ? [s] : []))))
      const list = ok.flat()
      const fresh = yield* Effect.forEach(list, (s) => refreshOne(s, { force: true }), { concurrency: 2 })
      const out: Array<ScanResult> = []
      for (const [i, f] of fresh.entries()) {
        if (Either.isLeft(f)) continue
        // Each pair once: with the sessions after this one.
        const later = list.slice(i + 1).map((x) => x.sessionId)
        const recorded = yield* pairUp(f.right, later)
        const paths = f.right.changes.map((c) => c.filePath)
        out.push({ sessionId: f.right.session.sessionId, changed: true, files: paths.length, paths, opened: recorded.opened, nowConflicting: recorded.nowConflicting })
      }
      return out
    }).pipe(Effect.withSpan("Overlaps.scanRepo"))

  const list = (filter: { readonly repoPath?: string | undefined; readonly sessionId?: SessionId | undefined; readonly refresh?: boolean | undefined } = {}) =>
    Effect.gen(function*() {
      if (filter.refresh === true) {
        const repos = filter.sessionId !== undefined
          ? [(yield* sessions.get(filter.sessionId)).repoPath]
          : filter.repoPath !== undefined
          ? [filter.repoPath]
          : [...new Set((yield* sessions.list({})).map((s) => s.repoPath))]
        for (const r of repos) yield* scanRepo(r)
      }
      return yield* store.list({ repoPath: filter.repoPath, sessionId: filter.sessionId })
    })

  return Overlaps.of({ scan, scanRepo, list, changes: store.changes })
})

/** Overlap detection over git, the store and the session directories. */
export const layer = Layer.effect(Overlaps, make)
