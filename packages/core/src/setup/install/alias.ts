/**
 * The `claude` alias: a marked block in the rc file of each shell in use (bash, zsh: `alias`; fish: a
 * function) that runs the `claude-parallel` wrapper. The exact block text is pure (tested on its own); the
 * plans add, update, remove and check it, and uninstall puts back the separator install added.
 *
 * @since 0.2.0
 */
import { Effect, Either, Option } from "effect"
import { InstallError } from "../../Errors.js"
import { fishQuote, isExecutable, readText, shQuote } from "../../platform/files.js"
import { type Step, unchanged } from "./apply.js"
import { candidates } from "./commands.js"
import type { InstallContext } from "./context.js"
import { type Manifest, withAlias } from "./manifest.js"
import { dedupeBy, type PieceStatus, type Shell } from "./model.js"

const ALIAS_BEGIN = "# >>> parallel-cc alias >>>"
const ALIAS_END = "# <<< parallel-cc alias <<<"

/** The marked alias block for `shell`, running `target` (an absolute path) as `claude`. */
export const aliasBlock = (shell: Shell, target: string): string => {
  const note = "# claude starts through claude-parallel (parallel sessions in git worktrees)." +
    "\n# Remove with: parallel-cc install --alias --uninstall"
  const body = shell === "fish"
    ? `function claude --description 'claude through parallel-cc'\n    ${fishQuote(target)} $argv\nend`
    : `alias claude=${shQuote(shQuote(target))}`
  return `${ALIAS_BEGIN}\n${note}\n${body}\n${ALIAS_END}\n`
}

/** Find the marked block: [start, end) offsets, end including the newline after the end marker. */
export const findBlock = (text: string): Option.Option<readonly [number, number]> => {
  const start = text.indexOf(ALIAS_BEGIN)
  if (start < 0 || (start > 0 && text[start - 1] !== "\n")) return Option.none()
  const endMark = text.indexOf(ALIAS_END, start)
  if (endMark < 0) return Option.none()
  let end = endMark + ALIAS_END.length
  if (text[end] === "\n") end++
  return Option.some([start, end] as const)
}

/** Whether the block found at `[s, e)` is exactly `block` (a block at the end of a file may lack its newline). */
const isBlock = (text: string, [s, e]: readonly [number, number], block: string) =>
  text.slice(s, e) === block || text.slice(s, e) + "\n" === block

/** The separator put before an appended block so that it starts on a line of its own after a blank line. */
export const separatorFor = (text: string): string => (text === "" ? "" : text.endsWith("\n") ? "\n" : "\n\n")

/** Remove the block (and the separator install put before it). */
export const removeAliasBlock = (text: string, separator: string | undefined): Option.Option<string> =>
  Option.map(findBlock(text), ([start, end]) => {
    const before = text.slice(0, start)
    const after = text.slice(end)
    const sep = separator ?? (before.endsWith("\n\n") ? "\n" : "")
    const trimmed = after === "" && sep !== "" && before.endsWith(sep) ? before.slice(0, before.length - sep.length) : before
    return trimmed + after
  })

/** Add or update the block in the rc file of every target shell. */
export const planAliasInstall = (ctx: InstallContext, m: Manifest) =>
  Effect.gen(function*() {
    const target = yield* ctx.aliasTarget
    if (Option.isNone(target)) {
      return yield* new InstallError({
        reason: "TargetMissing",
        path: ctx.artifacts.wrapper,
        detail: "the claude-parallel wrapper is neither on PATH nor built next to this CLI"
      })
    }
    const shells = yield* ctx.targetShells
    if (shells.length === 0) {
      return yield* new InstallError({ reason: "NoShell", detail: `SHELL=${ctx.host.env.SHELL ?? "unset"}` })
    }
    return yield* Effect.forEach(shells, (shell) => planAliasFile(ctx, shell, target.value, m))
  })

const planAliasFile = (ctx: InstallContext, shell: Shell, target: string, m: Manifest) =>
  Effect.gen(function*() {
    const file = ctx.rcFile(shell)
    const t = yield* readText(ctx.fs, file)
    const block = aliasBlock(shell, target)
    const rec = m.alias.find((r) => r.file === file)
    const base = { piece: "alias" as const, shell, target: file }
    const found = findBlock(t.text)
    if (Option.isSome(found)) {
      const [s, e] = found.value
      if (isBlock(t.text, found.value, block)) {
        const step = unchanged({ ...base, action: "unchanged", detail: `alias already set (claude → ${target})` })
        return rec !== undefined ? step : {
          ...step,
          record: (mm: Manifest) => withAlias(mm, { file, shell, separator: "", createdFile: false, createdDirs: [] })
        }
      }
      return {
        change: { ...base, action: "updated", detail: `alias updated (claude → ${target})` },
        edit: { piece: "alias", file: t, text: t.text.slice(0, s) + block + t.text.slice(e) },
        record: (mm: Manifest) => withAlias(mm, rec ?? { file, shell, separator: "", createdFile: false, createdDirs: [] })
      } satisfies Step
    }
    const separator = separatorFor(t.text)
    return {
      change: { ...base, action: "created", detail: `alias added (claude → ${target})` },
      edit: { piece: "alias", file: t, text: t.text + separator + block, ensureDir: ctx.path.dirname(file) },
      record: (mm: Manifest, createdDirs: ReadonlyArray<string>) =>
        withAlias(mm, { file, shell, separator, createdFile: !t.exists, createdDirs })
    } satisfies Step
  })

