/**
 * `parallel-cc suggestions` lists proposed resolutions of open conflicts, asking the engine for them when a
 * conflict has none yet; with `--conflict ID` it shows that conflict hunk by hunk — what each suggestion
 * chose, with what confidence, and for every hunk no suggestion can be trusted with, both sides' text and
 * the commits that changed it, to resolve by hand. `parallel-cc suggestions apply ID` writes one into a
 * worktree (refused when the file changed since the suggestion was made).
 */
import { Args, Command, Options } from "@effect/cli"
import { Conflicts } from "@parallel-cc/core"
import { Effect, Option, Schema } from "effect"
import { defineCommand } from "../internal/Command.js"
import { Layers, withCore } from "../internal/Env.js"
import { print, printJson, table } from "../internal/Output.js"
import { resolveDir } from "../internal/Paths.js"

/** Hunks whose best option is less likely than this to be right are shown for resolving by hand. */
const TRUST = 0.8

const quote = (text: string, max = 12) => {
  const lines = text.replace(/\n$/, "").split("\n")
  const shown = lines.slice(0, max).map((l) => `        | ${l}`)
  if (lines.length > max) shown.push(`        | … (${lines.length - max} more line(s))`)
  return text === "" ? ["        (nothing)"] : shown
}

/** The hunk-by-hunk view of a conflict and its suggestions. */
const detailLines = (c: Conflicts.Conflict, list: ReadonlyArray<Conflicts.Suggestion>): Array<string> => {
  const lines = [`${c.id}  ${c.path}  ${c.type} (${c.severity}) — ${c.theirs.ref} into ${c.ours.ref}`]
  for (const r of c.reasons) lines.push(`  ${r}`)
  const top = list.find((s) => s.complete) ?? list[0]
  if (top !== undefined) {
    lines.push("", `Top suggestion ${top.id}: ${top.strategy}, confidence ${top.confidence.toFixed(2)}` +
      `${top.autoApply ? ", autoApply (this kind was ≥ 95 % exact on real merges)" : ""}${top.parses === false ? ", DOES NOT PARSE" : ""}`)
    lines.push(`  ${top.description}`)
  }
  for (const h of c.hunks) {
    const choice = top?.hunks.find((x) => x.index === h.index)
    const best = h.options[0]
    const trusted = choice !== undefined && choice.strategy !== "unresolved" && choice.drops === null && choice.confidence >= TRUST
    lines.push("", `  hunk ${h.index + 1} (${h.kind}${h.symbols.length > 0 ? ` in ${h.symbols.slice(0, 4).join(", ")}` : ""}): ` +
      (choice === undefined || choice.strategy === "unresolved"
        ? "left for you"
        : `${choice.strategy}, confidence ${choice.confidence.toFixed(2)}${choice.drops !== null ? `, drops ${choice.drops === "ours" ? c.ours.ref : c.theirs.ref}'s change` : ""}`))
    if (trusted) continue
    lines.push(
      best !== undefined && best.drops === null && best.strategy !== "ours" && best.strategy !== "theirs"
        ? "    check this hunk: both changes are combined, but such combinations are often not what people keep"
        : "    RESOLVE THIS HUNK YOURSELF: the two sides changed the same lines in ways no merge combines reliably"
    )
    lines.push(`    ${c.ours.ref} (ours)${h.commits.ours.length > 0 ? `, changed by: ${h.commits.ours.map((s) => JSON.stringify(s)).join("; ")}` : ""}:`)
    lines.push(...quote(h.ours))
    lines.push(`    ${c.theirs.ref} (theirs)${h.commits.theirs.length > 0 ? `, changed by: ${h.commits.theirs.map((s) => JSON.stringify(s)).join("; ")}` : ""}:`)
    lines.push(...quote(h.theirs))
    lines.push("    base (before either):", ...quote(h.base))
  }
  if (list.length > 0) {
    lines.push("", table(
      ["ID", "STRATEGY", "CONFIDENCE", "AUTO", "COMPLETE", "PARSES"],
      list.map((s) => [s.id, s.strategy, s.confidence.toFixed(2), s.autoApply ? "yes" : "no", s.complete ? "yes" : "no (markers)", s.parses === null ? "-" : s.parses ? "yes" : "no"])
    ))
    lines.push("", "Apply one: parallel-cc suggestions apply <ID> [--worktree W] (the file must not have changed since).")
  }
  return lines
}

export const suggestions = defineCommand({
  name: "suggestions",
  description: "List proposed resolutions of open conflicts (asking for them when a conflict has none yet), or --applied ones; `suggestions apply ID` applies one",
  spec: {
    conflict: { kind: "text", optional: true, description: "Only this conflict: shown hunk by hunk, with what to resolve by hand" },
    worktree: { kind: "text", optional: true, description: "Make new suggestions against this worktree's files (default: the current directory, when it belongs to the repository)" },
    minConfidence: {
      kind: "text",
      optional: true,
      schema: Schema.NumberFromString.pipe(Schema.between(0, 1)),
      expected: "a number from 0 to 1",
      description: "Only suggestions with at least this confidence (0 to 1)"
    },
    applied: { kind: "boolean", description: "Show applied suggestions instead of open ones" },
    repo: { kind: "text", optional: true, description: "Only suggestions for the repository at this path" },
    json: { kind: "boolean", description: "Print one JSON document: {\"suggestions\": [...]} (with the resolved files, diffs and per-hunk choices; with --conflict also \"conflict\")" }
  },
  handler: (opts) =>
    withCore(Effect.gen(function*() {
      const minConfidence = Option.getOrUndefined(opts.minConfidence)
      const { cwd } = yield* Layers
      const repo = Option.isSome(opts.repo) ? yield* resolveDir(opts.repo.value) : undefined
      const explicitWorktree = Option.isSome(opts.worktree) ? yield* resolveDir(opts.worktree.value) : undefined
      const service = yield* Conflicts.Conflicts
      const conflictId = Option.getOrUndefined(opts.conflict)
      /** Suggestions for a conflict that has none open yet: against its worktree, the given one, or the current directory. */
      const ensure = (c: Conflicts.Conflict) =>
        Effect.gen(function*() {
          const existing = yield* service.suggestions({ conflictId: c.id, applied: false })
          if (existing.length > 0 && explicitWorktree === undefined) return
          const worktree = explicitWorktree ?? c.worktree ?? cwd
          yield* service.suggest({ conflictId: c.id, worktree }).pipe(
            Effect.catchIf((e) => e._tag === "ConflictError" && (e.reason === "NotSameRepo" || e.reason === "UnsafePath"), () => service.suggest({ conflictId: c.id }))
          )
        })
      if (!opts.applied) {
        const open = conflictId !== undefined ? [yield* service.get(conflictId)] : yield* service.history({ repo, resolved: false })
        for (const c of open) if (c.resolvedAt === null) yield* ensure(c)
      }
      const list = yield* service.suggestions({ conflictId, minConfidence, applied: opts.applied, repo })
      if (conflictId !== undefined && !opts.applied) {
        const c = yield* service.get(conflictId)
        if (opts.json) return yield* printJson({ conflict: c, suggestions: list })
        if (c.resolvedAt !== null) return yield* print(`Conflict ${c.id} on ${c.path} is closed: ${c.resolution ?? "resolved"}.`)
        return yield* print(detailLines(c, list).join("\n"))
      }
      if (opts.json) return yield* printJson({ suggestions: list })
      if (list.length === 0) {
        return yield* print(opts.applied ? "No applied suggestions." : "No open suggestions (no open conflicts: find them with `parallel-cc conflicts check`).")
      }
      yield* print(table(
        ["ID", "CONFLICT", "FILE", "STRATEGY", "CONFIDENCE", "AUTO", "COMPLETE", opts.applied ? "APPLIED IN" : "DESCRIPTION"],
        list.map((s) => [
          s.id,
          s.conflictId,
          s.path,
          s.strategy,
          s.confidence.toFixed(2),
          s.autoApply ? "yes" : "no",
          s.complete ? "yes" : "no",
          opts.applied ? (s.appliedWorktree ?? "") : s.description.length > 100 ? s.description.slice(0, 99) + "…" : s.description
        ])
      ))
    }))
})

const applyId = Args.text({ name: "id" }).pipe(Args.withDescription("The suggestion to apply (from `parallel-cc suggestions`)"))
const applyWorktree = Options.text("worktree").pipe(
  Options.optional,
  Options.withDescription("The worktree to write the file into (default: the current directory)")
)
const applyJson = Options.boolean("json").pipe(Options.withDescription("Print one JSON document: the applied suggestion, the file and the next steps"))

/** `parallel-cc suggestions apply ID [--worktree W] [--json]` */
export const suggestionsApply = Command.make("apply", { id: applyId, worktree: applyWorktree, json: applyJson }, (opts) =>
  withCore(Effect.gen(function*() {
    const { cwd } = yield* Layers
    const worktree = Option.isSome(opts.worktree) ? yield* resolveDir(opts.worktree.value) : cwd
    const service = yield* Conflicts.Conflicts
    const r = yield* service.apply({ suggestionId: opts.id, worktree })
    if (opts.json) return yield* printJson(r)
    yield* print([
      `${r.action === "written" ? "Wrote" : "Deleted"} ${r.file} (${r.suggestion.strategy}, confidence ${r.suggestion.confidence.toFixed(2)}).`,
      ...(r.suggestion.complete ? [] : ["Some hunks are left as conflict markers: resolve them by hand."]),
      "Next:",
      ...r.nextSteps.map((s) => `  ${s}`)
    ].join("\n"))
  }))).pipe(Command.withDescription("Write a suggestion's resolved file into a worktree, unless the file changed since the suggestion was made"))
