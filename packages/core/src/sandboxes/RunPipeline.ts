/**
 * One sandboxed run from start to end: checks ({@link RunChecks.prepare}) → its session and run record →
 * the sandbox (a scoped resource: killed on every way out, or kept on purpose) → the upload → the agent
 * phase (in the caller's agent slot, if any) → its changes back on this machine → the pull request. Partial
 * changes are collected on every way out; the run's final status, costs and the `Finished` event come
 * last, so whoever waits for the status sees the sandbox released and the whole log.
 *
 * @since 0.1.0
 */
import { Cause, Clock, Effect, Exit, Fiber, Option, Ref } from "effect"
import * as path from "node:path"
import type { SessionId } from "../Domain.js"
import * as AgentPhase from "./AgentPhase.js"
import type { Hooks, Supervised } from "./AgentSupervisor.js"
import type { GitError } from "../platform/Git.js"
import { type Listed, summary, type Survey } from "./FileSync.js"
import * as PullRequests from "./PullRequests.js"
import * as RunArtifacts from "./RunArtifacts.js"
import * as RunChanges from "./RunChanges.js"
import { prepare, type Prepared } from "./RunChecks.js"
import type { RunDeps } from "./RunDeps.js"
import { type Collected, type RunEvent, type RunResult, SandboxRunError } from "./RunModel.js"
import type { Changes, Isolation, RefusedHost, Sandbox } from "./SandboxProvider.js"
import { memo } from "./runCache.js"
import type { RunPatch, RunStatus } from "./SandboxRuns.js"

/** A started run: its id and files, and how it reports. */
interface Run extends Hooks {
  readonly id: SessionId
  readonly files: RunArtifacts.RunDir
  readonly warnings: Array<string>
  /** What the egress policy refused, read before the sandbox goes. */
  readonly refused: Array<RefusedHost>
  /** The isolation of the run's sandbox, once it exists. */
  isolation: Isolation | undefined
  /** The session's worktree: where the changes go (the agent's work tree itself, on this machine). */
  readonly worktree: string
  /** The commit the worktree was checked out at. */
  readonly baseCommit: string
}

/** The session (a worktree is planned, made only when there are changes) and the run's reporting. */
const begin = (deps: RunDeps, p: Prepared, onEvent: (event: RunEvent) => Effect.Effect<void>) =>
  Effect.gen(function*() {
    const me = yield* deps.self
    // An ordinary worktree session: a fresh checkout of the base commit on the run's branch, with nothing
    // copied in from outside the repository's files (it is the agent's work tree on this machine).
    const registered = yield* deps.lifecycle.register({
      repo: p.repoPath,
      pid: me.pid,
      mode: "sandbox",
      forceWorktree: true,
      branch: p.plan.name,
      prepare: false
    }).pipe(
      Effect.mapError((e) =>
        e._tag === "DatabaseError" || e._tag === "DatabaseBusy" || e._tag === "GitError" || e._tag === "InvalidInput"
          ? e
          : new SandboxRunError({ reason: "WorktreeFailed", detail: e.message })
      )
    )
    const session = registered.session
    const id = session.sessionId
    const dir = path.join(deps.runsDir, id)
    const files = { dir, logPath: path.join(dir, "run.log"), eventsPath: path.join(dir, "events.jsonl") }
    const log = yield* RunArtifacts.logger(files.logPath, p.redact)
    const event = yield* RunArtifacts.eventWriter(files.eventsPath)
    const emit = (e: RunEvent) => onEvent(e).pipe(Effect.catchAllCause(() => Effect.void))
    const warnings: Array<string> = []
    const warn = (message: string) =>
      Effect.zipRight(Effect.sync(() => warnings.push(message)), Effect.zipRight(log(`warning: ${message}`), emit({ _tag: "Warning", message })))
    return {
      id,
      files,
      log,
      event,
      emit,
      warn,
      warnings,
      refused: [],
      isolation: undefined,
      redact: p.redact,
      worktree: session.worktreePath,
      baseCommit: session.baseCommit ?? p.baseCommit
    } satisfies Run
  })

