/**
 * The MCP server registration (user scope, stdio) in `~/.claude.json`: through `claude mcp add/remove` when
 * the claude CLI is on PATH (and checked in the file afterwards), else by editing the file. An entry of another
 * program under the same name is replaced, kept in the install record, and restored by uninstall.
 *
 * @since 0.2.0
 */
import { Effect, Either, Option } from "effect"
import { InstallError } from "../../Errors.js"
import { jsonEqual, type JsonFile, readJsonObject, removeEmptyDirs, removeFile, renderJson, writeAtomic } from "../../platform/files.js"
import { type CliAction, shellLine, type Step, unchanged } from "./apply.js"
import type { InstallContext } from "./context.js"
import type { Manifest, McpRecord } from "./manifest.js"
import { type ArtifactPaths, isRecord, MCP_SERVER_NAME, type PieceStatus } from "./model.js"

/** The MCP registration entry, in the shape `claude mcp add` writes for a stdio server. */
export const mcpEntry = (server: ArtifactPaths["mcpServer"]) => ({
  type: "stdio",
  command: server.command,
  args: [...server.args],
  env: {}
})

/** Same server: type (default stdio), command, args and env (absent = empty). */
export const sameMcpEntry = (a: unknown, b: unknown): boolean => {
  if (!isRecord(a) || !isRecord(b)) return false
  const norm = (e: Record<string, unknown>) => ({
    type: e.type ?? "stdio",
    command: e.command,
    args: e.args ?? [],
    env: e.env ?? {}
  })
  return jsonEqual(norm(a), norm(b))
}

const mcpServersOf = (v: Record<string, unknown>) => (isRecord(v.mcpServers) ? v.mcpServers : undefined)

const describeEntry = (e: ReturnType<typeof mcpEntry>) => `${e.command} ${e.args.join(" ")}`

/** Check the server's files, read `~/.claude.json`, and say whether the claude CLI makes the change. */
const prepareInstall = (ctx: InstallContext) =>
  Effect.gen(function*() {
    const { mcpServer } = ctx.artifacts
    yield* ctx.requireExecutable(mcpServer.command, "the MCP server command")
    const script = mcpServer.args.find((a) => a.startsWith("/"))
    if (script !== undefined) yield* ctx.requireFile(script, "the MCP server script")
    const doc = yield* readJsonObject(ctx.fs, ctx.claudeJson)
    if (doc.value.mcpServers !== undefined && !isRecord(doc.value.mcpServers)) {
      return yield* new InstallError({ reason: "FileInvalid", path: ctx.claudeJson, detail: `"mcpServers" is not an object` })
    }
    return { doc, cli: yield* ctx.claudeCli }
  })

