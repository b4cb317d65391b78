/**
 * Parallel runs in-process: the real Sandboxes pipeline, the local provider (plain process, for speed; the
 * sandbox tests cover bubblewrap), the scripted agent, real git and SQLite. The E2B contract double stands
 * in for the cloud where a provider must fail transiently.
 */
import { assert, describe, it } from "@effect/vitest"
import { E2BProvider, ParallelRunner, ParallelSummary, SandboxProvider, SandboxRuns, SessionStore } from "@parallel-cc/core"
import { E2BDouble, ScriptedAgent, TempDir, TempRepo, TestConfig } from "@parallel-cc/testkit"
import { Effect, Either, Fiber, Layer, Schema } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"

interface World {
  readonly base: string
  readonly repo: TempRepo.TempRepo
  readonly sandboxRoot: string
  readonly host: { readonly env: Record<string, string>; readonly homeDir: string; readonly cwd: string }
  readonly layer: Layer.Layer<any, unknown>
}

const world = (providers: Parameters<typeof TestConfig.sandboxLayer>[2] = {}) =>
  Effect.map(TempDir.make("pcc-par-"), (base): World => {
    const repo = TempRepo.makeSync(base, { files: { "README.md": "# shop\n", "src/app.ts": "export const app = 1\n" } })
    const sandboxRoot = path.join(base, "sandboxes")
    fs.mkdirSync(sandboxRoot)
    const layer = TestConfig.sandboxLayer(path.join(base, "data"), {
      PARALLEL_CC_SANDBOX_LOCAL_ROOT: sandboxRoot,
      PARALLEL_CC_SANDBOX_LOCAL_ISOLATION: "process",
      PARALLEL_CC_PARALLEL_RETRY_DELAY_SECONDS: "0.05"
    }, providers)
    return {
      base,
      repo,
      sandboxRoot,
      host: { env: { ...repo.env, E2B_API_KEY: E2BDouble.apiKey }, homeDir: repo.home, cwd: repo.root },
      layer
    }
  })

const task = (id: string, script: ScriptedAgent.Script, dependsOn: ReadonlyArray<string> = []): ParallelRunner.TaskSpec => ({
  id,
  prompt: ScriptedAgent.prompt(`task ${id}`, script),
  dependsOn
})

const byId = (s: ParallelSummary.RunSummaryJson) => Object.fromEntries(s.tasks.map((t) => [t.id, t]))

/** The provider's own view: sandboxes it still has. */
const liveSandboxes = Effect.flatMap(SandboxProvider.SandboxProviders, (p) => p.get("local", { env: {} })).pipe(
  Effect.flatMap((p) => p.list)
)

