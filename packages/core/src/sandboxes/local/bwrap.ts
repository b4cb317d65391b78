/**
 * What an agent sees under bubblewrap, and nothing more:
 *
 * - the system's read-only directories (`/usr`, `/bin`, `/sbin`, `/lib*`, `/opt`, `/nix`);
 * - a read-only `/etc` made of the files programs need (name resolution, users and groups without their
 *   password hashes, certificates, the dynamic linker's cache, time zone, …) — never `shadow`, `gshadow`,
 *   `sudoers`, SSH host keys, `ssl/private`, `npmrc`/`pip.conf` (which may hold tokens) or `machine-id`;
 * - its work tree (`/workspace`), a private home (`/home/agent`) and `/tmp`, writable;
 * - the agent's own executable and its script's interpreter, resolved through symlinks, each as the single
 *   file it is — or, inside `node_modules`, its package — read-only at its own path ({@link agentMounts}).
 *   Never a directory that contains the user's home, the repository or parallel-cc's data: an install
 *   prefix is not guessed (`~/bin/agent` next to `~/lib` used to expose the whole home).
 *
 * The root is a tmpfs that is remounted read-only once everything is in place.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import * as path from "node:path"
import * as NodeFs from "../../platform/nodeFs.js"

/** Read-only system directories visible under bubblewrap (`/etc` is filtered, see {@link etcEntries}). */
export const systemDirs = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/opt", "/nix"]

/**
 * The entries of the host's `/etc` an agent sees (those that exist), read-only. Directories whose name
 * starts with `python3` or `java` (interpreters' configuration) are added to these.
 */
export const etcEntries = [
  // name resolution and the network's names
  "hosts",
  "resolv.conf",
  "nsswitch.conf",
  "host.conf",
  "gai.conf",
  "networks",
  "protocols",
  "services",
  "hostname",
  "netconfig",
  "rpc",
  // users and groups (no password hashes: those are in shadow)
  "passwd",
  "group",
  "shells",
  // certificates (not ssl/private, not pki/tls/private)
  "ssl/certs",
  "ssl/openssl.cnf",
  "ca-certificates",
  "ca-certificates.conf",
  "pki/tls/certs",
  "pki/ca-trust",
  "crypto-policies",
  // the dynamic linker and the alternatives system's links
  "ld.so.cache",
  "ld.so.conf",
  "ld.so.conf.d",
  "alternatives",
  // time, language, terminals, file types
  "localtime",
  "timezone",
  "locale.alias",
  "locale.conf",
  "locale.gen",
  "mime.types",
  "magic",
  "magic.mime",
  "inputrc",
  "terminfo",
  "fonts",
  // what the system is, and its git and ssh client configuration (not the host keys)
  "os-release",
  "lsb-release",
  "debian_version",
  "redhat-release",
  "alpine-release",
  "gitconfig",
  "ssh/ssh_config",
  "ssh/ssh_config.d",
  "perl"
]

/** Never visible, even if a distribution's layout would put them in a directory above. */
export const etcSecrets = ["shadow", "shadow-", "gshadow", "gshadow-", "sudoers", "sudoers.d", "ssh/ssh_host_*", "ssl/private", "machine-id"]

/** Paths inside a bubblewrap sandbox. */
export const inside = { work: "/workspace", home: "/home/agent", tmp: "/tmp" } as const

export const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

export const isUnder = (p: string, dir: string) => dir === "/" || p === dir || p.startsWith(dir.endsWith("/") ? dir : `${dir}/`)

/** The `/etc` entries present on this machine, as bubblewrap arguments. */
export const etcArgs = (present: ReadonlyArray<string>): Array<string> => {
  const out = ["--dir", "/etc"]
  for (const e of present) out.push("--ro-bind", `/etc/${e}`, `/etc/${e}`)
  // /etc/mtab is a link to the caller's mount table; inside, it must be the sandbox's own.
  out.push("--symlink", "../proc/self/mounts", "/etc/mtab")
  return out
}

/** Which of {@link etcEntries} (and the interpreters' directories) this machine has. */
export const presentEtc = (root = "/etc"): Effect.Effect<ReadonlyArray<string>> =>
  Effect.gen(function*() {
    const names = yield* NodeFs.readDirectory(root).pipe(Effect.orElseSucceed((): Array<string> => []))
    const extra = names.filter((n) => /^(python3|java)/.test(n)).sort()
    const out: Array<string> = []
    for (const e of [...etcEntries, ...extra]) {
      if (yield* NodeFs.exists(path.join(root, e))) out.push(e)
    }
    return out
  })

/** What a sandbox's bubblewrap command is made of. */
export interface Plan {
  /** The sandbox directory (its `home/` and `tmp/` are bound writable). */
  readonly dir: string
  /** The agent's work tree on the host, bound writable at {@link inside}`.work`. */
  readonly work: string
  /** `/etc` entries to show (see {@link presentEtc}). */
  readonly etc: ReadonlyArray<string>
  /** Host files and package directories to show read-only at their own paths (see {@link agentMounts}). */
  readonly readOnly: ReadonlyArray<string>
  /** `on`: the machine's network; `off`: none; `allow`: none but the egress proxy's socket directory. */
  readonly network: "on" | "off" | "allow"
  /** An empty file bound over the work tree's `.git` (a worktree's link to the repository's git directory). */
  readonly maskGit?: string | undefined
  /** In `allow` mode, the host directory holding the proxy's socket and the bridge (bound read-only). */
  readonly egressDir?: string | undefined
  readonly cwd: string
}

