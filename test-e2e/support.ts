/**
 * Shared set-up for the end-to-end tests: a temp base dir holding a git repo, a HOME for Claude Code and
 * our data dir; an Anthropic API double; and the environment that ties them together.
 */
import { AnthropicApiDouble, ClaudeCode, Cli, TempDir, TempRepo } from "@parallel-cc/testkit"
import Database from "better-sqlite3"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach } from "vitest"

export interface World {
  readonly repo: TempRepo.TempRepo
  readonly home: string
  readonly dataDir: string
  readonly api: AnthropicApiDouble.AnthropicApiDouble
  /** Env for Claude Code and for our CLI: hermetic git, the double, PARALLEL_CC_DATA_DIR. */
  readonly env: Record<string, string>
}

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

/** A fresh world for one test (removed after it). */
export const world = async (
  options: { readonly api?: AnthropicApiDouble.Options; readonly files?: Record<string, string>; readonly maxRetries?: number } = {}
): Promise<World> => {
  const base = TempDir.makeSync("pcc-e2e-")
  cleanups.push(() => TempDir.removeSync(base))
  const repo = TempRepo.makeSync(base, options.files ? { files: options.files } : {})
  const dataDir = path.join(base, "data")
  fs.mkdirSync(dataDir)
  const api = await AnthropicApiDouble.AnthropicApiDouble.start(options.api ?? {})
  cleanups.push(() => api.close())
  const env = ClaudeCode.env({
    home: repo.home,
    api,
    ...(options.maxRetries === undefined ? {} : { maxRetries: options.maxRetries }),
    extra: { PARALLEL_CC_DATA_DIR: dataDir }
  })
  return { repo, home: repo.home, dataDir, api, env }
}

/** Keep the stream-json transcript of a run next to the test output when E2E_TRANSCRIPTS is set. */
export const keepTranscript = (name: string, stdout: string) => {
  const dir = process.env.E2E_TRANSCRIPTS
  if (!dir) return
  fs.mkdirSync(dir, { recursive: true })
  fs.writeFileSync(path.join(dir, `${name}.jsonl`), stdout)
}

/** `parallel-cc …` as a real process in the world's environment (SHELL set so `install --alias` knows the rc file). */
export const pcc = (w: World, args: ReadonlyArray<string>, options: { cwd?: string; env?: Record<string, string> } = {}) =>
  Cli.runSync(args, { cwd: options.cwd ?? w.repo.root, env: { ...w.env, SHELL: "/bin/bash", ...options.env } })

/** `parallel-cc … --json`, parsed; fails the test on a non-zero exit. */
export const pccJson = (w: World, args: ReadonlyArray<string>, options: { cwd?: string; env?: Record<string, string> } = {}) => {
  const r = pcc(w, [...args, "--json"], options)
  if (r.code !== 0) throw new Error(`parallel-cc ${args.join(" ")} exited ${r.code}:\n${r.stderr}${r.stdout}`)
  return Cli.json(r)
}

/** The active sessions and kept worktrees, as `parallel-cc status --json` reports them. */
export const status = (w: World) => pccJson(w, ["status", "--repo", w.repo.root]) as {
  sessions: Array<Record<string, any>>
  kept: Array<Record<string, any>>
}

/** Run `claude-parallel <claude args…>` (the built wrapper) with stdin closed, in the repo by default. */
export const claudeParallel = (w: World, args: ReadonlyArray<string>, options: Partial<ClaudeCode.RunOptions> = {}) =>
  ClaudeCode.run(process.execPath, [Cli.wrapperPath, ...args], { cwd: w.repo.root, env: w.env, ...options })

/** A promise that resolves once `n` parties have arrived (rejects after `timeoutMs`). */
export const barrier = (n: number, timeoutMs = 60_000) => {
  let arrived = 0
  let open!: () => void
  let fail!: (e: Error) => void
  const all = new Promise<void>((resolve, reject) => {
    open = resolve
    fail = reject
  })
  const timer = setTimeout(() => fail(new Error(`barrier: ${arrived} of ${n} arrived within ${timeoutMs} ms`)), timeoutMs)
  return () => {
    arrived++
    if (arrived === n) {
      clearTimeout(timer)
      open()
    }
    return all
  }
}

/**
 * Install our Claude Code integration into the world's HOME as a user would: `parallel-cc install --all`
 * (the heartbeat hook in ~/.claude/settings.json, the MCP server registered with Claude Code, the alias).
 * Returns the install report.
 */
export const installAll = (w: World) => {
  const report = pccJson(w, ["install", "--all"])
  const pieces = (report.changes as Array<{ piece: string; action: string }>).map((c) => c.piece)
  for (const piece of ["hooks", "mcp"]) {
    if (!pieces.includes(piece)) throw new Error(`install --all did not install ${piece}: ${JSON.stringify(report)}`)
  }
  return report
}

/** Rows of the world's database (read-only, straight from SQLite: what is really stored). */
export const dbRows = (w: World, sql: string, ...params: Array<unknown>): Array<Record<string, any>> => {
  const db = new Database(path.join(w.dataDir, "coordinator.db"), { readonly: true, fileMustExist: true })
  try {
    return db.prepare(sql).all(...params) as Array<Record<string, any>>
  } finally {
    db.close()
  }
}

/**
 * Register parallel-cc as the world's Claude Code worktree provider as a user would: `parallel-cc install
 * --hooks` (the heartbeat and the WorktreeCreate/WorktreeRemove hooks in ~/.claude/settings.json).
 */
export const installHooks = (w: World) => {
  const report = pccJson(w, ["install", "--hooks"])
  const st = pccJson(w, ["install", "--status"]) as { pieces: Array<{ piece: string; state: string }> }
  if (!st.pieces.some((p) => p.piece === "worktree-provider" && p.state === "installed")) {
    throw new Error(`install --hooks did not install the worktree provider: ${JSON.stringify({ report, st })}`)
  }
  return report
}
