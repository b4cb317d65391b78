#!/usr/bin/env node
"use strict"
// claude-parallel: run the agent in a parallel-cc session (see src/wrapper.ts).
require("./load.cjs").entry(__dirname, "wrap.cjs")
