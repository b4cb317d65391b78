/**
 * `parallel-cc ui`: the live terminal dashboard (bundled as dist/ui.cjs, loaded only by this command).
 *
 * A hand-written renderer rather than a TUI library (see docs/architecture.md, "The dashboard"): the screen
 * is a list of lines (`render.ts`), and only lines that changed are rewritten. The data comes from
 * `FleetView`; a cheap token (the store's data_version, the sessions' state and transcript files) is looked
 * at every 400 ms and the snapshot rebuilt only when it changed (or every 10 s, for ages), so an idle
 * dashboard costs almost nothing. Off a terminal it prints the table whenever it changes, like
 * `status --watch`.
 */
import { FleetView, Host, LiveDashboard } from "@parallel-cc/core"
import { Layer, Logger, LogLevel, ManagedRuntime } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { configured, makeLayers } from "../internal/Env.js"
import { type Caps, render, type UiState, visible } from "./render.js"

export interface UiOptions {
  readonly env: Readonly<Record<string, string | undefined>>
  readonly cwd: string
  readonly dbPath: string | undefined
  readonly verbose: boolean
  /** Only this repository at the start (`--repo`). */
  readonly repo: string | undefined
  /** The CLI's own entry (`dist/bin.cjs`), to run `diff`, `land` and `discard`. */
  readonly bin: string
  /** Seconds between two looks for changes (default 0.4). */
  readonly interval?: number | undefined
}

const utf8 = (env: Readonly<Record<string, string | undefined>>) =>
  /utf-?8/i.test(env.LC_ALL || env.LC_CTYPE || env.LANG || "")

const onPath = (name: string, env: Readonly<Record<string, string | undefined>>) =>
  (env.PATH ?? "").split(":").some((d) => d !== "" && fs.existsSync(path.join(d, name)))

/**
 * The pager for `d`: `$PAGER` split on blanks (never a shell), `less -R` when it is unset; none when it is
 * empty, `cat`, or not on PATH (the diff is printed and a key brings the dashboard back).
 */
const pagerOf = (env: Readonly<Record<string, string | undefined>>): ReadonlyArray<string> | undefined => {
  const argv = env.PAGER === undefined ? ["less", "-R"] : env.PAGER.trim().split(/\s+/).filter((a) => a !== "")
  const cmd = argv[0]
  if (cmd === undefined || cmd === "cat") return undefined
  return (cmd.includes("/") ? fs.existsSync(cmd) : onPath(cmd, env)) ? argv : undefined
}

