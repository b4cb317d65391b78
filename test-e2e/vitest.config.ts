import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { defineConfig, mergeConfig } from "vitest/config"
import shared from "../vitest.shared.js"

// The end-to-end suite (`npm run test:e2e`): the real Claude Code binary against the Anthropic API
// double, through our wrapper, hooks, MCP server and sandbox runs. Not part of `npm test`; CI runs both.
export default mergeConfig(
  shared,
  defineConfig({
    root: path.resolve(path.dirname(fileURLToPath(import.meta.url)), ".."),
    test: {
      name: "e2e",
      include: ["test-e2e/**/*.test.ts"],
      globalSetup: ["test-e2e/globalSetup.ts"],
      testTimeout: 180_000,
      hookTimeout: 120_000,
      // Each test starts several real processes; two files at a time suit a 2-core machine.
      maxWorkers: 2,
      minWorkers: 1
    }
  })
)
