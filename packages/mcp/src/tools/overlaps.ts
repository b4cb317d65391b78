/**
 * Overlap tools: which live sessions change the same files as you, and whether it would conflict.
 *
 * @since 0.2.0
 */
import { Overlaps } from "@parallel-cc/core"
import { Effect, Option } from "effect"
import { z } from "zod"
import { Caller } from "../Caller.js"
import * as Tool from "../Tool.js"
import { repoOption } from "./common.js"
import { overlap, overlapWire } from "./shapes.js"

export const getOverlaps = Tool.define({
  name: "get_overlaps",
  title: "Overlapping work",
  description: "Files that two live sessions of a repository (default: the caller's) both change — committed " +
    "or not — with the functions/symbols both changed and whether merging the two would conflict. It scans the " +
    "sessions' work trees first (refresh: false uses the last scans). mine: only the caller's overlaps. Call it " +
    "before editing a shared file; coordinate (or claim_file) when another session changes the same code.",
  input: {
    repo: z.string().min(1).optional().describe("A path inside the repository (default: the caller's repository)"),
    mine: z.boolean().optional().describe("Only the overlaps of your own session"),
    refresh: z.boolean().optional().describe("Scan the sessions now (default true)")
  },
  output: {
    repoPath: z.string().nullable(),
    you: z.string().nullable().describe("The caller's session id, when the caller has a session"),
    overlaps: z.array(overlap)
  },
  readOnly: true,
  handler: (input) =>
    Effect.gen(function*() {
      const caller = yield* Caller
      const me = yield* caller.sessionOption
      const repo = yield* repoOption(input.repo, me)
      const you = Option.map(me, (m) => m.session.sessionId).pipe(Option.getOrUndefined)
      const found = yield* Effect.flatMap(Overlaps.Overlaps, (o) =>
        o.list({
          repoPath: Option.getOrUndefined(repo),
          sessionId: input.mine === true ? you : undefined,
          refresh: input.refresh !== false
        }))
      return { repoPath: Option.getOrNull(repo), you: you ?? null, overlaps: found.map(overlapWire) }
    }),
  summarize: (o) =>
    o.overlaps.length === 0
      ? "No overlaps: no two live sessions change the same file."
      : o.overlaps.map((x) =>
        `${x.filePath}: ${x.sessionA} and ${x.sessionB}` +
        `${x.symbols.length > 0 ? ` both changed ${x.symbols.join(", ")}` : ""}` +
        `${x.conflict === true ? " (would conflict)" : x.conflict === false ? " (merges cleanly)" : ""}`
      ).join("\n")
})

export const tools: ReadonlyArray<Tool.AnyTool> = [getOverlaps]
