/**
 * Task lists as given: prompts from flags, or a task file — one prompt per line, or a YAML/JSON document
 * with ids and `dependsOn` — read within the size limit and checked as a graph (`taskGraph`). Nothing
 * else happens; every problem is a {@link TaskListError} naming the file and line or task.
 *
 * @since 0.1.0
 */
import { Effect, Either, Option } from "effect"
import * as path from "node:path"
import * as NodeFs from "../platform/nodeFs.js"
import type { HostContext } from "../sandboxes/RunModel.js"
import { TaskListError, type TaskSource } from "./ParallelModel.js"
import * as Graph from "./taskGraph.js"

export const listError = (p: Graph.Problem, reason: TaskListError["reason"] = "Invalid") =>
  new TaskListError({ reason, where: p.where, detail: p.detail })

/** `Either` of a graph step as an Effect failing with a TaskListError. */
export const orFail = <A>(e: Either.Either<A, Graph.Problem>): Effect.Effect<A, TaskListError> =>
  Either.match(e, { onLeft: (p) => Effect.fail(listError(p)), onRight: Effect.succeed })

const parseDocument = (file: string, name: string, text: string) =>
  /\.json$/i.test(file)
    ? Effect.try({ try: () => JSON.parse(text) as unknown, catch: (e) => listError({ where: name, detail: `not valid JSON: ${e instanceof Error ? e.message : String(e)}` }) })
    : Effect.tryPromise({
      try: () => import("yaml").then((Y) => Y.parse(text, { maxAliasCount: 100 }) as unknown),
      catch: (e) => listError({ where: name, detail: `not valid YAML: ${(e instanceof Error ? e.message : String(e)).split("\n")[0]}` })
    })

/** Read and check a task list (flags or a file). */
export const load = (source: TaskSource, host: HostContext): Effect.Effect<ReadonlyArray<Graph.TaskSpec>, TaskListError> =>
  Effect.gen(function*() {
    if (source._tag === "Prompts") return yield* orFail(Graph.fromFlags(source.prompts)).pipe(Effect.flatMap((t) => orFail(Graph.checkGraph(t, "--task"))))
    const file = path.resolve(host.cwd, source.path)
    const name = source.path
    const unreadable = (detail: string) => new TaskListError({ reason: "Unreadable", where: name, detail })
    const st = yield* NodeFs.stat(file).pipe(
      Effect.mapError((e) => unreadable(e.detail)),
      Effect.flatMap(Option.match({ onNone: () => Effect.fail(unreadable("no such file")), onSome: Effect.succeed }))
    )
    if (!st.isFile()) return yield* unreadable("is not a regular file")
    const big = Graph.checkSize(st.size, name)
    if (big !== undefined) return yield* listError(big, "TooLarge")
    const bytes = yield* NodeFs.readBytes(file).pipe(Effect.mapError((e) => unreadable(e.detail)))
    // Checked again on what was read: the file may have grown in between.
    const bigNow = Graph.checkSize(bytes.length, name)
    if (bigNow !== undefined) return yield* listError(bigNow, "TooLarge")
    const text = new TextDecoder("utf-8", { fatal: false }).decode(bytes)
    const tasks = Graph.isDocumentFile(file)
      ? yield* parseDocument(file, name, text).pipe(Effect.flatMap((doc) => orFail(Graph.fromDocument(doc, name))))
      : yield* orFail(Graph.fromLines(text, name))
    return yield* orFail(Graph.checkGraph(tasks, name))
  })
