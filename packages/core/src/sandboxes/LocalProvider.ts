/**
 * The `local` sandbox provider: the agent works on a copy of the work tree in its own directory on this
 * machine. Under bubblewrap (when installed and usable here) the agent sees a read-only system, its copy
 * (`/workspace`), a private home and /tmp, and nothing else — not the user's home, not the repository, not
 * other sandboxes. Without bubblewrap it is a plain process in the copy, with a private HOME and TMPDIR;
 * that is not isolation, and the probe says so.
 *
 * A sandbox is a directory `<root>/parallel-cc-sbx-<run>-XXXXXX` (0700): `work/` (the copy), `home/`,
 * `tmp/`, and host-only `meta/` (the state file with the agent's pid, and a git directory that records the
 * uploaded baseline so changes can be listed without trusting anything inside the copy). Its id is that
 * path, so another process can find it, check it, collect its changes and kill it.
 *
 * The parts: `local/bwrap` (what the agent sees), `local/state` (the state file), `local/baseline` (what
 * was uploaded, and the changes against it), `local/sandbox` (one sandbox as the provider interface sees it).
 *
 * @since 0.1.0
 */
import { CommandExecutor } from "@effect/platform"
import { Context, Effect, Layer, Option } from "effect"
import * as os from "node:os"
import * as path from "node:path"
import { AppConfig } from "../platform/AppConfig.js"
import { exec } from "../platform/exec.js"
import { Git } from "../platform/Git.js"
import * as NodeFs from "../platform/nodeFs.js"
import { Processes } from "../platform/Processes.js"
import * as Proc from "../platform/proc.js"
import * as Bwrap from "./local/bwrap.js"
import * as LocalSandbox from "./local/sandbox.js"
import * as State from "./local/state.js"
import type { EgressPolicy } from "./EgressPolicy.js"
import {
  type CreateOptions,
  type Isolation,
  SandboxError,
  type SandboxInfo,
  SandboxNotFound,
  type SandboxProvider,
  type SandboxState
} from "./SandboxProvider.js"

/** Directory name prefix of local sandboxes. */
export const dirPrefix = "parallel-cc-sbx-"

/** What the network policy lets through, as the isolation's description says it. */
export const networkText = (egress: EgressPolicy): string =>
  egress.mode === "on"
    ? "network on"
    : egress.mode === "off"
    ? "network off"
    : `network only to ${egress.allow.length} allowed host${egress.allow.length === 1 ? "" : "s"}, through a filtering proxy`

const fail = (reason: SandboxError["reason"], detail: string, sandboxId?: string, cause?: unknown) =>
  new SandboxError({ reason, provider: "local", detail, ...(sandboxId !== undefined ? { sandboxId } : {}), ...(cause !== undefined ? { cause } : {}) })

/** Whether a recorded agent still runs (its pid, and the same process: start times compared). */
const agentRuns = (processes: Processes["Type"], s: State.State) =>
  s.agentPid === undefined
    ? Effect.succeed(false)
    : Effect.map(processes.probe(s.agentPid), (p) => p._tag === "Running" && State.sameStart(s.agentStart, p.startTime))

