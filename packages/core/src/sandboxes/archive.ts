/**
 * Archives for file sync: packing a file list (trusted: our own work tree), and reading and applying an
 * archive that came out of a sandbox (untrusted). Applying never writes outside the target directory:
 * every path is checked (no absolute paths, no `..`, no `.git`), symlinks must point inside the target,
 * nothing is written through a symlink, and only regular files, directories and symlinks are accepted.
 */
import * as path from "node:path"
import { promisify } from "node:util"
import * as zlib from "node:zlib"
import { constants, promises as fsp, type Stats } from "../platform/nodeFs.js"

const loadTar = () => import("tar")
const gzip = promisify(zlib.gzip)

/** An entry read from an archive, before any check. */
export interface RawEntry {
  readonly path: string
  readonly type: string
  readonly mode: number
  readonly linkpath: string | undefined
  readonly body: Uint8Array | undefined
}

/** An entry that passed the checks. */
export type Entry =
  | { readonly kind: "file"; readonly path: string; readonly executable: boolean; readonly body: Uint8Array }
  | { readonly kind: "symlink"; readonly path: string; readonly target: string }
  | { readonly kind: "dir"; readonly path: string }

export interface Refusal {
  readonly path: string
  readonly reason: string
}

export interface Limits {
  /** Total uncompressed bytes of file bodies (default 1 GiB). */
  readonly maxBytes?: number
  /** Number of entries (default 200 000). */
  readonly maxEntries?: number
}

export class ArchiveTooLarge extends Error {}

/** Pack `files` (relative to `root`) into one gzipped tar; symlinks are stored as links, never followed. */
export const pack = async (root: string, files: ReadonlyArray<string>): Promise<Uint8Array> => {
  const tar = await loadTar()
  if (files.length === 0) {
    // An empty tar (two zero blocks), gzipped, so the other side always gets a valid archive.
    return new Uint8Array(await gzip(Buffer.alloc(1024)))
  }
  const stream = tar.create(
    { gzip: { level: 6 }, cwd: root, portable: true, follow: false, noDirRecurse: true, strict: true },
    [...files]
  )
  const chunks: Array<Buffer> = []
  for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk)
  return new Uint8Array(Buffer.concat(chunks))
}

/** Unpack an archive we made ourselves into `dir` (the work tree copy of a local sandbox); its entries, in order. */
export const unpackTrusted = async (
  archive: Uint8Array,
  dir: string
): Promise<ReadonlyArray<{ readonly path: string; readonly type: string }>> => {
  const tar = await loadTar()
  const entries: Array<{ path: string; type: string }> = []
  await new Promise<void>((resolve, reject) => {
    const x = tar.extract({
      cwd: dir,
      strict: true,
      preservePaths: false,
      onReadEntry: (entry) => void entries.push({ path: entry.path.replace(/\/$/, ""), type: entry.type })
    })
    x.on("error", reject)
    x.on("close", () => resolve())
    x.end(Buffer.from(archive))
  })
  return entries
}

/**
 * Copy `files` (relative to `root`: our own listed work tree) into the new, empty directory `dest`, as
 * `pack` then `unpackTrusted` would: regular files with their permissions, symlinks as links (never
 * followed), directories made on the way. Every path is checked as if untrusted and nothing is written
 * through a symlink or over an existing entry, so no list can write outside `dest`. Fails on the first
 * file that cannot be copied (one that disappeared since it was listed, too), as `pack` does. Returns the
 * paths that were copied as symlinks. The copying runs off the event loop, a few files at a time.
 */
