#!/usr/bin/env node
// The scripted agent: a stand-in for the `claude` CLI that tests and the demo run instead of a model.
// It speaks the same command line where it matters (headless `-p`, `--output-format text|json|stream-json`
// with the `--verbose` rule, `--max-turns`, `--max-budget-usd`, prompt as argument or on stdin), prints the same stream-json
// events (system/init, assistant tool_use, user tool_result, result with cost and turns), runs the
// PostToolUse/SessionStart/SessionEnd command hooks of Claude Code settings files, edits files in its
// working directory, and exits 0 on success and 1 on an error result.
//
// What it does comes from a script: env SCRIPTED_AGENT_SCRIPT (inline JSON, or a path to a JSON file),
// else an inline `[[scripted-agent: {...}]]` in the prompt, else a default: write one note file named
// after the prompt. A script is `{ "actions": [...], "cost": 0.0123, "result": "text" }`; actions are
//   {"write": path, "content": s}  {"append": path, "content": s}  {"edit": path, "find": s, "replace": s}
//   {"delete": path}  {"mkdir": path}  {"run": [argv…]}  {"say": text}  {"sleep": ms}
//   {"env": path}  (write the environment as JSON)  {"fail": message}  {"exit": code}  {"hang": true}
//   {"stamp": path, "label": s}  (append the line `<label> <Date.now()>`: when the agent got there)
//   {"waitFor": path, "timeoutMs": n}  (wait until path exists, polling; an error after n ms, default 30 s)
// `scripted-agent mcp add|add-json|remove|get|list …` behaves like `claude mcp …` (MCP registration only).
import { spawnSync } from "node:child_process"
import { randomUUID } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

// `claude mcp add|add-json|remove|get|list`: the registration part of the CLI, writing the documented shapes
// (../../shared INTERFACES §3): scope user → ~/.claude.json mcpServers, local (default) → ~/.claude.json
// projects[cwd].mcpServers, project → <cwd>/.mcp.json. CLAUDE_CONFIG_DIR relocates ~/.claude.json.
if (process.argv[2] === "mcp") mcpCommand(process.argv.slice(3))

function mcpCommand(args) {
  const die = (message, code = 1) => {
    process.stderr.write(message + "\n")
    process.exit(code)
  }
  const [sub, ...rest] = args
  let scope = "local"
  let type = "stdio"
  const envs = {}
  const headers = {}
  const positional = []
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]
    if (a === "--") {
      positional.push(...rest.slice(i + 1))
      break
    } else if (a === "-s" || a === "--scope") scope = rest[++i]
    else if (a === "-t" || a === "--transport") type = rest[++i]
    else if (a === "-e" || a === "--env") {
      const kv = rest[++i] ?? ""
      envs[kv.slice(0, kv.indexOf("="))] = kv.slice(kv.indexOf("=") + 1)
    } else if (a === "-H" || a === "--header") {
      const h = rest[++i] ?? ""
      headers[h.slice(0, h.indexOf(":")).trim()] = h.slice(h.indexOf(":") + 1).trim()
    } else if (a.startsWith("-") && positional.length < 2) die(`error: unknown option '${a}'`)
    else positional.push(a)
  }
  if (!["local", "user", "project"].includes(scope)) die(`Invalid scope: ${scope}. Must be one of: local, user, project`)
  const home = process.env.CLAUDE_CONFIG_DIR || os.homedir()
  const userFile = path.join(home, ".claude.json")
  const file = scope === "project" ? path.join(process.cwd(), ".mcp.json") : userFile
  const read = () => {
    try {
      return JSON.parse(fs.readFileSync(file, "utf8"))
    } catch (e) {
      if (e.code === "ENOENT") return {}
      die(`Error reading ${file}: ${e.message}`)
    }
  }
  const write = (doc) => {
    fs.mkdirSync(path.dirname(file), { recursive: true })
    const tmp = `${file}.tmp-${process.pid}`
    fs.writeFileSync(tmp, JSON.stringify(doc, null, 2), { mode: 0o600 })
    fs.renameSync(tmp, file)
  }
  const servers = (doc, create) => {
    if (scope === "local") {
      doc.projects ??= {}
      doc.projects[process.cwd()] ??= {}
      if (create) doc.projects[process.cwd()].mcpServers ??= {}
      return doc.projects[process.cwd()].mcpServers
    }
    if (create) doc.mcpServers ??= {}
    return doc.mcpServers
  }
  const doc = read()
  const name = positional[0]
  if (sub === "list") {
    for (const [n, e] of Object.entries(servers(doc, false) ?? {})) process.stdout.write(`${n}: ${e.command ?? e.url} ${(e.args ?? []).join(" ")}\n`)
    process.exit(0)
  }
  if (name === undefined) die("error: missing required argument 'name'")
  if (sub === "add" || sub === "add-json") {
    const current = servers(doc, true)
    if (current[name] !== undefined) die(`MCP server ${name} already exists in ${scope} config`)
    let entry
    if (sub === "add-json") {
      try {
        entry = JSON.parse(positional[1] ?? "")
      } catch {
        die("Error: Invalid JSON")
      }
    } else if (type === "stdio") {
      if (positional[1] === undefined) die("error: missing required argument 'commandOrUrl'")
      entry = { type: "stdio", command: positional[1], args: positional.slice(2), env: envs }
    } else entry = { type, url: positional[1], headers }
    current[name] = entry
    write(doc)
    process.stdout.write(`Added ${type} MCP server ${name} to ${scope} config\nFile modified: ${file}\n`)
    process.exit(0)
  }
  if (sub === "remove") {
    const current = servers(doc, false)
    if (current?.[name] === undefined) die(`No MCP server found with name: ${name} in ${scope} config`)
    delete current[name]
    write(doc)
    process.stdout.write(`Removed MCP server ${name} from ${scope} config\nFile modified: ${file}\n`)
    process.exit(0)
  }
  if (sub === "get") {
    const e = servers(doc, false)?.[name]
    if (e === undefined) die(`No MCP server found with name: ${name}`)
    process.stdout.write(`${name}:\n  Scope: ${scope}\n  Type: ${e.type}\n  Command: ${e.command ?? e.url}\n  Args: ${(e.args ?? []).join(" ")}\n`)
    process.exit(0)
  }
  die(`error: unknown command 'mcp ${sub ?? ""}'`)
}

