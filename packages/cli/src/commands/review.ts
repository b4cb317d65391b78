/**
 * One session's finished work: `diff SESSION`, `open SESSION`, `discard SESSION`. SESSION is a session id,
 * a name (`--name`) or a branch.
 */
import { Args, Command, Options } from "@effect/cli"
import { Sessions } from "@parallel-cc/core"
import { Effect } from "effect"
import { Layers, withSessions } from "../internal/Env.js"
import { note, print, printJson } from "../internal/Output.js"
import { discardedLines, releasedLines } from "../internal/Render.js"

const sessionArg = Args.text({ name: "session" }).pipe(Args.withDescription("A session id, name or branch"))
const json = Options.boolean("json").pipe(Options.withDescription("Print one JSON document"))

/** Colour only on a terminal, and never with NO_COLOR. */
const colorOk = (env: Readonly<Record<string, string | undefined>>) =>
  process.stdout.isTTY === true && (env.NO_COLOR ?? "") === "" && env.TERM !== "dumb"

export const diffCommand = Command.make("diff", {
  session: sessionArg,
  stat: Options.boolean("stat").pipe(Options.withDescription("Only the changed files and how many lines each")),
  json: json.pipe(Options.withDescription("Print {session, base, files: [{path, status, added, deleted, from}]} instead of the patch"))
}, ({ json, session, stat }) =>
  withSessions(Effect.gen(function*() {
    const l = yield* Layers
    const sessions = yield* Sessions.Sessions
    const d = yield* sessions.diff(session, { stat, color: !json && colorOk(l.env), repo: l.cwd })
    if (json) {
      return yield* printJson({ sessionId: d.session.sessionId, name: d.session.name, branch: d.session.branch, base: d.base, files: d.files })
    }
    if (d.files.length === 0) return yield* note(`Session ${d.session.name ?? d.session.sessionId} changed nothing since ${d.base.slice(0, 12)}.`)
    yield* Effect.sync(() => process.stdout.write(d.text))
  }))).pipe(
    Command.withDescription(
      "Show everything a session changed since it started: commits, uncommitted edits and new (untracked) files"
    )
  )

export const openCommand = Command.make("open", { session: sessionArg }, ({ session }) =>
  withSessions(Effect.gen(function*() {
    const l = yield* Layers
    const sessions = yield* Sessions.Sessions
    const s = yield* sessions.open(session, { repo: l.cwd })
    yield* print(s.worktreePath)
  }))).pipe(Command.withDescription("Print the directory a session works (or worked) in, e.g. cd \"$(parallel-cc open NAME)\""))

export const discardCommand = Command.make("discard", {
  session: sessionArg,
  force: Options.boolean("force").pipe(Options.withDescription("Throw the work away (it is listed); without it, only a worktree holding no work is removed")),
  dryRun: Options.boolean("dry-run").pipe(Options.withDescription("List what would be thrown away; change nothing")),
  json: json.pipe(Options.withDescription("Print the result, with \"discarded\": {uncommitted, untracked, ignored, commits, nested}"))
}, ({ dryRun, force, json, session }) =>
  withSessions(Effect.gen(function*() {
    const l = yield* Layers
    const sessions = yield* Sessions.Sessions
    const r = yield* sessions.discard(session, { force, dryRun, repo: l.cwd }).pipe(
      Effect.tapErrorTag("SessionConflict", (e) =>
        e.reason !== "WouldLoseWork" ? Effect.void : Effect.gen(function*() {
          // Say exactly what --force would throw away before refusing.
          const would = yield* sessions.discard(session, { force: true, dryRun: true, repo: l.cwd }).pipe(Effect.option)
          if (would._tag === "Some" && would.value.discarded !== null) {
            yield* note([`discard ${session} --force would throw away:`, ...discardedLines(would.value.discarded)].join("\n"))
          }
        }))
    )
    if (json) return yield* printJson({ dryRun, ...r })
    yield* print(releasedLines(r, { dryRun }).join("\n"))
    if (dryRun) yield* print("Dry run: nothing was changed.")
  }))).pipe(
    Command.withDescription(
      "Remove a finished session's worktree and branch; refused when that loses work unless --force, which lists what is thrown away"
    )
  )
