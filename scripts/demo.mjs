// `npm run demo`: the main job on embedded defaults — no account, no key. Two agents (the testkit's
// scripted agent stands in for `claude`) start at once with `claude-parallel` on one repository: the
// first works in the repository, the second in its own worktree. Both sessions end when their agents
// exit; the worktree holding an unmerged commit is kept (never lose work) until it is merged, and then
// `cleanup` removes it. Then an agent works unattended in a sandbox (the local provider: no account),
// and its changes end up ready for review in a new worktree. Everything happens in a fresh temp directory
// that is removed at the end (PARALLEL_CC_DEMO_KEEP=1 keeps it to look around).
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
const keep = process.env.PARALLEL_CC_DEMO_KEEP === "1"

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

  say("An agent works unattended in a sandbox (local provider: no account, no key)")
  fs.mkdirSync(path.join(repo, "src"), { recursive: true })
  fs.writeFileSync(path.join(repo, "src/app.ts"), "export const routes = [\"/\"]\n")
  fs.writeFileSync(path.join(repo, "TODO.md"), "- add a health check\n")
  fs.writeFileSync(path.join(repo, ".gitignore"), "dist/\n")
  fs.mkdirSync(path.join(repo, "dist"), { recursive: true })
  fs.writeFileSync(path.join(repo, "dist/app.js"), "// build output: ignored, never uploaded\n")
  git("add", "-A")
  git("commit", "-q", "-m", "Add the app")
  // The scripted agent stands in for Claude Code: it speaks the same stream-json and edits files.
  const script = {
    actions: [
      { say: "I'll add a /health route with its handler, and tick the TODO." },
      { edit: "src/app.ts", find: "[\"/\"]", replace: "[\"/\", \"/health\"]" },
      { write: "src/health.ts", content: "export const health = () => ({ status: \"ok\" })\n" },
      { delete: "TODO.md" },
      { say: "Done: /health answers {status: ok}." }
    ],
    cost: 0.0042
  }
  const prompt = `Add a health check endpoint [[scripted-agent:${JSON.stringify(script)}]]`
  console.log(`$ parallel-cc sandbox run --repo ${repo} --agent ${agent} --prompt "Add a health check endpoint …"`)
  process.stdout.write(execFileSync(process.execPath, [bin, "sandbox", "run", "--repo", repo, "--agent", agent, "--prompt", prompt], {
    env,
    cwd: repo,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"]
  }))
  const rec = JSON.parse(execFileSync(process.execPath, [bin, "sandbox", "list", "--json"], { env, encoding: "utf8" })).runs[0]

  say("From any other terminal: the runs, and a run's log")
  run(["sandbox", "list"])
  run(["sandbox", "logs", "--session-id", rec.sessionId, "--lines", "8"])

  say(`The changes are ready for review in the worktree ${rec.worktreePath} (branch ${rec.branch})`)
  console.log(`$ cd ${rec.worktreePath} && git status --short && git diff`)
  const wtGit = (...args) => execFileSync("git", args, { cwd: rec.worktreePath, env, encoding: "utf8" })
  process.stdout.write(wtGit("status", "--short"))
  process.stdout.write(wtGit("diff"))
  console.log(`(and the new file: cat ${path.join(rec.worktreePath, "src/health.ts")})`)
  if (keep) console.log(`\nKept for you to look at: ${base}  (PARALLEL_CC_DATA_DIR=${env.PARALLEL_CC_DATA_DIR})`)
  else console.log("\nThe demo removes its temporary directory now; run it with PARALLEL_CC_DEMO_KEEP=1 to keep it and look yourself.")
} finally {
  if (!keep) fs.rmSync(base, { recursive: true, force: true })
}
