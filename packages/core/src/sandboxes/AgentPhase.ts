/**
 * The agent phase of a run, inside its sandbox: the credential files go in (and out again when the phase
 * ends, however it ends), the agent's environment is built (identity, pass-through variables, the managed
 * template's variables, credentials), the template's setup commands run, and the agent runs under
 * {@link AgentSupervisor.supervise}. A caller's agent slot wraps exactly this phase.
 *
 * @since 0.1.0
 */
import { Clock, Effect } from "effect"
import * as Agents from "./AgentAdapters.js"
import * as AgentSupervisor from "./AgentSupervisor.js"
import * as Credentials from "./Credentials.js"
import type { Prepared } from "./RunChecks.js"
import type { RunDeps } from "./RunDeps.js"
import { SandboxRunError } from "./RunModel.js"
import type { Sandbox } from "./SandboxProvider.js"
import * as Templates from "./Templates.js"

/** The agent's whole environment in `sandbox` (its credentials' variables included). */
export const agentEnvironment = (
  deps: Pick<RunDeps, "config">,
  p: Pick<Prepared, "providerName" | "host" | "agent" | "identity" | "template" | "creds">,
  sandbox: Pick<Sandbox, "home" | "workdir">,
  id: string,
  extra: Readonly<Record<string, string>>
): Record<string, string> => {
  const passed: Record<string, string> = {}
  for (const name of [...Agents.passThroughEnv(p.agent.kind), ...deps.config.values["sandbox.passEnv"]]) {
    const v = p.host.env[name]
    if (v !== undefined) passed[name] = v
  }
  const env: Record<string, string> = {
    ...(p.providerName === "local" && p.host.env.PATH !== undefined ? { PATH: p.host.env.PATH } : {}),
    LANG: p.host.env.LANG ?? "C.UTF-8",
    ...passed,
    PARALLEL_CC_SANDBOX: "1",
    PARALLEL_CC_SESSION_ID: id,
    GIT_AUTHOR_NAME: p.identity.name,
    GIT_AUTHOR_EMAIL: p.identity.email,
    GIT_COMMITTER_NAME: p.identity.name,
    GIT_COMMITTER_EMAIL: p.identity.email
  }
  if (p.template !== undefined) {
    const vars = { home: sandbox.home, workdir: sandbox.workdir, path: env.PATH ?? "/usr/local/bin:/usr/bin:/bin" }
    for (const [k, v] of Object.entries(p.template.env)) env[k] = Templates.expand(v, vars)
  }
  return Object.assign(env, p.creds.env, extra)
}

/** Run the managed template's setup commands in the sandbox; the first that fails ends the run. */
const runSetup = (p: Prepared, sandbox: Sandbox, id: string, env: Record<string, string>, hooks: AgentSupervisor.Hooks) =>
  Effect.gen(function*() {
    const template = p.template
    if (template === undefined || template.setup.length === 0) return
    const vars = { home: sandbox.home, workdir: sandbox.workdir, path: env.PATH ?? "/usr/local/bin:/usr/bin:/bin" }
    yield* hooks.log(`template ${template.name}: ${template.setup.length} setup command(s)`)
    for (const cmd of template.setup) {
      const argv = cmd.map((a) => Templates.expand(a, vars)) as unknown as readonly [string, ...Array<string>]
      const shown = argv.join(" ")
      yield* hooks.log(`setup: ${shown}`)
      yield* hooks.emit({ _tag: "SetupCommand", command: shown })
      const r = yield* sandbox.exec({ argv, env }, { timeoutMs: p.timeoutMs })
      const tail = (t: string) => t.trim().split("\n").slice(-5).join(" / ")
      if (r.stdout.trim() !== "") yield* hooks.log(`setup out: ${tail(r.stdout)}`)
      if (r.exitCode !== 0) {
        return yield* new SandboxRunError({
          reason: "SetupFailed",
          sessionId: id,
          detail: p.redact(`\`${shown}\` exited with code ${r.exitCode}${r.stderr.trim() !== "" ? `: ${tail(r.stderr)}` : ""}`)
        })
      }
    }
  })

/** Sandbox time so far, for the budget: from its creation, less the time it waited for an agent slot. */
export interface SandboxTime {
  start?: number
  end?: number
  gateAt?: number
  waited?: number
}

/** The agent phase (see the module doc); `time.waited` is set on entry. */
export const run = (deps: RunDeps, p: Prepared, sandbox: Sandbox, id: string, time: SandboxTime, hooks: AgentSupervisor.Hooks) =>
  Effect.gen(function*() {
    time.waited = (yield* Clock.currentTimeMillis) - time.gateAt!
    if (p.request.agentSlot !== undefined) yield* hooks.log(`agent slot: waited ${time.waited} ms`)
    // Credentials live in the sandbox only while the agent runs.
    const secrets = Credentials.secretFiles(p.creds, p.ssh, p.npm, sandbox.home)
    const files = secrets.files
    yield* Effect.acquireRelease(sandbox.writeSecretFiles(files), () =>
      Effect.zipRight(
        sandbox.removeSecretFiles(files),
        files.length > 0 ? hooks.log(`removed ${files.length} credential file(s) from the sandbox`) : Effect.void
      ))

    // Claude Code stops itself at its share of the budget: what is left once the sandbox time is paid for.
    const maxBudgetUsd = p.budget !== undefined ? Math.max(0.01, p.budget - p.ratePerMs * p.timeoutMs) : undefined
    const inv = Agents.invocation(p.agent, { prompt: p.prompt, isolated: sandbox.isolation.isolated, maxBudgetUsd })
    const env = agentEnvironment(deps, p, sandbox, id, { ...secrets.env, ...inv.env })
    yield* runSetup(p, sandbox, id, env, hooks)
    const exe = p.providerName === "local" ? p.agent.hostPath ?? p.agent.command : p.agent.command
    // Under a budget, the sandbox time alone must not pass it: the run stops when it would.
    const now = yield* Clock.currentTimeMillis
    const budgetMs = p.budget !== undefined && p.ratePerMs > 0
      ? Math.max(0, p.budget / p.ratePerMs - (now - (time.start ?? now) - (time.waited ?? 0)))
      : undefined
    const outcome = yield* AgentSupervisor.supervise(deps, id, sandbox, {
      argv: [exe, ...inv.args],
      env,
      stdin: inv.stdin,
      kind: p.agent.kind,
      timeoutMs: p.timeoutMs,
      budget: budgetMs !== undefined ? { ms: budgetMs, usd: p.budget! } : undefined
    }, hooks)
    // Still inside the slot: a caller can act on the outcome before the next agent takes the slot.
    yield* hooks.emit({ _tag: "AgentExited", exitCode: outcome.exit?.exitCode ?? null, signal: outcome.exit?.signal, status: outcome.status })
    return outcome
  })
