import { isHangupCause } from '../../freeswitch/hangup-causes.ts'
import { UnsafeValueError } from '../../errors.ts'
import type { VerbContext } from '../context.ts'

/** Hang up with a FreeSWITCH cause name (NORMAL_CLEARING by default). */
export async function hangup (ctx: VerbContext, cause = 'NORMAL_CLEARING'): Promise<void> {
  if (!isHangupCause(cause)) throw new UnsafeValueError('hangup cause')
  await ctx.channel.hangup(cause)
}
