/**
 * The layout of a session's directory `<dataDir>/live/<sessionId>/` — the files that the session hook
 * (`packages/cli/hooks/session-hook.sh`) reads and writes with shell built-ins — and Effect-free readers for
 * code that must not load Effect (the `status --json` snapshot). Everything else goes through the
 * `SessionFiles` service. See docs/architecture.md, "The session directory".
 *
 * This module imports nothing but `node:fs` and `node:path` on purpose.
 *
 * @since 0.2.0
 */
import * as fs from "node:fs"
import * as nodePath from "node:path"

/** The folder of `dataDir` that holds one directory per session. */
export const LIVE_DIR = "live"

/** File and folder names inside a session's directory. */
export const Layout = {
  /** One word, the agent state; its mtime is when the state began. Written only when the state changes. */
  state: "state",
  /** The Claude Code transcript path (from a hook payload's `transcript_path`). */
  transcript: "transcript",
  /** Every transcript path the session had, one per line, appended by the hook when `transcript` changes. */
  transcripts: "transcripts",
  /** `notified/<key>`: created exclusively by the one process that notified the person of `<key>`. */
  notified: "notified",
  /** One line: the JSON-escaped reason every tool call is refused with (absent or empty: not blocked). */
  block: "block",
  /** `notices/<key>`: one line of JSON-escaped text, delivered once as hook `additionalContext`. */
  notices: "notices",
  /** `sent/<key>`: created (exclusively) by the hook that delivered the notice or news `<key>`. */
  sent: "sent",
  /** The journal of files the agent was allowed to edit: one repository-relative path per line, appended. */
  edits: "edits",
  /** `claims/<path>`: an EXCLUSIVE claim of this session; mtime = its expiry, one line = the refusal text. */
  claims: "claims",
  /** `changes/<path>`: this session changed the file; line 1 the news key, line 2 the JSON-escaped text. */
  changes: "changes",
  /** `peers/<id>`: a symlink to the directory of another live session of the same repository. */
  peers: "peers",
  /** The session's working directory (worktree or repository), one line. */
  worktree: "worktree",
  /** The repository's top level, one line. */
  repo: "repo",
  /** Rewritten by the hook before it compares claim expiries (the hook's "now"). */
  clock: "clock"
} as const

/** The states an agent can be in. */
export const AGENT_STATES = ["starting", "working", "needs-input", "idle", "exited"] as const
export type AgentStateName = (typeof AGENT_STATES)[number]

/** The directory of a session. */
export const sessionDirOf = (dataDir: string, sessionId: string): string => nodePath.join(dataDir, LIVE_DIR, sessionId)

/** Text as the body of a JSON string (no quotes), on one line: what the hook pastes into its JSON output. */
export const jsonLine = (text: string): string => JSON.stringify(text).slice(1, -1)

/** The text of a JSON-escaped line. */
export const fromJsonLine = (line: string): string => {
  try {
    const v: unknown = JSON.parse(`"${line}"`)
    return typeof v === "string" ? v : line
  } catch {
    return line
  }
}

/**
 * A notice key as a file name: letters, digits, `.`, `_` and `-` stay, every other byte becomes `%XX`
 * (so `/` never appears and the name never starts with `.`); keys longer than 200 characters keep a prefix
 * and a hash of the whole.
 */
export const keyFileName = (key: string): string => {
  let out = ""
  for (const byte of new TextEncoder().encode(key)) {
    const c = String.fromCharCode(byte)
    out += /[A-Za-z0-9_-]/.test(c) || (c === "." && out !== "") ? c : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`
  }
  if (out.length <= 200) return out
  let h1 = 0x811c9dc5
  let h2 = 0x01000193
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i)
    h1 = Math.imul(h1 ^ c, 0x01000193) >>> 0
    h2 = Math.imul(h2 ^ c, 0x5bd1e995) >>> 0
  }
  return `${out.slice(0, 180)}~${h1.toString(16).padStart(8, "0")}${h2.toString(16).padStart(8, "0")}`
}

/** The agent state of a session and since when, straight from its directory (undefined when unknown). */
export const readStateSync = (
  dataDir: string,
  sessionId: string
): { readonly state: AgentStateName; readonly since: Date } | undefined => {
  const file = nodePath.join(sessionDirOf(dataDir, sessionId), Layout.state)
  try {
    const word = fs.readFileSync(file, "utf8").trim()
    const since = fs.statSync(file).mtime
    return (AGENT_STATES as ReadonlyArray<string>).includes(word) ? { state: word as AgentStateName, since } : undefined
  } catch {
    return undefined
  }
}
