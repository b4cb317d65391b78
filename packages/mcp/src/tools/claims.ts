/**
 * File claim tools: declare, release and list who works on which file.
 *
 * @since 0.1.0
 */
import { ClaimsLedger, Domain, Errors, Git } from "@parallel-cc/core"
import { Effect, Option, Schema } from "effect"
import { z } from "zod"
import { Caller } from "../Caller.js"
import * as Tool from "../Tool.js"
import { repoOption } from "./common.js"
import { claim, claimMode, claimWire } from "./shapes.js"

const pathArg = z.string().min(1).max(4096)
  .describe("The file, relative to the repository root (e.g. src/app.ts), or an absolute path inside the repository or your worktree")

export const claimFile = Tool.define({
  name: "claim_file",
  title: "Claim a file",
  description: "Declare that you work on a file, so parallel sessions do not collide. EXCLUSIVE (default): " +
    "nobody else may claim it EXCLUSIVE or SHARED. SHARED: others may share it but nobody may take it " +
    "EXCLUSIVE. INTENT: only informs, never refused. Claiming a file you already hold renews it or changes " +
    "its mode (escalation is checked like a new claim). Refused with ClaimConflict, naming the holders. " +
    "Claims expire (ttlMinutes, default from config) and end with your session.",
  input: {
    path: pathArg,
    mode: claimMode.optional().describe("EXCLUSIVE (default), SHARED or INTENT"),
    ttlMinutes: z.number().int().min(1).max(ClaimsLedger.maxTtlMinutes).optional()
      .describe("Lifetime in minutes (default: the claims.ttlMinutes setting)"),
    reason: z.string().max(500).optional().describe("A note for the other sessions")
  },
  output: {
    claim,
    change: z.enum(["acquired", "renewed", "escalated", "downgraded"]),
    others: z.array(claim).describe("Other sessions' claims on the same file (none of them blocks yours)")
  },
  handler: (input) =>
    Effect.gen(function*() {
      const ledger = yield* ClaimsLedger.ClaimsLedger
      const me = yield* Effect.flatMap(Caller, (c) => c.session)
      const r = yield* ledger.acquire({
        sessionId: me.session.sessionId,
        path: input.path,
        mode: input.mode ?? "EXCLUSIVE",
        ttlMinutes: input.ttlMinutes,
        reason: input.reason
      })
      return { claim: claimWire(r.claim), change: r.change, others: r.others.map(claimWire) }
    }),
  summarize: (o) =>
    `${o.change} ${o.claim.mode} claim on ${o.claim.filePath} until ${o.claim.expiresAt}` +
    (o.others.length > 0 ? `; also claimed by ${o.others.map((c) => `${c.sessionId} (${c.mode})`).join(", ")}` : "")
})

export const releaseFile = Tool.define({
  name: "release_file",
  title: "Release a file claim",
  description: "Release your claim on a file (path), or all your claims (all: true). Releasing a file you " +
    "do not hold is a ClaimNotFound error.",
  input: {
    path: pathArg.optional(),
    all: z.boolean().optional().describe("Release every claim you hold")
  },
  output: {
    released: z.array(claim),
    total: z.number().int()
  },
  idempotent: false,
  handler: (input) =>
    Effect.gen(function*() {
      const ledger = yield* ClaimsLedger.ClaimsLedger
      if ((input.path === undefined) === (input.all !== true)) {
        return yield* new Errors.InvalidInput({ field: "arguments", detail: "give either path or all: true" })
      }
      const me = yield* Effect.flatMap(Caller, (c) => c.session)
      const released = input.path !== undefined
        ? [yield* ledger.release(me.session.sessionId, input.path)]
        : yield* ledger.releaseSession(me.session.sessionId, "released")
      return { released: released.map(claimWire), total: released.length }
    }),
  summarize: (o) => `released ${o.total} claim${o.total === 1 ? "" : "s"}${o.total > 0 ? `: ${o.released.map((c) => c.filePath).join(", ")}` : ""}`
})

export const listFileClaims = Tool.define({
  name: "list_file_claims",
  title: "List file claims",
  description: "The active file claims of a repository (default: yours), optionally for one file, one " +
    "session, or only your own. Each says who holds it, in which mode, on which branch, until when.",
  input: {
    path: pathArg.optional().describe("Only claims on this file"),
    repo: z.string().min(1).optional().describe("A path inside the repository (default: your repository)"),
    sessionId: z.string().min(1).max(64).optional().describe("Only claims of this session"),
    mine: z.boolean().optional().describe("Only your own claims")
  },
  output: {
    repoPath: z.string().nullable(),
    you: z.string().nullable(),
    claims: z.array(claim.extend({ isYours: z.boolean() })),
    total: z.number().int()
  },
  readOnly: true,
  handler: (input) =>
    Effect.gen(function*() {
      const ledger = yield* ClaimsLedger.ClaimsLedger
      const caller = yield* Caller
      const git = yield* Git.Git
      const me = yield* caller.sessionOption
      const you = Option.map(me, (m) => m.session.sessionId).pipe(Option.getOrNull)
      if (input.mine === true && you === null) yield* caller.session
      const repo = Option.getOrUndefined(yield* repoOption(input.repo, me))
      let filePath: string | undefined
      if (input.path !== undefined) {
        if (repo === undefined) {
          return yield* new Errors.InvalidInput({
            field: "path",
            detail: "no repository to resolve it in: pass repo, or call from a session's worktree"
          })
        }
        const worktree = Option.isSome(me) && me.value.session.repoPath === repo
          ? me.value.session.worktreePath
          : yield* git.toplevel(caller.cwd).pipe(Effect.option, Effect.map(Option.getOrUndefined))
        filePath = yield* ledger.normalize({ repoPath: repo, worktreePath: worktree }, input.path)
      }
      const wanted = input.mine === true ? you ?? undefined : input.sessionId
      const sessionId = wanted === undefined ? undefined : yield* Schema.decodeUnknown(Domain.SessionId)(wanted).pipe(
        Effect.mapError(() => new Errors.InvalidInput({ field: "sessionId", detail: `${wanted} is not a session id` }))
      )
      const found = yield* ledger.list({ repoPath: repo, filePath, sessionId })
      return {
        repoPath: repo ?? null,
        you,
        claims: found.map((c) => ({ ...claimWire(c), isYours: c.sessionId === you })),
        total: found.length
      }
    }),
  summarize: (o) => `${o.total} active claim${o.total === 1 ? "" : "s"}${o.repoPath !== null ? ` in ${o.repoPath}` : ""}`
})

export const tools: ReadonlyArray<Tool.AnyTool> = [claimFile, releaseFile, listFileClaims]
