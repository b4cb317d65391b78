/**
 * The `sandbox_runs` table: one row per sandboxed run, keyed by the run's session id. It is what lets any
 * process find a run again — its provider and sandbox id, who supervises it (pid + start time), whether
 * its sandbox was killed or kept — and what the agent reported (status, turns, cost, duration).
 *
 * @since 0.1.0
 */
import { Clock, Context, Effect, Layer, Option, Schema } from "effect"
import { Database, type DbFailure } from "../platform/Database.js"
import { SessionId } from "../Domain.js"
import { fromRow, runColumns } from "./runRows.js"
import { IsolationKind, ProviderName } from "./SandboxProvider.js"

/**
 * Where a run is. `starting`/`running` are live; the rest are final. `lost`: its supervising process died
 * without finishing it (found later by `sandbox status`/`list`; `sandbox kill` collects and cleans it up).
 */
export const RunStatus = Schema.Literal(
  "starting",
  "running",
  "succeeded",
  "failed",
  "timed_out",
  "killed",
  "interrupted",
  "budget_exceeded",
  "lost"
)
export type RunStatus = typeof RunStatus.Type

export const liveStatuses: ReadonlyArray<RunStatus> = ["starting", "running"]
export const isLive = (s: RunStatus): boolean => liveStatuses.includes(s)

/** What happened to the sandbox itself: `killed` (removed) or `kept` on purpose with `--keep`. */
export const SandboxLifecycle = Schema.Literal("none", "running", "killed", "kept")
export type SandboxLifecycle = typeof SandboxLifecycle.Type

/** `review`: uncommitted changes in a new worktree; `auto`: a branch named from the prompt, committed; `named`: `--branch NAME`. */
export const BranchMode = Schema.Literal("review", "auto", "named")
export type BranchMode = typeof BranchMode.Type

/** One sandboxed run. */
export class SandboxRun extends Schema.Class<SandboxRun>("SandboxRun")({
  sessionId: SessionId,
  repoPath: Schema.String,
  provider: ProviderName,
  sandboxId: Schema.NullOr(Schema.String),
  isolation: Schema.NullOr(IsolationKind),
  agent: Schema.String,
  prompt: Schema.String,
  template: Schema.NullOr(Schema.String),
  managedTemplate: Schema.NullOr(Schema.String),
  branchMode: BranchMode,
  branch: Schema.NullOr(Schema.String),
  baseCommit: Schema.NullOr(Schema.String),
  worktreePath: Schema.NullOr(Schema.String),
  status: RunStatus,
  sandboxState: SandboxLifecycle,
  keep: Schema.Boolean,
  dryRun: Schema.Boolean,
  supervisorPid: Schema.NullOr(Schema.Int),
  supervisorStart: Schema.NullOr(Schema.String),
  agentPid: Schema.NullOr(Schema.Int),
  timeoutMs: Schema.Number,
  logPath: Schema.String,
  eventsPath: Schema.String,
  changesPath: Schema.NullOr(Schema.String),
  uploadFiles: Schema.NullOr(Schema.Int),
  uploadBytes: Schema.NullOr(Schema.Int),
  exitCode: Schema.NullOr(Schema.Int),
  resultSubtype: Schema.NullOr(Schema.String),
  isError: Schema.NullOr(Schema.Boolean),
  numTurns: Schema.NullOr(Schema.Int),
  costUsd: Schema.NullOr(Schema.Number),
  agentDurationMs: Schema.NullOr(Schema.Number),
  filesAdded: Schema.NullOr(Schema.Int),
  filesModified: Schema.NullOr(Schema.Int),
  filesDeleted: Schema.NullOr(Schema.Int),
  error: Schema.NullOr(Schema.String),
  createdAt: Schema.Date,
  startedAt: Schema.NullOr(Schema.Date),
  endedAt: Schema.NullOr(Schema.Date),
  killRequestedAt: Schema.NullOr(Schema.Date),
  /** The spending limit the run started with (its `--budget`, lowered to what the period budgets left). */
  budgetUsd: Schema.NullOr(Schema.Number),
  /** Seconds the sandbox existed during the run, and what they cost at the provider's configured rate. */
  providerSeconds: Schema.NullOr(Schema.Number),
  providerCostUsd: Schema.NullOr(Schema.Number),
  /** The agent's reported cost plus the sandbox time. */
  totalCostUsd: Schema.NullOr(Schema.Number),
  /** The pull request a `--git-live` run opened. */
  pullRequestUrl: Schema.NullOr(Schema.String)
}) {}

