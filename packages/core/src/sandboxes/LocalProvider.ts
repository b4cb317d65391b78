/**
 * The `local` sandbox provider: the agent works on a copy of the work tree in its own directory on this
 * machine. Under bubblewrap (when installed and usable here) the agent sees a read-only system, its copy
 * (`/workspace`), a private home and /tmp, and nothing else — not the user's home, not the repository, not
 * other sandboxes. Without bubblewrap it is a plain process in the copy, with a private HOME and TMPDIR;
 * that is not isolation, and the probe says so.
 *
 * A sandbox is a directory `<root>/parallel-cc-sbx-<run>-XXXXXX` (0700): `work/` (the copy), `home/`,
 * `tmp/`, and host-only `meta/` (the state file with the agent's pid, and a git directory that records the
 * uploaded baseline so changes can be listed without trusting anything inside the copy). Its id is that
 * path, so another process can find it, check it, collect its changes and kill it.
 *
 * @since 0.1.0
 */
import { CommandExecutor } from "@effect/platform"
import { Context, Effect, Layer, Option, Stream } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { AppConfig } from "../platform/AppConfig.js"
import { Git } from "../platform/Git.js"
import * as Archive from "./archive.js"
import { exec, start as startProcess } from "../platform/exec.js"
import * as Proc from "../platform/proc.js"
import {
  type AgentProcess,
  type Changes,
  type CreateOptions,
  type Isolation,
  type Sandbox,
  type SandboxCommand,
  SandboxError,
  type SandboxInfo,
  SandboxNotFound,
  type SandboxProvider,
  type SandboxState,
  type SecretFile
} from "./SandboxProvider.js"

/** Directory name prefix of local sandboxes. */
export const dirPrefix = "parallel-cc-sbx-"

/** Read-only system directories visible under bubblewrap. */
const systemDirs = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt", "/nix"]

/** Paths inside a bubblewrap sandbox. */
const inside = { work: "/workspace", home: "/home/agent", tmp: "/tmp" } as const

const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

interface State {
  readonly version: 1
  readonly runId: string
  readonly isolation: Isolation
  readonly createdAt: number
  readonly hostExecutables: ReadonlyArray<string>
  readonly network: boolean
  /** Sandboxes uploaded by earlier versions record the baseline as a tree; now the baseline index is the record. */
  readonly baselineTree?: string | undefined
  /** Set once the upload is complete and `meta/baseline.index` describes it. */
  readonly baseline?: "index" | undefined
  readonly agentPid?: number | undefined
  readonly agentStart?: string | null | undefined
}

const fail = (reason: SandboxError["reason"], detail: string, sandboxId?: string, cause?: unknown) =>
  new SandboxError({ reason, provider: "local", detail, ...(sandboxId !== undefined ? { sandboxId } : {}), ...(cause !== undefined ? { cause } : {}) })

const isUnder = (p: string, dir: string) => p === dir || p.startsWith(dir.endsWith("/") ? dir : `${dir}/`)

/** Remove a directory tree, fixing permissions the agent may have taken away. */
export const removeTree = (dir: string): void => {
  try {
    fs.rmSync(dir, { recursive: true, force: true, maxRetries: 2 })
  } catch {
    const fix = (p: string) => {
      let st: fs.Stats
      try {
        st = fs.lstatSync(p)
      } catch {
        return
      }
      if (st.isDirectory()) {
        try {
          fs.chmodSync(p, 0o700)
        } catch {
          // Not ours to fix; the retry reports it.
        }
        for (const name of fs.readdirSync(p)) fix(path.join(p, name))
      }
    }
    fix(dir)
    fs.rmSync(dir, { recursive: true, force: true, maxRetries: 2 })
  }
}

/** The interpreter a script names in its `#!` line (`#!/usr/bin/env node` gives `node`). */
const shebangInterpreter = (file: string): string | undefined => {
  try {
    const fd = fs.openSync(file, "r")
    const buf = Buffer.alloc(256)
    const n = fs.readSync(fd, buf, 0, 256, 0)
    fs.closeSync(fd)
    const first = buf.subarray(0, n).toString("utf8").split("\n")[0] ?? ""
    if (!first.startsWith("#!")) return undefined
    const parts = first.slice(2).trim().split(/\s+/)
    if (parts[0] === undefined) return undefined
    if (path.basename(parts[0]) === "env") return parts.find((p, i) => i > 0 && !p.startsWith("-"))
    return parts[0]
  } catch {
    return undefined
  }
}

