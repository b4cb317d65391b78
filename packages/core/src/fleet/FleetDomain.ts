/**
 * The shapes of the fleet view: a session's agent state and its usage (tokens by kind and model, cost at the
 * price table, turns), as `status --json`, the MCP tools and the Promise facade give them.
 *
 * @since 0.2.0
 */
import { Schema } from "effect"
import { AgentState } from "../sessions/SessionFiles.js"

export { AgentState }

const Count = Schema.Number.pipe(Schema.int(), Schema.nonNegative())

/** Tokens by kind (and web search requests). */
export const UsageTokens = Schema.Struct({
  input: Count,
  output: Count,
  /** Prompt-cache writes with the 5-minute lifetime. */
  cacheWrite5m: Count,
  /** Prompt-cache writes with the 1-hour lifetime. */
  cacheWrite1h: Count,
  cacheRead: Count,
  webSearch: Count
})
export type UsageTokens = typeof UsageTokens.Type

/** One model's share of a session's usage. */
export const ModelUsage = Schema.Struct({
  model: Schema.String,
  requests: Count,
  tokens: UsageTokens,
  /** Null when the price table has no price for this model (`cost.models`). */
  costUsd: Schema.NullOr(Schema.Number)
})
export type ModelUsage = typeof ModelUsage.Type

/**
 * What an interactive session used, from its transcripts. When `known` is false (a transcript missing, cut
 * or in a format this version does not read) `reason` says why and the numbers are null: unknown, never
 * wrong.
 */
export const SessionUsage = Schema.Struct({
  known: Schema.Boolean,
  reason: Schema.NullOr(Schema.String),
  /** Null when unknown, or when a model used has no price. */
  costUsd: Schema.NullOr(Schema.Number),
  tokens: Schema.NullOr(UsageTokens),
  /** API requests (each counted once, however many transcript lines it took). */
  requests: Schema.NullOr(Count),
  /** Prompts sent to the agent. */
  turns: Schema.NullOr(Count),
  models: Schema.Array(ModelUsage)
})
export type SessionUsage = typeof SessionUsage.Type

/** The fleet fields of an active session in `status --json` (after `liveness`). */
export const FleetFields = Schema.Struct({
  /** `starting | working | needs-input | idle | exited`; null when unknown (no session directory). */
  state: Schema.NullOr(AgentState),
  /** When the agent entered `state` (ISO-8601); null when unknown. */
  stateSince: Schema.NullOr(Schema.String),
  /** Null for a session without a transcript (an agent other than Claude Code, or none recorded yet). */
  usage: Schema.NullOr(SessionUsage)
})
export type FleetFields = typeof FleetFields.Type
