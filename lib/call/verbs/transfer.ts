import { PhoneAgentError } from '../../errors.ts'
import type { VerbContext } from '../context.ts'
import { numberInDialString } from '../dial-string.ts'
import { answer } from './answer.ts'

export interface TransferResult {
  /** extension: the dialplan took the call. endpoint: someone answered and the bridge ran. */
  readonly connected: boolean
  /** FreeSWITCH's originate disposition for a bridge (`SUCCESS`, `USER_BUSY`, `NO_ANSWER`, ...). */
  readonly disposition: string
}

/**
 * Transfer to a target NAMED in the config. There is deliberately no way to pass a number or a
 * dial string: the name may come from a script, a caller's digits or a model's tool call, and
 * only what the operator configured can ever be dialled.
 */
export async function transfer (ctx: VerbContext, targetName: string): Promise<TransferResult> {
  const target = Object.hasOwn(ctx.transfers, targetName) ? ctx.transfers[targetName] : undefined
  if (target === undefined) {
    throw new PhoneAgentError('TRANSFER_TARGET_UNKNOWN', 'transfer target is not configured')
  }
  ctx.log.info({ target: targetName, type: target.type }, 'transferring call')
  if (target.type === 'extension') {
    // `resume` makes FreeSWITCH carry on with the dialplan instead of hanging up when our socket
    // closes (mod_event_socket.c: LFLAG_RESUME); the call now belongs to the new extension.
    await ctx.channel.resume()
    await ctx.channel.execute('transfer', `${target.extension} ${target.dialplan} ${target.context}`, {
      timeoutMs: ctx.commandTimeoutMs,
    })
    ctx.state.handedOff = true
    ctx.state.outcome = 'transferred'
    return { connected: true, disposition: 'TRANSFERRED' }
  }
  // Checked at start-up too; checked again here because the guard's tables may have been
  // tightened since, and because this is the last moment before money is spent.
  const number = numberInDialString(target.dialString)
  if (number !== undefined) ctx.dial.check(number)
  await answer(ctx)
  // Without continue_on_fail FreeSWITCH hangs the caller up when nobody answers the bridge
  // (switch_ivr_originate failure ends the session's dialplan); we want the script to carry on
  // (voicemail, a message) instead.
  await ctx.channel.execute('set', 'continue_on_fail=true', { timeoutMs: ctx.commandTimeoutMs })
  // A bridge lasts as long as the conversation with the human; it is bounded by the call itself.
  // In stream mode the unicast stream survives: the bridge runs inside the park loop's message
  // handling (switch_ivr_park -> switch_ivr_parse_all_messages), and when it returns the park
  // loop carries on with the same stream.
  const result = await ctx.channel.execute('bridge', target.dialString, { timeoutMs: Infinity })
  const disposition = result.event.variable_originate_disposition ?? result.event.variable_DIALSTATUS ?? result.response
  const connected = disposition === 'SUCCESS' || disposition === 'ANSWER'
  if (connected) ctx.state.outcome = 'transferred'
  return { connected, disposition }
}
