/**
 * Shared set-up for the end-to-end tests: a temp base dir holding a git repo, a HOME for Claude Code and
 * our data dir; an Anthropic API double; and the environment that ties them together.
 */
import { AnthropicApiDouble, ClaudeCode, TempDir, TempRepo } from "@parallel-cc/testkit"
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