/** Where the egress proxy's socket and the bridge are inside the sandbox. */
export const egressInside = "/run/parallel-cc"

/** The arguments before `--` of the bwrap command of `plan`. */
export const args = (plan: Plan): Array<string> => {
  const out = ["--die-with-parent", "--new-session", "--unshare-all", "--unshare-user", "--cap-drop", "ALL"]
  if (plan.network === "on") out.push("--share-net")
  for (const d of systemDirs) out.push("--ro-bind-try", d, d)
  out.push(...etcArgs(plan.etc))
  out.push("--proc", "/proc", "--dev", "/dev")
  out.push("--bind", path.join(plan.dir, "tmp"), inside.tmp)
  out.push("--bind", plan.work, inside.work)
  if (plan.maskGit !== undefined) out.push("--ro-bind", plan.maskGit, `${inside.work}/.git`)
  out.push("--bind", path.join(plan.dir, "home"), inside.home)
  for (const p of plan.readOnly) out.push("--ro-bind", p, p)
  if (plan.network === "allow" && plan.egressDir !== undefined) out.push("--ro-bind", plan.egressDir, egressInside)
  out.push("--remount-ro", "/")
  out.push("--chdir", plan.cwd)
  return out
}

/** The interpreter a script names in its `#!` line (`#!/usr/bin/env node` gives `node`). */
export const shebangInterpreter = (file: string): Effect.Effect<string | undefined> =>
  Effect.tryPromise(async () => {
    const handle = await NodeFs.promises.open(file, "r")
    try {
      const buf = Buffer.alloc(256)
      const { bytesRead } = await handle.read(buf, 0, 256, 0)
      return buf.subarray(0, bytesRead).toString("utf8").split("\n")[0] ?? ""
    } finally {
      await handle.close()
    }
  }).pipe(
    Effect.map((first) => {
      if (!first.startsWith("#!")) return undefined
      const parts = first.slice(2).trim().split(/\s+/)
      if (parts[0] === undefined) return undefined
      if (path.basename(parts[0]) === "env") return parts.find((p, i) => i > 0 && !p.startsWith("-"))
      return parts[0]
    }),
    Effect.orElseSucceed(() => undefined)
  )

const realOr = (file: string) => NodeFs.realPath(file).pipe(Effect.orElseSucceed(() => file))

/** `name` (or a path) on a PATH string, resolved through symlinks. */
export const resolveOnPath = (name: string, pathEnv: string): Effect.Effect<string | undefined> =>
  Effect.gen(function*() {
    if (name.includes("/")) return (yield* NodeFs.exists(name)) ? yield* realOr(name) : undefined
    for (const dir of pathEnv.split(":")) {
      if (dir === "") continue
      const p = path.join(dir, name)
      if (yield* NodeFs.isExecutableFile(p)) return yield* realOr(p)
    }
    return undefined
  })

/**
 * The read-only mount that makes `real` (a resolved path) runnable: nothing when a system directory has it;
 * its package directory when it is inside `node_modules` (a CLI's entry script needs its package's other
 * files); else the file itself. A directory that contains one of `protect` (the user's home, the
 * repository, the data directory) is never mounted: the file alone is, then.
 */
export const mountFor = (real: string, protect: ReadonlyArray<string>): string | undefined => {
  if (systemDirs.some((d) => isUnder(real, d)) || isUnder(real, "/etc")) return undefined
  const nm = real.lastIndexOf("/node_modules/")
  if (nm >= 0) {
    const rest = real.slice(nm + "/node_modules/".length).split("/")
    const depth = rest[0]?.startsWith("@") ? 2 : 1
    const pkg = real.slice(0, nm) + "/node_modules/" + rest.slice(0, depth).join("/")
    if (pkg !== real && !protect.some((p) => isUnder(p, pkg))) return pkg
  }
  return real
}

/**
 * Host paths to show read-only so that `executables` can run under bubblewrap: each one and its script's
 * interpreter (found on `pathEnv`), resolved through symlinks, mounted as {@link mountFor} says.
 */
export const agentMounts = (
  executables: ReadonlyArray<string>,
  pathEnv: string,
  protect: ReadonlyArray<string>
): Effect.Effect<ReadonlyArray<string>> =>
  Effect.gen(function*() {
    const out = new Set<string>()
    const add = (file: string) =>
      Effect.map(realOr(file), (real) => {
        const m = mountFor(real, protect)
        if (m !== undefined) out.add(m)
      })
    for (const exe of executables) {
      yield* add(exe)
      const interp = yield* shebangInterpreter(exe)
      if (interp !== undefined) {
        const found = yield* resolveOnPath(interp, pathEnv)
        if (found !== undefined) yield* add(found)
      }
    }
    return [...out].sort()
  })
