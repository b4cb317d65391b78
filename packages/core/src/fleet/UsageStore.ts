/**
 * The stored usage of interactive sessions (migration 14): tokens per session, quarter hour, model and price
 * tier, and per session what its transcripts were and whether they could be read. Rows outlive their session
 * (budgets count ended sessions); they only ever grow: a write keeps the larger of the stored and the new
 * count of every field, so a process that read less (a transcript since removed) never lowers a total.
 *
 * @since 0.2.0
 */
import { Clock, Context, Effect, Layer, Schema } from "effect"
import { Database, type DbFailure, decodeRows } from "../platform/Database.js"
import type { UsageBucket } from "./transcriptUsage.js"
import { type UsageRow, usageRowOf, type UsageState } from "./usageView.js"

export type { UsageRow, UsageState } from "./usageView.js"

const UsageRowDb = Schema.Struct({
  session_id: Schema.String,
  bucket: Schema.Number,
  model: Schema.String,
  long_context: Schema.Number,
  input_tokens: Schema.Number,
  output_tokens: Schema.Number,
  cache_write_5m_tokens: Schema.Number,
  cache_write_1h_tokens: Schema.Number,
  cache_read_tokens: Schema.Number,
  web_search_requests: Schema.Number,
  requests: Schema.Number
})

const StateRowDb = Schema.Struct({
  session_id: Schema.String,
  known: Schema.Number,
  reason: Schema.NullOr(Schema.String),
  turns: Schema.Number,
  transcripts: Schema.String,
  files: Schema.String,
  updated_at: Schema.Number
})

/** A transcript file as it was when read. */
export interface FileMark {
  readonly path: string
  readonly size: number
  readonly mtimeMs: number
}

const FileMarks = Schema.parseJson(Schema.Array(Schema.Struct({ path: Schema.String, size: Schema.Number, mtimeMs: Schema.Number })))
const Paths = Schema.parseJson(Schema.Array(Schema.String))

/** Everything stored about one session's usage. */
export interface StoredUsage extends UsageState {
  readonly sessionId: string
  readonly rows: ReadonlyArray<UsageRow>
  /** The main transcripts the session had. */
  readonly transcripts: ReadonlyArray<string>
  /** The files read, as they were. */
  readonly files: ReadonlyArray<FileMark>
  readonly updatedAt: Date
}

export interface SaveInput extends UsageState {
  readonly buckets: ReadonlyArray<UsageBucket>
  readonly transcripts: ReadonlyArray<string>
  readonly files: ReadonlyArray<FileMark>
}

export class UsageStore extends Context.Tag("@parallel-cc/core/UsageStore")<UsageStore, {
  /** Record what a read of a session's transcripts found (counts only grow). */
  readonly save: (sessionId: string, input: SaveInput) => Effect.Effect<void, DbFailure>
  /** The stored usage of these sessions (all when undefined); sessions never read are absent. */
  readonly load: (sessionIds?: ReadonlyArray<string> | undefined) => Effect.Effect<ReadonlyArray<StoredUsage>, DbFailure>
  /** Usage from `sinceMs` on, per session (for budgets); with the sessions whose usage is unknown. */
  readonly since: (sinceMs: number) => Effect.Effect<{
    readonly rows: ReadonlyArray<UsageRow & { readonly sessionId: string }>
    readonly unknown: ReadonlyArray<string>
  }, DbFailure>
}>() {}

const toRow = (r: typeof UsageRowDb.Type): UsageRow & { readonly sessionId: string } => ({ sessionId: r.session_id, ...usageRowOf(r) })

