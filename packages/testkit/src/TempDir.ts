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
