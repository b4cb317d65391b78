/**
 * The scripted agent (bin/scripted-agent.mjs): a stand-in for the `claude` CLI for tests and the demo.
 * See the header of the script for the command line and the script format.
 */
import * as path from "node:path"
import { fileURLToPath } from "node:url"

/** Absolute path of the executable script (usable as `--agent PATH` or the `agent` config key). */
export const path_ = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../bin/scripted-agent.mjs")
export { path_ as path }

/** An action; `optional: true` lets the script go on when it fails (the failure is reported as a tool error). */
export type Action = BaseAction & { readonly optional?: boolean }

type BaseAction =
  | { readonly write: string; readonly content: string }
  | { readonly append: string; readonly content: string }
  | { readonly edit: string; readonly find: string; readonly replace: string }
  | { readonly delete: string }
  | { readonly mkdir: string }
  | { readonly run: ReadonlyArray<string> }
  | { readonly say: string }
  | { readonly sleep: number }
  | { readonly env: string }
  | { readonly fail: string }
  | { readonly exit: number }
  | { readonly hang: true }
  /** Append `<label> <Date.now()>` to a file: when the agent got there. */
  | { readonly stamp: string; readonly label: string }
  /** Wait until a path exists (a barrier); fails the run after `timeoutMs` (default 30 s). */
  | { readonly waitFor: string; readonly timeoutMs?: number }

export interface Script {
  readonly actions: ReadonlyArray<Action>
  readonly cost?: number
  readonly result?: string
}

/** The environment variable that carries a script to the agent. */
export const env = (script: Script): Record<string, string> => ({ SCRIPTED_AGENT_SCRIPT: JSON.stringify(script) })

/** A prompt with an inline script (for runs where each task needs its own behaviour). */
export const prompt = (text: string, script: Script): string => `${text} [[scripted-agent:${JSON.stringify(script)}]]`
