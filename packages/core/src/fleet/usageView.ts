/**
 * A session's usage as the fleet view shows it (`FleetDomain.SessionUsage`): tokens by model, priced at the
 * table. Plain TypeScript (no Effect), shared by the `Fleet` service and the `status --json` snapshot, so
 * both print the same bytes.
 *
 * @since 0.2.0
 */
import type { SessionUsage } from "./FleetDomain.js"
import { addTokens, costAt, noTokens, type PriceTable, priceOf, type Tokens } from "./prices.js"

/** Stored usage of one session in one quarter hour, model and price tier. */
export interface UsageRow {
  readonly bucket: number
  readonly model: string
  readonly long: boolean
  readonly tokens: Tokens
  readonly requests: number
}

/** A `session_usage` row as SQLite gives it (decoded by Schema in UsageStore, read plainly by the status snapshot). */
export interface UsageRowColumns {
  readonly bucket: number
  readonly model: string
  readonly long_context: number
  readonly input_tokens: number
  readonly output_tokens: number
  readonly cache_write_5m_tokens: number
  readonly cache_write_1h_tokens: number
  readonly cache_read_tokens: number
  readonly web_search_requests: number
  readonly requests: number
}

/** The stored row as usage. */
export const usageRowOf = (r: UsageRowColumns): UsageRow => ({
  bucket: r.bucket,
  model: r.model,
  long: r.long_context === 1,
  tokens: {
    input: r.input_tokens,
    output: r.output_tokens,
    cacheWrite5m: r.cache_write_5m_tokens,
    cacheWrite1h: r.cache_write_1h_tokens,
    cacheRead: r.cache_read_tokens,
    webSearch: r.web_search_requests
  },
  requests: r.requests
})

/** What was read of a session's transcripts. */
export interface UsageState {
  readonly known: boolean
  readonly reason: string | null
  readonly turns: number
}

/** Round to a billionth of a dollar, so that sums print the same whatever their order. */
export const roundUsd = (usd: number): number => Math.round(usd * 1e9) / 1e9

/** The cost of rows at the price table; null when a model of theirs has no price. */
export const costOfRows = (rows: ReadonlyArray<UsageRow>, prices: PriceTable): number | null => {
  let usd = 0
  for (const r of rows) {
    const price = priceOf(r.model, prices)
    if (price === undefined) return null
    usd += costAt(r.tokens, price, r.long)
  }
  return roundUsd(usd)
}

/** The usage view of a session from its rows and state (rows in any order). */
export const usageView = (rows: ReadonlyArray<UsageRow>, state: UsageState, prices: PriceTable): SessionUsage => {
  if (!state.known) {
    return { known: false, reason: state.reason ?? "unknown", costUsd: null, tokens: null, requests: null, turns: null, models: [] }
  }
  const byModel = new Map<string, Array<UsageRow>>()
  for (const r of rows) byModel.set(r.model, [...(byModel.get(r.model) ?? []), r])
  const models = [...byModel.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([model, rs]) => ({
    model,
    requests: rs.reduce((n, r) => n + r.requests, 0),
    tokens: rs.reduce((t, r) => addTokens(t, r.tokens), noTokens),
    costUsd: costOfRows(rs, prices)
  }))
  const costs = models.map((m) => m.costUsd)
  return {
    known: true,
    reason: null,
    costUsd: costs.some((c) => c === null) ? null : roundUsd(costs.reduce<number>((a, c) => a + (c ?? 0), 0)),
    tokens: models.reduce((t, m) => addTokens(t, m.tokens), noTokens),
    requests: models.reduce((n, m) => n + m.requests, 0),
    turns: state.turns,
    models
  }
}
