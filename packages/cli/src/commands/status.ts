import { Domain, OverlapStore, Sessions } from "@parallel-cc/core"
import { Clock, Effect, Option, Schema } from "effect"
import { defineCommand } from "../internal/Command.js"
import { withSessions } from "../internal/Env.js"
import { age, note, print, printJson, table } from "../internal/Output.js"
import { resolveDir } from "../internal/Paths.js"
import { releasedLines } from "../internal/Render.js"

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
      const overlapOf = (id: string) => {
        const mine = overlaps.filter((o) => o.sessionA === id || o.sessionB === id)
        if (mine.length === 0) return "-"
        const files = new Set(mine.map((o) => o.filePath)).size
        const conflicts = mine.filter((o) => o.conflict === true).length
        return `${files} file${files === 1 ? "" : "s"}${conflicts > 0 ? `, ${conflicts} conflict${conflicts === 1 ? "" : "s"}` : ""}`
      }
      const out: Array<string> = []
      if (report.sessions.length === 0) out.push("No active sessions.")
      else {
        out.push(table(
          ["SESSION", "PID", "KIND", "BRANCH", "AGE", "HEARTBEAT", "LIVENESS", "OVERLAPS", "PORTS", "DIRECTORY"],
          report.sessions.map(({ lastHeartbeat, liveness, session: s }) => [
            s.sessionId,
            String(s.pid),
            s.mode === "sandbox" ? "sandbox" : s.isMainRepo ? "main" : "worktree",
            s.branch ?? "-",
            age(s.createdAt, now),
            `${age(lastHeartbeat, now)} ago`,
            liveness.state,
            overlapOf(s.sessionId),
            s.portBase !== null ? String(s.portBase) : "-",
            s.worktreePath
          ])
        ))
      }
      if (report.kept.length > 0) {
        out.push(
          "",
          "Worktrees kept with work in them (merge, then `parallel-cc cleanup`; or `parallel-cc release --session-id ID --force`):",
          table(
            ["SESSION", "BRANCH", "ENDED", "WORK", "DIRECTORY"],
            report.kept.map((s) => [
              s.sessionId,
              s.branch ?? "-",
              s.endedAt !== null ? `${age(s.endedAt, now)} ago` : "-",
              s.keptReason ?? "",
              s.worktreePath
            ])
          )
        )
      }
      yield* print(out.join("\n"))
    }))
})
