/**
 * What Claude models cost: a price table (US dollars per million tokens, by kind of token) with defaults for
 * the current Claude models, overridable per model in configuration (`cost.models`), and the cost of a
 * usage at it. A model that the table does not name has no price: its cost is unknown, never guessed.
 *
 * Plain TypeScript on purpose (no Effect): the `status --json` snapshot prices usage too.
 *
 * @since 0.2.0
 */

/** US dollars per million tokens of each kind (and per web search request). */
export interface ModelPrice {
  readonly input: number
  readonly output: number
  /** Writing the prompt cache with the default 5-minute lifetime. */
  readonly cacheWrite5m: number
  /** Writing the prompt cache with the 1-hour lifetime. */
  readonly cacheWrite1h: number
  readonly cacheRead: number
  /** US dollars per web search request (not per million). */
  readonly webSearch?: number | undefined
  /**
   * Prices of a request whose prompt (input + cache write + cache read tokens) is above `aboveTokens`
   * (the long-context rates of some models).
   */
  readonly longContext?: { readonly aboveTokens: number; readonly price: Omit<ModelPrice, "longContext"> } | undefined
}

export type PriceTable = { readonly [model: string]: ModelPrice }

const WEB_SEARCH = 0.01

const tier = (input: number, output: number): ModelPrice => ({
  input,
  output,
  cacheWrite5m: input * 1.25,
  cacheWrite1h: input * 2,
  cacheRead: input * 0.1,
  webSearch: WEB_SEARCH
})

const withLongContext = (base: ModelPrice, input: number, output: number): ModelPrice => ({
  ...base,
  longContext: { aboveTokens: 200_000, price: tier(input, output) }
})

/**
 * Anthropic's list prices (checked 2026-12; see docs/configuration.md, `cost.models`). Keys are model ids
 * without a date suffix; a dated id (`claude-sonnet-4-5-20250929`) and provider spellings
 * (`claude-sonnet-4-5@20250929`, `anthropic.claude-sonnet-4-5-20250929-v1:0`) find the same entry.
 */
export const DEFAULT_PRICES: PriceTable = {
  "claude-opus-4-6": tier(5, 25),
  "claude-opus-4-5": tier(5, 25),
  "claude-opus-4-1": tier(15, 75),
  "claude-opus-4-0": tier(15, 75),
  "claude-opus-4": tier(15, 75),
  "claude-sonnet-4-6": withLongContext(tier(3, 15), 6, 22.5),
  "claude-sonnet-4-5": withLongContext(tier(3, 15), 6, 22.5),
  "claude-sonnet-4-0": withLongContext(tier(3, 15), 6, 22.5),
  "claude-sonnet-4": withLongContext(tier(3, 15), 6, 22.5),
  "claude-3-7-sonnet": tier(3, 15),
  "claude-3-5-sonnet": tier(3, 15),
  "claude-haiku-4-5": tier(1, 5),
  "claude-3-5-haiku": tier(0.8, 4),
  "claude-3-opus": tier(15, 75),
  "claude-3-haiku": { input: 0.25, output: 1.25, cacheWrite5m: 0.3, cacheWrite1h: 0.5, cacheRead: 0.03, webSearch: WEB_SEARCH }
}

/**
 * The table key of a model id: lower case, without a provider prefix (`anthropic.`, `us.anthropic.`), a
 * version suffix (`-v1:0`), a date (`-20250929`, `@20250929`), `-latest` or a context tag (`[1m]`).
 */
export const modelKey = (model: string): string => {
  let m = model.trim().toLowerCase()
  m = m.replace(/\[[^\]]*\]$/, "")
  m = m.replace(/^(?:[a-z]{2}\.)?anthropic[./]/, "")
  m = m.replace(/-v\d+(?::\d+)?$/, "")
  m = m.replace(/[@-]\d{8}$/, "")
  m = m.replace(/-latest$/, "")
  return m
}

/** The price of a model: the configured table over the defaults, exact key match only. */
export const priceOf = (model: string, overrides: PriceTable = {}): ModelPrice | undefined => {
  const key = modelKey(model)
  for (const table of [overrides, DEFAULT_PRICES]) {
    for (const [k, v] of Object.entries(table)) if (modelKey(k) === key) return v
  }
  return undefined
}

/** Token counts of one kind of use (a request, or a sum of requests). */
export interface Tokens {
  readonly input: number
  readonly output: number
  readonly cacheWrite5m: number
  readonly cacheWrite1h: number
  readonly cacheRead: number
  readonly webSearch: number
}

export const noTokens: Tokens = { input: 0, output: 0, cacheWrite5m: 0, cacheWrite1h: 0, cacheRead: 0, webSearch: 0 }

export const addTokens = (a: Tokens, b: Tokens): Tokens => ({
  input: a.input + b.input,
  output: a.output + b.output,
  cacheWrite5m: a.cacheWrite5m + b.cacheWrite5m,
  cacheWrite1h: a.cacheWrite1h + b.cacheWrite1h,
  cacheRead: a.cacheRead + b.cacheRead,
  webSearch: a.webSearch + b.webSearch
})

export const isZero = (t: Tokens): boolean =>
  t.input === 0 && t.output === 0 && t.cacheWrite5m === 0 && t.cacheWrite1h === 0 && t.cacheRead === 0 && t.webSearch === 0

/** The prompt size of a request (what long-context pricing looks at). */
export const promptTokens = (t: Tokens): number => t.input + t.cacheWrite5m + t.cacheWrite1h + t.cacheRead

/** What tokens cost at a price (long-context rates when `long`). */
export const costAt = (t: Tokens, price: ModelPrice, long = false): number => {
  const p = long && price.longContext !== undefined ? price.longContext.price : price
  return (t.input * p.input + t.output * p.output + t.cacheWrite5m * p.cacheWrite5m + t.cacheWrite1h * p.cacheWrite1h +
    t.cacheRead * p.cacheRead) / 1_000_000 + t.webSearch * (p.webSearch ?? WEB_SEARCH)
}
