/**
 * What a sandboxed agent may be given, and how: its API key or OAuth credentials, an SSH key (only when
 * confirmed), an npm token. Everything here is read on this machine before a sandbox exists; in the sandbox
 * it becomes environment variables of the agent's command or 0600 files in the sandbox user's home
 * ({@link secretFiles}), never a command-line argument, and every value is listed in `secrets` so the run's
 * redactor keeps it out of logs and the database.
 *
 * @since 0.1.0
 */
import { Effect, Option, Redacted } from "effect"
import * as path from "node:path"
import * as Agents from "./AgentAdapters.js"
import { InvalidInput } from "../Errors.js"
import * as NodeFs from "../platform/nodeFs.js"
import { type HostContext, SandboxRunError } from "./RunModel.js"
import type { SecretFile } from "./SandboxProvider.js"

/** An agent's credentials, ready for a sandbox. */
export interface Credentials {
  readonly method: Agents.AuthMethod | "none"
  readonly env: Record<string, string>
  readonly files: Array<SecretFile>
  /** Every secret value, for redaction. */
  readonly secrets: Array<string>
}

/** No credentials (a dry run, or a custom agent that needs none). */
export const none: Credentials = { method: "none", env: {}, files: [], secrets: [] }

/** Claude Code's config directory on this machine (`CLAUDE_CONFIG_DIR`, else `~/.claude`). */
const claudeConfigDir = (host: HostContext) =>
  host.env.CLAUDE_CONFIG_DIR !== undefined && host.env.CLAUDE_CONFIG_DIR !== ""
    ? host.env.CLAUDE_CONFIG_DIR
    : path.join(host.homeDir, ".claude")

/** Every string of 16 characters or more in a JSON text (tokens inside a credentials file). */
const jsonSecrets = (text: string): Array<string> => {
  const out: Array<string> = []
  const walk = (v: unknown): void => {
    if (typeof v === "string" && v.length >= 16) out.push(v)
    else if (v !== null && typeof v === "object") Object.values(v).forEach(walk)
  }
  try {
    walk(JSON.parse(text))
  } catch {
    // Not JSON: the whole text is redacted anyway.
  }
  return out
}

/**
 * The credentials `agent` needs, from the caller's environment (or Claude Code's OAuth login): `requested`
 * when given, else an API key when one is set, else OAuth for Claude-like agents, else nothing for a
 * custom agent. Fails with what to set when nothing fits.
 */
export const credentialsFor = (
  agent: Agents.Agent,
  requested: Agents.AuthMethod | undefined,
  host: HostContext
): Effect.Effect<Credentials, SandboxRunError> =>
  Effect.gen(function*() {
    const env = host.env
    const has = (n: string) => typeof env[n] === "string" && env[n] !== ""
    const credentialsFile = path.join(claudeConfigDir(host), ".credentials.json")
    const claudeLike = agent.kind === "claude" || agent.kind === "custom"
    let method: Agents.AuthMethod | "none"
    if (requested !== undefined) method = requested
    else if (agent.kind === "custom") method = "none"
    else if (Agents.credentialEnvNames(agent.kind, "api-key").some(has)) method = "api-key"
    else if (claudeLike && (has("CLAUDE_CODE_OAUTH_TOKEN") || (yield* NodeFs.exists(credentialsFile)))) method = "oauth"
    else {
      const names = Agents.credentialEnvNames(agent.kind, "api-key").join(" or ")
      return yield* new SandboxRunError({
        reason: "MissingCredentials",
        detail: agent.kind === "claude"
          ? `set ${names}, or log in to Claude Code and use --auth-method oauth (CLAUDE_CODE_OAUTH_TOKEN or ${credentialsFile})`
          : `set ${names}`
      })
    }
    const out: Credentials = { method, env: {}, files: [], secrets: [] }
    if (method === "none") return out
    if (method === "oauth" && !claudeLike) {
      return yield* new SandboxRunError({ reason: "MissingCredentials", detail: `--auth-method oauth is only supported for Claude Code; ${agent.kind} needs an API key` })
    }
    const names = Agents.credentialEnvNames(agent.kind, method)
    for (const n of names) {
      if (has(n)) {
        out.env[n] = env[n]!
        out.secrets.push(env[n]!)
      }
    }
    if (method === "oauth" && Object.keys(out.env).length === 0) {
      const text = yield* NodeFs.readText(credentialsFile).pipe(
        Effect.mapError(() =>
          new SandboxRunError({
            reason: "MissingCredentials",
            detail: `no CLAUDE_CODE_OAUTH_TOKEN and no readable ${credentialsFile}; run \`claude setup-token\` or log in to Claude Code`
          })
        )
      )
      out.files.push({ path: ".claude/.credentials.json", content: text, mode: 0o600 })
      out.secrets.push(text, ...jsonSecrets(text))
    }
    if (method === "api-key" && Object.keys(out.env).length === 0) {
      return yield* new SandboxRunError({ reason: "MissingCredentials", detail: `--auth-method api-key needs ${names.join(" or ")} in the environment` })
    }
    return out
  })

/** A private key for the agent's git over SSH, with the caller's known hosts and what to warn about. */
export interface SshKey {
  readonly content: string
  readonly knownHosts: string
  readonly warnings: ReadonlyArray<string>
}

