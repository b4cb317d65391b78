import { ClaimsLedger, Domain, Git } from "@parallel-cc/core"
import { Clock, Effect, Option, Schema } from "effect"
import { defineCommand } from "../internal/Command.js"
import { Layers, withCore } from "../internal/Env.js"
import { print, printJson, table } from "../internal/Output.js"
import { resolveDir } from "../internal/Paths.js"

const encodeClaims = Schema.encodeSync(Schema.Array(ClaimsLedger.Claim))

const until = (to: Date, now: number): string => {
  const m = Math.max(0, Math.round((to.getTime() - now) / 60_000))
  return m < 60 ? `${m}m` : m < 1440 ? `${Math.floor(m / 60)}h ${m % 60}m` : `${Math.floor(m / 1440)}d ${Math.floor((m % 1440) / 60)}h`
}

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
      if (found.length === 0) return yield* print("No active claims.")
      const now = yield* Clock.currentTimeMillis
      const repos = [...new Set(found.map((c) => c.repoPath))]
      const blocks = repos.map((repo) => {
        const rows = found.filter((c) => c.repoPath === repo).map((c) => [
          c.filePath,
          c.mode,
          c.sessionId,
          c.branch ?? "(repository)",
          until(c.expiresAt, now),
          c.reason ?? ""
        ])
        return `${repo}\n${table(["FILE", "MODE", "SESSION", "BRANCH", "EXPIRES IN", "REASON"], rows)}`
      })
      yield* print(blocks.join("\n\n"))
    }))
})