/** The JSON shape of a run (`sandbox status --json`, `sandbox list --json`). */
export const SandboxRunJson = Schema.encodedSchema(SandboxRun)
export type SandboxRunJson = typeof SandboxRunJson.Type

/** No sandbox run has this session id. */
export class SandboxRunNotFound extends Schema.TaggedError<SandboxRunNotFound>()("SandboxRunNotFound", {
  sessionId: Schema.String
}) {
  override get message(): string {
    return `no sandbox run with session id ${this.sessionId}; list runs with \`parallel-cc sandbox list\``
  }
}

/** Field → column; with `fromRow`, the row format (runRows.ts, shared with the Effect-free RunsSnapshot). */
const columns = runColumns satisfies { readonly [K in keyof SandboxRun]: string }

/** Every stored field of a run, writable. */
export type Fields = { -readonly [K in keyof typeof columns]: SandboxRun[K] }

/** Fields a new run starts with; the rest start as null/defaults. */
export type NewRun = Pick<
  Fields,
  | "sessionId"
  | "repoPath"
  | "provider"
  | "agent"
  | "prompt"
  | "template"
  | "managedTemplate"
  | "branchMode"
  | "branch"
  | "keep"
  | "dryRun"
  | "supervisorPid"
  | "supervisorStart"
  | "timeoutMs"
  | "logPath"
  | "eventsPath"
  | "budgetUsd"
>

/** Any subset of the mutable fields. */
export type RunPatch = Partial<Omit<Fields, "sessionId" | "createdAt">>

const toDb = (value: unknown): unknown => {
  if (value instanceof Date) return value.getTime()
  if (typeof value === "boolean") return value ? 1 : 0
  return value === undefined ? null : value
}

// The class constructor validates every field against the schema.
const decodeRun = (fields: unknown) => Effect.try(() => new SandboxRun(fields as ConstructorParameters<typeof SandboxRun>[0]))

export interface ListFilter {
  readonly repoPath?: string | undefined
  /** Only runs that are starting or running. */
  readonly liveOnly?: boolean | undefined
  /** Most recent first; default 50. */
  readonly limit?: number | undefined
}

export class SandboxRuns extends Context.Tag("@parallel-cc/core/SandboxRuns")<SandboxRuns, {
  readonly create: (run: NewRun) => Effect.Effect<SandboxRun, DbFailure>
  readonly get: (id: string) => Effect.Effect<SandboxRun, SandboxRunNotFound | DbFailure>
  readonly list: (filter?: ListFilter) => Effect.Effect<ReadonlyArray<SandboxRun>, DbFailure>
  /** Change fields; returns the updated run. */
  readonly update: (id: string, patch: RunPatch) => Effect.Effect<SandboxRun, SandboxRunNotFound | DbFailure>
  /** Ask the supervisor of a live run to stop it. Returns the run (unchanged when it is no longer live). */
  readonly requestKill: (id: string) => Effect.Effect<SandboxRun, SandboxRunNotFound | DbFailure>
  /**
   * Become the supervisor of a run whose recorded supervisor is `expectedPid` (compare-and-set, in one
   * immediate transaction). `false` when someone else already took it over.
   */
  /** What runs created since `sinceMs` cost (their total, else the agent's cost), and how many there were. */
  readonly spentSince: (sinceMs: number) => Effect.Effect<{ readonly usd: number; readonly runs: number }, DbFailure>
  readonly takeOver: (
    id: string,
    expected: { readonly pid: number | null; readonly start: string | null },
    next: { readonly pid: number; readonly start: string | null }
  ) => Effect.Effect<boolean, DbFailure>
}>() {}