/** Read and check `--ssh-key` (a PEM/OpenSSH private key); refused unless `confirmed`. */
export const sshKeyFor = (keyPath: string, confirmed: boolean, host: HostContext): Effect.Effect<SshKey, SandboxRunError> =>
  Effect.gen(function*() {
    const abs = path.resolve(host.cwd, keyPath)
    const bad = (detail: string) => new SandboxRunError({ reason: "SshKeyInvalid", detail })
    const st = yield* NodeFs.stat(abs).pipe(
      Effect.flatMap(Option.match({ onNone: () => Effect.fail(bad(`${abs} does not exist`)), onSome: Effect.succeed })),
      Effect.catchTag("FsFailure", () => Effect.fail(bad(`${abs} cannot be read`)))
    )
    if (!st.isFile()) return yield* bad(`${abs} is not a file`)
    if (st.size > 65_536) return yield* bad(`${abs} is too large to be a private key`)
    const content = yield* NodeFs.readText(abs).pipe(Effect.mapError(() => bad(`${abs} cannot be read`)))
    if (!/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(content) || !/-----END [A-Z0-9 ]*PRIVATE KEY-----/.test(content)) {
      return yield* bad(`${abs} is not a PEM/OpenSSH private key (a public key ends in .pub)`)
    }
    if (!confirmed) return yield* new SandboxRunError({ reason: "SshKeyNotConfirmed", detail: abs })
    const warnings = [
      `the agent can use the SSH key ${abs} for everything it opens (pushing to your repositories included); it is removed from the sandbox after the run`
    ]
    if ((st.mode & 0o077) !== 0) warnings.push(`${abs} is readable by other users (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`)
    if (/ENCRYPTED/.test(content)) warnings.push("the key looks passphrase-protected; an unattended agent cannot unlock it")
    const knownHosts = yield* NodeFs.readText(path.join(host.homeDir, ".ssh", "known_hosts")).pipe(Effect.option)
    if (Option.isNone(knownHosts)) warnings.push("no ~/.ssh/known_hosts to copy; the sandbox accepts a host's key on first use")
    return { content, knownHosts: Option.getOrElse(knownHosts, () => ""), warnings }
  })

/** The npm registry and token of a run, checked: `--npm-registry` must be https (http only for localhost). */
export interface NpmSettings {
  readonly token: string | undefined
  readonly registry: string
  /** Whether the caller gave a registry (only then is an `.npmrc` written without a token). */
  readonly registryGiven: boolean
}

export const npmSettingsFor = (
  token: Redacted.Redacted<string> | undefined,
  registry: string | undefined
): Effect.Effect<NpmSettings, InvalidInput> =>
  Effect.gen(function*() {
    const value = token !== undefined ? Redacted.value(token) : undefined
    let url = registry ?? "https://registry.npmjs.org/"
    if (value !== undefined || registry !== undefined) {
      const invalid = (detail: string) => new InvalidInput({ field: "--npm-registry", detail })
      const parsed = yield* Effect.try({ try: () => new URL(url), catch: () => invalid(`${url} is not a URL`) })
      if (parsed.protocol !== "https:" && !(parsed.protocol === "http:" && ["localhost", "127.0.0.1"].includes(parsed.hostname))) {
        return yield* invalid("must be an https:// URL (http only for localhost)")
      }
      url = parsed.toString()
    }
    return { token: value, registry: url, registryGiven: registry !== undefined }
  })

/**
 * The files and environment that carry credentials into a sandbox whose user's home is `sandboxHome`: the
 * agent's own credential files, the SSH key with its config and known hosts (`GIT_SSH_COMMAND` points git
 * at them), and an `.npmrc`. All files are 0600.
 */
export const secretFiles = (
  credentials: Credentials,
  ssh: SshKey | undefined,
  npm: NpmSettings,
  sandboxHome: string
): { readonly files: ReadonlyArray<SecretFile>; readonly env: Readonly<Record<string, string>> } => {
  const files: Array<SecretFile> = [...credentials.files]
  const env: Record<string, string> = {}
  if (ssh !== undefined) {
    const sshDir = path.posix.join(sandboxHome, ".ssh")
    files.push({ path: ".ssh/id_parallel_cc", content: ssh.content, mode: 0o600 })
    files.push({ path: ".ssh/known_hosts", content: ssh.knownHosts, mode: 0o600 })
    files.push({
      path: ".ssh/config",
      content: `Host *\n  IdentityFile ${sshDir}/id_parallel_cc\n  IdentitiesOnly yes\n  UserKnownHostsFile ${sshDir}/known_hosts\n  StrictHostKeyChecking accept-new\n`,
      mode: 0o600
    })
    env.GIT_SSH_COMMAND = `ssh -F '${sshDir}/config'`
  }
  if (npm.token !== undefined) {
    const u = new URL(npm.registry)
    const authPath = `//${u.host}${u.pathname.endsWith("/") ? u.pathname : `${u.pathname}/`}`
    files.push({ path: ".npmrc", content: `registry=${npm.registry}\n${authPath}:_authToken=${npm.token}\n`, mode: 0o600 })
  } else if (npm.registryGiven) {
    files.push({ path: ".npmrc", content: `registry=${npm.registry}\n`, mode: 0o600 })
  }
  return { files, env }
}
