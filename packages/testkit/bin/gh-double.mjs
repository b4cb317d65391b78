#!/usr/bin/env node
// A double of the GitHub CLI (`gh`) for tests: it stands in at the network edge (the GitHub API), with no
// network and no account. `GhDouble.install(dir)` links it as `dir/gh`; put `dir` first on PATH.
//
// It honours the parts of the real CLI parallel-cc uses, with gh's arguments, output and exit codes:
//   gh --version
//   gh auth status                      exit 1 when not logged in
//   gh pr create [-B|--base B] [-H|--head H] [-t|--title T] [-b|--body B | -F|--body-file FILE|-]
//                [-d|--draft] [-f|--fill] [-R|--repo OWNER/REPO] [-l|--label L]… [-r|--reviewer R]…
//                [-a|--assignee A]… [-m|--milestone M] [--dry-run]
//     - Not interactive (like gh without a terminal): without --title and --body (or --fill) it fails.
//     - Authentication only from GH_TOKEN or GITHUB_TOKEN: without one, gh's text and exit code 4.
//     - The repository is the `origin` remote of the current directory (else the first remote). When that
//       remote is a local path (a bare repository in tests), the head and base branches must exist there
//       and differ, as GitHub requires, and a second pull request for the same head and base is refused.
//     - Success prints the new pull request's URL on stdout, as gh does when stdout is not a terminal:
//       https://github.com/<owner>/<repo>/pull/<n> (owner "example" and the remote's name for a local remote).
//   GH_DOUBLE_FAIL=1 makes `pr create` fail like a GitHub API error.
//
// Every call is appended as one JSON line to $GH_DOUBLE_LOG when it is set: argv, stdin (the body with
// `--body-file -`), cwd, exit code, and whether a token was in the environment — never the token itself.
// Pull requests are remembered in $GH_DOUBLE_LOG.prs.json.
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"

const argv = process.argv.slice(2)
const logFile = process.env.GH_DOUBLE_LOG
const token = ["GH_TOKEN", "GITHUB_TOKEN"].some((n) => (process.env[n] ?? "") !== "")
let stdin = ""
const exit = (code, { out = "", err = "" } = {}) => {
  if (logFile) fs.appendFileSync(logFile, JSON.stringify({ argv, stdin, cwd: process.cwd(), token, exitCode: code }) + "\n")
  if (out) process.stdout.write(out)
  if (err) process.stderr.write(err)
  process.exit(code)
}
const git = (args) => spawnSync("git", args, { cwd: process.cwd(), encoding: "utf8" })

if (argv[0] === "--version" || argv[0] === "version") {
  exit(0, { out: "gh version 2.63.0 (2024-11-27)\nhttps://github.com/cli/cli/releases/tag/v2.63.0\n" })
}
if (argv[0] === "auth" && argv[1] === "status") {
  if (!token) exit(1, { err: "You are not logged into any GitHub hosts. To log in, run: gh auth login\n" })
  exit(0, { out: "github.com\n  ✓ Logged in to github.com account example (GH_TOKEN)\n" })
}
if (argv[0] !== "pr" || argv[1] !== "create") {
  exit(1, { err: `unknown command "${argv.slice(0, 2).join(" ")}" for "gh" (this double knows pr create, auth status and --version)\n` })
}

