/**
 * claude-parallel with the real Claude Code binary as people use it: invocations that are not sessions
 * (`--version`, `mcp list`, `doctor`) run the binary directly while another session holds the repository —
 * no session, worktree, branch or setup, the binary's own output and exit code — and the built-in rule for
 * Claude Code agrees with the binary's `--help`; a named session from a chosen base is re-entered with
 * `--session NAME --resume ID` and the conversation continues where its files are.
 */
import { AgentArgs } from "@parallel-cc/core"
import { AnthropicApiDouble, ClaudeCode } from "@parallel-cc/testkit"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, assert, describe, it } from "vitest"
import { claudeParallel, installAll, keepTranscript, pcc, pccJson, status, type World, world } from "./support.js"

const { Reply } = AnthropicApiDouble
const marker = AnthropicApiDouble.AnthropicApiDouble.marker

const holders: Array<ReturnType<typeof spawn>> = []
afterEach(() => {
  for (const h of holders.splice(0)) h.kill("SIGKILL")
})

/** Options and commands as the binary's `--help` lists them. */
const helpOf = (text: string) => {
  const options = new Map<string, "boolean" | "value" | "optional" | "variadic">()
  const commands: Array<string> = []
  let section = ""
  for (const line of text.split("\n")) {
    if (/^\S.*:$/.test(line)) section = line
    const m = /^ {2}(\S.*?)(?: {2,}|$)/.exec(line)
    if (m === null) continue
    const spec = m[1]!
    if (section === "Options:" && spec.startsWith("-")) {
      const arg = /[<[].*$/.exec(spec)?.[0] ?? ""
      const kind = arg === "" ? "boolean" : arg.includes("...") ? "variadic" : arg.startsWith("<") ? "value" : "optional"
      for (const name of spec.replace(/\s*[<[].*$/, "").split(/,\s*/)) options.set(name.trim(), kind)
    } else if (section === "Commands:") commands.push(...spec.split(" ")[0]!.split("|"))
  }
  return { options, commands }
}

const gitState = (w: World) => ({
  worktrees: w.repo.git(["worktree", "list", "--porcelain"]),
  branches: w.repo.git(["for-each-ref", "--format=%(refname)", "refs/heads/"]),
  sessions: status(w).sessions.map((s) => s.sessionId)
})

/** Timings in `doctor`'s connectivity lines differ from one run to the next. */
const steady = (s: string) => s.replace(/\d+(\.\d+)? ?ms\b/g, "N ms")

describe("claude-parallel passes through what is not a session (the real binary)", () => {
  it("the built-in rule for Claude Code knows every subcommand of the binary and how each option takes its value", async () => {
    const r = await ClaudeCode.run(ClaudeCode.binary(), ["--help"], { cwd: process.cwd(), env: { PATH: process.env.PATH ?? "/usr/bin:/bin", COLUMNS: "200" } })
    assert.strictEqual(r.code, 0, r.stderr)
    const help = helpOf(r.stdout)
    const rule = AgentArgs.builtin.claude!
    for (const [o, k] of [["--add-dir", "variadic"], ["--model", "value"], ["-r", "optional"], ["--resume", "optional"], ["-p", "boolean"]]) {
      assert.strictEqual(help.options.get(o!), k, `the help parser reads ${o}`)
    }
    assert.isAbove(help.commands.length, 10, r.stdout)
    assert.isAbove(help.options.size, 50, r.stdout)
    for (const c of help.commands) assert.include(rule.subcommands, c, `subcommand ${c}`)
    for (const [name, kind] of help.options) {
      if (kind === "boolean") assert.isUndefined(rule.options[name], `${name} takes no value`)
      else assert.strictEqual(rule.options[name], kind, `how ${name} takes its value`)
    }
    for (const f of ["--version", "-v", "--help", "-h"]) assert.include(rule.flags, f)
    // The list, some of which newer or older builds have.
    for (const c of ["mcp", "config", "doctor", "update", "install", "migrate-installer", "setup-token", "plugin"]) {
      assert.include(rule.subcommands, c)
    }
  })

  it("--version, mcp list and doctor while another session holds the repository: no session, worktree, branch or setup; the binary's own output and exit code", async () => {
    const w = await world()
    installAll(w)
    const setupRan = path.join(w.repo.base, "setup-ran")
    Object.assign(w.env, { PARALLEL_CC_WORKTREE_SETUP: JSON.stringify([["touch", setupRan]]) })
    const holder = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" })
    holders.push(holder)
    pccJson(w, ["register", "--repo", w.repo.root, "--pid", String(holder.pid)])
    const before = gitState(w)
    assert.lengthOf(before.sessions, 1)
    for (const args of [["--version"], ["-v"], ["mcp", "list"], ["doctor"]]) {
      const direct = await ClaudeCode.run(ClaudeCode.binary(), args, { cwd: w.repo.root, env: w.env })
      const wrapped = await claudeParallel(w, args)
      assert.strictEqual(wrapped.code, direct.code, `${args.join(" ")}: ${wrapped.stderr}`)
      assert.strictEqual(steady(wrapped.stdout), steady(direct.stdout), args.join(" "))
      assert.strictEqual(steady(wrapped.stderr), steady(direct.stderr), args.join(" "))
      assert.deepStrictEqual(gitState(w), before, args.join(" "))
    }
    assert.include((await claudeParallel(w, ["--version"])).stdout, ClaudeCode.version)
    assert.include((await claudeParallel(w, ["mcp", "list"])).stdout, "parallel-cc")
    assert.isFalse(fs.existsSync(setupRan), "worktree.setup never ran")
    assert.isFalse(fs.existsSync(`${w.repo.root}-worktrees`))
  })
})

describe("claude-parallel --name, --base and --session with the real binary", () => {
  it("a named session from a base, kept with its work, re-entered with --session NAME --resume ID: the conversation continues in its worktree", async () => {
    const w = await world()
    installAll(w)
    w.repo.git(["branch", "release"])
    w.repo.write("later.txt", "after the release branch\n")
    w.repo.commitAll("later")
    let resumedWith: ReadonlyArray<string> = []
    const look = Reply.bash("pwd && cat notes.txt")
    w.api.script("fx", [
      Reply.write("notes.txt", "first part\n"),
      Reply.text("first part written"),
      // Resumed from the repository (turns 2–3), then through --session (turns 4–5).
      look,
      Reply.text("went on"),
      Reply.dynamic((req) => {
        resumedWith = (req.body?.messages ?? []).map((m: any) => JSON.stringify(m.content))
        return look
      }),
      Reply.text("went on")
    ])
    const pwdAt = (turn: number) => AnthropicApiDouble.toolResultsOf(w.api.turns("fx").find((t) => t.turn === turn)!)[0]?.text ?? ""
    const first = await claudeParallel(w, ["--name", "checkout-flow", "--base", "release", ...ClaudeCode.headlessArgs(`start ${marker("fx")}`)])
    keepTranscript("named-first", first.stdout)
    assert.strictEqual(first.code, 0, first.stderr)
    const conversation = ClaudeCode.resultOf(first.events)?.session_id as string
    assert.isString(conversation)
    const dir = path.join(`${w.repo.root}-worktrees`, "checkout-flow")
    assert.strictEqual(ClaudeCode.initOf(first.events)?.cwd, dir)
    assert.isFalse(fs.existsSync(path.join(dir, "later.txt")), "the worktree started from release")
    assert.include(first.stderr, "branch parallel/checkout-flow")
    assert.include(first.stderr, "claude-parallel --session checkout-flow")
    const kept = status(w).kept
    assert.deepStrictEqual(kept.map((k) => [k.name, k.branch, k.worktreePath]), [["checkout-flow", "parallel/checkout-flow", dir]])
    assert.include(pcc(w, ["status"]).stdout, "claude-parallel --session checkout-flow")

    // Claude Code finds the conversation by its id from anywhere, but runs where it was started: from the
    // repository the conversation goes on without its files.
    const elsewhere = await claudeParallel(w, ["--resume", conversation, ...ClaudeCode.headlessArgs("go on")])
    assert.strictEqual(elsewhere.code, 0, elsewhere.stderr)
    assert.include(pwdAt(3), `${w.repo.root}\n`)
    assert.include(pwdAt(3), "No such file")

    const second = await claudeParallel(w, ["--session", "checkout-flow", "--resume", conversation, ...ClaudeCode.headlessArgs("go on")])
    keepTranscript("named-resumed", second.stdout)
    assert.strictEqual(second.code, 0, second.stderr)
    assert.deepStrictEqual(w.api.failures, [])
    assert.include(second.stderr, "back in its worktree")
    assert.isTrue(resumedWith.some((c) => c.includes("first part written")), JSON.stringify(resumedWith))
    assert.include(pwdAt(5), `${dir}\nfirst part`)
    assert.deepInclude(ClaudeCode.resultOf(second.events), { is_error: false, result: "went on" })
    assert.strictEqual(ClaudeCode.resultOf(second.events)?.session_id, conversation)
    // The same session, kept again with its work.
    assert.deepStrictEqual(status(w).kept.map((k) => k.sessionId), kept.map((k) => k.sessionId))
  })
})
