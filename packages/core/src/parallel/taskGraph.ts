/**
 * Task lists of parallel runs: plain text (one prompt per line), YAML or JSON documents (ids, prompts,
 * `dependsOn`, per-task agent and branch), the limits every source obeys, and the dependency graph check
 * (unknown ids, duplicates, cycles) that runs before anything starts.
 */
import { Either } from "effect"

/** One task of a parallel run. */
export interface TaskSpec {
  /** Names the task's result directory (`<output>/<id>/`): letters, digits, `-` and `_`. */
  readonly id: string
  readonly prompt: string
  /** Tasks that must succeed before this one starts. */
  readonly dependsOn: ReadonlyArray<string>
  readonly agent?: string | undefined
  readonly branch?: string | undefined
}

/** Limits of a task list. */
export const limits = {
  /** A task file larger than this is refused before it is read. */
  fileBytes: 256 * 1024,
  tasks: 200,
  promptChars: 32 * 1024
} as const

export const idPattern = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/

/** What is wrong with a task list: `where` is the file (and line) or the flag. */
export interface Problem {
  readonly where: string
  readonly detail: string
}

const kb = (n: number) => `${Math.round(n / 1024)} KB`

// Tab is fine in a prompt; other control characters (NUL, escape sequences) are not text.
// eslint-disable-next-line no-control-regex
const controlChars = /[\u0000-\u0008\u000b-\u001f\u007f]/

const checkPrompt = (prompt: string, where: string): Problem | undefined => {
  if (prompt.length > limits.promptChars) {
    return { where, detail: `the prompt is ${prompt.length} characters long; at most ${limits.promptChars} are allowed (put long instructions in a file in the repository and refer to it)` }
  }
  const stripped = prompt.replace(/\r?\n/g, "")
  if (controlChars.test(stripped)) return { where, detail: "the prompt contains control characters (binary data or terminal escape sequences)" }
  if (stripped.includes("\uFFFD")) return { where, detail: "the prompt is not valid UTF-8 text" }
  return undefined
}

/** `--task T` values: tasks `task-1`, `task-2`, … in order. */
export const fromFlags = (prompts: ReadonlyArray<string>): Either.Either<Array<TaskSpec>, Problem> => {
  if (prompts.length > limits.tasks) return Either.left({ where: "--task", detail: `${prompts.length} tasks given; at most ${limits.tasks} are allowed` })
  const out: Array<TaskSpec> = []
  for (const [i, p] of prompts.entries()) {
    const where = `--task #${i + 1}`
    if (p.trim() === "") return Either.left({ where, detail: "is empty" })
    const bad = checkPrompt(p, where)
    if (bad !== undefined) return Either.left(bad)
    out.push({ id: `task-${i + 1}`, prompt: p.trim(), dependsOn: [] })
  }
  return Either.right(out)
}

/** A plain task file: one prompt per line; blank lines and lines starting with `#` are ignored. */
export const fromLines = (text: string, name: string): Either.Either<Array<TaskSpec>, Problem> => {
  const out: Array<TaskSpec> = []
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/)
  for (const [i, raw] of lines.entries()) {
    const line = raw.trim()
    if (line === "" || line.startsWith("#")) continue
    const where = `${name}:${i + 1}`
    const bad = checkPrompt(line, where)
    if (bad !== undefined) return Either.left(bad)
    if (out.length === limits.tasks) return Either.left({ where, detail: `more than ${limits.tasks} tasks; split the file into several runs` })
    out.push({ id: `task-${out.length + 1}`, prompt: line, dependsOn: [] })
  }
  return Either.right(out)
}

const describe = (v: unknown): string =>
  v === null ? "null" : Array.isArray(v) ? "a list" : typeof v === "object" ? "a mapping" : `${typeof v} ${JSON.stringify(v)}`

const taskKeys = new Set(["id", "prompt", "dependsOn", "agent", "branch"])

/**
 * A decoded YAML/JSON document: a list of tasks, or `{ tasks: [...] }`. Each task is a mapping with `id`,
 * `prompt`, and optionally `dependsOn` (an id or a list of ids), `agent` and `branch`; anything else is an
 * error (a misspelt `depends_on` must not silently drop a dependency).
 */
