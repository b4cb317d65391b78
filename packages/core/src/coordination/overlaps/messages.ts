/**
 * The texts agents get about overlapping work (hook `additionalContext`), and the keys that make each one
 * arrive once: `overlap.<other session>.<file>` for "another session changes this file" — the same key
 * whether the agent hears it before its own edit (its peer's `changes/<file>`) or when the overlap is
 * recorded — and `conflict.<other session>.<file>` when an overlap that merged cleanly starts to conflict.
 */
import { describeRange, type LineRange } from "./fileChange.js"

/** Who a session is, as the texts name it. */
export interface Who {
  readonly sessionId: string
  readonly branch: string | null
  readonly worktreePath: string
}

export const overlapKey = (other: string, file: string): string => `overlap.${other}.${file}`
export const conflictKey = (other: string, file: string): string => `conflict.${other}.${file}`

const name = (w: Who): string => `session ${w.sessionId} (${w.branch !== null ? `branch ${w.branch}, ` : ""}in ${w.worktreePath})`

const symbolList = (symbols: ReadonlyArray<string>, max = 6): string => {
  const shown = symbols.slice(0, max).map((s) => `\`${s}\``).join(", ")
  return symbols.length > max ? `${shown} and ${symbols.length - max} more` : shown
}

const coordinate = (file: string) =>
  `Coordinate before you go on: keep your change to ${file} small and apart from theirs, or leave the file to ` +
  `them (\`parallel-cc overlaps\` shows every overlap; \`parallel-cc claim ${file}\` reserves a file).`

/** What a peer's `changes/<file>` says to an agent about to edit the file. */
export const changeNews = (who: Who, file: string, symbols: ReadonlyArray<string>, ranges: ReadonlyArray<LineRange>): string => {
  const where = symbols.length > 0
    ? ` in ${symbolList(symbols)}`
    : ranges.length > 0
    ? ` (${ranges.slice(0, 3).map(describeRange).join(", ")}${ranges.length > 3 ? ", …" : ""})`
    : ""
  return `parallel-cc: ${name(who)} has also changed ${file}${where}. Changing the same lines here will conflict ` +
    `when both are merged. ${coordinate(file)}`
}

/** The notice for a newly recorded overlap, to the session that is not `other`. */
export const overlapNotice = (
  other: Who,
  file: string,
  meeting: { readonly symbols: ReadonlyArray<string>; readonly conflict: boolean | null; readonly level: string }
): string => {
  const what = meeting.symbols.length > 0
    ? `you both changed ${symbolList(meeting.symbols)}`
    : meeting.level === "hunk"
    ? "you both changed the same lines"
    : "you changed different parts of it"
  const verdict = meeting.conflict === true
    ? "merging the two would conflict on it"
    : meeting.conflict === false
    ? "so far the two merge cleanly"
    : "whether they merge cleanly is not known yet"
  return `parallel-cc: ${name(other)} is changing ${file} too — ${what}; ${verdict}. ${coordinate(file)}`
}

/** The notice when an overlap that merged cleanly now conflicts. */
export const conflictNotice = (other: Who, file: string, symbols: ReadonlyArray<string>): string =>
  `parallel-cc: your changes to ${file} and those of ${name(other)} now conflict` +
  `${symbols.length > 0 ? ` (both changed ${symbolList(symbols)})` : ""}. ${coordinate(file)}`
