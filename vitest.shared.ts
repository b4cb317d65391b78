import { defineConfig } from "vitest/config"

// Options every package's test project shares. Packages resolve each other's TypeScript sources
// through the "source" export condition, so tests never need a library build.
export default defineConfig({
  resolve: { conditions: ["source"] },
  ssr: { resolve: { conditions: ["source"] } },
  test: {
    environment: "node",
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    sequence: { concurrent: false }
  }
})
