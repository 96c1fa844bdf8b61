import { accessSync, constants, readFileSync, writeFileSync } from 'node:fs'
import { dirname, extname, isAbsolute, join } from 'node:path'
import { randomUUID } from 'node:crypto'
import { HANGUP_CAUSES } from '../freeswitch/hangup-causes.ts'
import { FRAME_MS, FRAME_SAMPLES, frameScore, frameToBuffer } from './caller.ts'
import { buildWav, parseWav, toMono8k } from './wav.ts'
import { displaceSession, stopDisplaceSession } from './displace.ts'
import type { App, Session } from './session.ts'

/**
 * The dialplan applications the simulator knows, after mod_dptools.c (answer, pre_answer,
 * ring_ready, playback_function, record_function, sleep_function, set, export, hangup,
 * transfer, audio_bridge_function, noop) and src/switch_ivr_play_say.c (switch_ivr_play_file,
 * switch_ivr_record_file). Anything else is an "Invalid Application": FreeSWITCH hangs up
 * with DESTINATION_OUT_OF_ORDER and sends no CHANNEL_EXECUTE at all.
 */

const TRUE_WORDS = new Set(['true', 'yes', 'on', 'enabled', 'active', 'allow', '1'])
const isTrue = (v: string | undefined): boolean => v !== undefined && TRUE_WORDS.has(v.toLowerCase())

/** switch_channel_str2cause(): a known name or number, otherwise NORMAL_CLEARING. */
function cause (name: string): string {
  const upper = name.trim().toUpperCase()
  return (HANGUP_CAUSES as readonly string[]).includes(upper) ? upper : 'NORMAL_CLEARING'
}

/** Relative names resolve against sound_prefix or the base dir, as switch_ivr_play_file() does. */
function resolvePath (s: Session, file: string): string {
  if (isAbsolute(file)) return file
  return join(s.channel.variables.get('sound_prefix') ?? s.options.baseDir, file)
}

/** The file's audio as 8 kHz mono, or undefined when FreeSWITCH could not open it. */
function loadAudio (path: string): Int16Array | undefined {
  const candidates = extname(path) === '' ? [`${path}.PCMA`, `${path}.wav`] : [path]
  for (const p of candidates) {
    try {
      return toMono8k(parseWav(readFileSync(p)))
    } catch {
      // switch_core_file_open() failed: try the backup extension, then report NOTFOUND.
    }
  }
  return undefined
}

const playback: App = async (s, arg) => {
  const vars = s.channel.variables
  vars.set('playback_terminator_used', '')
  const file = arg.split('@@')[0] ?? ''
  let durationMs: number | undefined
  let audio: Int16Array | undefined
  let path = file
  const silence = /^silence_stream:\/\/(-?\d+)/.exec(file)
  if (silence !== null) {
    const ms = Number(silence[1])
    durationMs = ms < 0 ? Number.POSITIVE_INFINITY : ms
  } else if (!file.includes('://') && file !== '') {
    path = resolvePath(s, file)
    audio = loadAudio(path)
    durationMs = audio === undefined ? undefined : audio.length / 8
  }
  const startMs = s.now()
  if (durationMs === undefined) {
    s.played.push({ path, startMs, endMs: startMs, status: 'not-found' })
    s.reset(true)
    vars.set('current_application_response', 'FILE NOT FOUND')
    return
  }
  const played = { path, startMs, endMs: startMs, status: 'done' as 'done' | 'break' | 'hangup' | 'not-found' }
  s.played.push(played)
  s.fire('PLAYBACK_START', [['Playback-File-Path', path]])
  const total = Math.ceil(durationMs / FRAME_MS)
  let frames = 0
  const status = await s.frames({ kind: 'terminators' }, (index) => {
    // Each frame goes out as it is read from the file: the caller hears it at its tick.
    const chunk = new Int16Array(FRAME_SAMPLES)
    if (audio !== undefined) chunk.set(audio.subarray(frames * FRAME_SAMPLES, (frames + 1) * FRAME_SAMPLES))
    s.media.writeFrame(chunk, 'playback', index * FRAME_MS)
    return ++frames >= total ? 'stop' : 'continue'
  })
  played.endMs = s.now()
  played.status = status
  const samples = Math.min(frames, total) * FRAME_SAMPLES
  vars.set('playback_seconds', String(Math.floor(samples / 8000)))
  vars.set('playback_ms', String(Math.floor(samples / 8)))
  vars.set('playback_samples', String(samples))
  s.fire('PLAYBACK_STOP', [['Playback-File-Path', path], ['Playback-Status', status === 'break' ? 'break' : 'done']])
  s.reset(false)
  vars.set('current_application_response', status === 'hangup' ? 'PLAYBACK ERROR' : 'FILE PLAYED')
}

