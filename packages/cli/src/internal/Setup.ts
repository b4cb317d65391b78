/**
 * `worktree.setup` progress as it happens, on stderr: each command once (`setup: $ npm ci`), each output
 * line with the prefix `setup│ `, and how it ended.
 */
import type { Sessions } from "@parallel-cc/core"
import { Effect } from "effect"

const show = (argv: ReadonlyArray<string>) => argv.map((a) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(" ")

/** A listener writing setup progress to stderr with `prefix` before every line. */
export const setupPrinter = (prefix = ""): Sessions.SetupListener => (e) =>
  Effect.sync(() => {
    const line = e._tag === "Start"
      ? `setup: $ ${show(e.argv)}`
      : e._tag === "Output"
      ? `setup│ ${e.line}`
      : e.ok
      ? `setup: done (${show(e.argv)})`
      : `setup: ${show(e.argv)} ${e.exitCode === null ? "could not start" : `exited with code ${e.exitCode}`}`
    try {
      process.stderr.write(`${prefix}${line}\n`)
    } catch {
      // The terminal may be gone; the log keeps the output.
    }
  })
