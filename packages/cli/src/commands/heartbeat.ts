import { Sessions } from "@parallel-cc/core"
import { Effect } from "effect"
import { defineCommand } from "../internal/Command.js"
import { withSessions } from "../internal/Env.js"
import { print } from "../internal/Output.js"
import { selector } from "./release.js"

export const heartbeat = defineCommand({
  name: "heartbeat",
  description: "Record that a session is alive (the heartbeat hook does the same by touching a file, without Node)",
  spec: {
    sessionId: { kind: "text", optional: true, description: "The session" },
    pid: { kind: "integer", optional: true, description: "Every active session of this process" }
  },
  handler: (opts) =>
    withSessions(Effect.gen(function*() {
      const sel = yield* selector(opts)
      const sessions = yield* Sessions.Sessions
      const n = yield* sessions.heartbeat(sel)
      yield* print(`Heartbeat recorded for ${n} session${n === 1 ? "" : "s"}.`)
    }))
})
