/**
 * The Claude Code hooks parallel-cc installs, as data ({@link hookPlan}: event, matcher, script), and the
 * plans that install, remove and check them in a settings file — generically, for every entry of the list.
 *
 * Adding a hook is one line in {@link hookPlan} plus its script in `packages/cli/hooks/` (shipped next to
 * `heartbeat.sh`). Install then adds it to every settings file that has the others (reported as `updated`),
 * `install --status` and `doctor` report a file without it as `outdated`, and uninstall removes it; hooks
 * installed by an earlier release are recognised through the install record (`hookSettings.ts`).
 *
 * @since 0.2.0
 */
import type { Path } from "@effect/platform"
import { Effect, Either, Option } from "effect"
import { isExecutable, readJsonObject, renderJson } from "../../platform/files.js"
import type { Step } from "./apply.js"
import { unchanged } from "./apply.js"
import type { InstallContext } from "./context.js"
import {
  addHooks,
  checkHooksShape,
  commandHooks,
  entryStates,
  hookCommand,
  type HookEntry,
  legacyHookCommands,
  removeHooks
} from "./hookSettings.js"
import { type Manifest, withHook } from "./manifest.js"
import { SESSION_HOOK_SCRIPT, SESSION_HOOK_TIMEOUT, SESSION_HOOKS } from "../sessionHooks.js"
import { type ArtifactPaths, dedupe, dedupeBy, type HookScope, type PieceStatus, type Selection } from "./model.js"

/** One hook parallel-cc installs. */
export interface HookSpec {
  /** What it is for, in reports and errors ("heartbeat"). Entries of one script share the name. */
  readonly name: string
  /** The Claude Code hook event. */
  readonly event: string
  /** The matcher (a regex on the tool name for tool events, "" = all); omit for events without matchers. */
  readonly matcher?: string | undefined
  /** The script's file name in the hooks directory (`packages/cli/hooks/`). */
  readonly script: string
  /** Arguments after the script (each one shell word). */
  readonly args?: ReadonlyArray<string> | undefined
  /** Seconds Claude Code gives the hook. */
  readonly timeout: number
  /** Entries of an optional group (`worktree-provider`) that the user may leave out. */
  readonly optional?: OptionalGroup | undefined
  /** Source the script into Claude Code's shell instead of starting it (see `hookCommand`). */
  readonly sourced?: boolean | undefined
}

/** Optional hook groups: the worktree provider (`install --hooks --no-worktree-provider` leaves it out). */
export type OptionalGroup = "worktree-provider"

/**
 * The hooks parallel-cc installs, in the order they are added to a settings file: the session hook for
 * every entry of `SESSION_HOOKS` (agent state, transcript, notices, block, the write guard; its PostToolUse
 * entry also rewrites the heartbeat file, so the heartbeat hook of the previous release is retired when an
 * installation is updated — it keeps working where it is still installed), then the worktree provider.
 */
export const hookPlan: ReadonlyArray<HookSpec> = [
  ...SESSION_HOOKS.map((e): HookSpec => ({
    name: "session",
    event: e.event,
    ...(e.matcher !== undefined ? { matcher: e.matcher } : {}),
    script: SESSION_HOOK_SCRIPT,
    args: [e.arg],
    timeout: SESSION_HOOK_TIMEOUT,
    sourced: true
  })),
  // parallel-cc as Claude Code's worktree provider: `claude -w`, worktree subagents, /batch and agent teams
  // get their worktrees from `parallel-cc worktree-hook` (a session each). Creation may run worktree.setup.
  { name: "worktree provider", event: "WorktreeCreate", script: "worktree.sh", timeout: 600, optional: "worktree-provider" },
  { name: "worktree provider", event: "WorktreeRemove", script: "worktree.sh", timeout: 120, optional: "worktree-provider" }
]

/** A hook of the plan resolved against this installation. */
export interface ResolvedHook extends HookEntry {
  readonly scriptPath: string
  readonly optional?: OptionalGroup | undefined
}

