// `npm run demo`: the main job on embedded defaults — no account, no key. Everything happens in a
// fresh temp directory (its own data directory and git repository) that is removed at the end.
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const bin = path.join(root, "packages/cli/dist/bin.cjs")
const base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "parallel-cc-demo-")))
const repo = path.join(base, "shop")
const env = {
  ...process.env,
  PARALLEL_CC_DATA_DIR: path.join(base, "data"),
  GIT_CONFIG_GLOBAL: "/dev/null",
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_AUTHOR_NAME: "Demo",
  GIT_AUTHOR_EMAIL: "demo@example.com",
  GIT_COMMITTER_NAME: "Demo",
  GIT_COMMITTER_EMAIL: "demo@example.com"
}
const say = (text) => console.log(`\n\x1b[1m▸ ${text}\x1b[0m`)
const run = (args, opts = {}) => {
  console.log(`$ parallel-cc ${args.join(" ")}`)
  const out = execFileSync(process.execPath, [bin, ...args], { env, encoding: "utf8", ...opts })
  process.stdout.write(out)
  return out
}

try {
  say(`A fresh repository at ${repo}`)
  fs.mkdirSync(repo, { recursive: true })
  execFileSync("git", ["init", "-q", "-b", "main"], { cwd: repo, env })
  fs.writeFileSync(path.join(repo, "README.md"), "# shop\n")
  execFileSync("git", ["add", "-A"], { cwd: repo, env })
  execFileSync("git", ["commit", "-q", "-m", "initial"], { cwd: repo, env })

  say("Two agents start in the same repository")
  const first = JSON.parse(run(["register", "--repo", repo, "--pid", String(process.pid), "--json"]))
  const second = JSON.parse(run(["register", "--repo", repo, "--pid", String(process.pid), "--json"]))
  console.log(`first session works in the repository itself: ${first.isMainRepo}`)
  console.log(`second session gets its own place: ${second.worktreePath} (branch ${second.branch})`)

  say("What parallel-cc knows")
  run(["status"])
} finally {
  fs.rmSync(base, { recursive: true, force: true })
}
