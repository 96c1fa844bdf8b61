import { pathToFileURL } from 'node:url'
import { PhoneAgentError } from '../errors.ts'
import type { Call } from './session.ts'

/**
 * A per-DID call script: `export default defineScript(async (call) => { ... })`. The marker lets
 * the loader tell a real script from a module that merely exports a function.
 */
const SCRIPT = Symbol.for('phone-agent.script')

export interface ScriptMeta {
  /**
   * Fixed phrases the script will say for a route (its greeting above all): rendered at
   * start-up and whenever the config changes, so answering a call never waits for TTS.
   */
  readonly phrases?: (route: { readonly options: Readonly<Record<string, unknown>>, readonly language: string }) => readonly string[]
}

export interface CallScript extends ScriptMeta {
  readonly [SCRIPT]: true
  readonly run: (call: Call) => Promise<void>
}

export function defineScript (run: (call: Call) => Promise<void>, meta: ScriptMeta = {}): CallScript {
  if (typeof run !== 'function') throw new TypeError('defineScript expects an async function (call) => { ... }')
  return { [SCRIPT]: true, run, ...meta }
}

export function isCallScript (value: unknown): value is CallScript {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[SCRIPT] === true
}

/** Load a script module by absolute path. Scripts are loaded at start-up, so errors show then. */
export async function loadScript (name: string, modulePath: string): Promise<CallScript> {
  let mod: { default?: unknown }
  try {
    mod = await import(pathToFileURL(modulePath).href) as { default?: unknown }
  } catch (err) {
    throw new PhoneAgentError('SCRIPT_LOAD_FAILED', `script "${name}" (${modulePath}) failed to load: ${(err as Error).message}`, { cause: err })
  }
  if (!isCallScript(mod.default)) {
    throw new PhoneAgentError('SCRIPT_LOAD_FAILED', `script "${name}" (${modulePath}) must export default defineScript(async (call) => { ... })`)
  }
  return mod.default
}

/** Load every script the config names, keyed by script name. */
export async function loadScripts (modules: Readonly<Record<string, string>>, names: Iterable<string>): Promise<Map<string, CallScript>> {
  const loaded = new Map<string, CallScript>()
  for (const name of new Set(names)) {
    const path = modules[name]
    if (path === undefined) throw new PhoneAgentError('SCRIPT_LOAD_FAILED', `no module for script "${name}"`)
    loaded.set(name, await loadScript(name, path))
  }
  return loaded
}
