import { Domain, OverlapStore, SandboxRuns, Sessions } from "@parallel-cc/core"
import { Clock, Effect, Option, Schema } from "effect"
import { defineCommand } from "../internal/Command.js"
import { withSessions } from "../internal/Env.js"
import { age, note, print, printJson, table } from "../internal/Output.js"
import { resolveDir } from "../internal/Paths.js"
import { reenterCommand, releasedLines } from "../internal/Render.js"

const encodeSession = Schema.encodeSync(Domain.Session)

/** Sessions in display order: each one followed by the sessions started for it (subagents), indented. */
export const nested = (views: ReadonlyArray<Sessions.SessionView>) => {
  const ids = new Set<string>(views.map((v) => v.session.sessionId))
  const children = new Map<string, Array<Sessions.SessionView>>()
  const roots: Array<Sessions.SessionView> = []
  for (const v of views) {
    const p = v.session.parentId
    if (p !== null && ids.has(p) && p !== v.session.sessionId) children.set(p, [...(children.get(p) ?? []), v])
    else roots.push(v)
  }
  const out: Array<{ readonly depth: number; readonly view: Sessions.SessionView }> = []
  const seen = new Set<string>()
  const walk = (v: Sessions.SessionView, depth: number) => {
    if (seen.has(v.session.sessionId)) return
    seen.add(v.session.sessionId)
    out.push({ depth, view: v })
    for (const c of children.get(v.session.sessionId) ?? []) walk(c, depth + 1)
  }
  for (const r of roots) walk(r, 0)
  // A cycle of parents (impossible through register) still shows every session.
  for (const v of views) walk(v, 0)
  return out
}

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
      const kindOf = (s: Domain.Session) =>
        s.mode === "sandbox" ? `sandbox run (${runState.get(s.sessionId) ?? "unknown"})` : s.isMainRepo ? "main" : "worktree"
      const out: Array<string> = []
      if (report.sessions.length === 0) out.push("No active sessions.")
      else {
        out.push(table(
          ["SESSION", "PID", "KIND", "BRANCH", "AGE", "HEARTBEAT", "LIVENESS", "OVERLAPS", "PORTS", "DIRECTORY"],
          nested(report.sessions).map(({ depth, view: { lastHeartbeat, liveness, session: s } }) => [
            `${depth > 0 ? `${"  ".repeat(depth - 1)}└ ` : ""}${s.sessionId}${s.name !== null ? ` (${s.name})` : ""}`,
            String(s.pid),
            kindOf(s),
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
          "Worktrees kept with work in them (go on with the command shown; look with `parallel-cc diff SESSION`; " +
            "merge, then `parallel-cc cleanup`; or throw away with `parallel-cc discard SESSION --force`):",
          table(
            ["SESSION", "KIND", "BRANCH", "ENDED", "WORK", "GO ON WITH", "DIRECTORY"],
            report.kept.map((s) => [
              `${s.sessionId}${s.name !== null ? ` (${s.name})` : ""}`,
              kindOf(s),
              s.branch ?? "-",
              s.endedAt !== null ? `${age(s.endedAt, now)} ago` : "-",
              s.keptReason ?? "",
              s.mode === "sandbox" ? `parallel-cc open ${s.sessionId}` : reenterCommand(s.name ?? s.sessionId),
              s.worktreePath
            ])
          )
        )
      }
      yield* print(out.join("\n"))
    }))
})
