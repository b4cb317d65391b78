import { AnthropicApiDouble, ClaudeCode } from "@parallel-cc/testkit"
import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "vitest"
import { barrier, claudeParallel, installAll, keepTranscript, status, world } from "./support.js"

const { Reply } = AnthropicApiDouble
const marker = AnthropicApiDouble.AnthropicApiDouble.marker
const headless = (prompt: string) => [...ClaudeCode.headlessArgs(prompt), "--include-hook-events"]

/** The PostToolUse hook runs of a transcript that ran our heartbeat script. */
const heartbeatRuns = (events: ReadonlyArray<ClaudeCode.Event>) =>
  events.filter((e) => e.type === "system" && e.subtype === "hook_response" && e.hook_event === "PostToolUse")

describe("claude-parallel with the real Claude Code", () => {
  it("two sessions at once: one in the repo, one in a worktree; the installed heartbeat hook beats on every tool call; both released at exit", async () => {
    const w = await world()
    installAll(w)
    const arrive = barrier(2)
    // Per session: its directory, and pairs [time a reply with a tool call was sent, heartbeat seen in the next turn].
    const seen: Record<string, { cwd: string; beats: Array<[number, number]>; during?: ReturnType<typeof status> }> = {}
    const mySession = (name: string) => status(w).sessions.find((s) => s.worktreePath === seen[name]!.cwd)
    for (const name of ["a", "b"]) {
      w.api.script(name, [
        Reply.bash(`pwd && printf '${name}\\n' > from-${name}.txt`),
        Reply.dynamic(async (req) => {
          const pwd = AnthropicApiDouble.toolResultsOf(req)[0]?.text.split("\n")[0] ?? ""
          const firstSent = w.api.turns(name).find((t) => t.turn === 0)!.at
          seen[name] = { cwd: pwd, beats: [] }
          // Both agents are mid-run here: neither goes on until the other has started and made a tool call.
          await arrive()
          seen[name]!.during = status(w)
          seen[name]!.beats.push([firstSent, Date.parse(mySession(name)?.lastHeartbeat)])
          seen[name]!.beats.push([Date.now(), Number.NaN])
          return Reply.bash("git status --short")
        }),
        Reply.dynamic(() => {
          seen[name]!.beats[1]![1] = Date.parse(mySession(name)?.lastHeartbeat)
          return Reply.text(`session ${name} done`)
        })
      ])
    }
    const [a, b] = await Promise.all(["a", "b"].map((name) => claudeParallel(w, headless(`work ${marker(name)}`))))
    keepTranscript("claude-parallel-a", a!.stdout)
    keepTranscript("claude-parallel-b", b!.stdout)
    assert.deepStrictEqual(w.api.failures, [])
    assert.strictEqual(a!.code, 0, a!.stderr)
    assert.strictEqual(b!.code, 0, b!.stderr)

    // While both ran: two active sessions of the repo, exactly one in the repository, the other in a worktree.
    const during = seen.a!.during!.sessions
    assert.lengthOf(during, 2)
    const main = during.find((s) => s.isMainRepo)!
    const other = during.find((s) => !s.isMainRepo)!
    assert.strictEqual(main.worktreePath, w.repo.root)
    assert.notStrictEqual(other.worktreePath, w.repo.root)
    assert.isTrue(other.worktreePath.startsWith(`${w.repo.root}-worktrees${path.sep}`), other.worktreePath)
    assert.sameMembers([seen.a!.cwd, seen.b!.cwd], [main.worktreePath, other.worktreePath], "each agent ran in its session's directory")

    for (const [name, r] of [["a", a!], ["b", b!]] as const) {
      // The hook ran after each of the two tool calls, and each run moved the session's heartbeat forward.
      const hooks = heartbeatRuns(r.events)
      assert.lengthOf(hooks, 2, `${name}: PostToolUse hook runs`)
      assert.isTrue(hooks.every((h) => h.exit_code === 0 && h.outcome === "success"), JSON.stringify(hooks))
      for (const [i, [sent, beat]] of seen[name]!.beats.entries()) {
        assert.isAbove(beat, sent, `${name}: the heartbeat moved past the reply that asked for tool call ${i + 1}`)
      }
      assert.deepInclude(ClaudeCode.resultOf(r.events), { is_error: false, result: `session ${name} done` })
    }

    // At exit both are released: none active; the worktree with the agent's uncommitted file is kept.
    const after = status(w)
    assert.deepStrictEqual(after.sessions, [])
    assert.strictEqual(fs.readFileSync(path.join(main.worktreePath, `from-${main.worktreePath === seen.a!.cwd ? "a" : "b"}.txt`), "utf8").trim().length, 1)
    const kept = after.kept.find((s) => s.sessionId === other.sessionId)
    assert.ok(kept, `the worktree with work is kept: ${JSON.stringify(after.kept)}`)
    assert.isTrue(fs.existsSync(path.join(other.worktreePath, `from-${other.worktreePath === seen.a!.cwd ? "a" : "b"}.txt`)))
    const otherRun = other.worktreePath === seen.a!.cwd ? a! : b!
    assert.match(otherRun.stderr, /worktree/)
  })
})
