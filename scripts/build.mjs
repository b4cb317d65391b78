// Build every package: the library (tsc → ESM + .d.ts) and the CLI bundles (esbuild → CJS, started
// through a small loader that uses V8's code cache). `node scripts/build.mjs --cli` builds the CLI only.
import * as esbuild from "esbuild"
import { execFileSync } from "node:child_process"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const only = process.argv.includes("--cli") ? "cli" : undefined
const cliDir = path.join(root, "packages/cli")
const dist = path.join(cliDir, "dist")
const cliManifest = JSON.parse(fs.readFileSync(path.join(cliDir, "package.json"), "utf8"))
const version = cliManifest.version

// The libraries, in dependency order (the MCP package's declarations import core's).
if (only !== "cli") {
  for (const pkg of ["core", "mcp"]) {
    fs.rmSync(path.join(root, "packages", pkg, "dist"), { recursive: true, force: true })
    execFileSync(process.execPath, [path.join(root, "node_modules/typescript/bin/tsc"), "-p", `packages/${pkg}/tsconfig.build.json`], {
      cwd: root,
      stdio: "inherit"
    })
  }
}

fs.rmSync(dist, { recursive: true, force: true })
fs.mkdirSync(dist, { recursive: true })

/** Bundled entries; each exports `main(argv)`. */
const entries = {
  cli: "src/bin.ts",
  fast: "src/fast.ts",
  // The Effect-free paths of the hot commands: `status --json` from a read-only snapshot of the store
  // (StatusSnapshot), `register`, `release` and `heartbeat` through core's FastPath.
  quick: "src/quick.ts",
  // The MCP server (with the MCP SDK and zod), loaded only by `parallel-cc mcp serve`.
  mcp: "../mcp/src/main.ts",
  // The live dashboard, loaded only by `parallel-cc ui`.
  ui: "src/ui/main.ts",
  // claude-parallel (started through the loader stub dist/wrapper.cjs): the wrapper over core's fast path,
  // and the Sessions service for what the fast path declines (loaded only then).
  wrapq: "src/wrapperFast.ts",
  wrap: "src/wrapper.ts"
}

/**
 * An id of this build: a hash of every source file the bundles are made of (and the versions). It keys
 * what one build records for another process of the same build (the configuration snapshot of the
 * start-up fast path), so that a rebuilt CLI never trusts what an older one recorded.
 */
function buildId() {
  const hash = createHash("sha256").update(version)
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(dir, e.name)
      if (e.isDirectory()) walk(p)
      else if (/\.(ts|cjs|json)$/.test(e.name)) hash.update(p).update(fs.readFileSync(p))
    }
  }
  for (const pkg of ["core", "cli", "mcp"]) walk(path.join(root, "packages", pkg, "src"))
  walk(path.join(cliDir, "loader"))
  return hash.digest("hex").slice(0, 16)
}

/**
 * effect/Schema imports fast-check only to build property-test arbitraries, which the CLI never does;
 * replacing it with an empty module keeps ~45 KB of start-up evaluation out of every command.
 */
const noFastCheck = {
  name: "no-fast-check",
  setup(build) {
    build.onResolve({ filter: /^fast-check$/ }, () => ({ path: "fast-check", namespace: "pcc-empty" }))
    build.onLoad({ filter: /.*/, namespace: "pcc-empty" }, () => ({ contents: "export {}", loader: "js" }))
  }
}

await esbuild.build({
  plugins: [noFastCheck],
  entryPoints: Object.fromEntries(Object.entries(entries).map(([k, v]) => [k, path.join(cliDir, v)])),
  outdir: dist,
  outExtension: { ".js": ".cjs" },
  bundle: true,
  platform: "node",
  target: "node20",
  format: "cjs",
  conditions: ["source"],
  mainFields: ["main", "module"],
  minify: true,
  keepNames: false,
  sourcemap: "external",
  legalComments: "none",
  // What the bundles leave to node_modules is exactly the CLI package's `dependencies`, so an installed CLI
  // always has what it requires (scripts/pack-check.mjs verifies it): better-sqlite3 (a native addon),
  // typescript (the conflict analyser's parser, ~9 MB, required only when a script file is classified) and
  // e2b (the E2B provider's SDK, required only when a sandbox runs on E2B).
  external: Object.keys(cliManifest.dependencies ?? {}),
  // import() of an external becomes a lazy require(): the bundles run inside the loader's vm.Script,
  // where a native import() needs a loader hook that Node < 20.17 does not have.
  supported: { "dynamic-import": false },
  define: { PCC_VERSION: JSON.stringify(version), PCC_BUILD_ID: JSON.stringify(buildId()) },
  logLevel: "warning"
})

for (const f of fs.readdirSync(path.join(cliDir, "loader"))) {
  fs.copyFileSync(path.join(cliDir, "loader", f), path.join(dist, f))
}
for (const bin of ["bin.cjs", "wrapper.cjs"]) fs.chmodSync(path.join(dist, bin), 0o755)
console.log(`built parallel-cc ${version} → ${path.relative(root, dist)}`)
