import { toE164 } from '../numbers/e164.ts'

/**
 * What a Caller-ID says about the caller before we look at prefixes and rates: withheld,
 * malformed, or a number. Carriers spell "withheld" in many ways (RFC 3323 `anonymous`,
 * vendor words, all zeros, a Privacy header next to a real number).
 */

export type CallerIdVerdict =
  | { readonly kind: 'anonymous', readonly detail: string }
  | { readonly kind: 'malformed', readonly detail: string }
  | { readonly kind: 'number', readonly e164: string }

/**
 * Words carriers and PBXes put in place of a withheld number, compared case-insensitively.
 * The dialplan pack's anonymous expression lists the same words.
 */
export const ANONYMOUS_WORDS: readonly string[] = [
  'anonymous', 'restricted', 'unknown', 'unavailable', 'private', 'withheld', 'blocked',
  'anonymous@anonymous.invalid', 'sip:anonymous@anonymous.invalid',
]

/** Channel variables that carry a privacy request, as FreeSWITCH names them in ESL events. */
export interface PrivacyInfo {
  /** `variable_sip_Privacy` (the SIP Privacy header, RFC 3323/3325): `id`, `user`, `none`... */
  readonly sipPrivacy?: string | undefined
  /** `variable_privacy_hide_number` / `Caller-Privacy-Hide-Number`: `true` when the number is withheld. */
  readonly hideNumber?: string | boolean | undefined
}

/** Privacy tokens that mean "do not show who I am"; `none`, `session` and `critical` do not. */
const WITHHOLDING_PRIVACY = new Set(['id', 'user', 'header'])

// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x1f\x7f]/
/** A Caller-ID number as FreeSWITCH reports it: optional `+`, then 4-16 digits. */
const NUMBER_SHAPE = /^\+?\d{4,16}$/

export function isControlFree (value: string): boolean {
  return !CONTROL.test(value)
}

export function privacyWithholds (privacy: PrivacyInfo | undefined): string | undefined {
  if (privacy === undefined) return undefined
  const hide = privacy.hideNumber
  if (hide === true || (typeof hide === 'string' && /^(true|yes|on|1)$/i.test(hide.trim()))) return 'privacy_hide_number'
  const tokens = (privacy.sipPrivacy ?? '').toLowerCase().split(/[;,\s]+/)
  if (tokens.some((t) => WITHHOLDING_PRIVACY.has(t))) return 'sip_privacy'
  return undefined
}

export function classifyCallerId (
  rawNumber: string | undefined,
  callerName: string | undefined,
  privacy: PrivacyInfo | undefined,
  defaultCountry: string,
): CallerIdVerdict {
  const raw = rawNumber ?? ''
  // Control characters first: a CR/LF in a caller ID is an injection attempt, not a withheld number.
  if (!isControlFree(raw) || (callerName !== undefined && !isControlFree(callerName))) {
    return { kind: 'malformed', detail: 'control_characters' }
  }
  const trimmed = raw.trim()
  if (trimmed === '') return { kind: 'anonymous', detail: 'empty' }
  if (ANONYMOUS_WORDS.includes(trimmed.toLowerCase())) return { kind: 'anonymous', detail: 'anonymous_word' }
  if (/anonymous\.invalid/i.test(trimmed)) return { kind: 'anonymous', detail: 'anonymous_uri' }
  if (/^\+?0+$/.test(trimmed)) return { kind: 'anonymous', detail: 'all_zeros' }
  const withheld = privacyWithholds(privacy)
  if (withheld !== undefined) return { kind: 'anonymous', detail: withheld }
  // FreeSWITCH hands us the user part of From/PAI: digits with an optional plus. Anything
  // else (letters, separators, a URI) is something a real carrier does not send.
  if (!NUMBER_SHAPE.test(raw)) return { kind: 'malformed', detail: 'not_a_number' }
  const e164 = toE164(raw, defaultCountry)
  if (e164 === undefined) return { kind: 'malformed', detail: 'not_e164' }
  return { kind: 'number', e164 }
}
