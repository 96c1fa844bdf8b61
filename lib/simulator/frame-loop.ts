import { FRAME_MS } from './caller.ts'
import type { AppStatus, DtmfPolicy, Session } from './session.ts'

/**
 * The frame loop of playback, record and sleep: every 20 ms it checks the channel, CF_BREAK,
 * queued sendmsg (run nested, which pauses this loop), then DTMF, then hands one caller
 * frame to `onFrame`. Frames follow the wall clock, so a slow machine catches up.
 */
export async function frameLoop (s: Session, dtmf: DtmfPolicy, onFrame: (frameIndex: number) => 'continue' | 'stop', onDigit?: (d: string) => void): Promise<AppStatus> {
  let next = Date.now()
  for (;;) {
    if (!s.ready) return 'hangup'
    if (s.breakFlag) { s.breakFlag = false; return 'break' }
    if (await s.parseAllEvents()) next = Math.max(next, Date.now())
    if (!s.ready) return 'hangup'
    if (s.dtmf.length > 0 && dtmf.kind !== 'ignore') {
      if (dtmf.kind === 'break-keep') return 'break'
      const digit = s.dtmf.shift() as string
      onDigit?.(digit)
      const terminators = s.channel.variables.get('playback_terminators') ?? '*'
      if (terminators.toLowerCase() !== 'none' && terminators.includes(digit)) {
        s.channel.variables.set('playback_terminator_used', digit)
        return 'break'
      }
      continue
    }
    if (Date.now() >= next) {
      const index = Math.floor((next - s.timeZero) / FRAME_MS)
      next += FRAME_MS
      if (onFrame(index) === 'stop') return 'done'
      continue
    }
    await s.waitUntil(next)
  }
}
