/**
 * Landing tools: an agent asks for its branch to be landed through the test-gated queue, and reads what
 * happened to it (landed, or sent back with the conflicted files or the failing test's output).
 *
 * @since 0.1.0
 */
import { Landing } from "@parallel-cc/core"
import { Effect, Option, Schema } from "effect"
import { z } from "zod"
import { Caller } from "../Caller.js"
import * as Tool from "../Tool.js"
import { describe, objectOf, zodOf } from "../internal/schemaZod.js"
import { repoOption } from "./common.js"

/** A queue entry as core defines it, with the fields an agent acts on documented. */
const landEntry = describe(objectOf(Landing.LandEntry), {
  position: "Queue order (smaller first)",
  target: "The branch it lands into",
  name: "The candidate's branch, or `run <id>`",
  head: "The candidate's commit when last integrated (or queued)",
  testCommand: "The entry's own test command (null: the land run's)",
  reason: "Why it was sent back",
  message: "What happened, in a sentence",
  detail: "conflicts: files that conflicted with the target, with their class; resolutions: conflicts resolved " +
    "with the conflict engine's auto-applicable suggestions; logTail: the end of the failing test's output",
  logPath: "The whole test log"
})

const entryWire = Schema.encodeSync(Landing.LandEntry)
const running = objectOf(Landing.LandStatus).shape.running

export const requestLand = Tool.define({
  name: "request_land",
  title: "Request landing",
  description: "Queue your session's branch (its commits; commit your work first) for the test-gated landing queue " +
    "of its target (default: the branch your worktree started from). A `parallel-cc land` run integrates it onto " +
    "the target in a private worktree, runs the tests, and moves the target only when they pass; otherwise your " +
    "branch is sent back untouched with the reason. Poll get_land_status for the outcome. A test command may be " +
    "given only if it is listed in the config key land.agentTests.",
  input: {
    test: z.string().min(1).max(2000).optional().describe("A test command listed in land.agentTests (default: the land run's)"),
    strategy: zodOf(Landing.Strategy).optional().describe("Merge commit (default: land.strategy), one squashed commit, or your commits replayed"),
    into: z.string().min(1).max(200).optional().describe("The target branch")
  },
  output: {
    entry: landEntry,
    ahead: z.number().int().describe("Entries waiting before yours")
  },
  idempotent: true,
  handler: (input) =>
    Effect.gen(function*() {
      const landing = yield* Landing.Landing
      const me = yield* Effect.flatMap(Caller, (c) => c.session)
      const entry = yield* landing.request({ sessionId: me.session.sessionId, test: input.test, strategy: input.strategy, into: input.into })
      const queue = yield* landing.status({ repo: entry.repoPath, target: entry.target, limit: 500 })
      const ahead = queue.entries.filter((e) => e.status === "queued" && e.position < entry.position).length
      return { entry: entryWire(entry), ahead }
    }),
  summarize: (o) => `${o.entry.name} is ${o.entry.status} for ${o.entry.target} (${o.ahead} waiting before it)`
})

export const getLandStatus = Tool.define({
  name: "get_land_status",
  title: "Landing status",
  description: "What the landing queue did with your branch: queued, landed (with the commit), or sent back — with " +
    "the conflicted files and their class, or the tail of the failing test's output — so you can fix it and ask " +
    "again. With all: true, every recent entry of the repository's queue. Also says whether a land run is in progress.",
  input: {
    entryId: z.string().min(1).max(64).optional().describe("One entry (from request_land)"),
    all: z.boolean().optional().describe("Every recent entry of the repository, not only yours"),
    repo: z.string().min(1).optional().describe("A path inside the repository (default: yours)"),
    limit: z.number().int().min(1).max(500).optional().describe("At most this many entries, most recent first (default 20)")
  },
  output: {
    entries: z.array(landEntry),
    running
  },
  readOnly: true,
  handler: (input) =>
    Effect.gen(function*() {
      const landing = yield* Landing.Landing
      const repo = yield* repoOption(input.repo)
      const me = input.all === true || input.entryId !== undefined
        ? Option.none()
        : Option.map(yield* Effect.flatMap(Caller, (c) => c.sessionOption), (m) => m.session.sessionId)
      const status = yield* landing.status({
        repo: Option.getOrUndefined(repo),
        entryId: input.entryId,
        sessionId: Option.getOrUndefined(me),
        limit: input.limit ?? 20
      })
      return { entries: [...status.entries], running: [...status.running] }
    }),
  summarize: (o) => {
    const last = o.entries[o.entries.length - 1]
    return last === undefined
      ? "no landing queue entries"
      : `${o.entries.length} entr${o.entries.length === 1 ? "y" : "ies"}; latest: ${last.name} ${last.status}${last.message !== null ? ` — ${last.message}` : ""}`
  }
})

export const tools: ReadonlyArray<Tool.AnyTool> = [requestLand, getLandStatus]
