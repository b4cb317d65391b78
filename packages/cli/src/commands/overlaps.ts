/**
 * `overlaps` (live overlaps between sessions), `claim FILE` / `unclaim FILE` (file claims from the command
 * line), and `watch session ID` (a session's watcher, for sessions that have no wrapper).
 */
import { Args, Command, Options } from "@effect/cli"
import { ClaimsLedger, Domain, Errors, FleetMonitor, Git, Overlaps, OverlapStore, SessionStore, SessionWatcher } from "@parallel-cc/core"
import { Clock, Deferred, Effect, Exit, Fiber, Option, Schema } from "effect"
import * as path from "node:path"
import { Layers, withCore } from "../internal/Env.js"
import { overlapsText } from "../internal/OverlapsText.js"
import { print, printJson } from "../internal/Output.js"
import { resolveDir } from "../internal/Paths.js"

const encodeOverlaps = Schema.encodeSync(Schema.Array(OverlapStore.Overlap))
const encodeClaim = Schema.encodeSync(ClaimsLedger.Claim)
const encodeClaims = Schema.encodeSync(Schema.Array(ClaimsLedger.Claim))

const json = Options.boolean("json").pipe(Options.withDescription("Print one JSON document"))
const sessionOpt = Options.text("session").pipe(
  Options.optional,
  Options.withDescription("The session (default: PARALLEL_CC_SESSION_ID, else the session working in the current directory)")
)

const decodeSessionId = (raw: string, field: string) =>
  Schema.decodeUnknown(Domain.SessionId)(raw).pipe(
    Effect.mapError(() => new Errors.InvalidInput({ field, detail: `${JSON.stringify(raw)} is not a session id` }))
  )

const within = (dir: string, root: string) => dir === root || dir.startsWith(root.endsWith("/") ? root : `${root}/`)

/** The session a command acts for: --session, else PARALLEL_CC_SESSION_ID, else the one working in the cwd. */
const callerSession = (opt: Option.Option<string>) =>
  Effect.gen(function*() {
    const store = yield* SessionStore.SessionStore
    const { cwd, env } = yield* Layers
    if (Option.isSome(opt)) return yield* store.get(yield* decodeSessionId(opt.value, "--session"))
    const fromEnv = env.PARALLEL_CC_SESSION_ID?.trim()
    if (fromEnv !== undefined && fromEnv !== "") return yield* store.get(yield* decodeSessionId(fromEnv, "PARALLEL_CC_SESSION_ID"))
    const here = (yield* store.list({ status: "active" }))
      .filter((s) => within(cwd, s.worktreePath))
      .sort((a, b) => b.worktreePath.length - a.worktreePath.length)[0]
    if (here === undefined) {
      return yield* new Errors.InvalidInput({
        field: "--session",
        detail: `no active session works in ${cwd}; pass --session ID (see \`parallel-cc status\`)`
      })
    }
    return here
  })

export const overlapsCommand = Command.make("overlaps", {
  repo: Options.text("repo").pipe(Options.optional, Options.withDescription("Only this repository (default: the one of the current directory, else all)")),
  session: Options.text("session").pipe(Options.optional, Options.withDescription("Only the overlaps of this session")),
  cached: Options.boolean("cached").pipe(Options.withDescription("Show the last scans (the sessions' watchers keep them current) instead of scanning now")),
  json
}, (opts) =>
  withCore(Effect.gen(function*() {
    const overlaps = yield* Overlaps.Overlaps
    const git = yield* Git.Git
    const { cwd } = yield* Layers
    const repoPath = Option.isSome(opts.repo)
      ? yield* resolveDir(opts.repo.value).pipe(Effect.flatMap(git.mainRoot))
      : Option.getOrUndefined(yield* git.mainRoot(cwd).pipe(Effect.option))
    const sessionId = Option.isSome(opts.session) ? yield* decodeSessionId(opts.session.value, "--session") : undefined
    const found = yield* overlaps.list({ repoPath: sessionId === undefined ? repoPath : undefined, sessionId, refresh: !opts.cached })
    if (opts.json) return yield* printJson({ overlaps: encodeOverlaps(found) })
    yield* print(overlapsText(found, yield* Clock.currentTimeMillis))
  }))).pipe(
  Command.withDescription(
    "Live overlaps: files that two live sessions of a repository both change (committed or not), the symbols both changed, and whether merging them would conflict"
  )
)

const fileArg = Args.text({ name: "file" }).pipe(Args.withDescription("The file (relative to the current directory, or absolute)"))

/** "90", "90m", "2h", "1d" → minutes. */
const ttlMinutes = (raw: string) => {
  const m = /^(\d+)\s*(m|min|h|d)?$/.exec(raw.trim())
  const n = m === null ? Number.NaN : Number(m[1]) * (m[2] === "h" ? 60 : m[2] === "d" ? 1440 : 1)
  return Number.isInteger(n) && n >= 1 && n <= ClaimsLedger.maxTtlMinutes
    ? Effect.succeed(n)
    : Effect.fail(new Errors.InvalidInput({ field: "--ttl", detail: `${JSON.stringify(raw)}: give minutes (90, 90m), hours (2h) or days (1d), at most 7 days` }))
}

