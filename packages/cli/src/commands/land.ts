/**
 * `parallel-cc land`: the handler calls the core `Landing` service once and renders its events — a live
 * view of one line per candidate on a terminal, one plain line per step otherwise, JSON lines with
 * `--json-lines` — and the report at the end (one JSON document with `--json`). `--list` shows the queue,
 * `--cancel ID` takes a waiting entry out.
 */
import { Args, Command, Options } from "@effect/cli"
import { Landing } from "@parallel-cc/core"
import { Clock, Console, Effect, Option, Schedule, Schema } from "effect"
import { withCore } from "../internal/Env.js"
import { note, print, printJson, table, UsageError } from "../internal/Output.js"
import { resolveDir } from "../internal/Paths.js"

/** Some candidates were not landed; the report has been printed. Exit code 1. */
export class LandIncomplete extends Schema.TaggedError<LandIncomplete>()("LandIncomplete", {
  sentBack: Schema.Number,
  waiting: Schema.Number,
  total: Schema.Number
}) {
  override get message(): string {
    const parts = [
      this.sentBack > 0 ? `${this.sentBack} of ${this.total} candidate${this.total === 1 ? "" : "s"} ${this.sentBack === 1 ? "was" : "were"} sent back` : "",
      this.waiting > 0 ? `${this.waiting} still waiting` : ""
    ].filter((p) => p !== "")
    return `${parts.join(", ")}; see the report above (\`parallel-cc land --list\` shows the queue)`
  }
}

type Event = Landing.LandEvent
type Entry = Landing.LandEntryJson

const short = (sha: string | null | undefined) => (sha === null || sha === undefined ? "-" : sha.slice(0, 10))
const secs = (ms: number) => `${(ms / 1000).toFixed(1)}s`
const indent = (text: string, prefix = "      | ") => text.split("\n").map((l) => prefix + l).join("\n")

/**
 * The part of a failing test's output worth showing: from its first error-looking line (a TAP `not ok`
 * line included, as `node --test` prints), at most 20 lines.
 */
export const failureLines = (tail: string): string => {
  const all = tail.split("\n")
  const first = all.findIndex((l) => /^\s*not ok\b|error|fail|✗|×|assert/i.test(l))
  return all.slice(first >= 0 ? first : Math.max(0, all.length - 20)).slice(0, 20).join("\n")
}

/** The lines of one entry in the report. */
const entryLines = (e: Entry): Array<string> => {
  const who = e.kind === "run" ? "" : e.sessionId !== null ? `  [session ${e.sessionId}]` : ""
  const lines: Array<string> = []
  if (e.status === "landed") {
    const facts = [
      e.landedCommit !== null ? `landed ${short(e.landedCommit)}` : (e.message ?? "landed"),
      e.testMs !== null ? `test ${secs(e.testMs)}` : "",
      e.detail.batchSize !== null && e.detail.batchSize > 1 ? `(tested in a batch of ${e.detail.batchSize})` : ""
    ].filter((x) => x !== "")
    lines.push(`  ✓ ${e.name}  ${facts.join("  ")}${who}`)
  } else if (e.status === "sent_back") {
    lines.push(`  ✗ ${e.name}  sent back: ${e.message ?? e.reason}${who}`)
    for (const c of e.detail.conflicts) lines.push(`      conflict: ${c.path} (${c.kind}${c.class !== null ? `, ${c.class}` : ""}) — ${c.note}`)
    if (e.logPath !== null) lines.push(`      log: ${e.logPath}`)
    if (e.detail.logTail !== null) lines.push(indent(failureLines(e.detail.logTail)))
  } else lines.push(`  · ${e.name}  ${e.status}${who}`)
  for (const r of e.detail.resolutions) {
    lines.push(`      resolved ${r.path}: ${r.strategy} (confidence ${r.confidence.toFixed(2)}${r.class !== null ? `, ${r.class}` : ""})`)
  }
  for (const w of e.detail.warnings) lines.push(`      note: ${w}`)
  return lines
}

