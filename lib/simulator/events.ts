import type { Header } from './wire.ts'

/**
 * Event names, subscriptions and filters as mod_event_socket applies them.
 * Sources: src/switch_event.c (EVENT_NAMES, switch_name_event,
 * switch_event_prep_for_delivery_detailed), mod_event_socket.c (parse_command "event",
 * "nixevent", "noevents", "myevents", "filter"; event_handler for the send decision).
 */

export const EVENT_NAMES = [
  'CUSTOM', 'CLONE', 'CHANNEL_CREATE', 'CHANNEL_DESTROY', 'CHANNEL_STATE', 'CHANNEL_CALLSTATE',
  'CHANNEL_ANSWER', 'CHANNEL_HANGUP', 'CHANNEL_HANGUP_COMPLETE', 'CHANNEL_EXECUTE',
  'CHANNEL_EXECUTE_COMPLETE', 'CHANNEL_HOLD', 'CHANNEL_UNHOLD', 'CHANNEL_BRIDGE', 'CHANNEL_UNBRIDGE',
  'CHANNEL_PROGRESS', 'CHANNEL_PROGRESS_MEDIA', 'CHANNEL_OUTGOING', 'CHANNEL_PARK', 'CHANNEL_UNPARK',
  'CHANNEL_APPLICATION', 'CHANNEL_ORIGINATE', 'CHANNEL_UUID', 'API', 'LOG', 'INBOUND_CHAN',
  'OUTBOUND_CHAN', 'STARTUP', 'SHUTDOWN', 'PUBLISH', 'UNPUBLISH', 'TALK', 'NOTALK', 'SESSION_CRASH',
  'MODULE_LOAD', 'MODULE_UNLOAD', 'DTMF', 'MESSAGE', 'PRESENCE_IN', 'NOTIFY_IN', 'PRESENCE_OUT',
  'PRESENCE_PROBE', 'MESSAGE_WAITING', 'MESSAGE_QUERY', 'ROSTER', 'CODEC', 'BACKGROUND_JOB',
  'DETECTED_SPEECH', 'DETECTED_TONE', 'PRIVATE_COMMAND', 'HEARTBEAT', 'TRAP', 'ADD_SCHEDULE',
  'DEL_SCHEDULE', 'EXE_SCHEDULE', 'RE_SCHEDULE', 'RELOADXML', 'NOTIFY', 'PHONE_FEATURE',
  'PHONE_FEATURE_SUBSCRIBE', 'SEND_MESSAGE', 'RECV_MESSAGE', 'REQUEST_PARAMS', 'CHANNEL_DATA',
  'GENERAL', 'COMMAND', 'SESSION_HEARTBEAT', 'CLIENT_DISCONNECTED', 'SERVER_DISCONNECTED',
  'SEND_INFO', 'RECV_INFO', 'RECV_RTCP_MESSAGE', 'SEND_RTCP_MESSAGE', 'CALL_SECURE', 'NAT',
  'RECORD_START', 'RECORD_STOP', 'PLAYBACK_START', 'PLAYBACK_STOP', 'CALL_UPDATE', 'FAILURE',
  'SOCKET_DATA', 'MEDIA_BUG_START', 'MEDIA_BUG_STOP', 'CONFERENCE_DATA_QUERY', 'CONFERENCE_DATA',
  'CALL_SETUP_REQ', 'CALL_SETUP_RESULT', 'CALL_DETAIL', 'DEVICE_STATE', 'TEXT', 'SHUTDOWN_REQUESTED',
  'ALL',
] as const

/** switch_name_event(): case-insensitive, with or without the SWITCH_EVENT_ prefix. */
export function nameEvent (name: string): string | undefined {
  const upper = name.toUpperCase()
  const bare = upper.startsWith('SWITCH_EVENT_') ? upper.slice(13) : upper
  return (EVENT_NAMES as readonly string[]).includes(bare) ? bare : undefined
}

