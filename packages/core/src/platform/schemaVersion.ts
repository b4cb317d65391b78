/**
 * The schema version this build migrates to, as a plain constant for code that must not load the
 * migrations (they import Effect): `StatusSnapshot`. `Database.latestVersion` is computed from the
 * migrations themselves; a test keeps the two equal.
 */
export const LATEST_SCHEMA_VERSION = 16