const record: App = async (s, arg) => {
  const vars = s.channel.variables
  const argv = arg.split(' ')
  if (arg === '' || argv[0] === '') return
  const path = resolvePath(s, argv[0] as string)
  const limit = Number.parseInt((argv[1] ?? '0').replace(/^\+/, ''), 10) || 0
  const thresh = Number.parseInt(argv[2] ?? '0', 10) || 0
  const hitsArg = Number.parseInt(argv[3] ?? '0', 10) || 0
  vars.set('playback_terminator_used', '')
  const startMs = s.now()
  const rec = { path, startMs, endMs: startMs, reason: 'open-failed' as const as 'silence' | 'limit' | 'dtmf' | 'break' | 'hangup' | 'open-failed', samples: 0 }
  s.recordings.push(rec)
  try {
    accessSync(dirname(path), constants.W_OK)
  } catch {
    // switch_core_file_open() failed: hang up, then record_function hangs up again (no-op).
    s.hangup('DESTINATION_OUT_OF_ORDER', 'server')
    s.reset(true)
    return
  }
  // silence_hits counts frames: rate * seconds / samples_per_packet, 3 s when not given.
  const orgHits = thresh > 0 ? (hitsArg > 0 ? 8000 * hitsArg / FRAME_SAMPLES : 8000 * 3 / FRAME_SAMPLES) : 0
  let hits = orgHits
  vars.set('silence_hits_exhausted', 'false')
  s.fire('RECORD_START', [['Record-File-Path', path]])
  const startSec = Math.floor(Date.now() / 1000)
  const chunks: Buffer[] = []
  let reason: typeof rec.reason = 'hangup'
  const status = await s.frames({ kind: 'terminators' }, (index) => {
    // `(switch_epoch_time_now(NULL) - start) > limit`: whole seconds, checked before each read.
    if (limit > 0 && Math.floor(Date.now() / 1000) - startSec > limit) { reason = 'limit'; return 'stop' }
    const frame = s.media.readFrame(index)
    if (thresh > 0) {
      if (frameScore(frame) < thresh) {
        if (--hits === 0) {
          vars.set('silence_hits_exhausted', 'true')
          reason = 'silence'
          return 'stop'
        }
      } else {
        hits = orgHits
      }
    }
    // switch_ivr_record_file(): a CNG frame (no caller RTP) counts for silence but is not
    // written unless record_fill_cng is set.
    if (!s.media.isCng(index)) chunks.push(frameToBuffer(frame))
    return 'continue'
  })
  if (status === 'break') reason = vars.get('playback_terminator_used') !== '' ? 'dtmf' : 'break'
  if (status === 'hangup') reason = 'hangup'
  const pcm = Buffer.concat(chunks)
  writeFileSync(path, buildWav(pcm, 8000, 1))
  const samples = pcm.length / 2
  rec.endMs = s.now()
  rec.reason = reason
  rec.samples = samples
  vars.set('record_seconds', String(Math.floor(samples / 8000)))
  vars.set('record_ms', String(Math.floor(samples / 8)))
  vars.set('record_samples', String(samples))
  s.fire('RECORD_STOP', [['Record-File-Path', path]])
  s.reset(true)
  if (!s.ready) s.hangup('DESTINATION_OUT_OF_ORDER', 'server')
}

const sleep: App = async (s, arg) => {
  const ms = Number.parseInt(arg, 10)
  if (Number.isNaN(ms)) return
  const eat = isTrue(s.channel.variables.get('sleep_eat_digits'))
  if (eat) s.channel.variables.set('playback_terminator_used', '')
  const start = Date.now()
  await s.frames(eat ? { kind: 'terminators' } : { kind: 'break-keep' }, () => (Date.now() - start >= ms ? 'stop' : 'continue'))
}

function setVar (s: Session, arg: string, exported: boolean): void {
  const eq = arg.indexOf('=')
  const name = eq >= 0 ? arg.slice(0, eq) : arg
  const value = eq >= 0 ? arg.slice(eq + 1) : ''
  if (name === '') return
  if (value === '') s.channel.variables.delete(name)
  else s.channel.variables.set(name, value)
  if (exported) {
    const list = s.channel.variables.get('export_vars')
    s.channel.variables.set('export_vars', list === undefined ? name : `${list},${name}`)
  }
}

const transfer: App = async (s, arg) => {
  const [to = '', dialplan, context] = arg.split(' ').filter((w) => !w.startsWith('-'))
  // switch_ivr_session_transfer (switch_ivr.c) starts with switch_core_session_reset(session,
  // SWITCH_TRUE, SWITCH_TRUE): unicast ends here, and what we send after it is never played.
  s.reset(true)
  s.transfer = { to, dialplan, context, atMs: s.now() }
  const ch = s.channel
  ch.destination = to
  if (dialplan !== undefined) ch.dialplan = dialplan
  if (context !== undefined) ch.context = context
  ch.profileIndex++
  ch.transferredUs = Date.now() * 1000
  ch.state = 'CS_ROUTING'
}

/** switch_ivr_originate()'s DIALSTATUS for a failure cause. */
function dialStatus (failCause: string): string {
  switch (failCause) {
    case 'ORIGINATOR_CANCEL': return 'CANCEL'
    case 'USER_BUSY': return 'BUSY'
    case 'NO_ANSWER': return 'NOANSWER'
    case 'DESTINATION_OUT_OF_ORDER': case 'INVALID_PROFILE': return 'INVALIDARGS'
    case 'CALL_REJECTED': return 'DONTCALL'
    default: return failCause
  }
}

