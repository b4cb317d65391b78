/**
 * @parallel-cc/core — the parallel-cc library: one namespace per module, each service with its Tag,
 * `make` and `layer`; the domain schemas; the typed errors; and the production layers `Live` and
 * `LiveSessions`. For plain async/await without Effect, see `@parallel-cc/core/promise`.
 *
 * @since 0.1.0
 * @module @parallel-cc/core
 */
export * as AgentAdapters from "./sandboxes/AgentAdapters.js"
export * as AppConfig from "./platform/AppConfig.js"
export * as ClaimsLedger from "./coordination/ClaimsLedger.js"
export * as Conflicts from "./coordination/Conflicts.js"
export * as Database from "./platform/Database.js"
export * as Doctor from "./setup/Doctor.js"
export * as Domain from "./Domain.js"
export * as E2BProvider from "./sandboxes/E2BProvider.js"
export * as Errors from "./Errors.js"
export * as FileSync from "./sandboxes/FileSync.js"
export * as Git from "./platform/Git.js"
export * as Host from "./platform/Host.js"
export * as Installer from "./setup/Installer.js"
export * as Landing from "./landing/Landing.js"
export * as LandStore from "./landing/LandStore.js"
export * as LegacyImport from "./setup/LegacyImport.js"
export * as Live from "./live/Live.js"
export * as LiveSandbox from "./live/LiveSandbox.js"
export * as LocalProvider from "./sandboxes/LocalProvider.js"
export * as LiveSessions from "./live/LiveSessions.js"
export * as MergeWatcher from "./coordination/MergeWatcher.js"
export * as ParallelRunner from "./parallel/ParallelRunner.js"
export * as ParallelSummary from "./parallel/ParallelSummary.js"
export * as Processes from "./platform/Processes.js"
export * as Sandboxes from "./sandboxes/Sandboxes.js"
export * as SandboxProvider from "./sandboxes/SandboxProvider.js"
export * as SandboxRuns from "./sandboxes/SandboxRuns.js"
export * as SessionFiles from "./sessions/SessionFiles.js"
export * as SessionHooks from "./setup/sessionHooks.js"
export * as Sessions from "./sessions/Sessions.js"
export * as SessionStore from "./sessions/SessionStore.js"
export * as StatusSnapshot from "./sessions/StatusSnapshot.js"
export * as Templates from "./sandboxes/Templates.js"
export * as Worktrees from "./sessions/Worktrees.js"
export * as WorktreePrepare from "./sessions/worktreePrepare.js"
export * as WorktreeProvider from "./sessions/WorktreeProvider.js"