/** Run the dashboard until `q` (or Ctrl-C); resolves to the exit code. */
export const run = async (options: UiOptions): Promise<number> => {
  const layers = makeLayers({ env: options.env, homeDir: os.homedir(), cwd: options.cwd, dbPath: options.dbPath, verbose: options.verbose })
  const logging = Logger.replace(Logger.defaultLogger, Logger.prettyLogger({ stderr: true, colors: false })).pipe(
    Layer.merge(Logger.minimumLogLevel(options.verbose ? LogLevel.Debug : LogLevel.Error))
  )
  const host = Host.layer({ homeDir: os.homedir(), cwd: options.cwd, env: options.env, nodeVersion: process.versions.node })
  const rt = ManagedRuntime.make(configured(LiveDashboard.layer.pipe(Layer.provide(host)), layers).pipe(Layer.provide(logging)))
  const view = await rt.runPromise(FleetView.FleetView)
  const tty = process.stdout.isTTY === true && process.stdin.isTTY === true
  const every = Math.round((options.interval ?? 0.4) * 1000)
  let state: UiState = { selected: 0, repo: options.repo, message: undefined }
  let snap = await rt.runPromise(view.snapshot())
  let token = await rt.runPromise(view.token)
  let lastFull = Date.now()
  let shown: ReadonlyArray<string> = []
  let paused = false
  let stop: ((code: number) => void) | undefined
  const done = new Promise<number>((resolve) => (stop = resolve))

  const caps = (): Caps => ({
    width: Math.max(20, process.stdout.columns ?? 80),
    height: Math.max(8, process.stdout.rows ?? 24),
    color: tty && options.env.NO_COLOR === undefined,
    unicode: utf8(options.env)
  })

  const draw = (full = false) => {
    if (paused) return
    const rows = visible(snap, state.repo)
    if (state.selected >= rows.length) state = { ...state, selected: Math.max(0, rows.length - 1) }
    const lines = render(snap, state, caps())
    if (!tty) {
      const text = lines.join("\n").trimEnd()
      if (text !== shown.join("\n").trimEnd()) process.stdout.write(`--- ${snap.at.toISOString()}\n${text}\n`)
      shown = lines
      return
    }
    let out = full ? "\x1b[H\x1b[2J" : ""
    for (let i = 0; i < Math.max(lines.length, shown.length); i++) {
      if (!full && lines[i] === shown[i]) continue
      out += `\x1b[${i + 1};1H${lines[i] ?? ""}\x1b[K`
    }
    if (out !== "") process.stdout.write(out)
    shown = lines
  }

  const refresh = async (force = false) => {
    const now = Date.now()
    const t = await rt.runPromise(view.token).catch(() => token)
    if (!force && t === token && now - lastFull < 10_000) return
    token = t
    lastFull = now
    // The token read before the snapshot stays: a change while the snapshot is taken makes the next look
    // differ from it (a token read after the snapshot would hide that change until the 10 s refresh). When
    // the snapshot watches other files, the next look differs too: one more snapshot, then quiet.
    snap = await rt.runPromise(view.snapshot()).catch(() => snap)
    draw()
  }

  let resume: (() => void) | undefined

  /**
   * Stop reading the terminal while a command of ours (the pager, land, discard) has it: a paused stream
   * alone keeps reading into its buffer, so the keys meant for `less` would land here. `resume()` reads
   * again.
   */
  const holdKeys = () => {
    process.stdin.pause()
    const handle = (process.stdin as unknown as { _handle?: { reading?: boolean; readStop?: () => number } })._handle
    if (handle?.reading === true && handle.readStop !== undefined) {
      handle.reading = false
      handle.readStop()
    }
  }

  /** Leave the dashboard's screen to run a command of ours in the terminal (paged), then come back. */
  const runCli = async (args: ReadonlyArray<string>, pager: boolean) => {
    paused = true
    process.stdout.write("\x1b[?25h\x1b[?1049l")
    process.stdin.setRawMode(false)
    holdKeys()
    const env = { ...options.env } as NodeJS.ProcessEnv
    const cmd = [options.bin, ...(options.dbPath !== undefined ? ["--db", options.dbPath] : []), ...args]
    const closed = (c: ReturnType<typeof spawn>) => new Promise<void>((r) => c.once("close", () => r()).once("error", () => r()))
    const pagerArgv = pager ? pagerOf(options.env) : undefined
    if (pagerArgv !== undefined) {
      const producer = spawn(process.execPath, cmd, { stdio: ["ignore", "pipe", "inherit"], env })
      const less = spawn(pagerArgv[0]!, pagerArgv.slice(1), { stdio: [producer.stdout, "inherit", "inherit"], env })
      await closed(less)
      producer.kill()
    } else {
      await closed(spawn(process.execPath, cmd, { stdio: "inherit", env }))
      // Keys are read before the prompt shows, so a key pressed as soon as it appears is never echoed or lost.
      process.stdin.setRawMode(true)
      process.stdin.resume()
      process.stdout.write("\n[press a key to return to the dashboard]")
      await new Promise<void>((r) => (resume = r))
      resume = undefined
    }
    process.stdin.setRawMode(true)
    process.stdin.resume()
    process.stdout.write("\x1b[?1049h\x1b[?25l")
    paused = false
    await refresh(true)
    draw(true)
  }

  let confirm: { readonly question: string; readonly yes: () => Promise<void> } | undefined

  const onKey = (key: string) => {
    const rows = visible(snap, state.repo)
    const sel = rows[state.selected]
    if (confirm !== undefined) {
      const c = confirm
      confirm = undefined
      state = { ...state, message: undefined }
      if (key === "y" || key === "Y") void c.yes()
      draw()
      return
    }
    state = { ...state, message: undefined }
    if (key === "q" || key === "\x03" || key === "\x1b") return stop?.(0)
    if (key === "\x1b[A" || key === "k") state = { ...state, selected: Math.max(0, state.selected - 1) }
    else if (key === "\x1b[B" || key === "j") state = { ...state, selected: Math.min(Math.max(0, rows.length - 1), state.selected + 1) }
    else if (key === "f") {
      const repos = [undefined, ...snap.repos]
      state = { ...state, repo: repos[(repos.indexOf(state.repo) + 1) % repos.length], selected: 0 }
      state = { ...state, message: `showing ${state.repo ?? "all repositories"}` }
    } else if (sel !== undefined && key === "o") {
      const p = sel.worktreePath ?? sel.repoPath
      process.stdout.write(`\x1b]52;c;${Buffer.from(p).toString("base64")}\x07`)
      state = { ...state, message: `${p}  (copied to the clipboard where the terminal allows)` }
    } else if (sel !== undefined && key === "d" && sel.kind === "session") void runCli(["diff", sel.id], true)
    else if (sel !== undefined && key === "l") {
      confirm = { question: `land ${sel.branch ?? sel.id} into ${sel.target ?? "its target"}?`, yes: () => runCli(["land", sel.id], false) }
      state = { ...state, message: `${confirm.question} y/N` }
    } else if (sel !== undefined && key === "x" && sel.kind === "session") {
      confirm = {
        question: `discard ${sel.name ?? sel.id} (its worktree and branch; work in it is listed and thrown away)?`,
        yes: () => runCli(["discard", sel.id, "--force"], false)
      }
      state = { ...state, message: `${confirm.question} y/N` }
    }
    draw()
  }

  if (tty) {
    process.stdout.write("\x1b[?1049h\x1b[?25l")
    process.stdin.setRawMode(true)
    process.stdin.setEncoding("utf8")
    process.stdin.on("data", (d: string) => {
      if (paused) {
        resume?.()
        return
      }
      // Escape sequences arrive whole; several plain keys may arrive at once.
      if (d.startsWith("\x1b[")) onKey(d)
      else for (const k of d) onKey(k)
    })
    process.stdout.on("resize", () => draw(true))
  }
  process.once("SIGINT", () => stop?.(130))
  process.once("SIGTERM", () => stop?.(143))
  // Off a terminal, a reader that went away (`parallel-cc ui | head`) ends the dashboard quietly.
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") stop?.(0)
  })
  draw(true)
  const timer = setInterval(() => void refresh(), every)
  const code = await done
  clearInterval(timer)
  if (tty) {
    process.stdin.setRawMode(false)
    process.stdout.write("\x1b[?25h\x1b[?1049l")
    process.stdin.pause()
  }
  await rt.dispose().catch(() => undefined)
  return code
}
