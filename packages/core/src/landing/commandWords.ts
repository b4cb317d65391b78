/**
 * A test command given as one line ("npm test -- --run") split into an argument array the way a POSIX shell
 * splits words — single quotes, double quotes, backslashes — without ever running a shell: operators,
 * redirections, substitutions and variables are refused rather than silently passed as text. Whoever needs
 * them writes the shell explicitly: `sh -c 'npm run lint && npm test'`.
 */

export type Words = { readonly argv: readonly [string, ...Array<string>] } | { readonly error: string }

const operators = new Set(["|", "&", ";", "<", ">", "(", ")", "`"])

/** Split `line` into words, or say why it cannot be run without a shell. */
export const splitWords = (line: string): Words => {
  const words: Array<string> = []
  let cur = ""
  let inWord = false
  let quote: "'" | "\"" | null = null
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!
    if (c === "\n" || c === "\r" || c === "\0") return { error: "it contains a line break or a NUL character" }
    if (quote === "'") {
      if (c === "'") quote = null
      else cur += c
      continue
    }
    if (quote === "\"") {
      if (c === "\"") quote = null
      else if (c === "\\" && i + 1 < line.length && "\"\\$`".includes(line[i + 1]!)) cur += line[++i]
      else if (c === "$" || c === "`") return { error: `"${c}" inside double quotes would need a shell to expand` }
      else cur += c
      continue
    }
    if (c === " " || c === "\t") {
      if (inWord) words.push(cur)
      cur = ""
      inWord = false
      continue
    }
    inWord = true
    if (c === "'" || c === "\"") quote = c
    else if (c === "\\") {
      if (i + 1 >= line.length) return { error: "it ends with a backslash" }
      cur += line[++i]
    } else if (operators.has(c)) return { error: `"${c}" is shell syntax` }
    else if (c === "$") return { error: "\"$\" (a variable or substitution) would need a shell to expand" }
    else if (c === "~" && cur === "") return { error: "\"~\" would need a shell to expand; write the path out" }
    else cur += c
  }
  if (quote !== null) return { error: `a ${quote === "'" ? "single" : "double"} quote is not closed` }
  if (inWord) words.push(cur)
  if (words.length === 0) return { error: "it is empty" }
  return { argv: words as unknown as readonly [string, ...Array<string>] }
}
