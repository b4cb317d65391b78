import { Conflicts } from "@parallel-cc/core"
import { Effect, Option, Schema } from "effect"
import { defineCommand } from "../internal/Command.js"
import { withCore } from "../internal/Env.js"
import { print, printJson, table } from "../internal/Output.js"
import { resolveDir } from "../internal/Paths.js"

export const suggestions = defineCommand({
  name: "suggestions",
  description: "List proposed conflict resolutions with their strategy and confidence (open ones, or --applied ones)",
  spec: {
    minConfidence: {
      kind: "text",
      optional: true,
      schema: Schema.NumberFromString.pipe(Schema.between(0, 1)),
      expected: "a number from 0 to 1",
      description: "Only suggestions with at least this confidence (0 to 1)"
    },
    applied: { kind: "boolean", description: "Show applied suggestions instead of open ones" },
    repo: { kind: "text", optional: true, description: "Only suggestions for the repository at this path" },
    json: { kind: "boolean", description: "Print one JSON document: {\"suggestions\": [...]} (with the resolved files and diffs)" }
  },
  handler: (opts) =>
    withCore(Effect.gen(function*() {
      const minConfidence = Option.getOrUndefined(opts.minConfidence)
      const repo = Option.isSome(opts.repo) ? yield* resolveDir(opts.repo.value) : undefined
      const service = yield* Conflicts.Conflicts
      const list = yield* service.suggestions({ minConfidence, applied: opts.applied, repo })
      if (opts.json) return yield* printJson({ suggestions: list })
      if (list.length === 0) return yield* print(opts.applied ? "No applied suggestions." : "No open suggestions.")
      yield* print(table(
        ["ID", "CONFLICT", "FILE", "STRATEGY", "CONFIDENCE", "PARSES", opts.applied ? "APPLIED IN" : "DESCRIPTION"],
        list.map((s) => [
          s.id,
          s.conflictId,
          s.path,
          s.strategy,
          s.confidence.toFixed(2),
          s.parses === null ? "-" : s.parses ? "yes" : "no",
          opts.applied ? (s.appliedWorktree ?? "") : s.description
        ])
      ))
    }))
})
