import { Domain, OverlapStore, SandboxRuns, Sessions } from "@parallel-cc/core"
import { Clock, Effect, Option, Schema } from "effect"
import { defineCommand } from "../internal/Command.js"
import { withSessions } from "../internal/Env.js"
import { note, print, printJson } from "../internal/Output.js"
import { resolveDir } from "../internal/Paths.js"
import { releasedLines } from "../internal/Render.js"
import { statusText } from "../internal/StatusText.js"

const encodeSession = Schema.encodeSync(Domain.Session)

export const status = defineCommand({
  name: "status",
  description: "Show the active sessions (directory, branch, age, liveness) and worktrees kept with work in them",
  spec: {
    repo: { kind: "text", optional: true, description: "Only sessions of the repository at this path" },
    sandboxOnly: { kind: "boolean", description: "Only sandbox sessions" },
    json: { kind: "boolean", description: "Print one JSON document: {\"sessions\": [...], \"kept\": [...], \"released\": [...]}" }
  },
  handler: (opts) =>
    withSessions(Effect.gen(function*() {
      const sessions = yield* Sessions.Sessions
      const repoPath = Option.isSome(opts.repo) ? yield* resolveDir(opts.repo.value) : undefined
      const report = yield* sessions.status({ repoPath, mode: opts.sandboxOnly ? "sandbox" : undefined })
      if (opts.json) {
        return yield* printJson({
          sessions: report.sessions.map((v) => ({
            ...encodeSession(v.session),
            lastHeartbeat: v.lastHeartbeat.toISOString(),
            liveness: v.liveness
          })),
          kept: report.kept.map((s) => encodeSession(s)),
          released: report.released
        })
      }
      for (const r of report.released) yield* note(releasedLines(r).join("\n"))
      const now = yield* Clock.currentTimeMillis
      // Live overlaps as the sessions' watchers last saw them (`parallel-cc overlaps` scans now).
      const overlaps = yield* Effect.flatMap(OverlapStore.OverlapStore, (o) => o.list({ repoPath })).pipe(
        Effect.provide(OverlapStore.layer),
        Effect.orElseSucceed(() => [] as ReadonlyArray<OverlapStore.Overlap>)
      )
      // A sandboxed run's session is the run (same id): its kind says so, with the run's state.
      const runIds = [...report.sessions.map((v) => v.session), ...report.kept].filter((s) => s.mode === "sandbox").map((s) => s.sessionId)
      const runState = new Map<string, string>()
      if (runIds.length > 0) {
        yield* Effect.flatMap(SandboxRuns.SandboxRuns, (runs) =>
          Effect.forEach(runIds, (id) => runs.get(id).pipe(Effect.tap((r) => Effect.sync(() => runState.set(id, r.status))), Effect.ignore))).pipe(
            Effect.provide(SandboxRuns.layer),
            Effect.ignore
          )
      }
      const rows = report.sessions.map(({ lastHeartbeat, liveness, session }) => ({ ...session, lastHeartbeat, liveness: liveness.state }))
      yield* print(statusText(rows, report.kept, overlaps, now, runState))
    }))
})
