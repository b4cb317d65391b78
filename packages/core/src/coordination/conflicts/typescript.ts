/**
 * TypeScript/JavaScript analysis for conflicts, on the TypeScript compiler API. The compiler is passed in
 * (loaded lazily by the caller), so importing this module never loads it.
 *
 * A file is a list of entities — top-level statements, and the members of classes, interfaces and
 * enums — each keyed by kind and name. Comparing the three versions entity by entity tells which
 * symbols each side added, removed, renamed, moved, reformatted or changed (and whether a signature
 * changed), which drives both classification and the symbol-level merge.
 */
import type * as TS from "typescript"
import { diff3, hasConflicts, mergeTokens, splitLines } from "./diff.js"

export type Ts = typeof TS

export interface ImportInfo {
  readonly module: string
  readonly typeOnly: boolean
  readonly defaultName: string | null
  readonly namespace: string | null
  readonly named: ReadonlyArray<string> | null
  readonly multiline: boolean
  readonly trailingComma: boolean
  readonly indent: string
  readonly quote: string
  readonly semicolon: boolean
  readonly leading: string
}

export interface Entity {
  readonly key: string
  readonly kind: string
  readonly name: string | null
  readonly start: number
  readonly end: number
  /** Full text, with the leading trivia (blank lines, comments) that belongs to it. */
  readonly text: string
  /** Tokens without trivia: equal for two versions that differ only in formatting. */
  readonly norm: string
  /** `norm` with the entity's own name replaced, to recognise renames. */
  readonly shape: string
  /** Normalized signature (parameters, types, heritage); a change here can break users. */
  readonly sig: string
  readonly idents: ReadonlyMap<string, number>
  readonly container: { readonly header: string; readonly footer: string; readonly members: ReadonlyArray<Entity> } | null
  readonly importInfo: ImportInfo | null
}

export interface ParsedFile {
  readonly text: string
  readonly entities: ReadonlyArray<Entity>
  readonly eof: string
  readonly syntaxErrors: number
}

const scriptKind = (ts: Ts, fileName: string) => {
  const lower = fileName.toLowerCase()
  if (lower.endsWith(".tsx")) return ts.ScriptKind.TSX
  if (lower.endsWith(".jsx")) return ts.ScriptKind.JSX
  if (/\.(m|c)?js$/.test(lower)) return ts.ScriptKind.JS
  return ts.ScriptKind.TS
}

/** Whether the file is one the TypeScript parser should handle. */
export const isScriptFile = (path: string): boolean => /\.(tsx?|jsx|mjs|cjs|js|mts|cts)$/i.test(path)

/**
 * Parses made while a `withParseCache` call runs, by language variant and text: one analysis asks for the
 * same three versions (and the same candidate texts) from several strategies, and each distinct text is
 * parsed once. Outside such a call nothing is kept, so no tree outlives the analysis that made it.
 */
interface ParseCache {
  readonly sources: Map<TS.ScriptKind, Map<string, TS.SourceFile>>
  readonly files: Map<TS.ScriptKind, Map<string, ParsedFile>>
}
let parseCache: ParseCache | null = null

/** Run `f` with each distinct text parsed at most once (nested calls share the outer cache). */
export const withParseCache = <A>(f: () => A): A => {
  if (parseCache !== null) return f()
  parseCache = { sources: new Map(), files: new Map() }
  try {
    return f()
  } finally {
    parseCache = null
  }
}

const cached = <V>(
  pick: (c: ParseCache) => Map<TS.ScriptKind, Map<string, V>>,
  kind: TS.ScriptKind,
  text: string,
  make: () => V
): V => {
  if (parseCache === null) return make()
  const byKind = pick(parseCache)
  let byText = byKind.get(kind)
  if (byText === undefined) byKind.set(kind, byText = new Map())
  let v = byText.get(text)
  if (v === undefined) byText.set(text, v = make())
  return v
}

export const parseSource = (ts: Ts, fileName: string, text: string): TS.SourceFile => {
  const kind = scriptKind(ts, fileName)
  return cached((c) => c.sources, kind, text, () => ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, kind))
}

/** Syntax errors the parser found (no type checking). */
export const syntaxErrorCount = (ts: Ts, fileName: string, text: string): number =>
  ((parseSource(ts, fileName, text) as unknown as { parseDiagnostics?: ReadonlyArray<unknown> }).parseDiagnostics ?? [])
    .length

