#!/bin/sh
# Install parallel-cc from this clone for the current user, without sudo: build it, link its commands
# (parallel-cc, claude-parallel) into a bin directory, then set up Claude Code (heartbeat hook, claude
# alias, MCP server) with `parallel-cc install`. POSIX sh; needs node >= 20.11, npm and git, nothing else.
#
#   scripts/install.sh [--all] [--prefix DIR] [--no-build]
#
#   --all         set up everything without asking (`parallel-cc install --all`); for scripts and CI
#   --prefix DIR  where to link the commands (default: $PARALLEL_CC_INSTALL_DIR, else ~/.local/bin)
#   --no-build    use the existing build (packages/cli/dist) instead of building
#
# Without --all, it asks what to set up when run in a terminal, and otherwise only links the commands.
# What it linked and created is recorded in <clone>/.install-state, so scripts/uninstall.sh removes exactly that.
set -eu

say() { printf '%s\n' "$*"; }
die() {
  printf 'install.sh: error: %s\n' "$*" >&2
  exit 1
}
usage() { sed -n '2,13s/^# \{0,1\}//p' "$0"; }

all=0
build=1
prefix=${PARALLEL_CC_INSTALL_DIR:-}
while [ $# -gt 0 ]; do
  case $1 in
    --all) all=1 ;;
    --no-build) build=0 ;;
    --prefix)
      [ $# -gt 1 ] || die "--prefix needs a directory"
      shift
      prefix=$1
      ;;
    --prefix=*) prefix=${1#--prefix=} ;;
    -h | --help)
      usage
      exit 0
      ;;
    *) die "unknown option: $1 (see --help)" ;;
  esac
  shift
done

[ -n "${HOME:-}" ] || die "HOME is not set"
[ -n "$prefix" ] || prefix=$HOME/.local/bin
case $prefix in
  /*) ;;
  *) prefix=$(pwd -P)/$prefix ;;
esac

root=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd -P)
[ -f "$root/packages/cli/package.json" ] || die "$root is not a parallel-cc clone"

# --- requirements ---------------------------------------------------------------------------------------
command -v node > /dev/null 2>&1 || die "Node.js >= 20.11 is required (https://nodejs.org)"
node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 11) ? 0 : 1)' ||
  die "Node.js >= 20.11 is required; found $(node --version)"
command -v npm > /dev/null 2>&1 || die "npm is required (it comes with Node.js)"
command -v git > /dev/null 2>&1 || die "git >= 2.38 is required"

# --- build ----------------------------------------------------------------------------------------------
cd "$root"
dist=$root/packages/cli/dist
if [ "$build" -eq 1 ]; then
  if [ ! -d node_modules ]; then
    say "Installing dependencies (npm ci)..."
    npm ci --no-audit --no-fund
  fi
  say "Building..."
  node scripts/build.mjs
fi
[ -f "$dist/bin.cjs" ] || die "no build at $dist (run without --no-build)"
chmod 755 "$dist/bin.cjs" "$root/packages/cli/hooks/heartbeat.sh"
[ ! -f "$dist/wrapper.cjs" ] || chmod 755 "$dist/wrapper.cjs"

# --- link -----------------------------------------------------------------------------------------------
state=$root/.install-state
tmp_state=$state.tmp.$$
trap 'rm -f "$tmp_state"' EXIT
{ [ ! -f "$state" ] || cat "$state"; } > "$tmp_state"

# Record the directories this creates (outermost first), so uninstall removes them again when empty.
d=$prefix
missing=
while [ ! -d "$d" ]; do
  missing="$d
$missing"
  d=$(dirname -- "$d")
done
mkdir -p -- "$prefix"
printf '%s\n' "$missing" | while IFS= read -r m; do
  [ -z "$m" ] || printf 'dir %s\n' "$m" >> "$tmp_state"
done

link() { # link NAME TARGET
  dest=$prefix/$1
  if [ -L "$dest" ]; then
    current=$(readlink -- "$dest")
    case $current in
      "$root"/*) ;;
      *) say "Replacing $dest (it pointed to $current)" ;;
    esac
  elif [ -e "$dest" ]; then
    die "$dest exists and is not a link made by this script; move it away or use --prefix"
  fi
  ln -sf -- "$2" "$dest"
  printf 'link %s\n' "$dest" >> "$tmp_state"
  say "Linked $dest -> $2"
}
link parallel-cc "$dist/bin.cjs"
if [ -f "$dist/wrapper.cjs" ]; then
  link claude-parallel "$dist/wrapper.cjs"
fi
sort -u "$tmp_state" > "$state"

# --- set up Claude Code ---------------------------------------------------------------------------------
# The commands are found on PATH from now on (the alias points at the linked claude-parallel).
user_path=${PATH:-}
PATH=$prefix:$PATH
export PATH
if [ "$all" -eq 1 ]; then
  "$prefix/parallel-cc" install --all
elif [ -t 0 ] && [ -t 1 ]; then
  "$prefix/parallel-cc" install --interactive
else
  say "Not a terminal: skipping the Claude Code setup. Run \`parallel-cc install --all\` (or --interactive) to do it."
fi

say ""
"$prefix/parallel-cc" doctor || true

case :$user_path: in
  *:"$prefix":*) ;;
  *)
    say ""
    say "Note: $prefix is not on your PATH. Add it, e.g. in ~/.bashrc or ~/.zshrc:"
    say "  export PATH=\"$prefix:\$PATH\""
    ;;
esac
say ""
say "Installed. Undo everything with: $root/scripts/uninstall.sh"
