/**
 * Whether bubblewrap can create a sandbox on this machine, asked once per test process the way the local
 * provider asks (unshared namespaces, a dropped capability set, read-only system directories), with the
 * reason when it cannot. Tests of the bubblewrap path are named `[bwrap] …` and skipped — visibly, with the
 * reason in their title — where it does not work; CI counts them to prove they ran.
 */
import { spawnSync } from "node:child_process"

const probe = (): { readonly ok: boolean; readonly reason: string } => {
  const r = spawnSync("bwrap", [
    "--unshare-all",
    "--unshare-user",
    "--cap-drop",
    "ALL",
    "--ro-bind",
    "/usr",
    "/usr",
    "--ro-bind-try",
    "/lib",
    "/lib",
    "--ro-bind-try",
    "/lib64",
    "/lib64",
    "--ro-bind-try",
    "/bin",
    "/bin",
    "--proc",
    "/proc",
    "--dev",
    "/dev",
    "--",
    "/usr/bin/env",
    "true"
  ], { encoding: "utf8" })
  if (r.error !== undefined) return { ok: false, reason: "bubblewrap (bwrap) is not installed" }
  if (r.status !== 0) return { ok: false, reason: `bubblewrap cannot create a sandbox here (${(r.stderr ?? "").trim().split("\n")[0] ?? `exit ${r.status}`})` }
  return { ok: true, reason: "" }
}

/** The answer for this machine. */
export const available = probe()

/** Whether the `[bwrap]` tests run here. */
export const works = available.ok

/** The title of a bubblewrap test: `[bwrap] name`, and why it is skipped where it is. */
export const title = (name: string): string => (works ? `[bwrap] ${name}` : `[bwrap] ${name} (skipped: ${available.reason})`)