/** The report for people. */
export const renderReport = (r: Landing.LandReport): string => {
  if (r.dryRun) return renderPlan(r)
  const lines: Array<string> = []
  if (r.entries.length === 0) lines.push(`Nothing to land into ${r.target}.`)
  else {
    lines.push(
      `Landed ${r.landed} of ${r.entries.length} into ${r.target}` +
        (r.targetAfter !== r.targetBefore ? ` (${short(r.targetBefore)} → ${short(r.targetAfter)})` : " (unchanged)") +
        ` · ${r.tests.runs} test run${r.tests.runs === 1 ? "" : "s"}${r.tests.runs > 0 ? `, ${secs(r.tests.totalMs)}` : ""} · ${secs(r.durationMs)} in all`
    )
    for (const e of r.entries) lines.push(...entryLines(e))
  }
  for (const s of r.skipped) lines.push(`  - ${s.name}  skipped: ${s.reason}`)
  if (r.worktree !== null && r.worktree.moved) lines.push(`The work tree ${r.worktree.path} (${r.target}) was brought forward.`)
  lines.push(...keptWorktreeHints(r))
  if (r.testCommand === null && r.entries.length > 0) lines.push("No test command (pass --test or set land.test): candidates were landed untested.")
  return lines.join("\n")
}

/**
 * Landed sessions keep their worktrees. Merged ones are on the target now, so `cleanup` removes them; a
 * squashed or rebased one landed as new commits (unless it landed as it was), so its branch still holds
 * commits of its own.
 */
const keptWorktreeHints = (r: Landing.LandReport): Array<string> => {
  const landed = r.entries.filter((e) => e.status === "landed" && e.kind === "session" && e.worktreePath !== null)
  const merged = landed.filter((e) => e.strategy === "merge" || e.landedCommit === e.head)
  const copied = landed.filter((e) => !merged.includes(e))
  const lines: Array<string> = []
  if (merged.length > 0) {
    const one = merged.length === 1
    lines.push(
      `The landed session${one ? " keeps its worktree" : "s keep their worktrees"} (${one ? "its" : "their"} commits are on ${r.target} now): ` +
        `\`parallel-cc cleanup\` removes ${one ? "it" : "them"} once ${one ? "its agent has" : "their agents have"} ended, unless ${one ? "it holds" : "they hold"} uncommitted work.`
    )
  }
  for (const e of copied) {
    lines.push(
      `${e.name} landed as new commits (${e.strategy}), so its branch keeps commits of its own: ` +
        `\`parallel-cc discard ${e.sessionId ?? e.name} --force\` removes its worktree and branch.`
    )
  }
  return lines
}

const renderPlan = (r: Landing.LandReport): string => {
  const lines = [`Dry run: ${r.plan.length} candidate${r.plan.length === 1 ? "" : "s"} into ${r.target} at ${short(r.targetBefore)} (nothing moved, nothing queued)`]
  for (const p of r.plan) {
    const what = p.outcome === "lands"
      ? "would land"
      : p.outcome === "empty"
      ? `nothing to land (${r.target} has it already)`
      : "would be sent back: conflicts"
    lines.push(`  ${p.position}. ${p.name}  ${what}${p.queued ? "  (already queued)" : ""}`)
    for (const c of p.conflicts) lines.push(`      conflict: ${c.path} (${c.kind}${c.class !== null ? `, ${c.class}` : ""}) — ${c.note}`)
    for (const x of p.resolutions) lines.push(`      would resolve ${x.path}: ${x.strategy} (confidence ${x.confidence.toFixed(2)})`)
    for (const w of p.warnings) lines.push(`      note: ${w}`)
  }
  for (const s of r.skipped) lines.push(`  - ${s.name}  skipped: ${s.reason}`)
  lines.push(r.testCommand !== null ? `Test: ${r.testCommand} (not run in a dry run)` : "No test command (pass --test or set land.test).")
  return lines.join("\n")
}