const pidAlive = (pid: number | null) => {
  if (pid === null) return false
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe("ParallelRunner", () => {
  it.scopedLive("runs a dependency graph: order, skipping, no retry of an agent's failure, per-task results and the report", () =>
    Effect.gen(function*() {
      const w = yield* world()
      const events: Array<ParallelRunner.ParallelEvent> = []
      const out = path.join(w.base, "results")
      const summary = yield* Effect.flatMap(ParallelRunner.ParallelRunner, (r) =>
        r.run({
          repo: w.repo.root,
          tasks: [
            task("a", { actions: [{ write: "a.txt", content: "from a\n" }, { sleep: 300 }], cost: 0.01 }),
            task("b", { actions: [{ edit: "README.md", find: "# shop", replace: "# shop (b)" }], cost: 0.02 }, ["a"]),
            task("c", { actions: [{ sleep: 100 }, { fail: "cannot do c" }] }),
            task("d", { actions: [{ write: "d.txt", content: "d\n" }] }, ["c"]),
            task("e", { actions: [{ write: "e.txt", content: "e\n" }] }, ["d", "a"])
          ],
          maxConcurrent: 2,
          retries: 2,
          outputDir: out,
          run: { agent: ScriptedAgent.path },
          host: w.host
        }, (e) => Effect.sync(() => events.push(e)))
      ).pipe(Effect.provide(w.layer))

      const t = byId(summary)
      assert.strictEqual(summary.status, "failed")
      assert.deepStrictEqual(
        summary.tasks.map((x) => [x.id, x.status]),
        [["a", "succeeded"], ["b", "succeeded"], ["c", "failed"], ["d", "skipped"], ["e", "skipped"]]
      )
      // b waited for a; at most 2 ran at once.
      assert.isTrue(Date.parse(t.b!.startedAt!) >= Date.parse(t.a!.endedAt!))
      const order = events.filter((e) => e._tag === "TaskStarted" || e._tag === "TaskFinished").map((e) => `${e._tag === "TaskStarted" ? "+" : "-"}${e.taskId}`)
      assert.isBelow(order.indexOf("-a"), order.indexOf("+b"))
      let running = 0
      for (const o of order) {
        running += o.startsWith("+") ? 1 : o === "-d" || o === "-e" ? 0 : -1
        assert.isAtMost(running, 2)
      }
      // An agent's failure is not a transient provider error: one attempt despite retries: 2.
      assert.strictEqual(t.c!.attempts, 1)
      assert.match(t.c!.error!, /cannot do c/)
      assert.match(t.d!.reason!, /depends on c, which failed/)
      assert.match(t.e!.reason!, /depends on d, which was skipped/)
      assert.isNull(t.d!.sessionId)
      assert.strictEqual(summary.totals.costUsd, 0.03 + (t.c!.costUsd ?? 0))

      // Per-task results: result.json, the log, the patch against the base commit, the changed files.
      const aDir = path.join(out, "a")
      assert.deepStrictEqual(JSON.parse(fs.readFileSync(path.join(aDir, "result.json"), "utf8")).status, "succeeded")
      assert.match(fs.readFileSync(path.join(aDir, "run.log"), "utf8"), /agent started/)
      assert.strictEqual(fs.readFileSync(path.join(aDir, "files", "a.txt"), "utf8"), "from a\n")
      const patch = fs.readFileSync(path.join(out, "b", "changes.patch"), "utf8")
      assert.match(patch, /^\+# shop \(b\)$/m)
      // The patch applies to the base commit.
      w.repo.git(["apply", "--check", path.join(out, "b", "changes.patch")])
      assert.isTrue(fs.existsSync(path.join(out, "c", "run.log")))
      assert.isFalse(fs.existsSync(path.join(out, "d", "result.json")))

      const report = fs.readFileSync(path.join(out, "summary-report.md"), "utf8")
      assert.match(report, /\| \[c\]\(c\/\) \| task c .* \| FAILED \|/)
      assert.match(report, /\| \[d\]\(d\/\) \| task d .* \| skipped \|.*depends on c, which failed/)
      assert.match(report, /\*\*Totals:\*\* 5 tasks: 2 succeeded, 1 failed, 2 skipped/)
      assert.match(report, /\*\*Time saved:\*\*/)
      assert.match(report, /cannot do c/)
      // The review hint shows added files too: parallel-cc diff, not a plain git diff.
      assert.isNotNull(t.a!.worktreePath)
      assert.include(report, `- **a**: \`parallel-cc diff ${t.a!.sessionId}\` (in \`${t.a!.worktreePath}\`)`)
      assert.notInclude(report, "git status && git diff")
      const onDisk = Schema.decodeUnknownSync(ParallelSummary.RunSummary)(JSON.parse(fs.readFileSync(path.join(out, "summary.json"), "utf8")))
      assert.deepStrictEqual(onDisk, summary)
      // The results directory never becomes part of an upload.
      assert.strictEqual(fs.readFileSync(path.join(out, ".gitignore"), "utf8").trim().split("\n").at(-1), "*")
      // Results hold the prompts: nobody else may read them (0700 folders, 0600 files; `files/` is the
      // agent's output with its own modes, inside a 0700 task folder).
      const loose: Array<string> = []
      const walk = (dir: string) => {
        for (const name of fs.readdirSync(dir)) {
          const p = path.join(dir, name)
          const st = fs.lstatSync(p)
          const want = st.isDirectory() ? 0o700 : 0o600
          if ((st.mode & 0o777) !== want && !path.relative(out, p).split(path.sep).includes("files")) loose.push(`${path.relative(out, p)} ${(st.mode & 0o777).toString(8)}`)
          if (st.isDirectory() && name !== "files") walk(p)
        }
      }
      assert.strictEqual(fs.statSync(out).mode & 0o777, 0o700)
      walk(out)
      assert.deepStrictEqual(loose, [])
      assert.strictEqual(fs.statSync(path.join(out, "b", "changes.patch")).mode & 0o777, 0o600)
      assert.lengthOf(yield* liveSandboxes.pipe(Effect.provide(w.layer)), 0)
    }))

  it.scopedLive("the summary lists tasks whose changes overlap, whether their patches apply together (merge-tree) and an order that lands cleanest", () =>
    Effect.gen(function*() {
      const w = yield* world()
      const out = path.join(w.base, "results")
      const summary = yield* Effect.flatMap(ParallelRunner.ParallelRunner, (r) =>
        r.run({
          repo: w.repo.root,
          tasks: [
            task("price", { actions: [{ edit: "src/app.ts", find: "app = 1", replace: "app = 2" }] }),
            task("rename", { actions: [{ edit: "src/app.ts", find: "app = 1", replace: "app = 3" }] }),
            task("notes-a", { actions: [{ write: "NOTES.md", content: "same\n" }] }),
            task("notes-b", { actions: [{ write: "NOTES.md", content: "same\n" }, { write: "b.txt", content: "b\n" }] }),
            task("alone", { actions: [{ write: "alone.txt", content: "x\n" }] }),
            task("nothing", { actions: [] }),
            task("broken", { actions: [{ write: "src/app.ts", content: "broken\n" }, { fail: "gave up" }] })
          ],
          maxConcurrent: 3,
          outputDir: out,
          run: { agent: ScriptedAgent.path },
          host: w.host
        }, () => Effect.void)
      ).pipe(Effect.provide(w.layer))
      const o = summary.overlaps!
      // Only tasks that succeeded with changes are compared (not "nothing", not the failed "broken").
      assert.deepStrictEqual(o.tasks, ["price", "rename", "notes-a", "notes-b", "alone"], JSON.stringify(summary.tasks.map((t) => [t.id, t.status, t.patch, t.changes, t.error])))
      assert.deepStrictEqual(o.pairs, [
        { tasks: ["price", "rename"], files: ["src/app.ts"], conflicts: ["src/app.ts"], applyTogether: false },
        { tasks: ["notes-a", "notes-b"], files: ["NOTES.md"], conflicts: [], applyTogether: true }
      ])
      // Everything that conflicts with nothing first; of the conflicting pair, one lands clean, the other last.
      assert.deepStrictEqual(o.landingOrder, ["notes-a", "notes-b", "alone", "price", "rename"])
      assert.deepStrictEqual(o.landsClean, ["notes-a", "notes-b", "alone", "price"])
      assert.isNull(o.error)
      const onDisk = Schema.decodeUnknownSync(ParallelSummary.RunSummary)(JSON.parse(fs.readFileSync(path.join(out, "summary.json"), "utf8")))
      assert.deepStrictEqual(onDisk.overlaps, o)
      const report = fs.readFileSync(path.join(out, "summary-report.md"), "utf8")
      assert.include(report, "## Overlapping tasks")
      assert.include(report, "- `price` and `rename` both changed `src/app.ts`; they conflict in `src/app.ts`.")
      assert.include(report, "- `notes-a` and `notes-b` both changed `NOTES.md`; their patches apply together.")
      assert.include(report, "- Land in this order: `notes-a`, `notes-b`, `alone`, `price`, `rename` (`rename` will need its conflicts resolved).")
      // The repository is as it was: no index, branch or worktree file of the user's touched.
      assert.strictEqual(w.repo.git(["status", "--porcelain"]).trim(), "")
      // A summary written before overlaps existed still reads (as null).
      const { overlaps: _, ...old } = JSON.parse(fs.readFileSync(path.join(out, "summary.json"), "utf8"))
      assert.isNull(Schema.decodeUnknownSync(ParallelSummary.RunSummary)(old).overlaps)
    }))

  it.scopedLive("fail-fast: one failing task interrupts the running one (partial results kept) and cancels the pending; no sandbox is left", () =>
    Effect.gen(function*() {
      const w = yield* world()
      const out = path.join(w.base, "results")
      const started = path.join(w.base, "slow-started")
      const summary = yield* Effect.flatMap(ParallelRunner.ParallelRunner, (r) =>
        r.run({
          repo: w.repo.root,
          tasks: [
            task("slow", { actions: [{ write: "partial.txt", content: "half done\n" }, { run: ["touch", started] }, { hang: true }] }),
            // Fails only once the slow task has written its partial change.
            task("bad", { actions: [{ run: ["sh", "-c", `while [ ! -e '${started}' ]; do sleep 0.05; done`] }, { fail: "broken" }] }),
            task("p1", { actions: [{ write: "p1.txt", content: "x\n" }] }),
            task("p2", { actions: [{ write: "p2.txt", content: "x\n" }] })
          ],
          maxConcurrent: 2,
          failFast: true,
          outputDir: out,
          run: { agent: ScriptedAgent.path },
          host: w.host
        })
      ).pipe(Effect.provide(w.layer))
      const t = byId(summary)
      assert.deepStrictEqual(summary.tasks.map((x) => x.status), ["interrupted", "failed", "cancelled", "cancelled"])
      assert.match(t.slow!.reason!, /task bad failed \(--fail-fast\)/)
      assert.match(t.p1!.reason!, /not started/)
      // Partial results of the interrupted task are kept: in its result directory and its worktree.
      assert.strictEqual(fs.readFileSync(path.join(out, "slow", "files", "partial.txt"), "utf8"), "half done\n")
      assert.isTrue(fs.existsSync(path.join(t.slow!.worktreePath!, "partial.txt")))
      // Nothing left running: the provider lists no sandbox, the agent process is gone, the run is final.
      assert.lengthOf(yield* liveSandboxes.pipe(Effect.provide(w.layer)), 0)
      const rec = yield* Effect.flatMap(SandboxRuns.SandboxRuns, (r) => r.get(t.slow!.sessionId!)).pipe(Effect.provide(w.layer))
      assert.strictEqual(rec.status, "interrupted")
      assert.strictEqual(rec.sandboxState, "killed")
      assert.isFalse(pidAlive(rec.agentPid))
      assert.strictEqual(summary.status, "failed")
    }))

  it.scopedLive("retries a transient provider error with backoff, never a refusal", () =>
    Effect.gen(function*() {
      const base = yield* TempDir.make("pcc-par-e2b-")
      const e2b = (options: Omit<E2BDouble.Options, "root">) => {
        const double = E2BDouble.make({ root: path.join(base, "vms"), ...options })
        return (ctx: SandboxProvider.ProviderContext) => E2BProvider.provider(() => Promise.resolve(double as unknown as E2BProvider.E2BModule), ctx)
      }
      const go = (options: Omit<E2BDouble.Options, "root">) =>
        Effect.gen(function*() {
          const w = yield* world({ e2b: e2b(options) })
          const events: Array<ParallelRunner.ParallelEvent> = []
          const s = yield* Effect.flatMap(ParallelRunner.ParallelRunner, (r) =>
            r.run({
              repo: w.repo.root,
              tasks: [task("t", { actions: [{ write: "t.txt", content: "t\n" }] })],
              retries: 2,
              outputDir: path.join(w.base, "out"),
              run: { agent: ScriptedAgent.path, provider: "e2b" },
              host: w.host
            }, (e) => Effect.sync(() => events.push(e)))
          ).pipe(Effect.provide(w.layer))
          return { t: s.tasks[0]!, retries: events.filter((e) => e._tag === "TaskRetrying") }
        })

      const limited = yield* go({ fail: { create: "rateLimit" }, failTimes: 2 })
      assert.strictEqual(limited.t.status, "succeeded")
      assert.strictEqual(limited.t.attempts, 3)
      assert.lengthOf(limited.t.earlierAttempts, 2)
      assert.deepStrictEqual(limited.retries.map((e) => e._tag === "TaskRetrying" && e.delayMs), [50, 100])

      const refused = yield* go({ fail: { create: "auth" } })
      assert.strictEqual(refused.t.status, "failed")
      assert.strictEqual(refused.t.attempts, 1)
      assert.lengthOf(refused.retries, 0)
      assert.match(refused.t.error!, /refused the credentials/)
    }))

  it.scopedLive("resume runs again only what did not succeed, in the same output directory", () =>
    Effect.gen(function*() {
      const w = yield* world()
      const out = path.join(w.base, "results")
      const flag = path.join(w.base, "fixed")
      const tasks = [
        task("ok", { actions: [{ write: "ok.txt", content: "ok\n" }] }),
        task("flaky", { actions: [{ run: ["test", "-e", flag] }, { write: "flaky.txt", content: "now\n" }] }),
        task("after", { actions: [{ write: "after.txt", content: "after\n" }] }, ["flaky"])
      ]
      const runner = (f: (r: ParallelRunner.ParallelRunner["Type"]) => Effect.Effect<ParallelSummary.RunSummaryJson, unknown>) =>
        Effect.flatMap(ParallelRunner.ParallelRunner, f).pipe(Effect.provide(w.layer))
      const first = yield* runner((r) => r.run({ repo: w.repo.root, tasks, outputDir: out, run: { agent: ScriptedAgent.path }, host: w.host }))
      assert.deepStrictEqual(first.tasks.map((t) => t.status), ["succeeded", "failed", "skipped"])

      fs.writeFileSync(flag, "")
      // Through the plain-input entry point the Promise facade wraps.
      const second = yield* ParallelRunner.runParallel({ resume: out }, w.host).pipe(Effect.provide(w.layer))
      assert.strictEqual(second.status, "succeeded")
      const t = byId(second)
      assert.deepStrictEqual(second.tasks.map((x) => x.status), ["succeeded", "succeeded", "succeeded"])
      assert.isTrue(t.ok!.fromEarlierRun)
      assert.strictEqual(t.ok!.sessionId, byId(first).ok!.sessionId)
      assert.lengthOf(t.flaky!.earlierAttempts, 1)
      assert.strictEqual(t.flaky!.earlierAttempts[0]!.sessionId, byId(first).flaky!.sessionId)
      assert.lengthOf(second.runs, 2)
      assert.strictEqual(fs.readFileSync(path.join(out, "after", "files", "after.txt"), "utf8"), "after\n")
      // Four sandbox runs in all: ok once, flaky twice, after once.
      const all = yield* Effect.flatMap(SandboxRuns.SandboxRuns, (r) => r.list({ repoPath: w.repo.root })).pipe(Effect.provide(w.layer))
      assert.lengthOf(all, 4)

      const nothing = yield* runner((r) => r.resume({ outputDir: out, host: w.host })).pipe(Effect.flip)
      assert.strictEqual((nothing as ParallelRunner.ParallelRunError).reason, "NothingToResume")
      const reuse = yield* runner((r) => r.run({ repo: w.repo.root, tasks, outputDir: out, run: { agent: ScriptedAgent.path }, host: w.host })).pipe(Effect.flip)
      assert.match((reuse as ParallelRunner.ParallelRunError).message, /already exists and is not empty.*--resume/)
    }))

  it.scopedLive("interruption (Ctrl-C) stops every task, kills the sandboxes and still writes the summary", () =>
    Effect.gen(function*() {
      const w = yield* world()
      const out = path.join(w.base, "results")
      const fiber = yield* Effect.flatMap(ParallelRunner.ParallelRunner, (r) =>
        r.run({
          repo: w.repo.root,
          tasks: [task("h1", { actions: [{ write: "h1.txt", content: "1\n" }, { hang: true }] }), task("h2", { actions: [{ hang: true }] }), task("h3", { actions: [] })],
          maxConcurrent: 2,
          outputDir: out,
          run: { agent: ScriptedAgent.path },
          host: w.host
        })
      ).pipe(Effect.provide(w.layer), Effect.fork)
      // Wait until both agents run.
      const agents = () => {
        try {
          return fs.readdirSync(w.sandboxRoot).filter((d) => {
            try {
              return JSON.parse(fs.readFileSync(path.join(w.sandboxRoot, d, "meta", "state.json"), "utf8")).agentPid !== undefined
            } catch {
              return false
            }
          }).length
        } catch {
          return 0
        }
      }
      for (let i = 0; i < 600 && agents() < 2; i++) yield* Effect.sleep("50 millis")
      assert.strictEqual(agents(), 2)
      yield* Fiber.interrupt(fiber)
      const summary = JSON.parse(fs.readFileSync(path.join(out, "summary.json"), "utf8")) as ParallelSummary.RunSummaryJson
      assert.strictEqual(summary.status, "interrupted")
      assert.deepStrictEqual(summary.tasks.map((t) => t.status), ["interrupted", "interrupted", "cancelled"])
      assert.lengthOf(yield* liveSandboxes.pipe(Effect.provide(w.layer)), 0)
      assert.isTrue(fs.existsSync(path.join(out, "h1", "result.json")))
      assert.match(fs.readFileSync(path.join(out, "summary-report.md"), "utf8"), /--resume/)
    }))
})

describe("ParallelRunner agent slots (prepare ahead)", () => {
  /** The sandbox directory name of a session (the local provider names it after the run). */
  const sandboxDirOf = (sessionId: string) => `parallel-cc-sbx-${sessionId.replace(/[^A-Za-z0-9]/g, "").slice(0, 32)}-`

  it.scopedLive("local: at most K agents at once, the next task prepared meanwhile; the wait is not in its duration", () =>
    Effect.gen(function*() {
      const w = yield* world()
      const out = path.join(w.base, "results")
      const stamps = path.join(w.base, "stamps.txt")
      const bReady = path.join(w.base, "b-ready")
      const listing = path.join(w.base, "sandboxes-while-a-runs.txt")
      const events: Array<ParallelRunner.ParallelEvent> = []
      const summary = yield* Effect.flatMap(ParallelRunner.ParallelRunner, (r) =>
        r.run({
          repo: w.repo.root,
          tasks: [
            // a's agent goes on only once b reported it is prepared and waiting, and records the sandboxes then.
            task("a", {
              actions: [
                { stamp: stamps, label: "start a" },
                { waitFor: bReady },
                { run: ["sh", "-c", `ls '${w.sandboxRoot}' > '${listing}'`] },
                { sleep: 200 },
                { stamp: stamps, label: "end a" }
              ]
            }),
            task("b", { actions: [{ stamp: stamps, label: "start b" }, { sleep: 300 }, { write: "b.txt", content: "b\n" }, { stamp: stamps, label: "end b" }] }),
            task("c", { actions: [{ stamp: stamps, label: "start c" }, { sleep: 300 }, { stamp: stamps, label: "end c" }] })
          ],
          maxConcurrent: 1,
          outputDir: out,
          run: { agent: ScriptedAgent.path },
          host: w.host
        }, (e) =>
          Effect.sync(() => {
            events.push(e)
            if (e._tag === "TaskPhase" && e.taskId === "b" && e.phase === "ready") fs.writeFileSync(bReady, "")
          }))
      ).pipe(Effect.provide(w.layer))
      const t = byId(summary)
      assert.deepStrictEqual(summary.tasks.map((x) => x.status), ["succeeded", "succeeded", "succeeded"])

      // Agents never overlap at K = 1: each one starts after the previous one ended.
      const marks = fs.readFileSync(stamps, "utf8").trim().split("\n").map((l) => l.split(" "))
      const at = (what: string) => Number(marks.find((m) => `${m[0]} ${m[1]}` === what)![2])
      const intervals = ["a", "b", "c"].map((id) => [at(`start ${id}`), at(`end ${id}`)] as const).sort((x, y) => x[0] - y[0])
      for (let i = 1; i < intervals.length; i++) assert.isAtLeast(intervals[i]![0], intervals[i - 1]![1])

      // While a's agent ran, b's sandbox already existed (prepared), and b said it was waiting for a slot.
      const dirs = fs.readFileSync(listing, "utf8").trim().split("\n")
      assert.isTrue(dirs.some((d) => d.startsWith(sandboxDirOf(t.b!.sessionId!))), dirs.join(", "))
      const phasesOfB = events.filter((e) => e._tag === "TaskPhase" && e.taskId === "b").map((e) => e._tag === "TaskPhase" && e.phase)
      assert.isBelow(phasesOfB.indexOf("ready"), phasesOfB.indexOf("agent"))
      assert.isBelow(phasesOfB.indexOf("uploading"), phasesOfB.indexOf("ready"))

      // Honest time: a task's duration excludes its wait; the sequential time is the sum of the durations.
      assert.isAbove(t.b!.waitedMs, 0)
      for (const x of summary.tasks) {
        assert.strictEqual(x.durationMs! + x.waitedMs, Date.parse(x.endedAt!) - Date.parse(x.startedAt!))
        assert.strictEqual(JSON.parse(fs.readFileSync(path.join(out, x.id, "result.json"), "utf8")).waitedMs, x.waitedMs)
      }
      assert.strictEqual(summary.sequentialMs, summary.tasks.reduce((n, x) => n + x.durationMs!, 0))
      const finishedB = events.find((e) => e._tag === "TaskFinished" && e.taskId === "b")
      assert.strictEqual(finishedB?._tag === "TaskFinished" && finishedB.waitedMs, t.b!.waitedMs)
      // The sandbox's hard limit counts from the agent's start: the run record's start is the agent's.
      const recB = yield* Effect.flatMap(SandboxRuns.SandboxRuns, (r) => r.get(t.b!.sessionId!)).pipe(Effect.provide(w.layer))
      assert.isAtLeast(recB.startedAt!.getTime(), at("end a"))
      assert.match(fs.readFileSync(path.join(out, "b", "run.log"), "utf8"), /agent slot: waited \d+ ms/)
      assert.lengthOf(yield* liveSandboxes.pipe(Effect.provide(w.layer)), 0)
    }))

  it.scopedLive("fail-fast with tasks waiting for a slot: they are cancelled, their sandboxes removed, their sessions released", () =>
    Effect.gen(function*() {
      const w = yield* world()
      const out = path.join(w.base, "results")
      const bothReady = path.join(w.base, "both-ready")
      const ready = new Set<string>()
      const summary = yield* Effect.flatMap(ParallelRunner.ParallelRunner, (r) =>
        r.run({
          repo: w.repo.root,
          tasks: [
            // Fails once both waiting tasks are prepared and waiting for a slot.
            task("bad", { actions: [{ waitFor: bothReady }, { fail: "broken" }] }),
            task("slow", { actions: [{ hang: true }] }),
            task("w1", { actions: [{ write: "w1.txt", content: "x\n" }] }),
            task("w2", { actions: [{ write: "w2.txt", content: "x\n" }] }),
            task("p", { actions: [{ write: "p.txt", content: "x\n" }] })
          ],
          maxConcurrent: 2,
          failFast: true,
          outputDir: out,
          run: { agent: ScriptedAgent.path },
          host: w.host
        }, (e) =>
          Effect.sync(() => {
            if (e._tag === "TaskPhase" && e.phase === "ready") ready.add(e.taskId)
            if (ready.has("w1") && ready.has("w2")) fs.writeFileSync(bothReady, "")
          }))
      ).pipe(Effect.provide(w.layer))
      const t = byId(summary)
      assert.deepStrictEqual(summary.tasks.map((x) => x.status), ["failed", "interrupted", "cancelled", "cancelled", "cancelled"])
      assert.match(t.w1!.reason!, /not started: task bad failed \(--fail-fast\)/)
      assert.isNull(t.p!.sessionId)
      // Nothing left: the provider lists no sandbox, no sandbox directory is left, no agent ran for w1/w2.
      assert.lengthOf(yield* liveSandboxes.pipe(Effect.provide(w.layer)), 0)
      assert.deepStrictEqual(fs.readdirSync(w.sandboxRoot), [])
      for (const id of ["w1", "w2"]) {
        const sessionId = t[id]!.sessionId!
        const rec = yield* Effect.flatMap(SandboxRuns.SandboxRuns, (r) => r.get(sessionId)).pipe(Effect.provide(w.layer))
        assert.strictEqual(rec.status, "interrupted")
        assert.strictEqual(rec.sandboxState, "killed")
        assert.isNull(rec.agentPid)
        const session = yield* Effect.flatMap(SessionStore.SessionStore, (s) => s.get(sessionId as never)).pipe(Effect.provide(w.layer))
        assert.strictEqual(session.status, "released")
        assert.isAbove(t[id]!.waitedMs, 0)
      }
      const slow = yield* Effect.flatMap(SandboxRuns.SandboxRuns, (r) => r.get(t.slow!.sessionId!)).pipe(Effect.provide(w.layer))
      assert.isFalse(pidAlive(slow.agentPid))
    }))

  it.scopedLive("E2B (contract double): no preparation ahead — at most K tasks under way, nobody waits for a slot", () =>
    Effect.gen(function*() {
      const base = yield* TempDir.make("pcc-par-e2b-slots-")
      const double = E2BDouble.make({ root: path.join(base, "vms") })
      const w = yield* world({ e2b: (ctx) => E2BProvider.provider(() => Promise.resolve(double as unknown as E2BProvider.E2BModule), ctx) })
      const events: Array<ParallelRunner.ParallelEvent> = []
      const summary = yield* Effect.flatMap(ParallelRunner.ParallelRunner, (r) =>
        r.run({
          repo: w.repo.root,
          tasks: [task("x", { actions: [{ sleep: 200 }, { write: "x.txt", content: "x\n" }] }), task("y", { actions: [{ write: "y.txt", content: "y\n" }] })],
          maxConcurrent: 1,
          outputDir: path.join(w.base, "out"),
          run: { agent: ScriptedAgent.path, provider: "e2b" },
          host: w.host
        }, (e) => Effect.sync(() => events.push(e)))
      ).pipe(Effect.provide(w.layer))
      assert.deepStrictEqual(summary.tasks.map((x) => x.status), ["succeeded", "succeeded"])
      // y started only after x finished (its whole run, collection included), and never waited.
      const order = events.filter((e) => e._tag === "TaskStarted" || e._tag === "TaskFinished").map((e) => `${e._tag === "TaskStarted" ? "+" : "-"}${e.taskId}`)
      assert.deepStrictEqual(order, ["+x", "-x", "+y", "-y"])
      assert.isFalse(events.some((e) => e._tag === "TaskPhase" && e.phase === "ready"))
      assert.deepStrictEqual(summary.tasks.map((x) => x.waitedMs), [0, 0])
      assert.strictEqual(summary.sequentialMs, summary.tasks.reduce((n, x) => n + x.durationMs!, 0))
    }))
})

describe("ParallelRunner task lists", () => {
  const load = (w: World, source: ParallelRunner.TaskSource) =>
    Effect.flatMap(ParallelRunner.ParallelRunner, (r) => r.load(source, w.host)).pipe(Effect.provide(w.layer), Effect.either)
  const file = (w: World, name: string, text: string | Uint8Array) => {
    fs.writeFileSync(path.join(w.repo.root, name), text)
    return { _tag: "File" as const, path: name }
  }
  const problem = (r: Either.Either<ReadonlyArray<ParallelRunner.TaskSpec>, unknown>) => {
    assert.isTrue(Either.isLeft(r), "expected the task list to be refused")
    return (r as Either.Left<ParallelRunner.TaskListError, unknown>).left
  }

  it.scopedLive("one task per line, comments and blank lines ignored; limits and bad lines are clear errors", () =>
    Effect.gen(function*() {
      const w = yield* world()
      const ok = yield* load(w, file(w, "tasks.txt", "# tasks\n\nAdd a health check\n  # indented comment\r\nWrite the README  \n\n"))
      assert.deepStrictEqual(Either.getOrThrow(ok).map((t) => [t.id, t.prompt]), [["task-1", "Add a health check"], ["task-2", "Write the README"]])

      const big = problem(yield* load(w, file(w, "big.txt", "x".repeat(ParallelRunner.taskListLimits.fileBytes + 1))))
      assert.strictEqual(big.reason, "TooLarge")
      assert.match(big.message, /^big\.txt: the file is 256 KB; task files are limited to 256 KB/)

      const many = problem(yield* load(w, file(w, "many.txt", Array.from({ length: 201 }, (_, i) => `task ${i}`).join("\n"))))
      assert.match(many.message, /^many\.txt:201: more than 200 tasks/)

      const ctrl = problem(yield* load(w, file(w, "ctrl.txt", "fine\n# ok\nbad \u001b[31mred\n")))
      assert.match(ctrl.message, /^ctrl\.txt:3: the prompt contains control characters/)
      const nul = problem(yield* load(w, file(w, "nul.txt", new Uint8Array([0x61, 0x00, 0x62, 0x0a]))))
      assert.match(nul.message, /^nul\.txt:1: /)
      const latin1 = problem(yield* load(w, file(w, "latin1.txt", new Uint8Array([0x63, 0x61, 0x66, 0xe9, 0x0a]))))
      assert.match(latin1.message, /not valid UTF-8/)
      const long = problem(yield* load(w, file(w, "long.txt", `short\n${"y".repeat(40_000)}\n`)))
      assert.match(long.message, /^long\.txt:2: the prompt is 40000 characters long/)
      const empty = problem(yield* load(w, file(w, "empty.txt", "# only comments\n\n")))
      assert.match(empty.message, /no tasks/)
      assert.strictEqual(problem(yield* load(w, { _tag: "File", path: "missing.txt" })).reason, "Unreadable")
      assert.match(problem(yield* load(w, { _tag: "Prompts", prompts: ["a", " "] })).message, /--task #2: is empty/)
      const two = yield* ParallelRunner.runParallel({ tasks: ["a"], taskFile: "tasks.txt" }, w.host).pipe(Effect.provide(w.layer), Effect.flip)
      assert.match((two as { message: string }).message, /exactly one of tasks, taskFile or resume/)
    }))

  it.scopedLive("YAML and JSON task files: ids, dependsOn, agent, branch; unknown ids, cycles and typos fail before anything starts", () =>
    Effect.gen(function*() {
      const w = yield* world()
      const yaml = yield* load(w, file(w, "tasks.yaml", [
        "tasks:",
        "  - id: api",
        "    prompt: |",
        "      Add the API",
        "      with two lines",
        "  - id: tests",
        "    prompt: Write tests",
        "    dependsOn: api",
        "    agent: claude",
        "    branch: feature/tests",
        ""
      ].join("\n")))
      const tasks = Either.getOrThrow(yaml)
      assert.deepStrictEqual(tasks.map((t) => [t.id, t.dependsOn]), [["api", []], ["tests", ["api"]]])
      assert.strictEqual(tasks[0]!.prompt, "Add the API\nwith two lines")
      assert.strictEqual(tasks[1]!.branch, "feature/tests")
      const json = Either.getOrThrow(yield* load(w, file(w, "t.json", JSON.stringify([{ id: "x", prompt: "p" }, { id: "y", prompt: "q", dependsOn: ["x"] }]))))
      assert.deepStrictEqual(json.map((t) => t.id), ["x", "y"])

      const doc = (name: string, text: string) => load(w, file(w, name, text)).pipe(Effect.map(problem))
      assert.match((yield* doc("cycle.yaml", "- {id: a, prompt: p, dependsOn: c}\n- {id: b, prompt: p, dependsOn: a}\n- {id: c, prompt: p, dependsOn: b}\n")).message, /cycle: a → c → b → a/)
      assert.match((yield* doc("self.yaml", "- {id: a, prompt: p, dependsOn: a}\n")).message, /a depends on itself/)
      assert.match((yield* doc("unknown.yaml", "- {id: a, prompt: p, dependsOn: [zz]}\n")).message, /task a depends on "zz", which is not a task id/)
      assert.match((yield* doc("dup.yaml", "- {id: a, prompt: p}\n- {id: A, prompt: q}\n")).message, /two tasks have the id "A"/)
      assert.match((yield* doc("typo.yaml", "- {id: a, prompt: p, depends_on: [b]}\n")).message, /task #1: unknown key "depends_on"/)
      assert.match((yield* doc("badid.yaml", "- {id: ../x, prompt: p}\n")).message, /id "\.\.\/x" is not valid/)
      assert.match((yield* doc("noprompt.json", "[{\"id\": \"a\"}]")).message, /task a: prompt is missing/)
      assert.match((yield* doc("broken.json", "[{")).message, /^broken\.json: not valid JSON/)
      assert.match((yield* doc("broken.yaml", "tasks: [\n")).message, /^broken\.yaml: not valid YAML/)
      assert.match((yield* doc("scalar.yaml", "just text\n")).message, /expected a list of tasks/)
    }))

  it.scopedLive("a task that cannot start fails the whole run before anything starts", () =>
    Effect.gen(function*() {
      const w = yield* world()
      const out = path.join(w.base, "results")
      w.repo.git(["branch", "taken"])
      const err = yield* Effect.flatMap(ParallelRunner.ParallelRunner, (r) =>
        r.run({
          repo: w.repo.root,
          tasks: [{ id: "one", prompt: "p", dependsOn: [] }, { id: "two", prompt: "q", dependsOn: [], branch: "taken" }],
          outputDir: out,
          run: { agent: ScriptedAgent.path },
          host: w.host
        })
      ).pipe(Effect.provide(w.layer), Effect.flip)
      assert.match((err as ParallelRunner.ParallelRunError).message, /^task two: the branch taken already exists.*\(nothing was started\)$/)
      assert.isFalse(fs.existsSync(out))
      const noRuns = yield* Effect.flatMap(SandboxRuns.SandboxRuns, (r) => r.list({})).pipe(Effect.provide(w.layer))
      assert.lengthOf(noRuns, 0)
    }))
})
