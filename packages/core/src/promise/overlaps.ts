/**
 * The overlaps area of the Promise facade (`client.overlaps`): live overlaps between sessions and the files
 * each session changed.
 *
 * @since 0.2.0
 */
import { Effect, Schema } from "effect"
import * as Overlaps from "../coordination/Overlaps.js"
import * as OverlapStore from "../coordination/OverlapStore.js"
import * as Domain from "../Domain.js"
import { opt, strict, Text } from "./input.js"
import type { CallOptions, Facade } from "./runtime.js"

export type Overlap = OverlapStore.OverlapJson
export type ChangedFile = typeof ChangedFileJson.Type

const ChangedFileJson = Schema.encodedSchema(OverlapStore.ChangedFile)
const ListInput = strict({ repoPath: opt(Text), sessionId: opt(Domain.SessionId), refresh: opt(Schema.Boolean) })
const ChangesInput = strict({ repoPath: opt(Text), sessionId: opt(Domain.SessionId) })

const encodeOverlap = Schema.encodeSync(OverlapStore.Overlap)
const encodeChange = Schema.encodeSync(OverlapStore.ChangedFile)

/** Live overlaps: files two live sessions of a repository both change, the symbols, whether they conflict. */
export interface OverlapsApi {
  /**
   * Open overlaps (of a repository, or of one session), oldest first. `refresh` (default true) scans the
   * sessions' work now; false returns what their watchers last saw.
   */
  readonly list: (
    input?: { readonly repoPath?: string; readonly sessionId?: string; readonly refresh?: boolean },
    options?: CallOptions
  ) => Promise<ReadonlyArray<Overlap>>
  /** The files live sessions changed (committed since their base, staged, unstaged, untracked), as last scanned. */
  readonly changes: (
    input: { readonly repoPath?: string; readonly sessionId?: string },
    options?: CallOptions
  ) => Promise<ReadonlyArray<ChangedFile>>
}

export const makeOverlaps = (f: Facade): OverlapsApi => {
  const { method, mainRoot } = f
  return {
    list: method("overlaps.list", ListInput, (input) =>
      Effect.gen(function*() {
        const repoPath = input.repoPath !== undefined ? yield* mainRoot(input.repoPath) : undefined
        const found = yield* Effect.flatMap(Overlaps.Overlaps, (o) =>
          o.list({ repoPath, sessionId: input.sessionId, refresh: input.refresh !== false }))
        return found.map((x) => encodeOverlap(x))
      })),
    changes: method("overlaps.changes", ChangesInput, (input) =>
      Effect.gen(function*() {
        const repoPath = input.repoPath !== undefined ? yield* mainRoot(input.repoPath) : undefined
        const found = yield* Effect.flatMap(Overlaps.Overlaps, (o) =>
          input.sessionId !== undefined ? o.changes({ sessionId: input.sessionId }) : o.changes({ repoPath: repoPath ?? "" }))
        return found.map((x) => encodeChange(x))
      }))
  }
}
