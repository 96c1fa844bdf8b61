/**
 * What FreeSWITCH says about a transfer attempt, read from the variables and replies it really
 * sends (switch_ivr_originate.c, mod_dptools.c audio_bridge_function, mod_commands.c
 * originate_function), so a record says `transferred` only when a human answered.
 */

export interface TransferResult {
  /** extension: the dialplan took the call. endpoint: the other side answered and was bridged. */
  readonly connected: boolean
  /**
   * `ANSWERED` when connected; otherwise FreeSWITCH's cause (`NO_ANSWER`, `USER_BUSY`,
   * `OUTGOING_CALL_BARRED`, `ORIGINATOR_CANCEL`, ...) or one of ours (`ESL_TIMEOUT`, ...).
   */
  readonly disposition: string
}

/**
 * The `bridge` application's result, from its CHANNEL_EXECUTE_COMPLETE. switch_ivr_originate()
 * sets `originate_disposition=call accepted` when the peer answers, then its exit path sets it
 * (and DIALSTATUS) from the cause: the completion of an answered bridge says `SUCCESS` on a
 * real FreeSWITCH (master 1.11); `call accepted` is taken too, in case a build leaves it. On
 * failure both it and `originate_failed_cause` name the cause. DIALSTATUS alone is not trusted:
 * at done: FreeSWITCH sets it to `EARLY` for an answered peer and `ANSWER` otherwise.
 */
export function bridgeOutcome (vars: Readonly<Record<string, string>>): TransferResult {
  const v = (name: string): string | undefined => vars[`variable_${name}`] ?? vars[name]
  const disposition = v('originate_disposition')
  const accepted = disposition === 'SUCCESS' || disposition === 'call accepted'
  if (accepted) return { connected: true, disposition: 'ANSWERED' }
  const cause = v('originate_failed_cause') ?? disposition ?? v('DIALSTATUS') ?? 'UNKNOWN'
  return { connected: false, disposition: cause }
}

/**
 * The originate API's reply: `+OK <uuid>` once the leg answered, `-ERR <CAUSE>` otherwise
 * (mod_commands.c originate_function). Anything else is FreeSWITCH failing in a way we do not
 * know: not connected.
 */
export function originateOutcome (body: string): { answered: true, uuid: string } | { answered: false, cause: string } {
  const text = body.trim()
  const ok = /^\+OK\s+([0-9A-Za-z-]+)/.exec(text)
  if (ok !== null) return { answered: true, uuid: ok[1] as string }
  const err = /^-ERR\s+([A-Z_]+)/.exec(text)
  return { answered: false, cause: err?.[1] ?? 'UNKNOWN' }
}

/**
 * Hang-up causes that mean the dialplan refused a transfer to an extension (the pack's
 * outbound context answers premium numbers with OUTGOING_CALL_BARRED), as opposed to a
 * conversation that ended normally after it.
 */
export const REFUSAL_CAUSES: ReadonlySet<string> = new Set([
  'OUTGOING_CALL_BARRED', 'CALL_REJECTED', 'NO_ROUTE_DESTINATION', 'UNALLOCATED_NUMBER',
  'INVALID_NUMBER_FORMAT', 'NO_ROUTE_TRANSIT_NET', 'INCOMPATIBLE_DESTINATION', 'FACILITY_REJECTED',
  'BEARERCAPABILITY_NOTAUTH', 'DESTINATION_OUT_OF_ORDER',
])