/** One scanner per parser module and language variant, reused (making one per entity dominated big files). */
const scanners = new WeakMap<Ts, Map<boolean, TS.Scanner>>()
const scannerFor = (ts: Ts, jsx: boolean, text: string): TS.Scanner => {
  let byVariant = scanners.get(ts)
  if (byVariant === undefined) scanners.set(ts, byVariant = new Map())
  let sc = byVariant.get(jsx)
  if (sc === undefined) {
    sc = ts.createScanner(ts.ScriptTarget.Latest, true, jsx ? ts.LanguageVariant.JSX : ts.LanguageVariant.Standard)
    byVariant.set(jsx, sc)
  }
  sc.setText(text)
  return sc
}

const normTokens = (ts: Ts, text: string, jsx: boolean): Array<string> => {
  const sc = scannerFor(ts, jsx, text)
  const out: Array<string> = []
  for (let t = sc.scan(); t !== ts.SyntaxKind.EndOfFileToken; t = sc.scan()) out.push(sc.getTokenText())
  return out
}

const declName = (ts: Ts, node: TS.Node): string | null => {
  const name = (node as { name?: TS.Node }).name
  if (name === undefined) return null
  if (ts.isIdentifier(name) || ts.isPrivateIdentifier(name)) return name.text
  if (ts.isStringLiteral(name) || ts.isNumericLiteral(name)) return name.text
  return name.getText()
}

const hasExport = (ts: Ts, node: TS.Node) =>
  ts.canHaveModifiers(node) && (ts.getModifiers(node) ?? []).some((m) => m.kind === ts.SyntaxKind.ExportKeyword)

const collectIdents = (ts: Ts, node: TS.Node): Map<string, number> => {
  const out = new Map<string, number>()
  const visit = (n: TS.Node) => {
    if (ts.isIdentifier(n)) out.set(n.text, (out.get(n.text) ?? 0) + 1)
    ts.forEachChild(n, visit)
  }
  visit(node)
  return out
}

const importInfoOf = (ts: Ts, node: TS.ImportDeclaration, full: string, sf: TS.SourceFile): ImportInfo | null => {
  if (!ts.isStringLiteral(node.moduleSpecifier)) return null
  const clause = node.importClause
  const bindings = clause?.namedBindings
  const named = bindings !== undefined && ts.isNamedImports(bindings)
    ? bindings.elements.map((e) => e.getText(sf).replace(/\s+/g, " "))
    : null
  const bracesText = bindings !== undefined && ts.isNamedImports(bindings) ? bindings.getText(sf) : ""
  const multiline = bracesText.includes("\n")
  const firstEl = bindings !== undefined && ts.isNamedImports(bindings) ? bindings.elements[0] : undefined
  const indent = multiline && firstEl !== undefined
    ? (sf.text.slice(0, firstEl.getStart(sf)).match(/[ \t]*$/)?.[0] ?? "  ")
    : "  "
  return {
    module: node.moduleSpecifier.text,
    typeOnly: clause?.isTypeOnly === true,
    defaultName: clause?.name?.text ?? null,
    namespace: bindings !== undefined && ts.isNamespaceImport(bindings) ? bindings.name.text : null,
    named,
    multiline,
    trailingComma: bindings !== undefined && ts.isNamedImports(bindings) && bindings.elements.hasTrailingComma,
    indent,
    quote: node.moduleSpecifier.getText(sf).startsWith("'") ? "'" : "\"",
    semicolon: node.getText(sf).trimEnd().endsWith(";"),
    leading: full.slice(0, node.getStart(sf) - node.getFullStart())
  }
}

