/**
 * `parallel-cc ui`: the live dashboard. Its code is its own bundle (dist/ui.cjs), loaded only here, so that
 * no other command pays for it.
 */
import { Command, Options } from "@effect/cli"
import { Effect, Option } from "effect"
import * as path from "node:path"
import { Layers } from "../internal/Env.js"
import { UsageError } from "../internal/Output.js"
import { resolveDir } from "../internal/Paths.js"
import type { UiOptions } from "../ui/main.js"

interface UiModule {
  readonly run: (options: UiOptions) => Promise<number>
}

declare const __dirname: string
declare const require: (id: string) => unknown

// The bundle lives next to this one; a computed path keeps esbuild from inlining it.
const loadUi = (): UiModule => require(path.join(__dirname, "ui.cjs")) as UiModule

export const uiCommand = Command.make("ui", {
  repo: Options.text("repo").pipe(Options.optional, Options.withDescription("Start with only the sessions of this repository (f cycles)")),
  interval: Options.float("interval").pipe(
    Options.optional,
    Options.withDescription("Seconds between two looks for changes (default 0.4)")
  )
}, (opts) =>
  Effect.gen(function*() {
    const l = yield* Layers
    if (Option.isSome(opts.interval) && !(opts.interval.value >= 0.1 && opts.interval.value <= 60)) {
      return yield* new UsageError({ message: "--interval must be a number of seconds from 0.1 to 60" })
    }
    const repo = Option.isSome(opts.repo) ? yield* resolveDir(opts.repo.value) : undefined
    const code = yield* Effect.promise(() =>
      loadUi().run({
        env: l.env,
        cwd: l.cwd,
        dbPath: l.dbPath,
        verbose: l.verbose,
        repo,
        bin: path.join(__dirname, "bin.cjs"),
        interval: Option.getOrUndefined(opts.interval)
      })
    )
    if (code !== 0) yield* Effect.sync(() => process.exit(code))
  })).pipe(
  Command.withDescription(
    "Live dashboard of the sessions and sandboxed runs: state, agent, branch, ahead/behind, changed files, overlaps, claims, cost, age; keys for diff, open, land, discard, repository filter (off a terminal: status lines when something changes)"
  )
)
