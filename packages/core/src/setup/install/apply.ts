/**
 * Carrying out a plan: every file that will change is checked writable first (so that a failure leaves no
 * piece half-done), each file is backed up (to `<dataDir>/backups/<run>/`, with an `index.json`) before it
 * changes and replaced atomically, `claude` CLI calls are checked against the file they changed, and the
 * manifest is written after each step so that it always describes what is on disk.
 *
 * @since 0.2.0
 */
import { CommandExecutor } from "@effect/platform"
import { Effect } from "effect"
import { InstallError } from "../../Errors.js"
import { exec } from "../../platform/exec.js"
import {
  checkWritable,
  jsonEqual,
  makeDirs,
  readJsonObject,
  readText,
  removeEmptyDirs,
  removeFile,
  shQuote,
  type TextFile,
  writeAtomic
} from "../../platform/files.js"
import type { InstallContext } from "./context.js"
import { type Manifest, writeManifest } from "./manifest.js"
import type { Change, Piece } from "./model.js"

/** One file written by install/uninstall itself. */
export interface FileEdit {
  readonly piece: Piece
  readonly file: TextFile
  /** New content, or null to delete the file. */
  readonly text: string | null
  /** Directories to create before writing (recorded in the manifest), with their mode. */
  readonly ensureDir?: string | undefined
  readonly dirMode?: number | undefined
  /** Directories to remove (if empty) after deleting the file. */
  readonly cleanupDirs?: ReadonlyArray<string> | undefined
  readonly mode?: number | undefined
}

/** A `claude` CLI call that changes a file (which is backed up before and checked after). */
export interface CliAction {
  readonly argv: readonly [string, ...Array<string>]
  /** The file the claude CLI changes (backed up before). */
  readonly file: TextFile
  /** Check after running. */
  readonly verify: (after: Record<string, unknown>) => boolean
}

/** One planned change: what it reports, how it is made, and how the manifest records it. */
export interface Step {
  readonly change: Omit<Change, "backup">
  readonly edit?: FileEdit | undefined
  readonly cli?: ReadonlyArray<CliAction> | undefined
  /** Runs after the claude CLI actions (removing what the CLI leaves empty but install created). */
  readonly tidy?: Effect.Effect<void, InstallError> | undefined
  /** Update the manifest once the step is done; receives the directories the edit created. */
  readonly record: (m: Manifest, createdDirs: ReadonlyArray<string>) => Manifest
}

/** A step that changes nothing (and records nothing unless `record` is overridden). */
export const unchanged = (change: Omit<Change, "backup">): Step => ({ change, record: (m) => m })

const baseName = (p: string) => p.slice(p.lastIndexOf("/") + 1)

/** The commands as a user would type them (for reports and errors). */
export const shellLine = (argvs: ReadonlyArray<ReadonlyArray<string>>) =>
  argvs.map((a) => [baseName(a[0] ?? ""), ...a.slice(1)].map(shQuote).join(" ")).join(" && ")

const runCli = (ctx: InstallContext, action: CliAction) =>
  Effect.gen(function*() {
    const r = yield* exec(action.argv, { cwd: ctx.host.cwd, env: ctx.childEnv }).pipe(
      Effect.provideService(CommandExecutor.CommandExecutor, ctx.executor),
      Effect.timeout("60 seconds"),
      Effect.mapError((e) => new InstallError({ reason: "ClaudeCliFailed", detail: `${action.argv.slice(1, 3).join(" ")}: ${String(e.message ?? e)}` }))
    )
    if (r.exitCode !== 0) {
      return yield* new InstallError({
        reason: "ClaudeCliFailed",
        detail: `${shellLine([action.argv])} exited ${r.exitCode}: ${(r.stderr || r.stdout).trim().split("\n").slice(-2).join(" / ")}`
      })
    }
    const after = yield* readJsonObject(ctx.fs, action.file.path)
    if (!action.verify(after.value)) {
      return yield* new InstallError({
        reason: "ClaudeCliFailed",
        path: action.file.path,
        detail: `${shellLine([action.argv])} succeeded but the expected entry is not in the file afterwards`
      })
    }
  })