export const copyTrusted = async (root: string, files: ReadonlyArray<string>, dest: string): Promise<ReadonlyArray<string>> => {
  const checked = files.map((rel) => {
    const c = checkPath(rel)
    if ("refused" in c) throw new Error(`${rel}: ${c.refused}`)
    return c.ok
  })
  const dirs = new Map<string, Promise<void>>()
  /** `d` (relative) as a real directory we made, or that was there as one; never a symlink. */
  const dir = (d: string): Promise<void> => {
    let made = dirs.get(d)
    if (made === undefined) {
      const parent = d.includes("/") ? dir(d.slice(0, d.lastIndexOf("/"))) : Promise.resolve()
      made = parent.then(async () => {
        const full = path.join(dest, d)
        try {
          await fsp.mkdir(full, { mode: 0o755 })
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e
          const st = await fsp.lstat(full)
          if (!st.isDirectory()) throw new Error(`${d} is not a directory in ${dest}`)
        }
      })
      dirs.set(d, made)
    }
    return made
  }
  const links: Array<string> = []
  const copyOne = async (rel: string) => {
    if (rel.includes("/")) await dir(rel.slice(0, rel.lastIndexOf("/")))
    const src = path.join(root, rel)
    const dst = path.join(dest, rel)
    const st = await fsp.lstat(src)
    if (st.isSymbolicLink()) {
      await fsp.symlink(await fsp.readlink(src), dst)
      links.push(rel)
    } else if (st.isFile()) {
      await fsp.copyFile(src, dst, constants.COPYFILE_EXCL)
      if ((st.mode & 0o7000) !== 0) await fsp.chmod(dst, st.mode & 0o777)
    } else {
      throw new Error(`${rel} is not a regular file or symlink any more`)
    }
  }
  let next = 0
  let failed: unknown
  const worker = async () => {
    while (failed === undefined && next < checked.length) {
      const rel = checked[next++]!
      try {
        await copyOne(rel)
      } catch (e) {
        failed ??= e
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(8, checked.length) }, worker))
  if (failed !== undefined) throw failed
  return links.sort()
}

/** Read every entry of a (gzipped) tar into memory, within limits. */
export const read = async (archive: Uint8Array, limits: Limits = {}): Promise<ReadonlyArray<RawEntry>> => {
  const tar = await loadTar()
  const maxBytes = limits.maxBytes ?? 1024 ** 3
  const maxEntries = limits.maxEntries ?? 200_000
  const entries: Array<RawEntry> = []
  let total = 0
  await new Promise<void>((resolve, reject) => {
    let failed = false
    const fail = (e: Error) => {
      if (!failed) {
        failed = true
        reject(e)
      }
    }
    const parser = new tar.Parser({
      strict: true,
      onReadEntry: (entry) => {
        if (entries.length >= maxEntries) {
          entry.resume()
          return fail(new ArchiveTooLarge(`more than ${maxEntries} entries`))
        }
        const parts: Array<Buffer> = []
        entry.on("data", (d: Buffer) => {
          total += d.length
          if (total > maxBytes) fail(new ArchiveTooLarge(`more than ${maxBytes} bytes`))
          else parts.push(d)
        })
        entry.on("end", () => {
          entries.push({
            path: entry.path,
            type: entry.type,
            mode: entry.mode ?? 0o644,
            linkpath: entry.linkpath,
            body: entry.type === "File" || entry.type === "OldFile" ? new Uint8Array(Buffer.concat(parts)) : undefined
          })
        })
      }
    })
    parser.on("error", (e: Error) => fail(e))
    parser.on("close", () => (failed ? undefined : resolve()))
    parser.end(Buffer.from(archive))
  })
  return entries
}

/**
 * Check a relative path from an untrusted source. Returns the normalised path, or the reason it is refused.
 * Refused: empty, absolute, `.`/`..` components, `.git` components (any case), control characters.
 */
export const checkPath = (p: string): { readonly ok: string } | { readonly refused: string } => {
  if (typeof p !== "string" || p.length === 0) return { refused: "empty path" }
  if (p.length > 4096) return { refused: "path too long" }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(p)) return { refused: "control characters in path" }
  if (p.startsWith("/")) return { refused: "absolute path" }
  if (p.includes("\\")) return { refused: "backslash in path" }
  const parts = p.replace(/\/+$/, "").split("/")
  for (const part of parts) {
    if (part === "" || part === ".") return { refused: "empty or '.' path component" }
    if (part === "..") return { refused: "'..' would leave the target directory" }
    if (part.toLowerCase() === ".git") return { refused: "writes into .git are not allowed" }
  }
  return { ok: parts.join("/") }
}

/** Where a symlink at `linkPath` with `target` points, relative to the root; undefined when it leaves it. */
export const symlinkInside = (linkPath: string, target: string): string | undefined => {
  if (target.length === 0 || target.startsWith("/") || target.includes("\0")) return undefined
  const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(linkPath), target))
  if (resolved === ".." || resolved.startsWith("../") || resolved.startsWith("/")) return undefined
  if (resolved.split("/").some((c) => c.toLowerCase() === ".git")) return undefined
  return resolved
}