export const make = Effect.gen(function*() {
  const db = yield* Database
  const sql = db.sql

  const save = (sessionId: string, input: SaveInput) =>
    db.immediate(Effect.gen(function*() {
      for (const b of input.buckets) {
        yield* sql`INSERT INTO session_usage (session_id, bucket, model, long_context, input_tokens, output_tokens,
            cache_write_5m_tokens, cache_write_1h_tokens, cache_read_tokens, web_search_requests, requests)
          VALUES (${sessionId}, ${b.bucket}, ${b.model}, ${b.long ? 1 : 0}, ${b.tokens.input}, ${b.tokens.output},
            ${b.tokens.cacheWrite5m}, ${b.tokens.cacheWrite1h}, ${b.tokens.cacheRead}, ${b.tokens.webSearch}, ${b.requests})
          ON CONFLICT (session_id, bucket, model, long_context) DO UPDATE SET
            input_tokens = max(input_tokens, excluded.input_tokens),
            output_tokens = max(output_tokens, excluded.output_tokens),
            cache_write_5m_tokens = max(cache_write_5m_tokens, excluded.cache_write_5m_tokens),
            cache_write_1h_tokens = max(cache_write_1h_tokens, excluded.cache_write_1h_tokens),
            cache_read_tokens = max(cache_read_tokens, excluded.cache_read_tokens),
            web_search_requests = max(web_search_requests, excluded.web_search_requests),
            requests = max(requests, excluded.requests)`
      }
      const now = yield* Clock.currentTimeMillis
      yield* sql`INSERT INTO session_usage_state (session_id, known, reason, turns, transcripts, files, updated_at)
        VALUES (${sessionId}, ${input.known ? 1 : 0}, ${input.reason}, ${input.turns}, ${JSON.stringify(input.transcripts)},
          ${JSON.stringify(input.files)}, ${now})
        ON CONFLICT (session_id) DO UPDATE SET known = excluded.known, reason = excluded.reason,
          turns = max(turns, excluded.turns), transcripts = excluded.transcripts, files = excluded.files,
          updated_at = excluded.updated_at`
    })).pipe(Effect.withSpan("UsageStore.save"))

  const load = (sessionIds?: ReadonlyArray<string> | undefined) =>
    Effect.gen(function*() {
      if (sessionIds !== undefined && sessionIds.length === 0) return []
      const states = yield* db.orFail(
        sessionIds === undefined
          ? sql`SELECT * FROM session_usage_state ORDER BY session_id`
          : sql`SELECT * FROM session_usage_state WHERE ${sql.in("session_id", sessionIds)} ORDER BY session_id`
      ).pipe(decodeRows(StateRowDb))
      if (states.length === 0) return []
      const rows = yield* db.orFail(
        sql`SELECT * FROM session_usage WHERE ${sql.in("session_id", states.map((s) => s.session_id))}
          ORDER BY session_id, bucket, model, long_context`
      ).pipe(decodeRows(UsageRowDb))
      return states.map((s): StoredUsage => ({
        sessionId: s.session_id,
        known: s.known === 1,
        reason: s.reason,
        turns: s.turns,
        rows: rows.filter((r) => r.session_id === s.session_id).map(toRow),
        transcripts: Schema.decodeUnknownOption(Paths)(s.transcripts).pipe((o) => (o._tag === "Some" ? o.value : [])),
        files: Schema.decodeUnknownOption(FileMarks)(s.files).pipe((o) => (o._tag === "Some" ? o.value : [])),
        updatedAt: new Date(s.updated_at)
      }))
    })

  const since = (sinceMs: number) =>
    Effect.gen(function*() {
      const rows = yield* db.orFail(sql`SELECT * FROM session_usage WHERE bucket >= ${sinceMs} ORDER BY session_id, bucket`).pipe(
        decodeRows(UsageRowDb)
      )
      const unknown = yield* db.orFail(
        sql<{ session_id: string }>`SELECT session_id FROM session_usage_state WHERE known = 0 AND updated_at >= ${sinceMs}`
      )
      return { rows: rows.map(toRow), unknown: unknown.map((u) => u.session_id) }
    })

  return UsageStore.of({ save, load, since })
})

/** UsageStore over the Database. */
export const layer = Layer.effect(UsageStore, make)
