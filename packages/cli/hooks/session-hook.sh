#!/bin/sh
# parallel-cc session hook: one POSIX sh script for every Claude Code hook event parallel-cc listens to; the
# event is its first argument (see `install --hooks` and docs/architecture.md, "The session directory").
#
#   start      SessionStart       records the transcript path (and appends it to the session's list)
#   prompt     UserPromptSubmit   state working (and the transcript path if it is not known yet)
#   pre        PreToolUse         (every tool but the file editors) refuses when the session is blocked;
#                                 state working; delivers pending notices
#   pre-edit   PreToolUse         (Edit|Write|MultiEdit|NotebookEdit) the same, plus: refuses a file another
#                                 live session holds EXCLUSIVE, journals the file, tells who else changed it
#   post       PostToolUse        heartbeat (PARALLEL_CC_HEARTBEAT_FILE, as heartbeat.sh), state working,
#                                 delivers pending notices
#   needs-input Notification      (permission_prompt|idle_prompt|elicitation_dialog) state needs-input
#   stop       Stop               state idle
#   end        SessionEnd         state exited
#
# It acts only inside a parallel-cc session (the marker of the worktree it runs in, else
# PARALLEL_CC_SESSION_DIR, names an existing directory; the heartbeat only needs PARALLEL_CC_HEARTBEAT_FILE;
# an edited file in another session's worktree of the same repository is that session's) and only with shell built-ins on the common path: the
# one other process it ever starts is `head -c`, to read the first bytes of an editor's payload (a Write
# payload carries the whole file). It never touches the database, never waits, and exits 0 on anything it
# does not understand, so our own fault never blocks the agent. Files are written with `>|`/`>>`; `set -C`
# makes `>` an atomic create, which marks a notice as delivered exactly once even when hooks run at once.
# Redirections sit inside `{ …; } 2>/dev/null`.
ev=${1:-}

# The session of the linked worktree holding the directory $1 (which need not exist): the worktree provider
# (`parallel-cc worktree-hook`: `claude -w`, worktree-isolated subagents) writes the marker
# `parallel-cc-session` (KEY=value lines) into the worktree's git admin directory, since Claude Code gives
# its hooks none of our environment. Sets ms (session directory), mw (worktree), mh (heartbeat file); fails
# for a path in no linked worktree (a main checkout's .git is a directory), in one without a marker, or when
# the marker names no live session directory. Built-ins only.
marker() {
  ms= mw= mh=
  w=$1
  while [ ! -e "$w/.git" ]; do
    case $w in */*) w=${w%/*} ;; *) return 1 ;; esac
  done
  [ -f "$w/.git" ] || return 1
  g=
  { IFS= read -r g < "$w/.git"; } 2>/dev/null
  case $g in 'gitdir: '?*) g=${g#gitdir: } ;; *) return 1 ;; esac
  case $g in /*) ;; *) g=$w/$g ;; esac
  [ -f "$g/parallel-cc-session" ] || return 1
  { while IFS='=' read -r k v; do
    case $k in
      PARALLEL_CC_SESSION_DIR) ms=$v ;;
      PARALLEL_CC_WORKTREE) mw=$v ;;
      PARALLEL_CC_HEARTBEAT_FILE) mh=$v ;;
    esac
  done < "$g/parallel-cc-session"; } 2>/dev/null
  case $ms in /*) [ -d "$ms" ] ;; *) return 1 ;; esac
}

# The calling agent's session: the marker of the worktree it works in ($PWD) first — a worktree-isolated
# subagent's hooks run in its own worktree but inherit the lead's environment (a claude-parallel session's
# PARALLEL_CC_* variables) —, else our environment.
if marker "${PWD:-}"; then
  d=$ms
  PARALLEL_CC_WORKTREE=$mw
  PARALLEL_CC_HEARTBEAT_FILE=$mh
else
  d=${PARALLEL_CC_SESSION_DIR:-}
fi
# The heartbeat (as heartbeat.sh does): also for sessions registered before session directories existed.
if [ "$ev" = post ] && [ -n "${PARALLEL_CC_HEARTBEAT_FILE:-}" ] && [ -f "$PARALLEL_CC_HEARTBEAT_FILE" ]; then
  { echo >| "$PARALLEL_CC_HEARTBEAT_FILE"; } 2>/dev/null
fi
[ -n "$d" ] && [ -d "$d" ] || exit 0
set -C
ctx=

# Set the agent state; the file is rewritten only when the state changes (its mtime is when it began).
state() {
  cur=
  { IFS= read -r cur < "$d/state"; } 2>/dev/null
  [ "$cur" = "$1" ] || { printf '%s\n' "$1" >| "$d/state"; } 2>/dev/null
}

# Decode the JSON string that starts right after its opening quote in $1 into $v. Fails when the string
# does not end within $1 or uses an escape other than \" \\ \/ (then we know nothing and do nothing).
jstr() {
  s=$1
  v=
  while :; do
    c=${s%%[\"\\]*}
    [ "$c" != "$s" ] || return 1
    v=$v$c
    s=${s#"$c"}
    case $s in
      \"*) return 0 ;;
      \\\"*) v=$v\" ;;
      \\\\*) v=$v\\ ;;
      \\/*) v=$v/ ;;
      *) return 1 ;;
    esac
    s=${s#??}
  done
}

# Append one delivered-once text to $ctx, unless the key was delivered before (atomic create of its marker).
once() {
  case $1 in '' | */* | .*) return 0 ;; esac
  [ -n "$2" ] || return 0
  { printf '' > "$d/sent/$1"; } 2>/dev/null || return 0
  ctx=${ctx:+$ctx\\n\\n}$2
}

