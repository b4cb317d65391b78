/**
 * The per-session directory `<dataDir>/live/<sessionId>/` (0700), exported to the agent as
 * `PARALLEL_CC_SESSION_DIR`: the one place where parallel-cc and the agent's hooks meet without the
 * database. The session hook (`packages/cli/hooks/session-hook.sh`) reads and writes it with shell built-ins
 * on every tool call; everything in parallel-cc reads and writes it through this service. The layout is in
 * `liveDir.ts`; who writes which file, and when, is in docs/architecture.md ("The session directory").
 *
 * - `state` (+ its mtime as `since`): the agent state, written by the hook, and by the wrapper (`starting`);
 * - `transcript`: the Claude Code transcript path, written by the hook;
 * - notices: {@link SessionFiles} `addNotice` queues a text under a key; the hook delivers each key once as
 *   `additionalContext` on the agent's next tool call;
 * - `block`: while set, the hook refuses every tool call with its text;
 * - the overlap guard (issue 16): `claims/` (this session's EXCLUSIVE claims, read by its peers' hooks),
 *   `changes/` (what this session changed, for its peers' hooks), `peers/` (links to the other live sessions
 *   of the repository) and the `edits` journal the hook appends to.
 *
 * Writes are atomic (temp file + rename) except `state` and `block`, which are single short writes; readers
 * treat an empty file as absent. A session without a directory (an ended one) is not an error: reads find
 * nothing and `addNotice` reports that nothing was queued.
 *
 * @since 0.2.0
 */
import { FileSystem, Path } from "@effect/platform"
import type { PlatformError } from "@effect/platform/Error"
import { Context, Effect, Layer, Option, Schema } from "effect"
import type { SessionId } from "../Domain.js"
import { AppConfig } from "../platform/AppConfig.js"
import { AGENT_STATES, fromJsonLine, jsonLine, keyFileName, Layout, LIVE_DIR } from "./liveDir.js"

/** The state of an agent: `starting | working | needs-input | idle | exited`. */
export const AgentState = Schema.Literal(...AGENT_STATES)
export type AgentState = typeof AgentState.Type

/** An agent state and when it began. */
export interface StateInfo {
  readonly state: AgentState
  readonly since: Date
}

/** A text for the agent, delivered once per key. */
export interface Notice {
  /** Deduplication key: a second notice with a key already queued or delivered is dropped. */
  readonly key: string
  readonly text: string
}

/** A session directory could not be read or written. */
export class SessionFilesError extends Schema.TaggedError<SessionFilesError>()("SessionFilesError", {
  reason: Schema.Literal("Io", "InvalidPath"),
  sessionId: Schema.String,
  path: Schema.String,
  detail: Schema.optional(Schema.String)
}) {
  override get message(): string {
    return this.reason === "InvalidPath"
      ? `${JSON.stringify(this.path)} is not a repository-relative file path (session ${this.sessionId})`
      : `cannot write the session directory of ${this.sessionId} (${this.path}${
        this.detail ? `: ${this.detail}` : ""
      }); check that the data directory is writable`
  }
}

