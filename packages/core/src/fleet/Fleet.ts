/**
 * The fleet at a glance, per session and across sessions: each session's usage read from its Claude Code
 * transcripts (`transcriptUsage.ts`, stored in `UsageStore`, priced at `cost.models` over the built-in
 * table), and the fleet's spending against the daily, weekly and monthly budgets — sandboxed runs and
 * interactive sessions together.
 *
 * Who reads the transcripts: the watcher of a live session (`FleetMonitor`, in `claude-parallel` or
 * `parallel-cc watch session`) as they grow, and `status`, `budget status` and the dashboard when they ask;
 * each read continues where the same process stopped, and what it finds is stored (counts only grow), so a
 * session's usage outlives it.
 *
 * @since 0.2.0
 */
import { Clock, Context, Effect, Layer } from "effect"
import type { Session, SessionId } from "../Domain.js"
import { AppConfig } from "../platform/AppConfig.js"
import { Database, type DbFailure } from "../platform/Database.js"
import { SessionFiles } from "../sessions/SessionFiles.js"
import type { SessionView } from "../sessions/Sessions.js"
import type { FleetFields, SessionUsage } from "./FleetDomain.js"
import type { ModelPrice, PriceTable } from "./prices.js"
import { TranscriptReader } from "./transcriptUsage.js"
import { layer as UsageStoreLayer, UsageStore } from "./UsageStore.js"
import { costOfRows, roundUsd, type UsageRow, usageView } from "./usageView.js"

export type BudgetPeriod = "daily" | "weekly" | "monthly"

/** Spending of one budget period: sandboxed runs and interactive sessions. */
export interface BudgetPeriodStatus {
  readonly period: BudgetPeriod
  readonly since: Date
  /** The configured limit; null when the period has none. */
  readonly limitUsd: number | null
  readonly spentUsd: number
  readonly remainingUsd: number | null
  /** Sandboxed runs created in the period. */
  readonly runs: number
  readonly runsUsd: number
  /** Interactive sessions that used tokens in the period. */
  readonly sessions: number
  readonly sessionsUsd: number
  /** Sessions whose cost in the period is not known (an unreadable transcript, a model without a price). */
  readonly unknownSessions: ReadonlyArray<string>
  /** Spending per interactive session in the period (those with a known cost). */
  readonly bySession: ReadonlyArray<{ readonly sessionId: string; readonly usd: number }>
}

/** When the current period started (local time; weeks start on Monday). */
export const periodStart = (period: BudgetPeriod, now: Date): Date => {
  const d = new Date(now.getFullYear(), now.getMonth(), now.getDate())
  if (period === "weekly") d.setDate(d.getDate() - ((d.getDay() + 6) % 7))
  if (period === "monthly") d.setDate(1)
  return d
}

export const budgetKey: Record<BudgetPeriod, "budget.dailyUsd" | "budget.weeklyUsd" | "budget.monthlyUsd"> = {
  daily: "budget.dailyUsd",
  weekly: "budget.weeklyUsd",
  monthly: "budget.monthlyUsd"
}

/** What sandboxed runs created since `sinceMs` cost (their total, else the agent's cost), and how many. */
export const runsSpentSince = (sinceMs: number) =>
  Effect.flatMap(Database, (db) =>
    db.orFail(db.sql<{ usd: number | null; runs: number }>`
      SELECT SUM(COALESCE(total_cost_usd, cost_usd, 0)) AS usd, COUNT(*) AS runs
      FROM sandbox_runs WHERE created_at >= ${sinceMs}`).pipe(
        Effect.map((rows) => ({ usd: rows[0]?.usd ?? 0, runs: rows[0]?.runs ?? 0 }))
      ))

/** A session's usage now, and the agent's last message (for the dashboard). */
export interface UsageReport {
  /** Null when the session never had a transcript (an agent other than Claude Code, or none yet). */
  readonly usage: SessionUsage | null
  readonly lastMessage: string | undefined
}

export class Fleet extends Context.Tag("@parallel-cc/core/Fleet")<Fleet, {
  /** The price table in force: `cost.models` over the built-in prices. */
  readonly prices: PriceTable
  /**
   * Read what is new in a session's transcripts (from its session directory, or the ones recorded before it
   * ended), store it, and give its usage.
   */
  readonly usage: (session: Session) => Effect.Effect<UsageReport, DbFailure>
  /**
   * The fleet fields of an active session in `status --json` (state, stateSince, usage), its transcripts
   * read first; plus the agent's last message.
   */
  readonly fields: (view: SessionView) => Effect.Effect<FleetFields & { readonly lastMessage: string | undefined }, DbFailure>
  /** The stored usage of sessions, without reading their transcripts. */
  readonly storedUsage: (sessionIds: ReadonlyArray<SessionId>) => Effect.Effect<ReadonlyMap<string, SessionUsage>, DbFailure>
  /** Spending against the daily, weekly and monthly budgets (or one of them). */
  readonly budget: (period?: BudgetPeriod | undefined) => Effect.Effect<ReadonlyArray<BudgetPeriodStatus>, DbFailure>
}>() {}

