/**
 * One local sandbox, as the {@link Sandbox} interface sees it: a directory `<root>/parallel-cc-sbx-<run>-XXXXXX`
 * (0700) with `work/` (the copy), `home/`, `tmp/`, and host-only `meta/` (the state file and the baseline).
 * Processes start in it under bubblewrap (or as plain processes, when that is the isolation), in their own
 * process group, and are stopped with it.
 *
 * @since 0.1.0
 */
import type { CommandExecutor } from "@effect/platform"
import { CommandExecutor as Executor } from "@effect/platform"
import { Effect, Either, Option, Stream } from "effect"
import * as path from "node:path"
import { exec, start as startProcess } from "../../platform/exec.js"
import type { Git } from "../../platform/Git.js"
import * as NodeFs from "../../platform/nodeFs.js"
import type { Processes } from "../../platform/Processes.js"
import * as Proc from "../../platform/proc.js"
import * as Archive from "../archive.js"
import {
  type AgentProcess,
  type Sandbox,
  type Changes,
  type SandboxCommand,
  SandboxError,
  type SecretFile
} from "../SandboxProvider.js"
import * as Egress from "../EgressPolicy.js"
import * as Baseline from "./baseline.js"
import * as Bwrap from "./bwrap.js"
import * as EgressProxy from "./egress.js"
import * as State from "./state.js"
import * as WorkTree from "./workTree.js"

export interface LocalDeps {
  readonly run: Git["Type"]["run"]
  readonly executor: CommandExecutor.CommandExecutor
  readonly processes: Processes["Type"]
  /** The `/etc` entries this machine has of those an agent may see (asked once per process). */
  readonly etc: Effect.Effect<ReadonlyArray<string>>
}

const fail = (reason: SandboxError["reason"], detail: string, sandboxId: string, cause?: unknown) =>
  new SandboxError({ reason, provider: "local", detail, sandboxId, ...(cause !== undefined ? { cause } : {}) })

const message = (e: unknown) => (e instanceof Error ? e.message : String(e))

/** An empty, read-only file of the sandbox, bound over a work tree's `.git`. */
export const emptyFile = (dir: string) => path.join(dir, "meta", "empty")

/** The host directory of a sandbox's egress proxy (its socket, the bridge, the refusals). */
export const egressDir = (dir: string) => path.join(dir, "egress")

const proxyUrl = `http://127.0.0.1:${EgressProxy.proxyPort}`

/** The ports of allowed loopback hosts, which the bridge opens inside the sandbox. */
const loopbackPorts = (allow: ReadonlyArray<string>): Array<string> => {
  const rules = Either.getOrElse(Egress.parseAll(allow), () => [] as ReadonlyArray<Egress.HostRule>)
  return [...new Set(rules.filter((r) => Egress.isLoopback(r) && r.port !== undefined).map((r) => String(r.port)))]
}