const resolveOnPath = (name: string, pathEnv: string): string | undefined => {
  if (name.includes("/")) return fs.existsSync(name) ? fs.realpathSync(name) : undefined
  for (const dir of pathEnv.split(":")) {
    if (dir === "") continue
    const p = path.join(dir, name)
    try {
      fs.accessSync(p, fs.constants.X_OK)
      return fs.realpathSync(p)
    } catch {
      continue
    }
  }
  return undefined
}

/**
 * Host paths to expose read-only so that `executables` can run under bubblewrap: each one outside the
 * system directories (an npm package root for files inside node_modules, else the file itself), and
 * likewise the interpreter of a script.
 */
export const extraReadOnly = (executables: ReadonlyArray<string>, pathEnv: string): ReadonlyArray<string> => {
  const out = new Set<string>()
  const visible = (p: string) => systemDirs.some((d) => isUnder(p, d))
  const add = (file: string) => {
    const real = fs.existsSync(file) ? fs.realpathSync(file) : file
    if (visible(real)) return
    const nm = real.lastIndexOf("/node_modules/")
    if (nm >= 0) {
      const rest = real.slice(nm + "/node_modules/".length).split("/")
      const depth = rest[0]?.startsWith("@") ? 2 : 1
      out.add(real.slice(0, nm) + "/node_modules/" + rest.slice(0, depth).join("/"))
    } else if (path.basename(path.dirname(real)) === "bin" && fs.existsSync(path.join(path.dirname(path.dirname(real)), "lib"))) {
      // An installation prefix such as ~/.nvm/versions/node/v20/bin/node needs its lib/ too.
      out.add(path.dirname(path.dirname(real)))
    } else {
      out.add(real)
    }
  }
  for (const exe of executables) {
    add(exe)
    const interp = shebangInterpreter(exe)
    if (interp !== undefined) {
      const found = resolveOnPath(interp, pathEnv)
      if (found !== undefined) add(found)
    }
  }
  return [...out].sort()
}

const readState = (dir: string): State | undefined => {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, "meta", "state.json"), "utf8")) as State
  } catch {
    return undefined
  }
}

const writeState = (dir: string, state: State): void => {
  const file = path.join(dir, "meta", "state.json")
  const tmp = `${file}.${process.pid}.tmp`
  fs.writeFileSync(tmp, JSON.stringify(state, null, 2), { mode: 0o600 })
  fs.renameSync(tmp, file)
}

/**
 * A minimal git directory (gitrepository-layout(5): `HEAD`, `objects/`, `refs/` are what makes one), made
 * without `git init`: no template files, one process less per sandbox. `info/exclude` carries the ignore
 * patterns of the source repository that do not travel with the files.
 */
const initGitDir = (gitDir: string, excludes: string | undefined): void => {
  fs.mkdirSync(path.join(gitDir, "objects"), { recursive: true, mode: 0o700 })
  fs.mkdirSync(path.join(gitDir, "refs"), { mode: 0o700 })
  fs.writeFileSync(path.join(gitDir, "HEAD"), "ref: refs/heads/baseline\n", { mode: 0o600 })
  if (excludes !== undefined && excludes !== "") {
    fs.mkdirSync(path.join(gitDir, "info"), { mode: 0o700 })
    fs.writeFileSync(path.join(gitDir, "info", "exclude"), excludes, { mode: 0o600 })
  }
}

const updateState = (dir: string, patch: Partial<State>): void => {
  const cur = readState(dir)
  if (cur !== undefined) writeState(dir, { ...cur, ...patch })
}

