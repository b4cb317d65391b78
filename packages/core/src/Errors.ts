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
          `${this.allowed ? `; allowed: ${this.allowed}` : ""}`
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
  pid: Schema.optional(Schema.Number)
}) {
  override get message(): string {
    const what = this.sessionId !== undefined ? `id ${this.sessionId}` : `pid ${this.pid}`
    return `no active session with ${what}; list sessions with \`parallel-cc status\``
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
