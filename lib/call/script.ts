import { register } from 'node:module'
import { access } from 'node:fs/promises'
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
  /**
   * Providers the script cannot work without, checked at start-up (`phone-agent check`):
   * `stt` for `call.ask`, `stt` and `llm` for `call.converse`. Scripts that call those verbs
   * directly are detected from their source; declare it when the call happens in a helper.
   */
  readonly needs?: readonly ScriptNeed[]
}

export type ScriptNeed = 'stt' | 'llm'

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

let hooksRegistered = false

/**
 * Scripts may live anywhere (a project made by `phone-agent init`, /etc/phone-agent/scripts):
 * the hooks in script-hooks.mjs let them import `phone-agent` and load as ES modules there.
 */
function registerScriptHooks (): void {
  if (hooksRegistered) return
  hooksRegistered = true
  register(new URL('./script-hooks.mjs', import.meta.url))
}

/** Load a script module by absolute path. Scripts are loaded at start-up, so errors show then. */
export async function loadScript (name: string, modulePath: string): Promise<CallScript> {
  registerScriptHooks()
  try {
    await access(modulePath)
  } catch (err) {
    throw new PhoneAgentError('SCRIPT_LOAD_FAILED', `script "${name}": no file at ${modulePath} (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`, { cause: err })
  }
  let mod: { default?: unknown }
  try {
    mod = await import(pathToFileURL(modulePath).href) as { default?: unknown }
  } catch (err) {
    throw new PhoneAgentError('SCRIPT_LOAD_FAILED', `script "${name}" (${modulePath}) failed to load: ${firstLine((err as Error).message)}`, { cause: err })
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

/** Loader errors can carry a code frame after the first line; the first line says what is wrong. */
function firstLine (message: string): string {
  return message.split('\n', 1)[0] ?? message
}