const withValue = {
  "-B": "base", "--base": "base", "-H": "head", "--head": "head", "-t": "title", "--title": "title",
  "-b": "body", "--body": "body", "-F": "bodyFile", "--body-file": "bodyFile", "-R": "repo", "--repo": "repo",
  "-m": "milestone", "--milestone": "milestone", "-T": "template", "--template": "template"
}
const repeated = { "-l": "label", "--label": "label", "-r": "reviewer", "--reviewer": "reviewer", "-a": "assignee", "--assignee": "assignee" }
const flags = { "-d": "draft", "--draft": "draft", "-f": "fill", "--fill": "fill", "--dry-run": "dryRun", "--no-maintainer-edit": "noMaintainerEdit" }
const opts = { label: [], reviewer: [], assignee: [] }
const args = argv.slice(2)
for (let i = 0; i < args.length; i++) {
  let a = args[i]
  let inline
  if (a.startsWith("--") && a.includes("=")) {
    inline = a.slice(a.indexOf("=") + 1)
    a = a.slice(0, a.indexOf("="))
  }
  if (withValue[a] || repeated[a]) {
    const v = inline ?? args[++i]
    if (v === undefined) exit(1, { err: `flag needs an argument: ${a}\n\nUsage:  gh pr create [flags]\n` })
    if (withValue[a]) opts[withValue[a]] = v
    else opts[repeated[a]].push(v)
  } else if (flags[a]) opts[flags[a]] = true
  else exit(1, { err: `unknown flag: ${a}\n\nUsage:  gh pr create [flags]\n` })
}
if (opts.body !== undefined && opts.bodyFile !== undefined) exit(1, { err: "specify only one of `--body` or `--body-file`\n" })
let body = opts.body
if (opts.bodyFile !== undefined) {
  try {
    body = opts.bodyFile === "-" ? (stdin = fs.readFileSync(0, "utf8")) : fs.readFileSync(opts.bodyFile, "utf8")
  } catch (e) {
    exit(1, { err: `failed to read file ${opts.bodyFile}: ${e.message}\n` })
  }
}
if (!token) {
  exit(4, { err: "To get started with GitHub CLI, please run:  gh auth login\nAlternatively, populate the GH_TOKEN environment variable with a GitHub API authentication token.\n" })
}
if (!opts.fill && (opts.title === undefined || body === undefined)) {
  exit(1, { err: "must provide `--title` and `--body` (or `--fill` or `fill-first` or `--fillverbose`) when not running interactively\n" })
}
if (git(["rev-parse", "--git-dir"]).status !== 0) exit(1, { err: "fatal: not a git repository (or any of the parent directories): .git\n" })
const remotes = (git(["remote"]).stdout ?? "").split("\n").filter((r) => r !== "")
const remote = remotes.includes("origin") ? "origin" : remotes[0]
if (opts.repo === undefined && remote === undefined) {
  exit(1, { err: "none of the git remotes configured for this repository point to a known GitHub host. To tell gh about a new GitHub host, please use `gh auth login`\n" })
}
const url = remote !== undefined ? git(["remote", "get-url", remote]).stdout.trim() : ""
const local = url.startsWith("/") || url.startsWith("file://") ? url.replace(/^file:\/\//, "") : undefined
const slug = opts.repo ?? (local !== undefined
  ? `example/${path.basename(local).replace(/\.git$/, "")}`
  : (/github\.com[:/]([^/]+\/[^/]+?)(?:\.git)?$/.exec(url)?.[1] ?? "example/unknown"))
const head = opts.head ?? git(["symbolic-ref", "--quiet", "--short", "HEAD"]).stdout.trim()
const base = opts.base ?? "main"
if (head === "") exit(1, { err: "could not determine the current branch: not on any branch\n" })
if (process.env.GH_DOUBLE_FAIL === "1") exit(1, { err: "GraphQL: Head sha can't be blank, Base sha can't be blank (createPullRequest)\n" })
if (local !== undefined) {
  const has = (b) => git(["--git-dir", local, "rev-parse", "--verify", "--quiet", `refs/heads/${b}`]).status === 0
  if (!has(head)) {
    exit(1, { err: opts.head === undefined
      ? "aborted: you must first push the current branch to a remote, or use the --head flag\n"
      : `pull request create failed: GraphQL: Head sha can't be blank, Base sha can't be blank, No commits between ${base} and ${head}, Head ref must be a branch (createPullRequest)\n` })
  }
  if (!has(base)) exit(1, { err: "pull request create failed: GraphQL: Base ref must be a branch (createPullRequest)\n" })
  const ahead = git(["--git-dir", local, "rev-list", "--count", `refs/heads/${base}..refs/heads/${head}`]).stdout.trim()
  if (ahead === "0") exit(1, { err: `pull request create failed: GraphQL: No commits between ${base} and ${head} (createPullRequest)\n` })
}
const prsFile = logFile ? `${logFile}.prs.json` : undefined
let prs = []
try {
  if (prsFile) prs = JSON.parse(fs.readFileSync(prsFile, "utf8"))
} catch {
  prs = []
}
const existing = prs.find((p) => p.repo === slug && p.head === head && p.base === base)
if (existing) {
  exit(1, { err: `a pull request for branch "${head}" into branch "${base}" already exists:\nhttps://github.com/${slug}/pull/${existing.number}\n` })
}
if (opts.dryRun) exit(0, { out: `Would have created a Pull Request with:\nTitle: ${opts.title}\nDraft: ${opts.draft === true}\nBase: ${base}\nHead: ${head}\n` })
const number = prs.filter((p) => p.repo === slug).length + 1
prs.push({ repo: slug, number, head, base, title: opts.title ?? head, draft: opts.draft === true })
if (prsFile) fs.writeFileSync(prsFile, JSON.stringify(prs, null, 2))
exit(0, { out: `https://github.com/${slug}/pull/${number}\n` })