const started = Date.now()
const argv = process.argv.slice(2)
const opts = { print: false, format: "text", verbose: false, maxTurns: undefined, maxBudget: undefined, skipPermissions: false }
const positional = []
const withValue = new Set([
  "--output-format", "--input-format", "--model", "--fallback-model", "--max-turns", "--max-budget-usd",
  "--append-system-prompt", "--system-prompt", "--session-id", "--permission-mode", "-r", "--resume",
  "--settings", "--setting-sources", "--append-system-prompt-file", "--json-schema"
])
const variadic = new Set(["--mcp-config", "--allowedTools", "--disallowedTools", "--tools", "--add-dir"])
const boolean = new Set([
  "--verbose", "--dangerously-skip-permissions", "--include-partial-messages", "--strict-mcp-config",
  "--no-session-persistence", "-c", "--continue", "--fork-session", "--bare", "--include-hook-events"
])
let sessionId = randomUUID()
for (let i = 0; i < argv.length; i++) {
  const a = argv[i]
  if (a === "-p" || a === "--print") opts.print = true
  else if (a === "--verbose") opts.verbose = true
  else if (a === "--dangerously-skip-permissions") opts.skipPermissions = true
  else if (boolean.has(a)) continue
  else if (withValue.has(a) || [...withValue].some((f) => a.startsWith(`${f}=`))) {
    const [flag, inline] = a.includes("=") ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] : [a, argv[++i]]
    if (inline === undefined) fail(`error: option '${flag}' argument missing`)
    if (flag === "--output-format") opts.format = inline
    if (flag === "--session-id") sessionId = inline
    if (flag === "--max-budget-usd") {
      if (!/^\d+(\.\d+)?$/.test(inline)) fail(`error: option '--max-budget-usd <amount>' argument '${inline}' is invalid.`)
      opts.maxBudget = Number(inline)
    }
    if (flag === "--max-turns") {
      if (!/^\d+$/.test(inline)) fail(`error: option '--max-turns <turns>' argument '${inline}' is invalid. must be a number`)
      opts.maxTurns = Number(inline)
    }
  } else if (variadic.has(a)) {
    while (argv[i + 1] !== undefined && !argv[i + 1].startsWith("-")) i++
  } else if (a === "--") positional.push(...argv.slice(i + 1)), (i = argv.length)
  else if (a.startsWith("-")) fail(`error: unknown option '${a}'`)
  else positional.push(a)
}

