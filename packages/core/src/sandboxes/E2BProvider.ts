/**
 * The `e2b` sandbox provider: a cloud VM per run through the `e2b` SDK (loaded only when this provider is
 * used, so no other command pays for it). The API key comes from the caller's `E2B_API_KEY`.
 *
 * In the VM: the work tree copy is `$HOME/workspace`, parallel-cc's own files are in `$HOME/.parallel-cc`
 * (0700): the uploaded baseline as a separate git directory, the prompt file (0600), the agent's pid, and
 * a copy of its stdout (`agent.out`, for whoever connects later). The agent runs in the background
 * with its stdout/stderr streamed back; its prompt is redirected from the prompt file, and its credentials
 * travel in the command's environment, so neither is ever on a command line. The VM's own timeout is set a
 * little beyond the run's, so an orphaned sandbox dies by itself.
 *
 * Commands run through the SDK, which starts them with `bash -l -c`: every argument is single-quoted.
 *
 * @since 0.1.0
 */
import { Effect, Option, Queue, Stream } from "effect"
import * as path from "node:path"
import * as NodeFs from "../platform/nodeFs.js"
import type { EgressPolicy } from "./EgressPolicy.js"
import {
  type AgentProcess,
  type Changes,
  type CreateOptions,
  type Isolation,
  type ProcessExit,
  type ProviderContext,
  type Sandbox,
  type SandboxCommand,
  SandboxError,
  type SandboxInfo,
  SandboxNotFound,
  type SandboxProvider,
  type SandboxState,
  type SecretFile
} from "./SandboxProvider.js"

// ---------------------------------------------------------------------------------------------------
// The part of the e2b SDK this provider uses (checked against the real package's types in
// test/E2BProvider.test.ts; the testkit's contract double implements the same surface).

export interface E2BCommandResult {
  readonly exitCode: number
  readonly stdout: string
  readonly stderr: string
  readonly error?: string | undefined
}

export interface E2BCommandHandle {
  readonly pid: number
  wait(): Promise<E2BCommandResult>
  kill(): Promise<boolean>
}

export interface E2BRunOptions {
  readonly cwd?: string
  readonly envs?: Record<string, string>
  readonly timeoutMs?: number
  readonly onStdout?: (data: string) => void | Promise<void>
  readonly onStderr?: (data: string) => void | Promise<void>
}

export interface E2BSandbox {
  readonly sandboxId: string
  readonly commands: {
    run(cmd: string, opts?: E2BRunOptions & { background?: false }): Promise<E2BCommandResult>
    run(cmd: string, opts: E2BRunOptions & { background: true }): Promise<E2BCommandHandle>
    list(): Promise<ReadonlyArray<{ readonly pid: number }>>
  }
  readonly files: {
    write(path: string, data: string | ArrayBuffer): Promise<unknown>
    read(path: string, opts: { format: "bytes" }): Promise<Uint8Array>
  }
}

export interface E2BSandboxInfo {
  readonly sandboxId: string
  readonly metadata: Record<string, string>
  readonly startedAt: Date
  readonly state: string
}

export interface E2BConnection {
  readonly apiKey: string
}

/** The e2b module, as far as parallel-cc uses it. */
export interface E2BModule {
  readonly Sandbox: {
    create(template: string, opts: E2BConnection & {
      readonly timeoutMs: number
      readonly envs?: Record<string, string>
      readonly metadata?: Record<string, string>
      readonly allowInternetAccess?: boolean
      readonly network?: { readonly allowOut?: Array<string>; readonly denyOut?: Array<string> }
    }): Promise<E2BSandbox>
    connect(sandboxId: string, opts: E2BConnection): Promise<E2BSandbox>
    kill(sandboxId: string, opts: E2BConnection): Promise<boolean>
    list(opts: E2BConnection & { readonly query?: { readonly metadata?: Record<string, string> } }): {
      readonly hasNext: boolean
      nextItems(): Promise<Array<E2BSandboxInfo>>
    }
  }
}

