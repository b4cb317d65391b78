/**
 * Conflict scenarios as real git histories: a base commit on `main`, one side's changes committed on
 * `main` (git's "ours" when merging into main) and the other side's on `feature` ("theirs").
 */
import * as fs from "node:fs"
import * as path from "node:path"
import * as TempRepo from "./TempRepo.js"

/** Path → content; `null` deletes the file. */
export type Files = Readonly<Record<string, string | Uint8Array | null>>

export interface Scenario {
  readonly base: Files
  /** Changes committed on `main` after the base. */
  readonly ours: Files
  /** Changes committed on `feature`, branched from the base. */
  readonly theirs: Files
}

export interface ConflictRepo extends TempRepo.TempRepo {
  readonly ours: "main"
  readonly theirs: "feature"
}

const writeFiles = (root: string, files: Files) => {
  for (const [file, content] of Object.entries(files)) {
    const full = path.join(root, file)
    if (content === null) fs.rmSync(full, { force: true })
    else {
      fs.mkdirSync(path.dirname(full), { recursive: true })
      fs.writeFileSync(full, content)
    }
  }
}

/** Build the scenario in `<base>/repo`; `main` is checked out at the end. */
export const makeSync = (base: string, scenario: Scenario): ConflictRepo => {
  const repo = TempRepo.makeSync(base, { files: { ".gitattributes": "" } })
  writeFiles(repo.root, scenario.base)
  repo.commitAll("base")
  repo.git(["checkout", "-q", "-b", "feature"])
  writeFiles(repo.root, scenario.theirs)
  repo.commitAll("feature changes")
  repo.git(["checkout", "-q", "main"])
  writeFiles(repo.root, scenario.ours)
  repo.commitAll("main changes")
  return { ...repo, ours: "main", theirs: "feature" }
}