/** The run's directory and record. */
const record = (deps: RunDeps, p: Prepared, run: Run) =>
  Effect.gen(function*() {
    const me = yield* deps.self
    yield* RunArtifacts.open(deps.runsDir, run.id).pipe(Effect.orDie)
    const req = p.request
    yield* deps.runs.create({
      sessionId: run.id,
      repoPath: p.repoPath,
      provider: p.providerName,
      agent: p.agentSetting,
      prompt: p.prompt,
      template: req.template ?? p.template?.image ?? (p.providerName === "e2b" && p.agent.kind === "claude" ? "claude" : null),
      managedTemplate: p.template?.name ?? null,
      branchMode: p.plan.mode,
      branch: p.plan.name ?? null,
      keep: req.keep === true,
      budgetUsd: p.budget ?? null,
      dryRun: req.dryRun === true,
      supervisorPid: me.pid,
      supervisorStart: me.start,
      timeoutMs: p.timeoutMs,
      logPath: run.files.logPath,
      eventsPath: run.files.eventsPath
    })
    yield* deps.runs.update(run.id, { baseCommit: run.baseCommit })
    yield* run.log(`run ${run.id}: ${p.agent.setting} on the ${p.providerName} provider, repository ${p.repoPath} at ${run.baseCommit.slice(0, 12)}`)
    yield* run.emit({ _tag: "Started", sessionId: run.id, repoPath: p.repoPath, provider: p.providerName, agent: p.agent.setting })
    for (const w of [...p.preWarnings, ...(p.ssh?.warnings ?? [])]) yield* run.warn(w)
  })

/** The sandbox, as a scoped resource: killed when the scope closes (or kept with `keep`), and recorded so. */
const openSandbox = (deps: RunDeps, p: Prepared, run: Run, time: AgentPhase.SandboxTime, inPlace: boolean) => {
  const req = p.request
  const keep = req.keep === true
  return Effect.acquireRelease(
    p.provider.create({
      runId: run.id,
      // E2B's prebuilt `claude` template has Claude Code installed; other agents need --template.
      template: req.template ?? p.template?.image ?? (p.providerName === "e2b" && p.agent.kind === "claude" ? "claude" : undefined),
      timeoutMs: p.timeoutMs + 5 * 60_000,
      env: {},
      metadata: { "parallel-cc-session": run.id, "parallel-cc-repo": path.basename(p.repoPath) },
      // The agent's own executable: visible read-only under bubblewrap, copied into a VM for a custom agent.
      hostExecutables: p.agent.hostPath !== undefined && (p.providerName === "local" || p.agent.kind === "custom") ? [p.agent.hostPath] : [],
      protect: [p.host.homeDir, p.repoPath],
      network: p.network,
      // The agent may work in the run's worktree itself (see `Upload`).
      workTree: inPlace ? run.worktree : undefined
    }).pipe(
      Effect.tap((sb) => deps.runs.update(run.id, { sandboxId: sb.id, isolation: sb.isolation.kind, sandboxState: "running" })),
      Effect.tap(() => Effect.map(Clock.currentTimeMillis, (t) => void (time.start = t)))
    ),
    (sb) =>
      Effect.zipRight(
        Effect.map(Clock.currentTimeMillis, (t) => void (time.end = t)),
        keep
          ? Effect.zipRight(deps.runs.update(run.id, { sandboxState: "kept" }), run.log(`sandbox kept: ${sb.id}`))
          : p.provider.kill(sb.id).pipe(Effect.zipRight(deps.runs.update(run.id, { sandboxState: "killed" })), Effect.zipRight(run.log("sandbox killed")))
      ).pipe(Effect.catchAllCause((c) => run.log(`could not release the sandbox: ${String(c)}`)))
  )
}

/**
 * Say what the network policy is and where it is not enforced; and read what it refused before the sandbox
 * goes (a finalizer registered after the sandbox's, so it runs first).
 */
const networkNotes = (p: Prepared, run: Run, sandbox: Sandbox) =>
  Effect.gen(function*() {
    const { allow, mode } = p.network
    yield* run.log(`network: ${mode}${mode === "allow" ? ` (${allow.join(", ")})` : ""}`)
    if (mode !== "on" && !sandbox.isolation.isolated) {
      yield* run.warn(`--network ${mode} is not enforced: the agent is not isolated (install bubblewrap)`)
    } else if (mode === "allow" && p.providerName !== "local") {
      yield* run.warn(`the ${p.providerName} provider applies the allow list itself; refused hosts are not reported`)
    }
    if (mode === "allow" && p.ssh !== undefined) yield* run.warn("git over SSH does not go through the egress proxy: use --network on with --ssh-key")
    const read = sandbox.refusedHosts
    if (read === undefined) return
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        const refused = yield* read
        run.refused.splice(0, run.refused.length, ...refused)
        for (const r of refused) yield* run.log(`network: refused ${r.host}:${r.port}${r.count > 1 ? ` (${r.count} times)` : ""}: ${r.reason}`)
        if (refused.length > 0) {
          const hosts = refused.map((r) => `${r.host}:${r.port}`)
          yield* run.warn(`the network policy refused ${hosts.slice(0, 5).join(", ")}${hosts.length > 5 ? ", …" : ""} (allow a host with --allow-host HOST[:PORT])`)
        }
      })
    )
  })

