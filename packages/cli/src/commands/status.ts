import { Domain, SessionStore } from "@parallel-cc/core"
import { Clock, Effect, Option, Schema } from "effect"
import { defineCommand } from "../internal/Command.js"
import { withCore } from "../internal/Env.js"
import { age, print, printJson, table } from "../internal/Output.js"
import { resolveDir } from "../internal/Paths.js"

const encodeSessions = Schema.encodeSync(Schema.Array(Domain.Session))

export const status = defineCommand({
  name: "status",
  description: "Show the active sessions: directory, branch, age and liveness",
  spec: {
    repo: { kind: "text", optional: true, description: "Only sessions of the repository at this path" },
    sandboxOnly: { kind: "boolean", description: "Only sandbox sessions" },
    json: { kind: "boolean", description: "Print one JSON document: {\"sessions\": [...]}" }
  },
  handler: (opts) =>
    withCore(Effect.gen(function*() {
      const store = yield* SessionStore.SessionStore
      const repoPath = Option.isSome(opts.repo) ? yield* resolveDir(opts.repo.value) : undefined
      const sessions = yield* store.list({ repoPath, mode: opts.sandboxOnly ? "sandbox" : undefined })
      if (opts.json) return yield* printJson({ sessions: encodeSessions(sessions) })
      if (sessions.length === 0) return yield* print("No active sessions.")
      const now = yield* Clock.currentTimeMillis
      yield* print(table(
        ["SESSION", "PID", "KIND", "BRANCH", "AGE", "HEARTBEAT", "DIRECTORY"],
        sessions.map((s) => [
          s.sessionId,
          String(s.pid),
          s.mode === "sandbox" ? "sandbox" : s.isMainRepo ? "main" : "worktree",
          s.branch ?? "-",
          age(s.createdAt, now),
          `${age(s.lastHeartbeat, now)} ago`,
          s.worktreePath
        ])
      ))
    }))
})