/** Remove the block from every recorded rc file and every supported shell's rc file. */
export const planAliasUninstall = (ctx: InstallContext, m: Manifest) =>
  Effect.forEach(dedupeBy([...m.alias.map((r) => ({ shell: r.shell, file: r.file })), ...ctx.rcFiles], (x) => x.file), ({ file, shell }) =>
    Effect.gen(function*() {
      const rec = m.alias.find((r) => r.file === file)
      const base = { piece: "alias" as const, shell, target: file }
      const drop: Step["record"] = (mm) => ({ ...mm, alias: mm.alias.filter((r) => r.file !== file) })
      const t = yield* readText(ctx.fs, file)
      const next = removeAliasBlock(t.text, rec?.separator)
      if (!t.exists || Option.isNone(next)) {
        return { ...unchanged({ ...base, action: "absent", detail: "no parallel-cc alias block" }), record: drop }
      }
      const deleteFile = rec?.createdFile === true && next.value === ""
      return {
        change: { ...base, action: "removed", detail: `alias removed${deleteFile ? " (and the file install created)" : ""}` },
        edit: { piece: "alias", file: t, text: deleteFile ? null : next.value, cleanupDirs: deleteFile ? rec?.createdDirs : undefined },
        record: drop
      } satisfies Step
    }))

/** Whether two paths are the same file once links are resolved (false when either is missing). */
const sameFile = (ctx: InstallContext, a: string, b: string) =>
  Effect.all([ctx.fs.realPath(a), ctx.fs.realPath(b)]).pipe(Effect.map(([x, y]) => x === y), Effect.orElseSucceed(() => false))

/** The alias in each target shell's rc file and each recorded one. Never fails. */
export const aliasStatus = (ctx: InstallContext, m: Manifest): Effect.Effect<ReadonlyArray<PieceStatus>> =>
  Effect.gen(function*() {
    const target = yield* ctx.aliasTarget
    const shells = yield* ctx.targetShells
    const files = dedupeBy(
      [...shells.map((shell) => ({ shell, file: ctx.rcFile(shell) })), ...m.alias.map((r) => ({ shell: r.shell, file: r.file }))],
      (x) => x.file
    )
    if (files.length === 0) {
      const detail = `no supported shell (SHELL=${ctx.host.env.SHELL ?? "unset"})`
      return [{ piece: "alias" as const, location: ctx.rcFile("bash"), state: "missing" as const, detail }]
    }
    return yield* Effect.forEach(files, ({ file, shell }) =>
      Effect.gen(function*() {
        const base = { piece: "alias" as const, shell, location: file }
        const t = yield* readText(ctx.fs, file).pipe(Effect.either)
        if (Either.isLeft(t)) return { ...base, state: "error" as const, detail: t.left.message }
        const found = findBlock(t.right.text)
        if (Option.isNone(found)) return { ...base, state: "missing" as const, detail: "not installed" }
        if (Option.isSome(target) && isBlock(t.right.text, found.value, aliasBlock(shell, target.value))) {
          return { ...base, state: "installed" as const, detail: `claude → ${target.value}` }
        }
        // The wrapper of this installation linked where PATH does not reach (yet): right after
        // scripts/install.sh, before ~/.local/bin is on PATH. The alias works; it is not outdated.
        for (const c of yield* candidates(ctx, "claude-parallel")) {
          if (!isBlock(t.right.text, found.value, aliasBlock(shell, c))) continue
          if (yield* sameFile(ctx, c, ctx.artifacts.wrapper)) {
            return { ...base, state: "installed" as const, detail: `claude → ${c} (its directory is not on PATH)` }
          }
          if (!(yield* isExecutable(ctx.fs, c))) {
            return { ...base, state: "broken" as const, detail: `the alias runs ${c}, which is missing; run install --alias again` }
          }
        }
        return Option.isSome(target)
          ? { ...base, state: "outdated" as const, detail: `the alias runs another path; run install --alias again (now: ${target.value})` }
          : { ...base, state: "broken" as const, detail: "the claude-parallel wrapper it runs cannot be found" }
      }))
  })
