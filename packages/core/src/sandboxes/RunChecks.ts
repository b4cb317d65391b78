/**
 * Step 1 of a sandboxed run: everything that can be checked before anything is created — the repository,
 * the provider, the agent and its credentials, the branch, the git identity, `--git-live`, the template,
 * the budget — resolved into a {@link Prepared} run. `Sandboxes.check` is this step alone (a parallel run
 * checks every task with it before starting any).
 *
 * @since 0.1.0
 */
import { Clock, Effect } from "effect"
import * as path from "node:path"
import * as Agents from "./AgentAdapters.js"
import { InvalidInput } from "../Errors.js"
import * as Redact from "../platform/redact.js"
import * as Credentials from "./Credentials.js"
import * as Egress from "./EgressPolicy.js"
import * as NodeFs from "../platform/nodeFs.js"
import type { RunDeps } from "./RunDeps.js"
import { autoBranchName, type HostContext, type RunRequest, SandboxRunError } from "./RunModel.js"
import { memo } from "./runCache.js"
import type { ProviderName } from "./SandboxProvider.js"
import type { BranchMode } from "./SandboxRuns.js"

/** The provider of a run: `name`, else config `sandbox.provider`; `auto` is e2b when E2B_API_KEY is set. */
export const providerFor = (deps: Pick<RunDeps, "config" | "providers">, name: ProviderName | undefined, host: HostContext): ProviderName => {
  if (name !== undefined) return name
  const setting = deps.config.values["sandbox.provider"]
  if (setting !== "auto") return setting
  const key = host.env.E2B_API_KEY
  return key !== undefined && key !== "" && deps.providers.names.includes("e2b") ? "e2b" : "local"
}

/** The git identity of the run's commits: the flags, else config `git.user`/`git.email`, else git's, else a default. */
const identityFor = (deps: RunDeps, req: RunRequest, repoPath: string) =>
  Effect.gen(function*() {
    const u = req.gitUser?.trim()
    const e = req.gitEmail?.trim()
    if ((u !== undefined && u !== "") !== (e !== undefined && e !== "")) {
      return yield* new InvalidInput({ field: "--git-user/--git-email", detail: "give both or neither" })
    }
    if (u !== undefined && u !== "" && e !== undefined && e !== "") return { name: u, email: e }
    const configured = { name: deps.config.values["git.user"], email: deps.config.values["git.email"] }
    // Both keys with one git process; the last value wins, as with `git config --get`.
    const fromGit = configured.name !== "" && configured.email !== ""
      ? Effect.succeed({ name: "", email: "" })
      : memo(
        req.cache,
        `identity\0${repoPath}`,
        deps.git.run(repoPath, ["config", "-z", "--get-regexp", "^user\\.(name|email)$"], { okExitCodes: [0, 1] }).pipe(
          Effect.map((r) => {
            const found = { name: "", email: "" }
            for (const record of r.stdout.split("\0")) {
              const nl = record.indexOf("\n")
              if (nl < 0) continue
              const key = record.slice(0, nl).toLowerCase()
              if (key === "user.name") found.name = record.slice(nl + 1).trim()
              else if (key === "user.email") found.email = record.slice(nl + 1).trim()
            }
            return found
          }),
          Effect.orElseSucceed(() => ({ name: "", email: "" }))
        )
      )
    const name = configured.name !== "" ? configured.name : (yield* fromGit).name
    const email = configured.email !== "" ? configured.email : (yield* fromGit).email
    return { name: name !== "" ? name : "parallel-cc", email: email !== "" ? email : "parallel-cc@localhost" }
  })

/** Review (no branch), `auto` (named from the prompt) or a named branch, which must not exist yet. */
const branchPlanFor = (deps: RunDeps, branch: string | undefined, prompt: string, repoPath: string) =>
  Effect.gen(function*() {
    if (branch === undefined || branch === "") return { mode: "review" as BranchMode, name: undefined as string | undefined }
    const now = new Date(yield* Clock.currentTimeMillis)
    const mode: BranchMode = branch === "auto" ? "auto" : "named"
    const name = yield* deps.git.checkBranchName(mode === "auto" ? autoBranchName(prompt, now) : branch)
    const exists = yield* deps.git.run(repoPath, ["rev-parse", "--verify", "--quiet", `refs/heads/${name}`], { okExitCodes: [0, 1] })
    if (exists.exitCode === 0) {
      return yield* new SandboxRunError({ reason: "BranchExists", detail: `the branch ${name} already exists in ${repoPath}` })
    }
    return { mode, name: name as string | undefined }
  })