export const claimCommand = Command.make("claim", {
  file: fileArg,
  mode: Options.choice("mode", ["EXCLUSIVE", "SHARED", "INTENT"]).pipe(
    Options.withDefault("EXCLUSIVE" as const),
    Options.withDescription("EXCLUSIVE: nobody else may write it (other Claude Code sessions are refused); SHARED; INTENT: only informs")
  ),
  session: sessionOpt,
  ttl: Options.text("ttl").pipe(Options.optional, Options.withDescription("Lifetime: 90 (minutes), 2h, 1d (default: claims.ttlMinutes)")),
  reason: Options.text("reason").pipe(Options.optional, Options.withDescription("A note the other sessions see")),
  json
}, (opts) =>
  withCore(Effect.gen(function*() {
    const ledger = yield* ClaimsLedger.ClaimsLedger
    const { cwd } = yield* Layers
    const s = yield* callerSession(opts.session)
    const r = yield* ledger.acquire({
      sessionId: s.sessionId,
      path: path.resolve(cwd, opts.file),
      mode: opts.mode,
      ttlMinutes: Option.isSome(opts.ttl) ? yield* ttlMinutes(opts.ttl.value) : undefined,
      reason: Option.getOrUndefined(opts.reason)
    })
    if (opts.json) return yield* printJson({ claim: encodeClaim(r.claim), change: r.change, others: encodeClaims(r.others) })
    const lines = [`${r.change}: ${r.claim.filePath} ${r.claim.mode} for session ${s.sessionId} until ${r.claim.expiresAt.toISOString()}`]
    for (const o of r.others) lines.push(`also claimed: ${o.mode} by session ${o.sessionId}${o.branch !== null ? ` (${o.branch})` : ""}`)
    yield* print(lines.join("\n"))
  }))).pipe(Command.withDescription("Claim a file for a session (EXCLUSIVE by default): other sessions' agents are refused writes to it"))

export const unclaimCommand = Command.make("unclaim", { file: fileArg, session: sessionOpt, json }, (opts) =>
  withCore(Effect.gen(function*() {
    const ledger = yield* ClaimsLedger.ClaimsLedger
    const { cwd } = yield* Layers
    const s = yield* callerSession(opts.session)
    const c = yield* ledger.release(s.sessionId, path.resolve(cwd, opts.file))
    if (opts.json) return yield* printJson({ claim: encodeClaim(c) })
    yield* print(`released: ${c.filePath} (${c.mode}) of session ${s.sessionId}`)
  }))).pipe(Command.withDescription("Release a session's claim on a file"))

export const watchSessionCommand = Command.make("session", {
  session: Args.text({ name: "session" }).pipe(Args.withDescription("The session id")),
  poll: Options.integer("poll").pipe(Options.withDefault(15), Options.withDescription("Scan at least every N seconds"))
}, (opts) =>
  withCore(Effect.gen(function*() {
    const id = yield* decodeSessionId(opts.session, "session")
    const s = yield* Effect.flatMap(SessionStore.SessionStore, (st) => st.get(id))
    if (s.status !== "active") return yield* new Errors.InvalidInput({ field: "session", detail: `session ${id} has ended` })
    // Beside its changed files and overlaps, the fleet monitor: notifications, usage, budgets.
    const monitor = yield* Effect.flatMap(FleetMonitor.FleetMonitor, (m) => m.watch(id)).pipe(Effect.fork)
    const firstScan = yield* Deferred.make<number>()
    const watcher = yield* Effect.flatMap(SessionWatcher.SessionWatcher, (w) =>
      w.watch(id, {
        pollMs: Math.max(1, opts.poll) * 1000,
        onScan: (r) => (r.first ? Deferred.unsafeDone(firstScan, Exit.succeed(r.files)) : undefined)
      })).pipe(Effect.fork)
    // One line once the session's work is known (scripts can wait for it); then quiet until the session ends.
    const files = yield* Effect.raceFirst(Deferred.await(firstScan).pipe(Effect.option), Fiber.await(watcher).pipe(Effect.as(Option.none<number>())))
    if (Option.isSome(files)) {
      yield* print(`watching session ${id}: ${files.value} changed file${files.value === 1 ? "" : "s"}; stops when the session ends`)
    }
    yield* Fiber.join(watcher)
    yield* Fiber.interrupt(monitor)
  }))).pipe(
  Command.withDescription(
    "Keep a session's changed files, overlaps, usage and budgets current, and notify of its state, until it ends (claude-parallel does this itself; for sessions without it)"
  )
)
