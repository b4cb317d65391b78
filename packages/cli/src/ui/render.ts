/**
 * The dashboard's screen as lines of text: a pure function of the fleet snapshot, the dashboard's own state
 * (selection, filter, message) and the terminal (size, colour, Unicode). Columns are dropped by priority
 * when the terminal is narrow, so 40 columns still show state, name and cost.
 */
import type { FleetView } from "@parallel-cc/core"

export interface Caps {
  readonly width: number
  readonly height: number
  /** ANSI colours and inverse video (off with NO_COLOR or off a terminal). */
  readonly color: boolean
  /** Unicode symbols (off in a non-UTF-8 locale). */
  readonly unicode: boolean
}

export interface UiState {
  readonly selected: number
  readonly repo: string | undefined
  /** A line for the footer (a confirmation question, what a key did). */
  readonly message: string | undefined
}

const esc = (code: string) => `\x1b[${code}m`
const paint = (caps: Caps, code: string, text: string) => (caps.color ? `${esc(code)}${text}${esc("0")}` : text)
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`

/** Characters of `s` (code points), cut to `n` with an ellipsis. */
export const fit = (s: string, n: number, unicode: boolean): string => {
  const cps = [...s.replace(/[\u0000-\u001f\u007f-\u009f]/g, " ")]
  if (n <= 0) return ""
  if (cps.length <= n) return cps.join("") + " ".repeat(n - cps.length)
  return cps.slice(0, Math.max(0, n - 1)).join("") + (unicode ? "…" : "~")
}

export const ageText = (from: Date | null, now: number): string => {
  if (from === null) return "-"
  const s = Math.max(0, Math.round((now - from.getTime()) / 1000))
  if (s < 60) return `${s}s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m}m`
  const h = Math.floor(m / 60)
  if (h < 24) return `${h}h${m % 60 > 0 ? `${m % 60}m` : ""}`
  return `${Math.floor(h / 24)}d${h % 24}h`
}

const stateStyle: Readonly<Record<string, string>> = {
  "needs-input": "1;33",
  working: "32",
  idle: "36",
  starting: "2",
  exited: "2",
  dead: "31",
  stale: "31",
  running: "32"
}

const symbol = (state: string, unicode: boolean): string => {
  const u: Readonly<Record<string, string>> = { "needs-input": "!", working: "●", idle: "○", starting: "…", running: "●" }
  const a: Readonly<Record<string, string>> = { "needs-input": "!", working: "*", idle: "-", starting: ".", running: "*" }
  return (unicode ? u : a)[state] ?? (unicode ? "×" : "x")
}

export const costText = (row: FleetView.FleetRow): string =>
  row.usage === null ? "-" : !row.usage.known ? "unknown" : row.usage.costUsd === null ? "?" : `$${row.usage.costUsd.toFixed(2)}`

interface Column {
  readonly title: string
  readonly width: number
  /** Lower is kept longer. */
  readonly priority: number
  readonly cell: (r: FleetView.FleetRow, now: number, caps: Caps) => string
}

const columns: ReadonlyArray<Column> = [
  { title: "STATE", width: 13, priority: 0, cell: (r, _n, c) => `${symbol(r.state, c.unicode)} ${r.state}` },
  { title: "SESSION", width: 12, priority: 1, cell: (r) => `${r.kind === "run" ? "run " : ""}${r.name ?? r.id}` },
  { title: "COST", width: 8, priority: 2, cell: (r) => costText(r) },
  { title: "FOR", width: 6, priority: 3, cell: (r, n) => ageText(r.stateSince, n) },
  { title: "BRANCH", width: 22, priority: 4, cell: (r) => r.branch ?? "(repo)" },
  { title: "AGENT", width: 8, priority: 5, cell: (r) => r.agent },
  { title: "FILES", width: 5, priority: 6, cell: (r) => (r.kind === "run" ? "-" : String(r.changed.length)) },
  { title: "+/-", width: 7, priority: 7, cell: (r) => (r.ahead === null ? "-" : `+${r.ahead}/-${r.behind ?? 0}`) },
  { title: "OVERLAP", width: 7, priority: 8, cell: (r) => (r.overlaps === 0 ? "-" : `${r.overlaps}${r.conflicts > 0 ? `!${r.conflicts}` : ""}`) },
  { title: "CLAIMS", width: 6, priority: 9, cell: (r) => (r.claims === 0 ? "-" : String(r.claims)) },
  { title: "AGE", width: 6, priority: 10, cell: (r, n) => ageText(r.createdAt, n) }
]

/** The columns that fit `width` (by priority, shown in their order). */
const fitting = (width: number): ReadonlyArray<Column> => {
  const chosen = new Set<Column>()
  let used = 2
  for (const c of [...columns].sort((a, b) => a.priority - b.priority)) {
    const need = c.width + (chosen.size > 0 ? 1 : 0)
    if (used + need > width) {
      if (chosen.size === 0) chosen.add(c)
      continue
    }
    chosen.add(c)
    used += need
  }
  return columns.filter((c) => chosen.has(c))
}

const wrap = (text: string, width: number): Array<string> => {
  const out: Array<string> = []
  for (const para of text.split("\n")) {
    let line = ""
    for (const word of para.split(/\s+/)) {
      if (word === "") continue
      if ([...line].length + 1 + [...word].length > width && line !== "") {
        out.push(line)
        line = ""
      }
      line = line === "" ? word : `${line} ${word}`
    }
    if (line !== "") out.push(line)
  }
  return out
}

/** The rows a filter shows. */
export const visible = (snap: FleetView.FleetSnapshot, repo: string | undefined): ReadonlyArray<FleetView.FleetRow> =>
  snap.rows.filter((r) => repo === undefined || r.repoPath === repo)

const detail = (r: FleetView.FleetRow, caps: Caps, now: number, room: number): Array<string> => {
  const w = Math.max(10, caps.width - 2)
  const out: Array<string> = []
  out.push(fit(`${r.kind === "run" ? "run" : "session"} ${r.id}${r.name !== null ? ` (${r.name})` : ""}  ${r.state} for ${ageText(r.stateSince, now)}`, w, caps.unicode))
  if (r.worktreePath !== null) out.push(fit(`dir ${r.worktreePath}`, w, caps.unicode))
  if (r.branch !== null) {
    out.push(fit(`branch ${r.branch}${r.target !== null ? ` vs ${r.target}: ${r.ahead ?? "?"} ahead, ${r.behind ?? "?"} behind` : ""}`, w, caps.unicode))
  }
  if (r.usage !== null) {
    const u = r.usage
    const tokens = u.tokens === null ? "" : `  in ${u.tokens.input} out ${u.tokens.output} cache ${u.tokens.cacheRead}r/${u.tokens.cacheWrite5m + u.tokens.cacheWrite1h}w`
    out.push(fit(`cost ${costText(r)}${u.known ? `  ${plural(u.turns ?? 0, "turn")}, ${plural(u.requests ?? 0, "request")}${tokens}` : `  (${u.reason})`}`, w, caps.unicode))
  }
  if (r.changed.length > 0) {
    out.push(paint(caps, "1", fit(`changed files (${r.changed.length})`, w, caps.unicode)))
    for (const c of r.changed.slice(0, Math.max(1, Math.min(8, room - out.length - 4)))) out.push(fit(`  ${c.status.padEnd(8)} ${c.path}`, w, caps.unicode))
    if (r.changed.length > 8) out.push(fit(`  … and ${r.changed.length - 8} more`, w, caps.unicode))
  }
  if (r.lastMessage !== undefined) {
    out.push(paint(caps, "1", fit(r.kind === "run" ? "prompt" : "last agent message", w, caps.unicode)))
    for (const l of wrap(r.lastMessage, w - 2).slice(-4)) out.push(`  ${l}`)
  }
  if (r.log.length > 0) {
    out.push(paint(caps, "1", "recent log"))
    for (const l of r.log.slice(-4)) out.push(fit(`  ${l}`, w, caps.unicode))
  }
  return out.slice(0, Math.max(0, room))
}

/** The whole screen, one string per terminal line (at most `caps.height` lines, each at most `caps.width` wide). */
export const render = (snap: FleetView.FleetSnapshot, ui: UiState, caps: Caps): ReadonlyArray<string> => {
  const now = snap.at.getTime()
  const rows = visible(snap, ui.repo)
  const cols = fitting(caps.width)
  const sep = caps.unicode ? "·" : "|"
  const total = rows.reduce((a, r) => a + (r.usage?.costUsd ?? 0), 0)
  const waiting = rows.filter((r) => r.state === "needs-input").length
  const head = `parallel-cc ${sep} ${rows.length} agent${rows.length === 1 ? "" : "s"} ${sep} ${waiting} waiting ${sep} $${total.toFixed(2)}` +
    ` ${sep} ${ui.repo ?? "all repositories"}`
  const out: Array<string> = [paint(caps, "1", fit(head, caps.width, caps.unicode).trimEnd())]
  const line = (cells: ReadonlyArray<string>) => cells.map((c, i) => fit(c, cols[i]!.width, caps.unicode)).join(" ")
  out.push(paint(caps, "2", `  ${line(cols.map((c) => c.title))}`.slice(0, caps.width).trimEnd()))
  const footer = ui.message ?? "↑↓ select  d diff  o open  l land  x discard  f repo  q quit"
  const listRoom = Math.max(1, Math.min(rows.length, Math.floor((caps.height - 4) / 2)))
  const first = Math.max(0, Math.min(ui.selected - listRoom + 1, rows.length - listRoom))
  if (rows.length === 0) out.push("  No live sessions or running sandboxed runs.")
  for (let i = first; i < Math.min(rows.length, first + listRoom); i++) {
    const r = rows[i]!
    const text = line(cols.map((c) => c.cell(r, now, caps)))
    const mark = i === ui.selected ? (caps.unicode ? "▸ " : "> ") : "  "
    const body = (mark + text).slice(0, caps.width).trimEnd()
    const styled = caps.color
      ? i === ui.selected ? `${esc("7")}${body}${esc("0")}` : body.replace(r.state, paint(caps, stateStyle[r.state] ?? "0", r.state))
      : body
    out.push(styled)
  }
  const selected = rows[ui.selected]
  const room = caps.height - out.length - 2
  if (selected !== undefined && room > 1) {
    out.push(paint(caps, "2", (caps.unicode ? "─" : "-").repeat(Math.max(0, caps.width))))
    out.push(...detail(selected, caps, now, room - 1))
  }
  while (out.length < caps.height - 1) out.push("")
  out.push(paint(caps, ui.message !== undefined ? "1;33" : "2", fit(caps.unicode ? footer : footer.replace("↑↓", "up/down"), caps.width, caps.unicode).trimEnd()))
  return out.slice(0, caps.height)
}
