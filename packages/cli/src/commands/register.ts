import { Domain, Sessions } from "@parallel-cc/core"
import { Effect, Schema } from "effect"
import { defineCommand } from "../internal/Command.js"
import { withSessions } from "../internal/Env.js"
import { note, print, printJson } from "../internal/Output.js"
import { resolveDir } from "../internal/Paths.js"
import { releasedLines } from "../internal/Render.js"

const encodeRegistration = Schema.encodeSync(Domain.Registration)

export const register = defineCommand({
  name: "register",
  description:
    "Register a session for a process: the first in a repo works in the repo, later ones get a new worktree and branch",
  spec: {
    repo: { kind: "text", description: "Path of the repository (any directory inside it)" },
    pid: { kind: "integer", description: "Process id of the agent the session belongs to (it must be running)" },
    json: { kind: "boolean", description: "Print the registration as JSON" }
  },
  handler: (opts) =>
    withSessions(Effect.gen(function*() {
      const sessions = yield* Sessions.Sessions
      const repo = yield* resolveDir(opts.repo)
      const r = yield* sessions.register({ repo, pid: opts.pid })
      for (const s of r.swept) for (const line of releasedLines(s)) yield* note(line)
      for (const w of r.setup.warnings) yield* note(`warning: ${w}`)
      if (opts.json) return yield* printJson(encodeRegistration(r.registration))
      const s = r.session
      yield* print(
        s.isMainRepo
          ? `Session ${s.sessionId}: working in the repository ${s.repoPath}`
          : `Session ${s.sessionId}: parallel session, working in the worktree ${s.worktreePath} (branch ${s.branch})`
      )
      if (s.portBase !== null) yield* print(`Ports ${s.portBase}–${s.portBase + Number(r.env.PARALLEL_CC_PORT_COUNT ?? 1) - 1} (PARALLEL_CC_PORT_BASE)`)
    }))
})
