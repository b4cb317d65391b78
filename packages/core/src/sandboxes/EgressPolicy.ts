/**
 * The egress policy of a sandboxed run: `on` (the network as this machine has it), `off` (none), or `allow`
 * (only the listed hosts, through a filtering proxy; everything else refused and reported). The default
 * list is what an unattended agent needs: its model API (and the endpoint its base-URL variable names) and
 * the package registries the repository uses; `--allow-host` and `sandbox.allowHosts` add to it.
 *
 * A host is `name`, `name:port`, `*.domain` (any subdomain, not the domain itself), `*.domain:port`, an
 * IPv4 address or a bracketed IPv6 address, with or without a port. Without a port, 80 and 443 are
 * allowed. Pure functions: the proxy (`local/egress`) and the checks (`RunChecks`) share them.
 *
 * @since 0.1.0
 */
import { Either } from "effect"
import type { AgentKind } from "./AgentAdapters.js"

export type NetworkMode = "on" | "off" | "allow"

export const networkModes: ReadonlyArray<NetworkMode> = ["on", "off", "allow"]

/** What a run may reach: the mode, and in `allow` mode the hosts (as given, checked). */
export interface EgressPolicy {
  readonly mode: NetworkMode
  readonly allow: ReadonlyArray<string>
}

/** One allowed host. `host` is lower case; a wildcard keeps its leading `*.`. */
export interface HostRule {
  readonly host: string
  readonly port: number | undefined
}

const label = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/

const validName = (name: string) => name.length <= 253 && name.split(".").every((l) => label.test(l))

const ipv4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/

/** Parse `HOST[:PORT]`; the reason when it is not one. */
export const parseHost = (text: string): Either.Either<HostRule, string> => {
  const t = text.trim().toLowerCase().replace(/\.$/, "")
  if (t === "") return Either.left("is empty")
  let host = t
  let portText: string | undefined
  const v6 = /^\[([0-9a-f:.]+)\](?::(\d+))?$/.exec(t)
  if (v6 !== null) {
    host = `[${v6[1]}]`
    portText = v6[2]
  } else {
    const colon = t.lastIndexOf(":")
    if (colon >= 0) {
      host = t.slice(0, colon)
      portText = t.slice(colon + 1)
    }
    const bare = host.startsWith("*.") ? host.slice(2) : host
    if (!ipv4.test(bare) && !validName(bare)) return Either.left(`${JSON.stringify(text)} is not a host name, IP address or *.domain`)
    if (host.startsWith("*.") && ipv4.test(bare)) return Either.left(`${JSON.stringify(text)}: a wildcard needs a domain name`)
  }
  if (portText === undefined) return Either.right({ host, port: undefined })
  const port = Number(portText)
  if (!/^\d+$/.test(portText) || port < 1 || port > 65_535) return Either.left(`${JSON.stringify(text)} has no valid port (1-65535)`)
  return Either.right({ host, port })
}

/** `host:port` as a person reads it. */
export const show = (host: string, port: number): string => `${host.includes(":") && !host.startsWith("[") ? `[${host}]` : host}:${port}`

/** Whether `rule` allows `host` (lower case, no trailing dot) on `port`. */
export const allows = (rule: HostRule, host: string, port: number): boolean => {
  const h = host.toLowerCase().replace(/\.$/, "")
  const name = h.includes(":") && !h.startsWith("[") ? `[${h}]` : h
  const hostOk = rule.host.startsWith("*.") ? name.endsWith(rule.host.slice(1)) && name.length > rule.host.length - 1 : name === rule.host
  const portOk = rule.port === undefined ? port === 80 || port === 443 : port === rule.port
  return hostOk && portOk
}

/** Whether any of `rules` allows `host:port`. */
export const allowed = (rules: ReadonlyArray<HostRule>, host: string, port: number): boolean => rules.some((r) => allows(r, host, port))

const loopbackNames = new Set(["localhost", "127.0.0.1", "[::1]"])

/** A rule that names this machine itself (`localhost`, `127.0.0.1`, `[::1]`): the only way to reach it. */
export const isLoopback = (rule: HostRule): boolean => loopbackNames.has(rule.host) || /^127\./.test(rule.host)

