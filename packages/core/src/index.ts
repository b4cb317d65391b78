/**
 * @parallel-cc/core — the parallel-cc library: one namespace per module, each service with its Tag,
 * `make` and `layer`; the domain schemas; the typed errors; and the production layers `Live` and
 * `LiveSessions`. For plain async/await without Effect, see `@parallel-cc/core/promise`.
 *
 * @since 0.1.0
 * @module @parallel-cc/core
 */
export * as AgentAdapters from "./AgentAdapters.js"
export * as AppConfig from "./AppConfig.js"
export * as ClaimsLedger from "./ClaimsLedger.js"
export * as Conflicts from "./Conflicts.js"
export * as Database from "./Database.js"
export * as Doctor from "./Doctor.js"
export * as Domain from "./Domain.js"
export * as E2BProvider from "./E2BProvider.js"
export * as Errors from "./Errors.js"
export * as FileSync from "./FileSync.js"
export * as Git from "./Git.js"
export * as Host from "./Host.js"
export * as Installer from "./Installer.js"
export * as LegacyImport from "./LegacyImport.js"
export * as Live from "./Live.js"
export * as LiveSandbox from "./LiveSandbox.js"
export * as LocalProvider from "./LocalProvider.js"
export * as LiveSessions from "./LiveSessions.js"
export * as MergeWatcher from "./MergeWatcher.js"
export * as ParallelRunner from "./ParallelRunner.js"
export * as ParallelSummary from "./ParallelSummary.js"
export * as Processes from "./Processes.js"
export * as Sandboxes from "./Sandboxes.js"
export * as SandboxProvider from "./SandboxProvider.js"
export * as SandboxRuns from "./SandboxRuns.js"
export * as Sessions from "./Sessions.js"
export * as SessionStore from "./SessionStore.js"
export * as StatusSnapshot from "./StatusSnapshot.js"
export * as Templates from "./Templates.js"
export * as Worktrees from "./Worktrees.js"