const entityOf = (ts: Ts, sf: TS.SourceFile, node: TS.Node, jsx: boolean): { key: string; entity: Omit<Entity, "key"> } => {
  const text = sf.text.slice(node.getFullStart(), node.getEnd())
  const own = sf.text.slice(node.getStart(sf), node.getEnd())
  const tokens = normTokens(ts, own, jsx)
  const norm = tokens.join(" ")
  let kind = ts.SyntaxKind[node.kind]
  let name = declName(ts, node)
  let sig = ""
  let importInfo: ImportInfo | null = null
  const n = (x: TS.Node | undefined) => (x === undefined ? "" : normTokens(ts, x.getText(sf), jsx).join(" "))
  const nl = (xs: ReadonlyArray<TS.Node> | undefined) => (xs ?? []).map((x) => n(x)).join(",")
  if (ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node) || ts.isMethodSignature(node) || ts.isConstructorDeclaration(node)) {
    kind = ts.isConstructorDeclaration(node) ? "constructor" : ts.isFunctionDeclaration(node) ? "function" : "method"
    sig = `${hasExport(ts, node) ? "export " : ""}<${nl(node.typeParameters)}>(${nl(node.parameters)}):${n(node.type)}`
    if (ts.isConstructorDeclaration(node)) name = "constructor"
  } else if (ts.isClassDeclaration(node)) {
    kind = "class"
    sig = `${hasExport(ts, node) ? "export " : ""}<${nl(node.typeParameters)}>${nl(node.heritageClauses)}`
  } else if (ts.isInterfaceDeclaration(node)) {
    kind = "interface"
    sig = norm
  } else if (ts.isTypeAliasDeclaration(node)) {
    kind = "type"
    sig = norm
  } else if (ts.isEnumDeclaration(node)) {
    kind = "enum"
    sig = norm
  } else if (ts.isModuleDeclaration(node)) {
    kind = "namespace"
  } else if (ts.isVariableStatement(node)) {
    kind = "variable"
    const decls = node.declarationList.declarations
    name = decls.map((d) => d.name.getText(sf)).join(",")
    sig = `${hasExport(ts, node) ? "export " : ""}${decls.map((d) => {
      const init = d.initializer
      const fn = init !== undefined && (ts.isArrowFunction(init) || ts.isFunctionExpression(init))
        ? `(${nl(init.parameters)}):${n(init.type)}`
        : ""
      return `${n(d.name)}:${n(d.type)}${fn}`
    }).join(";")}`
  } else if (ts.isImportDeclaration(node)) {
    kind = "import"
    const spec = ts.isStringLiteral(node.moduleSpecifier) ? node.moduleSpecifier.text : n(node.moduleSpecifier)
    name = spec
    importInfo = importInfoOf(ts, node, text, sf)
    const clause = node.importClause
    const form = clause === undefined ? "side-effect" : clause.isTypeOnly ? "type" : "value"
    kind = `import-${form}`
  } else if (ts.isExportDeclaration(node)) {
    kind = node.moduleSpecifier !== undefined ? "export-from" : "export-list"
    name = node.moduleSpecifier !== undefined && ts.isStringLiteral(node.moduleSpecifier) ? node.moduleSpecifier.text : null
  } else if (ts.isExportAssignment(node)) {
    kind = "export-default"
    name = "default"
  } else if (ts.isPropertyDeclaration(node) || ts.isPropertySignature(node)) {
    kind = "property"
    sig = `${n((node as TS.PropertyDeclaration).type)}`
  } else if (ts.isGetAccessorDeclaration(node)) {
    kind = "get"
    sig = n(node.type)
  } else if (ts.isSetAccessorDeclaration(node)) {
    kind = "set"
    sig = nl(node.parameters)
  } else if (ts.isEnumMember(node)) {
    kind = "enum-member"
  }
  const key = name !== null ? `${kind}:${name}` : `${kind}:${norm}`
  let shape = norm
  if (name !== null && !kind.startsWith("import") && kind !== "export-from") {
    const nameTokens = new Set(name.split(","))
    shape = tokens.map((t) => (nameTokens.has(t) ? "§" : t)).join(" ")
  }
  let container: Entity["container"] = null
  const members = ts.isClassDeclaration(node) || ts.isInterfaceDeclaration(node) || ts.isEnumDeclaration(node)
    ? (node.members as TS.NodeArray<TS.Node>)
    : ts.isModuleDeclaration(node) && node.body !== undefined && ts.isModuleBlock(node.body)
    ? node.body.statements
    : undefined
  if (members !== undefined) {
    const start = node.getFullStart()
    const list = entityList(ts, sf, members, jsx)
    const footerStart = members.length > 0 ? members[members.length - 1]!.getEnd() : members.pos
    container = {
      header: sf.text.slice(start, members.pos),
      footer: sf.text.slice(footerStart, node.getEnd()),
      members: list
    }
  }
  return {
    key,
    entity: {
      kind,
      name,
      start: node.getFullStart(),
      end: node.getEnd(),
      text,
      norm,
      shape,
      sig,
      idents: collectIdents(ts, node),
      container,
      importInfo
    }
  }
}

