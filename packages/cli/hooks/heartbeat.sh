#!/bin/sh
# parallel-cc heartbeat: a Claude Code command hook (PostToolUse with an empty matcher, i.e. every tool call;
# SessionStart works too). Inside a session started by claude-parallel, PARALLEL_CC_HEARTBEAT_FILE names the
# session's heartbeat file, and rewriting it is the heartbeat: parallel-cc reads the file's mtime as the
# session's last heartbeat. Anywhere else it does nothing. It never reads stdin, never prints, starts no
# other process, and always exits 0 (the redirection is in braces so that a failure cannot end the shell).
if [ -n "${PARALLEL_CC_HEARTBEAT_FILE:-}" ] && [ -f "$PARALLEL_CC_HEARTBEAT_FILE" ]; then
  { echo > "$PARALLEL_CC_HEARTBEAT_FILE"; } 2>/dev/null
fi
exit 0
