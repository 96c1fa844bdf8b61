import { PhoneAgentError } from '../errors.ts'
import { printable } from './safe-value.ts'

/**
 * What we know about a call when FreeSWITCH connects: the reply to our `connect` command carries
 * the channel's whole event (mod_event_socket.c, parse_command "connect":
 * switch_channel_event_set_data + switch_event_serialize). Events from before the connection are
 * never replayed, so this is the only source for caller and dialled number.
 */
export interface ChannelData {
  readonly uuid: string
  /** Raw Caller-Caller-ID-Number, printable characters only ('' when absent). */
  readonly callerNumber: string
  readonly callerName: string
  /** The dialled number as FreeSWITCH saw it, before normalisation (undefined when absent). */
  readonly destination: string | undefined
  readonly channelName: string
  /** `variable_*` headers without the prefix. Values as FreeSWITCH sent them. Made on first read: on a hot path read `headers['variable_…']`. */
  readonly variables: Readonly<Record<string, string>>
  readonly headers: Readonly<Record<string, string>>
}

// FreeSWITCH generates RFC 4122 UUIDs; `uuid` is also used in file names, so accept nothing else.
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/

/**
 * FreeSWITCH's own words in a connect reply (states, directions, codecs, the dialplan's names,
 * the calling file), never a caller's: one string for the process instead of one a call, 15 a
 * call from the simulator's reply (~0.5 KB) and more from a real switch's (issue 18).
 */
const TOKENS: ReadonlyMap<string, string> = new Map([
  'true', 'false', 'inbound', 'outbound', 'CHANNEL_DATA', 'mod_event_socket.c', 'parse_command', 'socket', '_undef_',
  'CS_NEW', 'CS_INIT', 'CS_ROUTING', 'CS_SOFT_EXECUTE', 'CS_EXECUTE', 'CS_EXCHANGE_MEDIA', 'CS_PARK', 'CS_CONSUME_MEDIA',
  'CS_HIBERNATE', 'CS_RESET', 'CS_HANGUP', 'CS_REPORTING', 'CS_DESTROY',
  'DOWN', 'DIALING', 'RINGING', 'EARLY', 'ACTIVE', 'HELD', 'RING_WAIT', 'HANGUP', 'UNHELD',
  'ringing', 'early', 'answered', 'hangup',
  'PCMU', 'PCMA', 'G722', 'G729', 'opus', 'L16', '8000', '16000', '48000', '64000', '20',
  'XML', 'public', 'default', 'mod_sofia', 'mod_loopback', 'mod_verto', 'sofia', 'external', 'internal',
  'sendrecv', 'RTP/AVP', 'RTP/SAVP', 'udp', 'tcp', 'tls', 'ANSWER', 'EARLY MEDIA',
].map((t) => [t, t]))

/**
 * The switch's own identity, the same in every call it sends (not a caller's): one string each
 * for the process, as TOKENS. Bounded: a cluster has a few switches, each a handful of values.
 */
const SWITCH_HEADERS = new Set(['Core-UUID', 'FreeSWITCH-Hostname', 'FreeSWITCH-Switchname', 'FreeSWITCH-IPv4', 'FreeSWITCH-IPv6'])
const switchValues = new Map<string, string>()
const MAX_SWITCH_VALUES = 64

export function parseChannelData (headers: Record<string, string | undefined>): ChannelData {
  const clean: Record<string, string> = {}
  // One string per distinct value, kept for the whole call: a connect reply repeats its values
  // across its headers (the caller's number in a dozen, the UUID in eight, the switch's address,
  // "inbound", "false"), and the parser made each a string of its own.
  const seen = new Map<string, string>()
  for (const [k, v] of Object.entries(headers)) {
    if (typeof v !== 'string') continue
    let first = seen.get(v)
    if (first === undefined) {
      first = TOKENS.get(v) ?? (SWITCH_HEADERS.has(k) ? switchValue(v) : undefined) ?? v
      seen.set(v, first)
    }
    clean[k] = first
  }
  const uuid = clean['Unique-ID'] ?? clean['Channel-Call-UUID']
  if (uuid === undefined || !UUID.test(uuid)) {
    throw new PhoneAgentError('ESL_PROTOCOL', uuid === undefined
      ? 'connect reply has no Unique-ID'
      : 'connect reply has a malformed Unique-ID')
  }
  const destination = firstNonEmpty(
    clean['Caller-Destination-Number'], clean.variable_sip_req_user, clean.variable_sip_to_user, clean.variable_destination_number)
  // `variables` is made when first read: a second dictionary of every variable_* header (a real
  // connect reply carries 100-200 of them, each key a new string), kept for the whole call,
  // while the call path reads the one or two it needs from `headers` (issue 18, memory per call).
  let variables: Record<string, string> | undefined
  return {
    // As FreeSWITCH spells it: sessions are found by switch_core_hash_find on session_table
    // (switch_core_session.c, switch_core_session_perform_locate), a case-sensitive hash
    // (switch_core_hash_init), and origination_uuid may set any case, so a lower-cased copy
    // would make every sendmsg fail with "invalid session id".
    uuid,
    callerNumber: printable(clean['Caller-Caller-ID-Number'] ?? clean.variable_sip_from_user ?? '', 64),
    callerName: printable(clean['Caller-Caller-ID-Name'] ?? '', 128),
    destination: destination === undefined ? undefined : printable(destination, 128),
    channelName: printable(clean['Channel-Name'] ?? '', 256),
    get variables () {
      if (variables === undefined) {
        variables = {}
        for (const [k, v] of Object.entries(clean)) {
          if (k.startsWith('variable_')) variables[k.slice('variable_'.length)] = v
        }
      }
      return variables
    },
    headers: clean,
  }
}

function firstNonEmpty (...values: Array<string | undefined>): string | undefined {
  return values.find((v) => v !== undefined && v.trim() !== '')
}

function switchValue (value: string): string | undefined {
  const known = switchValues.get(value)
  if (known !== undefined || switchValues.size >= MAX_SWITCH_VALUES) return known
  switchValues.set(value, value)
  return value
}
