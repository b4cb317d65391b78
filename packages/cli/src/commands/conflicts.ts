import { Conflicts } from "@parallel-cc/core"
import { Clock, Effect, Option, Schema } from "effect"
import { defineCommand } from "../internal/Command.js"
import { withCore } from "../internal/Env.js"
import { age, print, printJson, table } from "../internal/Output.js"
import { resolveDir } from "../internal/Paths.js"

/** A conflict class, in any case (`trivial` is TRIVIAL). */
const ConflictTypeArg = Schema.transform(Schema.String, Conflicts.ConflictType, {
  strict: false,
  decode: (s) => s.toUpperCase(),
  encode: (s) => s
})

export const conflicts = defineCommand({
  name: "conflicts",
  description: "List recorded conflicts with their class and severity (open ones, or --resolved ones)",
  spec: {
    type: {
      kind: "text",
      optional: true,
      schema: ConflictTypeArg,
      expected: `one of ${Conflicts.ConflictType.literals.join(", ")}`,
      description: `Only this class: ${Conflicts.ConflictType.literals.join(", ")}`
    },
    resolved: { kind: "boolean", description: "Show resolved conflicts instead of open ones" },
    repo: { kind: "text", optional: true, description: "Only conflicts of the repository at this path" },
    json: { kind: "boolean", description: "Print one JSON document: {\"conflicts\": [...]}" }
  },
  handler: (opts) =>
    withCore(Effect.gen(function*() {
      const type = Option.getOrUndefined(opts.type)
      const repo = Option.isSome(opts.repo) ? yield* resolveDir(opts.repo.value) : undefined
      const service = yield* Conflicts.Conflicts
      const list = yield* service.history({ type, resolved: opts.resolved, repo })
      if (opts.json) return yield* printJson({ conflicts: list })
      if (list.length === 0) return yield* print(opts.resolved ? "No resolved conflicts." : "No open conflicts.")
      const now = yield* Clock.currentTimeMillis
      yield* print(table(
        ["ID", "TYPE", "SEVERITY", "FILE", "BRANCHES", "SEEN", opts.resolved ? "RESOLUTION" : "SUMMARY"],
        list.map((c) => [
          c.id,
          c.type,
          c.severity,
          c.path,
          `${c.ours.ref} ← ${c.theirs.ref}`,
          age(new Date(c.detectedAt), now),
          opts.resolved ? (c.resolution ?? "") : c.reasons[0] ?? c.summary
        ])
      ))
    }))
})