const noChanges: Changes = { archive: new Uint8Array(0), added: [], modified: [], deleted: [], refused: [] }

/**
 * What goes into the sandbox. `InPlace`: the agent works in the run's worktree (a fresh checkout of the base
 * commit), so only the repository's differences from that commit go in — nothing is listed or copied file by
 * file (`listed` only for a dry run, which verifies it). `Copy`: the listed work tree, copied as it is on this
 * machine or packed as one archive for a remote provider.
 */
type Upload =
  | { readonly _tag: "InPlace"; readonly survey: Survey; readonly listed: Listed | undefined; readonly refreshed: Fiber.Fiber<void> }
  | { readonly _tag: "Copy"; readonly listed: Listed; readonly archive: Uint8Array | undefined }

const warnSkipped = (run: Run, skipped: ReadonlyArray<string>) =>
  skipped.length === 0
    ? Effect.void
    : run.warn(`not uploaded (submodules or special files): ${skipped.slice(0, 5).join(", ")}${skipped.length > 5 ? ", …" : ""}`)

/** Decide the upload (see {@link Upload}), record its size and say so. */
const planUpload = (deps: RunDeps, p: Prepared, run: Run, surveyed: Fiber.Fiber<Survey, GitError> | undefined) =>
  Effect.gen(function*() {
    const survey = surveyed !== undefined ? yield* Fiber.join(surveyed) : undefined
    // An initialised submodule's files are uploaded with the rest, and a fresh checkout lacks them: a copy.
    if (survey !== undefined && survey.submodules.length === 0) {
      // A checkout leaves the files it wrote in its last second "racily clean": every later status of the
      // worktree (the changes, the release's inspection) would read them again. Its index is refreshed once,
      // while the sandbox is made; the baseline is copied from it after (see `local/workTree`).
      const refreshed = yield* Effect.fork(
        deps.git.run(run.worktree, ["-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false", "update-index", "-q", "--refresh"], {
          okExitCodes: [0, 1]
        }).pipe(Effect.asVoid, Effect.catchAll((e) => run.log(`could not refresh the worktree's index: ${e.message}`)))
      )
      const listed = p.request.dryRun === true ? yield* deps.fileSync.list(p.repoPath, { excludes: p.excludes }) : undefined
      yield* deps.runs.update(run.id, { uploadFiles: survey.files, uploadBytes: survey.dirtyBytes })
      yield* run.log(`${survey.files} files in the run's worktree; ${survey.dirty.length} uncommitted path(s) (${survey.dirtyBytes} bytes) to put in`)
      yield* run.emit({ _tag: "Packed", files: survey.files, bytes: survey.dirtyBytes, compressed: false, inPlace: true })
      yield* warnSkipped(run, survey.skipped)
      return { _tag: "InPlace", survey, listed, refreshed } satisfies Upload
    }
    const listed = yield* deps.fileSync.list(p.repoPath, { excludes: p.excludes })
    // A provider on this machine copies the listed files into the sandbox as they are; the others get
    // them as one compressed archive.
    const archive = p.provider.name === "local" ? undefined : yield* deps.fileSync.archive(listed)
    const bytes = archive?.length ?? listed.bytes
    yield* deps.runs.update(run.id, { uploadFiles: listed.files.length, uploadBytes: bytes })
    yield* run.log(archive !== undefined ? `packed ${listed.files.length} files (${bytes} bytes compressed)` : `listed ${listed.files.length} files (${bytes} bytes) to copy`)
    yield* run.emit({ _tag: "Packed", files: listed.files.length, bytes, compressed: archive !== undefined })
    yield* warnSkipped(run, listed.skipped)
    return { _tag: "Copy", listed, archive } satisfies Upload
  })