/** The plan's commands for this installation (scripts in `hooksDir`, by default next to `hookScript`). */
export const resolveHooks = (
  specs: ReadonlyArray<HookSpec>,
  artifacts: ArtifactPaths,
  path: Path.Path
): ReadonlyArray<ResolvedHook> => {
  const dir = artifacts.hooksDir ?? path.dirname(artifacts.hookScript)
  return specs.map((s) => {
    const scriptPath = path.join(dir, s.script)
    return {
      name: s.name,
      event: s.event,
      ...(s.matcher !== undefined ? { matcher: s.matcher } : {}),
      timeout: s.timeout,
      ...(s.optional !== undefined ? { optional: s.optional } : {}),
      scriptPath,
      command: hookCommand(scriptPath, s.args, s.sourced === true)
    }
  })
}

const names = (entries: ReadonlyArray<HookEntry>): string => {
  const ns = dedupe(entries.map((e) => e.name))
  return ns.length <= 1 ? `${ns[0] ?? "no"} hook` : `${ns.slice(0, -1).join(", ")} and ${ns[ns.length - 1]} hooks`
}
const matching = (e: HookEntry): string =>
  e.matcher === undefined
    ? ""
    : e.matcher === "" || e.matcher === "*"
    ? e.event.endsWith("ToolUse") ? " (all tools)" : ""
    : ` (${e.matcher})`
const arrows = (entries: ReadonlyArray<HookEntry>) => entries.map((e) => `${e.event} → ${e.command}`).join(", ")

/** Install the plan into the settings file of `scope`: one step (or an unchanged one). */
export const planHooksInstall = (
  ctx: InstallContext,
  plan: ReadonlyArray<ResolvedHook>,
  scope: HookScope,
  repo: string | undefined,
  m: Manifest,
  worktreeProvider?: boolean | undefined
) =>
  Effect.gen(function*() {
    const file = scope === "global" ? ctx.globalSettings : yield* ctx.localSettingsFor(repo)
    const rec = m.hooks.find((r) => r.file === file)
    // The optional groups left out: as asked, else as recorded for this file.
    const without: ReadonlyArray<string> = worktreeProvider === false
      ? ["worktree-provider"]
      : worktreeProvider === true
      ? []
      : rec?.without ?? []
    const entries = plan.filter((e) => e.optional === undefined || !without.includes(e.optional))
    for (const e of dedupeBy(entries, (x) => x.scriptPath)) yield* ctx.requireExecutable(e.scriptPath, `the ${e.name} hook script`)
    const doc = yield* readJsonObject(ctx.fs, file)
    yield* checkHooksShape(file, doc.value, plan.map((e) => e.event))
    const sameWithout = (rec?.without ?? []).join(",") === without.join(",")
    const withoutField = without.length > 0 ? { without: [...without] } : {}
    const commands = entries.map((e) => e.command)
    const r = addHooks(doc.value, entries, rec?.commands ?? [], rec?.createdKeys ?? [])
    const base = { piece: "hooks" as const, scope, target: file }
    if (r.added.length === 0 && r.updated.length === 0 && r.retired.length === 0) {
      const detail = entries.length === 1
        ? `${names(entries)} already installed (${commands[0]})`
        : `${names(entries)} already installed (${arrows(entries)})`
      const step = unchanged({ ...base, action: "unchanged", detail })
      // Record it if an earlier record was lost (or lacks a command), so that uninstall knows it.
      if (rec !== undefined && commands.every((c) => rec.commands.includes(c)) && sameWithout) return step
      return {
        ...step,
        record: (mm: Manifest) =>
          withHook(mm, {
            file,
            scope,
            commands: dedupe([...(rec?.commands ?? []), ...commands]),
            createdFile: rec?.createdFile ?? false,
            createdDirs: rec?.createdDirs ?? [],
            createdKeys: rec?.createdKeys ?? [],
            ...withoutField
          })
      } satisfies Step
    }
    const record: Step["record"] = (mm, createdDirs) =>
      withHook(mm, {
        file,
        scope,
        commands: dedupe([...(rec?.commands ?? []), ...commands]),
        createdFile: rec?.createdFile ?? !doc.exists,
        createdDirs: rec?.createdDirs ?? createdDirs,
        createdKeys: dedupe([...(rec?.createdKeys ?? []), ...r.createdKeys]),
        ...withoutField
      })
    const detail = [
      ...r.updated.map((u) => `${u.entry.name} hook updated: ${u.previous} → ${u.entry.command}`),
      ...r.added.map((e) => `${e.event} ${e.name} hook added${matching(e)}: ${e.command}`),
      ...r.retired.map((c) => `hook of an earlier release removed: ${c}`)
    ].join("; ")
    return {
      change: { ...base, action: r.added.length === entries.length && r.retired.length === 0 ? "created" : "updated", detail },
      edit: { piece: "hooks", file: doc, text: renderJson(doc, r.value), ensureDir: ctx.path.dirname(file), dirMode: 0o700 },
      record
    } satisfies Step
  })