# Pending notices: notices/<key> holds one line of JSON-escaped text.
notices() {
  for f in "$d"/notices/*; do
    [ -f "$f" ] || continue
    t=
    { IFS= read -r t < "$f"; } 2>/dev/null
    once "${f##*/}" "$t"
  done
}

emit() {
  [ -z "$ctx" ] || printf '{"hookSpecificOutput":{"hookEventName":"%s","additionalContext":"%s"}}\n' "$1" "$ctx"
}

# A blocked session (block holds one line of JSON-escaped reason) may not use any tool.
blocked() {
  [ -s "$d/block" ] || return 1
  why=
  { IFS= read -r why < "$d/block"; } 2>/dev/null
  printf '{"hookSpecificOutput":{"hookEventName":"PreToolUse","permissionDecision":"deny","permissionDecisionReason":"%s"}}\n' \
    "${why:-this session is blocked by parallel-cc}"
}

transcript() {
  case $1 in *'"transcript_path":"'*) ;; *) return 0 ;; esac
  jstr "${1#*\"transcript_path\":\"}" || return 0
  case $v in /*) ;; *) return 0 ;; esac
  cur=
  { IFS= read -r cur < "$d/transcript"; } 2>/dev/null
  [ "$cur" = "$v" ] || { printf '%s\n' "$v" >| "$d/transcript"; printf '%s\n' "$v" >> "$d/transcripts"; } 2>/dev/null
}

nl='
'

case $ev in
  pre)
    blocked && exit 0
    state working
    notices
    emit PreToolUse
    ;;
  post)
    state working
    notices
    emit PostToolUse
    ;;
  pre-edit)
    blocked && exit 0
    p=$(head -c 8192 2>/dev/null) || exit 0
    case $p in *'"tool_input":{'*) p=${p#*\"tool_input\":\{} ;; *) exit 0 ;; esac
    case $p in
      *'"file_path":"'*) jstr "${p#*\"file_path\":\"}" || exit 0 ;;
      *'"notebook_path":"'*) jstr "${p#*\"notebook_path\":\"}" || exit 0 ;;
      *) exit 0 ;;
    esac
    fp=$v
    # A file in another linked worktree of the same repository that has a session is that session's edit (a
    # worktree-isolated subagent's, or the lead's writing into it): its claims, journal and news apply.
    case $fp in
      /*/*)
        if marker "${fp%/*}" && [ "$ms" != "$d" ]; then
          r1=
          r2=
          { IFS= read -r r1 < "$d/repo"; } 2>/dev/null
          { IFS= read -r r2 < "$ms/repo"; } 2>/dev/null
          if [ -n "$r1" ] && [ "$r1" = "$r2" ]; then
            d=$ms
            PARALLEL_CC_WORKTREE=$mw
          fi
        fi
        ;;
    esac
    root=${PARALLEL_CC_WORKTREE:-}
    [ -n "$root" ] || { IFS= read -r root < "$d/worktree"; } 2>/dev/null
    [ -n "$root" ] || exit 0
    case $fp in
      "$root"/*) rel=${fp#"$root"/} ;;
      *)
        repo=
        { IFS= read -r repo < "$d/repo"; } 2>/dev/null
        case $fp in "${repo:-/nonexistent}"/*) rel=${fp#"$repo"/} ;; *) exit 0 ;; esac
        ;;
    esac
    case /$rel/ in */../* | */./* | *//*) exit 0 ;; esac
    case $rel in '' | .git | .git/* | *"$nl"*) exit 0 ;; esac
    state working
    # A claim file's mtime is the claim's expiry; clock is touched now to compare with it.
    { echo >| "$d/clock"; } 2>/dev/null
    for g in "$d"/peers/*/claims/"$rel"; do
      [ -f "$g" ] && [ "$g" -nt "$d/clock" ] || continue
      why=
      { IFS= read -r why < "$g"; } 2>/dev/null
      printf '{"hookSpecificOutput":{"hookEventName":"PreToolUse","permissionDecision":"deny","permissionDecisionReason":"%s"}}\n' \
        "${why:-another parallel-cc session holds this file EXCLUSIVE}"
      exit 0
    done
    { printf '%s\n' "$rel" >> "$d/edits"; } 2>/dev/null
    # Who else has changed this file: changes/<rel> holds the key of that news, then its text.
    for c in "$d"/peers/*/changes/"$rel"; do
      [ -f "$c" ] || continue
      k=
      t=
      { IFS= read -r k && IFS= read -r t; } 2>/dev/null < "$c"
      once "$k" "$t"
    done
    notices
    emit PreToolUse
    ;;
  prompt)
    state working
    if [ ! -s "$d/transcript" ]; then
      p=$(head -c 4096 2>/dev/null) && transcript "$p"
    fi
    ;;
  start)
    p=
    IFS= read -r p 2>/dev/null
    transcript "$p"
    ;;
  needs-input)
    p=
    IFS= read -r p 2>/dev/null
    case $p in
      *'"notification_type":"'*)
        case $p in *'"notification_type":"permission_prompt"'* | *'"notification_type":"idle_prompt"'* | \
          *'"notification_type":"elicitation_dialog"'*) state needs-input ;; esac
        ;;
      *) state needs-input ;;
    esac
    ;;
  stop) state idle ;;
  end) state exited ;;
esac
exit 0
