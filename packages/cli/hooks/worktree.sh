#!/bin/sh
# parallel-cc as Claude Code's worktree provider: the WorktreeCreate and WorktreeRemove command hook.
# Claude Code passes the request as JSON on stdin; `parallel-cc worktree-hook` creates a parallel-cc session
# and its worktree and prints ONLY the worktree's absolute path on stdout (progress and errors on stderr), or
# releases the worktree's session under the never-lose-work rule. A non-zero exit makes Claude Code report
# the failure. The CLI is the one shipped next to this script (../dist/bin.cjs), run by `node` from PATH.
here=${0%/*}
if ! command -v node >/dev/null 2>&1; then
  echo "parallel-cc: node is not on PATH, so the worktree hook cannot run; install Node.js >= 20 or fix PATH" >&2
  exit 1
fi
exec node "$here/../dist/bin.cjs" worktree-hook