/** Load the real SDK (a dynamic import, so nothing loads it unless an e2b sandbox is used). */
export const loadSdk = (): Promise<E2BModule> => import("e2b") as unknown as Promise<E2BModule>

// ---------------------------------------------------------------------------------------------------

/** The metadata key that marks sandboxes parallel-cc created. */
export const marker = "parallel-cc"

const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`
const sh = (argv: ReadonlyArray<string>): string => argv.map(q).join(" ")

const errorName = (e: unknown): string =>
  e !== null && typeof e === "object" && typeof (e as { name?: unknown }).name === "string" ? (e as { name: string }).name : ""

const errorMessage = (e: unknown): string => (e instanceof Error ? e.message : String(e))

const isNotFound = (e: unknown) => ["SandboxNotFoundError", "NotFoundError"].includes(errorName(e))

/** Map an SDK failure to a SandboxError, by the SDK's error class names. */
export const mapError = (e: unknown, fallback: SandboxError["reason"], sandboxId?: string): SandboxError => {
  const name = errorName(e)
  const reason: SandboxError["reason"] = name === "AuthenticationError"
    ? "Authentication"
    : name === "RateLimitError"
    ? "RateLimited"
    : name === "TimeoutError"
    ? "Timeout"
    : name === "ServiceBusyError"
    ? "Unavailable"
    : name === "SandboxNotFoundError" || name === "NotFoundError"
    ? "Died"
    : fallback
  const detail = name === "ServiceBusyError"
    ? `E2B has no capacity right now (${errorMessage(e)}); retry in a while`
    : reason === "Died"
    ? `the sandbox is gone (${errorMessage(e)})`
    : errorMessage(e)
  const transient = name === "ServiceBusyError" ? { transient: true } : {}
  return new SandboxError({ reason, provider: "e2b", detail, ...transient, ...(sandboxId !== undefined ? { sandboxId } : {}), cause: e })
}

const exitOf = (e: unknown): E2BCommandResult | undefined => {
  if (errorName(e) !== "CommandExitError") return undefined
  const x = e as { exitCode?: unknown; stdout?: unknown; stderr?: unknown }
  return {
    exitCode: typeof x.exitCode === "number" ? x.exitCode : 1,
    stdout: typeof x.stdout === "string" ? x.stdout : "",
    stderr: typeof x.stderr === "string" ? x.stderr : ""
  }
}

interface Paths {
  readonly home: string
  readonly pcc: string
  readonly work: string
  readonly git: string
}

const pathsFor = (home: string): Paths => {
  const pcc = `${home}/.parallel-cc`
  return { home, pcc, work: `${home}/workspace`, git: `${pcc}/baseline.git` }
}

/** Environment for parallel-cc's own git calls in the VM: no user config, no hooks. */
const gitPrefix = "export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1 GIT_TERMINAL_PROMPT=0; "
const gitArgs = (p: Paths) =>
  sh(["git", "-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false", "-c", "core.quotepath=false", "--git-dir", p.git, "--work-tree", p.work])

/** What an E2B sandbox isolates. */
export const isolationOf = (template: string): Isolation => ({
  kind: "e2b",
  isolated: true,
  description: `E2B cloud VM (template ${template}): the agent cannot reach this machine`
})


/** The {@link Sandbox} over one VM: its work tree copy, its baseline, its agent. */
const wrap = (raw: E2BSandbox, paths: Paths, template: string, executables: ReadonlyArray<string>): Sandbox => {
  const id = raw.sandboxId
  const run = (cmd: string, opts: E2BRunOptions = {}) =>
    Effect.tryPromise({ try: () => raw.commands.run(cmd, opts), catch: (e) => e }).pipe(
      Effect.catchAll((e) => {
        const exit = exitOf(e)
        return exit !== undefined ? Effect.succeed(exit) : Effect.fail(mapError(e, "CommandFailed", id))
      })
    )
  const runOk = (cmd: string, what: string, reason: SandboxError["reason"] = "CommandFailed", opts: E2BRunOptions = {}) =>
    Effect.flatMap(run(cmd, opts), (r) =>
      r.exitCode === 0
        ? Effect.succeed(r)
        : Effect.fail(new SandboxError({ reason, provider: "e2b", sandboxId: id, detail: `${what} (exit ${r.exitCode}): ${r.stderr.trim().split("\n").slice(-3).join(" / ")}` })))
  const write = (file: string, data: string | Uint8Array, reason: SandboxError["reason"]) =>
    Effect.tryPromise({
      try: () => raw.files.write(file, typeof data === "string" ? data : data.slice().buffer as ArrayBuffer),
      catch: (e) => mapError(e, reason, id)
    })
  const remoteExe = (hostPath: string) => `${paths.pcc}/bin/${path.basename(hostPath)}`

  const upload = (archive: Uint8Array, options: { readonly excludes?: string | undefined } = {}) =>
    Effect.gen(function*() {
      const file = `${paths.pcc}/upload.tar.gz`
      yield* write(file, archive, "UploadFailed")
      yield* write(`${paths.pcc}/exclude`, options.excludes ?? "", "UploadFailed")
      const r = yield* runOk(
        "set -e; " + gitPrefix +
          `mkdir -p ${q(paths.work)}; tar -xzf ${q(file)} -C ${q(paths.work)}; ` +
          `n=$(tar -tzf ${q(file)} | grep -vc '/$' || true); rm -f ${q(file)}; ` +
          `git init -q --bare ${q(paths.git)}; cp ${q(`${paths.pcc}/exclude`)} ${q(`${paths.git}/info/exclude`)}; ` +
          `GIT_INDEX_FILE=${q(`${paths.pcc}/baseline.index`)} ${gitArgs(paths)} add -A -f -- . ; ` +
          `GIT_INDEX_FILE=${q(`${paths.pcc}/baseline.index`)} ${gitArgs(paths)} write-tree > ${q(`${paths.pcc}/baseline-tree`)}; ` +
          `echo "$n"`,
        "unpacking the work tree (the template needs tar and git)",
        "UploadFailed",
        { timeoutMs: 600_000 }
      )
      return { files: Number(r.stdout.trim().split("\n").pop() ?? "0") || 0 }
    })

  const listFiles = Effect.map(
    runOk(`cd ${q(paths.work)} && find . \\( -type f -o -type l \\) -print0`, "listing files"),
    (r) => r.stdout.split("\0").filter((p) => p !== "").map((p) => p.replace(/^\.\//, "")).sort()
  )

  const writeSecretFiles = (files: ReadonlyArray<SecretFile>) =>
    Effect.gen(function*() {
      const out: Array<string> = []
      for (const f of files) {
        const full = `${paths.home}/${f.path}`
        // The directory first (0700), so the file is never readable by others, then the content over the API.
        yield* runOk(`umask 077 && mkdir -p ${q(path.posix.dirname(full))} && : > ${q(full)} && chmod ${f.mode.toString(8)} ${q(full)}`, "preparing a credential file", "UploadFailed")
        yield* write(full, f.content, "UploadFailed")
        yield* runOk(`chmod ${f.mode.toString(8)} ${q(full)}`, "protecting a credential file", "UploadFailed")
        out.push(full)
      }
      return out
    })

  const removeSecretFiles = (files: ReadonlyArray<SecretFile>) =>
    files.length === 0
      ? Effect.void
      : run(`rm -f -- ${files.map((f) => q(`${paths.home}/${f.path}`)).join(" ")}`).pipe(Effect.ignore)

  const commandLine = (command: SandboxCommand) => {
    const [exe, ...rest] = command.argv
    const argv0 = executables.includes(exe) ? remoteExe(exe) : exe
    return sh([argv0, ...rest])
  }

  const exec = (command: SandboxCommand, options: { readonly timeoutMs?: number | undefined } = {}) =>
    Effect.gen(function*() {
      let redirect = ""
      if (command.stdin !== undefined) {
        const input = `${paths.pcc}/stdin-${globalThis.crypto.randomUUID()}`
        yield* write(input, command.stdin, "CommandFailed")
        redirect = ` < ${q(input)}`
      }
      const r = yield* run(`cd ${q(command.cwd ?? paths.work)} && ${commandLine(command)}${redirect}`, {
        envs: { ...command.env },
        timeoutMs: options.timeoutMs ?? 600_000
      })
      return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr }
    })

  const start = (command: SandboxCommand) =>
    Effect.gen(function*() {
      const prompt = `${paths.pcc}/prompt.txt`
      yield* runOk(`umask 077 && : > ${q(prompt)}`, "preparing the prompt file")
      yield* write(prompt, command.stdin ?? "", "CommandFailed")
      const out = yield* Queue.unbounded<Option.Option<string>>()
      const err = yield* Queue.unbounded<Option.Option<string>>()
      // A pipeline (which bash waits for as a whole) keeps a copy of stdout in the VM; pipefail keeps the agent's exit code.
      const cmd = `set -o pipefail; cd ${q(command.cwd ?? paths.work)} && ${commandLine(command)} < ${q(prompt)}` +
        ` | tee -a ${q(`${paths.pcc}/agent.out`)}`
      const handle = yield* Effect.tryPromise({
        try: () =>
          raw.commands.run(cmd, {
            background: true,
            envs: { ...command.env },
            timeoutMs: 0,
            onStdout: (d) => void Queue.unsafeOffer(out, Option.some(d)),
            onStderr: (d) => void Queue.unsafeOffer(err, Option.some(d))
          }),
        catch: (e) => mapError(e, "CommandFailed", id)
      })
      yield* write(`${paths.pcc}/agent.pid`, String(handle.pid), "CommandFailed").pipe(Effect.ignore)
      const waited = handle.wait().then(
        (r): { ok: true; exit: ProcessExit } => ({ ok: true, exit: { exitCode: r.exitCode } }),
        (e: unknown): { ok: true; exit: ProcessExit } | { ok: false; error: SandboxError } => {
          const x = exitOf(e)
          return x !== undefined ? { ok: true, exit: { exitCode: x.exitCode } } : { ok: false, error: mapError(e, "Died", id) }
        }
      ).finally(() => {
        Queue.unsafeOffer(out, Option.none())
        Queue.unsafeOffer(err, Option.none())
      })
      const exit = Effect.flatMap(Effect.promise(() => waited), (r) => (r.ok ? Effect.succeed(r.exit) : Effect.fail(r.error)))
      const done = { value: false }
      void waited.then(() => (done.value = true))
      const kill = Effect.suspend(() =>
        done.value ? Effect.void : Effect.promise(() => handle.kill().catch(() => false)).pipe(Effect.asVoid)
      )
      yield* Effect.addFinalizer(() => kill)
      const lines = (queue: Queue.Queue<Option.Option<string>>) =>
        Stream.fromQueue(queue).pipe(Stream.takeWhile(Option.isSome), Stream.map((o) => o.value), Stream.splitLines)
      return { pid: handle.pid, stdout: lines(out), stderr: lines(err), exit, kill } satisfies AgentProcess
    })

  const changes: Effect.Effect<Changes, SandboxError> = Effect.gen(function*() {
    const index = `${paths.pcc}/changes-${globalThis.crypto.randomUUID()}.index`
    const diff = yield* runOk(
      "set -e; " + gitPrefix + `T=$(cat ${q(`${paths.pcc}/baseline-tree`)}); export GIT_INDEX_FILE=${q(index)}; ` +
        `${gitArgs(paths)} read-tree "$T"; ${gitArgs(paths)} add -A -- . ; ` +
        `${gitArgs(paths)} diff-index --cached --no-renames --name-status -z "$T"; rm -f ${q(index)}`,
      "listing the changes",
      "DownloadFailed"
    )
    const fields = diff.stdout.split("\0")
    const added: Array<string> = []
    const modified: Array<string> = []
    const deleted: Array<string> = []
    for (let i = 0; i + 1 < fields.length; i += 2) {
      const status = fields[i]!.trim()
      const p = fields[i + 1]!
      if (status === "A") added.push(p)
      else if (status === "D") deleted.push(p)
      else modified.push(p)
    }
    const list = `${paths.pcc}/changes.list`
    const archive = `${paths.pcc}/changes.tar.gz`
    yield* write(list, [...added, ...modified].map((p) => `${p}\0`).join(""), "DownloadFailed")
    yield* runOk(
      `tar -czf ${q(archive)} -C ${q(paths.work)} --null --no-recursion -T ${q(list)}`,
      "packing the changes",
      "DownloadFailed"
    )
    const bytes = yield* Effect.tryPromise({
      try: () => raw.files.read(archive, { format: "bytes" }),
      catch: (e) => mapError(e, "DownloadFailed", id)
    })
    return { archive: new Uint8Array(bytes), added, modified, deleted, refused: [] }
  })

  return {
    provider: "e2b",
    id,
    isolation: isolationOf(template),
    workdir: paths.work,
    home: paths.home,
    upload,
    listFiles,
    writeSecretFiles,
    removeSecretFiles,
    exec,
    start,
    changes
  }
}


/**
 * The egress policy as the SDK's options: `off` is no internet access; `allow` denies all outbound traffic
 * but the allowed hosts (E2B filters by name or address, without ports); `on` (or none) leaves the VM's
 * network as E2B gives it.
 */
export const networkOptions = (policy: EgressPolicy | undefined) => {
  if (policy === undefined || policy.mode === "on") return {}
  if (policy.mode === "off") return { allowInternetAccess: false }
  const hosts = [...new Set(policy.allow.map((h) => h.replace(/:\d+$/, "").replace(/^\[(.*)\]$/, "$1")))]
  return { network: { denyOut: ["0.0.0.0/0"], allowOut: hosts } }
}

/** The e2b provider for one caller (whose environment carries E2B_API_KEY). */
export const provider = (load: () => Promise<E2BModule>, context: ProviderContext): SandboxProvider => {
  const apiKey = context.env.E2B_API_KEY ?? ""
  let sdk: Promise<E2BModule> | undefined
  const getSdk = Effect.tryPromise({
    try: () => (sdk ??= load()),
    catch: (e) => new SandboxError({ reason: "Unavailable", provider: "e2b", detail: `the e2b package cannot be loaded: ${errorMessage(e)}` })
  })
  const call = <A>(f: (m: E2BModule) => Promise<A>, fallback: SandboxError["reason"], sandboxId?: string) =>
    Effect.flatMap(getSdk, (m) => Effect.tryPromise({ try: () => f(m), catch: (e) => mapError(e, fallback, sandboxId) }))

  const needKey = apiKey === ""
    ? Effect.fail(new SandboxError({
      reason: "Unavailable",
      provider: "e2b",
      detail: "E2B_API_KEY is not set (get a key at e2b.dev, or use --provider local, which needs no account)"
    }))
    : Effect.void

  const probe = Effect.zipRight(needKey, Effect.as(getSdk, isolationOf("default")))

  const homeOf = (raw: E2BSandbox) =>
    Effect.tryPromise({ try: () => raw.commands.run(`printf %s "$HOME"`), catch: (e) => mapError(e, "CreateFailed", raw.sandboxId) }).pipe(
      Effect.map((r) => (r.stdout.trim() !== "" ? r.stdout.trim() : "/home/user"))
    )

  const create = (options: CreateOptions) =>
    Effect.gen(function*() {
      yield* needKey
      const template = options.template ?? "base"
      const raw = yield* call((m) =>
        m.Sandbox.create(template, {
          apiKey,
          timeoutMs: options.timeoutMs,
          envs: { ...options.env },
          metadata: { ...options.metadata, [marker]: "1", "parallel-cc-run": options.runId },
          ...networkOptions(options.network)
        }), "CreateFailed")
      const paths = pathsFor(yield* homeOf(raw))
      const executables = options.hostExecutables ?? []
      const sb = wrap(raw, paths, template, executables)
      const setup = Effect.gen(function*() {
        const r = yield* Effect.tryPromise({
          try: () => raw.commands.run(`umask 077 && mkdir -p ${q(paths.pcc)}/bin ${q(paths.work)}`),
          catch: (e) => mapError(e, "CreateFailed", raw.sandboxId)
        })
        if (r.exitCode !== 0) return yield* new SandboxError({ reason: "CreateFailed", provider: "e2b", sandboxId: raw.sandboxId, detail: r.stderr })
        // A custom agent is a file on this machine: copy it in.
        for (const exe of executables) {
          const bytes = yield* NodeFs.readBytes(exe).pipe(
            Effect.mapError((e) => new SandboxError({ reason: "UploadFailed", provider: "e2b", sandboxId: raw.sandboxId, detail: `reading ${exe}: ${e.detail}` }))
          )
          const remote = `${paths.pcc}/bin/${path.basename(exe)}`
          yield* Effect.tryPromise({ try: () => raw.files.write(remote, bytes.slice().buffer as ArrayBuffer), catch: (e) => mapError(e, "UploadFailed", raw.sandboxId) })
          yield* Effect.tryPromise({ try: () => raw.commands.run(`chmod 755 ${q(remote)}`), catch: (e) => mapError(e, "UploadFailed", raw.sandboxId) })
        }
      })
      // A sandbox that cannot be set up is killed at once rather than left to its timeout.
      yield* setup.pipe(Effect.tapError(() => call((m) => m.Sandbox.kill(raw.sandboxId, { apiKey }), "CommandFailed").pipe(Effect.ignore)))
      return sb
    })

  const connect = (sandboxId: string) =>
    Effect.gen(function*() {
      yield* needKey
      const m = yield* getSdk
      const raw = yield* Effect.tryPromise({
        try: () => m.Sandbox.connect(sandboxId, { apiKey }),
        catch: (e): SandboxError | SandboxNotFound =>
          isNotFound(e) ? new SandboxNotFound({ provider: "e2b", sandboxId }) : mapError(e, "Unavailable", sandboxId)
      })
      return wrap(raw, pathsFor(yield* homeOf(raw)), "connected", [])
    })

  const state = (sandboxId: string): Effect.Effect<SandboxState, SandboxError> =>
    Effect.gen(function*() {
      const m = yield* getSdk
      const raw = yield* Effect.tryPromise({ try: () => m.Sandbox.connect(sandboxId, { apiKey }), catch: (e) => e }).pipe(Effect.either)
      if (raw._tag === "Left") {
        if (isNotFound(raw.left)) return "gone" as const
        return yield* mapError(raw.left, "Unavailable", sandboxId)
      }
      const home = yield* homeOf(raw.right)
      const pid = yield* Effect.tryPromise({
        try: () => raw.right.commands.run(`cat ${q(`${pathsFor(home).pcc}/agent.pid`)} 2>/dev/null || true`),
        catch: (e) => mapError(e, "CommandFailed", sandboxId)
      })
      const agentPid = Number(pid.stdout.trim())
      if (!Number.isInteger(agentPid) || agentPid <= 0) return "stopped" as const
      const procs = yield* Effect.tryPromise({ try: () => raw.right.commands.list(), catch: (e) => mapError(e, "CommandFailed", sandboxId) })
      return procs.some((p) => p.pid === agentPid) ? "running" as const : "stopped" as const
    })

  const kill = (sandboxId: string) => call((m) => m.Sandbox.kill(sandboxId, { apiKey }), "CommandFailed", sandboxId)

  const list = Effect.gen(function*() {
    yield* needKey
    const m = yield* getSdk
    const pager = m.Sandbox.list({ apiKey, query: { metadata: { [marker]: "1" } } })
    const out: Array<SandboxInfo> = []
    while (pager.hasNext) {
      const items = yield* Effect.tryPromise({ try: () => pager.nextItems(), catch: (e) => mapError(e, "Unavailable") })
      for (const s of items) {
        out.push({ provider: "e2b", id: s.sandboxId, runId: s.metadata["parallel-cc-run"], startedAt: s.startedAt, state: "running" })
      }
    }
    return out
  })

  return { name: "e2b", probe, create, connect, state, kill, list }
}
