/**
 * The hooks part of a Claude Code settings file, edited as data: adding, updating, removing and checking the
 * command hooks parallel-cc installs, for any hook event, without touching anything of the user's. Pure
 * functions over the parsed JSON (the plans in `hooks.ts` read and write the files).
 *
 * Settings shape: `hooks.<Event>` is an array of matcher groups `{ matcher?, hooks: [{ type: "command",
 * command, timeout }] }`. A hook is identified by its event and command; an entry of an earlier installation
 * (the package moved, or was updated) is recognised by its script's file name and arguments, among the
 * commands the install record lists for that file.
 *
 * @since 0.2.0
 */
import { Either } from "effect"
import { InstallError } from "../../Errors.js"
import { shQuote } from "../../platform/files.js"
import { dedupe, isRecord } from "./model.js"

/** A hook as written into a settings file. */
export interface HookEntry {
  /** What it is for, in reports ("heartbeat"). */
  readonly name: string
  /** The Claude Code hook event (`PostToolUse`, `PreToolUse`, `Stop`, …). */
  readonly event: string
  /** The group's matcher; absent for events without one (the key is then not written). */
  readonly matcher?: string | undefined
  /** The command string (a shell line: Claude Code runs it with a shell). */
  readonly command: string
  /** Seconds. */
  readonly timeout: number
}

/**
 * The command string for a script and its arguments (each a shell word). `sourced`: the script is read into
 * the shell Claude Code starts (`/bin/sh -c <command>`) instead of being started as one more process, with
 * the arguments set by `set --`; a missing script is skipped (exit 0), because a failed `.` exits 2, which
 * Claude Code takes as a refusal of the tool call.
 */
export const hookCommand = (script: string, args: ReadonlyArray<string> = [], sourced = false): string => {
  if (!sourced) return [script, ...args].map(shQuote).join(" ")
  const q = shQuote(script)
  return `[ ! -r ${q} ] || { set -- ${args.map(shQuote).join(" ")}; . ${q}; }`
}

const SOURCED = /^\[ ! -r ('(?:[^']|'\\'')*'|[^ ']+) \] \|\| \{ set -- ([^;]*); \. ('(?:[^']|'\\'')*'|[^ ']+); \}$/

/** The matcher group install adds for `entry`. */
export const groupFor = (entry: HookEntry): Record<string, unknown> => ({
  ...(entry.matcher !== undefined ? { matcher: entry.matcher } : {}),
  hooks: [{ type: "command", command: entry.command, timeout: entry.timeout }]
})

/**
 * The words of a command written by {@link hookCommand} (plain words and `'…'` quoting with `'\''`);
 * undefined for anything else.
 */
export const commandWords = (command: string): ReadonlyArray<string> | undefined => {
  const words: Array<string> = []
  let i = 0
  while (i < command.length) {
    while (command[i] === " ") i++
    if (i >= command.length) break
    let word = ""
    while (i < command.length && command[i] !== " ") {
      if (command[i] === "'") {
        const end = command.indexOf("'", i + 1)
        if (end < 0) return undefined
        word += command.slice(i + 1, end)
        i = end + 1
      } else if (command[i] === "\\" && i + 1 < command.length) {
        word += command[i + 1]
        i += 2
      } else if (/[A-Za-z0-9_./:@%+=,~-]/.test(command[i]!)) {
        word += command[i]
        i++
      } else return undefined
    }
    words.push(word)
  }
  return words.length > 0 ? words : undefined
}

/** What makes two commands the same hook across installations: the script's file name and the arguments. */
export const hookIdentity = (command: string): string | undefined => {
  const sourced = SOURCED.exec(command)
  const words = sourced !== null && sourced[1] === sourced[3]
    ? [...(commandWords(sourced[1]!) ?? []), ...(sourced[2]!.trim() === "" ? [] : commandWords(sourced[2]!) ?? [])]
    : commandWords(command)
  if (words === undefined) return undefined
  if (words.length === 0) return undefined
  const [script, ...args] = words
  return JSON.stringify([script!.slice(script!.lastIndexOf("/") + 1), ...args])
}