export class SessionFiles extends Context.Tag("@parallel-cc/core/SessionFiles")<SessionFiles, {
  /** The directory of a session (whether or not it exists). */
  readonly dir: (sessionId: SessionId) => string
  /** Create the directory with its folders, `worktree`, `repo` and `state` = `starting`. Idempotent. */
  readonly create: (
    sessionId: SessionId,
    where: { readonly repoPath: string; readonly worktreePath: string }
  ) => Effect.Effect<string, SessionFilesError>
  /** Remove the directory (when the session ends). */
  readonly remove: (sessionId: SessionId) => Effect.Effect<void>
  readonly exists: (sessionId: SessionId) => Effect.Effect<boolean>
  /** The agent state and since when; None when unknown (no directory, no or unreadable state). */
  readonly state: (sessionId: SessionId) => Effect.Effect<Option.Option<StateInfo>>
  /** Set the state; the file is written only when the state changes (returns whether it did). */
  readonly setState: (sessionId: SessionId, state: AgentState) => Effect.Effect<boolean, SessionFilesError>
  /** The transcript path the hooks recorded. */
  readonly transcript: (sessionId: SessionId) => Effect.Effect<Option.Option<string>>
  readonly setTranscript: (sessionId: SessionId, path: string) => Effect.Effect<void, SessionFilesError>
  /** Every transcript the session had (the hook's list, then the current one), oldest first, each once. */
  readonly transcripts: (sessionId: SessionId) => Effect.Effect<ReadonlyArray<string>>
  /**
   * Claim `key` for this process: true exactly once per key and session, however many processes ask at
   * once (an exclusive create); false when claimed before or the session has no directory.
   */
  readonly claimOnce: (sessionId: SessionId, key: string) => Effect.Effect<boolean>
  /**
   * Queue a notice for the agent's next tool call. Returns false when nothing was queued: the key was
   * queued or delivered before, or the session has no directory (it ended).
   */
  readonly addNotice: (sessionId: SessionId, notice: Notice) => Effect.Effect<boolean, SessionFilesError>
  /** Notices queued and not yet delivered. */
  readonly pendingNotices: (sessionId: SessionId) => Effect.Effect<ReadonlyArray<Notice>>
  /** Whether the hook delivered the key (a notice, or the news of a peer's change). */
  readonly delivered: (sessionId: SessionId, key: string) => Effect.Effect<boolean>
  /** Block every tool call with `reason`, or (null) unblock. */
  readonly setBlock: (sessionId: SessionId, reason: string | null) => Effect.Effect<void, SessionFilesError>
  readonly block: (sessionId: SessionId) => Effect.Effect<Option.Option<string>>
  /** Make `peers/` link exactly these sessions (the other live sessions of the repository). */
  readonly setPeers: (sessionId: SessionId, peers: ReadonlyArray<SessionId>) => Effect.Effect<void>
  /** Add or remove one peer link (when a session of the repository starts or ends). */
  readonly linkPeer: (sessionId: SessionId, peer: SessionId, linked: boolean) => Effect.Effect<void>
  /** Publish this session's EXCLUSIVE claim on `file` to its peers' hooks (until `expiresAt`). */
  readonly setClaim: (
    sessionId: SessionId,
    file: string,
    claim: { readonly expiresAt: Date; readonly refusal: string }
  ) => Effect.Effect<void, SessionFilesError>
  readonly clearClaim: (sessionId: SessionId, file: string) => Effect.Effect<void>
  /** Publish that this session changed `file` (`key` names the news, delivered once per reader). */
  readonly setChange: (
    sessionId: SessionId,
    file: string,
    news: { readonly key: string; readonly text: string }
  ) => Effect.Effect<void, SessionFilesError>
  readonly clearChange: (sessionId: SessionId, file: string) => Effect.Effect<void>
  /** Remove every published change (a watcher starting afresh). */
  readonly clearChanges: (sessionId: SessionId) => Effect.Effect<void>
  /** Files journaled by the hook from byte `offset` on (complete lines only) and the offset after them. */
  readonly readEdits: (
    sessionId: SessionId,
    offset: number
  ) => Effect.Effect<{ readonly files: ReadonlyArray<string>; readonly offset: number }>
}>() {}

/** Whether `file` is a clean repository-relative path (no `.`/`..`/empty segments, no control characters). */
export const isRelativeFile = (file: string): boolean =>
  file !== "" && !file.startsWith("/") && file.length <= 4096 &&
  // eslint-disable-next-line no-control-regex
  !/[\u0000-\u001f\u007f]/.test(file) &&
  file.split("/").every((seg) => seg !== "" && seg !== "." && seg !== "..") &&
  file !== ".git" && !file.startsWith(".git/")

const tmpSuffix = (): string => {
  const bytes = new Uint8Array(6)
  globalThis.crypto.getRandomValues(bytes)
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")
}

