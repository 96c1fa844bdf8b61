import type { Logger } from 'pino'
import type { Config } from '../config/load.ts'
import { isCallEnded } from '../errors.ts'
import type { Channel } from '../freeswitch/channel.ts'
import { privacyFromChannel, type AdmissionGuard, type AdmissionVerdict } from '../guard/index.ts'
import type { Speaker } from './context.ts'
import { MediaPaths } from './media-paths.ts'
import { wavDurationMs } from './wav-duration.ts'

/**
 * Admission, before anything is answered: the guard decides from the caller ID, the DID, the
 * rate limits and capacity. A refused call is hung up with the guard's cause; a call refused
 * for capacity may first hear "all lines are busy" as early media (pre_answer + playback, so the
 * caller is not billed for an answered call), never a freshly synthesised one.
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
    signal: channel.signal,
  }).catch((err: unknown) => {
    // The guard answers from memory when its store fails; an exception here is a bug. Fail
    // closed: a phone system that admits everything when its guard breaks is an open relay.
    log.error({ err }, 'admission guard failed, refusing call')
    return { admitted: false, reason: 'capacity', hangupCause: 'NORMAL_TEMPORARY_FAILURE', busyMessage: false } as const
  })
}

export async function refuseCall (channel: Channel, verdict: Extract<AdmissionVerdict, { admitted: false }>, opts: {
  config: Config, speaker: Speaker, language: string, log: Logger
}): Promise<void> {
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
}

export function messageFor (texts: Readonly<Record<string, string>>, language: string): string | undefined {
  return texts[language.split('-')[0] ?? 'en'] ?? texts.en
}
