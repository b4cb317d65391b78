#!/usr/bin/env node
"use strict"
// claude-parallel: run the agent in a parallel-cc session (see src/wrapperRun.ts and src/wrapperFast.ts).
require("./load.cjs").entry(__dirname, "wrapq.cjs")
