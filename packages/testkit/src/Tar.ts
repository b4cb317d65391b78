/**
 * A minimal ustar writer for tests that need archives no well-behaved tool would make: paths with `..`,
 * absolute paths, links pointing out, devices. Independent of the archive library under test.
 */
import * as zlib from "node:zlib"

export interface RawEntry {
  readonly path: string
  /** ustar type flag: "0" file, "1" hard link, "2" symlink, "3" char device, "5" directory, "6" fifo. */
  readonly type?: "0" | "1" | "2" | "3" | "5" | "6"
  readonly content?: string
  readonly linkpath?: string
  readonly mode?: number
}

const field = (buf: Buffer, offset: number, length: number, value: string) => {
  buf.write(value.slice(0, length), offset, length, "utf8")
}

const octal = (buf: Buffer, offset: number, length: number, value: number) => {
  field(buf, offset, length, value.toString(8).padStart(length - 1, "0") + "\0")
}

const header = (e: RawEntry, size: number): Buffer => {
  const h = Buffer.alloc(512)
  if (Buffer.byteLength(e.path) > 100) throw new Error("test archive paths must fit in 100 bytes")
  field(h, 0, 100, e.path)
  octal(h, 100, 8, e.mode ?? 0o644)
  octal(h, 108, 8, 0)
  octal(h, 116, 8, 0)
  octal(h, 124, 12, size)
  octal(h, 136, 12, Math.floor(Date.now() / 1000))
  h.fill(" ", 148, 156)
  field(h, 156, 1, e.type ?? "0")
  field(h, 157, 100, e.linkpath ?? "")
  field(h, 257, 6, "ustar\0")
  field(h, 263, 2, "00")
  let sum = 0
  for (const b of h) sum += b
  field(h, 148, 8, sum.toString(8).padStart(6, "0") + "\0 ")
  return h
}

/** A gzipped tar of `entries`, exactly as given (no checks). */
export const make = (entries: ReadonlyArray<RawEntry>): Uint8Array => {
  const blocks: Array<Buffer> = []
  for (const e of entries) {
    const body = (e.type ?? "0") === "0" ? Buffer.from(e.content ?? "") : Buffer.alloc(0)
    blocks.push(header(e, body.length))
    if (body.length > 0) {
      blocks.push(body)
      const pad = (512 - (body.length % 512)) % 512
      if (pad > 0) blocks.push(Buffer.alloc(pad))
    }
  }
  blocks.push(Buffer.alloc(1024))
  return new Uint8Array(zlib.gzipSync(Buffer.concat(blocks)))
}