/** Put the work tree into the sandbox as planned; a provider that did not take the worktree gets a copy. */
const upload = (deps: RunDeps, p: Prepared, run: Run, sandbox: Sandbox, plan: Upload) =>
  Effect.gen(function*() {
    if (plan._tag === "InPlace") yield* Fiber.join(plan.refreshed)
    if (plan._tag === "InPlace" && sandbox.prepareWorkTree !== undefined) {
      yield* sandbox.prepareWorkTree(p.repoPath, plan.survey.dirty)
      yield* run.log(`the agent works in the run's worktree ${run.worktree}; ${plan.survey.dirty.length} uncommitted path(s) of the repository put in`)
      return { files: plan.survey.files }
    }
    const listed = plan.listed ?? (yield* deps.fileSync.list(p.repoPath, { excludes: p.excludes }))
    const archive = plan._tag === "Copy" ? plan.archive : undefined
    return archive === undefined && sandbox.uploadTree !== undefined
      ? yield* sandbox.uploadTree(p.repoPath, listed.files, { excludes: listed.excludes })
      : yield* sandbox.upload(archive ?? (yield* deps.fileSync.archive(listed)), { excludes: listed.excludes })
  })

/** A dry run: the sandbox must hold exactly the listed files. */
const verifyDryRun = (run: Run, sandbox: Sandbox, listed: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const present = yield* sandbox.listFiles
    const want = new Set(listed)
    const missing = listed.filter((f) => !present.includes(f))
    const extra = present.filter((f) => !want.has(f))
    if (missing.length > 0 || extra.length > 0) {
      return yield* new SandboxRunError({
        reason: "DryRunMismatch",
        sessionId: run.id,
        detail: `${missing.length} missing, ${extra.length} unexpected${missing[0] !== undefined ? ` (e.g. ${missing[0]})` : ""}`
      })
    }
    yield* run.log(`dry run: ${present.length} files verified in the sandbox; no agent started`)
  })

interface BodyResult {
  readonly status: RunStatus
  readonly error: string | undefined
  readonly collected: Collected | undefined
  readonly pr: PullRequests.PullRequestOutcome | undefined
}