/** `cost.models` as a price table (cache prices derived from input where not given). */
export const pricesOf = (models: Readonly<Record<string, { readonly input: number; readonly output: number; readonly cacheWrite5m?: number | undefined; readonly cacheWrite1h?: number | undefined; readonly cacheRead?: number | undefined; readonly webSearch?: number | undefined }>>): PriceTable =>
  Object.fromEntries(Object.entries(models).map(([model, p]): [string, ModelPrice] => [model, {
    input: p.input,
    output: p.output,
    cacheWrite5m: p.cacheWrite5m ?? p.input * 1.25,
    cacheWrite1h: p.cacheWrite1h ?? p.input * 2,
    cacheRead: p.cacheRead ?? p.input * 0.1,
    webSearch: p.webSearch
  }]))

/**
 * Spending against the daily, weekly and monthly budgets: sandboxed runs and interactive sessions (priced
 * at `cost.models` over the built-in table). Shared by {@link Fleet} and the sandboxed runs' budget.
 */
export const makeBudget = (config: AppConfig["Type"], store: UsageStore["Type"], db: Database["Type"]) => {
  const prices = pricesOf(config.values["cost.models"])
  return (period?: BudgetPeriod | undefined): Effect.Effect<ReadonlyArray<BudgetPeriodStatus>, DbFailure> =>
    Effect.gen(function*() {
      const now = new Date(yield* Clock.currentTimeMillis)
      const periods: ReadonlyArray<BudgetPeriod> = period !== undefined ? [period] : ["daily", "weekly", "monthly"]
      return yield* Effect.forEach(periods, (p) =>
        Effect.gen(function*() {
          const since = periodStart(p, now)
          const runs = yield* runsSpentSince(since.getTime()).pipe(Effect.provideService(Database, db))
          const used = yield* store.since(since.getTime())
          const bySession = new Map<string, Array<UsageRow>>()
          for (const r of used.rows) bySession.set(r.sessionId, [...(bySession.get(r.sessionId) ?? []), r])
          const unknown = new Set(used.unknown)
          const costs: Array<{ sessionId: string; usd: number }> = []
          for (const [sessionId, rows] of bySession) {
            const usd = costOfRows(rows, prices)
            if (usd === null) unknown.add(sessionId)
            else costs.push({ sessionId, usd })
          }
          const sessionsUsd = roundUsd(costs.reduce((a, c) => a + c.usd, 0))
          const spent = roundUsd(runs.usd + sessionsUsd)
          const limit = config.values[budgetKey[p]]
          return {
            period: p,
            since,
            limitUsd: limit > 0 ? limit : null,
            spentUsd: spent,
            remainingUsd: limit > 0 ? Math.max(0, roundUsd(limit - spent)) : null,
            runs: runs.runs,
            runsUsd: roundUsd(runs.usd),
            sessions: bySession.size,
            sessionsUsd,
            unknownSessions: [...unknown].sort(),
            bySession: costs.sort((a, b) => b.usd - a.usd)
          } satisfies BudgetPeriodStatus
        }))
    })
}

export const make = Effect.gen(function*() {
  const config = yield* AppConfig
  const files = yield* SessionFiles
  const store = yield* UsageStore
  const db = yield* Database
  const prices = pricesOf(config.values["cost.models"])
  const readers = new Map<string, { reader: TranscriptReader; last: string }>()

  const viewOf = (sessionId: string) =>
    Effect.map(store.load([sessionId]), (stored) => {
      const s = stored[0]
      return s === undefined ? null : usageView(s.rows, s, prices)
    })

  const usage = (session: Session) =>
    Effect.gen(function*() {
      const id = session.sessionId
      const live = yield* files.transcripts(id)
      const stored = live.length === 0 ? (yield* store.load([id]))[0] : undefined
      const transcripts = live.length > 0 ? live : stored?.transcripts ?? []
      if (transcripts.length === 0) return { usage: stored === undefined ? null : usageView(stored.rows, stored, prices), lastMessage: undefined }
      let entry = readers.get(id)
      if (entry === undefined) {
        entry = { reader: new TranscriptReader(session.createdAt.getTime()), last: "" }
        readers.set(id, entry)
      }
      const read = entry.reader.read(transcripts)
      const mark = JSON.stringify([read.unknown, read.turns, read.files, read.buckets.length, read.buckets.at(-1)])
      if (mark !== entry.last) {
        yield* store.save(id, {
          known: read.unknown === undefined,
          reason: read.unknown ?? null,
          turns: read.turns,
          buckets: read.unknown === undefined ? read.buckets : [],
          transcripts,
          files: read.files
        })
        entry.last = mark
      }
      return { usage: yield* viewOf(id), lastMessage: read.lastMessage }
    }).pipe(Effect.withSpan("Fleet.usage"))

  const fields = (view: SessionView) =>
    Effect.map(usage(view.session), (u) => ({
      state: view.agent?.state ?? null,
      stateSince: view.agent?.since.toISOString() ?? null,
      usage: u.usage,
      lastMessage: u.lastMessage
    }))

  const storedUsage = (ids: ReadonlyArray<SessionId>) =>
    Effect.map(store.load(ids), (all) => new Map(all.map((s) => [s.sessionId, usageView(s.rows, s, prices)] as const)))

  const budget = makeBudget(config, store, db)

  return Fleet.of({ prices, usage, fields, storedUsage, budget })
})

/** Fleet (with its UsageStore) over the session directories, the store and the configuration. */
export const layer = Layer.effect(Fleet, make).pipe(Layer.provideMerge(UsageStoreLayer))
