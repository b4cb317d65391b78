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
import { repoOption } from "./common.js"

const landEntry = z.object({
  entryId: z.string(),
  position: z.number().int().describe("Queue order (smaller first)"),
  repoPath: z.string(),
  target: z.string().describe("The branch it lands into"),
  kind: z.enum(["session", "branch", "run"]),
  name: z.string().describe("The candidate's branch, or `run <id>`"),
  sessionId: z.string().nullable(),
  branch: z.string().nullable(),
  head: z.string().nullable().describe("The candidate's commit when last integrated (or queued)"),
  strategy: z.enum(["merge", "squash", "rebase"]),
  testCommand: z.string().nullable().describe("The entry's own test command (null: the land run's)"),
  requestedBy: z.string(),
  status: z.enum(["queued", "integrating", "testing", "landing", "landed", "sent_back", "cancelled"]),
  landedCommit: z.string().nullable(),
  reason: z.enum(["conflict", "tests_failed", "test_timeout", "candidate_gone", "unrelated"]).nullable()
    .describe("Why it was sent back"),
  message: z.string().nullable().describe("What happened, in a sentence"),
  conflicts: z.array(z.object({ path: z.string(), kind: z.string(), class: z.string().nullable(), note: z.string() }))
    .describe("Files that conflicted with the target (sent back for a conflict)"),
  resolutions: z.array(z.object({ path: z.string(), strategy: z.string(), confidence: z.number(), class: z.string().nullable() }))
    .describe("Conflicts the queue resolved with the conflict engine's auto-applicable suggestions"),
  warnings: z.array(z.string()),
  logTail: z.string().nullable().describe("The last lines of the failing test's output"),
  logPath: z.string().nullable(),
  testMs: z.number().nullable(),
  createdAt: z.string(),
  endedAt: z.string().nullable()
})

const entryWire = (e: Landing.LandEntryJson): z.input<typeof landEntry> => ({
  entryId: e.entryId,
  position: e.position,
  repoPath: e.repoPath,
  target: e.target,
  kind: e.kind,
  name: e.name,
  sessionId: e.sessionId,
  branch: e.branch,
  head: e.head,
  strategy: e.strategy,
  testCommand: e.testCommand,
  requestedBy: e.requestedBy,
  status: e.status,
  landedCommit: e.landedCommit,
  reason: e.reason,
  message: e.message,
  conflicts: [...e.detail.conflicts],
  resolutions: e.detail.resolutions.map((r) => ({ path: r.path, strategy: r.strategy, confidence: r.confidence, class: r.class })),
  warnings: [...e.detail.warnings],
  logTail: e.detail.logTail,
  logPath: e.logPath,
  testMs: e.testMs,
  createdAt: new Date(e.createdAt).toISOString(),
  endedAt: e.endedAt === null ? null : new Date(e.endedAt).toISOString()
})

const encodeEntry = Schema.encodeSync(Landing.LandEntry)
const encode = (e: Landing.LandEntry) => entryWire(encodeEntry(e))

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
    strategy: z.enum(["merge", "squash", "rebase"]).optional().describe("Merge commit (default: land.strategy), one squashed commit, or your commits replayed"),
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
      return { entry: encode(entry), ahead }
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
    running: z.array(z.object({ runId: z.string(), repoPath: z.string(), target: z.string(), pid: z.number().int() }))
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
      return { entries: status.entries.map(entryWire), running: [...status.running] }
    }),
  summarize: (o) => {
    const last = o.entries[o.entries.length - 1]
    return last === undefined
      ? "no landing queue entries"
      : `${o.entries.length} entr${o.entries.length === 1 ? "y" : "ies"}; latest: ${last.name} ${last.status}${last.message !== null ? ` — ${last.message}` : ""}`
  }
})

export const tools: ReadonlyArray<Tool.AnyTool> = [requestLand, getLandStatus]