/** A command hook in a settings file, with its position. */
export interface FoundHook {
  readonly event: string
  readonly group: number
  readonly hook: number
  readonly command: string
}

/** Every command hook in the settings, for every event. */
export const commandHooks = (settings: Record<string, unknown>): ReadonlyArray<FoundHook> => {
  const hooks = settings.hooks
  if (!isRecord(hooks)) return []
  const out: Array<FoundHook> = []
  for (const [event, groups] of Object.entries(hooks)) {
    if (!Array.isArray(groups)) continue
    groups.forEach((g, gi) => {
      if (!isRecord(g) || !Array.isArray(g.hooks)) return
      g.hooks.forEach((h, hi) => {
        if (isRecord(h) && h.type === "command" && typeof h.command === "string") {
          out.push({ event, group: gi, hook: hi, command: h.command })
        }
      })
    })
  }
  return out
}

/** The hooks of the original parallel-cc (a heartbeat script it never installed), for the doctor. */
export const legacyHookCommands = (settings: Record<string, unknown>): ReadonlyArray<string> =>
  commandHooks(settings).map((h) => h.command).filter((c) => /parallel-cc-heartbeat/.test(c))

/** `hooks` must be an object and each of `events` an array (when present), or the file is not touched. */
export const checkHooksShape = (
  file: string,
  settings: Record<string, unknown>,
  events: ReadonlyArray<string>
): Either.Either<void, InstallError> => {
  const invalid = (detail: string) => Either.left(new InstallError({ reason: "FileInvalid", path: file, detail }))
  if (settings.hooks === undefined) return Either.void
  if (!isRecord(settings.hooks)) return invalid(`"hooks" is not an object`)
  for (const event of dedupe(events)) {
    const groups = settings.hooks[event]
    if (groups !== undefined && !Array.isArray(groups)) return invalid(`"hooks.${event}" is not an array`)
  }
  return Either.void
}

/** How one entry stands in a settings file. */
export type EntryState =
  | { readonly _tag: "installed" }
  | { readonly _tag: "outdated"; readonly previous: string }
  | { readonly _tag: "missing" }

/**
 * Where each entry stands: its exact command under its event is installed; a recorded command of an earlier
 * installation for the same hook (see {@link hookIdentity}) under that event is outdated; else missing.
 */
export const entryStates = (
  settings: Record<string, unknown>,
  entries: ReadonlyArray<HookEntry>,
  recorded: ReadonlyArray<string>
): ReadonlyArray<EntryState> => {
  const found = commandHooks(settings)
  const current = new Set(entries.map((e) => e.command))
  const taken = new Set<FoundHook>()
  return entries.map((entry): EntryState => {
    if (found.some((h) => h.event === entry.event && h.command === entry.command)) return { _tag: "installed" }
    const id = hookIdentity(entry.command)
    const old = found.find((h) =>
      !taken.has(h) && h.event === entry.event && !current.has(h.command) && recorded.includes(h.command) &&
      id !== undefined && hookIdentity(h.command) === id
    )
    if (old === undefined) return { _tag: "missing" }
    taken.add(old)
    return { _tag: "outdated", previous: old.command }
  })
}

export interface AddResult {
  readonly value: Record<string, unknown>
  readonly added: ReadonlyArray<HookEntry>
  readonly updated: ReadonlyArray<{ readonly entry: HookEntry; readonly previous: string }>
  /** Recorded commands of hooks this release no longer installs, removed. */
  readonly retired: ReadonlyArray<string>
  /** Keys created (`hooks`, `hooks.<Event>`). */
  readonly createdKeys: ReadonlyArray<string>
}

