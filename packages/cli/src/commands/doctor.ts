import { Doctor } from "@parallel-cc/core"
import { Effect } from "effect"
import { defineCommand } from "../internal/Command.js"
import { withSetup } from "../internal/Env.js"
import { print, printJson } from "../internal/Output.js"

const mark = { ok: "✓", error: "✗", warning: "!" } as const

export const doctor = defineCommand({
  name: "doctor",
  description: "Check git, node, the agent CLI, the database, hooks, alias, MCP, cloud keys, gh and bubblewrap; " +
    "exit 0 when nothing required is missing",
  spec: {
    strict: { kind: "boolean", description: "Count optional findings (cloud keys, gh, bubblewrap, alias) as problems too" },
    json: { kind: "boolean", description: "Print one JSON document: {healthy, strict, findings: [...]}" }
  },
  handler: (opts) =>
    withSetup(Effect.gen(function*() {
      const doctor = yield* Doctor.Doctor
      const report = yield* doctor.run({ strict: opts.strict })
      const errors = report.findings.filter((f) => f.level === "error").length
      const warnings = report.findings.filter((f) => f.level === "warning").length
      if (opts.json) yield* printJson(report)
      else {
        const width = Math.max(...report.findings.map((f) => f.title.length))
        for (const f of report.findings) {
          yield* print(`${mark[f.level]} ${f.title.padEnd(width)}  ${f.detail}`)
          if (f.fix !== undefined) yield* print(`  ${" ".repeat(width)}  → ${f.fix}`)
        }
        yield* print(
          report.healthy
            ? `\nHealthy${warnings > 0 ? ` (${warnings} optional item${warnings === 1 ? "" : "s"} missing: ${
              report.findings.filter((f) => f.level === "warning").map((f) => f.id).join(", ")
            })` : ""}.`
            : `\nNot healthy: ${errors} problem${errors === 1 ? "" : "s"}${opts.strict && warnings > 0 ? ` and ${warnings} optional item${warnings === 1 ? "" : "s"} (--strict)` : ""}.`
        )
      }
      if (!report.healthy) return yield* new Doctor.Unhealthy({ errors, warnings, strict: report.strict })
    }))
})
