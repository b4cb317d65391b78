/**
 * `parallel-cc conflicts` lists recorded conflicts; `parallel-cc conflicts check` finds them: between a
 * branch and its target (`git merge-tree`, no work tree touched), or — when a merge or rebase is stopped
 * with conflicts in the directory and no branch is named — what it left. Each conflicted file is
 * classified, its hunks described, and the conflict recorded (the same engine as the MCP tool
 * `detect_advanced_conflicts`).
 */
import { Conflicts, Errors, Git } from "@parallel-cc/core"
import { Clock, Effect, Option, Schema } from "effect"
import { defineCommand } from "../internal/Command.js"
import { Layers, withCore } from "../internal/Env.js"
import { age, print, printJson, table } from "../internal/Output.js"
import { resolveDir } from "../internal/Paths.js"

/** A conflict class, in any case (`trivial` is TRIVIAL). */
const ConflictTypeArg = Schema.transform(Schema.String, Conflicts.ConflictType, {
  strict: false,
  decode: (s) => s.toUpperCase(),
  encode: (s) => s
})
const typeNames = Conflicts.ConflictType.literals.join(", ")

export const conflicts = defineCommand({
  name: "conflicts",
  description: "List recorded conflicts with their class and severity (open ones, or --resolved ones); `conflicts check` finds them",
  spec: {
    type: {
      kind: "text",
      optional: true,
      schema: ConflictTypeArg,
      expected: `one of ${typeNames}`,
      description: `Only this class: ${typeNames}`
    },
    resolved: { kind: "boolean", description: "Show resolved (or stale) conflicts instead of open ones" },
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
      if (list.length === 0) {
        return yield* print(opts.resolved ? "No resolved conflicts." : "No open conflicts. Find them with `parallel-cc conflicts check`.")
      }
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

const branchOf = (dir: string) =>
  Effect.flatMap(Git.Git, (git) =>
    git.run(dir, ["symbolic-ref", "--short", "-q", "HEAD"], { okExitCodes: [0, 1] }).pipe(
      Effect.map((r) => (r.exitCode === 0 ? r.stdout.trim() : null))
    ))

const span = ({ lines: count, start }: { readonly start: number; readonly lines: number }) => (count === 0 ? `after line ${start - 1}` : count === 1 ? `line ${start}` : `lines ${start}–${start + count - 1}`)

/** The human lines of one checked conflict: its class, reasons and hunks. */
export const conflictLines = (c: Conflicts.Conflict): Array<string> => {
  const lines = [`${c.id}  ${c.path}  ${c.type} (${c.severity})  ${c.regions} hunk(s)`]
  for (const r of c.reasons) lines.push(`    ${r}`)
  for (const h of c.hunks) {
    lines.push(
      `    hunk ${h.index + 1} (${c.ours.ref} ${span(h.at.ours)}, ${c.theirs.ref} ${span(h.at.theirs)}): ${h.kind}` +
        (h.symbols.length > 0 ? ` in ${h.symbols.slice(0, 4).join(", ")}` : "")
    )
  }
  return lines
}

export const conflictsCheck = defineCommand({
  name: "check",
  description: "Find, classify and record the conflicts of merging a branch into its target (or of a merge or rebase stopped in this worktree)",
  spec: {
    repo: { kind: "text", optional: true, description: "A path inside the repository or worktree (default: the current directory)" },
    branch: { kind: "text", optional: true, description: "The branch to merge (default: the branch checked out in --repo)" },
    into: { kind: "text", optional: true, description: "The branch it goes into (default: the branch checked out in the main repository)" },
    json: { kind: "boolean", description: "Print one JSON document: the report with every conflict, its class, reasons and hunks" }
  },
  handler: (opts) =>
    withCore(Effect.gen(function*() {
      const { cwd } = yield* Layers
      const dir = Option.isSome(opts.repo) ? yield* resolveDir(opts.repo.value) : cwd
      const service = yield* Conflicts.Conflicts
      const git = yield* Git.Git
      const byRefs = Effect.gen(function*() {
        const branch = Option.getOrUndefined(opts.branch) ?? (yield* branchOf(dir))
        if (branch === null || branch === undefined) {
          return yield* new Errors.InvalidInput({ field: "--branch", detail: `${dir} has no branch checked out; name the branch to check with --branch` })
        }
        const into = Option.getOrUndefined(opts.into) ?? (yield* branchOf(yield* git.mainRoot(dir)))
        if (into === null || into === undefined) {
          return yield* new Errors.InvalidInput({ field: "--into", detail: "the main repository has no branch checked out; name the target with --into" })
        }
        if (into === branch) {
          return yield* new Errors.InvalidInput({ field: "--into", detail: `the branch to check and the target are both ${branch}; name another with --branch or --into` })
        }
        return yield* service.detect({ repo: dir, ours: into, theirs: branch })
      })
      const named = Option.isSome(opts.branch) || Option.isSome(opts.into)
      const report = named
        ? yield* byRefs
        : yield* service.detect({ worktree: dir }).pipe(
          Effect.catchIf((e) => e._tag === "ConflictError" && e.reason === "NoMergeInProgress", () => byRefs)
        )
      if (opts.json) return yield* printJson(report)
      const what = report.source === "worktree"
        ? `in the merge stopped in ${dir} (${report.theirs.ref} into ${report.ours.ref})`
        : `merging ${report.theirs.ref} into ${report.ours.ref}`
      if (report.clean) return yield* print(`No conflicts ${what}.`)
      const lines = [`${report.conflicts.length} conflicted file(s) ${what}:`, ""]
      for (const c of report.conflicts) lines.push(...conflictLines(c), "")
      lines.push(
        "Next: `parallel-cc suggestions --conflict <ID>` for resolutions (hunk by hunk, with confidence), then",
        "      `parallel-cc suggestions apply <SUGGESTION>` in the worktree where the merge happens."
      )
      yield* print(lines.join("\n"))
    }))
})
