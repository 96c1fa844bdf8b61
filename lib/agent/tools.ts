import type { ToolDefinition } from '../llm/types.ts'
import { toE164 } from '../numbers/e164.ts'

/**
 * The tools the model may call, and the gate every call passes before it acts.
 *
 * The model is steered by the caller, so its arguments are untrusted input: a transfer target is
 * one of the configured NAMES, never a number or dial string, whatever the caller talked the
 * model into writing. The JSON schema tells a well-behaved model the rules; validateToolCall
 * enforces them for one that is not. Error texts go back to the model as the tool result, so they
 * say how to recover and never echo the offending value.
 */

export const TOOL_NAMES = ['transfer_call', 'end_call', 'take_message', 'lookup_contact'] as const
export type ToolName = typeof TOOL_NAMES[number]

export const END_REASONS = ['resolved', 'caller_request', 'wrong_number', 'abusive', 'other'] as const
export type EndReason = typeof END_REASONS[number]

export interface ToolContext {
  /** Transfer target names the model may choose (config `transfers:` keys usable right now). */
  readonly targets: readonly string[]
  /** Country for national-format numbers in take_message and lookup_contact. */
  readonly defaultCountry: string
  /** Tools offered; default all of them (transfer_call only when there is a target). */
  readonly enabled?: readonly ToolName[]
  /** A line per target telling the model what it is for ("sales: new orders and quotes"). */
  readonly targetDescriptions?: Readonly<Record<string, string>>
}

export type ToolCall =
  | { readonly name: 'transfer_call', readonly args: { readonly target: string } }
  | { readonly name: 'end_call', readonly args: { readonly reason: EndReason } }
  | { readonly name: 'take_message', readonly args: { readonly name: string, readonly number: string, readonly message: string } }
  | { readonly name: 'lookup_contact', readonly args: { readonly number: string } }

export type ToolErrorCode = 'unknown_tool' | 'malformed_json' | 'invalid_arguments' | 'unknown_target'

export type ToolValidation =
  | { readonly ok: true, readonly call: ToolCall }
  | { readonly ok: false, readonly code: ToolErrorCode, readonly error: string }

export const LIMITS = { json: 4096, name: 100, number: 40, message: 1000 } as const

/** The tool definitions for the LLM request (OpenAI `tools`). */
export function toolDefinitions (context: ToolContext): ToolDefinition[] {
  const offered = offeredTools(context)
  const defs: ToolDefinition[] = []
  if (offered.has('transfer_call')) {
    const lines = context.targets.map((t) => context.targetDescriptions?.[t] ? `${t}: ${context.targetDescriptions[t]}` : t)
    defs.push(tool('transfer_call',
      'Transfer the caller to a person or department. Only the listed targets exist; phone numbers cannot be dialled. ' +
      `Say that you are transferring before calling this. Targets: ${lines.join('; ')}.`,
      { target: { type: 'string', enum: [...context.targets], description: 'One of the target names, exactly as listed.' } }))
  }
  if (offered.has('end_call')) {
    defs.push(tool('end_call', 'End the call after saying goodbye, when the caller is done or asks to hang up.',
      { reason: { type: 'string', enum: [...END_REASONS] } }))
  }
  if (offered.has('take_message')) {
    defs.push(tool('take_message', 'Record a message for the staff, once you have the caller\'s name, a callback number and the message.', {
      name: { type: 'string', maxLength: LIMITS.name, description: 'The caller\'s name.' },
      number: { type: 'string', maxLength: LIMITS.number, description: 'Callback phone number, international form if possible.' },
      message: { type: 'string', maxLength: LIMITS.message, description: 'The message, in the caller\'s words.' },
    }))
  }
  if (offered.has('lookup_contact')) {
    defs.push(tool('lookup_contact', 'Look up a phone number in the contact directory.', {
      number: { type: 'string', maxLength: LIMITS.number, description: 'Phone number, international form if possible.' },
    }))
  }
  return defs
}

