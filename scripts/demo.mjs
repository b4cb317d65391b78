// `npm run demo`: the main job on embedded defaults — no account, no key. Two agents (the testkit's
// scripted agent stands in for `claude`) start at once with `claude-parallel` on one repository: the
// first works in the repository, the second in its own worktree. Both sessions end when their agents
// exit; the worktree holding an unmerged commit is kept (never lose work) until it is merged, and then
// `cleanup` removes it. Everything happens in a fresh temp directory that is removed at the end.
import { execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const bin = path.join(root, "packages/cli/dist/bin.cjs")
const wrapper = path.join(root, "packages/cli/dist/wrapper.cjs")
const agent = path.join(root, "packages/testkit/bin/scripted-agent.mjs")
const base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "parallel-cc-demo-")))
const repo = path.join(base, "shop")
const env = {
  ...process.env,
  PARALLEL_CC_DATA_DIR: path.join(base, "data"),
  PARALLEL_CC_AGENT: agent,
  GIT_CONFIG_GLOBAL: "/dev/null",
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_AUTHOR_NAME: "Demo",
  GIT_AUTHOR_EMAIL: "demo@example.com",
  GIT_COMMITTER_NAME: "Demo",
  GIT_COMMITTER_EMAIL: "demo@example.com"
}
for (const k of Object.keys(env)) if (k.startsWith("PARALLEL_CC_") && !["PARALLEL_CC_DATA_DIR", "PARALLEL_CC_AGENT"].includes(k)) delete env[k]
const bold = (s) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s)
const say = (text) => console.log(`\n${bold(`▸ ${text}`)}`)
const run = (args) => {
  console.log(`$ parallel-cc ${args.join(" ")}`)
  const out = execFileSync(process.execPath, [bin, ...args], { env, cwd: repo, encoding: "utf8" })
  process.stdout.write(out)
  return out
}
const git = (...args) => execFileSync("git", args, { cwd: repo, env, encoding: "utf8" })
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/** Start `claude-parallel -p <prompt>` with a script; its output is shown with a label. */
const startAgent = (label, prompt, actions) => {
  console.log(`$ claude-parallel -p "${prompt}"    # ${label}`)
  const child = spawn(process.execPath, [wrapper, "-p", prompt], {
    cwd: repo,
    env: { ...env, SCRIPTED_AGENT_SCRIPT: JSON.stringify({ actions }) },
    stdio: ["ignore", "pipe", "pipe"]
  })
  const show = (chunk) => {
    for (const line of chunk.toString().split("\n")) if (line.trim() !== "") console.log(`  [${label}] ${line}`)
  }
  child.stdout.on("data", show)
  child.stderr.on("data", show)
  return new Promise((resolve) => child.on("close", (code) => resolve(code)))
}
const commit = (file, text) => [
  { write: file, content: `${text}\n` },
  { run: ["git", "add", "--", file] },
  { run: ["git", "commit", "-q", "-m", text] }
]

try {
  say(`A fresh repository at ${repo}`)
  fs.mkdirSync(repo, { recursive: true })
  git("init", "-q", "-b", "main")
  fs.writeFileSync(path.join(repo, "README.md"), "# shop\n")
  git("add", "-A")
  git("commit", "-q", "-m", "initial")

  say("Two agents start in the same repository")
  const first = startAgent("agent 1", "add a pricing note", [{ sleep: 3000 }, ...commit("notes/pricing.md", "Add a pricing note")])
  for (let i = 0; i < 100; i++) {
    if (JSON.parse(execFileSync(process.execPath, [bin, "status", "--json"], { env, encoding: "utf8" })).sessions.length > 0) break
    await sleep(100)
  }
  const second = startAgent("agent 2", "add a shipping note", [...commit("notes/shipping.md", "Add a shipping note"), { sleep: 1500 }])
  await sleep(1000)

  say("While both work: one in the repository, one in its own worktree and branch")
  run(["status"])

  const codes = await Promise.all([first, second])
  say(`Both agents exited (exit codes ${codes.join(", ")}); their sessions were released`)
  console.log("The second agent's commit exists only on its branch, so its worktree was kept (never lose work).")
  run(["status"])

  const kept = JSON.parse(execFileSync(process.execPath, [bin, "status", "--json"], { env, encoding: "utf8" })).kept
  say(`Merge the kept branch, then clean up`)
  for (const k of kept) {
    console.log(`$ git merge --no-edit ${k.branch}`)
    git("merge", "-q", "--no-edit", k.branch)
  }
  run(["cleanup"])
  run(["status"])
  console.log(`\nmain now has: ${git("log", "--format=%s", "main").trim().split("\n").join(" | ")}`)
} finally {
  fs.rmSync(base, { recursive: true, force: true })
}
