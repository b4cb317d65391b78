/**
 * Help and usage errors as a user sees them: every command's `--help` page fits 80 columns and has no
 * terminal escapes off a terminal; on a real terminal (a pseudo-terminal from `script`) it fits the
 * terminal's width and is bold, except with NO_COLOR; mistakes get "did you mean" and allowed values.
 */
import { Cli, TempDir } from "@parallel-cc/testkit"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, assert, describe, it } from "vitest"
import { helpLayouts, root, version } from "../src/Cli.js"
import { flatten, tree } from "../src/internal/CommandTree.js"
import { render } from "../src/internal/HelpText.js"

const data = TempDir.makeSync("pcc-help-")
afterAll(() => TempDir.removeSync(data))
const env = { PARALLEL_CC_DATA_DIR: data, HOME: data }
const run = (args: ReadonlyArray<string>, extra: Record<string, string> = {}) => Cli.runSync(args, { env: { ...env, ...extra }, cwd: data })

const ESC = /\x1b\[/
const widest = (text: string) => Math.max(...text.split("\n").map((l) => l.length))

/** `parallel-cc args…` on a pseudo-terminal `columns` wide; the raw bytes it wrote. */
const onTerminal = (args: ReadonlyArray<string>, columns: number, extra: Record<string, string> = {}) => {
  const cmd = [process.execPath, Cli.binPath, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ")
  const r = spawnSync("script", ["-qec", `stty cols ${columns} rows 50; ${cmd}`, "/dev/null"], {
    cwd: data,
    env: { PATH: process.env.PATH, TERM: "xterm", ...env, ...extra },
    encoding: "utf8",
    timeout: 60_000
  })
  return { code: r.status, screen: r.stdout.replace(/\r\n/g, "\n") }
}

describe("--help", () => {
  const commands = flatten(tree(root))

  it("every command's page, as rendered for a pipe: at most 80 columns, no escapes, the real command path, every option", () => {
    for (const c of commands) {
      const page = render(c, { program: "parallel-cc", width: 80, color: false, layouts: helpLayouts, version })
      const name = ["parallel-cc", ...c.path].join(" ")
      assert.isAtMost(widest(page), 80, name)
      assert.notMatch(page, ESC, name)
      assert.include(page, `Usage:\n  ${name}`, name)
      assert.notInclude(page, "A user-defined piece of text", name)
      assert.notInclude(page, "This setting is optional", name)
      for (const o of c.options) assert.include(page, (helpLayouts[c.path.join(" ")]?.renames ?? {})[o.name] ?? o.name, `${name} ${o.name}`)
      for (const child of c.children) assert.include(page, child.path[child.path.length - 1]!, name)
    }
  })

  it("the binary prints the same pages, piped: exit 0, never opening the store", () => {
    for (const args of [["--help"], ["sandbox", "run", "--help"], ["config"], ["sandbox"], ["migrate", "-h"], []]) {
      const r = run(args)
      assert.strictEqual(r.code, 0, `${args.join(" ")}: ${r.stderr}`)
      assert.isAtMost(widest(r.stdout), 80, args.join(" "))
      assert.notMatch(r.stdout, ESC, args.join(" "))
    }
    assert.isFalse(fs.existsSync(path.join(data, "coordinator.db")), "--help never opens the store")
    const sandboxRun = run(["sandbox", "run", "--help"]).stdout
    // Both forms of `sandbox run`, each readable on its own; --task is not required on a single run.
    assert.include(sandboxRun, "parallel-cc sandbox run [options] (--prompt TEXT | --prompt-file FILE)")
    assert.include(sandboxRun, "parallel-cc sandbox run --multi [options]")
    assert.match(sandboxRun, /One task:\n {2}--prompt TEXT/)
    assert.match(sandboxRun, /Many tasks \(--multi\):\n {2}--multi/)
    assert.notMatch(sandboxRun, /--task TEXT\.\.\. .*Required/)
    const migrate = run(["migrate", "--help"]).stdout
    assert.include(migrate, "parallel-cc migrate [--version N] [--json]")
    assert.notInclude(migrate, "--target-version")
    const top = run(["--help"]).stdout
    for (const flag of ["--db FILE", "--verbose", "--log-level LEVEL", "--completions SHELL", "--version", "-h, --help"]) assert.include(top, flag)
    assert.notInclude(top, "--wizard")
  })

  it("on a terminal: wrapped to its width, headings bold; with NO_COLOR no escapes at all", () => {
    const wide = onTerminal(["sandbox", "run", "--help"], 100)
    assert.strictEqual(wide.code, 0, wide.screen)
    assert.include(wide.screen, "\x1b[1mUsage:\x1b[0m")
    const plain = wide.screen.replace(/\x1b\[[0-9;]*m/g, "")
    assert.isAtMost(widest(plain), 100)
    assert.isAbove(widest(plain), 80, "the page uses the terminal's width")
    const narrow = onTerminal(["--help"], 60, { NO_COLOR: "1" })
    assert.strictEqual(narrow.code, 0, narrow.screen)
    assert.notMatch(narrow.screen, ESC)
    assert.isAtMost(widest(narrow.screen), 60)
  })
})

describe("usage errors", () => {
  it("a mistyped option or command: exit 2, did you mean, and the --help to run", () => {
    const jsn = run(["status", "--jsn"])
    assert.strictEqual(jsn.code, 2)
    assert.strictEqual(
      jsn.stderr,
      'parallel-cc: error: unknown option --jsn for "parallel-cc status"\nDid you mean --json?\nRun "parallel-cc status --help" for usage.\n'
    )
    const cmd = run(["stauts"])
    assert.strictEqual(cmd.code, 2)
    assert.include(cmd.stderr, 'unknown command "stauts" for "parallel-cc"\nDid you mean "status"?')
    const sub = run(["sandbox", "lsit"])
    assert.include(sub.stderr, 'Did you mean "list"?')
    assert.include(run(["lnad"]).stderr, 'Did you mean "land"?')
    const nothingClose = run(["frobnicate"])
    assert.strictEqual(nothingClose.code, 2)
    assert.notInclude(nothingClose.stderr, "Did you mean")
  })

  it("values: choices listed, integers checked, a missing value or required option named", () => {
    const provider = run(["sandbox", "run", "--prompt", "x", "--provider", "cloud"])
    assert.strictEqual(provider.code, 2)
    assert.include(provider.stderr, 'invalid value for --provider: "cloud"; allowed: local, e2b')
    const pid = run(["register", "--repo", ".", "--pid", "abc"])
    assert.strictEqual(pid.code, 2)
    assert.include(pid.stderr, '"abc" is not an integer')
    const missing = run(["register", "--repo", "."])
    assert.strictEqual(missing.code, 2)
    assert.include(missing.stderr, '"parallel-cc register" needs --pid PID')
    const noValue = run(["claims", "--repo"])
    assert.strictEqual(noValue.code, 2)
    assert.include(noValue.stderr, "--repo needs a value (DIR)")
    const type = run(["conflicts", "--type", "FOO"])
    assert.strictEqual(type.code, 1)
    assert.include(type.stderr, 'invalid --type: "FOO" is not one of TRIVIAL, ADDITIVE, CONCURRENT_EDIT, STRUCTURAL, SEMANTIC')
    assert.notInclude(type.stderr, "_tag")
    for (const r of [provider, pid, missing, noValue, type]) assert.notMatch(r.stderr, ESC)
  })

  it("what @effect/cli answers itself still works: --version, --completions, --log-level", () => {
    assert.match(run(["--version"]).stdout.trim(), /^\d+\.\d+\.\d+/)
    assert.include(run(["--completions", "bash"]).stdout, "parallel-cc")
    const quiet = run(["config", "list", "--log-level", "error"])
    assert.strictEqual(quiet.code, 0, quiet.stderr)
  })
})
