/**
 * @parallel-cc/core — the parallel-cc library.
 *
 * @since 0.1.0
 */
export * as AppConfig from "./AppConfig.js"
export * as ClaimsLedger from "./ClaimsLedger.js"
export * as Conflicts from "./Conflicts.js"
export * as Database from "./Database.js"
export * as Doctor from "./Doctor.js"
export * as Domain from "./Domain.js"
export * as Errors from "./Errors.js"
export * as Git from "./Git.js"
export * as Host from "./Host.js"
export * as Installer from "./Installer.js"
export * as LegacyImport from "./LegacyImport.js"
export * as Live from "./Live.js"
export * as LiveSessions from "./LiveSessions.js"
export * as MergeWatcher from "./MergeWatcher.js"
export * as Processes from "./Processes.js"
export * as Sessions from "./Sessions.js"
export * as SessionStore from "./SessionStore.js"
export * as Worktrees from "./Worktrees.js"