/**
 * audio_bridge_function (mod_dptools.c) -> switch_ivr_originate + switch_ivr_multi_threaded_bridge.
 * Either way the caller's session is reset on the way out: the failure path of
 * switch_ivr_originate ("notready:"/"done:") and the end of audio_bridge_thread call
 * switch_core_session_reset(), which deactivates unicast for good (a new `unicast` does not
 * revive it: the park loop holds the dead connection, see Session.park).
 */
const bridge: App = async (s, arg) => {
  const outcome = s.options.bridge ?? { outcome: 'answer', durationMs: 1000 }
  const vars = s.channel.variables
  if (outcome.outcome !== 'answer') {
    const failCause = outcome.outcome === 'no-answer' ? 'NO_ANSWER' : cause(outcome.cause ?? 'NO_ANSWER')
    const ringMs = outcome.ringMs ?? (outcome.outcome === 'no-answer' ? 1000 : 0)
    const start = Date.now()
    const status = ringMs > 0 ? await s.frames({ kind: 'ignore' }, () => (Date.now() - start >= ringMs ? 'stop' : 'continue')) : 'done'
    const finalCause = status === 'hangup' ? 'ORIGINATOR_CANCEL' : failCause
    vars.set('originate_disposition', finalCause)
    vars.set('DIALSTATUS', dialStatus(finalCause))
    vars.set('originate_failed_cause', finalCause)
    s.reset(false)
    // switch_channel_handle_cause(): without continue_on_fail the caller is hung up too.
    const cof = vars.get('continue_on_fail')
    if (!isTrue(cof) && !(cof ?? '').toUpperCase().split(',').includes(finalCause)) s.hangup(finalCause, 'server')
    return
  }
  const other = randomUUID()
  // switch_ivr_originate() sets "call accepted" (and DIALSTATUS EARLY/ANSWER) at done:, then its
  // exit path sets both from the cause, SWITCH_CAUSE_SUCCESS: the bridge's completion carries
  // originate_disposition=SUCCESS and DIALSTATUS=SUCCESS (seen on a real FreeSWITCH).
  vars.set('originate_disposition', 'SUCCESS')
  vars.set('DIALSTATUS', 'SUCCESS')
  s.fire('CHANNEL_BRIDGE', [['Bridge-A-Unique-ID', s.channel.uuid], ['Bridge-B-Unique-ID', other],
    ['Other-Leg-Unique-ID', other], ['Other-Leg-Destination-Number', arg]])
  vars.set('bridge_uuid', other)
  vars.set('last_bridge_to', other)
  const start = Date.now()
  const durationMs = outcome.durationMs ?? 1000
  const status = await s.frames({ kind: 'ignore' }, () => (Date.now() - start >= durationMs ? 'stop' : 'continue'))
  s.fire('CHANNEL_UNBRIDGE', [['Bridge-A-Unique-ID', s.channel.uuid], ['Bridge-B-Unique-ID', other]])
  const peerCause = status === 'hangup' ? (s.channel.hangupCause ?? 'NORMAL_CLEARING') : 'NORMAL_CLEARING'
  vars.set('last_bridge_hangup_cause', peerCause)
  vars.set('bridge_hangup_cause', peerCause)
  s.reset(false)
  if (status === 'done' && isTrue(vars.get('hangup_after_bridge'))) s.hangup('NORMAL_CLEARING', 'caller')
}

/** multiset_function: space-separated var=value pairs (`^^X` picks another delimiter). */
const multiset: App = async (s, arg) => {
  let delim = ' '
  let rest = arg
  if (rest.startsWith('^^') && rest.length > 2) { delim = rest[2] as string; rest = rest.slice(3) }
  for (const pair of rest.split(delim)) setVar(s, pair, false)
}

export const APPLICATIONS: Readonly<Record<string, App>> = {
  answer: async (s) => { s.answer() },
  pre_answer: async (s) => { s.preAnswer() },
  ring_ready: async (s) => {
    if (!s.channel.answered && !s.channel.earlyMedia) {
      s.channel.callState = 'RINGING'
      s.channel.progressUs = Date.now() * 1000
      s.fire('CHANNEL_PROGRESS')
    }
  },
  playback,
  record,
  sleep,
  set: async (s, arg) => { setVar(s, arg, false) },
  multiset,
  export: async (s, arg) => { setVar(s, arg, true) },
  unset: async (s, arg) => { s.channel.variables.delete(arg) },
  hangup: async (s, arg) => { s.hangup(arg === '' ? 'NORMAL_CLEARING' : cause(arg), 'server') },
  transfer,
  bridge,
  displace_session: displaceSession,
  stop_displace_session: stopDisplaceSession,
  noop: async (s, arg) => { s.channel.variables.set('current_application_response', arg === '' ? randomUUID() : arg) },
  log: async () => {},
  info: async () => {},
}
