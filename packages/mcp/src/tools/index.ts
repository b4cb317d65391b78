/**
 * The tool groups, in listing order. A group is a module `src/tools/<area>.ts` exporting `tools`.
 *
 * @since 0.1.0
 */
import type { AnyTool } from "../Tool.js"
import * as Claims from "./claims.js"
import * as ConflictTools from "./conflicts.js"
import * as LandingTools from "./landing.js"
import * as Merges from "./merges.js"
import * as OverlapTools from "./overlaps.js"
import * as Sandbox from "./sandbox.js"
import * as Status from "./status.js"

export const groups: ReadonlyArray<ReadonlyArray<AnyTool>> = [
  Status.tools,
  Merges.tools,
  Claims.tools,
  OverlapTools.tools,
  ConflictTools.tools,
  LandingTools.tools,
  Sandbox.tools
]