/** Check raw entries; returns the accepted ones and the refusals. Nothing touches the disk. */
export const check = (
  raw: ReadonlyArray<RawEntry>
): { readonly entries: ReadonlyArray<Entry>; readonly refused: ReadonlyArray<Refusal> } => {
  const entries: Array<Entry> = []
  const refused: Array<Refusal> = []
  const seen = new Set<string>()
  for (const e of raw) {
    const checked = checkPath(e.path)
    if ("refused" in checked) {
      refused.push({ path: e.path, reason: checked.refused })
      continue
    }
    const p = checked.ok
    if (seen.has(p)) {
      refused.push({ path: p, reason: "duplicate entry" })
      continue
    }
    if (e.type === "File" || e.type === "OldFile") {
      entries.push({ kind: "file", path: p, executable: (e.mode & 0o111) !== 0, body: e.body ?? new Uint8Array(0) })
    } else if (e.type === "Directory") {
      entries.push({ kind: "dir", path: p })
    } else if (e.type === "SymbolicLink") {
      const target = e.linkpath ?? ""
      if (symlinkInside(p, target) === undefined) {
        refused.push({ path: p, reason: `symlink to ${JSON.stringify(target)} points outside the target directory` })
        continue
      }
      entries.push({ kind: "symlink", path: p, target })
    } else {
      refused.push({ path: p, reason: `${e.type} entries are not allowed` })
      continue
    }
    seen.add(p)
  }
  // Nothing may be written beneath a symlink of the same archive.
  const links = new Set(entries.filter((e) => e.kind === "symlink").map((e) => e.path))
  const beneathLink = (p: string) => {
    const parts = p.split("/")
    for (let i = 1; i < parts.length; i++) if (links.has(parts.slice(0, i).join("/"))) return true
    return false
  }
  const accepted: Array<Entry> = []
  for (const e of entries) {
    if (beneathLink(e.path)) refused.push({ path: e.path, reason: "lies beneath a symlink" })
    else accepted.push(e)
  }
  return { entries: accepted, refused }
}

const lstat = async (p: string): Promise<Stats | undefined> => {
  try {
    return await fsp.lstat(p)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined
    throw e
  }
}

/**
 * Make sure every directory from `root` down to `rel`'s parent exists and is a real directory (not a
 * symlink). Returns a refusal reason when it cannot.
 */
const ensureParents = async (root: string, rel: string): Promise<string | undefined> => {
  const parts = rel.split("/").slice(0, -1)
  let cur = root
  for (const part of parts) {
    cur = path.join(cur, part)
    const st = await lstat(cur)
    if (st === undefined) await fsp.mkdir(cur, { mode: 0o755 })
    else if (st.isSymbolicLink()) return `${path.relative(root, cur)} is a symlink in the target directory`
    else if (!st.isDirectory()) return `${path.relative(root, cur)} is a file in the target directory`
  }
  return undefined
}

const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0

/** The outcome of applying changes to a directory. */
export interface Applied {
  readonly written: ReadonlyArray<string>
  readonly deleted: ReadonlyArray<string>
  readonly refused: ReadonlyArray<Refusal>
}

/**
 * Apply checked entries and deletions under `root` (which must exist). Deletions first, then writes.
 * Each path is re-checked against the disk: a symlink or file where a directory should be is refused.
 */
export const apply = async (root: string, entries: ReadonlyArray<Entry>, deletions: ReadonlyArray<string>): Promise<Applied> => {
  const written: Array<string> = []
  const deleted: Array<string> = []
  const refused: Array<Refusal> = []
  const realRoot = await fsp.realpath(root)
  for (const d of deletions) {
    const checked = checkPath(d)
    if ("refused" in checked) {
      refused.push({ path: d, reason: checked.refused })
      continue
    }
    const rel = checked.ok
    const parts = rel.split("/")
    let cur = realRoot
    let blocked: string | undefined
    for (const part of parts.slice(0, -1)) {
      cur = path.join(cur, part)
      const st = await lstat(cur)
      if (st === undefined) break
      if (!st.isDirectory()) {
        blocked = `${path.relative(realRoot, cur)} is not a directory`
        break
      }
    }
    if (blocked !== undefined) {
      refused.push({ path: rel, reason: blocked })
      continue
    }
    const full = path.join(realRoot, rel)
    const st = await lstat(full)
    if (st === undefined) continue
    if (st.isDirectory()) {
      refused.push({ path: rel, reason: "is a directory in the target (only files are deleted)" })
      continue
    }
    await fsp.unlink(full)
    deleted.push(rel)
  }
  for (const e of entries) {
    const full = path.join(realRoot, e.path)
    const parentProblem = await ensureParents(realRoot, e.path)
    if (parentProblem !== undefined) {
      refused.push({ path: e.path, reason: parentProblem })
      continue
    }
    const st = await lstat(full)
    if (e.kind === "dir") {
      if (st === undefined) await fsp.mkdir(full, { mode: 0o755 })
      else if (!st.isDirectory()) refused.push({ path: e.path, reason: "a file or symlink is in the way" })
      continue
    }
    if (st !== undefined) {
      if (st.isDirectory()) {
        refused.push({ path: e.path, reason: "a directory is in the way" })
        continue
      }
      // Replace files and symlinks; never write through a symlink.
      await fsp.unlink(full)
    }
    if (e.kind === "symlink") {
      await fsp.symlink(e.target, full)
    } else {
      const handle = await fsp.open(full, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | O_NOFOLLOW, e.executable ? 0o755 : 0o644)
      try {
        await handle.writeFile(e.body)
        await handle.chmod(e.executable ? 0o755 : 0o644)
      } finally {
        await handle.close()
      }
    }
    written.push(e.path)
  }
  return { written, deleted, refused }
}

