/**
 * The choice between a region's candidate resolutions: a logistic model over facts about the candidate
 * (which strategies produce it) and the region (its situation, which side did more work on the file),
 * fitted on the tuning part of the real-merge corpus (`scripts/conflict-corpus/tune.mjs` writes
 * `calibration.ts`), then a monotone map from the model's score to the share of such choices that
 * were exact on held-out repositories of the tuning part — so a confidence means what it says.
 */
import { fitted } from "./calibration.js"
import type { HunkCandidate, Situation } from "./hunks.js"

/** Which side's branch changed the file in more commits since the merge base. */
export type MoreWork = "ours" | "theirs" | "same"

/** The model's inputs for one candidate of one region. */
export const featuresOf = (c: Pick<HunkCandidate, "strategies">, s: Situation, more: MoreWork): Array<string> => {
  const out = ["bias", `agree=${Math.min(c.strategies.length, 4)}`]
  const ctx = [`shape=${s.shape}`, `rel=${s.relation}`, `hist=${s.history}`, `lang=${s.language}`, `more=${more}`]
  for (const st of c.strategies) {
    out.push(`s=${st}`)
    for (const x of ctx) out.push(`s=${st}&${x}`)
  }
  return out
}

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z))

/** The raw model score of a feature list under `weights`. */
export const scoreWith = (weights: Readonly<Record<string, number>>, features: ReadonlyArray<string>): number => {
  let z = 0
  for (const f of features) z += weights[f] ?? 0
  return sigmoid(z)
}

/** Map a raw score through a reliability table (ascending raw thresholds with the exact share above each). */
export const calibrateWith = (table: ReadonlyArray<readonly [number, number]>, raw: number): number => {
  let out = table.length > 0 ? table[0]![1] : raw
  for (const [threshold, share] of table) if (raw >= threshold) out = share
  return out
}

/** Confidence that this candidate is the resolution a maintainer commits (0–1, calibrated). */
export const confidenceOf = (c: Pick<HunkCandidate, "strategies">, s: Situation, more: MoreWork): { raw: number; confidence: number } => {
  const raw = scoreWith(fitted.weights, featuresOf(c, s, more))
  return { raw, confidence: calibrateWith(fitted.hunkReliability, raw) }
}

/** The kind of a resolution, as the auto-apply tier names it: the strategies that produce it. */
export const kindOf = (c: Pick<HunkCandidate, "strategies">): string => [...c.strategies].sort().join("+")

/** Whether this kind of resolution was exact in at least 95 % of its cases on the tuning part. */
export const autoApplies = (c: Pick<HunkCandidate, "strategies">, s: Situation): boolean =>
  fitted.autoApplyKinds.includes(`${kindOf(c)}|${s.language}`)