/** The file primitives of the service: atomic writes, nested paths, one-line reads. */
const fileOps = (fs: FileSystem.FileSystem, path: Path.Path, dir: (id: SessionId) => string) => {
  const ioError = (id: SessionId, p: string) => (e: PlatformError) =>
    new SessionFilesError({ reason: "Io", sessionId: id, path: p, detail: e.message })

  const readLine = (file: string) =>
    fs.readFileString(file).pipe(
      Effect.map((t) => t.split("\n")[0] ?? ""),
      Effect.option,
      Effect.map(Option.filter((l) => l !== ""))
    )

  /** Write `text` to `file` atomically: a dot-named temp file in the same folder, then rename. */
  const writeAtomic = (id: SessionId, file: string, text: string, mtime?: Date) =>
    Effect.gen(function*() {
      const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${tmpSuffix()}.tmp`)
      yield* fs.writeFileString(tmp, text, { mode: 0o600 })
      if (mtime !== undefined) yield* fs.utimes(tmp, mtime, mtime)
      yield* fs.rename(tmp, file).pipe(Effect.tapError(() => fs.remove(tmp, { force: true }).pipe(Effect.ignore)))
    }).pipe(Effect.mapError(ioError(id, file)))

  const checkFile = (id: SessionId, file: string) =>
    isRelativeFile(file)
      ? Effect.void
      : Effect.fail(new SessionFilesError({ reason: "InvalidPath", sessionId: id, path: file }))

  /** Write `folder/<file>` (making its parent folders; a file standing where a folder must be is removed). */
  const writeNested = (id: SessionId, folder: string, file: string, text: string, mtime?: Date) =>
    Effect.gen(function*() {
      yield* checkFile(id, file)
      const target = path.join(dir(id), folder, file)
      const parent = path.dirname(target)
      const made = yield* fs.makeDirectory(parent, { recursive: true, mode: 0o700 }).pipe(Effect.either)
      if (made._tag === "Left") {
        // A path that was a file and is now a folder (a/b after a): clear the way, once.
        let p = parent
        while (p.startsWith(path.join(dir(id), folder) + path.sep)) {
          const st = yield* fs.stat(p).pipe(Effect.option)
          if (Option.isSome(st) && st.value.type !== "Directory") yield* fs.remove(p).pipe(Effect.ignore)
          p = path.dirname(p)
        }
        yield* fs.makeDirectory(parent, { recursive: true, mode: 0o700 }).pipe(Effect.mapError(ioError(id, parent)))
      }
      const st = yield* fs.stat(target).pipe(Effect.option)
      if (Option.isSome(st) && st.value.type === "Directory") yield* fs.remove(target, { recursive: true }).pipe(Effect.ignore)
      yield* writeAtomic(id, target, text, mtime)
    })

  return { ioError, readLine, writeAtomic, writeNested }
}

export const make = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const config = yield* AppConfig
  const liveRoot = path.join(config.dataDir, LIVE_DIR)
  const dir = (id: SessionId) => path.join(liveRoot, id)
  const fileOf = (id: SessionId, name: string) => path.join(dir(id), name)

  const { ioError, readLine, writeAtomic, writeNested } = fileOps(fs, path, dir)

  const removeNested = (id: SessionId, folder: string, file: string) =>
    isRelativeFile(file) ? fs.remove(path.join(dir(id), folder, file)).pipe(Effect.ignore) : Effect.void

  const exists = (id: SessionId) =>
    fs.stat(dir(id)).pipe(Effect.map((s) => s.type === "Directory"), Effect.orElseSucceed(() => false))

  const create = (id: SessionId, where: { readonly repoPath: string; readonly worktreePath: string }) =>
    Effect.gen(function*() {
      const d = dir(id)
      yield* fs.makeDirectory(liveRoot, { recursive: true, mode: 0o700 })
      yield* fs.makeDirectory(d, { recursive: true, mode: 0o700 })
      yield* fs.chmod(d, 0o700)
      for (const sub of [Layout.notices, Layout.sent, Layout.claims, Layout.changes, Layout.peers]) {
        yield* fs.makeDirectory(path.join(d, sub), { recursive: true, mode: 0o700 })
      }
      yield* fs.writeFileString(path.join(d, Layout.worktree), `${where.worktreePath}\n`, { mode: 0o600 })
      yield* fs.writeFileString(path.join(d, Layout.repo), `${where.repoPath}\n`, { mode: 0o600 })
      const hasState = yield* fs.exists(path.join(d, Layout.state))
      if (!hasState) yield* fs.writeFileString(path.join(d, Layout.state), "starting\n", { mode: 0o600 })
      return d
    }).pipe(Effect.mapError(ioError(id, dir(id))), Effect.withSpan("SessionFiles.create"))

  const remove = (id: SessionId) => fs.remove(dir(id), { recursive: true, force: true }).pipe(Effect.ignore)

  const state = (id: SessionId) =>
    Effect.gen(function*() {
      const file = fileOf(id, Layout.state)
      const word = yield* readLine(file)
      if (Option.isNone(word) || !(AGENT_STATES as ReadonlyArray<string>).includes(word.value.trim())) return Option.none()
      const st = yield* fs.stat(file).pipe(Effect.option)
      const since = Option.flatMap(st, (s) => s.mtime)
      return Option.map(since, (d): StateInfo => ({ state: word.value.trim() as AgentState, since: d }))
    })

  const setState = (id: SessionId, next: AgentState) =>
    Effect.gen(function*() {
      if (!(yield* exists(id))) return false
      const file = fileOf(id, Layout.state)
      const cur = yield* readLine(file)
      if (Option.isSome(cur) && cur.value.trim() === next) return false
      yield* fs.writeFileString(file, `${next}\n`, { mode: 0o600 }).pipe(Effect.mapError(ioError(id, file)))
      return true
    })

  const transcript = (id: SessionId) => readLine(fileOf(id, Layout.transcript))
  const setTranscript = (id: SessionId, p: string) =>
    Effect.gen(function*() {
      yield* writeAtomic(id, fileOf(id, Layout.transcript), `${p}\n`)
      yield* fs.writeFileString(fileOf(id, Layout.transcripts), `${p}\n`, { flag: "a", mode: 0o600 }).pipe(
        Effect.mapError(ioError(id, fileOf(id, Layout.transcripts)))
      )
    })

  const transcripts = (id: SessionId) =>
    Effect.gen(function*() {
      const list = yield* fs.readFileString(fileOf(id, Layout.transcripts)).pipe(Effect.orElseSucceed(() => ""))
      const current = yield* transcript(id)
      const all = [...list.split("\n"), ...Option.toArray(current)].filter((p) => p.startsWith("/"))
      return [...new Set(all)]
    })

  const claimOnce = (id: SessionId, key: string) =>
    Effect.gen(function*() {
      if (!(yield* exists(id))) return false
      const folder = path.join(dir(id), Layout.notified)
      yield* fs.makeDirectory(folder, { recursive: true, mode: 0o700 }).pipe(Effect.ignore)
      return yield* fs.writeFileString(path.join(folder, keyFileName(key)), "", { flag: "wx", mode: 0o600 }).pipe(
        Effect.as(true),
        Effect.orElseSucceed(() => false)
      )
    })

  const delivered = (id: SessionId, key: string) =>
    fs.exists(path.join(dir(id), Layout.sent, keyFileName(key))).pipe(Effect.orElseSucceed(() => false))

  /** Drop queued notices the hook has delivered (it cannot delete; its `sent/` marker stays for dedup). */
  const compactNotices = (id: SessionId) =>
    Effect.gen(function*() {
      const folder = path.join(dir(id), Layout.notices)
      const names = yield* fs.readDirectory(folder).pipe(Effect.orElseSucceed(() => [] as Array<string>))
      for (const name of names) {
        if (name.startsWith(".")) continue
        if (yield* fs.exists(path.join(dir(id), Layout.sent, name)).pipe(Effect.orElseSucceed(() => false))) {
          yield* fs.remove(path.join(folder, name)).pipe(Effect.ignore)
        }
      }
    })

  const addNotice = (id: SessionId, notice: Notice) =>
    Effect.gen(function*() {
      if (!(yield* exists(id))) return false
      const name = keyFileName(notice.key)
      const file = path.join(dir(id), Layout.notices, name)
      if (yield* fs.exists(path.join(dir(id), Layout.sent, name)).pipe(Effect.orElseSucceed(() => false))) return false
      if (yield* fs.exists(file).pipe(Effect.orElseSucceed(() => false))) return false
      yield* compactNotices(id)
      yield* writeAtomic(id, file, `${jsonLine(notice.text)}\n`)
      return true
    }).pipe(Effect.withSpan("SessionFiles.addNotice"))

  const pendingNotices = (id: SessionId) =>
    Effect.gen(function*() {
      const folder = path.join(dir(id), Layout.notices)
      const names = (yield* fs.readDirectory(folder).pipe(Effect.orElseSucceed(() => [] as Array<string>))).sort()
      const out: Array<Notice> = []
      for (const name of names) {
        if (name.startsWith(".")) continue
        if (yield* fs.exists(path.join(dir(id), Layout.sent, name)).pipe(Effect.orElseSucceed(() => false))) continue
        const line = yield* readLine(path.join(folder, name))
        if (Option.isSome(line)) out.push({ key: decodeURIComponent(name), text: fromJsonLine(line.value) })
      }
      return out
    })

  const setBlock = (id: SessionId, reason: string | null) =>
    reason === null || reason.trim() === ""
      ? fs.remove(fileOf(id, Layout.block), { force: true }).pipe(Effect.mapError(ioError(id, fileOf(id, Layout.block))))
      : Effect.flatMap(exists(id), (ok) => ok ? writeAtomic(id, fileOf(id, Layout.block), `${jsonLine(reason)}\n`) : Effect.void)

  const block = (id: SessionId) => Effect.map(readLine(fileOf(id, Layout.block)), Option.map(fromJsonLine))

  const linkPeer = (id: SessionId, peer: SessionId, linked: boolean) =>
    Effect.gen(function*() {
      if (peer === id) return
      const link = path.join(dir(id), Layout.peers, peer)
      if (!linked) return yield* fs.remove(link).pipe(Effect.ignore)
      if (!(yield* exists(id))) return
      yield* fs.symlink(path.join("..", "..", peer), link).pipe(Effect.ignore)
    })

  const setPeers = (id: SessionId, peers: ReadonlyArray<SessionId>) =>
    Effect.gen(function*() {
      const folder = path.join(dir(id), Layout.peers)
      const have = yield* fs.readDirectory(folder).pipe(Effect.orElseSucceed(() => [] as Array<string>))
      const want = new Set(peers.filter((p) => p !== id))
      for (const name of have) if (!want.has(name as SessionId)) yield* fs.remove(path.join(folder, name)).pipe(Effect.ignore)
      for (const p of want) if (!have.includes(p)) yield* linkPeer(id, p, true)
    })

  const setClaim = (id: SessionId, file: string, claim: { readonly expiresAt: Date; readonly refusal: string }) =>
    Effect.flatMap(exists(id), (ok) =>
      ok ? writeNested(id, Layout.claims, file, `${jsonLine(claim.refusal)}\n`, claim.expiresAt) : Effect.void)

  const setChange = (id: SessionId, file: string, news: { readonly key: string; readonly text: string }) =>
    Effect.flatMap(exists(id), (ok) =>
      ok ? writeNested(id, Layout.changes, file, `${keyFileName(news.key)}\n${jsonLine(news.text)}\n`) : Effect.void)

  const clearChanges = (id: SessionId) =>
    Effect.gen(function*() {
      const folder = path.join(dir(id), Layout.changes)
      if (!(yield* exists(id))) return
      yield* fs.remove(folder, { recursive: true, force: true }).pipe(Effect.ignore)
      yield* fs.makeDirectory(folder, { recursive: true, mode: 0o700 }).pipe(Effect.ignore)
    })

  const readEdits = (id: SessionId, offset: number) =>
    fs.readFile(fileOf(id, Layout.edits)).pipe(
      Effect.map((bytes) => {
        if (bytes.length <= offset) return { files: [] as ReadonlyArray<string>, offset: Math.min(offset, bytes.length) }
        const end = bytes.lastIndexOf(10) + 1
        if (end <= offset) return { files: [] as ReadonlyArray<string>, offset }
        const text = new TextDecoder().decode(bytes.subarray(offset, end))
        return { files: text.split("\n").filter(isRelativeFile), offset: end }
      }),
      Effect.orElseSucceed(() => ({ files: [] as ReadonlyArray<string>, offset }))
    )

  return SessionFiles.of({
    dir,
    create,
    remove,
    exists,
    state,
    setState,
    transcript,
    setTranscript,
    transcripts,
    claimOnce,
    addNotice,
    pendingNotices,
    delivered,
    setBlock,
    block,
    setPeers,
    linkPeer,
    setClaim,
    clearClaim: (id, file) => removeNested(id, Layout.claims, file),
    setChange,
    clearChange: (id, file) => removeNested(id, Layout.changes, file),
    clearChanges,
    readEdits
  })
})

/** The session directories under `<dataDir>/live/`. */
export const layer = Layer.effect(SessionFiles, make)
