/**
 * Typed errors of parallel-cc. Every failure that can leave the library is one of these classes; each has a
 * `_tag`, an optional `reason`, and a `message` that tells a person what happened and what to do.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/** The SQLite store could not be opened, read or written. */
export class DatabaseError extends Schema.TaggedError<DatabaseError>()("DatabaseError", {
  reason: Schema.Literal(
    "Open",
    "Permissions",
    "NotADatabase",
    "Query",
    "Migration",
    "Downgrade",
    "UnknownVersion",
    "LegacySchema"
  ),
  path: Schema.String,
  detail: Schema.optional(Schema.String),
  cause: Schema.optional(Schema.Defect)
}) {
  override get message(): string {
    const hint = {
      Open: "check that the directory exists and is writable, or point PARALLEL_CC_DATA_DIR elsewhere",
      Permissions: "fix the permissions or point PARALLEL_CC_DATA_DIR at a directory you own",
      NotADatabase: "the file is not a SQLite database; move it away and parallel-cc will create a new one",
      Query: "run `parallel-cc doctor` to check the store",
      Migration: "run `parallel-cc migrate --json` to see the schema version",
      Downgrade: "migrations are forward-only; use a newer parallel-cc or another data directory",
      UnknownVersion: "run `parallel-cc migrate` without --version to reach the latest schema",
      LegacySchema: "it was created by the original parallel-cc; run `parallel-cc migrate` to import it " +
        "(the file is backed up and kept, never deleted)"
    }[this.reason]
    return `database ${this.reason}: ${this.path}${this.detail ? ` — ${this.detail}` : ""} (${hint})`
  }
}

/** Another process held the database lock for longer than the busy timeout. */
export class DatabaseBusy extends Schema.TaggedError<DatabaseBusy>()("DatabaseBusy", {
  path: Schema.String,
  busyTimeoutMs: Schema.Number,
  cause: Schema.optional(Schema.Defect)
}) {
  override get message(): string {
    return `the database ${this.path} is locked by another process (waited ${this.busyTimeoutMs} ms). ` +
      `Retry in a moment; if it stays locked, find the holder with \`fuser ${this.path}\` ` +
      `or raise db.busyTimeoutMs (PARALLEL_CC_DB_BUSY_TIMEOUT_MS).`
  }
}

/** A configuration value, key or file is invalid. Names the key and what it accepts. */
export class ConfigError extends Schema.TaggedError<ConfigError>()("ConfigError", {
  reason: Schema.Literal("UnknownKey", "InvalidValue", "FileInvalid", "FileUnreadable", "FileUnwritable"),
  key: Schema.optional(Schema.String),
  path: Schema.optional(Schema.String),
  allowed: Schema.optional(Schema.String),
  detail: Schema.optional(Schema.String)
}) {
  override get message(): string {
    switch (this.reason) {
      case "UnknownKey":
        return `unknown config key "${this.key}"${this.allowed ? `; known keys: ${this.allowed}` : ""}`
      case "InvalidValue":
        return `invalid value for config key "${this.key}"${this.detail ? ` (${this.detail})` : ""}` +
          `${this.allowed ? `; allowed: ${this.allowed}` : ""}` +
          (this.detail?.startsWith("config file") === true
            ? `; fix it with \`parallel-cc config set ${this.key} VALUE\` or \`parallel-cc config unset ${this.key}\``
            : "")
      case "FileInvalid":
        return `config file ${this.path} is not valid${this.detail ? `: ${this.detail}` : ""}; ` +
          `fix it by hand or remove it (it was left untouched)`
      case "FileUnreadable":
        return `config file ${this.path} cannot be read${this.detail ? `: ${this.detail}` : ""}`
      case "FileUnwritable":
        return `config file ${this.path} cannot be written${this.detail ? `: ${this.detail}` : ""}`
    }
  }
}

/** No session matches the given id or pid. */
export class SessionNotFound extends Schema.TaggedError<SessionNotFound>()("SessionNotFound", {
  sessionId: Schema.optional(Schema.String),
  pid: Schema.optional(Schema.Number),
  /** A session id, name or branch that matched no session. */
  ref: Schema.optional(Schema.String)
}) {
  override get message(): string {
    if (this.ref !== undefined) {
      return `no session has the id, name or branch ${JSON.stringify(this.ref)}; list sessions with \`parallel-cc status\``
    }
    const what = this.sessionId !== undefined ? `id ${this.sessionId}` : `pid ${this.pid}`
    return `no active session with ${what}; list sessions with \`parallel-cc status\``
  }
}

/**
 * A session request that conflicts with the sessions that exist: a name in use, the repository held by
 * another session when `--no-worktree` was asked for, a session to re-enter or discard that is still running
 * or has no worktree, work that `discard` would lose without `--force`, a name that matches several sessions.
 */
