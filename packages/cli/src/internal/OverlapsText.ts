/**
 * The text of `parallel-cc overlaps`, shared by the full CLI and the start-up fast path (quick.ts), so both
 * print the same bytes.
 */
import { table } from "./Table.js"

/** The fields of an overlap the table shows. */
export interface OverlapView {
  readonly repoPath: string
  readonly filePath: string
  readonly sessionA: string
  readonly branchA: string | null
  readonly sessionB: string
  readonly branchB: string | null
  readonly level: "file" | "hunk" | "symbol"
  readonly symbols: ReadonlyArray<string>
  readonly conflict: boolean | null
  readonly firstSeen: Date
}

const symbolsText = (o: OverlapView) => (o.symbols.length > 0 ? o.symbols.join(", ") : o.level === "hunk" ? "(same lines)" : "—")
const conflictText = (o: OverlapView) => (o.conflict === true ? "yes" : o.conflict === false ? "no" : "?")

/** One table per repository, or the line saying there is none. */
export const overlapsText = (found: ReadonlyArray<OverlapView>, now: number): string => {
  if (found.length === 0) return "No overlaps: no two live sessions change the same file."
  const since = (d: Date) => {
    const s = Math.max(0, Math.round((now - d.getTime()) / 1000))
    return s < 60 ? `${s}s` : s < 3600 ? `${Math.floor(s / 60)}m` : `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`
  }
  const blocks = [...new Set(found.map((o) => o.repoPath))].map((repo) => {
    const rows = found.filter((o) => o.repoPath === repo).map((o) => [
      o.filePath,
      `${o.sessionA} ${o.branchA ?? "(repository)"}`,
      `${o.sessionB} ${o.branchB ?? "(repository)"}`,
      symbolsText(o),
      conflictText(o),
      since(o.firstSeen)
    ])
    return `${repo}\n${table(["FILE", "SESSION", "SESSION", "BOTH CHANGED", "CONFLICT", "SINCE"], rows)}`
  })
  return blocks.join("\n\n")
}
