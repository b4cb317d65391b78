import { describe, it, assert } from "vitest"
import {
  addHooks,
  checkHooksShape,
  commandWords,
  entryStates,
  hookCommand,
  type HookEntry,
  hookIdentity,
  removeHooks
} from "../src/setup/install/hookSettings.js"

const entry = (event: string, script: string, extra: Partial<HookEntry> = {}): HookEntry => ({
  name: script.replace(/\.sh$/, ""),
  event,
  command: hookCommand(`/opt/pcc new/hooks/${script}`),
  timeout: 10,
  ...extra
})

const userSettings = {
  model: "opus",
  hooks: {
    PreToolUse: [{ matcher: "Bash", hooks: [{ type: "command", command: "/usr/local/bin/guard.sh", timeout: 5 }] }],
    PostToolUse: [{ hooks: [{ type: "http", url: "http://localhost:9999/hook" }] }],
    Stop: [{ hooks: [{ type: "command", command: "say done" }] }]
  }
}

const plan: ReadonlyArray<HookEntry> = [
  entry("PostToolUse", "heartbeat.sh", { matcher: "" }),
  entry("PreToolUse", "guard.sh", { matcher: "Edit|Write" }),
  entry("Stop", "state.sh"),
  entry("SessionEnd", "state.sh")
]

describe("hook settings as data", () => {
  it("adds every entry of a plan under its event, after the user's own, and nothing else changes", () => {
    const r = addHooks(userSettings, plan, [])
    assert.deepStrictEqual(r.added.map((e) => e.event), ["PostToolUse", "PreToolUse", "Stop", "SessionEnd"])
    assert.deepStrictEqual(r.createdKeys, ["hooks.SessionEnd"])
    const hooks = r.value.hooks as Record<string, Array<unknown>>
    assert.deepStrictEqual(hooks.PreToolUse![0], userSettings.hooks.PreToolUse[0])
    assert.deepStrictEqual(hooks.PreToolUse![1], {
      matcher: "Edit|Write",
      hooks: [{ type: "command", command: "'/opt/pcc new/hooks/guard.sh'", timeout: 10 }]
    })
    // An event without a matcher gets a group without the key.
    assert.deepStrictEqual(hooks.SessionEnd, [{ hooks: [{ type: "command", command: "'/opt/pcc new/hooks/state.sh'", timeout: 10 }] }])
    assert.strictEqual(r.value.model, "opus")
    assert.deepStrictEqual(userSettings.hooks.Stop.length, 1, "the input is not modified")
    // Idempotent: the plan applied to its own result changes nothing.
    const again = addHooks(r.value, plan, plan.map((e) => e.command))
    assert.strictEqual(again.value, r.value)
    assert.deepStrictEqual(entryStates(r.value, plan, []).map((s) => s._tag), ["installed", "installed", "installed", "installed"])
    // Undoable: removing our commands gives back the user's settings exactly.
    assert.deepStrictEqual(removeHooks(r.value, plan.map((e) => e.command), r.createdKeys).value, userSettings)
  })

  it("an earlier installation's hook (recorded, same script) is updated in place; one no longer planned is retired", () => {
    const old = hookCommand("/old place/hooks/heartbeat.sh")
    const gone = hookCommand("/old place/hooks/retired.sh")
    const before = {
      hooks: {
        PostToolUse: [
          { matcher: "Write", hooks: [{ type: "command", command: "fmt" }] },
          { matcher: "", hooks: [{ type: "command", command: old, timeout: 10 }] }
        ],
        Notification: [{ hooks: [{ type: "command", command: gone, timeout: 10 }] }]
      }
    }
    const recorded = [old, gone]
    assert.deepStrictEqual(entryStates(before, plan.slice(0, 1), recorded), [{ _tag: "outdated", previous: old }])
    // Not recorded: somebody else's script of the same name is not ours to update.
    assert.deepStrictEqual(entryStates(before, plan.slice(0, 1), []), [{ _tag: "missing" }])
    const r = addHooks(before, plan.slice(0, 1), recorded, ["hooks.Notification"])
    assert.deepStrictEqual(r.updated.map((u) => u.previous), [old])
    assert.deepStrictEqual(r.retired, [gone])
    assert.deepStrictEqual(r.value, {
      hooks: {
        PostToolUse: [
          { matcher: "Write", hooks: [{ type: "command", command: "fmt" }] },
          { matcher: "", hooks: [{ type: "command", command: plan[0]!.command, timeout: 10 }] }
        ]
      }
    })
  })

  it("removal keeps keys the user had, and drops empty ones only when install created them (or no record says)", () => {
    const mine = { hooks: { Stop: [] as Array<unknown>, SessionEnd: [{ hooks: [{ type: "command", command: "x" }] }] } }
    const withOurs = addHooks(mine, plan.slice(2), []).value
    assert.deepStrictEqual(removeHooks(withOurs, plan.map((e) => e.command), []).value, { hooks: { Stop: [], SessionEnd: mine.hooks.SessionEnd } })
    const fresh = addHooks({}, plan, [])
    assert.deepStrictEqual(fresh.createdKeys, ["hooks", "hooks.PostToolUse", "hooks.PreToolUse", "hooks.Stop", "hooks.SessionEnd"])
    assert.deepStrictEqual(removeHooks(fresh.value, plan.map((e) => e.command), fresh.createdKeys).value, {})
    assert.deepStrictEqual(removeHooks(fresh.value, plan.map((e) => e.command), undefined).value, {})
    assert.deepStrictEqual(removeHooks(fresh.value, plan.map((e) => e.command), ["hooks.Stop"]).value, {
      hooks: { PostToolUse: [], PreToolUse: [], SessionEnd: [] }
    })
  })

  it("refuses settings whose hooks are not what Claude Code reads", () => {
    assert.isTrue(checkHooksShape("f", { hooks: { Stop: [] } }, ["Stop"])._tag === "Right")
    const bad = checkHooksShape("f", { hooks: { Stop: { matcher: "" } } }, ["PostToolUse", "Stop"])
    assert.strictEqual(bad._tag, "Left")
    if (bad._tag === "Left") assert.include(bad.left.message, `"hooks.Stop" is not an array`)
    assert.strictEqual(checkHooksShape("f", { hooks: [] }, [])._tag, "Left")
  })

  it("commands are read back into words; identity is the script's file name and the arguments", () => {
    assert.deepStrictEqual(commandWords(hookCommand("/a b/it's/state.sh", ["idle", "x y"])), ["/a b/it's/state.sh", "idle", "x y"])
    assert.deepStrictEqual(commandWords("~/.local/bin/parallel-cc-heartbeat.sh"), ["~/.local/bin/parallel-cc-heartbeat.sh"])
    assert.isUndefined(commandWords("npx prettier --write \"$FILE\""))
    assert.strictEqual(hookIdentity("'/x/hooks/state.sh' idle"), hookIdentity("/y/state.sh idle"))
    assert.notStrictEqual(hookIdentity("/x/state.sh idle"), hookIdentity("/x/state.sh working"))
  })
})