/** Sandbox, upload, and (unless a dry run) the agent phase and its changes. */
const body = (deps: RunDeps, p: Prepared, run: Run, time: AgentPhase.SandboxTime, surveyed: Fiber.Fiber<Survey, GitError> | undefined) =>
  Effect.gen(function*() {
    yield* record(deps, p, run)
    const plan = yield* planUpload(deps, p, run, surveyed)
    const sandbox = yield* openSandbox(deps, p, run, time, plan._tag === "InPlace")
    run.isolation = sandbox.isolation
    yield* run.log(`sandbox ${sandbox.id} (${sandbox.isolation.description})`)
    yield* run.emit({ _tag: "SandboxReady", sandboxId: sandbox.id, isolation: sandbox.isolation })
    if (!sandbox.isolation.isolated) yield* run.warn(`the agent is not isolated: ${sandbox.isolation.description}`)
    yield* networkNotes(p, run, sandbox)
    const uploaded = yield* upload(deps, p, run, sandbox, plan)
    yield* run.log(`uploaded ${uploaded.files} entries`)
    yield* run.emit({ _tag: "Uploaded", files: uploaded.files })

    if (p.request.dryRun === true) {
      // Nothing of the repository's stays in the run's worktree, whatever the check found: it goes at release.
      const settleDry = sandbox.settleWorkTree?.(noChanges).pipe(
        Effect.catchAll((e) => run.log(`could not settle the run's worktree: ${e.message}`))
      ) ?? Effect.void
      const listed = plan.listed ?? (yield* deps.fileSync.list(p.repoPath, { excludes: p.excludes }))
      yield* verifyDryRun(run, sandbox, listed.files).pipe(Effect.ensuring(settleDry))
      return { status: "succeeded", error: undefined, collected: undefined, pr: undefined } satisfies BodyResult
    }

    // Partial changes are collected on every way out; registered after the sandbox, so this runs first.
    const collected = yield* Ref.make<Option.Option<Collected>>(Option.none())
    const collectOnce = (commit: boolean) =>
      Effect.gen(function*() {
        const done = yield* Ref.get(collected)
        if (Option.isSome(done)) return done.value
        const current = yield* deps.runs.get(run.id).pipe(Effect.orDie)
        const c = yield* RunChanges.collect(deps, current, sandbox, { commit, identity: p.identity, redact: p.redact })
        yield* Ref.set(collected, Option.some(c))
        return c
      })
    yield* Effect.addFinalizer((exit) =>
      Exit.isSuccess(exit)
        ? Effect.void
        : collectOnce(false).pipe(
          Effect.tap((c) => run.log(`partial changes collected: ${summary(c.changes)}${c.worktreePath !== null ? ` in ${c.worktreePath}` : ""}`)),
          Effect.catchAllCause((cause) => run.log(`could not collect partial changes: ${String(cause)}`)),
          Effect.asVoid
        )
    )

    // The agent phase, inside the caller's agent slot if it gave one: the slot is released when the agent
    // has exited, before the changes are collected.
    time.gateAt = yield* Clock.currentTimeMillis
    const phase = AgentPhase.run(deps, p, sandbox, run.id, time, run)
    const outcome: Supervised = yield* (p.request.agentSlot !== undefined ? p.request.agentSlot(phase) : phase)
    yield* deps.runs.update(run.id, {
      exitCode: outcome.exit?.exitCode ?? null,
      resultSubtype: outcome.result?.subtype ?? null,
      isError: outcome.result?.isError ?? null,
      numTurns: outcome.result?.numTurns !== undefined ? Math.round(outcome.result.numTurns) : null,
      costUsd: outcome.result?.costUsd ?? null,
      agentDurationMs: outcome.result?.durationMs ?? null
    })
    const c = yield* collectOnce(outcome.status === "succeeded" && p.plan.mode !== "review")
    yield* run.log(
      `changes: ${summary(c.changes)}${c.worktreePath !== null ? ` in ${c.worktreePath} (branch ${c.branch})` : ""}` +
        `${c.commit !== null ? `, committed ${c.commit.slice(0, 12)}` : ""}`
    )
    for (const r of c.refused) yield* run.warn(`refused ${r.path}: ${r.reason}`)
    yield* run.emit({ _tag: "ChangesApplied", changes: c.changes, worktreePath: c.worktreePath, branch: c.branch })
    const pr = yield* publish(deps, p, run, c)
    return { status: outcome.status, error: outcome.error, collected: c, pr } satisfies BodyResult
  })

/** `--git-live`: push the committed branch and open the pull request. */
const publish = (deps: RunDeps, p: Prepared, run: Run, c: Collected) =>
  Effect.gen(function*() {
    if (p.gitLive === undefined) return undefined
    if (c.commit === null || c.worktreePath === null || c.branch === null) {
      yield* run.warn("--git-live: nothing was committed, so nothing was pushed")
      return undefined
    }
    const pr = yield* PullRequests.open(deps.git, deps.executor, {
      worktreePath: c.worktreePath,
      branch: c.branch,
      target: p.gitLive.target,
      prompt: p.prompt,
      id: run.id,
      agent: p.agent.setting,
      redact: p.redact
    })
    yield* (pr.url !== null ? run.log(`pull request: ${pr.url}`) : run.warn(`--git-live: ${pr.error}`))
    if (pr.url !== null) yield* deps.runs.update(run.id, { pullRequestUrl: pr.url })
    yield* run.emit({ _tag: "PullRequest", url: pr.url, error: pr.error })
    return pr
  })

const squashMessage = (cause: Cause.Cause<unknown>): string => {
  const failure = Option.getOrUndefined(Cause.failureOption(cause))
  if (failure !== undefined && failure !== null && typeof failure === "object" && "message" in failure) {
    return String((failure as { message: unknown }).message)
  }
  return Cause.pretty(cause).split("\n")[0] ?? "failed"
}

/** The sandbox's billed time (less any wait for an agent slot) at the provider's rate, added to the agent's cost. */
export const costsOf = (time: AgentPhase.SandboxTime, now: number, ratePerMs: number, agentCostUsd: number | null): RunPatch => {
  if (time.start === undefined) return {}
  const end = time.end ?? now
  // Interrupted while still waiting for its slot: it waited until the end.
  const waited = time.waited ?? (time.gateAt !== undefined ? end - time.gateAt : 0)
  const billed = Math.max(0, end - time.start - waited)
  const providerCostUsd = Math.round(billed * ratePerMs * 1e6) / 1e6
  return {
    providerSeconds: Math.round(billed) / 1000,
    providerCostUsd,
    totalCostUsd: Math.round(((agentCostUsd ?? 0) + providerCostUsd) * 1e6) / 1e6
  }
}