/**
 * `--git-live`: a remote to push to, gh, a target branch; asks `confirmGitLive` (or warns) when other
 * sessions are active. Undefined when not asked for, or dropped on the caller's answer.
 */
const gitLiveFor = (deps: RunDeps, req: RunRequest, repoPath: string, warnings: Array<string>) =>
  Effect.gen(function*() {
    if (req.gitLive !== true || req.dryRun === true) return undefined
    const host = req.host
    const unavailable = (detail: string) => new SandboxRunError({ reason: "GitLiveUnavailable", detail })
    const remote = yield* deps.git.run(repoPath, ["remote", "get-url", "origin"], { okExitCodes: [0, 2, 128] })
    if (remote.exitCode !== 0) return yield* unavailable(`${repoPath} has no remote named origin to push to`)
    if ((yield* Agents.locate("gh", host.env.PATH)) === undefined) {
      return yield* unavailable("the GitHub CLI (gh) is not installed; install it, or run without --git-live and push yourself")
    }
    const current = yield* deps.git.run(repoPath, ["symbolic-ref", "--quiet", "--short", "HEAD"], { okExitCodes: [0, 1, 128] })
    const target = req.targetBranch ?? (current.exitCode === 0 ? current.stdout.trim() : "")
    if (target === "") return yield* unavailable("the repository is on a detached HEAD; give --target-branch")
    yield* deps.git.checkBranchName(target)
    const token = host.env.GITHUB_TOKEN ?? host.env.GH_TOKEN
    if (token === undefined || token === "") warnings.push("no GITHUB_TOKEN: gh uses its own login to open the pull request")
    const others = yield* deps.sessions.list({ repoPath })
    let go = true
    if (others.length > 0) {
      const message = `${others.length} other session(s) are active in ${repoPath}; pushing a branch and opening a pull request ` +
        `while they work may surprise them — keep the results in a worktree for review instead?`
      if (req.confirmGitLive !== undefined) go = yield* req.confirmGitLive(message)
      else warnings.push(`${others.length} other session(s) are active in this repository; the branch is pushed anyway (run without --git-live to review first)`)
    }
    if (!go) {
      warnings.push("--git-live dropped: the changes stay in a worktree for review")
      return undefined
    }
    return { target, token: token !== undefined && token !== "" ? token : undefined }
  })

/** The agent a run uses; the local provider needs its executable on this machine. */
const agentFor = (req: RunRequest, providerName: ProviderName, setting: string) =>
  Effect.gen(function*() {
    const agent = yield* Agents.find(setting, { pathEnv: req.host.env.PATH, cwd: req.host.cwd }).pipe(
      Effect.mapError((detail) => new SandboxRunError({ reason: "AgentNotFound", detail }))
    )
    if (providerName === "local" && agent.hostPath === undefined) {
      return yield* new SandboxRunError({
        reason: "AgentNotFound",
        detail: `${agent.command} is not installed on this machine (not on PATH); install it, or pass --agent PATH`
      })
    }
    return agent
  })

/**
 * The run's egress policy: the request's mode, else config `sandbox.network` (`auto`: `allow` for the
 * local provider — or the older `sandbox.local.network` when it is set —, `on` for e2b); in `allow` mode
 * the defaults for its agent and repository plus config `sandbox.allowHosts` and `--allow-host`.
 */