/** Check a tool call from the model before anything acts on it. */
export function validateToolCall (name: string, argumentsJson: string, context: ToolContext): ToolValidation {
  const offered = offeredTools(context)
  if (!(TOOL_NAMES as readonly string[]).includes(name) || !offered.has(name as ToolName)) {
    return fail('unknown_tool', `unknown tool; available: ${[...offered].join(', ') || 'none'}`)
  }
  const tool = name as ToolName
  if (argumentsJson.length > LIMITS.json) return fail('malformed_json', `${tool}: arguments are too long`)
  let args: unknown
  try {
    // An empty string is what some servers send for "no arguments".
    args = JSON.parse(argumentsJson.trim() === '' ? '{}' : argumentsJson)
  } catch {
    return fail('malformed_json', `${tool}: arguments are not valid JSON`)
  }
  if (args === null || typeof args !== 'object' || Array.isArray(args)) return fail('malformed_json', `${tool}: arguments must be a JSON object`)
  const fields = args as Record<string, unknown>

  switch (tool) {
    case 'transfer_call': {
      const r = strings(tool, fields, { target: 64 })
      if (!r.ok) return r
      const target = r.values.target ?? ''
      if (!context.targets.includes(target)) {
        const hint = looksDialable(target) ? 'targets are names, never phone numbers or dial strings' : 'no such target'
        return fail('unknown_target', `transfer_call: ${hint}; choose one of: ${context.targets.join(', ')}`)
      }
      return { ok: true, call: { name: tool, args: { target } } }
    }
    case 'end_call': {
      const r = strings(tool, fields, { reason: 32 })
      if (!r.ok) return r
      const reason = r.values.reason ?? ''
      if (!(END_REASONS as readonly string[]).includes(reason)) return fail('invalid_arguments', `end_call: reason must be one of: ${END_REASONS.join(', ')}`)
      return { ok: true, call: { name: tool, args: { reason: reason as EndReason } } }
    }
    case 'take_message': {
      const r = strings(tool, fields, { name: LIMITS.name, number: LIMITS.number, message: LIMITS.message }, 'message')
      if (!r.ok) return r
      const number = toE164(r.values.number, context.defaultCountry)
      if (number === undefined) return fail('invalid_arguments', 'take_message: number is not a phone number; ask the caller again')
      return { ok: true, call: { name: tool, args: { name: r.values.name ?? '', number, message: r.values.message ?? '' } } }
    }
    case 'lookup_contact': {
      const r = strings(tool, fields, { number: LIMITS.number })
      if (!r.ok) return r
      const number = toE164(r.values.number, context.defaultCountry)
      if (number === undefined) return fail('invalid_arguments', 'lookup_contact: number is not a phone number')
      return { ok: true, call: { name: tool, args: { number } } }
    }
  }
}

function offeredTools (context: ToolContext): Set<ToolName> {
  const offered = new Set(context.enabled ?? TOOL_NAMES)
  // An enum cannot be empty, and a transfer with nowhere to go is no tool at all.
  if (context.targets.length === 0) offered.delete('transfer_call')
  return offered
}

function tool (name: ToolName, description: string, properties: Record<string, Record<string, unknown>>): ToolDefinition {
  return {
    type: 'function',
    function: {
      name,
      description,
      parameters: { type: 'object', properties, required: Object.keys(properties), additionalProperties: false },
    },
  }
}

// Controls, format characters (bidi overrides, zero-width joiners) and line separators hide
// text from a human reading the log and change how a value compares.
const UNSAFE = /[\p{Cc}\p{Cf}\u2028\u2029]/u
const UNSAFE_EXCEPT_NEWLINE = /[\0-\x09\x0b-\x1f\x7f-\x9f\p{Cf}\u2028\u2029]/u

/** Exactly the expected keys, each a non-empty string within its limit and free of controls. */
function strings<K extends string> (tool: ToolName, fields: Record<string, unknown>, limits: Record<K, number>, multiline?: NoInfer<K>):
  { ok: true, values: Partial<Record<K, string>> } | { ok: false, code: ToolErrorCode, error: string } {
  const expected = Object.keys(limits) as K[]
  const keys = Object.keys(fields)
  if (keys.some((k) => !(expected as string[]).includes(k))) {
    return fail('invalid_arguments', `${tool}: unexpected argument; expected only: ${expected.join(', ')}`)
  }
  const values: Partial<Record<K, string>> = {}
  for (const key of expected) {
    const value = fields[key]
    if (typeof value !== 'string') return fail('invalid_arguments', `${tool}: ${key} is required and must be a string`)
    const text = value.trim()
    if (text === '') return fail('invalid_arguments', `${tool}: ${key} must not be empty`)
    if (text.length > limits[key]) return fail('invalid_arguments', `${tool}: ${key} is longer than ${limits[key]} characters`)
    if ((key === multiline ? UNSAFE_EXCEPT_NEWLINE : UNSAFE).test(text)) return fail('invalid_arguments', `${tool}: ${key} contains control characters`)
    values[key] = text
  }
  return { ok: true, values }
}

/** Digits or dial-string syntax: worth telling the model that numbers are never dialled. */
function looksDialable (value: string): boolean {
  return /\d{3}/u.test(value.replace(/[\s().-]/gu, '')) || /[/@:;,|&]|^\+/u.test(value)
}

function fail (code: ToolErrorCode, error: string): { ok: false, code: ToolErrorCode, error: string } {
  return { ok: false, code, error }
}
