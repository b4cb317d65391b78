/**
 * `parallel-cc worktree-hook`: the WorktreeCreate / WorktreeRemove hook command that `install --hooks`
 * registers. Reads Claude Code's payload on stdin; for WorktreeCreate prints ONLY the worktree's absolute
 * path on stdout (everything else on stderr) and leaves a detached watcher (`--watch PID`) that releases
 * the session when the Claude Code process exits; for WorktreeRemove releases the worktree's session under
 * the never-lose-work rule and exits 1 (Claude Code then keeps and reports it) when it holds work.
 */
import { FastProvider, SessionStore, SessionWatcher, WorktreeProvider } from "@parallel-cc/core"
import { Data, Effect, Option } from "effect"
import { defineCommand } from "../internal/Command.js"
import { handedOver, startWatcher } from "../internal/HookHandoff.js"
import { Layers, withOverlaps, withSessions } from "../internal/Env.js"
import { note, print, UsageError } from "../internal/Output.js"
import { keptLines } from "../internal/Render.js"

/** A WorktreeRemove request whose worktree holds work: exit 1, so that Claude Code keeps and reports it. */
class WorktreeKept extends Data.TaggedError("WorktreeKept")<{ readonly message: string }> {}

/** The requesting Claude Code process: CLAUDE_PID, else our parent, skipping the shell that ran the hook. */
export const requesterPid = FastProvider.requesterPid

const readStdin = Effect.async<string, UsageError>((resume) => {
  const before = handedOver()
  if (before?.complete === true) {
    resume(Effect.succeed(before.bytes.toString("utf8")))
    return
  }
  if (before === undefined && process.stdin.isTTY === true) {
    resume(Effect.fail(new UsageError({ message: "worktree-hook reads Claude Code's hook payload (JSON) on stdin; it is run by Claude Code (see `install --hooks`)" })))
    return
  }
  const chunks: Array<Buffer> = []
  process.stdin.on("data", (c: Buffer) => chunks.push(c))
  process.stdin.once("end", () => resume(Effect.succeed(Buffer.concat([before?.bytes ?? Buffer.alloc(0), ...chunks]).toString("utf8"))))
  process.stdin.once("error", (e) => resume(Effect.fail(new UsageError({ message: `cannot read the hook input: ${e.message}` }))))
})

/**
 * The detached watcher: until `pid` exits (then its sessions are released), each of its sessions also has a
 * SessionWatcher keeping its changed files and overlaps current, as claude-parallel does for its agent.
 */
const watchRequester = (pid: number) =>
  withOverlaps(Effect.gen(function*() {
    const provider = yield* WorktreeProvider.WorktreeProvider
    const store = yield* SessionStore.SessionStore
    const watcher = yield* SessionWatcher.SessionWatcher
    const watched = new Set<string>()
    const follow = Effect.gen(function*() {
      for (;;) {
        for (const s of yield* store.findActiveByPid(pid)) {
          if (watched.has(s.sessionId)) continue
          watched.add(s.sessionId)
          yield* Effect.forkScoped(watcher.watch(s.sessionId))
        }
        yield* Effect.sleep("2 seconds")
      }
    })
    yield* Effect.raceFirst(provider.watch(pid), follow.pipe(Effect.orElse(() => Effect.never))).pipe(Effect.scoped)
  }))

export const worktreeHook = defineCommand({
  name: "worktree-hook",
  description:
    "Claude Code's WorktreeCreate/WorktreeRemove hook (installed by `install --hooks`): reads the payload on stdin; " +
    "creates a parallel-cc session and worktree and prints its path, or releases it",
  spec: {
    watch: {
      kind: "integer",
      optional: true,
      description: "Instead: wait for this process to exit, then release its sessions (started by the hook itself)"
    }
  },
  handler: (opts) =>
    Option.isSome(opts.watch) ? watchRequester(opts.watch.value) : withSessions(Effect.gen(function*() {
      const provider = yield* WorktreeProvider.WorktreeProvider
      const layers = yield* Layers
      const input = yield* provider.parse(yield* readStdin)
      if (input.hook_event_name === "WorktreeRemove") {
        const r = yield* provider.remove(input)
        for (const x of r.released) if (x.kept !== null) yield* note(keptLines(x.sessionId, x.kept).join("\n"))
        if (r.outcome === "kept") {
          return yield* new WorktreeKept({
            message: `kept the worktree ${r.path}: removing it would lose work (${r.detail}); merge it, or remove it ` +
              "with `parallel-cc release --force` / `parallel-cc cleanup --force`"
          })
        }
        yield* note(`parallel-cc: ${r.outcome === "removed" ? "removed" : "already gone:"} ${r.path}`)
        return
      }
      const pid = requesterPid(layers.env, process.ppid)
      const created = yield* provider.create(input, { pid, cwd: layers.cwd })
      const s = created.registered.session
      for (const w of created.registered.setup.warnings) yield* note(`parallel-cc: warning: ${w}`)
      yield* note(
        `parallel-cc: session ${s.sessionId}${created.parent !== null ? ` (child of ${created.parent})` : ""} works in ` +
          `${s.worktreePath} (branch ${s.branch})`
      )
      yield* Effect.sync(() => startWatcher(pid, layers.env))
      yield* print(created.path)
    }))
})
