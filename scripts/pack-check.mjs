// Release check: pack every public package as `npm publish` would, look inside the tarballs, install them
// into empty projects and run them there. CI runs it after the tests (.ci/run).
//
//   node scripts/pack-check.mjs [--no-build] [--static] [--keep]
//     --no-build  use the existing build when there is one
//     --static    only pack, look inside and version (no installs): seconds instead of minutes
//
// 0. Versioning: `changeset version` on a clone bumps core, CLI and MCP server to one new version, writes
//    their changelogs and moves the internal dependency ranges along.
// 1. Contents: no test files or configs; every `bin`, `exports` target and `main`/`types` file is in the
//    tarball; every source map (and sourceMappingURL comment) points to files that are in it; bins start
//    with a shebang; internal dependency ranges are real semver that the local versions satisfy; every
//    module the CLI bundles leave external is a declared dependency.
// 2. The CLI alone: `npm install ./parallel-cc-x.y.z.tgz` into an empty directory, then `parallel-cc
//    --version`, `status --json`, `claude-parallel` outside and inside a repository, and `mcp serve`
//    answering `tools/list` — with nothing else installed.
// 3. The library: the core and MCP tarballs added to that project; both entry points import, internal
//    modules do not; a TypeScript consumer type-checks against the shipped declarations; and the programs
//    in examples/ run against the installed packages on a temp repository.
//
// Installs use the npm cache first (`--prefer-offline`); better-sqlite3 compiles once, for the CLI.
// The last line is `N passed, N failed` (one per check).
import { execFileSync, spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import { builtinModules } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const args = new Set(process.argv.slice(2))
const publicPackages = ["core", "mcp", "cli"]
const work = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "pcc-pack-")))
let passed = 0
let failed = 0

const log = (s) => console.log(s)
const check = (name, fn) => {
  try {
    const detail = fn()
    passed++
    log(`  ok   ${name}${typeof detail === "string" && detail !== "" ? ` (${detail})` : ""}`)
  } catch (e) {
    failed++
    log(`  FAIL ${name}\n       ${String(e instanceof Error ? e.message : e).split("\n").join("\n       ")}`)
  }
}
const checkAsync = async (name, fn) => {
  try {
    const detail = await fn()
    passed++
    log(`  ok   ${name}${typeof detail === "string" && detail !== "" ? ` (${detail})` : ""}`)
  } catch (e) {
    failed++
    log(`  FAIL ${name}\n       ${String(e instanceof Error ? e.message : e).split("\n").join("\n       ")}`)
  }
}
const assert = (cond, message) => {
  if (!cond) throw new Error(message)
}
const finish = () => {
  if (!args.has("--keep")) fs.rmSync(work, { recursive: true, force: true })
  else log(`kept ${work}`)
  log(`${passed} passed, ${failed} failed`)
  process.exit(failed === 0 ? 0 : 1)
}

/** Run a command; returns { status, stdout, stderr }. */
const run = (cmd, argv, opts = {}) => {
  const r = spawnSync(cmd, argv, { encoding: "utf8", timeout: 600_000, ...opts })
  return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "", error: r.error }
}
const ok = (r, what) => {
  assert(r.status === 0, `${what} exited ${r.status}${r.error ? ` (${r.error.message})` : ""}\n${r.stdout}\n${r.stderr}`.trim())
  return r
}

// A hermetic environment for everything run from the installed packages.
const home = path.join(work, "home")
fs.mkdirSync(home, { recursive: true })
const env = {
  PATH: process.env.PATH,
  HOME: home,
  PARALLEL_CC_DATA_DIR: path.join(work, "data"),
  GIT_CONFIG_GLOBAL: "/dev/null",
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_AUTHOR_NAME: "Pack Check",
  GIT_AUTHOR_EMAIL: "pack@example.com",
  GIT_COMMITTER_NAME: "Pack Check",
  GIT_COMMITTER_EMAIL: "pack@example.com",
  LANG: "C",
  LC_ALL: "C",
  // npm: the registry and cache of the machine, but not its user config.
  npm_config_cache: process.env.npm_config_cache ?? path.join(os.homedir(), ".npm"),
  npm_config_userconfig: path.join(os.homedir(), ".npmrc"),
  npm_config_update_notifier: "false",
  npm_config_fund: "false",
  npm_config_audit: "false"
}

