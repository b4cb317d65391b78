/**
 * Telling the person: a terminal notification (OSC 9 or OSC 777, written by `claude-parallel` to its own
 * terminal; wrapped for tmux's passthrough inside tmux) and a desktop notification where a command for it
 * exists (`notify-send` on Linux, `osascript` on macOS). A missing command is skipped silently; `doctor`
 * lists them as optional. Switched by the `notify.*` keys.
 *
 * @since 0.2.0
 */
import { CommandExecutor } from "@effect/platform"
import { Context, Duration, Effect, Layer, Option } from "effect"
import { AppConfig } from "../platform/AppConfig.js"
import { exec } from "../platform/exec.js"
import { Host } from "../platform/Host.js"

/** What a person can be notified of. */
export type NotifyEvent = "needs-input" | "idle" | "budget"

export type TerminalKind = "osc9" | "osc777"

// eslint-disable-next-line no-control-regex
const controls = /[\u0000-\u001f\u007f-\u009f]/g

/** Text made safe inside an escape sequence: no control characters (which could end it), at most 200 characters. */
export const clean = (text: string): string => text.replace(controls, " ").slice(0, 200)

/** Which terminal notification to write for `setting` in a terminal described by `env`; undefined: none. */
export const terminalKind = (
  setting: "auto" | "osc9" | "osc777" | "off",
  env: Readonly<Record<string, string | undefined>>
): TerminalKind | undefined => {
  if (setting === "off") return undefined
  if (setting !== "auto") return setting
  const term = env.TERM ?? ""
  if (env.VTE_VERSION !== undefined || term.startsWith("foot") || term.startsWith("rxvt")) return "osc777"
  return "osc9"
}

/** The escape sequence of a terminal notification (wrapped for tmux's passthrough when `tmux`). */
export const terminalSequence = (kind: TerminalKind, title: string, body: string, tmux = false): string => {
  const seq = kind === "osc9"
    ? `\x1b]9;${clean(`${title}: ${body}`)}\x07`
    : `\x1b]777;notify;${clean(title).replace(/;/g, ",")};${clean(body)}\x07`
  return tmux ? `\x1bPtmux;${seq.replace(/\x1b/g, "\x1b\x1b")}\x1b\\` : seq
}

/** An AppleScript string literal. */
const appleString = (s: string) => `"${clean(s).replace(/[\\"]/g, (c) => `\\${c}`)}"`

/** The command that shows a desktop notification on this platform (argument array, no shell). */
export const desktopCommand = (platform: string, title: string, body: string): ReadonlyArray<string> | undefined => {
  if (platform === "darwin") return ["osascript", "-e", `display notification ${appleString(body)} with title ${appleString(title)}`]
  if (platform === "linux" || platform.endsWith("bsd")) return ["notify-send", "--app-name=parallel-cc", "--", clean(title), clean(body)]
  return undefined
}

export class Notifier extends Context.Tag("@parallel-cc/core/Notifier")<Notifier, {
  /** Whether the person wants to hear of `event` (`notify.enabled` and `notify.events`). */
  readonly wants: (event: NotifyEvent) => boolean
  /**
   * Notify: the terminal sequence through `terminal` (when given and enabled) and a desktop notification
   * (when enabled and available). Never fails.
   */
  readonly notify: (
    note: { readonly title: string; readonly body: string },
    terminal?: ((sequence: string) => void) | undefined
  ) => Effect.Effect<void>
}>() {}

export const make = Effect.gen(function*() {
  const config = yield* AppConfig
  const host = yield* Effect.serviceOption(Host)
  const v = config.values
  const env: Readonly<Record<string, string | undefined>> = Option.match(host, { onNone: () => ({}), onSome: (h) => h.env })
  const executor = yield* CommandExecutor.CommandExecutor
  const kind = terminalKind(v["notify.terminal"], env)
  const wants = (event: NotifyEvent) => v["notify.enabled"] && v["notify.events"].includes(event)

  const desktop = (title: string, body: string) =>
    Effect.gen(function*() {
      const argv = desktopCommand(process.platform, title, body)
      if (argv === undefined) return
      yield* exec([argv[0]!, ...argv.slice(1)]).pipe(
        Effect.provideService(CommandExecutor.CommandExecutor, executor),
        Effect.timeout(Duration.seconds(5)),
        Effect.ignore
      )
    })

  const notify = (note: { readonly title: string; readonly body: string }, terminal?: (sequence: string) => void) =>
    Effect.gen(function*() {
      if (!v["notify.enabled"]) return
      if (terminal !== undefined && kind !== undefined) {
        yield* Effect.sync(() => terminal(terminalSequence(kind, note.title, note.body, env.TMUX !== undefined))).pipe(Effect.ignore)
      }
      if (v["notify.desktop"]) yield* desktop(note.title, note.body)
    }).pipe(Effect.catchAllCause(() => Effect.void))

  return Notifier.of({ wants, notify })
})

export const layer = Layer.effect(Notifier, make)