/** The settings files uninstall looks at: the scope's, plus every file the record lists. */
export const uninstallTargets = (
  ctx: InstallContext,
  hooks: NonNullable<Selection["hooks"]>,
  m: Manifest
) =>
  Effect.gen(function*() {
    const scope = hooks.scope
    const files: Array<{ file: string; scope: HookScope }> = []
    if (scope === "local") files.push({ file: yield* ctx.localSettingsFor(hooks.repo), scope: "local" })
    else {
      files.push({ file: ctx.globalSettings, scope: "global" })
      if (scope === undefined) {
        const local = yield* ctx.localSettingsFor(hooks.repo).pipe(Effect.option)
        if (Option.isSome(local)) files.push({ file: local.value, scope: "local" })
      }
      for (const r of m.hooks) if (scope === undefined || r.scope === scope) files.push({ file: r.file, scope: r.scope })
    }
    return dedupeBy(files, (f) => f.file)
  })

/** Remove every hook parallel-cc installed (now or, by the record, earlier) from each file. */
export const planHooksUninstall = (
  ctx: InstallContext,
  entries: ReadonlyArray<ResolvedHook>,
  files: ReadonlyArray<{ readonly file: string; readonly scope: HookScope }>,
  m: Manifest
) =>
  Effect.forEach(files, ({ file, scope }) =>
    Effect.gen(function*() {
      const rec = m.hooks.find((r) => r.file === file)
      const base = { piece: "hooks" as const, scope, target: file }
      const drop: Step["record"] = (mm) => ({ ...mm, hooks: mm.hooks.filter((r) => r.file !== file) })
      const doc = yield* readJsonObject(ctx.fs, file)
      if (!doc.exists) return { ...unchanged({ ...base, action: "absent", detail: "no settings file" }), record: drop }
      yield* checkHooksShape(file, doc.value, entries.map((e) => e.event))
      const ours = dedupe([...entries.map((e) => e.command), ...(rec?.commands ?? [])])
      const r = removeHooks(doc.value, ours, rec?.createdKeys)
      if (r.removed === 0) {
        return { ...unchanged({ ...base, action: "absent", detail: "no parallel-cc hook in this file" }), record: drop }
      }
      const deleteFile = rec?.createdFile === true && Object.keys(r.value).length === 0
      return {
        change: { ...base, action: "removed", detail: `${names(entries)} removed${deleteFile ? " (and the file install created)" : ""}` },
        edit: {
          piece: "hooks",
          file: doc,
          text: deleteFile ? null : renderJson(doc, r.value),
          cleanupDirs: deleteFile ? rec?.createdDirs : undefined
        },
        record: drop
      } satisfies Step
    }))

/** The settings files status reports: the global one, the current repository's, and every recorded local one. */
export const statusTargets = (ctx: InstallContext, m: Manifest) =>
  Effect.gen(function*() {
    const local = yield* ctx.localSettingsFor(undefined).pipe(Effect.option)
    const locals = dedupe([...(Option.isSome(local) ? [local.value] : []), ...m.hooks.filter((r) => r.scope === "local").map((r) => r.file)])
    return [{ file: ctx.globalSettings, scope: "global" as const }, ...locals.map((file) => ({ file, scope: "local" as const }))]
  })

