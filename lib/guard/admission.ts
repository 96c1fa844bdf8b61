import type { Logger } from 'pino'
import { throwIfAborted } from '../errors.ts'
import type { HangupCause } from '../freeswitch/hangup-causes.ts'
import { callerAllowPrefixes, type GuardConfig } from './config.ts'
import { classifyCallerId, type PrivacyInfo } from './caller-id.ts'
import { startsWithAny } from './prefixes.ts'
import { sourceKey, sourceMatcher } from './source-ip.ts'
import { createMemoryStore, createRedisStore, type AdmissionStore, type RateVerdict } from './store.ts'

/**
 * Decides, before a call is answered, whether we take it. Cheap checks first (caller ID,
 * prefixes, DID), counters after, so a flood of junk never touches the rate budget that real
 * callers need.
 */

export const ADMISSION_REASONS = [
  'anonymous', 'malformed_caller', 'prefix_not_allowed', 'prefix_blocked', 'unknown_did',
  'rate_source_ip', 'rate_caller_minute', 'rate_caller_hour', 'rate_global', 'capacity',
  // Not the guard's verdicts: the caller hung up while admission ran, or the guard itself
  // failed (refused, fail closed). Reported apart so neither is mistaken for a full house.
  'hung_up', 'guard_error',
] as const

export type AdmissionReason = typeof ADMISSION_REASONS[number]

export interface AdmissionRequest {
  readonly uuid: string
  /** Raw `Caller-Caller-ID-Number`. */
  readonly callerNumber: string | undefined
  readonly callerName?: string | undefined
  /** The dialled number as E.164, or undefined when it did not normalise. */
  readonly did: string | undefined
  /** See `privacyFromChannel()`. */
  readonly privacy?: PrivacyInfo | undefined
  /** The SIP source address (`variable_sip_network_ip`); no per-source limit without it. */
  readonly sourceIp?: string | undefined
  readonly signal?: AbortSignal | undefined
}

/** A dialplan extension a refused call is handed to instead of being hung up. */
export interface FallbackTarget {
  readonly extension: string
  readonly dialplan: string
  readonly context: string
}

export type AdmissionVerdict =
  | {
    readonly admitted: true
    /** E.164, or `anonymous` when anonymous callers are allowed. */
    readonly caller: string
    /** Frees the concurrency slot; call it once when the call ends (extra calls are ignored). */
    readonly release: () => void
  }
  | {
    readonly admitted: false
    readonly reason: AdmissionReason
    readonly hangupCause: HangupCause
    /** Answer, play the pre-rendered "all lines busy" prompt, then hang up with `hangupCause`. */
    readonly busyMessage: boolean
    /** Hand the call to this extension (`guard.rates.whenLimited: fallback`) rather than hang up. */
    readonly fallback?: FallbackTarget | undefined
  }

/** What is recorded for each rejected call. Caller-controlled text is truncated, never interpreted. */
export interface RejectionRecord {
  readonly uuid: string
  readonly reason: AdmissionReason
  /** Finer cause within the reason (`all_zeros`, `sip_privacy`, `AT 0900`...). */
  readonly detail?: string | undefined
  readonly caller?: string | undefined
  readonly callerRaw?: string | undefined
  readonly did?: string | undefined
  /** The SIP source address, when known. */
  readonly sourceIp?: string | undefined
  readonly at: string
}

/** The config rule behind a refusal by prefix or rate, logged with it. */
type RefusalRule =
  | { readonly field: 'guard.callers.allowPrefixes' | 'guard.callers.blockPrefixes', readonly prefixes: readonly string[] }
  | { readonly field: `guard.rates.${string}`, readonly limit: number }

export interface AdmissionDeps {
  readonly defaultCountry: string
  readonly servedDids: (e164: string) => boolean
  readonly logger: Logger
  /** Counters; by default built from `config.store` (memory or Redis). */
  readonly store?: AdmissionStore
  /** Called for every rejection (the records writer); errors are logged, never thrown. */
  readonly onReject?: (record: RejectionRecord) => void
  /**
   * Whether an E.164 number is in the contact directory; such callers may use the capacity
   * reserved for them (`guard.capacity.reservedForContacts`). None are known without it.
   */
  readonly isKnownContact?: (e164: string) => boolean
  /**
   * The provider's signalling ranges (`doctor.trunkRanges`): exempt from the per-source limit
   * like `guard.rates.perSourceIpExempt`, since every trunk call arrives from them.
   */
  readonly trunkRanges?: readonly string[]
  readonly now?: () => Date
}

