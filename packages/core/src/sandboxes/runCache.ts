/**
 * What runs started together may share: git's answers about their repository, asked once per batch.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"

/**
 * What runs started together may share: git's answers about their repository (its top level, the git
 * identity and the ignore patterns that do not travel with the files), asked once per batch instead of
 * once per run. Make one per batch (a parallel run makes one); never keep it longer than the batch.
 */
export interface RunCache {
  readonly _tag: "RunCache"
  readonly entries: Map<string, unknown>
}

/** A fresh {@link RunCache}. */
export const makeRunCache = (): RunCache => ({ _tag: "RunCache", entries: new Map() })

/**
 * `effect`, run once per `key` in `cache`: runs that ask at the same time share the one answer. A failure
 * is not remembered (the next run asks again).
 */
export const memo = <A, E>(cache: RunCache | undefined, key: string, effect: Effect.Effect<A, E>): Effect.Effect<A, E> =>
  cache === undefined
    ? effect
    : Effect.suspend(() => {
      const hit = cache.entries.get(key) as Effect.Effect<A, E> | undefined
      if (hit !== undefined) return hit
      const once = Effect.runSync(Effect.cached(effect.pipe(Effect.tapError(() => Effect.sync(() => void cache.entries.delete(key))))))
      cache.entries.set(key, once)
      return once
    })
