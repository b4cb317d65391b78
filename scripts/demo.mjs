// `npm run demo`: parallel-cc on embedded defaults — no account, no key. The testkit's scripted agent stands
// in for `claude` (it speaks the same headless command line and stream-json, and edits files).
//   1. Two agents start at once with `claude-parallel` on one repository: the first works in the repository,
//      the second in a worktree of its own.
//   2. The main job: three tasks handed to `parallel-cc sandbox run --multi`, each in its own sandbox (the
//      local provider) and worktree, with live progress, ending with the summary report.
// Everything happens in a fresh temp directory that is removed at the end (PARALLEL_CC_DEMO_KEEP=1 keeps it).
import { execFileSync, spawn, spawnSync } from "node:child_process"
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
  process.stdout.write(execFileSync(process.execPath, [bin, ...args], { env, cwd: repo, encoding: "utf8" }))
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

/** A task of the parallel run: a readable first line, then the scripted agent's instructions. */
const task = (id, text, actions, cost) =>
  [`  - id: ${id}`, "    prompt: |-", `      ${text}`, `      [[scripted-agent: ${JSON.stringify({ actions, cost })}]]`].join("\n")

try {
  say(`A fresh repository at ${repo}`)
  fs.mkdirSync(path.join(repo, "src"), { recursive: true })
  git("init", "-q", "-b", "main")
  fs.writeFileSync(path.join(repo, "README.md"), "# shop\n")
  fs.writeFileSync(path.join(repo, "src/app.ts"), "export const routes = [\"/\"]\n")
  fs.writeFileSync(path.join(repo, ".gitignore"), "dist/\n")
  git("add", "-A")
  git("commit", "-q", "-m", "initial")

  say("Two agents start at once on the same repository")
  const first = startAgent("agent 1", "add a pricing note", [{ sleep: 2500 }, { write: "notes/pricing.md", content: "Prices in EUR.\n" }])
  for (let i = 0; i < 100; i++) {
    if (JSON.parse(execFileSync(process.execPath, [bin, "status", "--json"], { env, encoding: "utf8" })).sessions.length > 0) break
    await sleep(100)
  }
  const second = startAgent("agent 2", "add a shipping note", [{ write: "notes/shipping.md", content: "Ships in 2 days.\n" }, { sleep: 1500 }])
  await sleep(800)
  console.log("While both work, one is in the repository and one in its own worktree and branch:")
  run(["status"])
  const codes = await Promise.all([first, second])
  console.log(`Both exited (${codes.join(", ")}); their sessions were released. The second one's worktree holds its`)
  console.log("uncommitted note, so it was kept for review instead of being removed (never lose work).")

  say("The main job: three tasks at once, each in its own sandbox and worktree")
  fs.writeFileSync(path.join(repo, "tasks.yaml"), [
    "# parallel-cc sandbox run --multi --task-file tasks.yaml",
    "tasks:",
    task("health", "Add a /health endpoint that answers {status: ok}", [
      { say: "Adding the route and its handler." },
      { sleep: 2500 },
      { edit: "src/app.ts", find: "[\"/\"]", replace: "[\"/\", \"/health\"]" },
      { write: "src/health.ts", content: "export const health = () => ({ status: \"ok\" })\n" }
    ], 0.0123),
    task("docs", "Document the routes in the README", [
      { sleep: 1500 },
      { edit: "README.md", find: "# shop", replace: "# shop\n\nRoutes: `/` (home), `/health` (liveness)." }
    ], 0.0061),
    task("tests", "Add a test for the health endpoint", [
      { sleep: 2000 },
      { write: "test/health.test.ts", content: "import { health } from \"../src/health\"\ntest(\"ok\", () => expect(health().status).toBe(\"ok\"))\n" }
    ], 0.0088),
    ""
  ].join("\n"))
  console.log(`$ cat tasks.yaml   # (each prompt carries the scripted agent's instructions)`)
  console.log(fs.readFileSync(path.join(repo, "tasks.yaml"), "utf8").split("\n").filter((l) => !l.includes("[[scripted-agent")).join("\n"))
  console.log("$ parallel-cc sandbox run --multi --task-file tasks.yaml --max-concurrent 3")
  // Progress (a live view on a terminal) goes to stderr, the summary to stdout: both straight to yours.
  const multi = spawnSync(process.execPath, [bin, "sandbox", "run", "--multi", "--task-file", "tasks.yaml", "--max-concurrent", "3"], {
    env,
    cwd: repo,
    stdio: "inherit"
  })
  if (multi.status !== 0) throw new Error(`the parallel run failed (exit ${multi.status})`)

  const results = path.join(repo, "parallel-results")
  const dir = path.join(results, fs.readdirSync(results)[0])
  say(`The summary report: ${path.relative(repo, dir)}/summary-report.md`)
  process.stdout.write(fs.readFileSync(path.join(dir, "summary-report.md"), "utf8"))

  say("Each task's changes are ready for review: a worktree, and a patch against the starting commit")
  console.log(`$ cat ${path.relative(repo, dir)}/health/changes.patch`)
  process.stdout.write(fs.readFileSync(path.join(dir, "health", "changes.patch"), "utf8"))
  if (keep) console.log(`\nKept for you to look at: ${base}  (PARALLEL_CC_DATA_DIR=${env.PARALLEL_CC_DATA_DIR})`)
  else console.log("\nThe demo removes its temporary directory now; run it with PARALLEL_CC_DEMO_KEEP=1 to keep it and look around.")
} finally {
  if (!keep) fs.rmSync(base, { recursive: true, force: true })
}