/**
 * Bring the settings to `entries`: an outdated entry is updated in place (its group and position kept), a
 * missing one gets a group of its own at the end of its event, and a recorded command that no entry claims
 * (a hook an earlier release installed and this one does not) is removed, with the keys install created
 * (`createdKeys`) that this leaves empty. Idempotent: applied to its own
 * result, nothing changes. The input is not modified.
 */
export const addHooks = (
  settings: Record<string, unknown>,
  entries: ReadonlyArray<HookEntry>,
  recorded: ReadonlyArray<string>,
  createdKeys: ReadonlyArray<string> = []
): AddResult => {
  const states = entryStates(settings, entries, recorded)
  const current = new Set(entries.map((e) => e.command))
  const claimed = new Set(states.flatMap((s) => (s._tag === "outdated" ? [s.previous] : [])))
  const retired = dedupe(
    commandHooks(settings).map((h) => h.command).filter((c) => recorded.includes(c) && !current.has(c) && !claimed.has(c))
  )
  const added = entries.filter((_, i) => states[i]!._tag === "missing")
  const updated = entries.flatMap((entry, i) => {
    const s = states[i]!
    return s._tag === "outdated" ? [{ entry, previous: s.previous }] : []
  })
  if (added.length === 0 && updated.length === 0 && retired.length === 0) {
    return { value: settings, added, updated, retired, createdKeys: [] }
  }
  let value = structuredClone(settings)
  for (const { entry, previous } of updated) {
    const groups = (value.hooks as Record<string, Array<Record<string, unknown>>>)[entry.event]!
    const at = commandHooks(value).find((h) => h.event === entry.event && h.command === previous)!
    const hooks = groups[at.group]!.hooks as Array<Record<string, unknown>>
    hooks[at.hook] = { ...hooks[at.hook], command: entry.command }
  }
  if (retired.length > 0) value = removeHooks(value, retired, createdKeys).value
  const created: Array<string> = []
  for (const entry of added) {
    if (value.hooks === undefined) {
      value.hooks = {}
      created.push("hooks")
    }
    const hooks = value.hooks as Record<string, unknown>
    if (hooks[entry.event] === undefined) {
      hooks[entry.event] = []
      created.push(`hooks.${entry.event}`)
    }
    ;(hooks[entry.event] as Array<unknown>).push(groupFor(entry))
  }
  return { value, added, updated, retired, createdKeys: created }
}

/**
 * Remove every command hook whose command is one of `ours` (under any event), the groups that only held
 * them, and the keys that were left empty by it — those install created (`createdKeys`), or, without a
 * record (`undefined`), any. The input is not modified.
 */
export const removeHooks = (
  settings: Record<string, unknown>,
  ours: ReadonlyArray<string>,
  createdKeys: ReadonlyArray<string> | undefined
): { readonly value: Record<string, unknown>; readonly removed: number } => {
  const found = commandHooks(settings).filter((h) => ours.includes(h.command))
  if (found.length === 0) return { value: settings, removed: 0 }
  const value = structuredClone(settings)
  const hooks = value.hooks as Record<string, unknown>
  const mayDrop = (key: string) => createdKeys === undefined || createdKeys.includes(key)
  for (const event of dedupe(found.map((h) => h.event))) {
    const groups = (hooks[event] as Array<unknown>).flatMap((g) => {
      if (!isRecord(g) || !Array.isArray(g.hooks)) return [g]
      const kept = g.hooks.filter((h) => !(isRecord(h) && h.type === "command" && ours.includes(h.command as string)))
      if (kept.length === g.hooks.length) return [g]
      return kept.length === 0 ? [] : [{ ...g, hooks: kept }]
    })
    if (groups.length === 0 && mayDrop(`hooks.${event}`)) delete hooks[event]
    else hooks[event] = groups
  }
  if (Object.keys(hooks).length === 0 && mayDrop("hooks")) delete value.hooks
  return { value, removed: found.length }
}
