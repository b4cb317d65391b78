/**
 * What an agent sees under bubblewrap: the arguments of `bwrap` for a local sandbox, the host paths an
 * agent needs besides the system directories ({@link extraReadOnly}), and whether bubblewrap works here.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import * as path from "node:path"
import * as NodeFs from "../../platform/nodeFs.js"

/** Read-only system directories visible under bubblewrap. */
export const systemDirs = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt", "/nix"]

/** Paths inside a bubblewrap sandbox. */
export const inside = { work: "/workspace", home: "/home/agent", tmp: "/tmp" } as const

export const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

export const isUnder = (p: string, dir: string) => p === dir || p.startsWith(dir.endsWith("/") ? dir : `${dir}/`)

/** The arguments before `--` of a bwrap command for the sandbox in `dir`. */
export const args = (dir: string, extra: ReadonlyArray<string>, net: boolean, cwd: string): Array<string> => {
  const out = ["--die-with-parent", "--new-session", "--unshare-all", "--unshare-user", "--cap-drop", "ALL"]
  if (net) out.push("--share-net")
  for (const d of systemDirs) out.push("--ro-bind-try", d, d)
  out.push("--proc", "/proc", "--dev", "/dev")
  out.push("--bind", path.join(dir, "tmp"), inside.tmp)
  out.push("--bind", path.join(dir, "work"), inside.work)
  out.push("--bind", path.join(dir, "home"), inside.home)
  for (const p of extra) out.push("--ro-bind", p, p)
  out.push("--chdir", cwd)
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
 * Host paths to expose read-only so that `executables` can run under bubblewrap: each one outside the
 * system directories (an npm package root for files inside node_modules, else the file itself), and
 * likewise the interpreter of a script.
 */
export const extraReadOnly = (executables: ReadonlyArray<string>, pathEnv: string): Effect.Effect<ReadonlyArray<string>> =>
  Effect.gen(function*() {
    const out = new Set<string>()
    const visible = (p: string) => systemDirs.some((d) => isUnder(p, d))
    const add = (file: string) =>
      Effect.gen(function*() {
        const real = yield* realOr(file)
        if (visible(real)) return
        const nm = real.lastIndexOf("/node_modules/")
        if (nm >= 0) {
          const rest = real.slice(nm + "/node_modules/".length).split("/")
          const depth = rest[0]?.startsWith("@") ? 2 : 1
          out.add(real.slice(0, nm) + "/node_modules/" + rest.slice(0, depth).join("/"))
        } else if (path.basename(path.dirname(real)) === "bin" && (yield* NodeFs.exists(path.join(path.dirname(path.dirname(real)), "lib")))) {
          // An installation prefix such as ~/.nvm/versions/node/v20/bin/node needs its lib/ too.
          out.add(path.dirname(path.dirname(real)))
        } else {
          out.add(real)
        }
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
