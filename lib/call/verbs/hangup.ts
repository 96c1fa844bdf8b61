import { isHangupCause } from '../../freeswitch/hangup-causes.ts'
import { UnsafeValueError } from '../../errors.ts'
import type { VerbContext } from '../context.ts'

/**
 * Hang up with a FreeSWITCH cause name (NORMAL_CLEARING by default), once what the caller was
 * sent has played out: in stream mode the last frames may still wait at FreeSWITCH for their
 * write ticks (more after a stall), and it drops them at the hangup, cutting a goodbye's end.
 */
export async function hangup (ctx: VerbContext, cause = 'NORMAL_CLEARING'): Promise<void> {
  if (!isHangupCause(cause)) throw new UnsafeValueError('hangup cause')
  await ctx.playedOut?.()
  await ctx.channel.hangup(cause)
}
