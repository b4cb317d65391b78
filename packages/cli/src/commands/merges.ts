import { AppConfig, Errors, Git, MergeWatcher } from "@parallel-cc/core"
import { Clock, Console, Duration, Effect, Option, Schema, Stream } from "effect"
import { defineCommand } from "../internal/Command.js"
import { withCore } from "../internal/Env.js"
import { age, note, print, printJson, table } from "../internal/Output.js"
import { resolveDir } from "../internal/Paths.js"

const encodeEvent = Schema.encodeSync(MergeWatcher.MergeEvent)
const encodeEvents = Schema.encodeSync(Schema.Array(MergeWatcher.MergeEvent))
const encodeSubscriptions = Schema.encodeSync(Schema.Array(MergeWatcher.Subscription))

const short = (sha: string | null) => (sha === null ? "-" : sha.slice(0, 10))

const describe = (e: MergeWatcher.MergeEvent) =>
  `merged: ${e.branch} → ${e.targetBranch} (${e.method}${e.mergeCommit !== null ? ` at ${short(e.mergeCommit)}` : ""})` +
  ` in ${e.repoPath}${e.sessionId !== null ? ` [session ${e.sessionId}]` : ""}`

const between = (name: string, value: number, min: number, max: number) =>
  value >= min && value <= max
    ? Effect.succeed(value)
    : Effect.fail(new Errors.InvalidInput({ field: name, detail: `${value} is not between ${min} and ${max}` }))

export const watchMerges = defineCommand({
  name: "merges",
  description: "Poll the repositories that have sessions and record when a session branch reaches its target " +
    "(merge commit, fast-forward, rebase or squash); marks subscriptions notified. Ctrl-C stops it.",
  spec: {
    interval: { kind: "integer", optional: true, description: "Seconds between polls (default: merges.pollSeconds, 30)" },
    once: { kind: "boolean", description: "Poll once and exit" },
    json: { kind: "boolean", description: "Print one JSON line per newly recorded merge event" }
  },
  handler: (opts) =>
    withCore(Effect.gen(function*() {
      const watcher = yield* MergeWatcher.MergeWatcher
      const config = yield* AppConfig.AppConfig
      const seconds = yield* between(
        "--interval",
        Option.getOrElse(opts.interval, () => config.values["merges.pollSeconds"]),
        1,
        86_400
      )
      const show = (e: MergeWatcher.MergeEvent) =>
        opts.json ? Console.log(JSON.stringify(encodeEvent(e))) : print(describe(e))
      if (opts.once) {
        const report = yield* watcher.poll
        yield* Effect.forEach(report.events, show, { discard: true })
        if (!opts.json) {
          yield* print(
            `Checked ${report.checked} branch${report.checked === 1 ? "" : "es"} in ${report.repos} ` +
              `repositor${report.repos === 1 ? "y" : "ies"}: ${report.events.length} new merge${report.events.length === 1 ? "" : "s"}.`
          )
        }
        return
      }
      yield* note(`watching merges every ${seconds}s (Ctrl-C to stop)`)
      yield* Stream.runForEach(watcher.watch(Duration.seconds(seconds)), show)
    }))
})

export const mergeStatus = defineCommand({
  name: "status",
  description: "Show recorded merge events (newest first), or the merge subscriptions with --subscriptions",
  spec: {
    repo: { kind: "text", optional: true, description: "Only this repository" },
    branch: { kind: "text", optional: true, description: "Only this branch" },
    limit: { kind: "integer", optional: true, description: "At most N entries (default 20)" },
    subscriptions: { kind: "boolean", description: "Show subscriptions (pending first) instead of events" },
    json: { kind: "boolean", description: "Print one JSON document: {\"events\": [...]} or {\"subscriptions\": [...]}" }
  },
  handler: (opts) =>
    withCore(Effect.gen(function*() {
      const watcher = yield* MergeWatcher.MergeWatcher
      const git = yield* Git.Git
      const repoPath = Option.isSome(opts.repo) ? yield* resolveDir(opts.repo.value).pipe(Effect.flatMap(git.mainRoot)) : undefined
      const branch = Option.isSome(opts.branch) ? yield* git.checkBranchName(opts.branch.value) : undefined
      const limit = yield* between("--limit", Option.getOrElse(opts.limit, () => 20), 1, 10_000)
      const now = yield* Clock.currentTimeMillis
      if (opts.subscriptions) {
        const subs = yield* watcher.subscriptions({ repoPath, branch, limit })
        if (opts.json) return yield* printJson({ subscriptions: encodeSubscriptions(subs) })
        if (subs.length === 0) return yield* print("No merge subscriptions.")
        return yield* print(table(
          ["ID", "SESSION", "BRANCH", "TARGET", "STATUS", "SINCE", "REPOSITORY"],
          subs.map((s) => [
            String(s.subscriptionId),
            s.sessionId,
            s.branch,
            s.targetBranch,
            s.notifiedAt !== null ? `notified (event ${s.mergeEventId ?? "-"})` : "pending",
            `${age(s.createdAt, now)} ago`,
            s.repoPath
          ])
        ))
      }
      const events = yield* watcher.events({ repoPath, branch, limit })
      if (opts.json) return yield* printJson({ events: encodeEvents(events) })
      if (events.length === 0) return yield* print("No merges recorded. (Is `parallel-cc watch merges` running?)")
      yield* print(table(
        ["ID", "BRANCH", "TARGET", "METHOD", "COMMIT", "DETECTED", "SESSION", "REPOSITORY"],
        events.map((e) => [
          String(e.eventId),
          e.branch,
          e.targetBranch,
          e.method,
          short(e.mergeCommit),
          `${age(e.detectedAt, now)} ago`,
          e.sessionId ?? "-",
          e.repoPath
        ])
      ))
    }))
})
