#!/bin/sh
# Undo scripts/install.sh: remove what parallel-cc set up for Claude Code (`parallel-cc install --uninstall`:
# the heartbeat hook, the claude alias, the MCP registration, and parallel-cc's own install state), then the
# command links and the directories install.sh created (recorded in <clone>/.install-state). POSIX sh.
#
#   scripts/uninstall.sh [--keep-setup]
#
#   --keep-setup  only remove the command links; leave the Claude Code setup in place
#
# Your session database (~/.parallel-cc/coordinator.db, if any) is kept; delete it yourself if you want.
set -eu

say() { printf '%s\n' "$*"; }
die() {
  printf 'uninstall.sh: error: %s\n' "$*" >&2
  exit 1
}

keep_setup=0
while [ $# -gt 0 ]; do
  case $1 in
    --keep-setup) keep_setup=1 ;;
    -h | --help)
      sed -n '2,10s/^# \{0,1\}//p' "$0"
      exit 0
      ;;
    *) die "unknown option: $1 (see --help)" ;;
  esac
  shift
done

root=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd -P)
state=$root/.install-state
cli=$root/packages/cli/dist/bin.cjs

if [ "$keep_setup" -eq 0 ]; then
  if [ -f "$cli" ] && command -v node > /dev/null 2>&1; then
    # Stops here (links kept) when it cannot finish, e.g. on a settings file it cannot parse.
    node "$cli" install --uninstall || die "parallel-cc install --uninstall failed; fix what it says and run this again"
  else
    say "parallel-cc is not built ($cli missing): skipping the Claude Code setup removal."
  fi
fi

if [ ! -f "$state" ]; then
  say "Nothing linked by scripts/install.sh in this clone."
  exit 0
fi

# Links: only those that still point into this clone.
grep '^link ' "$state" | while IFS= read -r line; do
  dest=${line#link }
  if [ -L "$dest" ]; then
    case $(readlink -- "$dest") in
      "$root"/*)
        rm -f -- "$dest"
        say "Removed $dest"
        ;;
      *) say "Kept $dest (it now points elsewhere)" ;;
    esac
  fi
done
# Directories install.sh created, innermost first, and only when empty.
grep '^dir ' "$state" | sort -r | while IFS= read -r line; do
  dir=${line#dir }
  if [ -d "$dir" ] && rmdir -- "$dir" 2> /dev/null; then say "Removed $dir"; fi
done
rm -f -- "$state"
say "Uninstalled."
