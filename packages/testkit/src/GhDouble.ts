/**
 * The GitHub CLI double (bin/gh-double.mjs): put it on PATH as `gh` to test `sandbox run --git-live`
 * without GitHub. See the header of the script for what it records and prints.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

/** Absolute path of the executable script. */
export const script = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../bin/gh-double.mjs")

/** Make `dir/gh` (the double) and return `dir`, to put in front of PATH. */
export const install = (dir: string): string => {
  fs.mkdirSync(dir, { recursive: true })
  fs.symlinkSync(script, path.join(dir, "gh"))
  return dir
}

export interface Call {
  readonly argv: ReadonlyArray<string>
  /** What it read from stdin (the body, with `--body-file -`). */
  readonly stdin: string
  readonly cwd: string
  /** Whether GH_TOKEN or GITHUB_TOKEN was in its environment (the value is never recorded). */
  readonly token: boolean
  readonly exitCode: number
}

/** The calls recorded in `logFile` (GH_DOUBLE_LOG). */
export const calls = (logFile: string): ReadonlyArray<Call> => {
  try {
    return fs.readFileSync(logFile, "utf8").split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as Call)
  } catch {
    return []
  }
}
