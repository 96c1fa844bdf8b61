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

export function parseChannelData (headers: Record<string, string | undefined>): ChannelData {
  const clean: Record<string, string> = {}
  // One string per distinct value, kept for the whole call: a connect reply repeats its values
  // across its headers (the caller's number in a dozen, the UUID in eight, the switch's address,
  // "inbound", "false"), and the parser made each a string of its own.
  const seen = new Map<string, string>()
  for (const [k, v] of Object.entries(headers)) {
    if (typeof v !== 'string') continue
    const first = seen.get(v)
    if (first === undefined) seen.set(v, v)
    clean[k] = first ?? v
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
