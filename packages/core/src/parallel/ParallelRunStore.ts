/**
 * The `parallel_runs` and `parallel_tasks` tables: one row per invocation of a parallel run (who supervises
 * it, where its results go) and one per task (its status, session, attempts, cost). They are what lets a
 * second process see that a run over the same output directory is still going.
 *
 * @since 0.1.0
 */
import { SqlSchema } from "@effect/sql"
import { Effect, Option, Schema } from "effect"
import type { Database, DbFailure } from "../platform/Database.js"
import type { Processes } from "../platform/Processes.js"
import type { Plan, TaskState } from "./ParallelModel.js"
import type * as Summary from "./ParallelSummary.js"

const LiveRow = Schema.Struct({
  id: Schema.String,
  supervisor_pid: Schema.NullOr(Schema.Number),
  supervisor_start: Schema.NullOr(Schema.String)
})

export interface ParallelRunStore {
  /** The run and all its tasks, in one transaction. */
  readonly recordRun: (plan: Plan, states: ReadonlyArray<TaskState>, now: number) => Effect.Effect<void, DbFailure>
  /** A task's current state (best effort: a failure to record never stops the run). */
  readonly recordTask: (runId: string, s: TaskState) => Effect.Effect<void>
  /** The run's end (best effort). */
  readonly recordEnd: (runId: string, status: Summary.RunStatus, now: number) => Effect.Effect<void>
  /** A run still going over `outputDir` in another (running) process, described; None when there is none. */
  readonly liveRunIn: (outputDir: string) => Effect.Effect<Option.Option<string>, DbFailure>
}

export const make = (db: Database["Type"], processes: Processes["Type"]): ParallelRunStore => {
  const sql = db.sql
  const selfStart = Effect.map(processes.probe(process.pid), (p) => (p._tag === "Running" ? p.startTime : null))

  const recordRun = (plan: Plan, states: ReadonlyArray<TaskState>, now: number) =>
    db.immediate(Effect.gen(function*() {
      const start = yield* selfStart
      yield* sql`INSERT INTO parallel_runs ${
        sql.insert({
          id: plan.runId,
          repo_path: plan.repoPath,
          output_dir: plan.outputDir,
          status: "running",
          max_concurrent: plan.maxConcurrent,
          fail_fast: plan.failFast ? 1 : 0,
          retries: plan.retries,
          git_live: plan.gitLive !== undefined ? 1 : 0,
          resumed_from: plan.resumedFrom,
          supervisor_pid: process.pid,
          supervisor_start: start,
          tasks_total: states.length,
          created_at: now,
          ended_at: null
        })
      }`
      for (const [i, s] of states.entries()) {
        yield* sql`INSERT INTO parallel_tasks ${
          sql.insert({
            run_id: plan.runId,
            task_id: s.spec.id,
            position: i,
            prompt: s.spec.prompt,
            depends_on: JSON.stringify(s.spec.dependsOn),
            status: s.status,
            session_id: s.sessionId,
            attempts: s.attempts,
            cost_usd: s.saved?.costUsd ?? null,
            error: s.error,
            started_at: s.startedAt,
            ended_at: s.endedAt
          })
        }`
      }
    }))

  const recordTask = (runId: string, s: TaskState) =>
    db.orFail(sql`UPDATE parallel_tasks SET ${
      sql.update({
        status: s.status,
        session_id: s.sessionId,
        attempts: s.attempts,
        cost_usd: s.saved?.costUsd ?? null,
        error: s.error ?? s.reason,
        started_at: s.startedAt,
        ended_at: s.endedAt
      })
    } WHERE run_id = ${runId} AND task_id = ${s.spec.id}`).pipe(Effect.ignore)

  const recordEnd = (runId: string, status: Summary.RunStatus, now: number) =>
    db.orFail(sql`UPDATE parallel_runs SET status = ${status}, ended_at = ${now} WHERE id = ${runId}`).pipe(Effect.ignore)

  const runningIn = SqlSchema.findAll({
    Request: Schema.String,
    Result: LiveRow,
    execute: (outputDir) =>
      sql`SELECT id, supervisor_pid, supervisor_start FROM parallel_runs
          WHERE output_dir = ${outputDir} AND status = 'running' ORDER BY created_at DESC`
  })

  const liveRunIn = (outputDir: string) =>
    Effect.gen(function*() {
      const rows = yield* db.orFail(runningIn(outputDir).pipe(Effect.catchTag("ParseError", Effect.die)))
      for (const r of rows) {
        if (r.supervisor_pid === null) continue
        const p = yield* processes.probe(r.supervisor_pid)
        if (p._tag === "Running" && (r.supervisor_start === null || p.startTime === null || p.startTime === r.supervisor_start)) {
          return Option.some(`run ${r.id}, process ${r.supervisor_pid}`)
        }
      }
      return Option.none<string>()
    })

  return { recordRun, recordTask, recordEnd, liveRunIn }
}
