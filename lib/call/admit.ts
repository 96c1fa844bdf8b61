import type { Logger } from 'pino'
import type { CallConfig } from './config.ts'
import { isCallEnded, isPhoneAgentError } from '../errors.ts'
import type { Channel } from '../freeswitch/channel.ts'
import { privacyFromChannel, type AdmissionGuard, type AdmissionVerdict, type FallbackTarget } from '../guard/index.ts'
import type { Speaker } from './context.ts'
import { MediaPaths } from './media-paths.ts'
import { wavDurationMs } from './wav-duration.ts'

/**
 * Admission, before anything is answered: the guard decides from the caller ID, the SIP source
 * address, the DID, the rate limits and capacity. A refused call is hung up with the guard's
 * cause; a call refused for capacity may first hear "all lines are busy" as early media
 * (pre_answer + playback, so the caller is not billed for an answered call), never a freshly
 * synthesised one; a call refused for rate may be handed to the dialplan's fallback instead.
 */
export async function admitCall (channel: Channel, guard: AdmissionGuard, did: string | undefined, log: Logger): Promise<AdmissionVerdict> {
  const headers = channel.data.headers
  return await guard.admit({
    uuid: channel.uuid,
    // The raw header: the guard refuses control characters rather than seeing them stripped.
    callerNumber: headers['Caller-Caller-ID-Number'],
    callerName: channel.data.callerName,
    did,
    privacy: privacyFromChannel((h) => headers[h]),
    // The address the INVITE came from (mod_sofia sofia.c, sofia_handle_sip_i_invite sets
    // sip_network_ip from the packet's source, sofia_glue_get_addr), not a header the caller writes.
    sourceIp: headers.variable_sip_network_ip,
    signal: channel.signal,
  }).catch((err: unknown): AdmissionVerdict => {
    // The guard throws the call's abort reason when the caller hung up while it counted (the
    // call signal was already aborted, or aborted during a Redis round trip). That is no
    // refusal and no failure: reported as `hung_up`, it used to be counted as `capacity`.
    if (isCallEnded(err) || (channel.signal.aborted && isPhoneAgentError(err))) {
      log.info({ reason: isPhoneAgentError(err) ? err.code : 'unknown' }, 'caller hung up during admission')
      return { admitted: false, reason: 'hung_up', hangupCause: 'NORMAL_CLEARING', busyMessage: false }
    }
    // The guard answers from memory when its store fails; an exception here is a bug. Fail
    // closed: a phone system that admits everything when its guard breaks is an open relay.
    log.error({ err }, 'admission guard failed, refusing call')
    return { admitted: false, reason: 'guard_error', hangupCause: 'NORMAL_TEMPORARY_FAILURE', busyMessage: false }
  })
}

/** Turn the call away; returns 'handed-back' when the dialplan's fallback took it over. */
export async function refuseCall (channel: Channel, verdict: Extract<AdmissionVerdict, { admitted: false }>, opts: {
  config: Pick<CallConfig, 'messages' | 'media' | 'server'>, speaker: Speaker, language: string, log: Logger
}): Promise<'handed-back' | 'refused'> {
  if (verdict.fallback !== undefined && channel.isUp && await handBack(channel, verdict.fallback, opts)) return 'handed-back'
  if (verdict.busyMessage) {
    const text = messageFor(opts.config.messages.busy, opts.language)
    try {
      if (text !== undefined) {
        const media = new MediaPaths(opts.config.media.soundsDir, opts.config.media.freeswitchSoundsDir)
        // Pre-rendered at start-up, so this is a cache hit and never waits on a provider.
        const { path } = await opts.speaker.render(text, { language: opts.language, signal: channel.signal })
        const durationMs = await wavDurationMs(path)
        await channel.execute('pre_answer', '', { timeoutMs: opts.config.server.commandTimeoutMs })
        await channel.execute('playback', media.toFreeswitch(path), { timeoutMs: durationMs + 5000 })
      }
    } catch (err) {
      if (!isCallEnded(err)) opts.log.warn({ err }, 'could not play the busy message')
    }
  }
  if (channel.isUp) {
    try {
      await channel.hangup(verdict.hangupCause)
    } catch (err) {
      if (!isCallEnded(err)) opts.log.warn({ err }, 'hangup failed')
    }
  }
  return 'refused'
}

/**
 * Give a rate-limited call back to the dialplan's fallback (the pack's human-then-voicemail
 * extension) instead of dropping it. Unanswered, so the dialplan decides whether to answer.
 *
 * `socket_resume` goes off first: the pack sets it (failover to a second agent), and when our
 * socket closes with it on, mod_event_socket.c listener_run ("done:") sets CS_RESET on a channel
 * no longer flagged CF_TRANSFER, which the state machine clears as soon as the transfer is
 * routed (switch_core_state_machine.c, switch_core_session_run). The reset would break the
 * fallback's bridge or voicemail when we leave. The `transfer` itself sets CF_TRANSFER, so
 * socket_function() returns without resuming or ending the call (mod_event_socket.c).
 * Returns false when the hand-back failed and the call should be hung up as usual.
 */
async function handBack (channel: Channel, target: FallbackTarget, opts: { config: Pick<CallConfig, 'server'>, log: Logger }): Promise<boolean> {
  const timeoutMs = opts.config.server.commandTimeoutMs
  try {
    await channel.execute('set', 'socket_resume=false', { timeoutMs })
    await channel.execute('transfer', `${target.extension} ${target.dialplan} ${target.context}`, { timeoutMs })
    opts.log.info({ extension: target.extension, context: target.context }, 'refused call handed to the dialplan fallback')
    return true
  } catch (err) {
    if (!isCallEnded(err)) opts.log.warn({ err }, 'could not hand the call to the fallback, hanging up')
    return false
  }
}

export function messageFor (texts: Readonly<Record<string, string>>, language: string): string | undefined {
  return texts[language.split('-')[0] ?? 'en'] ?? texts.en
}
