import { Errors } from "@parallel-cc/core"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { Layers } from "./Env.js"

/** Resolve a user-given directory against the working directory, following symlinks. */
export const resolveDir = (input: string) =>
  Effect.flatMap(Layers, ({ cwd }) =>
    Effect.try({
      try: () => fs.realpathSync(path.resolve(cwd, input)),
      catch: () => new Errors.InvalidInput({ field: "path", detail: `${input} does not exist` })
    }))
