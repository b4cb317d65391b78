import { ClaimsLedger, Domain, Git } from "@parallel-cc/core"
import { Clock, Effect, Option, Schema } from "effect"
import { defineCommand } from "../internal/Command.js"
import { Layers, withCore } from "../internal/Env.js"
import { claimsText } from "../internal/ClaimsText.js"
import { print, printJson } from "../internal/Output.js"
import { resolveDir } from "../internal/Paths.js"

const encodeClaims = Schema.encodeSync(Schema.Array(ClaimsLedger.Claim))

export const claims = defineCommand({
  name: "claims",
  description: "List active file claims (EXCLUSIVE, SHARED, INTENT): file, holder session and branch, expiry",
  spec: {
    repo: { kind: "text", optional: true, description: "Only claims in the repository at this path" },
    session: {
      kind: "text",
      optional: true,
      schema: Domain.SessionId,
      expected: "a session id (6 to 32 lowercase letters and digits)",
      description: "Only claims of this session id"
    },
    file: {
      kind: "text",
      optional: true,
      description: "Only claims on this file (relative to the repository root, or absolute)"
    },
    json: { kind: "boolean", description: "Print one JSON document: {\"claims\": [...]}" }
  },
  handler: (opts) =>
    withCore(Effect.gen(function*() {
      const ledger = yield* ClaimsLedger.ClaimsLedger
      const git = yield* Git.Git
      const { cwd } = yield* Layers
      const repoPath = Option.isSome(opts.repo) ? yield* resolveDir(opts.repo.value).pipe(Effect.flatMap(git.mainRoot)) : undefined
      const sessionId = Option.getOrUndefined(opts.session)
      let filePath: string | undefined
      if (Option.isSome(opts.file)) {
        const file = opts.file.value
        const base = repoPath ?? (yield* git.mainRoot(cwd).pipe(Effect.option, Effect.map(Option.getOrUndefined)))
        const worktree = yield* git.toplevel(cwd).pipe(Effect.option, Effect.map(Option.getOrUndefined))
        filePath = base !== undefined
          ? yield* ledger.normalize({ repoPath: base, worktreePath: worktree }, file)
          : file
      }
      const found = yield* ledger.list({ repoPath, sessionId, filePath })
      if (opts.json) return yield* printJson({ claims: encodeClaims(found) })
      yield* print(claimsText(found, yield* Clock.currentTimeMillis))
    }))
})
