import { Domain, Fleet, OverlapStore, SandboxRuns, Sessions } from "@parallel-cc/core"
import { Clock, Duration, Effect, Option, Schema } from "effect"
import { defineCommand } from "../internal/Command.js"
import { withFleet } from "../internal/Env.js"
import { note, print, UsageError } from "../internal/Output.js"
import { resolveDir } from "../internal/Paths.js"
import { releasedLines } from "../internal/Render.js"
import { statusText } from "../internal/StatusText.js"

const encodeSession = Schema.encodeSync(Domain.Session)

interface StatusOptions {
  readonly repo: Option.Option<string>
  readonly sandboxOnly: boolean
  readonly json: boolean
}

/** One status report: the JSON document, or the table (released sessions noted on stderr). */
const report = (opts: StatusOptions) =>
  Effect.gen(function*() {
    const sessions = yield* Sessions.Sessions
    const fleet = yield* Fleet.Fleet
    const repoPath = Option.isSome(opts.repo) ? yield* resolveDir(opts.repo.value) : undefined
    const report = yield* sessions.status({ repoPath, mode: opts.sandboxOnly ? "sandbox" : undefined })
    const fields = yield* Effect.forEach(report.sessions, (v) => fleet.fields(v))
    if (opts.json) {
      return JSON.stringify(
        {
          sessions: report.sessions.map((v, i) => ({
            ...encodeSession(v.session),
            lastHeartbeat: v.lastHeartbeat.toISOString(),
            liveness: v.liveness,
            state: fields[i]!.state,
            stateSince: fields[i]!.stateSince,
            usage: fields[i]!.usage
          })),
          kept: report.kept.map((s) => encodeSession(s)),
          released: report.released
        },
        null,
        2
      )
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
    const rows = report.sessions.map(({ lastHeartbeat, liveness, session }, i) => ({
      ...session,
      lastHeartbeat,
      liveness: liveness.state,
      state: fields[i]!.state,
      usage: fields[i]!.usage
    }))
    return statusText(rows, report.kept, overlaps, now, runState)
  })

/** `--interval S`: seconds from 0.2 to 86400 (decimals allowed); default 2. */
const intervalOf = (raw: Option.Option<string>) =>
  Effect.gen(function*() {
    if (Option.isNone(raw)) return 2
    const n = Number(raw.value)
    if (!/^\d+(\.\d+)?$/.test(raw.value.trim()) || !(n >= 0.2) || n > 86_400) {
      return yield* new UsageError({ message: `--interval must be a number of seconds from 0.2 to 86400 (got ${JSON.stringify(raw.value)})` })
    }
    return n
  })

export const status = defineCommand({
  name: "status",
  description: "Show the active sessions (directory, branch, age, liveness, agent state, cost) and worktrees kept with work in them",
  spec: {
    repo: { kind: "text", optional: true, description: "Only sessions of the repository at this path" },
    sandboxOnly: { kind: "boolean", description: "Only sandbox sessions" },
    json: { kind: "boolean", description: "Print one JSON document: {\"sessions\": [...], \"kept\": [...], \"released\": [...]}" },
    watch: { kind: "boolean", description: "Print the status again every --interval seconds until interrupted (on a terminal: in place; with --json: one line each)" },
    interval: { kind: "text", optional: true, description: "Seconds between two reports of --watch (default 2; decimals allowed)" }
  },
  handler: (opts) =>
    withFleet(Effect.gen(function*() {
      if (!opts.watch) {
        if (Option.isSome(opts.interval)) return yield* new UsageError({ message: "--interval goes with --watch" })
        return yield* print(yield* report(opts))
      }
      const seconds = yield* intervalOf(opts.interval)
      const tty = process.stdout.isTTY === true && !opts.json
      while (true) {
        const text = yield* report(opts)
        const stamp = new Date(yield* Clock.currentTimeMillis).toISOString()
        if (tty) yield* Effect.sync(() => process.stdout.write(`\x1b[H\x1b[2J${stamp}  every ${seconds}s, Ctrl-C to stop\n\n${text}\n`))
        else if (opts.json) yield* Effect.sync(() => process.stdout.write(JSON.stringify(JSON.parse(text)) + "\n"))
        else yield* print(`--- ${stamp}\n${text}`)
        yield* Effect.sleep(Duration.millis(Math.round(seconds * 1000)))
      }
    }))
})
