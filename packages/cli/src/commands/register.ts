import { AppConfig, Domain, SessionStore } from "@parallel-cc/core"
import { Effect, Schema } from "effect"
import { defineCommand } from "../internal/Command.js"
import { withCore } from "../internal/Env.js"
import { print, printJson } from "../internal/Output.js"
import { resolveDir } from "../internal/Paths.js"

const encodeRegistration = Schema.encodeSync(Domain.Registration)

export const register = defineCommand({
  name: "register",
  description: "Register a session for a process: the first in a repo works in the repo, later ones in a worktree",
  spec: {
    repo: { kind: "text", description: "Path of the repository" },
    pid: { kind: "integer", description: "Process id of the agent the session belongs to" },
    json: { kind: "boolean", description: "Print the registration as JSON" }
  },
  handler: (opts) =>
    withCore(Effect.gen(function*() {
      const store = yield* SessionStore.SessionStore
      const config = yield* AppConfig.AppConfig
      const repoPath = yield* resolveDir(opts.repo)
      const s = yield* store.register({
        repoPath,
        pid: opts.pid,
        pidStartTime: null,
        planWorktree: SessionStore.planWorktree(config.values, repoPath)
      })
      const out = encodeRegistration({
        sessionId: s.sessionId,
        isMainRepo: s.isMainRepo,
        worktreePath: s.worktreePath,
        worktreeName: s.worktreeName,
        branch: s.branch,
        repoPath: s.repoPath
      })
      if (opts.json) return yield* printJson(out)
      yield* print(
        s.isMainRepo
          ? `Session ${s.sessionId}: working in the repository ${s.repoPath}`
          : `Session ${s.sessionId}: parallel session, working in the worktree ${s.worktreePath} (branch ${s.branch})`
      )
    }))
})
