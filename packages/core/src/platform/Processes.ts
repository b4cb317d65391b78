/**
 * Processes: is a pid still the process we registered? A pid alone is not enough (pids are reused), so a
 * session records the process start time at registration and liveness compares it: Linux reads
 * `/proc/<pid>/stat` (start time in clock ticks since boot, qualified by the boot id), macOS asks
 * `ps -o lstart=`. Where neither works, only "does some process have this pid" is known, and the session's
 * heartbeat age decides (see {@link liveness}).
 *
 * @since 0.1.0
 */
import { CommandExecutor, FileSystem } from "@effect/platform"
import { Context, Effect, Layer } from "effect"
import type { Liveness, Session } from "../Domain.js"
import { exec } from "./exec.js"
import { parseProcStat } from "./procStat.js"

export { parseProcStat, type ProcStat } from "./procStat.js"

/** What is known about a pid right now. */
export type Probe =
  | { readonly _tag: "Gone" }
  /** `startTime` is null when this platform cannot tell when the process started. */
  | { readonly _tag: "Running"; readonly startTime: string | null }

export class Processes extends Context.Tag("@parallel-cc/core/Processes")<Processes, {
  /** Look at a pid: gone, or running (with its start time where the platform can tell). Never fails. */
  readonly probe: (pid: number) => Effect.Effect<Probe>
}>() {}

const gone: Probe = { _tag: "Gone" }

const validPid = (pid: number) => Number.isSafeInteger(pid) && pid > 0 && pid < 2 ** 31

/** Whether any process has this pid (EPERM means it exists but belongs to someone else). */
const pidExists = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"
  }
}

export const make = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const executor = yield* CommandExecutor.CommandExecutor
  const procfs = yield* fs.exists("/proc/self/stat").pipe(Effect.orElseSucceed(() => false))
  const bootId = procfs
    ? yield* fs.readFileString("/proc/sys/kernel/random/boot_id").pipe(
      Effect.map((s) => s.trim()),
      Effect.orElseSucceed(() => "")
    )
    : ""

  const linux = (pid: number) =>
    fs.readFileString(`/proc/${pid}/stat`).pipe(
      Effect.map((text): Probe => {
        const stat = parseProcStat(text)
        if (stat === undefined) return { _tag: "Running", startTime: null }
        // A zombie has exited; only its exit status is left for its parent to collect.
        if (stat.state === "Z" || stat.state === "X") return gone
        return { _tag: "Running", startTime: `linux:${bootId}:${stat.startTicks}` }
      }),
      Effect.orElseSucceed(() => pidExists(pid) ? { _tag: "Running", startTime: null } as Probe : gone)
    )

  const darwin = (pid: number) =>
    exec(["ps", "-o", "lstart=", "-p", String(pid)], { env: { LC_ALL: "C" } }).pipe(
      Effect.provideService(CommandExecutor.CommandExecutor, executor),
      Effect.map((r): Probe =>
        r.exitCode === 0 && r.stdout.trim() !== ""
          ? { _tag: "Running", startTime: `darwin:${r.stdout.trim().replace(/\s+/g, " ")}` }
          : pidExists(pid)
          ? { _tag: "Running", startTime: null }
          : gone
      ),
      Effect.orElseSucceed(() => pidExists(pid) ? { _tag: "Running", startTime: null } as Probe : gone)
    )

  const probe = (pid: number): Effect.Effect<Probe> => {
    if (!validPid(pid)) return Effect.succeed(gone)
    if (procfs) return linux(pid)
    if (process.platform === "darwin") return darwin(pid)
    return Effect.sync(() => pidExists(pid) ? { _tag: "Running", startTime: null } : gone)
  }

  return Processes.of({ probe })
})

/** Processes over the real OS; needs FileSystem and CommandExecutor. */
export const layer = Layer.effect(Processes, make)

/**
 * Decide a session's liveness from a probe of its pid: a pid that is gone or now belongs to a process
 * started at another time is `dead`; a running pid whose start time cannot be compared is `alive` while
 * the last heartbeat is younger than `staleMs`, and `stale` after that.
 */
export const liveness = (
  session: Pick<Session, "pid" | "pidStartTime">,
  probe: Probe,
  lastHeartbeatMs: number,
  nowMs: number,
  staleMs: number
): Liveness => {
  const pid = session.pid
  if (probe._tag === "Gone") return { state: "dead", detail: `pid ${pid} no longer runs` }
  if (probe.startTime !== null && session.pidStartTime !== null) {
    return probe.startTime === session.pidStartTime
      ? { state: "alive", detail: `pid ${pid} runs` }
      : { state: "dead", detail: `pid ${pid} now belongs to another process (pid reused)` }
  }
  const ageMin = Math.floor(Math.max(0, nowMs - lastHeartbeatMs) / 60_000)
  return nowMs - lastHeartbeatMs > staleMs
    ? { state: "stale", detail: `pid ${pid} cannot be verified and the last heartbeat is ${ageMin} min old` }
    : { state: "alive", detail: `pid ${pid} exists (start time unknown); heartbeat ${ageMin} min ago` }
}