/** The run's final record: status, error, costs; then `Finished`. Never fails. */
const settle = (deps: RunDeps, p: Prepared, run: Run, time: AgentPhase.SandboxTime, exit: Exit.Exit<BodyResult, unknown>) =>
  Effect.gen(function*() {
    // The status becomes final last, so whoever waits for it (`sandbox kill`, `logs --follow`) sees the
    // sandbox released and the whole log.
    // Released like any session: its worktree goes when it holds nothing (no changes, a dry run), else it is
    // kept, listed by `status` and looked at again by `cleanup`.
    yield* deps.lifecycle.release({ sessionId: run.id }).pipe(
      Effect.tap((released) => Effect.forEach(released, (r) => run.log(`worktree ${r.worktreePath}: ${r.worktree}${r.kept !== null ? ` (${r.kept.detail})` : ""}`))),
      Effect.catchAll((e) => run.log(`could not release the session: ${e.message}`))
    )
    const cur = yield* deps.runs.get(run.id).pipe(Effect.option)
    if (Option.isNone(cur)) return
    let status: RunStatus
    let error: string | null
    if (Exit.isSuccess(exit)) {
      status = exit.value.status
      error = exit.value.error ?? null
    } else {
      const interrupted = Exit.isInterrupted(exit)
      const failure = Option.getOrUndefined(Exit.causeOption(exit))
      status = interrupted ? "interrupted" : "failed"
      error = interrupted ? "interrupted" : failure !== undefined ? squashMessage(failure) : "failed"
      yield* run.log(interrupted ? "interrupted" : `failed: ${error}`)
    }
    const costs = costsOf(time, yield* Clock.currentTimeMillis, p.ratePerMs, cur.value.costUsd)
    if (p.budget !== undefined && typeof costs.totalCostUsd === "number" && costs.totalCostUsd > p.budget) {
      yield* run.log(`warning: the run cost $${costs.totalCostUsd.toFixed(4)}, more than its budget of $${p.budget.toFixed(4)}`)
    }
    yield* run.log(`finished: ${status}; sandbox ${cur.value.sandboxState}`)
    const now = yield* Clock.currentTimeMillis
    yield* deps.runs.update(run.id, {
      ...costs,
      ...(error !== null ? { error: p.redact(error) } : { error }),
      status,
      endedAt: new Date(now)
    })
    yield* run.emit({ _tag: "Finished", status })
  }).pipe(Effect.catchAllCause(() => Effect.void))

/** Run one prompt in one sandbox (see the module doc). */
export const run = (deps: RunDeps, req: Parameters<typeof prepare>[1], onEvent: (event: RunEvent) => Effect.Effect<void> = () => Effect.void) =>
  Effect.gen(function*() {
    const p = yield* prepare(deps, req)
    // On this machine the agent may work in the run's worktree: what it lacks is surveyed while the
    // session's worktree is being checked out (reading the repository, writing only the new worktree).
    // Runs started together from the same commit (a parallel run's tasks) share one survey: they start from
    // the repository as it was when the first of them looked (the files themselves are read by each).
    const surveyed = p.provider.name === "local"
      ? yield* Effect.fork(memo(req.cache, `survey\0${p.repoPath}\0${p.baseCommit}`, deps.fileSync.survey(p.repoPath)))
      : undefined
    const r = yield* begin(deps, p, onEvent)
    const time: AgentPhase.SandboxTime = {}
    const result = yield* Effect.scoped(body(deps, p, r, time, surveyed)).pipe(Effect.onExit((exit) => settle(deps, p, r, time, exit)))
    const final = yield* deps.runs.get(r.id).pipe(Effect.orDie)
    const c = result.collected
    return {
      run: final,
      isolation: r.isolation ?? p.isolation,
      changes: c?.changes ?? { added: [], modified: [], deleted: [] },
      refused: c?.refused ?? [],
      worktreePath: c?.worktreePath ?? null,
      branch: c?.branch ?? null,
      commit: c?.commit ?? null,
      pullRequestUrl: result.pr?.url ?? null,
      gitLiveError: result.pr?.error ?? null,
      warnings: r.warnings,
      network: p.network,
      refusedHosts: r.refused
    } satisfies RunResult
  })
