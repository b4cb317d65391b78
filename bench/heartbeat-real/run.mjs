// The heartbeat hook's cost inside a real Claude Code run.
//
// The real Claude Code binary (pinned, installed through npm like the e2e suite) works through a script of
// tool calls served by the Anthropic API double. The double records when each request arrives; the gap
// between two consecutive requests is one whole tool-call cycle as Claude Code performs it: parse the
// streamed reply, run the tool, run the PostToolUse hooks, send the next request. Hooks are the only thing
// that differs between the variants, so the difference of the median gaps is what a hook adds per call:
//   none       no hooks
//   true       PostToolUse hook `true` (the floor of any command hook: Claude Code runs `/bin/sh -c <command>`,
//              and `true` is a builtin of that shell)
//   script     PostToolUse hook: an empty `#!/bin/sh` script (the floor of a hook that is a script file:
//              the shell forks and execs it)
//   heartbeat  PostToolUse hook packages/cli/hooks/heartbeat.sh, active (PARALLEL_CC_HEARTBEAT_FILE set)
//   node       PostToolUse hook `node -e 0` (what a hook written in Node would cost at least)
// Variants run interleaved, round after round, so machine noise hits all alike. The hook matcher is empty,
// i.e. every tool call, as `install --hooks` registers it. Env: BENCH_ROUNDS (8), BENCH_CALLS (25).
import * as esbuild from "esbuild"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { install, VERSION } from "../../packages/testkit/bin/install-claude-code.mjs"
import { machine, round, stats } from "../lib.mjs"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")
const rounds = Number(process.env.BENCH_ROUNDS ?? 8)
const calls = Number(process.env.BENCH_CALLS ?? 25)
const heartbeat = path.join(root, "packages/cli/hooks/heartbeat.sh")
const work = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "pcc-bench-hb-real-")))

// The double is TypeScript in the testkit; bundle it for plain Node.
const doubleFile = path.join(work, "api-double.mjs")
await esbuild.build({
  entryPoints: [path.join(root, "packages/testkit/src/AnthropicApiDouble.ts")],
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  outfile: doubleFile,
  logLevel: "warning"
})
const { AnthropicApiDouble, Reply } = await import(pathToFileURL(doubleFile).href)

const claude = install(undefined, () => {})
const emptyScript = path.join(work, "empty-hook.sh")
fs.writeFileSync(emptyScript, "#!/bin/sh\nexit 0\n", { mode: 0o755 })
const variants = {
  none: undefined,
  true: "true",
  script: emptyScript,
  heartbeat,
  node: `${process.execPath} -e 0`
}

const runOnce = async (name) => {
  const home = path.join(work, `home-${name}`)
  const proj = path.join(home, "proj")
  fs.rmSync(home, { recursive: true, force: true })
  fs.mkdirSync(path.join(home, ".claude"), { recursive: true })
  fs.mkdirSync(proj)
  fs.writeFileSync(path.join(proj, "a.txt"), "hello\n")
  const beat = path.join(home, "heartbeat")
  fs.writeFileSync(beat, "")
  const command = variants[name]
  const settings = command === undefined
    ? {}
    : { hooks: { PostToolUse: [{ matcher: "", hooks: [{ type: "command", command }] }] } }
  fs.writeFileSync(path.join(home, ".claude", "settings.json"), JSON.stringify(settings))
  const api = await AnthropicApiDouble.start({
    script: [...Array.from({ length: calls }, () => Reply.read(path.join(proj, "a.txt"))), Reply.text("done")]
  })
  const before = fs.statSync(beat).mtimeMs
  try {
    const code = await new Promise((resolve, reject) => {
      const child = spawn(claude, ["-p", "read it", "--output-format", "stream-json", "--verbose", "--dangerously-skip-permissions"], {
        cwd: proj,
        stdio: ["ignore", "ignore", "pipe"],
        env: {
          PATH: process.env.PATH,
          HOME: home,
          ...api.env(),
          ...(process.getuid?.() === 0 ? { IS_SANDBOX: "1" } : {}),
          PARALLEL_CC_HEARTBEAT_FILE: beat
        }
      })
      let stderr = ""
      child.stderr.on("data", (d) => (stderr += d))
      child.on("error", reject)
      child.on("close", (c) => (c === 0 ? resolve(c) : reject(new Error(`claude exited ${c}: ${stderr}`))))
    })
    const at = api.turns().map((r) => r.at)
    if (at.length !== calls + 1) throw new Error(`expected ${calls + 1} turns, got ${at.length} (exit ${code})`)
    if (name === "heartbeat" && !(fs.statSync(beat).mtimeMs > before)) throw new Error("the heartbeat hook did not touch its file")
    // Gap i = request i+1 − request i; the first cycle also carries start-up work, so it is left out.
    return at.slice(2).map((t, i) => t - at[i + 1])
  } finally {
    await api.close()
  }
}

try {
  const gaps = Object.fromEntries(Object.keys(variants).map((k) => [k, []]))
  const totals = Object.fromEntries(Object.keys(variants).map((k) => [k, []]))
  await runOnce("none") // warm-up (page cache for the 400 MB binary)
  for (let r = 0; r < rounds; r++) {
    for (const name of Object.keys(variants)) {
      const t0 = Date.now()
      gaps[name].push(...(await runOnce(name)))
      totals[name].push(Date.now() - t0)
    }
  }
  const results = Object.fromEntries(Object.entries(gaps).map(([k, v]) => [k, stats(v)]))
  const base = results.none.median
  const out = {
    bench: "heartbeat-real",
    machine: machine(),
    claudeCode: VERSION,
    method: `${rounds} interleaved rounds × ${calls} Read tool calls per variant; per-call cycle = gap between consecutive API requests (ms)`,
    toolCallCycleMs: results,
    addedPerToolCallMs: Object.fromEntries(Object.keys(variants).filter((k) => k !== "none").map((k) => [k, round(results[k].median - base)])),
    heartbeatOverScriptFloorMs: round(results.heartbeat.median - results.script.median),
    wholeRunMs: Object.fromEntries(Object.entries(totals).map(([k, v]) => [k, stats(v)]))
  }
  console.log(JSON.stringify(out, null, 2))
} finally {
  fs.rmSync(work, { recursive: true, force: true })
}