/** Register the server (or leave an identical registration as it is). */
export const planMcpInstall = (ctx: InstallContext, m: Manifest, dryRun: boolean) =>
  Effect.gen(function*() {
    const { doc, cli } = yield* prepareInstall(ctx)
    const current = mcpEntry(ctx.artifacts.mcpServer)
    const existing = mcpServersOf(doc.value)?.[MCP_SERVER_NAME]
    const base = { piece: "mcp" as const, target: ctx.claudeJson, via: Option.isSome(cli) ? "claude-cli" as const : "file" as const }
    if (existing !== undefined && sameMcpEntry(existing, current)) {
      const step = unchanged({
        ...base,
        action: "unchanged",
        detail: `MCP server "${MCP_SERVER_NAME}" already registered (${describeEntry(current)})`
      })
      const fresh: McpRecord = { file: ctx.claudeJson, entries: [current], createdFile: false, createdDirs: [], createdKeys: [] }
      return m.mcp !== undefined ? step : { ...step, record: (mm: Manifest) => ({ ...mm, mcp: fresh }) }
    }
    const ours = existing !== undefined && (m.mcp?.entries ?? []).some((e) => sameMcpEntry(e, existing))
    const replaced = existing !== undefined && !ours ? existing : m.mcp?.replaced
    const record: Step["record"] = (mm, createdDirs) => ({
      ...mm,
      mcp: {
        file: ctx.claudeJson,
        entries: [...(mm.mcp?.entries ?? []).filter((e) => !sameMcpEntry(e, current)), current],
        ...(replaced !== undefined ? { replaced } : {}),
        createdFile: mm.mcp?.createdFile ?? !doc.exists,
        createdDirs: mm.mcp?.createdDirs ?? createdDirs,
        createdKeys: mm.mcp?.createdKeys ?? (mcpServersOf(doc.value) === undefined ? ["mcpServers"] : [])
      }
    })
    const detail = existing === undefined
      ? `MCP server "${MCP_SERVER_NAME}" registered (user scope, stdio): ${describeEntry(current)}`
      : ours
      ? `MCP server "${MCP_SERVER_NAME}" updated to ${describeEntry(current)}`
      : `MCP server "${MCP_SERVER_NAME}" replaced (the previous entry is kept in the install record and restored by uninstall): ${describeEntry(current)}`
    const change = { ...base, action: existing === undefined ? "created" as const : "updated" as const, detail }
    if (Option.isSome(cli)) {
      const claude = cli.value
      const actions: Array<CliAction> = []
      if (existing !== undefined) {
        actions.push({ argv: [claude, "mcp", "remove", MCP_SERVER_NAME, "-s", "user"], file: doc, verify: () => true })
      }
      actions.push({
        argv: [claude, "mcp", "add", "-s", "user", MCP_SERVER_NAME, "--", current.command, ...current.args],
        file: doc,
        verify: (after) => sameMcpEntry(mcpServersOf(after)?.[MCP_SERVER_NAME], current)
      })
      return {
        change: { ...change, detail: dryRun ? `${detail} (via: ${shellLine(actions.map((a) => a.argv))})` : detail },
        cli: actions,
        record
      } satisfies Step
    }
    const value = structuredClone(doc.value)
    value.mcpServers = { ...(mcpServersOf(value) ?? {}), [MCP_SERVER_NAME]: current }
    return {
      change,
      edit: {
        piece: "mcp",
        file: doc,
        text: renderJson(doc, value),
        ensureDir: ctx.path.dirname(ctx.claudeJson),
        dirMode: 0o700,
        mode: 0o600
      },
      record
    } satisfies Step
  })

const dropRecord: Step["record"] = (mm) => {
  const { mcp: _, ...rest } = mm
  return rest
}

/** After `claude mcp remove`, which leaves an empty `mcpServers` (and file) behind: drop what install created. */
const tidyAfterCli = (ctx: InstallContext, rec: McpRecord) =>
  Effect.gen(function*() {
    const after = yield* readJsonObject(ctx.fs, ctx.claudeJson)
    const value = structuredClone(after.value)
    const servers = mcpServersOf(value)
    if (servers !== undefined && Object.keys(servers).length === 0 && rec.createdKeys.includes("mcpServers")) {
      delete value.mcpServers
    }
    if (rec.createdFile && Object.keys(value).length === 0) {
      yield* removeFile(ctx.fs, after)
      yield* removeEmptyDirs(ctx.fs, rec.createdDirs)
    } else if (!jsonEqual(value, after.value)) {
      yield* writeAtomic(ctx.fs, ctx.path, after, renderJson(after, value), 0o600)
    }
  })

const uninstallViaCli = (ctx: InstallContext, claude: string, doc: JsonFile, rec: McpRecord | undefined) => {
  const replaced = rec?.replaced
  const actions: Array<CliAction> = [{
    argv: [claude, "mcp", "remove", MCP_SERVER_NAME, "-s", "user"],
    file: doc,
    verify: (after) => replaced !== undefined || mcpServersOf(after)?.[MCP_SERVER_NAME] === undefined
  }]
  if (replaced !== undefined) {
    actions.push({
      argv: [claude, "mcp", "add-json", "-s", "user", MCP_SERVER_NAME, JSON.stringify(replaced)],
      file: doc,
      verify: (after) => jsonEqual(mcpServersOf(after)?.[MCP_SERVER_NAME], replaced)
    })
  }
  return {
    action: replaced !== undefined ? "restored" as const : "removed" as const,
    detail: replaced !== undefined ? "MCP server entry restored to what it was before install" : "MCP server registration removed",
    cli: actions,
    tidy: replaced !== undefined || rec === undefined ? Effect.void : tidyAfterCli(ctx, rec)
  }
}