const entityList = (ts: Ts, sf: TS.SourceFile, nodes: ReadonlyArray<TS.Node>, jsx: boolean): Array<Entity> => {
  const seen = new Map<string, number>()
  return nodes.map((node) => {
    const { entity, key } = entityOf(ts, sf, node, jsx)
    const count = seen.get(key) ?? 0
    seen.set(key, count + 1)
    return { ...entity, key: count === 0 ? key : `${key}#${count}` }
  })
}

/** Parse a file into its entities. */
export const parseFile = (ts: Ts, fileName: string, text: string): ParsedFile =>
  cached((c) => c.files, scriptKind(ts, fileName), text, () => parseFileNow(ts, fileName, text))

const parseFileNow = (ts: Ts, fileName: string, text: string): ParsedFile => {
  const sf = parseSource(ts, fileName, text)
  const jsx = /\.(t|j)sx$/i.test(fileName)
  const entities = entityList(ts, sf, sf.statements, jsx)
  const last = sf.statements[sf.statements.length - 1]
  return {
    text,
    entities,
    eof: text.slice(last !== undefined ? last.getEnd() : 0),
    syntaxErrors: ((sf as unknown as { parseDiagnostics?: ReadonlyArray<unknown> }).parseDiagnostics ?? []).length
  }
}

/** How one side changed the entities of a list, relative to the base. */
export interface SideChanges {
  readonly added: ReadonlyArray<Entity>
  readonly removed: ReadonlyArray<Entity>
  /** base key → the side's entity, for entities whose text changed beyond formatting. */
  readonly modified: ReadonlyMap<string, Entity>
  /** base keys of entities whose only change is formatting or comments. */
  readonly reformatted: ReadonlySet<string>
  /** base key → new entity, for entities renamed without other change. */
  readonly renamed: ReadonlyMap<string, Entity>
  /** base keys of entities whose position among the others changed. */
  readonly moved: ReadonlySet<string>
  /** base keys whose signature changed. */
  readonly signatureChanged: ReadonlySet<string>
  /** side key → base key, for every entity of the side that has a counterpart in the base. */
  readonly identity: ReadonlyMap<string, string>
}

const lcsKeys = (a: ReadonlyArray<string>, b: ReadonlyArray<string>): Set<string> => {
  // The common head and tail are part of every longest common subsequence; only the middle needs the table.
  let head = 0
  while (head < a.length && head < b.length && a[head] === b[head]) head++
  let tail = 0
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++
  if (head === 0 && tail === 0) return lcsTable(a, b)
  const out = lcsTable(a.slice(head, a.length - tail), b.slice(head, b.length - tail))
  for (const k of a.slice(0, head)) out.add(k)
  for (const k of a.slice(a.length - tail)) out.add(k)
  return out
}

const lcsTable = (a: ReadonlyArray<string>, b: ReadonlyArray<string>): Set<string> => {
  const n = a.length
  const m = b.length
  const dp = Array.from({ length: n + 1 }, () => new Int32Array(m + 1))
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      dp[i]![j] = a[i] === b[j] ? dp[i + 1]![j + 1]! + 1 : Math.max(dp[i + 1]![j]!, dp[i]![j + 1]!)
    }
  }
  const out = new Set<string>()
  let i = 0
  let j = 0
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      out.add(a[i]!)
      i++
      j++
    } else if (dp[i + 1]![j]! >= dp[i]![j + 1]!) i++
    else j++
  }
  return out
}

/** Changes already computed, by the (unchanging) entity lists of one parse each: several strategies ask. */
const changesOf = new WeakMap<ReadonlyArray<Entity>, WeakMap<ReadonlyArray<Entity>, SideChanges>>()

export const sideChanges = (base: ReadonlyArray<Entity>, side: ReadonlyArray<Entity>): SideChanges => {
  let bySide = changesOf.get(base)
  if (bySide === undefined) changesOf.set(base, bySide = new WeakMap())
  let c = bySide.get(side)
  if (c === undefined) bySide.set(side, c = sideChangesNow(base, side))
  return c
}

