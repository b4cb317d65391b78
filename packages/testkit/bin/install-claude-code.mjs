#!/usr/bin/env node
// Install the real Claude Code CLI (the native binary npm publishes as @anthropic-ai/claude-code-linux-x64)
// at a pinned version into a cache directory, and print the binary's absolute path on stdout.
//
// It goes through npm: a package.json + package-lock.json pinning the version, the tarball URL and its
// sha512 integrity are written to the cache directory and `npm ci` installs from them, so npm checks the
// tarball against our pinned hash and keeps it in the npm cache (~/.npm/_cacache) for the next clean
// install. The platform package has no Node engine constraint (the `@anthropic-ai/claude-code` wrapper
// package wants Node >= 22; we do not use it).
//
// Usage: node packages/testkit/bin/install-claude-code.mjs [--dir DIR] [--quiet]
//   DIR defaults to $PARALLEL_CC_CLAUDE_CODE_DIR, else <repo>/.cache/claude-code/<version>.
// Exit 0 with the path on stdout; exit 1 with a message on stderr.
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

export const PACKAGE = "@anthropic-ai/claude-code-linux-x64"
export const VERSION = "2.1.332"
export const INTEGRITY = "sha512-f4JWhzwYutJIHScC7/dYOPX6s28tt7ZADhsOi8zwOHq5fFPEuUeChh2NMfinSg0GrUckYxaeebC4h0DqiKzLcw=="
const TARBALL = `https://registry.npmjs.org/${PACKAGE}/-/claude-code-linux-x64-${VERSION}.tgz`

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..")

export const defaultDir = () =>
  process.env.PARALLEL_CC_CLAUDE_CODE_DIR || path.join(projectRoot, ".cache", "claude-code", VERSION)

const binaryIn = (dir) => path.join(dir, "node_modules", ...PACKAGE.split("/"), "claude")

/** The installed lock entry, if the directory holds our pinned version with our pinned integrity. */
const installedOk = (dir) => {
  try {
    const lock = JSON.parse(fs.readFileSync(path.join(dir, "node_modules", ".package-lock.json"), "utf8"))
    const entry = lock.packages?.[`node_modules/${PACKAGE}`]
    return entry?.version === VERSION && entry?.integrity === INTEGRITY && fs.statSync(binaryIn(dir)).isFile()
  } catch {
    return false
  }
}

const manifest = () => ({
  name: "parallel-cc-claude-code-cache",
  version: "0.0.0",
  private: true,
  description: `The Claude Code CLI ${VERSION} for parallel-cc's end-to-end tests`,
  dependencies: { [PACKAGE]: VERSION }
})

const lockfile = () => ({
  name: "parallel-cc-claude-code-cache",
  version: "0.0.0",
  lockfileVersion: 3,
  requires: true,
  packages: {
    "": { name: "parallel-cc-claude-code-cache", version: "0.0.0", dependencies: { [PACKAGE]: VERSION } },
    [`node_modules/${PACKAGE}`]: {
      version: VERSION,
      resolved: TARBALL,
      integrity: INTEGRITY,
      cpu: ["x64"],
      os: ["linux"],
      license: "SEE LICENSE IN LICENSE.md"
    }
  }
})

const npmCommand = () => {
  // Under `npm run`, use the very npm that runs us; otherwise the one on PATH.
  const execpath = process.env.npm_execpath
  if (execpath && /npm-cli\.js$/.test(execpath)) return [process.execPath, [execpath]]
  return ["npm", []]
}

/** Install (if needed) and return the binary's path. Throws with a readable message. */
export const install = (dir = defaultDir(), log = (s) => process.stderr.write(s + "\n")) => {
  if (process.platform !== "linux" || process.arch !== "x64") {
    throw new Error(
      `The end-to-end suite pins ${PACKAGE} (Linux x64 only); this machine is ${process.platform}-${process.arch}.`
    )
  }
  if (installedOk(dir)) return binaryIn(dir)
  fs.mkdirSync(path.dirname(dir), { recursive: true })
  // Install into a fresh sibling and rename it into place, so concurrent installers never see half a tree.
  const staging = fs.mkdtempSync(`${dir}.staging-`)
  try {
    fs.writeFileSync(path.join(staging, "package.json"), JSON.stringify(manifest(), null, 2) + "\n")
    fs.writeFileSync(path.join(staging, "package-lock.json"), JSON.stringify(lockfile(), null, 2) + "\n")
    log(`installing ${PACKAGE}@${VERSION} through npm into ${dir} …`)
    const [cmd, pre] = npmCommand()
    const r = spawnSync(cmd, [...pre, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"], {
      cwd: staging,
      stdio: ["ignore", "pipe", "pipe"],
      encoding: "utf8",
      env: { ...process.env, npm_config_update_notifier: "false" }
    })
    if (r.status !== 0) {
      throw new Error(`npm ci of ${PACKAGE}@${VERSION} failed (exit ${r.status ?? r.signal}):\n${r.stderr || r.stdout}`)
    }
    if (!installedOk(staging)) throw new Error(`npm installed ${PACKAGE} but not version ${VERSION} with the pinned integrity`)
    if (fs.existsSync(dir) && !installedOk(dir)) fs.rmSync(dir, { recursive: true, force: true })
    try {
      fs.renameSync(staging, dir)
    } catch (e) {
      // Another installer won the race; theirs is as good as ours.
      if (!installedOk(dir)) throw e
    }
  } finally {
    fs.rmSync(staging, { recursive: true, force: true })
  }
  const bin = binaryIn(dir)
  const home = fs.mkdtempSync(`${dir}.home-`)
  const v = spawnSync(bin, ["--version"], { encoding: "utf8", env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home } })
  fs.rmSync(home, { recursive: true, force: true })
  if (v.status !== 0 || !String(v.stdout).startsWith(VERSION)) {
    throw new Error(`${bin} --version printed ${JSON.stringify(v.stdout)} (exit ${v.status}); expected ${VERSION}`)
  }
  return bin
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2)
  const at = args.indexOf("--dir")
  const quiet = args.includes("--quiet")
  try {
    const bin = install(at >= 0 && args[at + 1] ? path.resolve(args[at + 1]) : defaultDir(), quiet ? () => {} : undefined)
    process.stdout.write(bin + "\n")
  } catch (e) {
    process.stderr.write(`install-claude-code: ${e instanceof Error ? e.message : String(e)}\n`)
    process.exit(1)
  }
}
