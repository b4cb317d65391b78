import { Domain, Sessions } from "@parallel-cc/core"
import { Effect, Either, Option, Schema } from "effect"
import { defineCommand } from "../internal/Command.js"
import { withSessions } from "../internal/Env.js"
import { print, printJson, UsageError } from "../internal/Output.js"
import { releasedLines } from "../internal/Render.js"

/** `--session-id ID` or `--pid N`, exactly one. */
export const selector = (opts: { readonly sessionId: Option.Option<string>; readonly pid: Option.Option<number> }) =>
  Effect.gen(function*() {
    if (Option.isSome(opts.sessionId) === Option.isSome(opts.pid)) {
      return yield* new UsageError({ message: "give exactly one of --session-id ID or --pid N" })
    }
    if (Option.isSome(opts.pid)) return { pid: opts.pid.value } as Sessions.SessionSelector
    const id = Schema.decodeUnknownEither(Domain.SessionId)(Option.getOrThrow(opts.sessionId))
    if (Either.isLeft(id)) {
      return yield* new UsageError({ message: `--session-id: ${JSON.stringify(Option.getOrThrow(opts.sessionId))} is not a session id` })
    }
    return { sessionId: id.right } as Sessions.SessionSelector
  })

export const release = defineCommand({
  name: "release",
  description: "End a session; its worktree is removed only if that loses no work (else kept and explained)",
  spec: {
    sessionId: { kind: "text", optional: true, description: "The session to release" },
    pid: { kind: "integer", optional: true, description: "Release every active session of this process" },
    force: {
      kind: "boolean",
      description: "Remove the worktree even with uncommitted or unmerged work, and delete its branch; lists what is thrown away"
    },
    dryRun: { kind: "boolean", description: "Show what would happen (with --force: what would be thrown away); change nothing" },
    json: { kind: "boolean", description: "Print one JSON document: {\"released\": [...]}, each with \"discarded\"" }
  },
  handler: (opts) =>
    withSessions(Effect.gen(function*() {
      const sel = yield* selector(opts)
      const sessions = yield* Sessions.Sessions
      const released = yield* sessions.release(sel, { force: opts.force, dryRun: opts.dryRun })
      if (opts.json) return yield* printJson({ dryRun: opts.dryRun, released })
      if (released.length === 0) return yield* print("Nothing to release.")
      for (const r of released) yield* print(releasedLines(r, { dryRun: opts.dryRun }).join("\n"))
      if (opts.dryRun) yield* print("Dry run: nothing was changed.")
    }))
})
