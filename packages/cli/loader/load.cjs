"use strict"
// Start-up loader: runs a bundled entry with V8's code cache, so that a cold `parallel-cc` start costs
// little more than starting Node. The cache lives in the user's own data directory (0700), never in a
// shared temp directory: cached code is executable. Node >= 22 uses module.enableCompileCache instead.
const fs = require("node:fs")
const path = require("node:path")
const Module = require("node:module")

function dataDir() {
  return process.env.PARALLEL_CC_DATA_DIR || path.join(require("node:os").homedir(), ".parallel-cc")
}

function cacheDir() {
  return path.join(dataDir(), "cache")
}

// The cache never creates the data directory by itself: a command that stores nothing (--help, doctor,
// install --uninstall after removing it) leaves no ~/.parallel-cc behind.
function hasDataDir() {
  try {
    return fs.statSync(dataDir()).isDirectory()
  } catch {
    return false
  }
}

function ensureDir(dir) {
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
    return true
  } catch {
    return false
  }
}

function loadWithCache(file) {
  // `install --uninstall` removes the cache (with the rest of parallel-cc's install state): it must not write
  // it again as it exits.
  const disabled = process.env.PARALLEL_CC_NO_CODE_CACHE === "1" || process.argv.includes("--uninstall")
  if (!disabled && typeof Module.enableCompileCache === "function") {
    const dir = cacheDir()
    if (hasDataDir() && ensureDir(dir)) Module.enableCompileCache(dir)
    return require(file)
  }
  const vm = require("node:vm")
  const source = fs.readFileSync(file, "utf8")
  let stat
  try {
    stat = fs.statSync(file)
  } catch {
    stat = { size: source.length, mtimeMs: 0 }
  }
  // V8 rejects cached data made under other flags, so the flags are part of the key.
  const flags = process.execArgv.join(" ").replace(/[^A-Za-z0-9=_-]+/g, "_").slice(0, 60)
  const build = `${path.basename(file)}-${stat.size}-${Math.trunc(stat.mtimeMs)}-`
  const key = `${build}${process.version}${flags ? "-" + flags : ""}.v8`
  const cacheFile = disabled ? undefined : path.join(cacheDir(), key)
  let cachedData
  if (cacheFile !== undefined) {
    try {
      cachedData = fs.readFileSync(cacheFile)
    } catch {
      cachedData = undefined
    }
  }
  const script = new vm.Script(Module.wrap(source), {
    filename: file,
    cachedData,
    importModuleDynamically: vm.constants && vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER
  })
  const mod = new Module(file, module)
  mod.filename = file
  mod.paths = Module._nodeModulePaths(path.dirname(file))
  script.runInThisContext().call(mod.exports, mod.exports, Module.createRequire(file), mod, file, path.dirname(file))
  mod.loaded = true
  if (cacheFile !== undefined && (cachedData === undefined || script.cachedDataRejected)) {
    process.once("exit", () => {
      try {
        if (!hasDataDir() || !ensureDir(path.dirname(cacheFile))) return
        const tmp = `${cacheFile}.${process.pid}.tmp`
        fs.writeFileSync(tmp, script.createCachedData(), { mode: 0o600 })
        fs.renameSync(tmp, cacheFile)
        // Drop caches of older builds of the same bundle.
        const prefix = `${path.basename(file)}-`
        for (const f of fs.readdirSync(path.dirname(cacheFile))) {
          if (f.startsWith(prefix) && f.endsWith(".v8") && !f.startsWith(build)) {
            fs.rmSync(path.join(path.dirname(cacheFile), f), { force: true })
          }
        }
      } catch {
        // A missing cache only costs start-up time.
      }
    })
  }
  return mod.exports
}

/** Run `parallel-cc`: the fast path for hot commands when it applies, otherwise the full CLI. */
/**
 * `mcp serve` with nothing but the global flags goes straight to the MCP server's bundle (no @effect/cli):
 * returns the arguments for its `main`, or null to let the full CLI parse (and report usage errors).
 */
function mcpServeArgs(args) {
  const rest = []
  const globals = []
  for (let i = 0; i < args.length; i++) {
    const a = args[i]
    if (a === "--verbose" || a.startsWith("--db=")) globals.push(a)
    else if (a === "--db") {
      if (args[i + 1] === undefined) return null
      globals.push(a, args[++i])
    } else rest.push(a)
  }
  return rest.length === 2 && rest[0] === "mcp" && rest[1] === "serve" ? globals : null
}

exports.cli = function cli(dir) {
  if (process.argv[2] === "claude") {
    loadWithCache(path.join(dir, "wrapq.cjs")).mainSubcommand(process.argv.slice(3), loader(dir))
    return
  }
  const mcp = process.env.PARALLEL_CC_NO_FAST_PATH !== "1" ? mcpServeArgs(process.argv.slice(2)) : null
  if (mcp !== null) {
    loadWithCache(path.join(dir, "mcp.cjs")).main([process.argv[0], process.argv[1], ...mcp])
    return
  }
  const first = process.argv.slice(2).find((a) => !a.startsWith("-"))
  const hot = first === "status" || first === "register" || first === "release" || first === "heartbeat" ||
    first === "worktree-hook"
  const quick = hot || first === "claims" || first === "sandbox" || first === "overlaps"
  const full = () => loadWithCache(path.join(dir, "cli.cjs")).main(process.argv)
  if (quick && process.env.PARALLEL_CC_NO_FAST_PATH !== "1") {
    const answered = loadWithCache(path.join(dir, "quick.cjs")).main(process.argv)
    if (answered === true) return
    // `overlaps` answers with a promise: the full CLI only once it has declined.
    if (answered !== false && typeof answered.then === "function") {
      answered.then((done) => done || full(), full)
      return
    }
    if (hot && loadWithCache(path.join(dir, "fast.cjs")).main(process.argv)) return
  }
  full()
}

/** Loads another bundle of this directory (for an entry that needs one only sometimes). */
function loader(dir) {
  return (name) => loadWithCache(path.join(dir, name))
}

/** Run an entry that exports `main(argv, load)`. */
exports.entry = function entry(dir, name) {
  loadWithCache(path.join(dir, name)).main(process.argv, loader(dir))
}
