import { z } from 'zod'
import type { CountryCode } from 'libphonenumber-js/max'
import { phoneNumbers } from '../numbers/phone-metadata.ts'
import { HANGUP_CAUSES } from '../freeswitch/hangup-causes.ts'
import { sourceRangeSchema } from './source-ip.ts'

/**
 * Admission and outbound protection settings (`guard:` in the config file).
 *
 * Every field has a default that is safe on a public SIP number: anonymous callers refused,
 * callers only from the home country (`numbers.defaultCountry`), a few calls per caller, premium
 * and satellite numbers never dialled, transfers only to IT/AT/DE/CH. Loosening anything is an
 * explicit edit.
 */

/** `+` followed by up to 15 digits: a country code or a longer prefix. A bare `+` matches every number. */
const e164Prefix = z.string().regex(/^\+\d{0,15}$/, 'expected an E.164 prefix such as +39 or +39899 (a bare + matches every number)')
const hangupCause = z.enum(HANGUP_CAUSES)
const count = z.number().int().min(1)

export const callersSchema = z.strictObject({
  /** Refuse callers with no number, `anonymous`, `restricted`, all zeros, or a Privacy request. */
  rejectAnonymous: z.boolean().default(true),
  /**
   * Caller numbers (as E.164) must start with one of these. Default: the calling code of
   * `numbers.defaultCountry` (`+39` for IT, `+1` for US), see `callerAllowPrefixes()`.
   */
  allowPrefixes: z.array(e164Prefix).min(1).optional(),
  /** Refused even when an allow prefix matches (checked first). */
  blockPrefixes: z.array(e164Prefix).default([]),
})

export const ratesSchema = z.strictObject({
  /** Calls one caller number may start per minute. */
  perCallerPerMinute: count.default(3),
  /** Calls one caller number may start per hour. */
  perCallerPerHour: count.default(20),
  /** New calls per second over all callers (a flood of spoofed numbers hits this one). */
  globalPerSecond: count.default(5),
  /**
   * Calls one SIP source address (`sip_network_ip`; an IPv6 source by its /64) may start per
   * minute. Checked first, so a flood from one address never reaches the per-caller and global
   * budgets, whatever numbers it spoofs. Known contacts are counted too: their number can be spoofed.
   */
  perSourceIpPerMinute: count.default(10),
  /**
   * Addresses or ranges not limited per source: the carrier's SIP proxies, from which every
   * trunk call arrives (the per-caller and global limits still apply to them).
   */
  perSourceIpExempt: z.array(sourceRangeSchema).default([]),
  /**
   * `refuse`: hang up with `hangupCauses.rateLimited`. `fallback`: hand the call to the dialplan's
   * fallback (`guard.fallback`, the pack's human-then-voicemail extension) instead, for calls over
   * the per-caller or global limits. A source over its own limit is always refused: handing a
   * flood to voicemail would only move it there.
   */
  whenLimited: z.enum(['refuse', 'fallback']).default('refuse'),
  /**
   * With `whenLimited: fallback`, calls handed to the fallback per minute over all callers;
   * beyond it they are refused. A flood through the carrier (exempt from the per-source limit)
   * must not move on to ring the human and fill the voicemail box.
   */
  fallbackPerMinute: count.default(10),
})

export const capacitySchema = z.strictObject({
  /** Calls in progress at once; the next caller is turned away. */
  maxConcurrent: count.default(4),
  /**
   * `busy-message`: answer and play the pre-rendered "all lines busy" prompt, then hang up.
   * `user-busy`: do not answer, hang up with USER_BUSY (the carrier plays its busy tone).
   */
  whenFull: z.enum(['busy-message', 'user-busy']).default('busy-message'),
  /**
   * How long a slot held in Redis survives an instance that died without releasing it.
   * Longer than any real call.
   */
  slotTtlSeconds: z.number().int().min(60).default(4 * 3600),
  /**
   * Of `maxConcurrent`, slots only known contacts (the agent's contact directory) may take; a
   * known contact may also start a call while the global rate budget is used up. Other callers
   * get `maxConcurrent - reservedForContacts`.
   */
  reservedForContacts: z.number().int().min(0).default(0),
}).refine((c) => c.reservedForContacts < c.maxConcurrent, {
  message: 'must be less than capacity.maxConcurrent (other callers need at least one slot)',
  path: ['reservedForContacts'],
})

/** Where `whenLimited: fallback` sends a call: `transfer EXTENSION DIALPLAN CONTEXT`. */
export const fallbackSchema = z.strictObject({
  extension: z.string().regex(/^[A-Za-z0-9_+*#.-]{1,64}$/, 'letters, digits and _ + * # . -').default('phone_agent_fallback'),
  dialplan: z.enum(['XML']).default('XML'),
  context: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, _ and -').default('phone_agent_fallback'),
})

export const hangupCausesSchema = z.strictObject({
  /** Anonymous, malformed and prefix rejections. */
  rejected: hangupCause.default('CALL_REJECTED'),
  unknownDid: hangupCause.default('UNALLOCATED_NUMBER'),
  rateLimited: hangupCause.default('CALL_REJECTED'),
  /** Used when `capacity.whenFull` is `user-busy`, and after the busy message. */
  capacity: hangupCause.default('USER_BUSY'),
})

export const storeSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('memory') }),
  z.strictObject({
    /** Shared counters for several instances behind one FreeSWITCH. */
    type: z.literal('redis'),
    url: z.string().regex(/^rediss?:\/\//, 'expected redis://host:port or rediss://...'),
    keyPrefix: z.string().regex(/^[A-Za-z0-9:_-]{1,64}$/).default('phone-agent:guard'),
  }),
])

export const outboundSchema = z.strictObject({
  /** Countries (or longer prefixes) a transfer may dial. */
  allowPrefixes: z.array(e164Prefix).min(1).default(['+39', '+43', '+49', '+41']),
  /** Added to the built-in premium/special-rate/satellite table, which cannot be switched off. */
  blockPrefixes: z.array(e164Prefix).default([]),
})

export const guardSchema = z.strictObject({
  callers: callersSchema.default(callersSchema.parse({})),
  /** Refuse calls to a DID we do not serve (the trunk relaying a call it should not). */
  rejectUnknownDid: z.boolean().default(true),
  rates: ratesSchema.default(ratesSchema.parse({})),
  capacity: capacitySchema.default(capacitySchema.parse({})),
  hangupCauses: hangupCausesSchema.default(hangupCausesSchema.parse({})),
  /** The dialplan extension refused calls are handed to (see `rates.whenLimited`). */
  fallback: fallbackSchema.default(fallbackSchema.parse({})),
  store: storeSchema.default({ type: 'memory' }),
  outbound: outboundSchema.default(outboundSchema.parse({})),
})

export type GuardConfig = z.infer<typeof guardSchema>

/** The caller allowlist in force: the configured one, else the home country's calling code. */
export function callerAllowPrefixes (guard: Pick<GuardConfig, 'callers'>, defaultCountry: string): string[] {
  return guard.callers.allowPrefixes ?? [`+${phoneNumbers().getCountryCallingCode(defaultCountry.toUpperCase() as CountryCode)}`]
}
export type GuardConfigInput = z.input<typeof guardSchema>