/** What a progress view knows about each candidate. */
class Board {
  readonly rows = new Map<string, { name: string; state: string; done: boolean }>()
  target = ""
  apply(e: Event): string | null {
    const set = (id: string, state: string, done = false) => {
      const r = this.rows.get(id)
      if (r !== undefined) Object.assign(r, { state, done })
      return r?.name ?? id
    }
    switch (e._tag) {
      case "Queued":
        this.target = e.target
        for (const x of e.entries) this.rows.set(x.entryId, { name: x.name, state: "queued", done: false })
        return `queue for ${e.target}: ${e.entries.map((x) => x.name).join(", ") || "empty"}`
      case "Skipped":
        return `${e.name} skipped: ${e.reason}`
      case "Waiting":
        return `waiting for another land run on ${e.target} (pid ${e.holderPid})`
      case "Recovered":
        set(e.entryId, e.outcome === "landed" ? "landed (interrupted run)" : "queued again", e.outcome === "landed")
        return `${e.name}: ${e.outcome === "landed" ? "had landed before an earlier run was interrupted" : "queued again after an interrupted run"}`
      case "Integrated":
        set(e.entryId, `integrated ${short(e.commit)}`)
        return `${e.name} integrated as ${short(e.commit)}${e.resolutions.length > 0 ? ` (${e.resolutions.length} conflict${e.resolutions.length === 1 ? "" : "s"} auto-resolved)` : ""}`
      case "TestStarted":
        for (const id of e.entryIds) set(id, `testing (${e.entryIds.length} together)`)
        return `testing ${e.entryIds.map((id) => this.rows.get(id)?.name ?? id).join(" + ")}: ${e.command}`
      case "TestFinished":
        for (const id of e.entryIds) set(id, e.passed ? "passed" : "failed")
        return `test ${e.passed ? "passed" : e.timedOut ? "timed out" : `failed (exit ${e.exitCode})`} in ${secs(e.durationMs)}; log ${e.logPath}`
      case "Landed":
        for (const id of e.entryIds) set(id, `landed`, true)
        return `${e.target}: ${short(e.from)} → ${short(e.to)}${e.worktree !== null ? ` (work tree ${e.worktree} brought forward)` : ""}`
      case "SentBack":
        set(e.entryId, `sent back: ${e.reason}`, true)
        return `${e.name} sent back: ${e.message}`
      case "TargetMoved":
        return `${e.target} moved (expected ${short(e.expected)}, found ${short(e.found)}); integrating again`
      case "Warning":
        return `warning: ${e.message}`
      case "Finished":
        return null
    }
  }
}

const spinner = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"]

/** On a terminal: one line per candidate, redrawn in place on stderr. */
const liveView = () => {
  const board = new Board()
  const out = process.stderr
  let drawn = 0
  let frame = 0
  const draw = Effect.sync(() => {
    if (board.rows.size === 0) return
    frame++
    const width = Math.max(40, (out.columns || 100) - 1)
    const lines = [`Landing into ${board.target}:`, ...[...board.rows.values()].map((r) => {
      const mark = r.done ? (r.state.startsWith("landed") ? "✓" : "✗") : r.state === "queued" ? "·" : spinner[frame % spinner.length]!
      const l = `  ${mark} ${r.name}  ${r.state}`
      return l.length > width ? `${l.slice(0, width - 1)}…` : l
    })]
    let s = drawn > 0 ? `\x1b[${drawn}A` : ""
    for (const l of lines) s += `\r\x1b[2K${l}\n`
    out.write(s)
    drawn = lines.length
  })
  const onEvent = (e: Event) =>
    Effect.gen(function*() {
      const line = board.apply(e)
      if (line !== null && (e._tag === "Warning" || e._tag === "Waiting" || e._tag === "Skipped" || e._tag === "TargetMoved")) {
        yield* Effect.sync(() => {
          let s = drawn > 0 ? `\x1b[${drawn}A` : ""
          for (let i = 0; i < drawn; i++) s += "\r\x1b[2K\n"
          if (drawn > 0) s += `\x1b[${drawn}A`
          out.write(`${s}${line}\n`)
          drawn = 0
        })
      }
      yield* draw
    })
  return { onEvent, tick: draw }
}

/** Off a terminal: one plain line per step on stderr, with the time. */
const plainLines = () => {
  const board = new Board()
  return (e: Event) =>
    Effect.gen(function*() {
      const line = board.apply(e)
      if (line === null) return
      const t = new Date(yield* Clock.currentTimeMillis).toISOString().slice(11, 19)
      yield* note(`${t} ${line}`)
    })
}

/** `--json-lines`: one JSON object per event on stdout, `event` naming it; the last one carries the report. */
const encodeEvent = Schema.encodeSync(Landing.LandEvent)
const jsonLine = (e: Event) =>
  Effect.sync(() => {
    const { _tag, ...rest } = encodeEvent(e) as { _tag: string }
    process.stdout.write(JSON.stringify({ event: _tag, ...rest }) + "\n")
  })

const listQueue = (status: Landing.LandStatus, json: boolean) => {
  if (json) return printJson(status)
  const lines: Array<string> = []
  for (const r of status.running) lines.push(`A land run is in progress on ${r.target} in ${r.repoPath} (pid ${r.pid}).`)
  if (status.entries.length === 0) lines.push("The landing queue is empty.")
  else {
    lines.push(table(
      ["ENTRY", "STATUS", "CANDIDATE", "TARGET", "STRATEGY", "BY", "RESULT"],
      status.entries.map((e) => [
        e.entryId,
        e.status,
        e.name,
        e.target,
        e.strategy,
        e.requestedBy,
        e.status === "landed" ? `landed ${short(e.landedCommit)}` : e.message ?? ""
      ])
    ))
  }
  return print(lines.join("\n"))
}

