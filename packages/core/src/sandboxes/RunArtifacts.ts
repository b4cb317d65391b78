/**
 * A run's files on this machine, in `<dataDir>/sandboxes/<run>/` (0700, files 0600): `run.log` (time-stamped,
 * redacted lines, written in order by every fiber of the run), `events.jsonl` (the agent's decoded output),
 * and the changes it brought back (`changes.tar.gz` + `changes.json`), saved so `sandbox download` works after
 * the sandbox is gone. Reading them — the last lines, the log as it grows — works from any process.
 *
 * @since 0.1.0
 */
import { Clock, Effect, Option, Ref, Stream } from "effect"
import * as path from "node:path"
import * as NodeFs from "../platform/nodeFs.js"
import type * as Redact from "../platform/redact.js"
import type { Changes } from "./SandboxProvider.js"
import type { SandboxRun } from "./SandboxRuns.js"

/** `HH:MM:SS.mmm` in local time, the prefix of every log line. */
export const clock = (d: Date): string => {
  const p = (n: number) => String(n).padStart(2, "0")
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, "0")}`
}

/** Where a run's files are. */
export interface RunDir {
  readonly dir: string
  readonly logPath: string
  readonly eventsPath: string
}

/** The directory of run `id` under `runsDir` (created 0700, its parent too). */
export const open = (runsDir: string, id: string): Effect.Effect<RunDir, NodeFs.FsFailure> =>
  Effect.gen(function*() {
    const dir = path.join(runsDir, id)
    yield* NodeFs.makeDirectory(runsDir, { recursive: true, mode: 0o700 })
    yield* NodeFs.makeDirectory(dir, { recursive: true, mode: 0o700 })
    return { dir, logPath: path.join(dir, "run.log"), eventsPath: path.join(dir, "events.jsonl") }
  })

/** Writes time-stamped, redacted lines to a run log. Never fails: a log that cannot be written must not stop the run. */
export type RunLogger = (text: string) => Effect.Effect<void>

/** A logger for `logPath`: each call's text is redacted, split into lines, and each line time-stamped. */
export const logger = (logPath: string, redact: Redact.Redactor): Effect.Effect<RunLogger> =>
  Effect.map(NodeFs.makeAppender(logPath), (out) => (text: string) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => {
      const stamp = clock(new Date(now))
      return out.append(redact(text).split("\n").map((l) => `${stamp} ${l}`).join("\n") + "\n")
    }))

/** Appends the agent's decoded events (one JSON line each) to `eventsPath`, in order. */
export const eventWriter = (eventsPath: string): Effect.Effect<(line: string) => Effect.Effect<void>> =>
  Effect.map(NodeFs.makeAppender(eventsPath), (out) => (line: string) => out.append(line.trim() + "\n"))

/** One line appended to a run's log from outside its run (`sandbox kill`). */
export const appendLine = (logPath: string, text: string): Effect.Effect<void> =>
  Effect.flatMap(Clock.currentTimeMillis, (now) => NodeFs.appendFile(logPath, `${clock(new Date(now))} ${text}\n`).pipe(Effect.ignore))

const splitLines = (text: string): Array<string> => {
  const lines = text.split("\n")
  if (lines[lines.length - 1] === "") lines.pop()
  return lines
}

/** The last `n` lines of a log (all of them when undefined); none when it cannot be read. */
export const tail = (file: string, n: number | undefined): Effect.Effect<ReadonlyArray<string>> =>
  NodeFs.readText(file).pipe(
    Effect.map((text) => {
      const lines = splitLines(text)
      return n === undefined ? lines : lines.slice(Math.max(0, lines.length - n))
    }),
    Effect.orElseSucceed((): ReadonlyArray<string> => [])
  )

const decoder = new TextDecoder()

/**
 * A log as it grows: its last `lines` lines, then every line appended, polled every 250 ms, until
 * `ended` says the run is over (then what is left, a last line without its newline included).
 */
export const follow = <E>(
  file: string,
  lines: number | undefined,
  ended: Effect.Effect<boolean, E>
): Stream.Stream<string, E> =>
  Stream.unwrap(Effect.gen(function*() {
    const initial = yield* tail(file, lines)
    const size = yield* NodeFs.stat(file).pipe(Effect.map(Option.match({ onNone: () => 0, onSome: (s) => s.size })), Effect.orElseSucceed(() => 0))
    const offset = yield* Ref.make(size)
    const partial = yield* Ref.make("")
    const poll = Effect.gen(function*() {
      const from = yield* Ref.get(offset)
      const chunk = yield* NodeFs.readFrom(file, from).pipe(Effect.option)
      let text = ""
      if (Option.isSome(chunk) && chunk.value.bytes.length > 0) {
        text = decoder.decode(chunk.value.bytes)
        yield* Ref.set(offset, chunk.value.size)
      }
      const parts = ((yield* Ref.get(partial)) + text).split("\n")
      yield* Ref.set(partial, parts.pop() ?? "")
      return parts
    })
    const more = Stream.repeatEffectOption(Effect.gen(function*() {
      const fresh = yield* poll
      if (fresh.length > 0) return fresh
      if (yield* ended.pipe(Effect.mapError(Option.some))) {
        const last = yield* poll
        const rest = yield* Ref.get(partial)
        if (last.length === 0 && rest === "") return yield* Effect.fail(Option.none())
        yield* Ref.set(partial, "")
        return rest !== "" ? [...last, rest] : last
      }
      yield* Effect.sleep("250 millis")
      return []
    })).pipe(Stream.flatMap((l) => Stream.fromIterable(l)))
    return Stream.concat(Stream.fromIterable(initial), more)
  }))

/** Save a run's changes next to its log (so `download` works after the sandbox is gone); the archive's path. */
export const saveChanges = (run: Pick<SandboxRun, "logPath">, changes: Changes): Effect.Effect<string, NodeFs.FsFailure> =>
  Effect.gen(function*() {
    const dir = path.dirname(run.logPath)
    const archive = path.join(dir, "changes.tar.gz")
    yield* NodeFs.writeFile(archive, changes.archive, { mode: 0o600 })
    const lists = { added: changes.added, modified: changes.modified, deleted: changes.deleted, refused: changes.refused }
    yield* NodeFs.writeFile(path.join(dir, "changes.json"), JSON.stringify(lists, null, 2), { mode: 0o600 })
    return archive
  })

const strings = (v: unknown): Array<string> => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [])

/** The changes saved for a run, if any (none when the files are missing or unreadable). */
export const loadSaved = (run: Pick<SandboxRun, "changesPath">): Effect.Effect<Option.Option<Changes>> =>
  run.changesPath === null
    ? Effect.succeedNone
    : Effect.gen(function*() {
      const archive = yield* NodeFs.readBytes(run.changesPath!)
      const text = yield* NodeFs.readText(path.join(path.dirname(run.changesPath!), "changes.json"))
      const lists = yield* Effect.try(() => JSON.parse(text) as Record<string, unknown>)
      return Option.some<Changes>({
        archive,
        added: strings(lists.added),
        modified: strings(lists.modified),
        deleted: strings(lists.deleted),
        refused: []
      })
    }).pipe(Effect.orElseSucceed(() => Option.none<Changes>()))
