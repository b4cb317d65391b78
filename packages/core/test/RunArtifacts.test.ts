import { assert, describe, it } from "@effect/vitest"
import { TempDir } from "@parallel-cc/testkit"
import { Chunk, Deferred, Effect, Fiber, Option, Stream } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as NodeFs from "../src/platform/nodeFs.js"
import * as Redact from "../src/platform/redact.js"
import * as RunArtifacts from "../src/sandboxes/RunArtifacts.js"

describe("RunArtifacts", () => {
  it.scopedLive("a run directory is 0700; log lines are redacted, time-stamped and kept in order when many fibers write at once", () =>
    Effect.gen(function*() {
      const base = yield* TempDir.make()
      const files = yield* RunArtifacts.open(path.join(base, "sandboxes"), "abcdefghij")
      assert.strictEqual(fs.statSync(files.dir).mode & 0o777, 0o700)
      const log = yield* RunArtifacts.logger(files.logPath, Redact.make(["s3cret-token-value"]))
      // 20 fibers at once, 10 lines each: every line whole, each fiber's lines in its order.
      yield* Effect.forEach(Array.from({ length: 20 }, (_, f) => f), (f) =>
        Effect.forEach(Array.from({ length: 10 }, (_, i) => i), (i) => log(`fiber ${f} line ${i}`), { discard: true }), { concurrency: "unbounded" })
      yield* log("two\nlines with s3cret-token-value")
      const lines = yield* RunArtifacts.tail(files.logPath, undefined)
      assert.lengthOf(lines, 202)
      for (let f = 0; f < 20; f++) {
        const mine = lines.map((l) => l.slice(13)).filter((l) => l.startsWith(`fiber ${f} `))
        assert.deepStrictEqual(mine, Array.from({ length: 10 }, (_, i) => `fiber ${f} line ${i}`))
      }
      assert.match(lines[0]!, /^\d\d:\d\d:\d\d\.\d{3} fiber \d+ line 0$/)
      assert.notInclude(lines.join("\n"), "s3cret-token-value")
      assert.strictEqual(fs.statSync(files.logPath).mode & 0o777, 0o600)
      assert.deepStrictEqual((yield* RunArtifacts.tail(files.logPath, 1)).map((l) => l.slice(13)), ["lines with [redacted]"])
      assert.deepStrictEqual(yield* RunArtifacts.tail(path.join(base, "none.log"), 5), [])
    }))

  it.scopedLive("follow gives the last lines, then what is appended, and ends (with a last unterminated line) once the run has ended", () =>
    Effect.gen(function*() {
      const base = yield* TempDir.make()
      const file = path.join(base, "run.log")
      fs.writeFileSync(file, "a\nb\nc\n")
      const ended = yield* Deferred.make<void>()
      const started = yield* Deferred.make<void>()
      let n = 0
      const seen = yield* RunArtifacts.follow(file, 2, Deferred.isDone(ended)).pipe(
        Stream.tap(() => (++n === 2 ? Deferred.succeed(started, undefined) : Effect.void)),
        Stream.runCollect,
        Effect.fork
      )
      // Appended once the last two lines were given, and only then is the run over.
      yield* Deferred.await(started)
      yield* NodeFs.appendFile(file, "d\ne")
      yield* Deferred.succeed(ended, undefined)
      const lines = Chunk.toReadonlyArray(yield* Fiber.join(seen))
      assert.deepStrictEqual(lines, ["b", "c", "d", "e"])
    }))

  it.scopedLive("changes saved next to the log come back for download; missing or broken files are no changes", () =>
    Effect.gen(function*() {
      const base = yield* TempDir.make()
      const logPath = path.join(base, "run.log")
      const archive = new Uint8Array([31, 139, 8, 0])
      const saved = yield* RunArtifacts.saveChanges({ logPath }, { archive, added: ["a"], modified: ["m"], deleted: ["d"], refused: [] })
      assert.strictEqual(fs.statSync(saved).mode & 0o777, 0o600)
      const back = yield* RunArtifacts.loadSaved({ changesPath: saved })
      assert.isTrue(Option.isSome(back))
      if (Option.isSome(back)) assert.deepInclude(back.value, { added: ["a"], modified: ["m"], deleted: ["d"], archive })
      assert.isTrue(Option.isNone(yield* RunArtifacts.loadSaved({ changesPath: null })))
      fs.writeFileSync(path.join(base, "changes.json"), "{not json")
      assert.isTrue(Option.isNone(yield* RunArtifacts.loadSaved({ changesPath: saved })))
    }))
})