const run = (o: {
  readonly candidates: ReadonlyArray<string>
  readonly all: boolean
  readonly into: Option.Option<string>
  readonly test: Option.Option<string>
  readonly strategy: Option.Option<"merge" | "squash" | "rebase">
  readonly dryRun: boolean
  readonly json: boolean
  readonly jsonLines: boolean
  readonly repo: Option.Option<string>
  readonly list: boolean
  readonly cancel: Option.Option<string>
}) =>
  withCore(Effect.gen(function*() {
    if (o.json && o.jsonLines) return yield* new UsageError({ message: "--json and --json-lines exclude each other" })
    const landing = yield* Landing.Landing
    const repo = yield* resolveDir(Option.getOrElse(o.repo, () => "."))
    if (Option.isSome(o.cancel)) {
      const e = yield* landing.cancel(o.cancel.value)
      return yield* o.json ? printJson({ entry: Schema.encodeSync(Landing.LandEntry)(e) }) : print(`Cancelled ${e.entryId} (${e.name} → ${e.target}).`)
    }
    if (o.list) return yield* listQueue(yield* landing.status({ repo, target: Option.getOrUndefined(o.into) }), o.json)
    const req: Landing.RunRequest = {
      repo,
      candidates: o.candidates,
      all: o.all,
      into: Option.getOrUndefined(o.into),
      test: Option.getOrUndefined(o.test),
      strategy: Option.getOrUndefined(o.strategy),
      dryRun: o.dryRun
    }
    let report: Landing.LandReport
    if (o.jsonLines) report = yield* landing.run(req, jsonLine)
    else if (o.json) report = yield* landing.run(req)
    else if (process.stderr.isTTY === true) {
      const view = liveView()
      report = yield* Effect.scoped(Effect.gen(function*() {
        yield* Effect.forkScoped(Effect.repeat(view.tick, Schedule.spaced("250 millis")))
        return yield* landing.run(req, view.onEvent)
      })).pipe(Effect.ensuring(view.tick))
    } else report = yield* landing.run(req, plainLines())
    if (o.json) yield* printJson(report)
    else if (!o.jsonLines) yield* Console.log(renderReport(report))
    if (report.sentBack > 0 || report.waiting > 0) {
      return yield* new LandIncomplete({ sentBack: report.sentBack, waiting: report.waiting, total: report.entries.length })
    }
  }))

export const landCommand = Command.make("land", {
  candidates: Args.text({ name: "SESSION|BRANCH|RUN" }).pipe(
    Args.repeated,
    Args.withDescription("Sessions (id, worktree name or branch), branches or sandboxed runs (id) to land, in this order")
  ),
  all: Options.boolean("all").pipe(Options.withDescription("Also queue every finished session and succeeded sandboxed run with work the target lacks")),
  into: Options.text("into").pipe(Options.optional, Options.withDescription("Target branch (default: the branch checked out in the repository)")),
  test: Options.text("test").pipe(
    Options.optional,
    Options.withDescription("Test command run on each integrated batch, as words without a shell (default: config land.test)")
  ),
  strategy: Options.choice("strategy", ["merge", "squash", "rebase"]).pipe(
    Options.optional,
    Options.withDescription("merge commit, one squashed commit, or the commits replayed (default: config land.strategy, merge)")
  ),
  dryRun: Options.boolean("dry-run").pipe(Options.withDescription("Show what would land, in which order, and what would conflict; change nothing")),
  json: Options.boolean("json").pipe(Options.withDescription("Print the report as one JSON document")),
  jsonLines: Options.boolean("json-lines").pipe(Options.withDescription("Print progress as JSON lines on stdout, the last one with the report")),
  repo: Options.text("repo").pipe(Options.optional, Options.withDescription("The repository (default: the current directory)")),
  list: Options.boolean("list").pipe(Options.withDescription("Show the landing queue and recent results; change nothing")),
  cancel: Options.text("cancel").pipe(Options.optional, Options.withDescription("Take a waiting entry (its ENTRY id) out of the queue"))
}, run).pipe(
  Command.withDescription(
    "Test-gated merge queue: integrate session branches and sandboxed results onto a branch in a private worktree, " +
      "test them (in batches, bisecting failures), and move the branch only when the tests pass; the rest are sent back with why"
  )
)
