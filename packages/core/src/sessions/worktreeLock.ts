/**
 * The per-repository lock of `git worktree add/remove/list/prune` (used by `Worktrees.make`): in this process
 * a semaphore per repository; across processes a kernel lock (flock on a file in the git common dir, see
 * platform/repoLock: waiters sleep in the kernel, a dead holder's lock is dropped by the kernel) and a lease
 * row in the store (`worktree_locks`, taken in a `BEGIN IMMEDIATE` transaction; a lease whose owner process
 * is gone is taken over), which keeps out processes of earlier releases that know only the lease. Concurrent
 * `git worktree add` calls on one repository fail at random ("failed to read .git/worktrees/…/commondir")
 * because each reads the others' half-written metadata.
 */
import { FileSystem, Path } from "@effect/platform"
import { Duration, Effect, Schema } from "effect"
import { Database, decodeRows } from "../platform/Database.js"
import { Git } from "../platform/Git.js"
import { Processes } from "../platform/Processes.js"
import * as RepoLock from "../platform/repoLock.js"

const LOCK_WAIT = Duration.minutes(5)

const LockRow = Schema.Struct({ owner: Schema.String, pid: Schema.Number, pid_start_time: Schema.NullOr(Schema.String) })

/** The lock; `timedOut` makes the error of a wait longer than five minutes (`WorktreeError` "LockTimeout"). */
export const makeWorktreeLock = <E>(timedOut: (key: string) => E) =>
  Effect.gen(function*() {
    const git = yield* Git
    const db = yield* Database
    const processes = yield* Processes
    const fs = yield* FileSystem.FileSystem
    const pathApi = yield* Path.Path
    const sql = db.sql
    const realpath = (p: string) => fs.realPath(p).pipe(Effect.orElseSucceed(() => pathApi.resolve(p)))

    const semaphores = new Map<string, Effect.Semaphore>()
    const semaphoreFor = (key: string) =>
      Effect.sync(() => {
        let s = semaphores.get(key)
        if (s === undefined) {
          s = Effect.unsafeMakeSemaphore(1)
          semaphores.set(key, s)
        }
        return s
      })
    const self = yield* processes.probe(process.pid)
    const selfStart = self._tag === "Running" ? self.startTime : null
    const commonDirs = new Map<string, string>()
    // The lock is per git common dir (the main repository and its linked worktrees share one). For a main
    // working tree that is simply `<top>/.git`; only other layouts need to ask git.
    const lockKey = (repoPath: string) =>
      commonDirs.has(repoPath)
        ? Effect.succeed(commonDirs.get(repoPath)!)
        : fs.stat(pathApi.join(repoPath, ".git")).pipe(
          Effect.flatMap((st) => st.type === "Directory" ? realpath(pathApi.join(repoPath, ".git")) : Effect.fail(undefined)),
          Effect.catchAll(() =>
            git.run(repoPath, ["rev-parse", "--path-format=absolute", "--git-common-dir"]).pipe(
              Effect.flatMap((r) => realpath(r.stdout.trim()))
            )
          ),
          Effect.tap((k) => Effect.sync(() => commonDirs.set(repoPath, k)))
        )

    const ownerAlive = (row: { pid: number; pid_start_time: string | null }) =>
      processes.probe(row.pid).pipe(
        Effect.map((p) =>
          p._tag === "Running" && (p.startTime === null || row.pid_start_time === null || p.startTime === row.pid_start_time)
        )
      )

    /**
     * The lease row in the store. With the kernel lock held it is free unless a process of an earlier
     * release (which knows only the lease) holds it, so it normally costs one transaction; only then is it
     * polled, as before.
     */
    const acquireLease = (key: string) =>
      Effect.gen(function*() {
        const owner = globalThis.crypto.randomUUID()
        /** Take the lease when it is free (or held by `replacing`); else return its holder. */
        const tryTake = (replacing: string | null) =>
          db.immediate(Effect.gen(function*() {
            const cur = yield* decodeRows(LockRow)(
              sql`SELECT owner, pid, pid_start_time FROM worktree_locks WHERE lock_key = ${key}`
            )
            if (cur.length > 0 && cur[0]!.owner !== replacing) return cur[0]!
            yield* sql`INSERT OR REPLACE INTO worktree_locks ${
              sql.insert({ lock_key: key, owner, pid: process.pid, pid_start_time: selfStart, acquired_at: Date.now() })
            }`
            return null
          }))
        let delay = 2
        let held = yield* tryTake(null)
        while (held !== null) {
          // A lease whose owner process is gone is taken over.
          if (!(yield* ownerAlive(held))) {
            held = yield* tryTake(held.owner)
            continue
          }
          yield* Effect.sleep(Duration.millis(delay + Math.random() * delay))
          delay = Math.min(delay * 2, 25)
          held = yield* tryTake(null)
        }
        return owner
      }).pipe(
        Effect.timeoutFail({
          duration: LOCK_WAIT,
          onTimeout: () => timedOut(key)
        })
      )

    const releaseLease = (key: string, owner: string) =>
      db.orFail(sql`DELETE FROM worktree_locks WHERE lock_key = ${key} AND owner = ${owner}`).pipe(
        Effect.catchAll((e) => Effect.logWarning(`could not release the worktree lock of ${key}`, e)),
        Effect.asVoid
      )

    /** The kernel lock (see platform/repoLock); null where there is none, and the lease alone serialises. */
    const acquireKernelLock = (key: string) =>
      Effect.async<RepoLock.Held | null, E>((resume, signal) => {
        const pending = RepoLock.acquire(key, Duration.toMillis(LOCK_WAIT), signal).then((o) => {
          if (o._tag === "Held") resume(Effect.succeed(o.held))
          else if (o._tag === "TimedOut") resume(Effect.fail(timedOut(key)))
          else resume(Effect.logDebug(`no kernel lock for ${key} (${o.detail}); the store's lease serialises`).pipe(Effect.as(null)))
        })
        // Interrupted: wait until flock has gone and nothing is held.
        return Effect.promise(() => pending)
      })

    const releaseKernelLock = (held: RepoLock.Held | null) => Effect.sync(() => held !== null && RepoLock.release(held))

    const withLock = (repoPath: string) => <A, E2, R>(effect: Effect.Effect<A, E2, R>) =>
      Effect.gen(function*() {
        const key = yield* lockKey(repoPath)
        const sem = yield* semaphoreFor(key)
        return yield* sem.withPermits(1)(
          Effect.acquireUseRelease(
            acquireKernelLock(key),
            () => Effect.acquireUseRelease(acquireLease(key), () => effect, (owner) => releaseLease(key, owner)),
            releaseKernelLock
          )
        )
      })

    return { withLock, lockKey }
  })