// As the custom agent of a sandboxed run (`sandbox run --agent PATH`: no arguments, PARALLEL_CC_SANDBOX=1 in
// the environment) the prompt comes on stdin and the output is stream-json, like `claude -p`.
if (argv.length === 0 && process.env.PARALLEL_CC_SANDBOX === "1") {
  opts.print = true
  opts.format = "stream-json"
  opts.verbose = true
}

function fail(message, code = 1) {
  process.stderr.write(message + "\n")
  process.exit(code)
}

if (!["text", "json", "stream-json"].includes(opts.format)) {
  fail(`error: option '--output-format <format>' argument '${opts.format}' is invalid.`)
}
if (opts.print && opts.format === "stream-json" && !opts.verbose) {
  fail("Error: When using --print, --output-format=stream-json requires --verbose")
}

const readStdin = () => {
  try {
    return fs.readFileSync(0, "utf8")
  } catch {
    return ""
  }
}
let prompt = positional.join(" ")
if (prompt.trim() === "" && opts.print) prompt = readStdin()
if (opts.print && prompt.trim() === "") {
  fail("Error: Input must be provided either through stdin or as a prompt argument when using --print")
}

const slug = (s) => s.toLowerCase().replace(/\[\[scripted-agent:[\s\S]*?\]\]/g, "").replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "").slice(0, 40) || "task"

