import { Domain, Sessions } from "@parallel-cc/core"
import { Effect, Option, Schema } from "effect"
import { defineCommand } from "../internal/Command.js"
import { withSessions } from "../internal/Env.js"
import { note, print, printJson, UsageError } from "../internal/Output.js"
import { resolveDir } from "../internal/Paths.js"
import { registeredLines, releasedLines } from "../internal/Render.js"
import { setupPrinter } from "../internal/Setup.js"

const encodeRegistration = Schema.encodeSync(Domain.Registration)

export const register = defineCommand({
  name: "register",
  description:
    "Register a session for a process: the first in a repo works in the repo, later ones get a new worktree and branch",
  spec: {
    repo: { kind: "text", description: "Path of the repository (any directory inside it)" },
    pid: { kind: "integer", description: "Process id of the agent the session belongs to (it must be running)" },
    name: { kind: "text", optional: true, description: "Name the session: branch parallel/NAME in the worktree folder NAME (implies --worktree)" },
    base: { kind: "text", optional: true, description: "Start the worktree from this commit, branch or tag (implies --worktree)" },
    worktree: { kind: "boolean", description: "Give the session its own worktree even when the repository is free" },
    noWorktree: { kind: "boolean", description: "Work in the repository itself; refused when another session has it" },
    parent: { kind: "text", optional: true, description: "The session this one works for (shown nested under it)" },
    json: { kind: "boolean", description: "Print the registration as JSON" }
  },
  handler: (opts) =>
    withSessions(Effect.gen(function*() {
      const sessions = yield* Sessions.Sessions
      const repo = yield* resolveDir(opts.repo)
      if (opts.worktree && opts.noWorktree) return yield* new UsageError({ message: "give at most one of --worktree and --no-worktree" })
      const r = yield* sessions.register({
        repo,
        pid: opts.pid,
        name: Option.getOrUndefined(opts.name),
        base: Option.getOrUndefined(opts.base),
        parent: Option.getOrUndefined(opts.parent),
        worktree: opts.worktree ? "always" : opts.noWorktree ? "never" : undefined,
        onSetupOutput: setupPrinter()
      })
      for (const s of r.swept) for (const line of releasedLines(s)) yield* note(line)
      for (const w of r.setup.warnings) yield* note(`warning: ${w}`)
      if (opts.json) return yield* printJson(encodeRegistration(r.registration))
      const s = r.session
      const ports = { base: s.portBase, count: Number(r.env.PARALLEL_CC_PORT_COUNT ?? 1) }
      for (const line of registeredLines(s, ports)) yield* print(line)
    }))
})