export const make = Effect.gen(function*() {
  const config = yield* AppConfig
  const git = yield* Git
  const executor = yield* CommandExecutor.CommandExecutor
  const setting = config.values["sandbox.local.isolation"]
  const network = config.values["sandbox.local.network"]
  const root = path.resolve(config.values["sandbox.local.root"] !== "" ? config.values["sandbox.local.root"] : os.tmpdir())

  const run = (argv: readonly [string, ...Array<string>], options: Parameters<typeof exec>[1] = {}) =>
    exec(argv, options).pipe(Effect.provideService(CommandExecutor.CommandExecutor, executor))

  const bwrapArgs = (dir: string, extra: ReadonlyArray<string>, net: boolean, cwd: string): Array<string> => {
    const args = ["--die-with-parent", "--new-session", "--unshare-all", "--unshare-user", "--cap-drop", "ALL"]
    if (net) args.push("--share-net")
    for (const d of systemDirs) args.push("--ro-bind-try", d, d)
    args.push("--proc", "/proc", "--dev", "/dev")
    args.push("--bind", path.join(dir, "tmp"), inside.tmp)
    args.push("--bind", path.join(dir, "work"), inside.work)
    args.push("--bind", path.join(dir, "home"), inside.home)
    for (const p of extra) args.push("--ro-bind", p, p)
    args.push("--chdir", cwd)
    return args
  }

  const probeBwrap = Effect.gen(function*() {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "parallel-cc-probe-"))
    try {
      for (const sub of ["work", "home", "tmp"]) fs.mkdirSync(path.join(dir, sub))
      const r = yield* run(["bwrap", ...bwrapArgs(dir, [], false, inside.work), "--", "/usr/bin/env", "true"], {
        env: { PATH: defaultPath },
        clearEnv: true
      }).pipe(Effect.either)
      if (r._tag === "Left") return { ok: false as const, why: "bubblewrap (bwrap) is not installed" }
      if (r.right.exitCode !== 0) {
        return { ok: false as const, why: `bubblewrap cannot create a sandbox here: ${r.right.stderr.trim().split("\n")[0] ?? ""}` }
      }
      return { ok: true as const, why: "" }
    } finally {
      removeTree(dir)
    }
  })

  const bwrapIsolation = (net: boolean): Isolation => ({
    kind: "bwrap",
    isolated: true,
    description: `bubblewrap: read-only system, writable copy of the work tree only, no access to your home; network ${net ? "on" : "off"}`
  })

  const probe = yield* Effect.cached(Effect.gen(function*() {
    if (setting === "process") {
      return {
        kind: "process",
        isolated: false,
        description: "plain process in a temporary copy, NOT isolated (sandbox.local.isolation is process)"
      } satisfies Isolation
    }
    const b = yield* probeBwrap
    if (b.ok) return bwrapIsolation(network)
    if (setting === "bwrap") return yield* fail("Unavailable", `${b.why} (sandbox.local.isolation is bwrap)`)
    return {
      kind: "process",
      isolated: false,
      description: `plain process in a temporary copy, NOT isolated (${b.why}; install bubblewrap for isolation)`
    } satisfies Isolation
  }))

  const checkId = (sandboxId: string) =>
    Effect.gen(function*() {
      const dir = path.resolve(sandboxId)
      if (path.dirname(dir) !== root || !path.basename(dir).startsWith(dirPrefix)) {
        return yield* new SandboxNotFound({ provider: "local", sandboxId })
      }
      return dir
    })

  const gitDir = (dir: string) => path.join(dir, "meta", "baseline.git")
  const baselineIndex = (dir: string) => path.join(dir, "meta", "baseline.index")
  const gitEnv = { GIT_CONFIG_GLOBAL: "/dev/null", GIT_CONFIG_NOSYSTEM: "1", GIT_TERMINAL_PROMPT: "0" }
  // Our own git directory, outside the copy: nothing the agent writes can configure what git runs here.
  const baselineGit = (dir: string, args: ReadonlyArray<string>, indexFile: string, stdin?: string) =>
    git.run(path.join(dir, "meta"), [
      "-c",
      "core.hooksPath=/dev/null",
      "-c",
      "core.fsmonitor=false",
      "-c",
      "core.autocrlf=false",
      "-c",
      "core.symlinks=true",
      "-c",
      "core.quotepath=false",
      "--git-dir",
      gitDir(dir),
      "--work-tree",
      path.join(dir, "work"),
      ...args
    ], { env: { ...gitEnv, GIT_INDEX_FILE: indexFile }, stdin }).pipe(
      Effect.mapError((e) => fail("CommandFailed", e.message, dir, e))
    )

  const spawnArgv = (dir: string, state: State, command: SandboxCommand) => {
    const bw = state.isolation.kind === "bwrap"
    const work = bw ? inside.work : path.join(dir, "work")
    const cwd = command.cwd ?? work
    const env: Record<string, string> = {
      PATH: defaultPath,
      LANG: "C.UTF-8",
      ...command.env,
      HOME: bw ? inside.home : path.join(dir, "home"),
      TMPDIR: bw ? inside.tmp : path.join(dir, "tmp")
    }
    const argv: [string, ...Array<string>] = bw
      ? ["bwrap", ...bwrapArgs(dir, extraReadOnly(state.hostExecutables, env.PATH ?? defaultPath), state.network, cwd), "--", ...command.argv]
      : [...command.argv]
    return { argv, env, cwd: bw ? path.join(dir, "work") : cwd }
  }

  const lines = (s: Stream.Stream<Uint8Array, unknown>, dir: string) =>
    s.pipe(
      Stream.decodeText(),
      Stream.splitLines,
      Stream.mapError((e) => fail("CommandFailed", `reading output: ${String(e)}`, dir, e))
    )

  const sandboxAt = (dir: string, state: State): Sandbox => {
    const bw = state.isolation.kind === "bwrap"
    const work = path.join(dir, "work")
    const home = path.join(dir, "home")
    const id = dir

    /**
     * Record the uploaded files as the baseline: their ids and stat data in `meta/baseline.index`, in a git
     * directory of our own. `--info-only` hashes without writing objects: a file is compared with the
     * baseline by hashing it, so its blob is never needed (the changes are collected from the copy). A
     * symlink is compared by reading its blob, so symlinks get theirs (a second process, only when the
     * work tree has symlinks).
     */
    const recordBaseline = (files: ReadonlyArray<string>, links: ReadonlyArray<string>, excludes: string | undefined) =>
      Effect.gen(function*() {
        yield* Effect.try({
          try: () => initGitDir(gitDir(dir), excludes),
          catch: (e) => fail("UploadFailed", `creating ${gitDir(dir)}: ${String(e)}`, id, e)
        })
        const isLink = new Set(links)
        const add = (paths: ReadonlyArray<string>, infoOnly: boolean) =>
          baselineGit(dir, ["update-index", "--add", ...(infoOnly ? ["--info-only"] : []), "-z", "--stdin"], baselineIndex(dir), paths.map((f) => `${f}\0`).join("")).pipe(
            Effect.mapError((e) => fail("UploadFailed", `recording the baseline: ${e.message}`, id, e))
          )
        yield* add(files.filter((f) => !isLink.has(f)), true)
        if (links.length > 0) yield* add(links, false)
        updateState(dir, { baseline: "index" })
      })

    const upload = (archive: Uint8Array, options: { readonly excludes?: string | undefined } = {}) =>
      Effect.gen(function*() {
        const entries = yield* Effect.tryPromise({
          try: () => Archive.unpackTrusted(archive, work),
          catch: (e) => fail("UploadFailed", String(e), id, e)
        })
        const files = entries.filter((e) => e.type !== "Directory").map((e) => e.path)
        const links = entries.filter((e) => e.type === "SymbolicLink").map((e) => e.path)
        yield* recordBaseline(files, links, options.excludes)
        return { files: entries.length }
      })

    const uploadTree = (root: string, files: ReadonlyArray<string>, options: { readonly excludes?: string | undefined } = {}) =>
      Effect.gen(function*() {
        const links = yield* Effect.tryPromise({
          try: () => Archive.copyTrusted(root, files, work),
          catch: (e) => fail("UploadFailed", `copying the work tree: ${e instanceof Error ? e.message : String(e)}`, id, e)
        })
        yield* recordBaseline(files, links, options.excludes)
        return { files: files.length }
      })

    const listFiles = Effect.try({
      try: () => {
        const out: Array<string> = []
        const walk = (rel: string) => {
          for (const name of fs.readdirSync(path.join(work, rel))) {
            const r = rel === "" ? name : `${rel}/${name}`
            const st = fs.lstatSync(path.join(work, r))
            if (st.isDirectory()) walk(r)
            else out.push(r)
          }
        }
        walk("")
        return out.sort()
      },
      catch: (e) => fail("CommandFailed", `listing files: ${String(e)}`, id, e)
    })

    const writeSecretFiles = (files: ReadonlyArray<SecretFile>) =>
      Effect.try({
        try: () =>
          files.map((f) => {
            const checked = Archive.checkPath(f.path)
            if ("refused" in checked) throw new Error(`bad secret file path ${f.path}: ${checked.refused}`)
            const full = path.join(home, checked.ok)
            fs.mkdirSync(path.dirname(full), { recursive: true, mode: 0o700 })
            fs.rmSync(full, { force: true })
            fs.writeFileSync(full, f.content, { mode: f.mode, flag: "wx" })
            fs.chmodSync(full, f.mode)
            return path.join(bw ? inside.home : home, checked.ok)
          }),
        catch: (e) => fail("UploadFailed", `writing a credential file: ${e instanceof Error ? e.message : String(e)}`, id)
      })

    const removeSecretFiles = (files: ReadonlyArray<SecretFile>) =>
      Effect.sync(() => {
        for (const f of files) {
          const checked = Archive.checkPath(f.path)
          if ("ok" in checked) fs.rmSync(path.join(home, checked.ok), { force: true })
        }
      })

    const startIn = (command: SandboxCommand) =>
      Effect.gen(function*() {
        const cur = readState(dir) ?? state
        const spec = spawnArgv(dir, cur, command)
        const proc = yield* startProcess(spec.argv, { cwd: spec.cwd, env: spec.env, clearEnv: true, stdin: command.stdin ?? "" }).pipe(
          Effect.provideService(CommandExecutor.CommandExecutor, executor),
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
        updateState(dir, { agentPid: pid, agentStart: Proc.startTime(pid) })
        const exit = proc.exitCode.pipe(
          Effect.map((code) => ({ exitCode: Number(code) })),
          Effect.catchAll((e) => {
            const m = /signal: (\w+)/.exec(e.message)
            return m !== null
              ? Effect.succeed({ exitCode: null, signal: m[1] })
              : Effect.fail(fail("Died", e.message, id, e))
          })
        )
        return {
          pid,
          stdout: lines(proc.stdout, id),
          stderr: lines(proc.stderr, id),
          exit,
          kill
        } satisfies AgentProcess
      })

    const execIn = (command: SandboxCommand, options: { readonly timeoutMs?: number | undefined } = {}) =>
      Effect.scoped(Effect.gen(function*() {
        const { proc } = yield* startIn(command)
        const collect = (s: Stream.Stream<Uint8Array, unknown>) =>
          s.pipe(Stream.decodeText(), Stream.runFold("", (a, b) => a + b), Effect.orElseSucceed(() => ""))
        const all = Effect.all([collect(proc.stdout), collect(proc.stderr), proc.exitCode.pipe(Effect.orElseSucceed(() => -1))], {
          concurrency: "unbounded"
        })
        const r = yield* all.pipe(
          Effect.timeoutFail({
            duration: options.timeoutMs ?? 600_000,
            onTimeout: () => fail("Timeout", `${command.argv.join(" ")} did not finish in ${Math.round((options.timeoutMs ?? 600_000) / 1000)} s`, id)
          })
        )
        return { stdout: r[0], stderr: r[1], exitCode: Number(r[2]) }
      }))

    const changes: Effect.Effect<Changes, SandboxError> = Effect.gen(function*() {
      const cur = readState(dir)
      if (cur?.baseline === undefined && cur?.baselineTree === undefined) {
        return yield* fail("DownloadFailed", "nothing was uploaded to this sandbox", id)
      }
      // The copy against the baseline index: tracked entries are "A" against the (empty) HEAD, and their
      // second column says how the copy differs (content compared, not only stat data); "??" is a new file
      // that the copy's .gitignore files and the repository's excludes do not ignore. Read-only on the index.
      const status = (yield* baselineGit(dir, [
        "--no-optional-locks",
        "status",
        "--porcelain=v1",
        "-z",
        "--untracked-files=all",
        "--no-renames",
        "--ignore-submodules=none"
      ], baselineIndex(dir))).stdout
      const added: Array<string> = []
      const modified: Array<string> = []
      const deleted: Array<string> = []
      for (const record of status.split("\0")) {
        if (record.length < 4) continue
        const code = record.slice(0, 2)
        // A nested repository shows as its directory ("dir/"); it is refused when collected, as before.
        const p = record.slice(3).replace(/\/$/, "")
        if (code === "??") added.push(p)
        else if (code[1] === "D") deleted.push(p)
        else if (code[1] !== " ") modified.push(p)
      }
      added.sort()
      modified.sort()
      deleted.sort()
      const collected = yield* Effect.try({
        try: () => Archive.collect(work, [...added, ...modified]),
        catch: (e) => fail("DownloadFailed", String(e), id, e)
      })
      const archive = yield* Effect.tryPromise({
        try: () => Archive.packEntries(collected.entries),
        catch: (e) => fail("DownloadFailed", String(e), id, e)
      })
      const packed = new Set(collected.entries.map((e) => e.path))
      return {
        archive,
        added: added.filter((p) => packed.has(p)),
        modified: modified.filter((p) => packed.has(p)),
        deleted,
        refused: collected.refused
      }
    })

    return {
      provider: "local",
      id,
      isolation: state.isolation,
      workdir: bw ? inside.work : work,
      home: bw ? inside.home : home,
      upload,
      uploadTree,
      listFiles,
      writeSecretFiles,
      removeSecretFiles,
      exec: execIn,
      start,
      changes
    }
  }

  const create = (options: CreateOptions) =>
    Effect.gen(function*() {
      const isolation = yield* probe
      const safeRun = options.runId.replace(/[^A-Za-z0-9]/g, "").slice(0, 32)
      const dir = yield* Effect.try({
        try: () => {
          fs.mkdirSync(root, { recursive: true })
          const d = fs.realpathSync(fs.mkdtempSync(path.join(root, `${dirPrefix}${safeRun}-`)))
          fs.chmodSync(d, 0o700)
          for (const sub of ["work", "home", "tmp", "meta"]) fs.mkdirSync(path.join(d, sub), { mode: 0o700 })
          writeState(d, {
            version: 1,
            runId: options.runId,
            isolation,
            createdAt: Date.now(),
            hostExecutables: [...(options.hostExecutables ?? [])],
            network
          })
          return d
        },
        catch: (e) => fail("CreateFailed", `in ${root}: ${String(e)}`, undefined, e)
      })
      return sandboxAt(dir, readState(dir)!)
    })

  const connect = (sandboxId: string) =>
    Effect.gen(function*() {
      const dir = yield* checkId(sandboxId)
      const state = readState(dir)
      if (state === undefined) return yield* new SandboxNotFound({ provider: "local", sandboxId })
      return sandboxAt(dir, state)
    })

  const stateOf = (sandboxId: string): Effect.Effect<SandboxState, SandboxError> =>
    checkId(sandboxId).pipe(
      Effect.map((dir) => {
        const s = readState(dir)
        if (s === undefined) return "gone" as const
        return s.agentPid !== undefined && Proc.isAlive(s.agentPid, s.agentStart) ? "running" as const : "stopped" as const
      }),
      Effect.catchTag("SandboxNotFound", () => Effect.succeed("gone" as const))
    )

  const kill = (sandboxId: string) =>
    Effect.gen(function*() {
      const dir = yield* checkId(sandboxId).pipe(Effect.option)
      if (Option.isNone(dir) || !fs.existsSync(dir.value)) return false
      const s = readState(dir.value)
      if (s?.agentPid !== undefined && Proc.isAlive(s.agentPid, s.agentStart)) {
        Proc.signalGroup(s.agentPid, "SIGTERM")
        for (let i = 0; i < 50 && Proc.isAlive(s.agentPid, s.agentStart); i++) yield* Effect.sleep("100 millis")
        if (Proc.isAlive(s.agentPid, s.agentStart)) Proc.signalGroup(s.agentPid, "SIGKILL")
      }
      yield* Effect.try({
        try: () => removeTree(dir.value),
        catch: (e) => fail("CommandFailed", `removing ${dir.value}: ${String(e)}`, sandboxId, e)
      })
      return true
    })

  const list = Effect.try({
    try: () => {
      if (!fs.existsSync(root)) return []
      return fs.readdirSync(root)
        .filter((n) => n.startsWith(dirPrefix))
        .flatMap((n): Array<SandboxInfo> => {
          const dir = path.join(root, n)
          const s = readState(dir)
          if (s === undefined) return []
          const running = s.agentPid !== undefined && Proc.isAlive(s.agentPid, s.agentStart)
          return [{ provider: "local", id: dir, runId: s.runId, startedAt: new Date(s.createdAt), state: running ? "running" : "stopped" }]
        })
    },
    catch: (e) => fail("CommandFailed", `listing ${root}: ${String(e)}`, undefined, e)
  })

  return {
    name: "local",
    probe,
    create,
    connect,
    state: stateOf,
    kill,
    list
  } satisfies SandboxProvider
})

/** The local provider, as a service; the Live layer registers it in SandboxProviders. */
export class LocalProvider extends Context.Tag("@parallel-cc/core/LocalProvider")<LocalProvider, SandboxProvider>() {}

/** The local provider over AppConfig, Git and the CommandExecutor. */
export const layer = Layer.effect(LocalProvider, make)
