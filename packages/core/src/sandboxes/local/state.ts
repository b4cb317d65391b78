/**
 * The state file of a local sandbox, `meta/state.json` (0600, replaced atomically): what it was created
 * with and, once started, its agent's pid and start time — so another process can find the sandbox by its
 * id (its directory), tell whether its agent still runs, collect its changes and kill it.
 *
 * @since 0.1.0
 */
import { Effect, Option } from "effect"
import * as path from "node:path"
import * as NodeFs from "../../platform/nodeFs.js"
import type { EgressPolicy } from "../EgressPolicy.js"
import type { Isolation } from "../SandboxProvider.js"

export interface State {
  readonly version: 1
  readonly runId: string
  readonly isolation: Isolation
  readonly createdAt: number
  readonly hostExecutables: ReadonlyArray<string>
  /** Host paths no mount may contain (the user's home, the repository, the data directory). */
  readonly protect?: ReadonlyArray<string> | undefined
  /** Sandboxes of earlier versions: the network on or off. */
  readonly network: boolean
  /** What the agent may reach; when absent, `network` says. */
  readonly egress?: EgressPolicy | undefined
  /** Sandboxes uploaded by earlier versions record the baseline as a tree; now the baseline index is the record. */
  readonly baselineTree?: string | undefined
  /** Set once the upload is complete and `meta/baseline.index` describes it. */
  readonly baseline?: "index" | "worktree" | undefined
  /** The caller's directory the agent works in, instead of `work/` (see `local/workTree`). */
  readonly workTree?: string | undefined
  readonly agentPid?: number | undefined
  /** The agent's start time as `Processes.probe` reports it (earlier versions: the bare clock ticks). */
  readonly agentStart?: string | null | undefined
}

const fileOf = (dir: string) => path.join(dir, "meta", "state.json")

/** The state of the sandbox in `dir`; None when it has none (gone, or not a sandbox). */
export const read = (dir: string): Effect.Effect<Option.Option<State>> =>
  NodeFs.readText(fileOf(dir)).pipe(
    Effect.flatMap((text) => Effect.try(() => JSON.parse(text) as State)),
    Effect.option
  )

export const write = (dir: string, state: State): Effect.Effect<void, NodeFs.FsFailure> =>
  NodeFs.writeAtomic(fileOf(dir), JSON.stringify(state, null, 2), 0o600)

/** Change some fields of an existing state (nothing when the sandbox has none). */
export const update = (dir: string, patch: Partial<State>): Effect.Effect<void> =>
  Effect.flatMap(read(dir), Option.match({
    onNone: () => Effect.void,
    onSome: (cur) => write(dir, { ...cur, ...patch }).pipe(Effect.ignore)
  }))

/** Whether a probe's start time is the one recorded (a recording of an earlier version holds the bare ticks). */
export const sameStart = (recorded: string | null | undefined, probed: string | null): boolean =>
  recorded === undefined || recorded === null || probed === null || probed === recorded || probed.endsWith(`:${recorded}`)

/** The egress policy of a sandbox (older sandboxes recorded only on or off). */
export const egressOf = (state: State): EgressPolicy => state.egress ?? { mode: state.network ? "on" : "off", allow: [] }

/** The host directory the agent works in. */
export const workOf = (dir: string, state: State): string => state.workTree ?? path.join(dir, "work")
