import { PhoneAgentError } from '../../errors.ts'

/**
 * The `originate` that rings a transfer target as its own leg, parked on answer, so the caller's
 * leg (and its unicast stream) is untouched until someone answers. Built from the configured
 * dial string plus variables of ours; nothing the caller or the model says reaches it except a
 * caller ID that passed a strict check.
 */

/** The channel variable that tags every leg of one ringing attempt (hupall cancels by it). */
export const RING_TAG_VARIABLE = 'phone_agent_ring'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export interface RingLeg {
  /** A UUID of ours naming this attempt; every leg carries it in RING_TAG_VARIABLE. */
  readonly tag: string
  /** originate_timeout: how long the legs ring before NO_ANSWER. */
  readonly timeoutSeconds: number
  /**
   * park_timeout on the answered leg: if we never bridge it (we crashed, FreeSWITCH lost our
   * socket) FreeSWITCH hangs it up instead of leaving a human on a silent line
   * (switch_ivr.c switch_ivr_park reads park_timeout).
   */
  readonly parkTimeoutSeconds: number
  /** The caller's number for the target's display, as `bridge` would pass it on. */
  readonly callerIdNumber?: string | undefined
  readonly callerIdName?: string | undefined
}

/** The API command line: `originate {vars}DIALSTRING &park()`. */
export function originateCommand (dialString: string, leg: RingLeg): string {
  if (!UUID.test(leg.tag)) throw new PhoneAgentError('CONFIG_INVALID', 'ring tag must be a UUID')
  const vars: string[] = [
    `${RING_TAG_VARIABLE}=${leg.tag}`,
    `originate_timeout=${Math.max(1, Math.round(leg.timeoutSeconds))}`,
    `park_timeout=${Math.max(1, Math.round(leg.parkTimeoutSeconds))}`,
    // Early media from the target (its ringback, an announcement) would reach nobody: the
    // caller hears ours. Answer is what counts.
    'ignore_early_media=true',
  ]
  if (leg.callerIdNumber !== undefined && /^\+?\d{2,20}$/.test(leg.callerIdNumber)) {
    vars.push(`origination_caller_id_number=${leg.callerIdNumber}`)
  }
  if (leg.callerIdName !== undefined && /^[\p{L}\p{N} .'-]{1,40}$/u.test(leg.callerIdName) && !leg.callerIdName.includes("'")) {
    vars.push(`origination_caller_id_name=${leg.callerIdName}`)
  }
  return `originate ${withVariables(dialString, vars)} &park()`
}

/** `hupall` that hangs up every leg of one attempt still ringing (or parked, unbridged). */
export function cancelRingCommand (tag: string): string {
  // hupall with no variable hangs up EVERY channel (mod_commands.c hupall_api_function):
  // never send it without a well-formed tag.
  if (!UUID.test(tag)) throw new PhoneAgentError('CONFIG_INVALID', 'ring tag must be a UUID')
  return `hupall ORIGINATOR_CANCEL ${RING_TAG_VARIABLE} ${tag}`
}

/**
 * Our variables in front of the dial string: inside its leading `{}` block when it has one
 * (switch_ivr_originate() reads a single leading block), in a `<>` block for enterprise dial
 * strings (`:_:`, or one that starts with `<`), else in a new `{}` block.
 */
export function withVariables (dialString: string, vars: readonly string[]): string {
  const list = vars.join(',')
  if (dialString.startsWith('<')) return `<${list},${dialString.slice(1)}`
  if (dialString.includes(':_:')) return `<${list}>${dialString}`
  if (dialString.startsWith('{')) return `{${list},${dialString.slice(1)}`
  return `{${list}}${dialString}`
}