const sideChangesNow = (base: ReadonlyArray<Entity>, side: ReadonlyArray<Entity>): SideChanges => {
  const baseByKey = new Map(base.map((e) => [e.key, e]))
  const sideByKey = new Map(side.map((e) => [e.key, e]))
  const identity = new Map<string, string>()
  for (const e of side) if (baseByKey.has(e.key)) identity.set(e.key, e.key)
  const removedCandidates = base.filter((e) => !sideByKey.has(e.key))
  const addedCandidates = side.filter((e) => !baseByKey.has(e.key))
  const renamed = new Map<string, Entity>()
  for (const r of removedCandidates) {
    if (r.name === null || r.kind.startsWith("import")) continue
    const match = addedCandidates.find((a) => a.kind === r.kind && a.shape === r.shape && !identity.has(a.key))
    if (match !== undefined) {
      renamed.set(r.key, match)
      identity.set(match.key, r.key)
    }
  }
  const added = side.filter((e) => !identity.has(e.key))
  const removed = base.filter((e) => !sideByKey.has(e.key) && !renamed.has(e.key))
  const modified = new Map<string, Entity>()
  const reformatted = new Set<string>()
  const signatureChanged = new Set<string>()
  for (const e of side) {
    const bk = identity.get(e.key)
    if (bk === undefined) continue
    const b = baseByKey.get(bk)!
    if (b.text === e.text) continue
    if (b.norm === e.norm) reformatted.add(bk)
    else if (!(renamed.has(bk) && b.shape === e.shape)) modified.set(bk, e)
    if (b.sig !== e.sig && !renamed.has(bk)) signatureChanged.add(bk)
  }
  const matched = new Set(identity.values())
  const baseOrder = base.map((e) => e.key).filter((k) => matched.has(k))
  const sideOrder = side.map((e) => identity.get(e.key)).filter((k): k is string => k !== undefined)
  const stable = lcsKeys(baseOrder, sideOrder)
  const moved = new Set(baseOrder.filter((k) => !stable.has(k)))
  return { added, removed, modified, reformatted, renamed, moved, signatureChanged, identity }
}

// ---------------------------------------------------------------------------------------------------
// Symbol-level merge

export interface SymbolMerge {
  readonly ok: boolean
  readonly text: string
  readonly notes: ReadonlyArray<string>
  readonly failures: ReadonlyArray<string>
  /** Old name → new name, for renames whose leftover references were rewritten. */
  readonly rewrites: ReadonlyArray<readonly [string, string]>
}

const pick3 = (b: string, o: string, t: string): string | null => {
  if (o === b) return t
  if (t === b || o === t) return o
  const lines = diff3(splitLines(b), splitLines(o), splitLines(t))
  if (!hasConflicts(lines)) return lines.flatMap((c) => (c.kind === "ok" ? c.items : [])).join("")
  const tok = mergeTokens(b, o, t)
  return tok.conflicts === 0 ? tok.text : null
}

const renderImport = (info: ImportInfo, named: ReadonlyArray<string> | null, defaultName: string | null, namespace: string | null) => {
  const parts: Array<string> = []
  if (defaultName !== null) parts.push(defaultName)
  if (namespace !== null) parts.push(`* as ${namespace}`)
  if (named !== null) {
    if (info.multiline) {
      parts.push(`{\n${named.map((x) => info.indent + x).join(",\n")}${info.trailingComma ? "," : ""}\n}`)
    } else parts.push(`{ ${named.join(", ")} }`)
  }
  const q = info.quote
  return `${info.leading}import ${info.typeOnly ? "type " : ""}${parts.join(", ")} from ${q}${info.module}${q}${info.semicolon ? ";" : ""}`
}

/** Three-way merge of an ordered list of names: removals and additions of both sides. */
export const mergeNameLists = (
  b: ReadonlyArray<string>,
  o: ReadonlyArray<string>,
  t: ReadonlyArray<string>
): Array<string> => {
  const removed = new Set([...b.filter((x) => !o.includes(x)), ...b.filter((x) => !t.includes(x))])
  const out = o.filter((x) => !removed.has(x))
  t.forEach((x, i) => {
    if (out.includes(x) || b.includes(x)) return
    let anchor = -1
    for (let j = i - 1; j >= 0 && anchor < 0; j--) anchor = out.indexOf(t[j]!)
    // After ours' own additions at the same place: ours first, then theirs.
    let at = anchor + 1
    while (at < out.length && !b.includes(out[at]!) && !t.includes(out[at]!)) at++
    out.splice(at, 0, x)
  })
  return out
}