/**
 * How the plan stands in one settings file, as one line for the hooks and one for each optional group
 * (the worktree provider) that the plan has. Never fails.
 */
export const hookStatuses = (
  ctx: InstallContext,
  plan: ReadonlyArray<ResolvedHook>,
  file: string,
  scope: HookScope,
  m: Manifest
): Effect.Effect<ReadonlyArray<PieceStatus>> =>
  Effect.gen(function*() {
    const all = plan.map((e) => e.command)
    const core = yield* hookStatus(ctx, plan.filter((e) => e.optional === undefined), file, scope, m, all)
    const provider = plan.filter((e) => e.optional === "worktree-provider")
    if (provider.length === 0) return [core]
    const base = { piece: "worktree-provider" as const, scope, location: file }
    const optedOut = m.hooks.find((r) => r.file === file)?.without?.includes("worktree-provider") === true
    const st = yield* hookStatus(ctx, provider, file, scope, m, all)
    const line: PieceStatus = st.state === "missing" && optedOut
      ? { ...base, state: "missing", detail: "left out (install --hooks --no-worktree-provider); `install --hooks --worktree-provider` adds it" }
      : st.state === "missing"
      ? { ...base, state: "missing", detail: "not installed: `claude -w` and worktree subagents bypass parallel-cc; run `parallel-cc install --hooks`" }
      : { ...st, ...base }
    return [core, line]
  })

/**
 * How the plan stands in one settings file. Never fails. `planCommands`: every command of the whole plan
 * (a recorded command that is none of them is an earlier release's hook).
 */
export const hookStatus = (
  ctx: InstallContext,
  entries: ReadonlyArray<ResolvedHook>,
  file: string,
  scope: HookScope,
  m: Manifest,
  planCommands: ReadonlyArray<string> = entries.map((e) => e.command)
): Effect.Effect<PieceStatus> =>
  Effect.gen(function*() {
    const base = { piece: "hooks" as const, scope, location: file }
    const doc = yield* readJsonObject(ctx.fs, file).pipe(Effect.either)
    if (Either.isLeft(doc)) return { ...base, state: "error" as const, detail: doc.left.message }
    const rec = m.hooks.find((r) => r.file === file)
    const states = entryStates(doc.right.value, entries, rec?.commands ?? [])
    const at = <T extends string>(tag: T) => entries.filter((_, i) => states[i]!._tag === tag)
    const installed = at("installed")
    if (installed.length === entries.length) {
      for (const e of dedupeBy(entries, (x) => x.scriptPath)) {
        if (!(yield* isExecutable(ctx.fs, e.scriptPath))) {
          return { ...base, state: "broken" as const, detail: `the hook script ${e.scriptPath} is missing or not executable` }
        }
      }
      return { ...base, state: "installed" as const, detail: arrows(entries) }
    }
    const previous = states.flatMap((s) => (s._tag === "outdated" ? [s.previous] : []))
    if (previous.length > 0) return { ...base, state: "outdated" as const, detail: `points to ${previous.join(", ")}; run install --hooks again` }
    if (installed.length > 0) {
      const missing = at("missing").map((e) => `${e.event} ${e.name}`).join(", ")
      return { ...base, state: "outdated" as const, detail: `without the ${missing} hook; run install --hooks again` }
    }
    const earlier = commandHooks(doc.right.value).map((h) => h.command).filter((c) => rec?.commands.includes(c) === true && !planCommands.includes(c))
    if (earlier.length > 0) {
      return {
        ...base,
        state: "outdated" as const,
        detail: `hooks of an earlier release (${dedupe(earlier).join(", ")}); run install --hooks again`
      }
    }
    const legacy = legacyHookCommands(doc.right.value)
    return {
      ...base,
      state: "missing" as const,
      detail: legacy.length > 0 ? `not installed; a hook of the original parallel-cc is there (${legacy.join(", ")})` : "not installed"
    }
  })
