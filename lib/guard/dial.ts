import { PhoneAgentError } from '../errors.ts'
import { toE164 } from '../numbers/e164.ts'
import type { GuardConfig } from './config.ts'
import { findBlock, literalInternational, startsWithAny, type BlockRule } from './prefixes.ts'

/**
 * The last check before an external number is dialled (a transfer to a configured endpoint,
 * a callback). Premium/special-rate/satellite ranges first, then the country allowlist.
 */

export type DialBlockReason = 'not_a_number' | 'premium' | 'special-rate' | 'satellite' | 'international-network' | 'country_not_allowed'

export type DialVerdict =
  | { readonly allowed: true, readonly e164: string }
  | { readonly allowed: false, readonly reason: DialBlockReason, readonly e164?: string | undefined, readonly rule?: BlockRule | undefined }

export interface DialGuard {
  /** The verdict without throwing (for records and tests). */
  verdict (number: string): DialVerdict
  /** E.164 form of an allowed number; throws PhoneAgentError('DIAL_BLOCKED') naming the reason. */
  check (number: string): string
}

export function createDialGuard (config: GuardConfig, deps: { readonly defaultCountry: string }): DialGuard {
  const { allowPrefixes, blockPrefixes } = config.outbound

  function verdict (number: string): DialVerdict {
    const e164 = toE164(number, deps.defaultCountry)
    if (e164 === undefined) return { allowed: false, reason: 'not_a_number' }
    // The digits as written too: libphonenumber may rewrite a number (it drops a stray trunk 0
    // in `+43 0900...`), and what reaches the carrier is what was written.
    const literal = literalInternational(number)
    const rule = findBlock(e164, blockPrefixes) ?? (literal !== undefined ? findBlock(literal, blockPrefixes) : undefined)
    if (rule !== undefined) return { allowed: false, reason: rule.kind, e164, rule }
    if (!startsWithAny(e164, allowPrefixes)) return { allowed: false, reason: 'country_not_allowed', e164 }
    return { allowed: true, e164 }
  }

  return {
    verdict,
    check (number) {
      const v = verdict(number)
      if (v.allowed) return v.e164
      // The number is ours to log (a configured target), but keep it out of the message
      // anyway: messages are constant text plus the reason.
      const what = v.rule !== undefined ? `${v.reason}: ${v.rule.label}` : v.reason
      throw new PhoneAgentError('DIAL_BLOCKED', `number refused for dialling (${what})`)
    },
  }
}
