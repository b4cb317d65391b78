/**
 * parallel-cc from Effect: the services and their layer, typed errors in the error channel, and a session
 * that is released however the program ends (success, failure or Ctrl-C), as a scoped resource.
 *
 *   npx tsx examples/effect-program.ts REPO OURS THEIRS
 *
 * `Live.layerWith({ env: process.env })` honours PARALLEL_CC_* like the CLI; pass `dataDir` or `config`
 * to configure it in code instead.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Conflicts, Live, Sessions } from "@parallel-cc/core"
import { Console, Effect } from "effect"

const program = (repo: string, ours: string, theirs: string) =>
  Effect.gen(function*() {
    const sessions = yield* Sessions.Sessions
    const conflicts = yield* Conflicts.Conflicts

    // Register a session and release it when the scope closes.
    const { session } = yield* Effect.acquireRelease(
      sessions.register({ repo, pid: process.pid }),
      (r) => Effect.ignore(sessions.release({ sessionId: r.session.sessionId }))
    )
    yield* Console.log(`session ${session.sessionId} works in ${session.worktreePath}`)

    // Would merging `theirs` into `ours` conflict? Then classify each conflicted file.
    const preview = yield* conflicts.preview({ repo, ours, theirs })
    if (preview.clean) return yield* Console.log(`${theirs} merges cleanly into ${ours}`)
    const report = yield* conflicts.detect({ repo, ours, theirs, sessionId: session.sessionId })
    for (const c of report.conflicts) {
      yield* Console.log(`${c.path}: ${c.type} (${c.severity}) — ${c.summary}`)
    }
  }).pipe(
    Effect.scoped,
    // Typed errors are values: handle the ones you expect by tag.
    Effect.catchTag("ConflictError", (e) => Console.error(`cannot compare: ${e.message}`)),
    Effect.catchTag("GitError", (e) => Console.error(`git: ${e.message}`))
  )

const [repo = ".", ours = "main", theirs = "feature"] = process.argv.slice(2)

program(repo, ours, theirs).pipe(
  Effect.provide(Live.layerWith({ env: process.env })),
  NodeRuntime.runMain
)
