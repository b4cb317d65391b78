/**
 * The claims area of the Promise facade (`client.claims`): acquire, release, releaseAll, list.
 *
 * @since 0.2.0
 */
import { Effect, Option, Schema } from "effect"
import * as ClaimsLedger from "../coordination/ClaimsLedger.js"
import * as Domain from "../Domain.js"
import { InvalidInput } from "../Errors.js"
import { Git } from "../platform/Git.js"
import { SessionStore } from "../sessions/SessionStore.js"
import { opt, strict, Text } from "./input.js"
import type { CallOptions, Facade } from "./runtime.js"

export type Claim = ClaimsLedger.ClaimJson
export interface Acquired {
  readonly claim: Claim
  readonly change: ClaimsLedger.Change
  /** The other sessions' claims on the file (none of which blocks this one). */
  readonly others: ReadonlyArray<Claim>
}

const AcquireInput = strict({
  sessionId: Domain.SessionId,
  path: Text,
  mode: opt(ClaimsLedger.ClaimMode),
  ttlMinutes: opt(Schema.Int.pipe(Schema.between(1, ClaimsLedger.maxTtlMinutes))),
  reason: opt(Schema.String.pipe(Schema.maxLength(500)))
})
const ReleaseClaimInput = strict({ sessionId: Domain.SessionId, path: Text })
const ReleaseAllInput = strict({ sessionId: Domain.SessionId })
const ClaimListInput = strict({ repoPath: opt(Text), sessionId: opt(Domain.SessionId), path: opt(Text) })

const encodeClaim = Schema.encodeSync(ClaimsLedger.Claim)

/** File claims: EXCLUSIVE, SHARED or INTENT, with expiry; they end with their session. */
export interface ClaimsApi {
  /** Claim a file for a session (default EXCLUSIVE), or renew / change the mode of its claim. */
  readonly acquire: (
    input: {
      readonly sessionId: string
      /** Relative to the repository root, or absolute inside the repository or the session's worktree. */
      readonly path: string
      readonly mode?: "EXCLUSIVE" | "SHARED" | "INTENT"
      readonly ttlMinutes?: number
      readonly reason?: string
    },
    options?: CallOptions
  ) => Promise<Acquired>
  /** Release a session's claim on one file. */
  readonly release: (input: { readonly sessionId: string; readonly path: string }, options?: CallOptions) => Promise<Claim>
  /** Release every claim of a session. */
  readonly releaseAll: (input: { readonly sessionId: string }, options?: CallOptions) => Promise<ReadonlyArray<Claim>>
  /** Active claims, oldest first; `path` (relative to the repository root) needs `repoPath`. */
  readonly list: (
    input?: { readonly repoPath?: string; readonly sessionId?: string; readonly path?: string },
    options?: CallOptions
  ) => Promise<ReadonlyArray<Claim>>
}

export const makeClaims = (f: Facade): ClaimsApi => {
  const { method, mainRoot, abs } = f
  return {
    acquire: method("claims.acquire", AcquireInput, (input) =>
      Effect.flatMap(ClaimsLedger.ClaimsLedger, (ledger) =>
        ledger.acquire({
          sessionId: input.sessionId,
          path: input.path,
          mode: input.mode ?? "EXCLUSIVE",
          ttlMinutes: input.ttlMinutes,
          reason: input.reason
        })).pipe(
          Effect.map((a): Acquired => ({ claim: encodeClaim(a.claim), change: a.change, others: a.others.map((c) => encodeClaim(c)) }))
        )),
    release: method("claims.release", ReleaseClaimInput, (input) =>
      Effect.flatMap(ClaimsLedger.ClaimsLedger, (ledger) => ledger.release(input.sessionId, input.path)).pipe(
        Effect.map((c) => encodeClaim(c))
      )),
    releaseAll: method("claims.releaseAll", ReleaseAllInput, (input) =>
      Effect.gen(function*() {
        yield* Effect.flatMap(SessionStore, (store) => store.get(input.sessionId))
        const ledger = yield* ClaimsLedger.ClaimsLedger
        const released = yield* ledger.releaseSession(input.sessionId, "released")
        return released.map((c) => encodeClaim(c))
      })),
    list: method("claims.list", ClaimListInput, (input) =>
      Effect.gen(function*() {
        const ledger = yield* ClaimsLedger.ClaimsLedger
        const git = yield* Git
        const repoPath = input.repoPath !== undefined ? yield* mainRoot(input.repoPath) : undefined
        let filePath: string | undefined
        if (input.path !== undefined) {
          if (repoPath === undefined) {
            return yield* new InvalidInput({ field: "claims.list.path", detail: "give repoPath too: paths are relative to a repository" })
          }
          const worktree = yield* git.toplevel(abs(input.repoPath!)).pipe(Effect.option, Effect.map(Option.getOrUndefined))
          filePath = yield* ledger.normalize({ repoPath, worktreePath: worktree }, input.path)
        }
        const found = yield* ledger.list({ repoPath, sessionId: input.sessionId, filePath })
        return found.map((c) => encodeClaim(c))
      }))
  }
}