/**
 * Read the files `rel` under `root` for a change archive, without following symlinks anywhere on the way:
 * a regular file becomes a file entry, a symlink a symlink entry; anything else (or a path beneath a
 * symlink) is skipped with a refusal.
 */
export const collect = async (
  root: string,
  rels: ReadonlyArray<string>
): Promise<{ readonly entries: ReadonlyArray<Entry>; readonly refused: ReadonlyArray<Refusal> }> => {
  const entries: Array<Entry> = []
  const refused: Array<Refusal> = []
  for (const rel of rels) {
    const checked = checkPath(rel)
    if ("refused" in checked) {
      refused.push({ path: rel, reason: checked.refused })
      continue
    }
    const parts = checked.ok.split("/")
    let cur = root
    let bad: string | undefined
    for (const part of parts.slice(0, -1)) {
      cur = path.join(cur, part)
      const st = await lstat(cur)
      if (st === undefined || !st.isDirectory()) {
        bad = `${path.relative(root, cur)} is not a directory`
        break
      }
    }
    if (bad !== undefined) {
      refused.push({ path: checked.ok, reason: bad })
      continue
    }
    const full = path.join(root, checked.ok)
    const st = await lstat(full)
    if (st === undefined) {
      refused.push({ path: checked.ok, reason: "disappeared while collecting" })
    } else if (st.isSymbolicLink()) {
      entries.push({ kind: "symlink", path: checked.ok, target: await fsp.readlink(full) })
    } else if (st.isFile()) {
      const handle = await fsp.open(full, constants.O_RDONLY | O_NOFOLLOW)
      try {
        entries.push({ kind: "file", path: checked.ok, executable: (st.mode & 0o111) !== 0, body: new Uint8Array(await handle.readFile()) })
      } finally {
        await handle.close()
      }
    } else {
      refused.push({ path: checked.ok, reason: "not a regular file or symlink" })
    }
  }
  return { entries, refused }
}

/** Pack checked entries (files and symlinks) into a gzipped tar, in memory. */
export const packEntries = async (entries: ReadonlyArray<Entry>): Promise<Uint8Array> => {
  const tar = await loadTar()
  const blocks: Array<Buffer> = []
  const mtime = new Date()
  for (const e of entries) {
    if (e.kind === "dir") continue
    const header = new tar.Header({
      path: e.path,
      type: e.kind === "file" ? "File" : "SymbolicLink",
      mode: e.kind === "file" ? (e.executable ? 0o755 : 0o644) : 0o777,
      size: e.kind === "file" ? e.body.length : 0,
      linkpath: e.kind === "symlink" ? e.target : "",
      mtime,
      uid: 0,
      gid: 0
    })
    const block = Buffer.alloc(512)
    if (header.encode(block, 0)) {
      blocks.push(new tar.Pax({ path: e.path, ...(e.kind === "symlink" ? { linkpath: e.target } : {}), mtime }).encode())
    }
    blocks.push(block)
    if (e.kind === "file") {
      blocks.push(Buffer.from(e.body))
      const pad = (512 - (e.body.length % 512)) % 512
      if (pad > 0) blocks.push(Buffer.alloc(pad))
    }
  }
  blocks.push(Buffer.alloc(1024))
  return new Uint8Array(await gzip(Buffer.concat(blocks)))
}
