import { defineConfig } from "vitest/config"

// One project per package (Vitest's `test.projects`; the deprecated vitest.workspace.ts is not used).
export default defineConfig({
  test: {
    projects: ["packages/*"]
  }
})
