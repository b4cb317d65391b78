/**
 * The commands that reach a run from any process: `status`, `list`, `logs`, `follow`, `download` and
 * `kill`. Each finds the run in the store and its sandbox by the provider's id. A live run whose supervising
 * process is gone is marked `lost` when seen; `kill` then takes it over — collects its changes, removes its
 * sandbox and ends it — exactly once, whichever process asks first.
 *
 * @since 0.1.0
 */
import { Clock, Effect, Option, Stream } from "effect"
import * as path from "node:path"
import type { SessionId } from "../Domain.js"
import type { DbFailure } from "../platform/Database.js"
import { pollUntil } from "./AgentSupervisor.js"
import { summary } from "./FileSync.js"
import * as RunArtifacts from "./RunArtifacts.js"
import * as RunChanges from "./RunChanges.js"
import type { RunDeps } from "./RunDeps.js"
import { type DownloadReport, type HostContext, type KillReport, SandboxRunError, type StatusReport } from "./RunModel.js"
import type { Changes } from "./SandboxProvider.js"
import { isLive, type SandboxRun, type SandboxRunNotFound } from "./SandboxRuns.js"

export const make = (deps: RunDeps) => {
  const { providers, runs } = deps

  const supervisorAlive = (r: SandboxRun): Effect.Effect<boolean> =>
    r.supervisorPid === null
      ? Effect.succeed(false)
      : Effect.map(deps.processes.probe(r.supervisorPid), (p) =>
        p._tag === "Running" && (p.startTime === null || r.supervisorStart === null || p.startTime === r.supervisorStart))

  const markLost = (r: SandboxRun) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      runs.update(r.sessionId, {
        status: "lost",
        endedAt: new Date(now),
        error: `the process supervising this run (pid ${r.supervisorPid}) exited without finishing it; ` +
          `\`parallel-cc sandbox kill --session-id ${r.sessionId}\` collects its changes and removes the sandbox`
      })).pipe(Effect.catchTag("SandboxRunNotFound", Effect.die))

  /** Mark a live run whose supervisor died as `lost` (nothing else is touched). */
  const reconcile = (r: SandboxRun) =>
    Effect.flatMap(isLive(r.status) ? supervisorAlive(r) : Effect.succeed(true), (alive) => (alive ? Effect.succeed(r) : markLost(r)))

  const status = (id: string, host: HostContext) =>
    Effect.gen(function*() {
      const r = yield* reconcile(yield* runs.get(id))
      let sandbox: StatusReport["sandbox"] = "unknown"
      if (r.sandboxId !== null && r.sandboxState !== "killed") {
        const p = yield* providers.get(r.provider, { env: host.env }).pipe(Effect.option)
        if (Option.isSome(p)) sandbox = yield* p.value.state(r.sandboxId).pipe(Effect.orElseSucceed(() => "unknown" as const))
      } else if (r.sandboxState === "killed") sandbox = "gone"
      return { run: r, sandbox, supervisorAlive: yield* supervisorAlive(r) } satisfies StatusReport
    })

  const list = (filter: { readonly repoPath?: string | undefined; readonly limit?: number | undefined }) =>
    runs.list(filter).pipe(Effect.flatMap((rs) => Effect.forEach(rs, reconcile)))

  const logs = (id: string, options: { readonly lines?: number | undefined } = {}) =>
    Effect.flatMap(runs.get(id), (r) => RunArtifacts.tail(r.logPath, options.lines))

  const follow = (id: string, options: { readonly lines?: number | undefined } = {}): Stream.Stream<string, SandboxRunNotFound | DbFailure> =>
    Stream.unwrap(Effect.map(runs.get(id), (r) =>
      RunArtifacts.follow(
        r.logPath,
        options.lines,
        runs.get(id).pipe(Effect.flatMap(reconcile), Effect.map((cur) => !isLive(cur.status)))
      )))

  const download = (id: string, output: string, host: HostContext) =>
    Effect.gen(function*() {
      const r = yield* runs.get(id)
      const target = path.resolve(host.cwd, output)
      let changes: Changes | undefined
      let source: DownloadReport["source"] = "saved"
      if (r.sandboxId !== null && r.sandboxState !== "killed") {
        const provider = yield* providers.get(r.provider, { env: host.env })
        // A finished run that worked in its worktree in place has settled it: what it saved is its changes.
        const live = yield* provider.connect(r.sandboxId).pipe(
          Effect.filterOrFail((sb) => sb.workTree === undefined || isLive(r.status), () => "settled"),
          Effect.flatMap((sb) => sb.changes),
          Effect.option
        )
        if (Option.isSome(live)) {
          changes = live.value
          source = "sandbox"
        }
      }
      if (changes === undefined) changes = Option.getOrUndefined(yield* RunArtifacts.loadSaved(r))
      if (changes === undefined) {
        return yield* new SandboxRunError({
          reason: "ChangesUnavailable",
          sessionId: id,
          detail: isLive(r.status) ? "the sandbox is not reachable yet" : "its sandbox is gone and no changes were saved"
        })
      }
      const applied = yield* deps.fileSync.apply(changes, target)
      return {
        ...applied,
        refused: [...applied.refused],
        source,
        changes: { added: changes.added, modified: changes.modified, deleted: changes.deleted }
      } satisfies DownloadReport
    })

  /** Finish a run whose supervisor is gone, from this process: collect, kill, record. */
  const takeOverAndKill = (r: SandboxRun, host: HostContext) =>
    Effect.gen(function*() {
      const me = yield* deps.self
      const mine = yield* runs.takeOver(r.sessionId, { pid: r.supervisorPid, start: r.supervisorStart }, { pid: me.pid, start: me.start })
      if (!mine) return { run: yield* runs.get(r.sessionId), action: "requested" as const }
      const log = (text: string) => RunArtifacts.appendLine(r.logPath, text)
      yield* log(`taken over by pid ${me.pid} (\`sandbox kill\`): the supervising process is gone`)
      if (r.sandboxId !== null) {
        const provider = yield* providers.get(r.provider, { env: host.env })
        const sb = yield* provider.connect(r.sandboxId).pipe(Effect.option)
        if (Option.isSome(sb)) {
          yield* RunChanges.collect(deps, r, sb.value, { commit: false, redact: (t) => t }).pipe(
            Effect.tap((c) => log(`partial changes collected: ${summary(c.changes)}${c.worktreePath !== null ? ` in ${c.worktreePath}` : ""}`)),
            Effect.catchAll((e) => log(`could not collect the changes: ${e.message}`))
          )
        }
        yield* provider.kill(r.sandboxId).pipe(Effect.catchAll((e) => log(`could not kill the sandbox: ${e.message}`)))
      }
      const now = yield* Clock.currentTimeMillis
      const wasLost = r.status === "lost"
      const updated = yield* runs.update(r.sessionId, {
        status: wasLost ? "lost" : "killed",
        sandboxState: r.sandboxId !== null ? "killed" : r.sandboxState,
        endedAt: r.endedAt ?? new Date(now),
        ...(wasLost ? {} : { error: "stopped by `sandbox kill` after its supervising process died" })
      })
      yield* deps.lifecycle.release({ sessionId: r.sessionId as SessionId }).pipe(
        Effect.tap((released) => Effect.forEach(released, (x) => log(`worktree ${x.worktreePath}: ${x.worktree}${x.kept !== null ? ` (${x.kept.detail})` : ""}`))),
        Effect.catchAll((e) => log(`could not release the session: ${e.message}`))
      )
      yield* log(`finished: ${updated.status}; sandbox ${updated.sandboxState}`)
      return { run: updated, action: "stopped" as const }
    })

  const kill = (id: string, host: HostContext) =>
    Effect.gen(function*() {
      const r = yield* runs.get(id)
      if (isLive(r.status) && (yield* supervisorAlive(r))) {
        yield* runs.requestKill(id)
        const final = yield* pollUntil(runs.get(id), (x) => !isLive(x.status), "200 millis").pipe(Effect.timeout("60 seconds"), Effect.option)
        return Option.match(final, {
          onNone: () => ({ run: r, action: "requested" as const }),
          onSome: (x) => ({ run: x, action: "stopped" as const })
        }) satisfies KillReport
      }
      if (isLive(r.status) || (r.status === "lost" && r.sandboxState === "running")) return yield* takeOverAndKill(r, host)
      if (r.sandboxState === "kept" && r.sandboxId !== null) {
        const provider = yield* providers.get(r.provider, { env: host.env })
        yield* provider.kill(r.sandboxId)
        const updated = yield* runs.update(id, { sandboxState: "killed" })
        yield* RunArtifacts.appendLine(r.logPath, "kept sandbox removed by `sandbox kill`")
        return { run: updated, action: "removed" as const } satisfies KillReport
      }
      return { run: r, action: "none" as const } satisfies KillReport
    })

  return { status, list, logs, follow, download, kill }
}