/** The events `myevents` subscribes to (parse_command, "myevents" branch). */
const MYEVENTS = [
  'CHANNEL_ANSWER', 'CHANNEL_APPLICATION', 'CHANNEL_BRIDGE', 'CHANNEL_CREATE', 'CHANNEL_DATA',
  'CHANNEL_DESTROY', 'CHANNEL_EXECUTE', 'CHANNEL_EXECUTE_COMPLETE', 'CHANNEL_HANGUP',
  'CHANNEL_HANGUP_COMPLETE', 'CHANNEL_ORIGINATE', 'CHANNEL_UUID', 'CHANNEL_OUTGOING', 'CHANNEL_PARK',
  'CHANNEL_PROGRESS', 'CHANNEL_PROGRESS_MEDIA', 'CHANNEL_STATE', 'CHANNEL_UNBRIDGE', 'CHANNEL_UNPARK',
  'DETECTED_SPEECH', 'DTMF', 'NOTALK', 'TALK',
]

export type EventFormat = 'plain' | 'json' | 'xml'

export class Subscription {
  format: EventFormat = 'plain'
  /** LFLAG_EVENTS */
  enabled = false
  /** LFLAG_MYEVENTS */
  myEvents = false
  private readonly list = new Set<string>()
  private readonly customSubclasses = new Set<string>()
  /** listener->filters: an ordered multi-map (EF_UNIQ_HEADERS cleared). */
  private filters: Array<[string, string]> | undefined

  get subscribed (): readonly string[] {
    return [...this.list]
  }

  /** "event [plain|json|xml] NAME ..." */
  event (cmd: string): string {
    const words = cmd.split(' ').slice(1)
    let keys = 0
    let custom = false
    words.forEach((word, index) => {
      if (index === 0 && ['xml', 'plain', 'json'].includes(word.toLowerCase())) {
        this.format = word.toLowerCase() as EventFormat
        return
      }
      if (custom) {
        this.customSubclasses.add(word)
        return
      }
      const type = nameEvent(word)
      if (type === undefined) return
      keys++
      if (type === 'ALL') for (const n of EVENT_NAMES) this.list.add(n)
      this.list.add(type)
      if (type === 'CUSTOM') custom = true
    })
    if (keys === 0) return '-ERR no keywords supplied'
    this.enabled = true
    return `+OK event listener enabled ${this.format}`
  }

  /** "nixevent NAME ..." */
  nixevent (cmd: string): string {
    const words = cmd.split(' ').slice(1)
    let keys = 0
    let custom = false
    for (const word of words) {
      if (custom) { this.customSubclasses.delete(word); continue }
      const type = nameEvent(word)
      if (type === undefined) continue
      keys++
      if (type === 'CUSTOM') custom = true
      else if (type === 'ALL') this.list.clear()
      else {
        if (this.list.has('ALL')) {
          this.list.delete('ALL')
          for (const n of EVENT_NAMES) if (n !== 'ALL') this.list.add(n)
        }
        this.list.delete(type)
      }
    }
    if (keys === 0) return '-ERR no keywords supplied'
    this.enabled = true
    return '+OK events nixed'
  }

  noevents (): string {
    if (!this.enabled) return '-ERR not listening for events'
    this.enabled = false
    this.list.clear()
    this.customSubclasses.clear()
    return '+OK no longer listening for events'
  }

  /** "myevents" on an outbound (session) listener. `raw` is the whole packet, as strstr() sees it. */
  myevents (raw: string): string {
    if (this.myEvents) return '-ERR aready enabled.'
    for (const n of MYEVENTS) this.list.add(n)
    this.myEvents = true
    this.enabled = true
    if (raw.includes('xml') || raw.includes('XML')) this.format = 'xml'
    if (raw.includes('json') || raw.includes('JSON')) this.format = 'json'
    return '+OK Events Enabled'
  }

