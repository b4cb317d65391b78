/**
 * The landing queue's seam to the conflict engine: for the conflicted files of one merge, which the queue
 * may resolve on its own (`autoApply` and `complete`, with the resolved content) and which send the
 * candidate back (with the engine's class and why).
 *
 * The engine (`Conflicts.resolveMerge`) reads objects only and records nothing; it classifies each file, so a
 * candidate sent back says what kind of conflict it met.
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
  /** The resolved file, or null when the resolution deletes it. */
  readonly content: Uint8Array | null
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

const unresolved = (f: { readonly path: string; readonly kind: string }, cls: string | null, note: string): FileVerdict => ({
  path: f.path,
  kind: f.kind,
  class: cls,
  autoApply: false,
  complete: false,
  content: null,
  strategy: "none",
  confidence: 0,
  note
})

/** The resolver over the conflict engine's `resolveMerge`: applies only what the engine marks `autoApply`. */
export const fromConflicts = (conflicts: Conflicts["Type"]): Resolver => (req) =>
  conflicts.resolveMerge({ repo: req.repo, ours: req.ours, theirs: req.theirs }).pipe(
    Effect.map((merge) => {
      const byPath = new Map(merge.files.map((f) => [f.path, f]))
      return req.files.map((f): FileVerdict => {
        const r = byPath.get(f.path)
        if (r === undefined) return unresolved(f, null, notAuto)
        if (!r.autoApply || !r.complete) {
          return unresolved(f, r.type, `${r.strategy} (confidence ${r.confidence.toFixed(2)}) is not marked autoApply: ${r.description}`)
        }
        const content = r.resolvedContent === null
          ? null
          : r.encoding === "base64"
          ? new Uint8Array(Buffer.from(r.resolvedContent, "base64"))
          : new TextEncoder().encode(r.resolvedContent)
        return {
          path: f.path,
          kind: f.kind,
          class: r.type,
          autoApply: true,
          complete: true,
          content: r.deletesFile ? null : content,
          strategy: r.strategy,
          confidence: r.confidence,
          note: r.description
        }
      })
    }),
    Effect.catchAllCause((cause) =>
      Effect.logWarning("the conflict engine failed; treating every conflict as not auto-resolvable", cause).pipe(
        Effect.as(req.files.map((f) => unresolved(f, null, notAuto)))
      )
    )
  )
