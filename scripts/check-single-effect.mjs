// Fail when more than one copy of `effect` (or of any @effect/* package) is installed: two copies mean two
// runtimes whose Tags, Schemas and errors do not recognise each other.
import { execFileSync } from "node:child_process"

const out = execFileSync("npm", ["ls", "--all", "--json", "effect", "@effect/platform", "@effect/sql", "@effect/cli"], {
  encoding: "utf8",
  stdio: ["ignore", "pipe", "ignore"]
})
const versions = new Map()
const walk = (deps) => {
  for (const [name, info] of Object.entries(deps ?? {})) {
    if (name === "effect" || name.startsWith("@effect/")) {
      if (!versions.has(name)) versions.set(name, new Set())
      if (info.version) versions.get(name).add(info.version)
    }
    walk(info.dependencies)
  }
}
walk(JSON.parse(out).dependencies)
let bad = false
for (const [name, set] of versions) {
  if (set.size > 1) {
    console.error(`more than one version of ${name}: ${[...set].join(", ")}`)
    bad = true
  }
}
if (bad) process.exit(1)
console.log(`one version each: ${[...versions].map(([n, s]) => `${n}@${[...s][0]}`).join(", ")}`)
