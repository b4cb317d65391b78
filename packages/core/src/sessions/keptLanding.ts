/**
 * What `status` says of a kept worktree whose branch has landed since. The kept reason is written when the
 * worktree is looked at (release, cleanup): "1 commit only on branch x" stays true of a branch landed by
 * squash or rebase (its own commits are in no other branch), and stays written after a merge until
 * `cleanup` looks again. When the landing queue has landed the session's branch at the very commit the
 * branch is still at, status says so instead: "branch x landed in main as 0123456789ab (squash)". The
 * other parts of the reason (uncommitted changes, untracked files…) stay: only commits are landed.
 *
 * Shared by the `Sessions` service and the Effect-free `StatusSnapshot`, so that both print the same.
 * This module imports nothing on purpose (the start-up paths must not load Effect).
 *
 * @since 0.2.0
 */

/** The latest landing of a session's branch by the landing queue (a `land_entries` row with status `landed`). */
export interface Landed {
  readonly target: string
  readonly strategy: string
  /** The branch commit that landed. */
  readonly head: string | null
  /** The target commit it landed as (null: the target already had its changes). */
  readonly landedCommit: string | null
}

/** The latest landing of each given session, by session id (`?` per id). */
export const landedQuery = (count: number): string =>
  `SELECT session_id, target, strategy, head, landed_commit FROM land_entries
   WHERE status = 'landed' AND session_id IN (${Array.from({ length: count }, () => "?").join(", ")})
   ORDER BY ended_at, position`

export interface LandedRow {
  readonly session_id: string
  readonly target: string
  readonly strategy: string
  readonly head: string | null
  readonly landed_commit: string | null
}

/** The rows of {@link landedQuery}, the latest landing per session. */
export const latestLanded = (rows: ReadonlyArray<LandedRow>): ReadonlyMap<string, Landed> =>
  new Map(rows.map((r) => [r.session_id, { target: r.target, strategy: r.strategy, head: r.head, landedCommit: r.landed_commit }]))

const COMMITS_ONLY = /\b\d+ commits? only on branch (\S+)$/

/**
 * The kept reason as status shows it: its "N commits only on branch B" part said landed when `landed`
 * landed the branch at `tip` (the branch's commit now); otherwise the stored reason.
 */
export const keptReasonNow = (stored: string, branch: string | null, landed: Landed | undefined, tip: string | undefined): string => {
  const m = COMMITS_ONLY.exec(stored)
  if (m === null || branch === null || m[1] !== branch || landed === undefined || landed.head === null || tip !== landed.head) return stored
  const as = landed.landedCommit !== null ? ` as ${landed.landedCommit.slice(0, 12)}` : ""
  return `${stored.slice(0, m.index)}branch ${branch} landed in ${landed.target}${as} (${landed.strategy})`
}