// ---- build and pack -------------------------------------------------------------------------------------
if (!args.has("--no-build") || !fs.existsSync(path.join(root, "packages/cli/dist/bin.cjs")) ||
  !fs.existsSync(path.join(root, "packages/core/dist/index.js")) || !fs.existsSync(path.join(root, "packages/mcp/dist/index.js"))) {
  log("building")
  execFileSync(process.execPath, [path.join(root, "scripts/build.mjs")], { cwd: root, stdio: "inherit" })
}
const tarballs = path.join(work, "tarballs")
fs.mkdirSync(tarballs)
const packs = {}
const manifests = {}
for (const pkg of publicPackages) {
  const dir = path.join(root, "packages", pkg)
  manifests[pkg] = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"))
  const r = ok(run("npm", ["pack", "--json", "--pack-destination", tarballs], { cwd: dir }), `npm pack (${pkg})`)
  const [info] = JSON.parse(r.stdout)
  packs[pkg] = { file: path.join(tarballs, info.filename), files: info.files.map((f) => f.path), size: info.size }
  log(`packed ${info.filename}: ${info.files.length} files, ${(info.size / 1024).toFixed(0)} KiB`)
}
const versions = Object.fromEntries(publicPackages.map((p) => [manifests[p].name, manifests[p].version]))

