/**
 * `parallel-cc sandbox run --multi`: the handler calls the core `ParallelRunner` once and renders its
 * events — a live view of one line per task on a terminal, one plain line per state change otherwise, or
 * JSON lines with `--json` — and the summary at the end.
 */
import { ParallelRunner, ParallelSummary } from "@parallel-cc/core"
import { Clock, Console, Effect, Schedule, Schema } from "effect"
import * as path from "node:path"

/** Some tasks did not succeed; the summary has been printed. Exit code 1. */
export class ParallelRunFailed extends Schema.TaggedError<ParallelRunFailed>()("ParallelRunFailed", {
  failed: Schema.Number,
  total: Schema.Number,
  outputDir: Schema.String
}) {
  override get message(): string {
    return `${this.failed} of ${this.total} task${this.total === 1 ? "" : "s"} did not succeed; see ${path.join(this.outputDir, "summary-report.md")}`
  }
}

type Event = ParallelRunner.ParallelEvent

const seconds = (ms: number) => (ms < 60_000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.floor(ms / 60_000)}m${String(Math.floor((ms % 60_000) / 1000)).padStart(2, "0")}s`)
const money = (usd: number | null) => (usd === null ? "" : `$${usd.toFixed(4)}`)
const oneLine = (s: string, max: number) => {
  const l = s.replace(/\s+/g, " ").trim()
  return l.length > max ? `${l.slice(0, max - 1)}…` : l
}

interface Row {
  readonly id: string
  readonly dependsOn: ReadonlyArray<string>
  status: ParallelSummary.TaskStatus
  phase: ParallelRunner.TaskPhase | null
  attempt: number
  startedAt: number | null
  endedAt: number | null
  cost: number | null
  files: number | null
  note: string | null
}

/** The tasks as a progress view sees them, from the events. */
class Board {
  readonly rows = new Map<string, Row>()
  outputDir = ""
  maxConcurrent = 0

  apply(e: Event, now: number): void {
    switch (e._tag) {
      case "RunStarted":
        this.outputDir = e.outputDir
        this.maxConcurrent = e.maxConcurrent
        for (const t of e.tasks) {
          this.rows.set(t.id, { id: t.id, dependsOn: t.dependsOn, status: t.status, phase: null, attempt: 0, startedAt: null, endedAt: null, cost: null, files: null, note: null })
        }
        return
      case "TaskStarted": {
        const r = this.rows.get(e.taskId)
        if (r === undefined) return
        r.status = "running"
        r.attempt = e.attempt
        r.phase = "starting"
        r.startedAt = r.startedAt ?? now
        return
      }
      case "TaskPhase": {
        const r = this.rows.get(e.taskId)
        if (r !== undefined) r.phase = e.phase
        return
      }
      case "TaskRetrying": {
        const r = this.rows.get(e.taskId)
        if (r !== undefined) r.note = `retry in ${seconds(e.delayMs)}: ${e.error}`
        return
      }
      case "TaskFinished": {
        const r = this.rows.get(e.taskId)
        if (r === undefined) return
        r.status = e.status
        r.phase = null
        r.endedAt = now
        r.cost = e.costUsd
        r.files = e.filesChanged
        r.note = e.pullRequest ?? e.reason ?? e.error
        return
      }
      default:
        return
    }
  }

  /** Why a pending task is not running yet. */
  waitingFor(r: Row): string {
    const open = r.dependsOn.filter((d) => this.rows.get(d)?.status !== "succeeded")
    return open.length > 0 ? `waiting for ${open.join(", ")}` : "queued"
  }
}

/** A running task's step as the live view shows it. */
const phaseText = (phase: ParallelRunner.TaskPhase | null): string =>
  phase === "agent" ? "agent working" : phase === "ready" ? "waiting for a slot" : phase ?? "starting"

const spinner = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"]
const mark: Record<ParallelSummary.TaskStatus, string> = {
  pending: "·",
  running: "",
  succeeded: "✓",
  failed: "✗",
  skipped: "-",
  cancelled: "-",
  interrupted: "!"
}

/** The live view: one line per task (state, elapsed, cost), redrawn in place on stderr. */
const liveView = () => {
  const board = new Board()
  let drawn = 0
  let frame = 0
  const out = process.stderr
  const width = () => Math.max(40, (out.columns || 100) - 1)
  const lines = (now: number): Array<string> => {
    const idWidth = Math.min(24, Math.max(4, ...[...board.rows.keys()].map((k) => k.length)))
    const rows = [...board.rows.values()].map((r) => {
      const symbol = r.status === "running" ? spinner[frame % spinner.length]! : mark[r.status]
      const state = r.status === "running" ? phaseText(r.phase) : r.status === "pending" ? board.waitingFor(r) : r.status
      const elapsed = r.startedAt !== null ? seconds((r.endedAt ?? now) - r.startedAt) : ""
      const extra = [
        r.cost !== null ? money(r.cost) : "",
        r.files !== null && r.status !== "skipped" && r.status !== "cancelled" ? `${r.files} file${r.files === 1 ? "" : "s"}` : "",
        r.attempt > 1 ? `attempt ${r.attempt}` : "",
        r.note ?? ""
      ].filter((x) => x !== "").join("  ")
      const line = `  ${symbol} ${r.id.padEnd(idWidth)}  ${state.padEnd(16)} ${elapsed.padStart(7)}  ${extra}`
      return line.length > width() ? `${line.slice(0, width() - 1)}…` : line
    })
    return [`Parallel run: ${board.rows.size} tasks, at most ${board.maxConcurrent} at once → ${board.outputDir}`, ...rows]
  }
  const draw = (now: number) =>
    Effect.sync(() => {
      if (board.rows.size === 0) return
      frame++
      const text = lines(now)
      let s = drawn > 0 ? `\x1b[${drawn}A` : ""
      for (const l of text) s += `\r\x1b[2K${l}\n`
      out.write(s)
      drawn = text.length
    })
  const above = (text: string) =>
    Effect.sync(() => {
      // Clear the view, print the line, and let the next draw put the view back below it.
      let s = drawn > 0 ? `\x1b[${drawn}A` : ""
      for (let i = 0; i < drawn; i++) s += "\r\x1b[2K\n"
      if (drawn > 0) s += `\x1b[${drawn}A`
      out.write(`${s}${text}\n`)
      drawn = 0
    })
  const onEvent = (e: Event) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      board.apply(e, now)
      if (e._tag === "Warning") yield* above(`warning: ${e.taskId !== undefined ? `${e.taskId}: ` : ""}${e.message}`)
      if (e._tag === "TaskOutput") return
      yield* draw(now)
    })
  const tick = Effect.flatMap(Clock.currentTimeMillis, draw)
  return { onEvent, tick, board }
}

/** Off a terminal: one plain line per state change, with the time. */
const plainLines = () => {
  const board = new Board()
  const w = (s: string) => Effect.sync(() => process.stderr.write(s + "\n"))
  const clock = (ms: number) => new Date(ms).toISOString().slice(11, 19)
  const onEvent = (e: Event) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      board.apply(e, now)
      const t = clock(now)
      switch (e._tag) {
        case "RunStarted":
          return yield* w(`${t} parallel run ${e.runId}: ${e.tasks.length} tasks, at most ${e.maxConcurrent} at once; results in ${e.outputDir}`)
        case "Warning":
          return yield* w(`${t} warning: ${e.taskId !== undefined ? `${e.taskId}: ` : ""}${e.message}`)
        case "TaskStarted":
          return yield* w(`${t} ${e.taskId} started${e.attempt > 1 ? ` (attempt ${e.attempt})` : ""}`)
        case "TaskPhase":
          return e.phase === "agent"
            ? yield* w(`${t} ${e.taskId} agent working (session ${e.sessionId})`)
            : e.phase === "ready"
            ? yield* w(`${t} ${e.taskId} ready, waiting for an agent slot (session ${e.sessionId})`)
            : undefined
        case "TaskRetrying":
          return yield* w(`${t} ${e.taskId} attempt ${e.attempt} failed (${oneLine(e.error, 200)}); retrying in ${seconds(e.delayMs)}`)
        case "TaskFinished": {
          const facts = [
            e.durationMs !== null ? seconds(e.durationMs) : undefined,
            e.costUsd !== null ? money(e.costUsd) : undefined,
            e.status === "skipped" || e.status === "cancelled" ? undefined : `${e.filesChanged} file${e.filesChanged === 1 ? "" : "s"} changed`
          ].filter((x) => x !== undefined)
          const why = e.pullRequest ?? e.reason ?? e.error
          return yield* w(`${t} ${e.taskId} ${e.status}${facts.length > 0 ? ` in ${facts.join(", ")}` : ""}${why !== null ? `: ${oneLine(why, 300)}` : ""}`)
        }
        default:
          return
      }
    })
  return { onEvent, board }
}

/** `--json`: one JSON object per line on stdout, `event` naming it; the last one carries the summary. */
const jsonLines = (e: Event) =>
  Effect.sync(() => {
    const { _tag, ...rest } = e
    process.stdout.write(JSON.stringify({ event: _tag, ...rest }) + "\n")
  })

const pad = (rows: ReadonlyArray<ReadonlyArray<string>>) => {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)))
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("  ").trimEnd()).join("\n")
}

/** The end of a run, for people: a table of the tasks, totals, time saved, where the results are. */
export const renderSummary = (s: ParallelSummary.RunSummaryJson): string => {
  const t = s.totals
  const counts = [
    `${t.succeeded} succeeded`,
    t.failed > 0 ? `${t.failed} failed` : undefined,
    t.interrupted > 0 ? `${t.interrupted} interrupted` : undefined,
    t.skipped > 0 ? `${t.skipped} skipped` : undefined,
    t.cancelled > 0 ? `${t.cancelled} cancelled` : undefined
  ].filter((x) => x !== undefined).join(", ")
  const lines = [`Parallel run ${s.runId}: ${t.tasks} tasks — ${counts}${t.costUsd !== null ? ` · ${money(t.costUsd)}` : ""} · ${t.filesChanged} files changed`]
  const rows = [["TASK", "STATUS", "TIME", "COST", "FILES", "PROMPT", "DETAILS"]]
  for (const x of s.tasks) {
    const files = x.status === "skipped" || x.status === "cancelled" ? "-" : String(x.changes.added.length + x.changes.modified.length + x.changes.deleted.length)
    const details = x.pullRequestUrl !== null
      ? x.pullRequestUrl
      : x.error !== null
      ? oneLine(x.error, 120)
      : x.reason !== null
      ? x.reason
      : x.worktreePath !== null
      ? x.worktreePath
      : x.fromEarlierRun
      ? "from an earlier run"
      : "no changes"
    rows.push([
      x.id,
      x.status === "failed" ? "FAILED" : x.status,
      x.durationMs !== null ? seconds(x.durationMs) : "-",
      x.costUsd !== null ? money(x.costUsd) : "-",
      files,
      oneLine(x.prompt.split("\n")[0] ?? "", 32),
      details
    ])
  }
  lines.push(pad(rows))
  if (s.sequentialMs > 0) {
    lines.push(`Time saved: ${seconds(s.savedMs)} (the tasks took ${seconds(s.sequentialMs)} together; the run took ${seconds(s.wallMs)})`)
  }
  const overlaps = s.overlaps !== null ? ParallelSummary.overlapSentences(s.overlaps) : []
  if (overlaps.length > 0) lines.push("Overlaps:", ...overlaps.map((l) => `  ${l}`))
  lines.push(`Results: ${s.outputDir}  (summary-report.md; per task: result.json, run.log, changes.patch, files/)`)
  if (s.tasks.some((x) => x.status !== "succeeded")) lines.push(`Run the rest again: parallel-cc sandbox run --multi --resume ${s.outputDir}`)
  return lines.join("\n")
}

export interface MultiOptions {
  readonly json: boolean
  /** Whether stderr is a terminal (the live view) — decided by the edge. */
  readonly terminal: boolean
}

/** Run (or resume) a parallel run with progress, print the summary, fail when a task did not succeed. */
export const runMulti = (
  start: (onEvent: (e: Event) => Effect.Effect<void>) => Effect.Effect<ParallelSummary.RunSummaryJson, unknown, ParallelRunner.ParallelRunner>,
  options: MultiOptions
) =>
  Effect.gen(function*() {
    let outputDir: string | undefined
    const remember = (e: Event) => Effect.sync(() => {
      if (e._tag === "RunStarted") outputDir = e.outputDir
    })
    const interrupted = Effect.suspend(() =>
      outputDir === undefined
        ? Effect.void
        : Effect.sync(() =>
          process.stderr.write(
            `\nInterrupted: the running tasks were stopped and their sandboxes removed; partial results are in ${outputDir} ` +
              `(summary-report.md). Continue with: parallel-cc sandbox run --multi --resume ${outputDir}\n`
          )
        )
    )
    let summary: ParallelSummary.RunSummaryJson
    if (options.json) {
      summary = yield* start((e) => Effect.zipRight(remember(e), jsonLines(e))).pipe(Effect.onInterrupt(() => interrupted))
    } else if (options.terminal) {
      const view = liveView()
      summary = yield* Effect.scoped(Effect.gen(function*() {
        yield* Effect.forkScoped(Effect.repeat(view.tick, Schedule.spaced("250 millis")))
        return yield* start((e) => Effect.zipRight(remember(e), view.onEvent(e)))
      })).pipe(Effect.ensuring(view.tick), Effect.onInterrupt(() => interrupted))
    } else {
      const lines = plainLines()
      summary = yield* start((e) => Effect.zipRight(remember(e), lines.onEvent(e))).pipe(Effect.onInterrupt(() => interrupted))
    }
    if (!options.json) yield* Console.log(renderSummary(summary))
    const failed = summary.tasks.filter((t) => t.status !== "succeeded").length
    if (failed > 0) return yield* new ParallelRunFailed({ failed, total: summary.tasks.length, outputDir: summary.outputDir })
  })