const mergeImports = (b: Entity | undefined, o: Entity, t: Entity): string | null => {
  const bi = b?.importInfo ?? null
  const oi = o.importInfo
  const ti = t.importInfo
  if (oi === null || ti === null) return null
  if (oi.typeOnly !== ti.typeOnly) return null
  const scalar = (bx: string | null, ox: string | null, tx: string | null) => (ox === bx ? tx : tx === bx ? ox : ox === tx ? ox : undefined)
  const def = scalar(bi?.defaultName ?? null, oi.defaultName, ti.defaultName)
  const ns = scalar(bi?.namespace ?? null, oi.namespace, ti.namespace)
  if (def === undefined || ns === undefined) return null
  const named = oi.named === null && ti.named === null
    ? null
    : mergeNameLists(bi?.named ?? [], oi.named ?? [], ti.named ?? [])
  // Keep ours' order when ours' list was sorted and the result can stay sorted.
  const sorted = oi.named !== null && oi.named.length > 1 && oi.named.every((x, i, xs) => i === 0 || xs[i - 1]!.localeCompare(x) <= 0)
  const finalNamed = named !== null && sorted ? [...named].sort((x, y) => x.localeCompare(y)) : named
  return renderImport(oi, finalNamed !== null && finalNamed.length === 0 && (def !== null || ns !== null) ? null : finalNamed, def, ns)
}

interface MergeCtx {
  readonly notes: Array<string>
  readonly failures: Array<string>
  /** Which side's order to follow when both orders are possible. */
  readonly prefer: "ours" | "theirs"
}

const label = (e: Entity) => (e.name !== null ? `${e.kind.replace(/-.*$/, "")} ${e.name}` : e.kind)

const mergeEntity = (ctx: MergeCtx, b: Entity | undefined, o: Entity | undefined, t: Entity | undefined): string | null => {
  if (b === undefined) {
    if (o !== undefined && t !== undefined) {
      if (o.norm === t.norm) return o.text
      if (o.importInfo !== null && t.importInfo !== null) {
        const merged = mergeImports(undefined, o, t)
        if (merged !== null) {
          ctx.notes.push(`merged the imports of "${o.importInfo.module}" from both sides`)
          return merged
        }
      }
      ctx.failures.push(`${label(o)} was added on both sides with different contents`)
      return null
    }
    return (o ?? t)!.text
  }
  if (o === undefined && t === undefined) return ""
  if (o === undefined || t === undefined) {
    const kept = (o ?? t)!
    if (kept.norm === b.norm) return ""
    ctx.failures.push(`${label(b)} was deleted on one side and changed on the other`)
    return null
  }
  if (o.text === b.text) return t.text
  if (t.text === b.text || o.text === t.text) return o.text
  if (o.importInfo !== null && t.importInfo !== null) {
    const merged = mergeImports(b, o, t)
    if (merged !== null) {
      ctx.notes.push(`merged the imports of "${o.importInfo.module}" from both sides`)
      return merged
    }
  }
  if (b.container !== null && o.container !== null && t.container !== null) {
    const header = pick3(b.container.header, o.container.header, t.container.header)
    const footer = pick3(b.container.footer, o.container.footer, t.container.footer)
    const members = mergeLists(ctx, b.container.members, o.container.members, t.container.members)
    if (header !== null && footer !== null && members !== null) {
      if (o.norm !== b.norm && t.norm !== b.norm) ctx.notes.push(`merged the members of ${label(b)} one by one`)
      return header + members + footer
    }
    if (header === null || footer === null) ctx.failures.push(`both sides changed the declaration of ${label(b)}`)
    return null
  }
  const merged = pick3(b.text, o.text, t.text)
  if (merged === null) ctx.failures.push(`both sides changed ${label(b)} in the same place`)
  else if (o.norm !== b.norm && t.norm !== b.norm) ctx.notes.push(`combined both sides' edits inside ${label(b)}`)
  return merged
}