const uninstallInFile = (doc: JsonFile, rec: McpRecord | undefined) => {
  const replaced = rec?.replaced
  const value = structuredClone(doc.value)
  const servers = { ...(mcpServersOf(value) ?? {}) }
  delete servers[MCP_SERVER_NAME]
  if (replaced !== undefined) servers[MCP_SERVER_NAME] = replaced
  if (Object.keys(servers).length === 0 && (rec === undefined || rec.createdKeys.includes("mcpServers"))) delete value.mcpServers
  else value.mcpServers = servers
  const deleteFile = rec?.createdFile === true && Object.keys(value).length === 0
  return {
    action: replaced !== undefined ? "restored" as const : "removed" as const,
    detail: replaced !== undefined
      ? "MCP server entry restored to what it was before install"
      : `MCP server registration removed${deleteFile ? " (and the file install created)" : ""}`,
    edit: {
      piece: "mcp" as const,
      file: doc,
      text: deleteFile ? null : renderJson(doc, value),
      cleanupDirs: deleteFile ? rec?.createdDirs : undefined
    }
  }
}

/** Remove the registration parallel-cc made (restoring a replaced one); another program's is left alone. */
export const planMcpUninstall = (ctx: InstallContext, m: Manifest) =>
  Effect.gen(function*() {
    const rec = m.mcp
    const cli = yield* ctx.claudeCli
    const base = { piece: "mcp" as const, target: ctx.claudeJson, via: Option.isSome(cli) ? "claude-cli" as const : "file" as const }
    const doc = yield* readJsonObject(ctx.fs, ctx.claudeJson)
    const existing = mcpServersOf(doc.value)?.[MCP_SERVER_NAME]
    if (!doc.exists || existing === undefined) {
      return { ...unchanged({ ...base, action: "absent", detail: `no MCP server named "${MCP_SERVER_NAME}"` }), record: dropRecord }
    }
    const ours = [mcpEntry(ctx.artifacts.mcpServer), ...(rec?.entries ?? [])].some((e) => sameMcpEntry(e, existing))
    if (!ours) {
      const detail = `the MCP server "${MCP_SERVER_NAME}" registered there is not the one parallel-cc installed; left in place`
      return { ...unchanged({ ...base, action: "skipped", detail }), record: dropRecord }
    }
    if (Option.isSome(cli)) {
      const { action, cli: actions, detail, tidy } = uninstallViaCli(ctx, cli.value, doc, rec)
      return { change: { ...base, action, detail }, cli: actions, tidy, record: dropRecord } satisfies Step
    }
    const { action, detail, edit } = uninstallInFile(doc, rec)
    return { change: { ...base, action, detail }, edit, record: dropRecord } satisfies Step
  })

/** The registration in `~/.claude.json`. Never fails. */
export const mcpStatus = (ctx: InstallContext, m: Manifest): Effect.Effect<PieceStatus> =>
  Effect.gen(function*() {
    const current = mcpEntry(ctx.artifacts.mcpServer)
    const base = { piece: "mcp" as const, location: ctx.claudeJson }
    const doc = yield* readJsonObject(ctx.fs, ctx.claudeJson).pipe(Effect.either)
    if (Either.isLeft(doc)) return { ...base, state: "error" as const, detail: doc.left.message }
    const existing = mcpServersOf(doc.right.value)?.[MCP_SERVER_NAME]
    if (existing === undefined) {
      return { ...base, state: "missing" as const, detail: `no MCP server named "${MCP_SERVER_NAME}" (user scope)` }
    }
    if (sameMcpEntry(existing, current)) {
      const script = current.args.find((a) => a.startsWith("/"))
      const missing = !(yield* ctx.requireExecutable(current.command, "").pipe(Effect.isSuccess))
        ? current.command
        : script !== undefined && !(yield* ctx.exists(script))
        ? script
        : undefined
      return missing === undefined
        ? { ...base, state: "installed" as const, detail: describeEntry(current) }
        : { ...base, state: "broken" as const, detail: `${missing} does not exist` }
    }
    if ((m.mcp?.entries ?? []).some((e) => sameMcpEntry(e, existing))) {
      return { ...base, state: "outdated" as const, detail: "registered with another path; run install --mcp again" }
    }
    const cmd = isRecord(existing) ? `${String(existing.command ?? existing.url ?? "?")}` : "?"
    return {
      ...base,
      state: "conflict" as const,
      detail: `another server is registered as "${MCP_SERVER_NAME}" (${cmd}); install --mcp replaces it`
    }
  })