export interface AdmissionGuard {
  admit (request: AdmissionRequest): Promise<AdmissionVerdict>
  /** Calls holding a concurrency slot. */
  active (): Promise<number>
  /** Closes the store when the guard made it. */
  close (): Promise<void>
}

export function createAdmissionGuard (config: GuardConfig, deps: AdmissionDeps): AdmissionGuard {
  const logger = deps.logger
  const ownsStore = deps.store === undefined
  const store = deps.store ?? (config.store.type === 'redis'
    ? createRedisStore({ rates: config.rates, url: config.store.url, keyPrefix: config.store.keyPrefix, slotTtlSeconds: config.capacity.slotTtlSeconds, logger })
    : createMemoryStore(config.rates))
  const now = deps.now ?? (() => new Date())
  const causes = config.hangupCauses
  const allowPrefixes = callerAllowPrefixes(config, deps.defaultCountry)
  const exempt = sourceMatcher([...config.rates.perSourceIpExempt, ...deps.trunkRanges ?? []])
  const { maxConcurrent, reservedForContacts } = config.capacity

  function reject (req: AdmissionRequest, reason: AdmissionReason, extra: { detail?: string, caller?: string, rule?: RefusalRule, handBack?: boolean } = {}): AdmissionVerdict {
    const hangupCause = reason === 'unknown_did'
      ? causes.unknownDid
      : reason === 'capacity'
        ? causes.capacity
        : reason.startsWith('rate_') ? causes.rateLimited : causes.rejected
    const busyMessage = reason === 'capacity' && config.capacity.whenFull === 'busy-message'
    const fallback = extra.handBack === true ? config.fallback : undefined
    const record: RejectionRecord = {
      uuid: req.uuid,
      reason,
      detail: extra.detail,
      caller: extra.caller,
      callerRaw: req.callerNumber?.slice(0, 64),
      did: req.did,
      sourceIp: req.sourceIp?.slice(0, 64),
      at: now().toISOString(),
    }
    const fields = { uuid: record.uuid, reason, detail: record.detail, caller: record.caller, callerRaw: record.callerRaw, did: record.did, sourceIp: record.sourceIp, hangupCause }
    // Refusals by prefix and by rate are the ones an operator causes by configuration (a caller
    // from a country not on the list, a trunk whose address is not exempt from the per-source
    // limit): warn, and name the rule, so it is found in the log and not guessed at.
    const rule = extra.rule
    if (rule === undefined) logger.info(fields, 'call rejected')
    else if ('prefixes' in rule) logger.warn({ ...fields, rule: rule.field, prefixes: rule.prefixes }, 'call rejected')
    else logger.warn({ ...fields, rule: rule.field, limit: rule.limit, fallback: fallback === undefined ? null : fallback.extension }, 'call rejected')
    try {
      deps.onReject?.(record)
    } catch (err) {
      logger.error({ err }, 'rejection record failed')
    }
    return { admitted: false, reason, hangupCause, busyMessage, ...(fallback === undefined ? {} : { fallback }) }
  }

  function rateRule (verdict: Exclude<RateVerdict, 'ok'>): RefusalRule {
    const r = config.rates
    switch (verdict) {
      case 'rate_source_ip': return { field: 'guard.rates.perSourceIpPerMinute', limit: r.perSourceIpPerMinute }
      case 'rate_caller_minute': return { field: 'guard.rates.perCallerPerMinute', limit: r.perCallerPerMinute }
      case 'rate_caller_hour': return { field: 'guard.rates.perCallerPerHour', limit: r.perCallerPerHour }
      case 'rate_global': return { field: 'guard.rates.globalPerSecond', limit: r.globalPerSecond }
    }
  }

  /** Caller ID, prefixes and DID: the checks that cost nothing and touch no counter. */
  function screen (req: AdmissionRequest): { caller: string } | { refused: AdmissionVerdict } {
    const id = classifyCallerId(req.callerNumber, req.callerName, req.privacy, deps.defaultCountry)
    let caller: string
    if (id.kind === 'malformed') return { refused: reject(req, 'malformed_caller', { detail: id.detail }) }
    if (id.kind === 'anonymous') {
      if (config.callers.rejectAnonymous) return { refused: reject(req, 'anonymous', { detail: id.detail }) }
      // Anonymous callers share one rate bucket: they cannot be told apart.
      caller = 'anonymous'
    } else {
      caller = id.e164
      const blocked = config.callers.blockPrefixes.find((p) => caller.startsWith(p))
      if (blocked !== undefined) {
        return { refused: reject(req, 'prefix_blocked', { caller, detail: blocked, rule: { field: 'guard.callers.blockPrefixes', prefixes: [blocked] } }) }
      }
      if (!startsWithAny(caller, allowPrefixes)) {
        return { refused: reject(req, 'prefix_not_allowed', { caller, rule: { field: 'guard.callers.allowPrefixes', prefixes: allowPrefixes } }) }
      }
    }
    if (config.rejectUnknownDid && (req.did === undefined || !deps.servedDids(req.did))) {
      return { refused: reject(req, 'unknown_did', { caller }) }
    }
    return { caller }
  }

  async function admit (req: AdmissionRequest): Promise<AdmissionVerdict> {
    throwIfAborted(req.signal)
    const screened = screen(req)
    if ('refused' in screened) return screened.refused
    const { caller } = screened

    const key = sourceKey(req.sourceIp)
    const source = key !== undefined && req.sourceIp !== undefined && !exempt(req.sourceIp) ? key : undefined
    const rate = await store.consume(caller, source)
    throwIfAborted(req.signal)
    // A known contact may start a call while the shared budget is spent (a flood of other
    // numbers spent it), into the slots kept for contacts. Its own number's and its source's
    // limits still apply: a contact's number can be spoofed too.
    const contact = reservedForContacts > 0 && caller !== 'anonymous' && deps.isKnownContact?.(caller) === true
    if (rate !== 'ok' && !(rate === 'rate_global' && contact)) {
      // A source over its own limit is the flood itself: never handed on. Hand-offs have their
      // own budget, so a flood the per-source limit cannot see (through the carrier) is not
      // moved on to the human and the voicemail box.
      const handBack = config.rates.whenLimited === 'fallback' && rate !== 'rate_source_ip' && await store.consumeFallback()
      return reject(req, rate, { caller, rule: rateRule(rate), handBack })
    }
    if (rate !== 'ok') logger.info({ uuid: req.uuid, caller }, 'known contact admitted past the global rate limit')

    if (!await store.acquire(req.uuid, maxConcurrent, { reserved: reservedForContacts, contact })) {
      return reject(req, 'capacity', { caller, detail: contact ? String(maxConcurrent) : String(maxConcurrent - reservedForContacts) })
    }
    if (req.signal?.aborted === true) {
      // The caller hung up while we counted: give the slot back before reporting the abort.
      await store.release(req.uuid)
      throwIfAborted(req.signal)
    }
    let released = false
    // A method, not a named arrow: under tsx each named arrow made per call gets a `name` of its
    // own (esbuild's keepNames), a 256-byte property dictionary. It uses no `this`.
    return {
      admitted: true,
      caller,
      release (): void {
        if (released) return
        released = true
        store.release(req.uuid).catch((err: unknown) => { logger.warn({ err, uuid: req.uuid }, 'slot release failed') })
      },
    }
  }

  return {
    admit,
    active: () => store.active(),
    close: async () => { if (ownsStore) await store.close() },
  }
}

/**
 * Privacy flags from the channel data of the ESL connect reply (header name -> value).
 * FreeSWITCH reports the SIP Privacy header and its own hide-number flag under several names
 * depending on version and endpoint; any of them is enough.
 */
export function privacyFromChannel (get: (header: string) => string | undefined): PrivacyInfo {
  return {
    sipPrivacy: get('variable_sip_Privacy') ?? get('variable_sip_h_Privacy'),
    hideNumber: get('variable_privacy_hide_number') ?? get('Caller-Privacy-Hide-Number'),
  }
}
