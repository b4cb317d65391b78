/**
 * The services a sandboxed run's pipeline stands on, captured once by `Sandboxes.make` and handed to each
 * part of the pipeline (checks, the run itself, its changes, the cross-process commands), so that each part
 * is a plain module that can be built and tested on its own.
 *
 * @since 0.1.0
 */
import { CommandExecutor } from "@effect/platform"
import { Effect } from "effect"
import * as path from "node:path"
import { makeBudget } from "../fleet/Fleet.js"
import * as UsageStore from "../fleet/UsageStore.js"
import { AppConfig } from "../platform/AppConfig.js"
import { Database } from "../platform/Database.js"
import { Git } from "../platform/Git.js"
import { Processes } from "../platform/Processes.js"
import { Sessions } from "../sessions/Sessions.js"
import { SessionStore } from "../sessions/SessionStore.js"
import { Worktrees } from "../sessions/Worktrees.js"
import { FileSync } from "./FileSync.js"
import * as SandboxBudget from "./SandboxBudget.js"
import { SandboxProviders } from "./SandboxProvider.js"
import { SandboxRuns } from "./SandboxRuns.js"
import { Templates } from "./Templates.js"

export interface RunDeps {
  readonly config: AppConfig["Type"]
  readonly git: Git["Type"]
  readonly runs: SandboxRuns["Type"]
  readonly sessions: SessionStore["Type"]
  /** Register and release through `Sessions`: a run's session is an ordinary worktree session. */
  readonly lifecycle: Sessions["Type"]
  readonly providers: SandboxProviders["Type"]
  readonly fileSync: FileSync["Type"]
  readonly templates: Templates["Type"]
  readonly executor: CommandExecutor.CommandExecutor
  readonly processes: Processes["Type"]
  readonly worktrees: Worktrees["Type"]
  readonly budget: SandboxBudget.SandboxBudget
  /** `<dataDir>/sandboxes`: one directory per run (its log, events and saved changes). */
  readonly runsDir: string
  /** This process, with its start time in the format sessions use. */
  readonly self: Effect.Effect<{ readonly pid: number; readonly start: string | null }>
}

/** The dependencies from the context. */
export const make = Effect.gen(function*() {
  const config = yield* AppConfig
  const runs = yield* SandboxRuns
  const processes = yield* Processes
  return {
    config,
    git: yield* Git,
    runs,
    sessions: yield* SessionStore,
    lifecycle: yield* Sessions,
    providers: yield* SandboxProviders,
    fileSync: yield* FileSync,
    templates: yield* Templates,
    executor: yield* CommandExecutor.CommandExecutor,
    processes,
    worktrees: yield* Worktrees,
    budget: SandboxBudget.make(makeBudget(config, yield* UsageStore.make, yield* Database)),
    runsDir: path.join(config.dataDir, "sandboxes"),
    self: Effect.map(processes.probe(process.pid), (p) => ({ pid: process.pid, start: p._tag === "Running" ? p.startTime : null }))
  } satisfies RunDeps
})