const mergeLists = (
  ctx: MergeCtx,
  base: ReadonlyArray<Entity>,
  ours: ReadonlyArray<Entity>,
  theirs: ReadonlyArray<Entity>
): string | null => {
  const oc = sideChanges(base, ours)
  const tc = sideChanges(base, theirs)
  const baseByKey = new Map(base.map((e) => [e.key, e]))
  // Identity of an entity: its base key, or for an added entity its own key.
  const idOf = (c: SideChanges, e: Entity) => c.identity.get(e.key) ?? `+${e.key}`
  const oIds = ours.map((e) => idOf(oc, e))
  const tIds = theirs.map((e) => idOf(tc, e))
  const oBy = new Map(ours.map((e, i) => [oIds[i]!, e]))
  const tBy = new Map(theirs.map((e, i) => [tIds[i]!, e]))
  // Follow the order of the side that reorganised the list (the other side's order is the base's).
  const skeletonIsTheirs = (tc.moved.size > 0 && oc.moved.size === 0) || (ctx.prefer === "theirs" && oc.moved.size === 0)
  const [skel, other] = skeletonIsTheirs ? [tIds, oIds] : [oIds, tIds]
  const order = [...skel]
  const inOrder = new Set(order)
  const added = new Set(skel.filter((id) => id.startsWith("+")))
  let lastInserted: string | undefined
  other.forEach((id, i) => {
    if (inOrder.has(id)) {
      lastInserted = undefined
      return
    }
    const inBase = !id.startsWith("+")
    // An entity of the base that the skeleton side deleted stays where the base had it.
    let at: number
    if (lastInserted !== undefined) at = order.indexOf(lastInserted) + 1
    else {
      let anchor = -1
      for (let j = i - 1; j >= 0 && anchor < 0; j--) anchor = order.indexOf(other[j]!)
      at = anchor + 1
      while (at < order.length && added.has(order[at]!)) at++
    }
    void inBase
    order.splice(at, 0, id)
    inOrder.add(id)
    lastInserted = id
  })
  // Entities of the base that neither side has are gone; keep the ones one side still has.
  const parts: Array<string> = []
  let failed = false
  for (const id of order) {
    const b = id.startsWith("+") ? undefined : baseByKey.get(id)
    const text = mergeEntity(ctx, b, oBy.get(id), tBy.get(id))
    if (text === null) failed = true
    else parts.push(text)
  }
  if (oc.moved.size > 0 && tc.moved.size > 0) ctx.notes.push("both sides reordered declarations; kept ours' order")
  return failed ? null : parts.join("")
}

/** Rewrite references to names that one side renamed and that are no longer declared in `text`. */
export const rewriteRenamed = (
  ts: Ts,
  fileName: string,
  text: string,
  renames: ReadonlyArray<readonly [string, string]>,
  /** The names come from another module: rewrite the import specifiers too. */
  acrossFiles = false
): { readonly text: string; readonly applied: Array<readonly [string, string]> } => {
  if (renames.length === 0) return { text, applied: [] }
  const sf = parseSource(ts, fileName, text)
  if (acrossFiles) {
    const map = new Map(renames)
    const edits: Array<[number, number, string]> = []
    const aliased = new Set<string>()
    const renamedLocals = new Set<string>()
    const visitImports = (n: TS.Node) => {
      if (ts.isImportSpecifier(n)) {
        const imported = (n.propertyName ?? n.name) as TS.Identifier
        const to = map.get(imported.text)
        if (to !== undefined) {
          edits.push([imported.getStart(sf), imported.getEnd(), to])
          if (n.propertyName !== undefined) aliased.add(imported.text)
          else renamedLocals.add(imported.text)
        }
        return
      }
      ts.forEachChild(n, visitImports)
    }
    visitImports(sf)
    const visitUses = (n: TS.Node) => {
      if (ts.isIdentifier(n) && renamedLocals.has(n.text) && !ts.isImportSpecifier(n.parent)) {
        const p = n.parent
        const isMemberName = (ts.isPropertyAccessExpression(p) && p.name === n) ||
          (ts.isPropertyAssignment(p) && p.name === n) || (ts.isQualifiedName(p) && p.right === n)
        if (!isMemberName) edits.push([n.getStart(sf), n.getEnd(), map.get(n.text)!])
      }
      ts.forEachChild(n, visitUses)
    }
    visitUses(sf)
    let out = text
    for (const [st, en, r] of edits.sort((x, y) => y[0] - x[0])) out = out.slice(0, st) + r + out.slice(en)
    return { text: out, applied: renames.filter(([f]) => renamedLocals.has(f) || aliased.has(f)) }
  }
  const declared = new Set<string>()
  const visitDecl = (n: TS.Node) => {
    const name = (n as { name?: TS.Node }).name
    if (name !== undefined && ts.isIdentifier(name) && (ts.isDeclarationStatement(n) || ts.isVariableDeclaration(n) || ts.isImportSpecifier(n) || ts.isImportClause(n) || ts.isNamespaceImport(n) || ts.isParameter(n) || ts.isBindingElement(n))) {
      declared.add(name.text)
    }
    ts.forEachChild(n, visitDecl)
  }
  visitDecl(sf)
  const active = renames.filter(([from, to]) => !declared.has(from) && declared.has(to))
  if (active.length === 0) return { text, applied: [] }
  const map = new Map(active)
  const edits: Array<[number, number, string]> = []
  const visit = (n: TS.Node) => {
    if (ts.isIdentifier(n) && map.has(n.text)) {
      const p = n.parent
      const isMemberName = (ts.isPropertyAccessExpression(p) && p.name === n) ||
        (ts.isPropertyAssignment(p) && p.name === n) || (ts.isQualifiedName(p) && p.right === n)
      if (!isMemberName) edits.push([n.getStart(sf), n.getEnd(), map.get(n.text)!])
    }
    ts.forEachChild(n, visit)
  }
  visit(sf)
  let out = text
  for (const [s, e, r] of edits.sort((x, y) => y[0] - x[0])) out = out.slice(0, s) + r + out.slice(e)
  return { text: out, applied: edits.length > 0 ? active : [] }
}

