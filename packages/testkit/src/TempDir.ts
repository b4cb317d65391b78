/**
 * Scoped temporary directories, removed (recursively) when the scope closes.
 */
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

/** Create a temp directory (realpath'd, so that macOS /var → /private/var never confuses comparisons). */
export const makeSync = (prefix = "pcc-test-"): string => fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)))

export const removeSync = (dir: string): void => {
  fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3 })
}

/** A temp directory for the current scope. */
export const make = (prefix = "pcc-test-") =>
  Effect.acquireRelease(Effect.sync(() => makeSync(prefix)), (dir) => Effect.sync(() => removeSync(dir)))

/**
 * Every file and directory under `dir`, relative to it, with its mode and content (a symlink: its
 * target; a directory: its mode, the key ending in `/`). Two snapshots are equal when nothing changed.
 */
export const snapshotSync = (dir: string): Record<string, string> => {
  const out: Record<string, string> = {}
  const walk = (d: string) => {
    for (const name of fs.readdirSync(d).sort()) {
      const p = path.join(d, name)
      const st = fs.lstatSync(p)
      const rel = path.relative(dir, p)
      if (st.isDirectory()) {
        out[rel + "/"] = (st.mode & 0o777).toString(8)
        walk(p)
      } else out[rel] = `${(st.mode & 0o777).toString(8)} ${st.isSymbolicLink() ? fs.readlinkSync(p) : fs.readFileSync(p, "utf8")}`
    }
  }
  walk(dir)
  return out
}