// ---- 1. contents ----------------------------------------------------------------------------------------
log("\ncontents")
const unpacked = path.join(work, "unpacked")
for (const pkg of publicPackages) {
  const m = manifests[pkg]
  const files = new Set(packs[pkg].files)
  const dest = path.join(unpacked, pkg)
  fs.mkdirSync(dest, { recursive: true })
  ok(run("tar", ["-xzf", packs[pkg].file, "-C", dest, "--strip-components=1"]), `tar (${pkg})`)

  check(`${m.name}: no test files, fixtures or build configs`, () => {
    const bad = [...files].filter((f) =>
      /(^|\/)(test|tests|__tests__|fixtures)\//.test(f) || /\.(test|spec)\.[cm]?[jt]sx?$/.test(f) ||
      /(^|\/)(vitest|vite)\.config\./.test(f) || /(^|\/)tsconfig[^/]*\.json$/.test(f) || /\.tsbuildinfo$/.test(f)
    )
    assert(bad.length === 0, `shipped: ${bad.join(", ")}`)
    return `${files.size} files`
  })

  check(`${m.name}: exports, main, types and bin point into the tarball`, () => {
    const targets = []
    const walk = (v, where) => {
      if (typeof v === "string") targets.push([where, v])
      else if (v !== null && typeof v === "object") for (const [k, x] of Object.entries(v)) walk(x, `${where} → ${k}`)
    }
    walk(m.exports ?? {}, "exports")
    for (const k of ["main", "types", "module"]) if (m[k] !== undefined) targets.push([k, m[k]])
    for (const [name, target] of Object.entries(typeof m.bin === "string" ? { [m.name]: m.bin } : m.bin ?? {})) {
      targets.push([`bin ${name}`, target])
      const text = fs.readFileSync(path.join(dest, target), "utf8")
      assert(text.startsWith("#!/usr/bin/env node\n"), `bin ${name} (${target}) does not start with #!/usr/bin/env node`)
    }
    const missing = targets.filter(([, t]) => !files.has(path.posix.normalize(t).replace(/^\.\//, "")))
    assert(missing.length === 0, missing.map(([w, t]) => `${w}: ${t} is not in the tarball`).join("\n"))
    return `${targets.length} targets`
  })

  check(`${m.name}: source maps resolve inside the tarball`, () => {
    const problems = []
    let maps = 0
    for (const f of files) {
      if (f.endsWith(".map")) {
        maps++
        const map = JSON.parse(fs.readFileSync(path.join(dest, f), "utf8"))
        for (const s of map.sources ?? []) {
          const p = path.posix.normalize(path.posix.join(path.posix.dirname(f), map.sourceRoot ?? "", s))
          if (!files.has(p)) problems.push(`${f} → ${s}`)
        }
      } else if (/\.(c|m)?js$/.test(f)) {
        const text = fs.readFileSync(path.join(dest, f), "utf8")
        const m2 = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(text)
        if (m2 !== null && !m2[1].startsWith("data:")) {
          const p = path.posix.normalize(path.posix.join(path.posix.dirname(f), m2[1]))
          if (!files.has(p)) problems.push(`${f} → ${m2[1]}`)
        }
      }
    }
    assert(problems.length === 0, `missing: ${problems.slice(0, 10).join(", ")}`)
    return `${maps} maps`
  })

  check(`${m.name}: dependency ranges are real semver; internal ones match the local versions`, () => {
    const problems = []
    for (const field of ["dependencies", "peerDependencies", "optionalDependencies"]) {
      for (const [name, range] of Object.entries(m[field] ?? {})) {
        if (/^(workspace|file|link|portal|git\+?\w*|https?):/.test(range)) problems.push(`${field} ${name}: ${range}`)
        if (versions[name] !== undefined) {
          const v = versions[name]
          const bare = range.replace(/^[\^~]/, "")
          const [a, b] = [bare.split("."), v.split(".")]
          const fits = range === v || (range.startsWith("^") && a[0] === b[0] && (a[0] !== "0" || a[1] === b[1]) &&
            v.localeCompare(bare, undefined, { numeric: true }) >= 0) ||
            (range.startsWith("~") && a[0] === b[0] && a[1] === b[1] && v.localeCompare(bare, undefined, { numeric: true }) >= 0)
          if (!fits) problems.push(`${field} ${name}: ${range} does not accept the local ${v}`)
        }
      }
    }
    assert(problems.length === 0, problems.join("\n"))
  })
}

check("parallel-cc: every module its bundles require at run time is a dependency", () => {
  const m = manifests.cli
  const deps = new Set(Object.keys(m.dependencies ?? {}))
  const builtins = new Set([...builtinModules, ...builtinModules.map((b) => `node:${b}`)])
  const seen = new Set()
  const problems = []
  for (const f of packs.cli.files.filter((f) => /\.c?js$/.test(f))) {
    const text = fs.readFileSync(path.join(unpacked, "cli", f), "utf8")
    // A real call, not the text of one inside a string (ajv keeps `require("ajv/…")` strings for codegen).
    for (const match of text.matchAll(/(?<![\w$.'"`])require\("([^"]+)"\)/g)) {
      const spec = match[1]
      if (spec.startsWith(".") || spec.startsWith("/") || builtins.has(spec) || builtins.has(spec.split("/")[0])) continue
      const name = spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0]
      seen.add(name)
      if (!deps.has(name)) problems.push(`${f} requires ${spec}, which is not in dependencies`)
    }
  }
  assert(problems.length === 0, problems.join("\n"))
  return [...seen].sort().join(", ")
})

// ---- versioning --------------------------------------------------------------------------------------------
log("\nversioning (changesets, on a clone)")
check("changeset version bumps the public packages in lockstep and keeps internal ranges real", () => {
  const pending = fs.readdirSync(path.join(root, ".changeset")).filter((f) => f.endsWith(".md") && f !== "README.md")
  if (pending.length === 0) return "no pending changesets"
  const clone = path.join(work, "clone")
  ok(run("git", ["clone", "-q", root, clone], { env }), "git clone")
  ok(run(process.execPath, [path.join(root, "node_modules/@changesets/cli/bin.js"), "version"], { cwd: clone, env }), "changeset version")
  const after = Object.fromEntries(publicPackages.map((p) => {
    const m = JSON.parse(fs.readFileSync(path.join(clone, "packages", p, "package.json"), "utf8"))
    return [m.name, m]
  }))
  const bumped = new Set(Object.values(after).map((m) => m.version))
  assert(bumped.size === 1, `versions differ: ${Object.values(after).map((m) => `${m.name}@${m.version}`).join(", ")}`)
  const [next] = bumped
  assert(next.localeCompare(manifests.core.version, undefined, { numeric: true }) > 0, `no bump from ${manifests.core.version}`)
  for (const m of Object.values(after)) {
    for (const field of ["dependencies", "devDependencies", "peerDependencies"]) {
      const range = m[field]?.["@parallel-cc/core"]
      assert(range === undefined || range === `^${next}`, `${m.name} ${field} @parallel-cc/core: ${range}, expected ^${next}`)
    }
    const dir = publicPackages.find((p) => after[m.name] === m && JSON.parse(fs.readFileSync(path.join(root, "packages", p, "package.json"), "utf8")).name === m.name)
    assert(fs.existsSync(path.join(clone, "packages", dir, "CHANGELOG.md")), `no CHANGELOG.md for ${m.name}`)
  }
  const left = fs.readdirSync(path.join(clone, ".changeset")).filter((f) => f.endsWith(".md") && f !== "README.md")
  assert(left.length === 0, `changesets left: ${left.join(", ")}`)
  return `${pending.length} changesets → ${next}`
})

if (args.has("--static")) finish()

// ---- 2. the CLI installed alone ---------------------------------------------------------------------------
log("\nthe CLI, installed alone into an empty project")
const project = path.join(work, "project")
fs.mkdirSync(project)
fs.writeFileSync(path.join(project, "package.json"), JSON.stringify({ name: "pack-check", private: true, type: "module" }, null, 2))
const npmInstall = (specs) =>
  ok(run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error", ...specs], { cwd: project, env }), `npm install ${specs.map((s) => path.basename(s)).join(" ")}`)

let cliInstalled = false
check("npm install ./parallel-cc-*.tgz", () => {
  const t0 = Date.now()
  npmInstall([packs.cli.file])
  cliInstalled = true
  const installed = fs.readdirSync(path.join(project, "node_modules")).filter((d) => !d.startsWith("."))
  assert(!installed.includes("@parallel-cc"), "the CLI pulled in @parallel-cc/* packages; it must be self-contained")
  return `${((Date.now() - t0) / 1000).toFixed(0)} s`
})
if (!cliInstalled) finish()

const bin = (name) => path.join(project, "node_modules", ".bin", name)
const cliVersion = manifests.cli.version

check("parallel-cc --version", () => {
  const r = ok(run(bin("parallel-cc"), ["--version"], { cwd: project, env }), "parallel-cc --version")
  assert(r.stdout.trim() === cliVersion, `printed ${JSON.stringify(r.stdout.trim())}, expected ${cliVersion}`)
})

check("parallel-cc status --json (outside a repository, fresh data directory)", () => {
  const r = ok(run(bin("parallel-cc"), ["status", "--json"], { cwd: home, env }), "status --json")
  const doc = JSON.parse(r.stdout)
  assert(Array.isArray(doc.sessions) && doc.sessions.length === 0, `unexpected: ${r.stdout}`)
  assert(fs.existsSync(path.join(env.PARALLEL_CC_DATA_DIR, "coordinator.db")), "no database was created")
})

check("claude-parallel outside a repository runs the agent unchanged and passes its exit code", () => {
  const r = run(bin("claude-parallel"), ["-e", "console.log('agent ran in ' + process.cwd()); process.exit(7)"], {
    cwd: home,
    env: { ...env, PARALLEL_CC_AGENT: process.execPath }
  })
  assert(r.status === 7, `exit ${r.status}\n${r.stdout}\n${r.stderr}`)
  assert(r.stdout.trim() === `agent ran in ${home}`, `stdout: ${r.stdout}`)
})

const repo = path.join(work, "repo")
const git = (argv, cwd = repo) => ok(run("git", argv, { cwd, env }), `git ${argv.join(" ")}`).stdout
fs.mkdirSync(repo)
git(["init", "-q", "-b", "main"])
fs.writeFileSync(path.join(repo, "README.md"), "# shop\n")
fs.mkdirSync(path.join(repo, "src"))
fs.writeFileSync(path.join(repo, "src/price.ts"), "export const price = (n: number) => n * 1.0\n")
git(["add", "-A"])
git(["commit", "-q", "-m", "base"])
git(["checkout", "-q", "-b", "feature"])
fs.writeFileSync(path.join(repo, "src/price.ts"), "export const price = (n: number) => Math.round(n * 1.1)\n")
git(["commit", "-q", "-am", "feature"])
git(["checkout", "-q", "main"])
fs.writeFileSync(path.join(repo, "src/price.ts"), "export const price = (n: number) => n * 1.2\n")
git(["commit", "-q", "-am", "main"])

check("claude-parallel inside a repository: the agent runs in a session, released afterwards", () => {
  const agent = "console.log(JSON.stringify({ id: process.env.PARALLEL_CC_SESSION_ID, cwd: process.cwd() }))"
  const r = ok(run(bin("claude-parallel"), ["-e", agent], { cwd: repo, env: { ...env, PARALLEL_CC_AGENT: process.execPath } }), "claude-parallel")
  const seen = JSON.parse(r.stdout.trim().split("\n").pop())
  assert(/^[a-z0-9]{6,32}$/.test(seen.id ?? ""), `no session id in the agent's environment: ${r.stdout}`)
  assert(seen.cwd === repo, `the first session should work in the repository, not ${seen.cwd}`)
  const status = JSON.parse(ok(run(bin("parallel-cc"), ["status", "--json"], { cwd: repo, env }), "status").stdout)
  assert(status.sessions.length === 0, `a session is left registered: ${JSON.stringify(status.sessions)}`)
})

await checkAsync("parallel-cc mcp serve answers initialize and tools/list", async () => {
  const child = spawn(bin("parallel-cc"), ["mcp", "serve"], { cwd: repo, env, stdio: ["pipe", "pipe", "pipe"] })
  let out = ""
  let err = ""
  child.stderr.on("data", (d) => (err += d))
  const reply = (id) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no reply to request ${id} in 60 s\n${out}\n${err}`)), 60_000)
      const onData = (d) => {
        out += d
        for (const line of out.split("\n")) {
          if (line.trim() === "") continue
          let msg
          try {
            msg = JSON.parse(line)
          } catch {
            continue
          }
          if (msg.id === id) {
            clearTimeout(timer)
            child.stdout.off("data", onData)
            return resolve(msg)
          }
        }
      }
      child.stdout.on("data", onData)
    })
  const send = (msg) => child.stdin.write(JSON.stringify(msg) + "\n")
  try {
    send({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "pack-check", version: "0" } } })
    const init = await reply(1)
    assert(init.result?.serverInfo?.name === "parallel-cc", `initialize: ${JSON.stringify(init)}`)
    send({ jsonrpc: "2.0", method: "notifications/initialized" })
    send({ jsonrpc: "2.0", id: 2, method: "tools/list", params: {} })
    const list = await reply(2)
    const names = (list.result?.tools ?? []).map((t) => t.name)
    assert(names.includes("get_parallel_status") && names.includes("claim_file"), `tools/list: ${names.join(", ")}`)
    return `${names.length} tools`
  } finally {
    child.stdin.end()
    await new Promise((resolve) => {
      const t = setTimeout(() => (child.kill("SIGKILL"), resolve()), 10_000)
      child.on("exit", () => (clearTimeout(t), resolve()))
    })
  }
})

// ---- 3. the library ---------------------------------------------------------------------------------------
log("\nthe library, added to the same project")
let libInstalled = false
check("npm install ./parallel-cc-core-*.tgz ./parallel-cc-mcp-*.tgz (+ @types/node for the type check)", () => {
  const t0 = Date.now()
  npmInstall([packs.core.file, packs.mcp.file, `@types/node@${JSON.parse(fs.readFileSync(path.join(root, "node_modules/@types/node/package.json"), "utf8")).version}`])
  libInstalled = true
  return `${((Date.now() - t0) / 1000).toFixed(0)} s`
})
if (!libInstalled) finish()

const node = (code, what) => ok(run(process.execPath, ["--input-type=module", "-e", code], { cwd: project, env }), what).stdout.trim()

check("import @parallel-cc/core and @parallel-cc/core/promise; internals are not exported", () => {
  const out = node(
    `import * as core from "@parallel-cc/core"
     import * as promise from "@parallel-cc/core/promise"
     let internal = "exported"
     try { await import("@parallel-cc/core/dist/internal/exec.js") } catch (e) { internal = e.code }
     console.log(JSON.stringify({ core: Object.keys(core).sort(), promise: typeof promise.createClient, layer: typeof core.Live.layerWith, internal }))`,
    "import"
  )
  const r = JSON.parse(out)
  for (const k of ["ClaimsLedger", "Conflicts", "Domain", "Errors", "Live", "MergeWatcher", "Sessions", "Worktrees"]) {
    assert(r.core.includes(k), `@parallel-cc/core lacks ${k}: ${r.core.join(", ")}`)
  }
  assert(r.promise === "function" && r.layer === "function", out)
  assert(r.internal === "ERR_PACKAGE_PATH_NOT_EXPORTED", `deep import: ${r.internal}`)
  return `${r.core.length} modules`
})

check("import @parallel-cc/mcp", () => {
  const out = node(`import { Server } from "@parallel-cc/mcp"; console.log(Server.tools.length)`, "import mcp")
  assert(Number(out) >= 10, `tools: ${out}`)
})

check("a TypeScript consumer type-checks against the shipped declarations", () => {
  fs.writeFileSync(
    path.join(project, "consumer.ts"),
    `import { createClient, SessionNotFound, type Registration } from "@parallel-cc/core/promise"
import { Live, Sessions } from "@parallel-cc/core"
import { Effect } from "effect"
export const viaPromise = async (repoPath: string): Promise<Registration> => {
  await using client = createClient({ dataDir: "/tmp/x", config: { "claims.ttlMinutes": 30 } })
  try {
    return await client.sessions.register({ repoPath, pid: process.pid })
  } catch (e) {
    if (e instanceof SessionNotFound) console.log(e._tag, e.message)
    throw e
  }
}
export const viaEffect = Effect.flatMap(Sessions.Sessions, (s) => s.status()).pipe(Effect.provide(Live.layerWith({ dataDir: "/tmp/x" })))
`
  )
  fs.writeFileSync(
    path.join(project, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "ES2022",
        lib: ["ES2023", "ESNext.Disposable"],
        module: "NodeNext",
        moduleResolution: "NodeNext",
        strict: true,
        noEmit: true,
        skipLibCheck: true,
        types: ["node"]
      },
      files: ["consumer.ts"]
    })
  )
  ok(run(process.execPath, [path.join(project, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.json"], { cwd: project, env }), "tsc")
})

check("examples/promise-client.mjs runs against the installed packages", () => {
  fs.copyFileSync(path.join(root, "examples/promise-client.mjs"), path.join(project, "promise-client.mjs"))
  const r = ok(run(process.execPath, ["promise-client.mjs", repo, "main", "feature"], { cwd: project, env }), "promise-client.mjs")
  const lines = r.stdout.trim().split("\n")
  assert(lines.length === 6, r.stdout)
  assert(lines[3] === "feature conflicts with main in: src/price.ts", r.stdout)
  assert(lines[4].endsWith("worktree removed") && lines[5].endsWith("worktree main"), r.stdout)
})

check("examples/sandbox-task.mjs runs a sandboxed task (local provider, the scripted agent) against the installed packages", () => {
  fs.copyFileSync(path.join(root, "examples/sandbox-task.mjs"), path.join(project, "sandbox-task.mjs"))
  const script = { actions: [{ write: "CONTRIBUTING.md", content: "# Contributing\n" }, { say: "Wrote CONTRIBUTING.md." }] }
  const r = ok(run(process.execPath, ["sandbox-task.mjs", repo, `Add a guide [[scripted-agent:${JSON.stringify(script)}]]`], {
    cwd: project,
    env: {
      ...env,
      PARALLEL_CC_AGENT: path.join(root, "packages/testkit/bin/scripted-agent.mjs"),
      PARALLEL_CC_SANDBOX_PROVIDER: "local",
      PARALLEL_CC_SANDBOX_LOCAL_ISOLATION: "process",
      PARALLEL_CC_SANDBOX_LOCAL_ROOT: path.join(work, "sandboxes")
    }
  }), "sandbox-task.mjs")
  const lines = r.stdout.trim().split("\n")
  assert(/^run [a-z0-9]+: succeeded$/.test(lines.at(-3)) && lines.at(-2) === "changes: 1 added, 0 modified, 0 deleted", r.stdout)
})

await checkAsync("examples/effect-program.ts runs against the installed packages", async () => {
  const esbuild = await import("esbuild")
  const { code } = await esbuild.transform(fs.readFileSync(path.join(root, "examples/effect-program.ts"), "utf8"), {
    loader: "ts",
    format: "esm",
    target: "node20"
  })
  fs.writeFileSync(path.join(project, "effect-program.mjs"), code)
  const r = ok(run(process.execPath, ["effect-program.mjs", repo, "main", "feature"], { cwd: project, env }), "effect-program")
  const lines = r.stdout.trim().split("\n")
  assert(lines.length === 2 && /^src\/price\.ts: CONCURRENT_EDIT /.test(lines[1]), r.stdout)
})

finish()