export class SessionConflict extends Schema.TaggedError<SessionConflict>()("SessionConflict", {
  reason: Schema.Literal("NameTaken", "RepositoryInUse", "StillRunning", "NoWorktree", "BeingReleased", "WouldLoseWork", "Ambiguous"),
  /** The session, name or branch the request was about. */
  subject: Schema.String,
  detail: Schema.optional(Schema.String)
}) {
  override get message(): string {
    const d = this.detail !== undefined && this.detail !== "" ? ` (${this.detail})` : ""
    switch (this.reason) {
      case "NameTaken":
        return `the session name ${JSON.stringify(this.subject)} is taken${d}; choose another --name, or re-enter that ` +
          `session with \`claude-parallel --session ${this.subject}\``
      case "RepositoryInUse":
        return `the repository ${this.subject} is in use by another session${d}; without --no-worktree this session ` +
          "gets its own worktree"
      case "StillRunning":
        return `session ${this.subject} is still running${d}; end its agent first`
      case "NoWorktree":
        return `session ${this.subject} has no worktree${d}`
      case "BeingReleased":
        return `session ${this.subject} is being released by another process right now${d}; try again in a moment, ` +
          "or run `parallel-cc cleanup` if that process is gone"
      case "WouldLoseWork":
        return `discarding session ${this.subject} would lose work${d}; look at it with \`parallel-cc diff ${this.subject}\`, ` +
          `or throw it away with \`parallel-cc discard ${this.subject} --force\``
      case "Ambiguous":
        return `${JSON.stringify(this.subject)} matches several sessions${d}; use a session id`
    }
  }
}

/**
 * A `worktree.setup` command failed while `worktree.setupFailure` is `stop`: the agent is not started and the
 * new worktree is removed (it held nothing but the setup's own output).
 */
export class SetupFailed extends Schema.TaggedError<SetupFailed>()("SetupFailed", {
  argv: Schema.Array(Schema.String),
  exitCode: Schema.NullOr(Schema.Number),
  /** The command's last lines of output. */
  output: Schema.String,
  /** The file with its whole output. */
  log: Schema.NullOr(Schema.String)
}) {
  override get message(): string {
    const what = this.exitCode === null ? "could not start" : `exited with code ${this.exitCode}`
    return `worktree.setup command ${JSON.stringify(this.argv)} ${what}; the agent was not started and the new worktree ` +
      `was removed${this.log !== null ? ` (whole output in ${this.log})` : ""}. Fix the command ` +
      "(`parallel-cc config set worktree.setup …`), or set worktree.setupFailure to continue"
  }
}

/** Input that fails validation before any work is done (a bad path, name or argument). */
export class InvalidInput extends Schema.TaggedError<InvalidInput>()("InvalidInput", {
  field: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `invalid ${this.field}: ${this.detail}`
  }
}

/**
 * Installing or removing the Claude Code integration (hooks, alias, MCP registration) failed. Nothing is
 * half-written: every file is replaced atomically, and a file that cannot be parsed is never touched.
 */
export class InstallError extends Schema.TaggedError<InstallError>()("InstallError", {
  reason: Schema.Literal(
    "FileInvalid",
    "FileUnreadable",
    "FileUnwritable",
    "TargetMissing",
    "NotARepo",
    "NoShell",
    "ClaudeCliFailed"
  ),
  path: Schema.optional(Schema.String),
  detail: Schema.optional(Schema.String)
}) {
  override get message(): string {
    const at = this.path !== undefined ? ` ${this.path}` : ""
    const detail = this.detail !== undefined ? `: ${this.detail}` : ""
    switch (this.reason) {
      case "FileInvalid":
        return `cannot update${at}${detail}. The file was left untouched; fix it (it must be a JSON object) ` +
          `or move it away, then run the command again`
      case "FileUnreadable":
        return `cannot read${at}${detail}. Nothing was changed; check its permissions`
      case "FileUnwritable":
        return `cannot write${at}${detail}. Nothing was changed there; check the permissions of the file and ` +
          `its directory`
      case "TargetMissing":
        return `refusing to register a path that does not work:${at}${detail}. Rebuild or reinstall parallel-cc ` +
          `(scripts/install.sh, or npm run build in a clone) and run the command again`
      case "NotARepo":
        return `${this.path ?? "the directory"} is not inside a git repository; --local installs into ` +
          `<repo>/.claude/settings.json (use --repo PATH, or --global)`
      case "NoShell":
        return `no supported shell found (${this.detail ?? "SHELL unset"}); the alias is written for bash (~/.bashrc), zsh (~/.zshrc) ` +
          `and fish (config.fish). Set SHELL, or create the rc file of your shell first`
      case "ClaudeCliFailed":
        return `the claude CLI failed (${this.detail ?? "no detail"}). Check \`claude mcp list\`, or remove the claude CLI from PATH to ` +
          `let parallel-cc write ~/.claude.json itself`
    }
  }
}