const loadScript = () => {
  const fromEnv = process.env.SCRIPTED_AGENT_SCRIPT
  if (fromEnv) {
    const text = /^\s*[[{]/.test(fromEnv) ? fromEnv : fs.readFileSync(fromEnv, "utf8")
    return JSON.parse(text)
  }
  const inline = prompt.match(/\[\[scripted-agent:([\s\S]*?)\]\]/)
  if (inline) return JSON.parse(inline[1])
  return {
    actions: [{ write: `agent-notes/${slug(prompt)}.md`, content: `# ${prompt.trim()}\n\nDone by the scripted agent.\n` }]
  }
}

let script
try {
  script = loadScript()
} catch (e) {
  fail(`scripted-agent: bad script: ${e.message}`)
}
const actions = Array.isArray(script) ? script : script.actions ?? []

const out = (event) => {
  if (opts.print && opts.format === "stream-json") process.stdout.write(JSON.stringify(event) + "\n")
}
const say = (text) => {
  if (!opts.print) process.stdout.write(text + "\n")
}

// Claude Code runs command hooks from the user, project and local settings files, all merged.
const hookCommands = (event, toolName) => {
  const files = [
    path.join(process.env.CLAUDE_CONFIG_DIR ?? path.join(os.homedir(), ".claude"), "settings.json"),
    path.join(process.cwd(), ".claude", "settings.json"),
    path.join(process.cwd(), ".claude", "settings.local.json")
  ]
  const commands = []
  for (const file of new Set(files.map((f) => path.resolve(f)))) {
    let settings
    try {
      settings = JSON.parse(fs.readFileSync(file, "utf8"))
    } catch {
      continue
    }
    for (const group of settings?.hooks?.[event] ?? []) {
      const matcher = group.matcher ?? ""
      if (toolName !== undefined && matcher !== "" && matcher !== "*" && !new RegExp(`^(?:${matcher})$`).test(toolName)) continue
      for (const h of group.hooks ?? []) if (h.type === "command" && typeof h.command === "string") commands.push(h)
    }
  }
  return commands
}
const runHooks = (event, extra = {}) => {
  for (const h of hookCommands(event, extra.tool_name)) {
    const input = JSON.stringify({
      session_id: sessionId,
      transcript_path: path.join(os.tmpdir(), `${sessionId}.jsonl`),
      cwd: process.cwd(),
      hook_event_name: event,
      ...extra
    })
    spawnSync("/bin/sh", ["-c", h.command], {
      input,
      stdio: ["pipe", "ignore", "inherit"],
      timeout: (h.timeout ?? 60) * 1000,
      env: { ...process.env, CLAUDE_PROJECT_DIR: process.cwd(), CLAUDE_CODE_SESSION_ID: sessionId, CLAUDE_PID: String(process.pid) }
    })
  }
}

const sleepSync = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)

runHooks("SessionStart", { source: "startup" })
out({
  type: "system",
  subtype: "init",
  session_id: sessionId,
  uuid: randomUUID(),
  cwd: process.cwd(),
  model: "scripted-agent",
  permissionMode: opts.skipPermissions ? "bypassPermissions" : "default",
  apiKeySource: process.env.ANTHROPIC_API_KEY ? "ANTHROPIC_API_KEY" : "none",
  tools: ["Bash", "Edit", "Write", "Read"],
  mcp_servers: [],
  claude_code_version: "scripted"
})
say(`scripted-agent: ${prompt.trim().split("\n")[0] || "(interactive)"} in ${process.cwd()}`)

let turns = 0
let errorMessage
let budgetExceeded = false
// Each turn costs an equal share of the script's cost (or 0.0011); --max-budget-usd stops before a turn
// that would start at or over the budget, like the real CLI's error_max_budget_usd.
const turnActions = actions.filter((a) => !("sleep" in a) && !("waitFor" in a) && !("hang" in a) && !("exit" in a) && !("fail" in a)).length
const perTurn = typeof script.cost === "number" ? script.cost / Math.max(1, turnActions) : 0.0011
const finish = (isError) => {
  runHooks("SessionEnd", { reason: "other" })
  const cost = budgetExceeded || typeof script.cost !== "number" ? Math.round(turns * perTurn * 1e6) / 1e6 : script.cost
  const result = {
    type: "result",
    subtype: budgetExceeded
      ? "error_max_budget_usd"
      : isError && errorMessage?.startsWith("Reached maximum") ? "error_max_turns" : isError ? "error_during_execution" : "success",
    is_error: isError,
    duration_ms: Date.now() - started,
    duration_api_ms: Math.max(0, Date.now() - started - 1),
    num_turns: turns,
    session_id: sessionId,
    total_cost_usd: cost,
    usage: { input_tokens: 100 * turns, output_tokens: 20 * turns, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 },
    ...(isError ? { errors: [errorMessage] } : { result: script.result ?? `Done: ${actions.length} step(s).` }),
    uuid: randomUUID()
  }
  if (opts.print && opts.format === "stream-json") out(result)
  else if (opts.print && opts.format === "json") process.stdout.write(JSON.stringify(result, null, 2) + "\n")
  else if (opts.print) process.stdout.write((isError ? errorMessage : result.result) + "\n")
  else say(isError ? `scripted-agent: error: ${errorMessage}` : "scripted-agent: done")
  process.exit(isError ? 1 : 0)
}

const toolFor = (a) => {
  if ("write" in a) return ["Write", { file_path: a.write, content: a.content ?? "" }]
  if ("append" in a) return ["Edit", { file_path: a.append, old_string: "", new_string: a.content ?? "" }]
  if ("edit" in a) return ["Edit", { file_path: a.edit, old_string: a.find, new_string: a.replace }]
  if ("delete" in a) return ["Bash", { command: `rm -f -- ${JSON.stringify(a.delete)}` }]
  if ("mkdir" in a) return ["Bash", { command: `mkdir -p -- ${JSON.stringify(a.mkdir)}` }]
  if ("run" in a) return ["Bash", { command: a.run.map((x) => JSON.stringify(x)).join(" ") }]
  if ("env" in a) return ["Bash", { command: `env > ${JSON.stringify(a.env)}` }]
  if ("stamp" in a) return ["Bash", { command: `echo ${JSON.stringify(a.label ?? "")} $(date +%s%3N) >> ${JSON.stringify(a.stamp)}` }]
  return undefined
}

const apply = (a) => {
  const resolve = (p) => path.resolve(process.cwd(), p)
  if ("write" in a) {
    fs.mkdirSync(path.dirname(resolve(a.write)), { recursive: true })
    fs.writeFileSync(resolve(a.write), a.content ?? "")
    return `File created successfully at: ${a.write}`
  }
  if ("append" in a) {
    fs.mkdirSync(path.dirname(resolve(a.append)), { recursive: true })
    fs.appendFileSync(resolve(a.append), a.content ?? "")
    return `Appended to ${a.append}`
  }
  if ("edit" in a) {
    const text = fs.readFileSync(resolve(a.edit), "utf8")
    if (!text.includes(a.find)) throw new Error(`String to replace not found in file: ${a.find}`)
    fs.writeFileSync(resolve(a.edit), text.replace(a.find, a.replace))
    return `The file ${a.edit} has been updated.`
  }
  if ("delete" in a) {
    fs.rmSync(resolve(a.delete), { recursive: true, force: true })
    return ""
  }
  if ("mkdir" in a) {
    fs.mkdirSync(resolve(a.mkdir), { recursive: true })
    return ""
  }
  if ("run" in a) {
    const r = spawnSync(a.run[0], a.run.slice(1), { encoding: "utf8" })
    if (r.status !== 0) throw new Error(`${a.run.join(" ")} exited ${r.status}: ${r.stderr}`)
    return r.stdout
  }
  if ("env" in a) {
    fs.writeFileSync(resolve(a.env), JSON.stringify(process.env, null, 2))
    return ""
  }
  if ("stamp" in a) {
    fs.appendFileSync(resolve(a.stamp), `${a.label ?? ""} ${Date.now()}\n`)
    return ""
  }
  return ""
}

for (const a of actions) {
  if (opts.maxBudget !== undefined && !("sleep" in a) && !("waitFor" in a) && !("hang" in a) && turns * perTurn >= opts.maxBudget) {
    errorMessage = `Reached maximum budget ($${opts.maxBudget})`
    budgetExceeded = true
    finish(true)
  }
  if (opts.maxTurns !== undefined && turns >= opts.maxTurns) {
    errorMessage = `Reached maximum number of turns (${opts.maxTurns})`
    finish(true)
  }
  if ("sleep" in a) {
    sleepSync(a.sleep)
    continue
  }
  if ("waitFor" in a) {
    const until = Date.now() + (a.timeoutMs ?? 30_000)
    while (!fs.existsSync(path.resolve(process.cwd(), a.waitFor))) {
      if (Date.now() > until) {
        errorMessage = `waited ${a.timeoutMs ?? 30_000} ms for ${a.waitFor} in vain`
        finish(true)
      }
      sleepSync(20)
    }
    continue
  }
  if ("hang" in a) {
    setInterval(() => {}, 1 << 30)
    await new Promise(() => {})
  }
  if ("exit" in a) process.exit(a.exit)
  if ("fail" in a) {
    errorMessage = a.fail
    finish(true)
  }
  turns++
  if ("say" in a) {
    out({ type: "assistant", message: { id: `msg_${turns}`, type: "message", role: "assistant", model: "scripted-agent", content: [{ type: "text", text: a.say }], stop_reason: "end_turn", usage: { input_tokens: 100, output_tokens: 20 } }, parent_tool_use_id: null, session_id: sessionId, uuid: randomUUID() })
    say(a.say)
    continue
  }
  const tool = toolFor(a)
  if (tool === undefined) fail(`scripted-agent: unknown action ${JSON.stringify(a)}`)
  const toolUseId = `toolu_${String(turns).padStart(4, "0")}`
  out({ type: "assistant", message: { id: `msg_${turns}`, type: "message", role: "assistant", model: "scripted-agent", content: [{ type: "tool_use", id: toolUseId, name: tool[0], input: tool[1] }], stop_reason: "tool_use", usage: { input_tokens: 100, output_tokens: 20 } }, parent_tool_use_id: null, session_id: sessionId, uuid: randomUUID() })
  let content
  let isError = false
  try {
    content = apply(a)
  } catch (e) {
    content = e.message
    isError = true
  }
  out({ type: "user", message: { role: "user", content: [{ type: "tool_result", tool_use_id: toolUseId, content, is_error: isError }] }, parent_tool_use_id: null, session_id: sessionId, uuid: randomUUID() })
  runHooks(isError ? "PostToolUseFailure" : "PostToolUse", { tool_name: tool[0], tool_input: tool[1], tool_use_id: toolUseId, tool_response: { content } })
  say(`${tool[0]} ${JSON.stringify(tool[1]).slice(0, 80)}`)
  if (isError && a.optional !== true) {
    errorMessage = content
    finish(true)
  }
}
finish(false)