/** Backs files up into one directory per run (created on the first backup), with an index of originals. */
const makeBackups = (ctx: InstallContext) => {
  const { fs, path } = ctx
  let dir: string | undefined
  const index: Array<{ original: string; backup: string }> = []
  const backup = (file: TextFile) =>
    Effect.gen(function*() {
      if (!file.exists) return undefined
      if (dir === undefined) {
        const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z")
        dir = path.join(ctx.backupsRoot, `${stamp}-${globalThis.crypto.randomUUID().slice(0, 6)}`)
        yield* makeDirs(fs, path, dir, 0o700)
      }
      const dest = path.join(dir, `${index.length + 1}-${path.basename(file.path)}`)
      yield* writeAtomic(fs, path, { path: dest, realPath: dest, exists: false, text: "", mode: undefined }, file.text, 0o600)
      index.push({ original: file.path, backup: dest })
      const indexFile = path.join(dir, "index.json")
      yield* writeAtomic(
        fs,
        path,
        { path: indexFile, realPath: indexFile, exists: true, text: "", mode: 0o600 },
        JSON.stringify(index, null, 2) + "\n",
        0o600
      )
      return dest
    })
  return { backup, dir: () => dir }
}

/** Make one changing step: its edit or its CLI calls (after a backup), then its tidy-up. */
const runStep = (ctx: InstallContext, s: Step, backup: (file: TextFile) => Effect.Effect<string | undefined, InstallError>) =>
  Effect.gen(function*() {
    let backedUp: string | undefined
    let triedBackup = false
    let createdDirs: ReadonlyArray<string> = []
    if (s.edit !== undefined) {
      const e = s.edit
      backedUp = yield* backup(e.file)
      triedBackup = true
      if (e.text === null) {
        yield* removeFile(ctx.fs, e.file)
        if (e.cleanupDirs !== undefined) yield* removeEmptyDirs(ctx.fs, e.cleanupDirs)
      } else {
        if (e.ensureDir !== undefined) createdDirs = yield* makeDirs(ctx.fs, ctx.path, e.ensureDir, e.dirMode ?? 0o755)
        yield* writeAtomic(ctx.fs, ctx.path, e.file, e.text, e.mode ?? 0o644)
      }
    }
    for (const a of s.cli ?? []) {
      // The claude CLI writes the file itself; back it up first (once), then check what it wrote.
      if (!triedBackup) backedUp = yield* backup(yield* readText(ctx.fs, a.file.path))
      triedBackup = true
      yield* runCli(ctx, a)
    }
    if (s.tidy !== undefined) yield* s.tidy
    return { backedUp, createdDirs }
  })

/** Carry out `steps` (or, with `dryRun`, only report them); returns the changes and the updated manifest. */
export const apply = (ctx: InstallContext, steps: ReadonlyArray<Step>, manifest: Manifest, dryRun: boolean) =>
  Effect.gen(function*() {
    const changing = steps.filter((s) => s.edit !== undefined || (s.cli?.length ?? 0) > 0)
    const recordOnly = steps.filter((s) => !changing.includes(s))
    const report = { changes: steps.map((s): Change => s.change), backupDir: undefined, manifest }
    if (dryRun) return report
    let m = manifest
    for (const s of recordOnly) m = s.record(m, [])
    if (changing.length === 0 && jsonEqual(m, manifest)) return report
    // Preflight: every file that will change must be writable, and so must the data directory.
    for (const s of changing) {
      const file = s.edit?.file ?? s.cli?.[0]?.file
      if (file !== undefined) yield* checkWritable(ctx.fs, ctx.path, file)
    }
    yield* checkWritable(ctx.fs, ctx.path, yield* readText(ctx.fs, ctx.manifestFile))
    const backups = makeBackups(ctx)
    const changes: Array<Change> = []
    for (const s of steps) {
      if (!changing.includes(s)) {
        changes.push(s.change)
        continue
      }
      const done = yield* runStep(ctx, s, backups.backup)
      m = s.record(m, done.createdDirs)
      yield* writeManifest(ctx, m)
      changes.push({ ...s.change, ...(done.backedUp !== undefined ? { backup: done.backedUp } : {}) })
    }
    if (recordOnly.length > 0 && changing.length === 0 && !jsonEqual(m, manifest)) yield* writeManifest(ctx, m)
    return { changes, backupDir: backups.dir(), manifest: m }
  })
