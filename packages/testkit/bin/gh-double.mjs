#!/usr/bin/env node
// A double of the GitHub CLI (`gh`) for tests: it stands in at the network edge (the GitHub API). It
// understands `gh pr create --base B --head H --title T --body-file -` as gh does (the body on stdin), records
// each call as a JSON line in $GH_DOUBLE_LOG (argv, stdin, cwd, whether a token was in the environment —
// never the token), and prints the new pull request's URL. GH_DOUBLE_FAIL=1 makes it fail like an API error.
import * as fs from "node:fs"

const argv = process.argv.slice(2)
let stdin = ""
const bodyFromStdin = argv.includes("--body-file") && argv[argv.indexOf("--body-file") + 1] === "-"
if (bodyFromStdin) {
  try {
    stdin = fs.readFileSync(0, "utf8")
  } catch {
    stdin = ""
  }
}
if (process.env.GH_DOUBLE_LOG) {
  fs.appendFileSync(
    process.env.GH_DOUBLE_LOG,
    JSON.stringify({ argv, stdin, cwd: process.cwd(), token: Boolean(process.env.GITHUB_TOKEN || process.env.GH_TOKEN) }) + "\n"
  )
}
if (argv[0] !== "pr" || argv[1] !== "create") {
  process.stderr.write(`gh-double: unsupported command: ${argv.join(" ")}\n`)
  process.exit(1)
}
const value = (flag) => (argv.includes(flag) ? argv[argv.indexOf(flag) + 1] : undefined)
if (value("--base") === undefined || value("--head") === undefined || value("--title") === undefined || !bodyFromStdin) {
  process.stderr.write("gh-double: pr create needs --base, --head, --title and --body-file -\n")
  process.exit(1)
}
if (process.env.GH_DOUBLE_FAIL === "1") {
  process.stderr.write("GraphQL: Head sha can't be blank, Base sha can't be blank (createPullRequest)\n")
  process.exit(1)
}
process.stdout.write("https://github.com/example/shop/pull/7\n")