export const make = Effect.gen(function*() {
  const db = yield* Database
  const sql = db.sql

  const decodeRows = (rows: ReadonlyArray<unknown>) =>
    Effect.forEach(rows, (r) => decodeRun(fromRow(r as Record<string, unknown>))).pipe(Effect.orDie)

  const byId = (id: string) =>
    db.orFail(sql`SELECT * FROM sandbox_runs WHERE session_id = ${id}`).pipe(
      Effect.flatMap(decodeRows),
      Effect.flatMap((rows) =>
        Option.match(Option.fromNullable(rows[0]), {
          onNone: () => Effect.fail(new SandboxRunNotFound({ sessionId: id })),
          onSome: Effect.succeed
        })
      )
    )

  const create = (run: NewRun) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const row: Record<string, unknown> = {}
      for (const col of Object.values(columns)) row[col] = null
      for (const [field, value] of Object.entries(run)) row[columns[field as keyof typeof columns]] = toDb(value)
      row.status = "starting"
      row.sandbox_state = "none"
      row.created_at = now
      yield* db.orFail(sql`INSERT INTO sandbox_runs ${sql.insert(row)}`)
      return yield* byId(run.sessionId)
    }).pipe(Effect.catchTag("SandboxRunNotFound", Effect.die), Effect.withSpan("SandboxRuns.create"))

  const update = (id: string, patch: RunPatch) =>
    Effect.gen(function*() {
      const entries = Object.entries(patch).filter(([, v]) => v !== undefined)
      if (entries.length > 0) {
        const set = Object.fromEntries(entries.map(([k, v]) => [columns[k as keyof typeof columns], toDb(v)]))
        yield* db.orFail(sql`UPDATE sandbox_runs SET ${sql.update(set)} WHERE session_id = ${id}`)
      }
      return yield* byId(id)
    })

  const list = (filter: ListFilter = {}) => {
    const conds = [
      filter.repoPath !== undefined ? sql`repo_path = ${filter.repoPath}` : undefined,
      filter.liveOnly === true ? sql`status IN ('starting', 'running')` : undefined
    ].filter((c) => c !== undefined)
    const limit = Math.max(1, Math.min(10_000, Math.trunc(filter.limit ?? 50)))
    return db.orFail(
      sql`SELECT * FROM sandbox_runs WHERE ${sql.and(conds)} ORDER BY created_at DESC, session_id LIMIT ${limit}`
    ).pipe(Effect.flatMap(decodeRows))
  }

  const requestKill = (id: string) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      yield* db.orFail(
        sql`UPDATE sandbox_runs SET kill_requested_at = ${now}
            WHERE session_id = ${id} AND status IN ('starting', 'running') AND kill_requested_at IS NULL`
      )
      return yield* byId(id)
    })

  const takeOver = (
    id: string,
    expected: { readonly pid: number | null; readonly start: string | null },
    next: { readonly pid: number; readonly start: string | null }
  ) =>
    db.immediate(Effect.gen(function*() {
      const rows = yield* sql<{ supervisor_pid: number | null; supervisor_start: string | null }>`
        SELECT supervisor_pid, supervisor_start FROM sandbox_runs WHERE session_id = ${id}`
      const cur = rows[0]
      if (cur === undefined || cur.supervisor_pid !== expected.pid || cur.supervisor_start !== expected.start) return false
      yield* sql`UPDATE sandbox_runs SET supervisor_pid = ${next.pid}, supervisor_start = ${next.start}
                 WHERE session_id = ${id}`
      return true
    }))

  const spentSince = (sinceMs: number) =>
    db.orFail(sql<{ usd: number | null; runs: number }>`
      SELECT SUM(COALESCE(total_cost_usd, cost_usd, 0)) AS usd, COUNT(*) AS runs
      FROM sandbox_runs WHERE created_at >= ${sinceMs}`).pipe(
      Effect.map((rows) => ({ usd: rows[0]?.usd ?? 0, runs: rows[0]?.runs ?? 0 }))
    )

  return SandboxRuns.of({ create, get: byId, list, update, requestKill, takeOver, spentSince })
})

/** SandboxRuns over the Database. */
export const layer = Layer.effect(SandboxRuns, make)