/** The argv, environment and host working directory of `command` in the sandbox `dir`. */
export const spawnSpec = (deps: Pick<LocalDeps, "etc">, dir: string, state: State.State, command: SandboxCommand) =>
  Effect.gen(function*() {
    const bw = state.isolation.kind === "bwrap"
    const work = bw ? Bwrap.inside.work : State.workOf(dir, state)
    const cwd = command.cwd ?? work
    const env: Record<string, string> = {
      PATH: Bwrap.defaultPath,
      LANG: "C.UTF-8",
      ...command.env,
      HOME: bw ? Bwrap.inside.home : path.join(dir, "home"),
      TMPDIR: bw ? Bwrap.inside.tmp : path.join(dir, "tmp")
    }
    if (!bw) return { argv: [...command.argv] as [string, ...Array<string>], env, cwd }
    const egress = State.egressOf(state)
    const bridged = egress.mode === "allow"
    // The bridge runs with the node that runs parallel-cc: the one program of ours in the sandbox.
    const executables = bridged ? [...state.hostExecutables, process.execPath] : state.hostExecutables
    const readOnly = yield* Bwrap.agentMounts(executables, env.PATH ?? Bwrap.defaultPath, state.protect ?? [])
    const plan = {
      dir,
      work: State.workOf(dir, state),
      maskGit: state.workTree !== undefined ? emptyFile(dir) : undefined,
      etc: yield* deps.etc,
      readOnly,
      network: egress.mode,
      egressDir: egressDir(dir),
      cwd
    }
    if (bridged) {
      for (const name of ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"]) env[name] = proxyUrl
      for (const name of ["NO_PROXY", "no_proxy"]) env[name] = "localhost,127.0.0.1,::1"
      delete env.ALL_PROXY
      delete env.all_proxy
    }
    const node = yield* NodeFs.realPath(process.execPath).pipe(Effect.orElseSucceed(() => process.execPath))
    const inner: ReadonlyArray<string> = bridged
      ? [
        node,
        `${Bwrap.egressInside}/bridge.cjs`,
        `${Bwrap.egressInside}/proxy.sock`,
        String(EgressProxy.proxyPort),
        ...loopbackPorts(egress.allow),
        "--",
        ...command.argv
      ]
      : command.argv
    const argv: [string, ...Array<string>] = ["bwrap", ...Bwrap.args(plan), "--", ...inner]
    return { argv, env, cwd: State.workOf(dir, state) }
  })

/**
 * For a command under bubblewrap in `allow` mode: the egress proxy on the host for as long as the scope
 * lasts, and the bridge script beside its socket.
 */
const serveEgress = (dir: string, state: State.State) =>
  Effect.gen(function*() {
    const egress = State.egressOf(state)
    if (state.isolation.kind !== "bwrap" || egress.mode !== "allow") return
    const rules = yield* Either.match(Egress.parseAll(egress.allow), {
      onLeft: (why) => Effect.fail(fail("CommandFailed", `the egress policy: ${why}`, dir)),
      onRight: Effect.succeed
    })
    const eg = egressDir(dir)
    yield* Effect.gen(function*() {
      yield* NodeFs.makeDirectory(eg, { recursive: true, mode: 0o755 })
      yield* NodeFs.writeFile(path.join(eg, "bridge.cjs"), EgressProxy.bridgeScript, { mode: 0o644 })
      yield* EgressProxy.serve(path.join(eg, "proxy.sock"), rules)
    }).pipe(Effect.mapError((e) => fail("CommandFailed", `starting the egress proxy: ${e.message}`, dir, e)))
  })

const lines = (s: Stream.Stream<Uint8Array, unknown>, dir: string) =>
  s.pipe(Stream.decodeText(), Stream.splitLines, Stream.mapError((e) => fail("CommandFailed", `reading output: ${String(e)}`, dir, e)))

/** Every file under `work` but its `.git` (relative, sorted): what `--dry-run` compares with the upload. */
const listFilesIn = (work: string, id: string) =>
  Effect.tryPromise({
    try: async () => {
      const out: Array<string> = []
      const walk = async (rel: string): Promise<void> => {
        for (const e of await NodeFs.promises.readdir(path.join(work, rel), { withFileTypes: true })) {
          const r = rel === "" ? e.name : `${rel}/${e.name}`
          if (rel === "" && e.name === ".git") continue
          if (e.isDirectory()) await walk(r)
          else out.push(r)
        }
      }
      await walk("")
      return out.sort()
    },
    catch: (e) => fail("CommandFailed", `listing files: ${message(e)}`, id, e)
  })

/** Remove a directory tree, fixing permissions the agent may have taken away. */
export const removeTree = (dir: string): Effect.Effect<void, NodeFs.FsFailure> =>
  NodeFs.remove(dir, { recursive: true }).pipe(
    Effect.catchAll(() =>
      Effect.zipRight(
        Effect.promise(async () => {
          const fix = async (p: string): Promise<void> => {
            const st = await NodeFs.promises.lstat(p).catch(() => undefined)
            if (st === undefined || !st.isDirectory()) return
            // Not ours to fix when this fails; the retry reports it.
            await NodeFs.promises.chmod(p, 0o700).catch(() => undefined)
            for (const name of await NodeFs.promises.readdir(p).catch(() => [] as Array<string>)) await fix(path.join(p, name))
          }
          await fix(dir)
        }),
        NodeFs.remove(dir, { recursive: true })
      )
    )
  )

/** The sandbox in `dir` with state `state`. */
export const at = (deps: LocalDeps, dir: string, state: State.State): Sandbox => {
  const bw = state.isolation.kind === "bwrap"
  const work = State.workOf(dir, state)
  const home = path.join(dir, "home")
  const id = dir

  const recordBaseline = (files: ReadonlyArray<string>, links: ReadonlyArray<string>, excludes: string | undefined) =>
    Effect.zipRight(Baseline.record(deps.run, dir, files, links, excludes), State.update(dir, { baseline: "index" }))

  const upload = (archive: Uint8Array, options: { readonly excludes?: string | undefined } = {}) =>
    Effect.gen(function*() {
      const entries = yield* Effect.tryPromise({ try: () => Archive.unpackTrusted(archive, work), catch: (e) => fail("UploadFailed", String(e), id, e) })
      const files = entries.filter((e) => e.type !== "Directory").map((e) => e.path)
      const links = entries.filter((e) => e.type === "SymbolicLink").map((e) => e.path)
      yield* recordBaseline(files, links, options.excludes)
      return { files: entries.length }
    })

  const uploadTree = (root: string, files: ReadonlyArray<string>, options: { readonly excludes?: string | undefined } = {}) =>
    Effect.gen(function*() {
      const links = yield* Effect.tryPromise({
        try: () => Archive.copyTrusted(root, files, work),
        catch: (e) => fail("UploadFailed", `copying the work tree: ${message(e)}`, id, e)
      })
      yield* recordBaseline(files, links, options.excludes)
      return { files: files.length }
    })

  const writeSecretFiles = (files: ReadonlyArray<SecretFile>) =>
    Effect.tryPromise({
      try: async () => {
        const out: Array<string> = []
        for (const f of files) {
          const checked = Archive.checkPath(f.path)
          if ("refused" in checked) throw new Error(`bad secret file path ${f.path}: ${checked.refused}`)
          const full = path.join(home, checked.ok)
          await NodeFs.promises.mkdir(path.dirname(full), { recursive: true, mode: 0o700 })
          await NodeFs.promises.rm(full, { force: true })
          await NodeFs.promises.writeFile(full, f.content, { mode: f.mode, flag: "wx" })
          await NodeFs.promises.chmod(full, f.mode)
          out.push(path.join(bw ? Bwrap.inside.home : home, checked.ok))
        }
        return out
      },
      catch: (e) => fail("UploadFailed", `writing a credential file: ${message(e)}`, id)
    })

  const removeSecretFiles = (files: ReadonlyArray<SecretFile>) =>
    Effect.forEach(files, (f) => {
      const checked = Archive.checkPath(f.path)
      return "ok" in checked ? NodeFs.remove(path.join(home, checked.ok)).pipe(Effect.ignore) : Effect.void
    }, { discard: true })

  const startIn = (command: SandboxCommand) =>
    Effect.gen(function*() {
      const cur = Option.getOrElse(yield* State.read(dir), () => state)
      yield* serveEgress(dir, cur)
      const spec = yield* spawnSpec(deps, dir, cur, command)
      const proc = yield* startProcess(spec.argv, { cwd: spec.cwd, env: spec.env, clearEnv: true, stdin: command.stdin ?? "" }).pipe(
        Effect.provideService(Executor.CommandExecutor, deps.executor),
        Effect.mapError((e) => fail("CommandFailed", `could not start ${command.argv[0]}: ${e.message}`, id, e))
      )
      const pid = Number(proc.pid)
      const kill = Effect.gen(function*() {
        if (!(yield* proc.isRunning)) return
        Proc.signalGroup(pid, "SIGTERM")
        const exited = yield* proc.exitCode.pipe(Effect.either, Effect.timeout("5 seconds"), Effect.option)
        if (Option.isNone(exited)) Proc.signalGroup(pid, "SIGKILL")
      }).pipe(Effect.catchAllCause(() => Effect.void))
      // Runs before the platform's own release, which only sends TERM and then waits for ever.
      yield* Effect.addFinalizer(() => kill)
      return { proc, pid, kill }
    })

  const start = (command: SandboxCommand) =>
    Effect.gen(function*() {
      const { kill, pid, proc } = yield* startIn(command)
      const probe = yield* deps.processes.probe(pid)
      yield* State.update(dir, { agentPid: pid, agentStart: probe._tag === "Running" ? probe.startTime : null })
      const exit = proc.exitCode.pipe(
        Effect.map((code) => ({ exitCode: Number(code) })),
        Effect.catchAll((e) => {
          const m = /signal: (\w+)/.exec(e.message)
          return m !== null ? Effect.succeed({ exitCode: null, signal: m[1] }) : Effect.fail(fail("Died", e.message, id, e))
        })
      )
      return { pid, stdout: lines(proc.stdout, id), stderr: lines(proc.stderr, id), exit, kill } satisfies AgentProcess
    })

  const execIn = (command: SandboxCommand, options: { readonly timeoutMs?: number | undefined } = {}) =>
    Effect.scoped(Effect.gen(function*() {
      const { proc } = yield* startIn(command)
      const collect = (s: Stream.Stream<Uint8Array, unknown>) =>
        s.pipe(Stream.decodeText(), Stream.runFold("", (a, b) => a + b), Effect.orElseSucceed(() => ""))
      const all = Effect.all([collect(proc.stdout), collect(proc.stderr), proc.exitCode.pipe(Effect.orElseSucceed(() => -1))], {
        concurrency: "unbounded"
      })
      const timeoutMs = options.timeoutMs ?? 600_000
      const r = yield* all.pipe(
        Effect.timeoutFail({
          duration: timeoutMs,
          onTimeout: () => fail("Timeout", `${command.argv.join(" ")} did not finish in ${Math.round(timeoutMs / 1000)} s`, id)
        })
      )
      return { stdout: r[0], stderr: r[1], exitCode: Number(r[2]) }
    }))

  const changes = Effect.gen(function*() {
    const cur = yield* State.read(dir)
    if (Option.isNone(cur) || (cur.value.baseline === undefined && cur.value.baselineTree === undefined)) {
      return yield* fail("DownloadFailed", "nothing was uploaded to this sandbox", id)
    }
    return yield* (cur.value.workTree !== undefined ? WorkTree.changes(deps.run, dir, cur.value.workTree) : Baseline.changes(deps.run, dir))
  })

  const prepareWorkTree = (root: string, dirty: ReadonlyArray<string>) =>
    Effect.gen(function*() {
      if (state.workTree === undefined) return yield* fail("Unsupported", "this sandbox works in a copy of its own", id)
      yield* WorkTree.prepare(deps.run, dir, state.workTree, root, dirty)
      yield* State.update(dir, { baseline: "worktree" })
      return { files: dirty.length }
    })

  const finder: WorkTree.Finder = (cwd, args) =>
    exec(["find", ...args], { cwd, env: { LC_ALL: "C" } }).pipe(
      Effect.provideService(Executor.CommandExecutor, deps.executor),
      Effect.map((r) => (r.exitCode === 0 ? r.stdout : undefined)),
      Effect.orElseSucceed(() => undefined)
    )

  const settleWorkTree = (c: Changes) =>
    state.workTree === undefined
      ? Effect.fail(fail("Unsupported", "this sandbox works in a copy of its own", id))
      : WorkTree.settle(deps.run, dir, state.workTree, c, finder)

  return {
    provider: "local",
    id,
    isolation: state.isolation,
    workdir: bw ? Bwrap.inside.work : work,
    home: bw ? Bwrap.inside.home : home,
    upload,
    uploadTree,
    listFiles: listFilesIn(work, id),
    workTree: state.workTree,
    prepareWorkTree: state.workTree !== undefined ? prepareWorkTree : undefined,
    settleWorkTree: state.workTree !== undefined ? settleWorkTree : undefined,
    refusedHosts: EgressProxy.refusals(egressDir(dir)),
    writeSecretFiles,
    removeSecretFiles,
    exec: execIn,
    start,
    changes
  }
}
