// `npm run bench [name…]`: run the benchmarks under bench/ (all when no name is given).
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const here = path.dirname(fileURLToPath(import.meta.url))
const all = fs.readdirSync(here).filter((d) => fs.existsSync(path.join(here, d, "run.mjs"))).sort()
const pick = process.argv.slice(2)
for (const name of pick.length ? pick : all) {
  if (!all.includes(name)) {
    console.error(`unknown benchmark ${name}; known: ${all.join(", ")}`)
    process.exit(2)
  }
  console.error(`\n== bench/${name}`)
  const r = spawnSync(process.execPath, [path.join(here, name, "run.mjs")], { stdio: "inherit" })
  if (r.status !== 0) process.exit(r.status ?? 1)
}