export const make = Effect.gen(function*() {
  const config = yield* AppConfig
  const git = yield* Git
  const executor = yield* CommandExecutor.CommandExecutor
  const processes = yield* Processes
  const setting = config.values["sandbox.local.isolation"]
  const network = config.values["sandbox.local.network"]
  const root = path.resolve(config.values["sandbox.local.root"] !== "" ? config.values["sandbox.local.root"] : os.tmpdir())
  const etc = yield* Effect.cached(Bwrap.presentEtc())
  const deps: LocalSandbox.LocalDeps = { run: git.run, executor, processes, etc }

  const probeBwrap = Effect.acquireUseRelease(
    NodeFs.makeTempDirectory(path.join(os.tmpdir(), "parallel-cc-probe-")).pipe(Effect.orDie),
    (dir) =>
      Effect.gen(function*() {
        for (const sub of ["work", "home", "tmp"]) yield* NodeFs.makeDirectory(path.join(dir, sub)).pipe(Effect.orDie)
        const plan = { dir, work: path.join(dir, "work"), etc: yield* etc, readOnly: [], network: "off" as const, cwd: Bwrap.inside.work }
        const r = yield* exec(["bwrap", ...Bwrap.args(plan), "--", "/usr/bin/env", "true"], {
          env: { PATH: Bwrap.defaultPath },
          clearEnv: true
        }).pipe(Effect.provideService(CommandExecutor.CommandExecutor, executor), Effect.either)
        if (r._tag === "Left") return { ok: false as const, why: "bubblewrap (bwrap) is not installed" }
        if (r.right.exitCode !== 0) {
          return { ok: false as const, why: `bubblewrap cannot create a sandbox here: ${r.right.stderr.trim().split("\n")[0] ?? ""}` }
        }
        return { ok: true as const, why: "" }
      }),
    (dir) => LocalSandbox.removeTree(dir).pipe(Effect.ignore)
  )

  const bwrapIsolation = (egress: EgressPolicy, inPlace = false): Isolation => ({
    kind: "bwrap",
    isolated: true,
    description: `bubblewrap: read-only system, ${inPlace ? "the run's own worktree" : "a copy of the work tree"} writable and nothing else of yours (not your home, not the repository's git directory); ${networkText(egress)}`
  })

  /** The policy of a sandbox created without one: config `sandbox.network` (auto: allow), or the older on/off switch. */
  const defaultEgress = (): EgressPolicy => {
    const setting = config.values["sandbox.network"]
    if (setting === "auto" && config.sources["sandbox.local.network"] !== "default") return { mode: network ? "on" : "off", allow: [] }
    return { mode: setting === "auto" ? "allow" : setting, allow: config.values["sandbox.allowHosts"] }
  }

  const probe = yield* Effect.cached(Effect.gen(function*() {
    if (setting === "process") {
      return {
        kind: "process",
        isolated: false,
        description: "plain process in a temporary copy, NOT isolated (sandbox.local.isolation is process)"
      } satisfies Isolation
    }
    const b = yield* probeBwrap
    if (b.ok) return bwrapIsolation(defaultEgress())
    if (setting === "bwrap") return yield* fail("Unavailable", `${b.why} (sandbox.local.isolation is bwrap)`)
    return {
      kind: "process",
      isolated: false,
      description: `plain process in a temporary copy, NOT isolated (${b.why}; install bubblewrap for isolation)`
    } satisfies Isolation
  }))

  const checkId = (sandboxId: string) =>
    Effect.gen(function*() {
      const dir = path.resolve(sandboxId)
      if (path.dirname(dir) !== root || !path.basename(dir).startsWith(dirPrefix)) {
        return yield* new SandboxNotFound({ provider: "local", sandboxId })
      }
      return dir
    })

  const create = (options: CreateOptions) =>
    Effect.gen(function*() {
      const probed = yield* probe
      const egress = options.network ?? defaultEgress()
      const inPlace = options.workTree !== undefined
      const isolation = probed.kind === "bwrap"
        ? bwrapIsolation(egress, inPlace)
        : inPlace
        ? { ...probed, description: probed.description.replace("in a temporary copy", "in the run's worktree") }
        : probed
      const safeRun = options.runId.replace(/[^A-Za-z0-9]/g, "").slice(0, 32)
      const dir = yield* Effect.gen(function*() {
        yield* NodeFs.makeDirectory(root, { recursive: true, mode: 0o777 })
        const d = yield* NodeFs.realPath(yield* NodeFs.makeTempDirectory(path.join(root, `${dirPrefix}${safeRun}-`)))
        yield* NodeFs.chmod(d, 0o700)
        const workTree = options.workTree !== undefined ? yield* NodeFs.realPath(options.workTree) : undefined
        for (const sub of [...(workTree === undefined ? ["work"] : []), "home", "tmp", "meta"]) yield* NodeFs.makeDirectory(path.join(d, sub), { mode: 0o700 })
        if (workTree !== undefined) yield* NodeFs.writeFile(LocalSandbox.emptyFile(d), "", { mode: 0o444 })
        yield* State.write(d, {
          version: 1,
          runId: options.runId,
          isolation,
          createdAt: Date.now(),
          hostExecutables: [...(options.hostExecutables ?? [])],
          protect: [config.dataDir, ...(options.protect ?? [])],
          network: egress.mode === "on",
          egress,
          ...(workTree !== undefined ? { workTree } : {})
        })
        return d
      }).pipe(Effect.mapError((e) => fail("CreateFailed", `in ${root}: ${e.message}`, undefined, e)))
      const state = yield* State.read(dir)
      if (Option.isNone(state)) return yield* fail("CreateFailed", `in ${root}: the state file of ${dir} cannot be read`)
      return LocalSandbox.at(deps, dir, state.value)
    })

  const connect = (sandboxId: string) =>
    Effect.gen(function*() {
      const dir = yield* checkId(sandboxId)
      const state = yield* State.read(dir)
      if (Option.isNone(state)) return yield* new SandboxNotFound({ provider: "local", sandboxId })
      return LocalSandbox.at(deps, dir, state.value)
    })

  const stateOf = (sandboxId: string): Effect.Effect<SandboxState, SandboxError> =>
    checkId(sandboxId).pipe(
      Effect.flatMap((dir) => State.read(dir)),
      Effect.flatMap(Option.match({
        onNone: () => Effect.succeed("gone" as const),
        onSome: (s) => Effect.map(agentRuns(processes, s), (running) => (running ? "running" as const : "stopped" as const))
      })),
      Effect.catchTag("SandboxNotFound", () => Effect.succeed("gone" as const))
    )

  const kill = (sandboxId: string) =>
    Effect.gen(function*() {
      const dir = yield* checkId(sandboxId).pipe(Effect.option)
      if (Option.isNone(dir) || !(yield* NodeFs.exists(dir.value))) return false
      const s = yield* State.read(dir.value)
      if (Option.isSome(s) && (yield* agentRuns(processes, s.value))) {
        const pid = s.value.agentPid!
        Proc.signalGroup(pid, "SIGTERM")
        for (let i = 0; i < 50 && (yield* agentRuns(processes, s.value)); i++) yield* Effect.sleep("100 millis")
        if (yield* agentRuns(processes, s.value)) Proc.signalGroup(pid, "SIGKILL")
      }
      yield* LocalSandbox.removeTree(dir.value).pipe(Effect.mapError((e) => fail("CommandFailed", `removing ${dir.value}: ${e.message}`, sandboxId, e)))
      return true
    })

  const list = Effect.gen(function*() {
    if (!(yield* NodeFs.exists(root))) return []
    const names = yield* NodeFs.readDirectory(root)
    const out: Array<SandboxInfo> = []
    for (const n of names.filter((n) => n.startsWith(dirPrefix))) {
      const dir = path.join(root, n)
      const s = yield* State.read(dir)
      if (Option.isNone(s)) continue
      const running = yield* agentRuns(processes, s.value)
      out.push({ provider: "local", id: dir, runId: s.value.runId, startedAt: new Date(s.value.createdAt), state: running ? "running" : "stopped" })
    }
    return out
  }).pipe(Effect.mapError((e) => fail("CommandFailed", `listing ${root}: ${e.message}`, undefined, e)))

  return { name: "local", probe, create, connect, state: stateOf, kill, list } satisfies SandboxProvider
})

/** The local provider, as a service; the Live layer registers it in SandboxProviders. */
export class LocalProvider extends Context.Tag("@parallel-cc/core/LocalProvider")<LocalProvider, SandboxProvider>() {}

/** The local provider over AppConfig, Git, Processes and the CommandExecutor. */
export const layer = Layer.effect(LocalProvider, make)
