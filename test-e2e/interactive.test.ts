/**
 * `claude -w feature-x` as a new user runs it: the real binary on a real terminal (tmux), after
 * `parallel-cc install --all`, against the Messages-API double. The screen is polled for each step (no
 * fixed waits). With E2E_SCREENS=<file>, every screen seen is appended to that file (a transcript).
 */
import { AnthropicApiDouble, ClaudeCode } from "@parallel-cc/testkit"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "vitest"
import { dbRows, installAll, pcc, status, world } from "./support.js"

const { Reply } = AnthropicApiDouble
const marker = AnthropicApiDouble.AnthropicApiDouble.marker
const hasTmux = spawnSync("tmux", ["-V"]).status === 0

describe("claude -w on a terminal (the real binary, tmux)", () => {
  it.skipIf(!hasTmux)(
    `after install --all: the worktree is a parallel-cc session while it runs, with .env; kept with its work after /exit${hasTmux ? "" : " [skipped: tmux not installed]"}`,
    async () => {
      const w = await world()
      w.repo.write(".gitignore", ".env\n")
      w.repo.write(".worktreeinclude", ".env\n")
      w.repo.commitAll("app")
      w.repo.write(".env", "SECRET=from-main\n")
      installAll(w)
      // What a new user has done once by hand: the first-run screens and this folder's trust dialog.
      const config = path.join(w.home, ".claude.json")
      const existing = fs.existsSync(config) ? JSON.parse(fs.readFileSync(config, "utf8")) : {}
      fs.writeFileSync(config, JSON.stringify({
        ...existing,
        hasCompletedOnboarding: true,
        theme: "dark",
        customApiKeyResponses: { approved: [w.api.apiKey.slice(-20)], rejected: [] },
        projects: { ...existing.projects, [w.repo.root]: { ...existing.projects?.[w.repo.root], hasTrustDialogAccepted: true } }
      }))
      w.api.script("tty", [Reply.bash("pwd && cat .env && printf 'wip\\n' > notes.txt"), Reply.text("all set here")])

      const socket = `pcc-e2e-${process.pid}`
      const tmux = (...args: ReadonlyArray<string>) => spawnSync("tmux", ["-L", socket, ...args], { encoding: "utf8" })
      const envArgs = Object.entries({ ...w.env, TERM: "xterm-256color" }).flatMap(([k, v]) => ["-e", `${k}=${v}`])
      const exitFile = path.join(w.repo.base, "claude-exit")
      const screens = process.env.E2E_SCREENS
      let last = ""
      const screen = () => {
        const s = tmux("capture-pane", "-p", "-t", "cc").stdout
        if (screens !== undefined && s !== last) fs.appendFileSync(screens, `----- ${new Date().toISOString()}\n${s}\n`)
        last = s
        return s
      }
      const until = async (what: string, ok: () => boolean, timeoutMs = 120_000) => {
        for (const end = Date.now() + timeoutMs; !ok();) {
          if (Date.now() > end) throw new Error(`timed out waiting for ${what}; the screen:\n${screen()}`)
          await new Promise((r) => setTimeout(r, 250))
        }
      }
      const script = `cd '${w.repo.root}' && '${ClaudeCode.binary()}' -w feature-x; echo $? > '${exitFile}'; exec cat`
      const r = tmux("-f", "/dev/null", "new-session", "-d", "-s", "cc", "-x", "160", "-y", "45", ...envArgs, "sh", "-c", script)
      assert.strictEqual(r.status, 0, r.stderr)
      try {
        // The worktree exists before the first prompt: made by our WorktreeCreate hook, a session of its own.
        const wt = path.join(`${w.repo.root}-worktrees`, "feature-x")
        // Claude Code shows its prompt once the hook has printed the path (the worktree is ready then).
        await until("the prompt", () => /^❯\s/m.test(screen()))
        const s = status(w).sessions.find((x) => x.name === "feature-x")
        assert.ok(s, "a session named feature-x while Claude Code runs")
        assert.strictEqual(s!.worktreePath, wt)
        assert.strictEqual(s!.branch, "parallel/feature-x")
        assert.strictEqual(fs.readFileSync(path.join(wt, ".env"), "utf8"), "SECRET=from-main\n")
        const table = pcc(w, ["status"])
        assert.match(table.stdout, /\(feature-x\) .* parallel\/feature-x /)
        if (screens !== undefined) fs.appendFileSync(screens, `----- $ parallel-cc status (while it runs)\n${table.stdout}\n`)

        tmux("send-keys", "-t", "cc", "-l", `look around ${marker("tty")}`)
        tmux("send-keys", "-t", "cc", "Enter")
        // A new user allows the command when asked.
        await until("the permission question or the answer", () => /Do you want to proceed|all set here/.test(screen()))
        if (/Do you want to proceed/.test(screen())) tmux("send-keys", "-t", "cc", "Enter")
        await until("the answer", () => /all set here/.test(screen()))
        assert.deepStrictEqual(w.api.failures, [])
        assert.deepStrictEqual(w.api.toolResults("tty")[0]!.text.split("\n").slice(0, 2), [wt, "SECRET=from-main"])

        // Leave; whatever Claude Code asks about the worktree, the user keeps it.
        tmux("send-keys", "-t", "cc", "-l", "/exit")
        tmux("send-keys", "-t", "cc", "Enter")
        await until("Claude Code to exit (or ask about the worktree)", () => {
          const text = screen()
          if (/[Kk]eep (the )?worktree/.test(text) && !fs.existsSync(exitFile)) {
            const keep = text.split("\n").find((l) => /[Kk]eep (the )?worktree/.test(l)) ?? ""
            const n = /(\d)\./.exec(keep)?.[1]
            tmux("send-keys", "-t", "cc", n ?? "Enter")
          }
          return fs.existsSync(exitFile) && fs.readFileSync(exitFile, "utf8").trim() !== ""
        })
        screen()
        assert.strictEqual(fs.readFileSync(exitFile, "utf8").trim(), "0")
        // Released by the watcher once the process is gone; the worktree and its work are kept.
        await until("the session released", () =>
          dbRows(w, "SELECT status, kept_reason FROM sessions WHERE name = 'feature-x'")
            .every((r) => r.status === "released" && r.kept_reason !== "release in progress"))
        if (screens !== undefined) fs.appendFileSync(screens, `----- $ parallel-cc status (after the exit)\n${pcc(w, ["status"]).stdout}\n`)
        const after = status(w)
        assert.deepStrictEqual(after.sessions, [])
        assert.ok(after.kept.find((k) => k.sessionId === s!.sessionId), JSON.stringify(after))
        assert.strictEqual(fs.readFileSync(path.join(wt, "notes.txt"), "utf8"), "wip\n")
      } finally {
        tmux("kill-server")
      }
    },
    600_000
  )
})
