/**
 * The Claude Code hook entries of the session hook (`packages/cli/hooks/session-hook.sh`), as data: which
 * event, which matcher, which argument. `install --hooks` writes one matcher group per entry; `--status` and
 * `doctor` compare the settings with this list. The script's header says what each argument does.
 *
 * @since 0.2.0
 */
import { hookCommand } from "./install/hookSettings.js"

/** The script's file name in the hooks directory (`packages/cli/hooks/`). */
export const SESSION_HOOK_SCRIPT = "session-hook.sh"

/** The tools that write files: their PreToolUse payload names the file (`file_path` / `notebook_path`). */
export const EDIT_TOOLS = ["Edit", "Write", "MultiEdit", "NotebookEdit"] as const

/** Matches exactly the file-writing tools. */
export const EDIT_MATCHER = `^(${EDIT_TOOLS.join("|")})$`
/** Matches every tool but the file-writing ones (Claude Code matchers are JavaScript regular expressions). */
export const NOT_EDIT_MATCHER = `^(?!(${EDIT_TOOLS.join("|")})$)`

/** The Notification types that mean the agent waits for the person. */
export const NEEDS_INPUT_MATCHER = "permission_prompt|idle_prompt|elicitation_dialog"

export type SessionHookArg = "start" | "prompt" | "pre" | "pre-edit" | "post" | "needs-input" | "stop" | "end"

export interface SessionHookEntry {
  readonly event: "SessionStart" | "UserPromptSubmit" | "PreToolUse" | "PostToolUse" | "Notification" | "Stop" | "SessionEnd"
  /** Absent: the group has no matcher (every occurrence of the event). */
  readonly matcher?: string
  readonly arg: SessionHookArg
}

/** Every entry `install --hooks` writes, in order (see `install/hooks.ts`, `hookPlan`). */
export const SESSION_HOOKS: ReadonlyArray<SessionHookEntry> = [
  { event: "SessionStart", arg: "start" },
  { event: "UserPromptSubmit", arg: "prompt" },
  { event: "PreToolUse", matcher: NOT_EDIT_MATCHER, arg: "pre" },
  { event: "PreToolUse", matcher: EDIT_MATCHER, arg: "pre-edit" },
  { event: "PostToolUse", matcher: "", arg: "post" },
  { event: "Notification", matcher: NEEDS_INPUT_MATCHER, arg: "needs-input" },
  { event: "Stop", arg: "stop" },
  { event: "SessionEnd", arg: "end" }
]

/**
 * The command Claude Code runs (as `/bin/sh -c <command>`) for one entry: the script is sourced into that
 * shell rather than started, which saves a process start on every tool call; a missing script is skipped
 * (exit 0), so an uninstalled package never blocks a tool call — a failed `.` would exit 2, which Claude
 * Code takes as a refusal.
 */
export const sessionHookCommand = (script: string, arg: SessionHookArg): string => hookCommand(script, [arg], true)

/** The hook timeout written into the settings, in seconds. */
export const SESSION_HOOK_TIMEOUT = 10