/** Merge three versions declaration by declaration. */
export const symbolMerge = (
  ts: Ts,
  fileName: string,
  base: string,
  ours: string,
  theirs: string,
  prefer: "ours" | "theirs" = "ours"
): SymbolMerge => {
  const pb = parseFile(ts, fileName, base)
  const po = parseFile(ts, fileName, ours)
  const pt = parseFile(ts, fileName, theirs)
  const ctx: MergeCtx = { notes: [], failures: [], prefer }
  if (po.syntaxErrors > 0 || pt.syntaxErrors > 0) {
    return { ok: false, text: "", notes: [], failures: ["one side does not parse"], rewrites: [] }
  }
  const body = mergeLists(ctx, pb.entities, po.entities, pt.entities)
  const eof = pick3(pb.eof, po.eof, pt.eof) ?? po.eof
  if (body === null) return { ok: false, text: "", notes: ctx.notes, failures: ctx.failures, rewrites: [] }
  const renames: Array<readonly [string, string]> = []
  for (const c of [sideChanges(pb.entities, po.entities), sideChanges(pb.entities, pt.entities)]) {
    for (const [bk, e] of c.renamed) {
      const b = pb.entities.find((x) => x.key === bk)
      if (b?.name != null && e.name !== null && !b.name.includes(",")) renames.push([b.name, e.name])
    }
  }
  const rewritten = rewriteRenamed(ts, fileName, body + eof, renames)
  for (const [from, to] of rewritten.applied) ctx.notes.push(`renamed the remaining uses of ${from} to ${to}`)
  return { ok: true, text: rewritten.text, notes: ctx.notes, failures: [], rewrites: rewritten.applied }
}

/** Exported top-level names of `base` that `side` renamed (to the new name) or deleted (null). */
export const exportedGone = (ts: Ts, fileName: string, base: string, side: string): Array<readonly [string, string | null]> => {
  const pb = parseFile(ts, fileName, base)
  const ps = parseFile(ts, fileName, side)
  if (pb.syntaxErrors > 0 || ps.syntaxErrors > 0) return []
  const c = sideChanges(pb.entities, ps.entities)
  const exported = (e: Entity) => e.norm.startsWith("export ") && e.name !== null && !e.name.includes(",") && !e.kind.startsWith("import") && !e.kind.startsWith("export")
  return [
    ...[...c.renamed].flatMap(([k, e]) => {
      const b = pb.entities.find((x) => x.key === k)!
      return exported(b) && e.name !== null ? [[b.name!, e.name] as const] : []
    }),
    ...c.removed.filter(exported).map((e) => [e.name!, null] as const)
  ]
}

/** How often each of `names` is used as an identifier in `text` (0 when it does not parse). */
export const identifierUses = (ts: Ts, fileName: string, text: string, names: ReadonlyArray<string>): Map<string, number> => {
  const p = parseFile(ts, fileName, text)
  const out = new Map(names.map((n) => [n, 0]))
  for (const e of p.entities) for (const n of names) out.set(n, out.get(n)! + (e.idents.get(n) ?? 0))
  return out
}
