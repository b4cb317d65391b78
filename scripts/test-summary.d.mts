/** Types of test-summary.mjs, for the test that checks it. */
export interface Summary {
  readonly passed: number
  readonly failed: number
  readonly lines: ReadonlyArray<string>
}
export declare const summarise: (report: unknown, options: { readonly requireBwrap: boolean; readonly filtered: boolean }) => Summary