const networkFor = (
  deps: RunDeps,
  req: RunRequest,
  providerName: ProviderName,
  agent: Agents.Agent,
  repoPath: string,
  npmRegistry: string | undefined
) =>
  Effect.gen(function*() {
    const values = deps.config.values
    const setting = req.network ?? values["sandbox.network"]
    const legacy = deps.config.sources["sandbox.local.network"] !== "default" ? (values["sandbox.local.network"] ? "on" : "off") : "allow"
    const mode: Egress.NetworkMode = setting !== "auto" ? setting : providerName === "local" ? legacy : "on"
    const given = [...values["sandbox.allowHosts"], ...(req.allowHosts ?? [])]
    for (const h of req.allowHosts ?? []) {
      const r = Egress.parseHost(h)
      if (r._tag === "Left") return yield* new InvalidInput({ field: "--allow-host", detail: r.left })
    }
    if (mode !== "allow") {
      if ((req.allowHosts ?? []).length > 0) return yield* new InvalidInput({ field: "--allow-host", detail: `goes with --network allow (this run's network is ${mode})` })
      return { mode, allow: given }
    }
    const topLevel = yield* memo(req.cache, `toplevelfiles\0${repoPath}`, NodeFs.readDirectory(repoPath).pipe(Effect.orElseSucceed((): Array<string> => [])))
    const npmrc = yield* NodeFs.readText(path.join(repoPath, ".npmrc")).pipe(Effect.orElseSucceed(() => ""))
    const defaults = Egress.defaults({ agent: agent.kind, env: req.host.env, topLevel, npmrc, npmRegistry })
    return { mode, allow: [...new Set([...defaults, ...given])] }
  })

/** Everything that can be checked before anything is created. */
export const prepare = (deps: RunDeps, req: RunRequest) =>
  Effect.gen(function*() {
    const host = req.host
    const repoDir = path.resolve(host.cwd, req.repo)
    const repoPath = yield* memo(req.cache, `toplevel\0${repoDir}`, deps.git.toplevel(repoDir)).pipe(
      Effect.mapError((e) => (e.reason === "NotARepo" ? new InvalidInput({ field: "--repo", detail: `${req.repo} is not inside a git repository` }) : e))
    )
    const prompt = req.prompt
    if (prompt.trim() === "") return yield* new InvalidInput({ field: "prompt", detail: "is empty" })
    const providerName = providerFor(deps, req.provider, host)
    const provider = yield* deps.providers.get(providerName, { env: host.env })
    const agentSetting = req.agent ?? deps.config.values.agent
    const agent = yield* agentFor(req, providerName, agentSetting)
    const preWarnings: Array<string> = []
    const gitLive = yield* gitLiveFor(deps, req, repoPath, preWarnings)
    const plan = yield* branchPlanFor(deps, gitLive !== undefined && req.branch === undefined ? "auto" : req.branch, prompt, repoPath)
    const identity = yield* identityFor(deps, req, repoPath)
    const creds = req.dryRun === true ? Credentials.none : yield* Credentials.credentialsFor(agent, req.authMethod, host)
    const ssh = req.sshKey !== undefined ? yield* Credentials.sshKeyFor(req.sshKey, req.sshKeyConfirmed === true, host) : undefined
    const npm = yield* Credentials.npmSettingsFor(req.npmToken, req.npmRegistry)
    const network = yield* networkFor(deps, req, providerName, agent, repoPath, req.npmRegistry !== undefined ? npm.registry : undefined)
    const timeoutMs = req.timeoutMs ?? Math.round(deps.config.values["sandbox.timeoutMinutes"] * 60_000)
    const baseCommit = yield* deps.git.revParse(repoPath, "HEAD").pipe(
      Effect.mapError(() => new SandboxRunError({ reason: "NoCommit", detail: repoPath }))
    )
    const excludes = yield* memo(req.cache, `excludes\0${repoPath}`, deps.fileSync.excludes(repoPath))
    const template = req.useTemplate !== undefined ? yield* deps.templates.get(req.useTemplate) : undefined
    const budget = yield* deps.budget.limitFor(req.budgetUsd)
    const rate = providerName === "e2b" ? deps.config.values["cost.e2bUsdPerHour"] : deps.config.values["cost.localUsdPerHour"]
    const isolation = yield* provider.probe
    const redact = Redact.make([
      ...creds.secrets,
      ...(ssh !== undefined ? [ssh.content] : []),
      ...(npm.token !== undefined ? [npm.token] : []),
      ...(gitLive?.token !== undefined ? [gitLive.token] : [])
    ])
    return {
      request: req,
      host,
      repoPath,
      prompt,
      providerName,
      provider,
      agentSetting,
      agent,
      preWarnings,
      gitLive,
      plan,
      identity,
      creds,
      ssh,
      npm,
      timeoutMs,
      baseCommit,
      excludes,
      template,
      budget,
      ratePerMs: rate / 3_600_000,
      isolation,
      network,
      redact
    }
  })

/** A run, checked and resolved: what the rest of the pipeline works from. */
export type Prepared = Effect.Effect.Success<ReturnType<typeof prepare>>
