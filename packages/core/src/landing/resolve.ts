/**
 * The landing queue's seam to the conflict engine: for the conflicted files of one merge, which the queue
 * may resolve on its own (`autoApply` and `complete`, with the resolved content) and which send the
 * candidate back (with the engine's class and why).
 *
 * The engine's early verdict (see docs/architecture.md, "Landing queue") is that nothing is auto-applicable;
 * it still classifies each file, so a candidate sent back says what kind of conflict it met.
 */
import { Effect } from "effect"
import type { Conflicts } from "../coordination/Conflicts.js"

/** The engine's verdict on one conflicted file. */
export interface FileVerdict {
  readonly path: string
  /** git's kind of conflict (content, add/add, modify/delete, …). */
  readonly kind: string
  readonly class: string | null
  /** The queue may apply `content` without a person looking at it. */
  readonly autoApply: boolean
  /** `content` has no conflict markers left. */
  readonly complete: boolean
  /** The resolved file (UTF-8), or null when the resolution deletes it. */
  readonly content: string | null
  readonly strategy: string
  readonly confidence: number
  /** Why it was not auto-applicable (or what was applied). */
  readonly note: string
}

export interface ResolveRequest {
  readonly repo: string
  /** The commit being landed onto (git's "ours"). */
  readonly ours: string
  /** The candidate's commit (git's "theirs"). */
  readonly theirs: string
  readonly sessionId: string | null
  /** The conflicted paths with git's kind, as `git merge-tree` reported them. */
  readonly files: ReadonlyArray<{ readonly path: string; readonly kind: string }>
}

/** Decides what the queue may do about the conflicts of one merge. Never fails: unknown means "not auto". */
export type Resolver = (req: ResolveRequest) => Effect.Effect<ReadonlyArray<FileVerdict>>

const notAuto = "the conflict engine offers no resolution it trusts to apply without a person"

/** The resolver over the conflict engine: classifies each file; applies nothing the engine does not mark autoApply. */
export const fromConflicts = (conflicts: Conflicts["Type"]): Resolver => (req) =>
  conflicts.detect({ repo: req.repo, ours: req.ours, theirs: req.theirs, sessionId: req.sessionId ?? undefined }).pipe(
    Effect.map((report) => {
      const byPath = new Map(report.conflicts.map((c) => [c.path, c]))
      return req.files.map((f): FileVerdict => {
        const c = byPath.get(f.path)
        return {
          path: f.path,
          kind: f.kind,
          class: c?.type ?? null,
          autoApply: false,
          complete: false,
          content: null,
          strategy: "none",
          confidence: 0,
          note: c !== undefined ? `${c.summary}; ${notAuto}` : notAuto
        }
      })
    }),
    Effect.catchAllCause((cause) =>
      Effect.logWarning("conflict classification failed; treating every conflict as not auto-resolvable", cause).pipe(
        Effect.as(req.files.map((f): FileVerdict => ({
          path: f.path,
          kind: f.kind,
          class: null,
          autoApply: false,
          complete: false,
          content: null,
          strategy: "none",
          confidence: 0,
          note: notAuto
        })))
      )
    )
  )
