/**
 * Secret redaction for everything a sandboxed run records (logs, events, DB fields, error messages): each
 * known secret value — and each long line of a multi-line secret such as an SSH key — is replaced.
 */

export const MARK = "[redacted]"

export type Redactor = (text: string) => string

/** A redactor for `secrets`. Values shorter than 8 characters are ignored (too likely to hit ordinary text). */
export const make = (secrets: ReadonlyArray<string>): Redactor => {
  const needles = new Set<string>()
  for (const s of secrets) {
    if (typeof s !== "string") continue
    const t = s.trim()
    if (t.length >= 8) needles.add(t)
    // Multi-line secrets: every substantial line on its own, and the JSON-escaped form of the whole.
    if (t.includes("\n")) {
      for (const line of t.split(/\r?\n/)) if (line.trim().length >= 16) needles.add(line.trim())
      const escaped = JSON.stringify(t).slice(1, -1)
      if (escaped.length >= 8) needles.add(escaped)
    }
  }
  const sorted = [...needles].sort((a, b) => b.length - a.length)
  if (sorted.length === 0) return (text) => text
  return (text) => {
    let out = text
    for (const n of sorted) if (out.includes(n)) out = out.split(n).join(MARK)
    return out
  }
}