/** The model APIs of each agent (OAuth endpoints included, for the login the agent may refresh). */
export const agentHosts: Readonly<Record<AgentKind, ReadonlyArray<string>>> = {
  claude: ["api.anthropic.com", "statsig.anthropic.com", "console.anthropic.com", "claude.ai"],
  codex: ["api.openai.com", "auth.openai.com", "chatgpt.com"],
  gemini: ["generativelanguage.googleapis.com", "oauth2.googleapis.com", "cloudcode-pa.googleapis.com", "www.googleapis.com"],
  custom: []
}

/** Environment variables that move an agent's API elsewhere: their endpoint is the agent's API too. */
export const baseUrlVariables = ["ANTHROPIC_BASE_URL", "OPENAI_BASE_URL", "GOOGLE_GEMINI_BASE_URL"]

/** Files at a repository's top level that say which registries its dependencies come from. */
export const registriesByFile: ReadonlyArray<readonly [RegExp, ReadonlyArray<string>]> = [
  [/^(package\.json|package-lock\.json|npm-shrinkwrap\.json|pnpm-lock\.yaml|bun\.lockb?)$/, ["registry.npmjs.org"]],
  [/^yarn\.lock$/, ["registry.yarnpkg.com", "registry.npmjs.org"]],
  [/^(requirements.*\.txt|pyproject\.toml|setup\.py|setup\.cfg|Pipfile|Pipfile\.lock|poetry\.lock|uv\.lock)$/, ["pypi.org", "files.pythonhosted.org"]],
  [/^Cargo\.(toml|lock)$/, ["crates.io", "index.crates.io", "static.crates.io"]],
  [/^go\.(mod|sum)$/, ["proxy.golang.org", "sum.golang.org"]],
  [/^Gemfile(\.lock)?$/, ["rubygems.org", "index.rubygems.org"]],
  [/^(pom\.xml|build\.gradle(\.kts)?|settings\.gradle(\.kts)?)$/, ["repo.maven.apache.org", "repo1.maven.org", "plugins.gradle.org", "services.gradle.org"]],
  [/^composer\.(json|lock)$/, ["repo.packagist.org", "packagist.org"]],
  [/^mix\.(exs|lock)$/, ["hex.pm", "repo.hex.pm"]],
  [/^pubspec\.yaml$/, ["pub.dev"]]
]

/** The `host[:port]` of a URL, for an allow list; undefined when it is not a URL. */
export const hostOfUrl = (url: string): string | undefined => {
  try {
    const u = new URL(url)
    if (u.protocol !== "http:" && u.protocol !== "https:") return undefined
    const port = u.port !== "" ? u.port : u.protocol === "https:" ? "443" : "80"
    return `${u.hostname}:${port}`
  } catch {
    return undefined
  }
}

/**
 * The default allow list of a run: its agent's API hosts, the endpoints of the base-URL variables set in
 * `env`, the registries that the repository's top-level files (`topLevel`) point to, the registry of its
 * `.npmrc` and `--npm-registry`.
 */
export const defaults = (options: {
  readonly agent: AgentKind
  readonly env: Readonly<Record<string, string | undefined>>
  readonly topLevel: ReadonlyArray<string>
  readonly npmrc?: string | undefined
  readonly npmRegistry?: string | undefined
}): ReadonlyArray<string> => {
  const out = new Set<string>(agentHosts[options.agent])
  for (const name of baseUrlVariables) {
    const v = options.env[name]
    const h = v !== undefined && v !== "" ? hostOfUrl(v) : undefined
    if (h !== undefined) out.add(h)
  }
  for (const file of options.topLevel) {
    for (const [pattern, hosts] of registriesByFile) if (pattern.test(file)) hosts.forEach((h) => out.add(h))
  }
  const fromNpmrc = /^\s*registry\s*=\s*(\S+)/m.exec(options.npmrc ?? "")?.[1]
  for (const url of [fromNpmrc, options.npmRegistry]) {
    const h = url !== undefined ? hostOfUrl(url) : undefined
    if (h !== undefined) out.add(h)
  }
  return [...out]
}

/** Check a list of hosts; the first that is not one fails with its reason. */
export const parseAll = (hosts: ReadonlyArray<string>): Either.Either<ReadonlyArray<HostRule>, string> => {
  const out: Array<HostRule> = []
  for (const h of hosts) {
    const r = parseHost(h)
    if (Either.isLeft(r)) return Either.left(r.left)
    out.push(r.right)
  }
  return Either.right(out)
}
