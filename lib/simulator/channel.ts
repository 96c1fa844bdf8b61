import type { Header } from './wire.ts'

/**
 * The channel's data as events carry it. Sources: src/switch_channel.c
 * (switch_channel_event_set_basic_data, switch_channel_event_set_extended_data) and
 * src/switch_caller.c (switch_caller_profile_event_set_data).
 */

/** Events that carry every channel variable (switch_channel_event_set_extended_data). */
const EXTENDED = new Set([
  'CHANNEL_CREATE', 'CHANNEL_ORIGINATE', 'CHANNEL_UUID', 'CHANNEL_ANSWER', 'CHANNEL_PARK',
  'CHANNEL_UNPARK', 'CHANNEL_BRIDGE', 'CHANNEL_UNBRIDGE', 'CHANNEL_PROGRESS', 'CHANNEL_PROGRESS_MEDIA',
  'CHANNEL_HANGUP', 'CHANNEL_HANGUP_COMPLETE', 'REQUEST_PARAMS', 'CHANNEL_DATA', 'CHANNEL_EXECUTE',
  'CHANNEL_EXECUTE_COMPLETE', 'CHANNEL_DESTROY', 'SESSION_HEARTBEAT', 'API', 'RECORD_START',
  'RECORD_STOP', 'PLAYBACK_START', 'PLAYBACK_STOP', 'CALL_UPDATE', 'MEDIA_BUG_START',
  'MEDIA_BUG_STOP', 'CUSTOM',
])

const STATE_NUMBER: Record<string, number> = {
  CS_NEW: 0, CS_INIT: 1, CS_ROUTING: 2, CS_SOFT_EXECUTE: 3, CS_EXECUTE: 4, CS_EXCHANGE_MEDIA: 5,
  CS_PARK: 6, CS_CONSUME_MEDIA: 7, CS_HIBERNATE: 8, CS_RESET: 9, CS_HANGUP: 10, CS_REPORTING: 11, CS_DESTROY: 12,
}

export interface ProfileInit {
  readonly uuid: string
  readonly callerNumber: string
  readonly callerName: string
  readonly destination: string
  readonly networkAddr: string
  readonly channelName: string
}

export class ChannelState {
  state = 'CS_EXECUTE'
  callState = 'RINGING'
  answered = false
  earlyMedia = false
  hungUp = false
  hangupCause: string | undefined
  readonly variables = new Map<string, string>()
  readonly createdUs = Date.now() * 1000
  answeredUs = 0
  progressUs = 0
  progressMediaUs = 0
  hungupUs = 0
  transferredUs = 0
  destination: string
  context = 'public'
  dialplan = 'XML'
  profileIndex = 1

  constructor (readonly profile: ProfileInit) {
    this.destination = profile.destination
  }

  get uuid (): string {
    return this.profile.uuid
  }

  /** switch_caller_profile_event_set_data(profile, prefix, event). */
  profileHeaders (prefix: string): Header[] {
    const p = this.profile
    const h: Header[] = [
      [`${prefix}-Direction`, 'inbound'],
      [`${prefix}-Logical-Direction`, 'inbound'],
      [`${prefix}-Username`, p.callerNumber],
      [`${prefix}-Dialplan`, this.dialplan],
    ]
    if (p.callerName !== '') h.push([`${prefix}-Caller-ID-Name`, p.callerName])
    if (p.callerNumber !== '') h.push([`${prefix}-Caller-ID-Number`, p.callerNumber])
    if (p.callerName !== '') h.push([`${prefix}-Orig-Caller-ID-Name`, p.callerName])
    if (p.callerNumber !== '') h.push([`${prefix}-Orig-Caller-ID-Number`, p.callerNumber])
    h.push([`${prefix}-Network-Addr`, p.networkAddr])
    if (p.callerNumber !== '') h.push([`${prefix}-ANI`, p.callerNumber])
    if (this.destination !== '') h.push([`${prefix}-Destination-Number`, this.destination])
    h.push(
      [`${prefix}-Unique-ID`, p.uuid],
      [`${prefix}-Source`, 'mod_sofia'],
      [`${prefix}-Context`, this.context],
      [`${prefix}-Channel-Name`, p.channelName],
      [`${prefix}-Profile-Index`, String(this.profileIndex)],
      [`${prefix}-Profile-Created-Time`, String(this.createdUs)],
      [`${prefix}-Channel-Created-Time`, String(this.createdUs)],
      [`${prefix}-Channel-Answered-Time`, String(this.answeredUs)],
      [`${prefix}-Channel-Progress-Time`, String(this.progressUs)],
      [`${prefix}-Channel-Progress-Media-Time`, String(this.progressMediaUs)],
      [`${prefix}-Channel-Hangup-Time`, String(this.hungupUs)],
      [`${prefix}-Channel-Transfer-Time`, String(this.transferredUs)],
      [`${prefix}-Channel-Resurrect-Time`, '0'],
      [`${prefix}-Channel-Bridged-Time`, '0'],
      [`${prefix}-Channel-Last-Hold`, '0'],
      [`${prefix}-Channel-Hold-Accum`, '0'],
      [`${prefix}-Screen-Bit`, 'true'],
      [`${prefix}-Privacy-Hide-Name`, 'false'],
      [`${prefix}-Privacy-Hide-Number`, 'false'],
    )
    return h
  }

  /** switch_channel_event_set_basic_data(). */
  basicHeaders (): Header[] {
    const answerState = this.hungUp ? 'hangup' : this.answered ? 'answered' : this.earlyMedia ? 'early' : 'ringing'
    const h: Header[] = [
      ['Channel-State', this.state],
      ['Channel-Call-State', this.callState],
      ['Channel-State-Number', String(STATE_NUMBER[this.state] ?? 4)],
      ['Channel-Name', this.profile.channelName],
      ['Unique-ID', this.uuid],
      ['Call-Direction', 'inbound'],
      ['Presence-Call-Direction', 'inbound'],
      ['Channel-HIT-Dialplan', 'true'],
      ['Channel-Call-UUID', this.uuid],
      ['Answer-State', answerState],
    ]
    if (this.hangupCause !== undefined) h.push(['Hangup-Cause', this.hangupCause])
    h.push(
      ['Channel-Read-Codec-Name', 'PCMA'],
      ['Channel-Read-Codec-Rate', '8000'],
      ['Channel-Read-Codec-Bit-Rate', '64000'],
      ['Channel-Write-Codec-Name', 'PCMA'],
      ['Channel-Write-Codec-Rate', '8000'],
      ['Channel-Write-Codec-Bit-Rate', '64000'],
    )
    return [...h, ...this.profileHeaders('Caller')]
  }

  /** switch_channel_event_set_data(): basic data, then variable_* for the events that carry them. */
  eventData (eventName: string): Header[] {
    const h = this.basicHeaders()
    if (EXTENDED.has(eventName)) {
      for (const [name, value] of this.variables) h.push([`variable_${name}`, value])
    }
    return h
  }

  /** switch_channel_expand_variables(): ${name} from the channel variables, unknown ones empty. */
  expand (text: string): string {
    return text.replace(/\$\{([^}]+)\}/g, (_all, name: string) => this.variables.get(name) ?? '')
  }
}