export const fromDocument = (doc: unknown, name: string): Either.Either<Array<TaskSpec>, Problem> => {
  const fail = (where: string, detail: string) => Either.left<Problem>({ where: `${name}: ${where}`, detail })
  let items: unknown = doc
  if (doc !== null && typeof doc === "object" && !Array.isArray(doc)) {
    const keys = Object.keys(doc)
    const extra = keys.filter((k) => k !== "tasks")
    if (!keys.includes("tasks")) return fail("top level", "expected a list of tasks, or a mapping with a `tasks` list")
    if (extra.length > 0) return fail("top level", `unknown key ${JSON.stringify(extra[0])} (only \`tasks\` is allowed)`)
    items = (doc as { tasks: unknown }).tasks
  }
  if (!Array.isArray(items)) return fail("tasks", `expected a list of tasks, found ${describe(items)}`)
  if (items.length > limits.tasks) return fail("tasks", `${items.length} tasks; at most ${limits.tasks} are allowed`)
  const out: Array<TaskSpec> = []
  for (const [i, item] of items.entries()) {
    const at = `task #${i + 1}`
    if (item === null || typeof item !== "object" || Array.isArray(item)) return fail(at, `expected a mapping with id and prompt, found ${describe(item)}`)
    const t = item as Record<string, unknown>
    const unknownKey = Object.keys(t).find((k) => !taskKeys.has(k))
    if (unknownKey !== undefined) {
      return fail(at, `unknown key ${JSON.stringify(unknownKey)} (allowed: id, prompt, dependsOn, agent, branch)`)
    }
    if (typeof t.id !== "string" || !idPattern.test(t.id)) {
      return fail(at, `id ${t.id === undefined ? "is missing" : `${JSON.stringify(t.id)} is not valid`}; use 1 to 64 letters, digits, '-' or '_', starting with a letter or digit`)
    }
    const where = `task ${t.id}`
    if (typeof t.prompt !== "string" || t.prompt.trim() === "") return fail(where, "prompt is missing or empty")
    const bad = checkPrompt(t.prompt, `${name}: ${where}`)
    if (bad !== undefined) return Either.left(bad)
    const deps = t.dependsOn === undefined || t.dependsOn === null ? [] : typeof t.dependsOn === "string" ? [t.dependsOn] : t.dependsOn
    if (!Array.isArray(deps) || deps.some((d) => typeof d !== "string")) {
      return fail(where, "dependsOn must be a task id or a list of task ids")
    }
    for (const k of ["agent", "branch"] as const) {
      if (t[k] !== undefined && (typeof t[k] !== "string" || (t[k] as string).trim() === "")) return fail(where, `${k} must be a non-empty string`)
    }
    out.push({
      id: t.id,
      prompt: t.prompt.trim(),
      dependsOn: [...new Set(deps as Array<string>)],
      ...(typeof t.agent === "string" ? { agent: t.agent.trim() } : {}),
      ...(typeof t.branch === "string" ? { branch: t.branch.trim() } : {})
    })
  }
  return Either.right(out)
}

/** Whether a task file is a YAML/JSON document (by its extension) rather than one prompt per line. */
export const isDocumentFile = (file: string): boolean => /\.(ya?ml|json)$/i.test(file)

/** The size limit, checked before reading. */
export const checkSize = (bytes: number, name: string): Problem | undefined =>
  bytes > limits.fileBytes
    ? { where: name, detail: `the file is ${kb(bytes)}; task files are limited to ${kb(limits.fileBytes)} (${limits.tasks} tasks of at most ${limits.promptChars} characters)` }
    : undefined

/**
 * Check the graph: at least one task, unique ids (case-insensitively: they name directories), known
 * dependencies, no task depending on itself, no cycle. Returns the tasks in a valid start order (stable:
 * file order wherever the dependencies allow).
 */
export const checkGraph = (tasks: ReadonlyArray<TaskSpec>, name: string): Either.Either<Array<TaskSpec>, Problem> => {
  if (tasks.length === 0) return Either.left({ where: name, detail: "no tasks (blank lines and # comments do not count)" })
  const byId = new Map<string, TaskSpec>()
  const lower = new Map<string, string>()
  for (const t of tasks) {
    const l = t.id.toLowerCase()
    if (lower.has(l)) return Either.left({ where: name, detail: `two tasks have the id ${JSON.stringify(t.id)}${lower.get(l) !== t.id ? ` (and ${JSON.stringify(lower.get(l))}: ids name directories, so case does not count)` : ""}` })
    lower.set(l, t.id)
    byId.set(t.id, t)
  }
  for (const t of tasks) {
    for (const d of t.dependsOn) {
      if (d === t.id) return Either.left({ where: name, detail: `task ${t.id} depends on itself` })
      if (!byId.has(d)) return Either.left({ where: name, detail: `task ${t.id} depends on ${JSON.stringify(d)}, which is not a task id (ids: ${[...byId.keys()].slice(0, 10).join(", ")})` })
    }
  }
  // Depth-first search for a cycle, reporting it as a path a → b → a.
  const state = new Map<string, "visiting" | "done">()
  const stack: Array<string> = []
  const visit = (id: string): Array<string> | undefined => {
    const s = state.get(id)
    if (s === "done") return undefined
    if (s === "visiting") return [...stack.slice(stack.indexOf(id)), id]
    state.set(id, "visiting")
    stack.push(id)
    for (const d of byId.get(id)!.dependsOn) {
      const cycle = visit(d)
      if (cycle !== undefined) return cycle
    }
    stack.pop()
    state.set(id, "done")
    return undefined
  }
  for (const t of tasks) {
    const cycle = visit(t.id)
    if (cycle !== undefined) {
      return Either.left({ where: name, detail: `the dependencies form a cycle: ${cycle.join(" → ")} (→ means "depends on"); none of these tasks could ever start` })
    }
  }
  // Kahn's algorithm, always taking the earliest task in file order.
  const order: Array<TaskSpec> = []
  const placed = new Set<string>()
  while (order.length < tasks.length) {
    const next = tasks.find((t) => !placed.has(t.id) && t.dependsOn.every((d) => placed.has(d)))!
    placed.add(next.id)
    order.push(next)
  }
  return Either.right(order)
}