  /** "filter NAME VALUE", "filter add NAME VALUE", "filter delete NAME [VALUE]", "filter delete all". */
  filter (cmd: string): string {
    let rest = cmd.slice(7).replace(/^ +/, '')
    this.filters ??= []
    let name = rest
    let value: string | undefined
    const sp = rest.indexOf(' ')
    if (sp >= 0) { name = rest.slice(0, sp); value = rest.slice(sp + 1) }
    if (name.toLowerCase() === 'delete' && value !== undefined) {
      rest = value
      const sp2 = rest.indexOf(' ')
      name = sp2 >= 0 ? rest.slice(0, sp2) : rest
      value = sp2 >= 0 ? rest.slice(sp2 + 1) : undefined
      if (name.toLowerCase() === 'all') {
        this.filters = []
      } else {
        // switch_event_del_header_val(): by name (case-insensitive), and by value when given.
        this.filters = this.filters.filter(([n, v]) =>
          !(n.toLowerCase() === name.toLowerCase() && (value === undefined || v.toLowerCase() === value.toLowerCase())))
      }
      return `+OK filter deleted. [${name}][${value ?? '(null)'}]`
    }
    if (value === undefined) return '-ERR invalid syntax'
    if (name.toLowerCase() === 'add') {
      const sp3 = value.indexOf(' ')
      name = sp3 >= 0 ? value.slice(0, sp3) : value
      value = sp3 >= 0 ? value.slice(sp3 + 1) : ''
    }
    this.filters.push([name, value])
    return `+OK filter added. [${name}]=[${value}]`
  }

  /** event_handler(): subscription, then filters, then the myevents Unique-ID check. */
  accepts (eventName: string, headers: readonly Header[], sessionUuid: string, subclass?: string): boolean {
    if (!this.enabled) return false
    let send = this.list.has('ALL') ||
      (this.list.has(eventName) && (eventName !== 'CUSTOM' || subclass === undefined || this.customSubclasses.has(subclass)))
    if (!send) return false
    const get = (name: string): string | undefined => {
      const lower = name.toLowerCase()
      return headers.find(([n]) => n.toLowerCase() === lower)?.[1]
    }
    if (this.filters !== undefined && this.filters.length > 0) {
      send = false
      for (const [name, filterValue] of this.filters) {
        const hval = get(name)
        if (hval === undefined) continue
        let pos = true
        let i = 0
        for (; i < filterValue.length; i++) {
          const c = filterValue[i]
          if (c === '+') pos = true
          else if (c === '-') pos = false
          else if (c !== ' ') break
        }
        if (send && pos) continue
        const compTo = filterValue.slice(i)
        if (compTo === '') continue
        let cmp: boolean
        if (filterValue.startsWith('/')) {
          cmp = regexMatch(hval, compTo)
        } else {
          cmp = hval.toLowerCase() === compTo.toLowerCase()
        }
        if (cmp) {
          if (pos) send = true
          else { send = false; break }
        }
      }
    }
    if (send && this.myEvents) {
      const uuid = get('unique-id')
      if (uuid === undefined || uuid !== sessionUuid) send = false
    }
    return send
  }
}

/** switch_regex_perform() accepts /pattern/ with delimiters; PCRE and JS agree on simple patterns. */
function regexMatch (value: string, pattern: string): boolean {
  let p = pattern
  let flags = ''
  const m = /^\/(.*)\/([a-z]*)$/s.exec(p)
  if (m !== null) { p = m[1] ?? ''; flags = (m[2] ?? '').includes('i') ? 'i' : '' }
  try {
    return new RegExp(p, flags).test(value)
  } catch {
    return false
  }
}

let sequence = 4000

/** switch_event_prep_for_delivery_detailed(): the headers every fired event starts with. */
export function prepHeaders (eventName: string, coreUuid: string, calling: readonly [file: string, func: string, line: number]): Header[] {
  const now = new Date()
  const pad = (n: number): string => String(n).padStart(2, '0')
  const local = `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())} ${pad(now.getHours())}:${pad(now.getMinutes())}:${pad(now.getSeconds())}`
  return [
    ['Event-Name', eventName],
    ['Core-UUID', coreUuid],
    ['FreeSWITCH-Hostname', 'fake-freeswitch'],
    ['FreeSWITCH-Switchname', 'fake-freeswitch'],
    ['FreeSWITCH-IPv4', '127.0.0.1'],
    ['FreeSWITCH-IPv6', '::1'],
    ['Event-Date-Local', local],
    ['Event-Date-GMT', now.toUTCString()],
    ['Event-Date-Timestamp', String(now.getTime() * 1000)],
    ['Event-Calling-File', calling[0]],
    ['Event-Calling-Function', calling[1]],
    ['Event-Calling-Line-Number', String(calling[2])],
    ['Event-Sequence', String(++sequence)],
  ]
}
