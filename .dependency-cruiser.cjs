/** Package boundaries (docs/architecture.md): core is a leaf, shells do not mix, src never imports testkit. */
module.exports = {
  forbidden: [
    { name: "no-circular", severity: "error", from: { path: "^packages/[^/]+/src" }, to: { circular: true } },
    {
      name: "core-is-a-leaf",
      severity: "error",
      from: { path: "^packages/core/src" },
      to: { path: "^packages/(cli|mcp|testkit)/|node_modules/(parallel-cc|@parallel-cc/(cli|mcp|testkit))/" }
    },
    { name: "mcp-never-imports-cli", severity: "error", from: { path: "^packages/mcp/" }, to: { path: "^packages/cli/" } },
    {
      name: "no-testkit-in-src",
      severity: "error",
      from: { path: "^packages/(core|cli|mcp)/src" },
      to: { path: "^packages/testkit/|@parallel-cc/testkit" }
    },
    {
      name: "no-effect-cli-in-core",
      severity: "error",
      from: { path: "^packages/(core|mcp)/src" },
      to: { path: "node_modules/@effect/cli/" }
    },
    {
      name: "core-public-api-only",
      comment: "Everything outside core uses its public API (@parallel-cc/core, @parallel-cc/core/promise), never its modules",
      severity: "error",
      from: { pathNot: "^packages/core/" },
      to: { path: "^packages/core/src/", pathNot: "^packages/core/src/(index|promise)\\.ts$" }
    },
    {
      name: "no-unresolvable-imports",
      comment: "An import that does not resolve (e.g. a subpath of @parallel-cc/core that its exports map does not offer)",
      severity: "error",
      from: {},
      to: { couldNotResolve: true }
    },
    {
      name: "platform-node-only-at-edges",
      severity: "error",
      from: { path: "^packages/core/src", pathNot: "^packages/core/src/(live/|promise\\.ts$)" },
      to: { path: "node_modules/@effect/platform-node" }
    }
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    // Only our own build output is left out. The pattern is anchored because npm modules resolve into their
    // own dist/ folders: they must stay in the graph as leaves (doNotFollow), or the rules about @effect/cli
    // and @effect/platform-node have nothing to see.
    exclude: { path: "^packages/[^/]+/dist/" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { conditionNames: ["source", "import", "require", "node", "default"], exportsFields: ["exports"] }
  }
}
