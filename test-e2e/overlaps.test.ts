import { AnthropicApiDouble, ClaudeCode } from "@parallel-cc/testkit"
import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "vitest"
import { claudeParallel, installAll, keepTranscript, pccJson, status, world, type World } from "./support.js"

const { Reply } = AnthropicApiDouble
const marker = AnthropicApiDouble.AnthropicApiDouble.marker
const cwdOf = AnthropicApiDouble.workingDirectoryOf

const cart = `export function total(xs: Array<number>): number {
  let sum = 0
  for (const x of xs) sum += x
  return sum
}

export const currency = "EUR"
`

const deferred = () => {
  let resolve!: () => void
  const promise = new Promise<void>((r) => (resolve = r))
  return { promise, resolve }
}

/** Poll (without blocking the double's event loop) until `f` gives a value. */
const until = async <A>(what: string, f: () => A | undefined, timeoutMs = 60_000): Promise<A> => {
  const end = Date.now() + timeoutMs
  for (;;) {
    const v = f()
    if (v !== undefined) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

const sessionIn = (w: World, cwd: string) => status(w).sessions.find((s) => s.worktreePath === cwd)?.sessionId as string | undefined

/** Every hook additionalContext the model was given in a script's conversation (from its last request). */
const contexts = (w: World, script: string): Array<string> => {
  const last = w.api.turns(script).at(-1)
  const out: Array<string> = []
  for (const m of last?.body?.messages ?? []) {
    const blocks = typeof m.content === "string" ? [{ type: "text", text: m.content }] : m.content ?? []
    for (const b of blocks) if (b?.type === "text" && /hook additional context/.test(b.text)) out.push(b.text)
  }
  return out
}

const headless = (prompt: string) => [...ClaudeCode.headlessArgs(prompt), "--include-hook-events"]

describe("live overlaps and the write guard, with the real Claude Code", () => {
  it("session A claims src/cart.ts EXCLUSIVE (claim_file); B's Write to it is refused naming A, and B's file is unchanged", async () => {
    const w = await world({ files: { "src/cart.ts": cart } })
    installAll(w)
    const claimed = deferred()
    const bDone = deferred()
    const seen: { aSession?: string | undefined; bFile?: string; bCwd?: string } = {}
    w.api.script("a", [
      Reply.mcp("claim_file", { path: "src/cart.ts", mode: "EXCLUSIVE", reason: "rewriting the totals" }),
      Reply.dynamic(async (req) => {
        seen.aSession = sessionIn(w, cwdOf(req))
        claimed.resolve()
        await bDone.promise
        return Reply.text("a done")
      })
    ])
    w.api.script("b", [
      Reply.dynamic(async (req) => {
        await claimed.promise
        seen.bCwd = cwdOf(req)
        return Reply.write(path.join(seen.bCwd, "src/cart.ts"), "export const hacked = true\n")
      }),
      Reply.dynamic(() => {
        seen.bFile = fs.readFileSync(path.join(seen.bCwd!, "src/cart.ts"), "utf8")
        bDone.resolve()
        return Reply.text("b done")
      })
    ])
    const [a, b] = await Promise.all([
      claudeParallel(w, headless(`claim the cart ${marker("a")}`)),
      claudeParallel(w, headless(`rewrite the cart ${marker("b")}`))
    ])
    keepTranscript("guard-a", a.stdout)
    keepTranscript("guard-b", b.stdout)
    assert.deepStrictEqual(w.api.failures, [])
    assert.strictEqual(a.code, 0, a.stderr)
    assert.strictEqual(b.code, 0, b.stderr)
    assert.isString(seen.aSession)
    const [refused] = w.api.toolResults("b")
    assert.isTrue(refused?.is_error, JSON.stringify(w.api.turns("b").map((t) => t.body?.messages?.at(-1))))
    assert.include(refused!.text, `claimed EXCLUSIVE by parallel-cc session ${seen.aSession}`)
    assert.include(refused!.text, "rewriting the totals")
    assert.include(refused!.text, `parallel-cc unclaim src/cart.ts --session ${seen.aSession}`)
    assert.strictEqual(seen.bFile, cart, "the write did not happen")
    // The hook said so through Claude Code's own protocol: a PreToolUse deny, exit 0.
    const denials = b.events.filter((e) => e.type === "system" && e.subtype === "hook_response" && e.hook_event === "PreToolUse")
    assert.isTrue(denials.some((e) => e.exit_code === 0 && String(e.stdout).includes("\"permissionDecision\":\"deny\"")), JSON.stringify(denials))
  })

  it("two sessions edit the same function: each is told exactly once — B before its edit, A on its next tool call — who, which symbol, that it conflicts", async () => {
    const w = await world({ files: { "src/cart.ts": cart } })
    installAll(w)
    const aEdited = deferred()
    const recorded = deferred()
    const ids: { a?: string | undefined; b?: string | undefined } = {}
    let aCwd = ""
    w.api.script("a", [
      Reply.dynamic((req) => {
        aCwd = cwdOf(req)
        return Reply.edit(path.join(aCwd, "src/cart.ts"), "let sum = 0", "let sum = 100")
      }),
      Reply.dynamic(async () => {
        ids.a = sessionIn(w, aCwd)
        aEdited.resolve()
        await recorded.promise
        return Reply.bash("true", "after the overlap")
      }),
      Reply.bash("true", "once more"),
      Reply.text("a done")
    ])
    w.api.script("b", [
      Reply.dynamic(async (req) => {
        await aEdited.promise
        // A's watcher has published its change of the file for the other sessions' hooks.
        await until("A's published change", () =>
          fs.existsSync(path.join(w.dataDir, "live", ids.a!, "changes", "src", "cart.ts")) || undefined)
        return Reply.edit(path.join(cwdOf(req), "src/cart.ts"), "sum += x", "sum += x * 2")
      }),
      Reply.dynamic(async (req) => {
        ids.b = sessionIn(w, cwdOf(req))
        await until("the overlap", () => (pccJson(w, ["overlaps", "--cached"]).overlaps.length > 0 ? true : undefined))
        recorded.resolve()
        return Reply.bash("true", "after the edit")
      }),
      Reply.bash("true", "once more"),
      Reply.text("b done")
    ])
    const [a, b] = await Promise.all([
      claudeParallel(w, headless(`change the total ${marker("a")}`)),
      claudeParallel(w, headless(`double the items ${marker("b")}`))
    ])
    keepTranscript("overlap-a", a.stdout)
    keepTranscript("overlap-b", b.stdout)
    assert.deepStrictEqual(w.api.failures, [])
    assert.strictEqual(a.code, 0, a.stderr)
    assert.strictEqual(b.code, 0, b.stderr)
    for (const r of [a, b]) assert.deepInclude(ClaudeCode.resultOf(r.events), { is_error: false })

    const toA = contexts(w, "a")
    const toB = contexts(w, "b")
    assert.lengthOf(toA, 1, JSON.stringify(toA))
    assert.lengthOf(toB, 1, JSON.stringify(toB))
    // B heard it at its Edit, before changing the file: who, which symbol.
    assert.match(toB[0]!, /^PreToolUse:Edit hook additional context: parallel-cc: session /)
    assert.include(toB[0]!, ids.a!)
    assert.include(toB[0]!, "`total`")
    // A heard it at its next tool call after B's edit: who, the symbol both changed, that it conflicts.
    assert.match(toA[0]!, /^PreToolUse:Bash hook additional context: parallel-cc: session /)
    assert.include(toA[0]!, ids.b!)
    assert.include(toA[0]!, "you both changed `total`")
    assert.include(toA[0]!, "would conflict")
    assert.deepStrictEqual(status(w).sessions, [], "both sessions ended")
  })
})
