import { ClaudeCode } from "@parallel-cc/testkit"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

// Install the pinned Claude Code binary once (through npm; later runs hit the cache) before any worker
// starts, and make sure the CLI bundle the tests drive has been built.
export default function setup() {
  const bin = ClaudeCode.binary()
  const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../packages/cli/dist/bin.cjs")
  if (!fs.existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\` (npm run test:e2e does)`)
  process.stderr.write(`e2e: Claude Code ${ClaudeCode.version} at ${bin}\n`)
}
