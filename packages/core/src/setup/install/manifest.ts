/**
 * The install manifest (`<dataDir>/install.json`): what install added — hook commands, created files,
 * directories and keys, the alias separators, the MCP entries and any entry it replaced — so that uninstall
 * removes exactly that, and a later release recognises what an earlier one installed. The format is
 * version 1 since the first release; fields are only ever added as optional.
 *
 * @since 0.2.0
 */
import { Effect, Option, Schema } from "effect"
import type { InstallError } from "../../Errors.js"
import { makeDirs, readText, removeFile, writeAtomic } from "../../platform/files.js"
import type { InstallContext } from "./context.js"
import { Shells } from "./model.js"

export const HookRecord = Schema.Struct({
  file: Schema.String,
  scope: Schema.Literal("global", "local"),
  /** Every hook command install has written into this file, in any release (to recognise and remove them). */
  commands: Schema.Array(Schema.String),
  createdFile: Schema.Boolean,
  createdDirs: Schema.Array(Schema.String),
  /** Keys install created (`hooks`, `hooks.<Event>`), dropped by uninstall when left empty. */
  createdKeys: Schema.Array(Schema.String),
  /** Optional hook groups the user opted out of (`install --hooks --no-worktree-provider`). */
  without: Schema.optional(Schema.Array(Schema.String))
})
export const AliasRecord = Schema.Struct({
  file: Schema.String,
  shell: Schema.Literal(...Shells),
  separator: Schema.String,
  createdFile: Schema.Boolean,
  createdDirs: Schema.Array(Schema.String)
})
export const McpRecord = Schema.Struct({
  file: Schema.String,
  entries: Schema.Array(Schema.Unknown),
  replaced: Schema.optional(Schema.Unknown),
  createdFile: Schema.Boolean,
  createdDirs: Schema.Array(Schema.String),
  createdKeys: Schema.Array(Schema.String)
})
export const Manifest = Schema.Struct({
  version: Schema.Literal(1),
  hooks: Schema.Array(HookRecord),
  alias: Schema.Array(AliasRecord),
  mcp: Schema.optional(McpRecord)
})
export type Manifest = typeof Manifest.Type
export type HookRecord = typeof HookRecord.Type
export type AliasRecord = typeof AliasRecord.Type
export type McpRecord = typeof McpRecord.Type

export const emptyManifest: Manifest = { version: 1, hooks: [], alias: [] }

export const withHook = (m: Manifest, r: HookRecord): Manifest => ({ ...m, hooks: [...m.hooks.filter((x) => x.file !== r.file), r] })
export const withAlias = (m: Manifest, r: AliasRecord): Manifest => ({ ...m, alias: [...m.alias.filter((x) => x.file !== r.file), r] })

/** The manifest on disk; a missing or unreadable one is empty (an unreadable one is logged, never fatal). */
export const readManifest = (ctx: InstallContext): Effect.Effect<Manifest> =>
  Effect.gen(function*() {
    const t = yield* readText(ctx.fs, ctx.manifestFile).pipe(Effect.orElseSucceed(() => undefined))
    if (t === undefined || !t.exists) return emptyManifest
    const decoded = yield* Schema.decodeUnknown(Schema.parseJson(Manifest))(t.text).pipe(Effect.option)
    if (Option.isNone(decoded)) {
      yield* Effect.logWarning(`ignoring the unreadable install record ${ctx.manifestFile}`)
      return emptyManifest
    }
    return decoded.value
  })

/** Write the manifest (0600, atomically); an empty one removes the file. */
export const writeManifest = (ctx: InstallContext, m: Manifest): Effect.Effect<void, InstallError> =>
  Effect.gen(function*() {
    const t = yield* readText(ctx.fs, ctx.manifestFile)
    const empty = m.hooks.length === 0 && m.alias.length === 0 && m.mcp === undefined
    if (empty) {
      if (t.exists) yield* removeFile(ctx.fs, t)
      return
    }
    yield* makeDirs(ctx.fs, ctx.path, ctx.dataDir, 0o700)
    yield* writeAtomic(ctx.fs, ctx.path, t, JSON.stringify(Schema.encodeSync(Manifest)(m), null, 2) + "\n", 0o600)
  })
