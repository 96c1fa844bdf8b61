import { abortReason, PhoneAgentError } from '../../errors.ts'
import type { VerbContext } from '../context.ts'
import { numbersInDialString } from '../dial-string.ts'
import { unknownTransferTargetMessage } from '../../suggest.ts'
import { ensureBridgeVariables } from '../transfer/bridge-variables.ts'
import { bridgeOutcome, type TransferResult } from '../transfer/outcome.ts'
import { ringThenBridge } from '../transfer/ring.ts'
import { answer } from './answer.ts'

export type { TransferResult } from '../transfer/outcome.ts'

export interface TransferOptions {
  /** Stops a transfer that is still ringing (stream mode): the conversation goes on. */
  readonly signal?: AbortSignal | undefined
}

/** How long a transfer target rings before it counts as not answering. */
const RING_TIMEOUT_SECONDS = 25
const BRIDGE_COMPLETION_AFTER_HANGUP_MS = 2000

/**
 * Transfer to a target NAMED in the config. There is deliberately no way to pass a number or a
 * dial string: the name may come from a script, a caller's digits or a model's tool call, and
 * only what the operator configured can ever be dialled.
 *
 * - extension: `transfer` to the dialplan (which applies its own outbound rules); the call is
 *   the dialplan's from then on, and whether it refused the call is learnt when it ends.
 * - endpoint, stream mode: the target rings as its own leg and is bridged on answer (ring.ts),
 *   so a target that does not answer leaves the caller with the agent.
 * - endpoint, files mode: `bridge`, which returns to us when nobody answers (continue_on_fail).
 */
export async function transfer (ctx: VerbContext, targetName: string, options: TransferOptions = {}): Promise<TransferResult> {
  const target = Object.hasOwn(ctx.transfers, targetName) ? ctx.transfers[targetName] : undefined
  if (target === undefined) {
    throw new PhoneAgentError('TRANSFER_TARGET_UNKNOWN', unknownTransferTargetMessage(targetName, Object.keys(ctx.transfers)))
  }
  ctx.log.info({ target: targetName, type: target.type }, 'transferring call')
  if (target.type === 'extension') {
    // No `resume`: the transfer sets CF_TRANSFER, so the socket application returns without
    // ending the call (mod_event_socket.c socket_function), and the call belongs to the new
    // extension. With resume on (LFLAG_RESUME, which cannot be unset), closing our socket later
    // would set CS_RESET on the channel and break a bridge the extension runs
    // (listener_run, "done:"); the runner clears socket_resume before it lets go.
    // The transfer resets the session at once (switch_ivr.c switch_ivr_session_transfer ->
    // switch_core_session_reset): in stream mode what was said just before ("I'll put you
    // through") would lose its last frames, those in FreeSWITCH's socket and those the media
    // helper still holds. So it plays out first, as before a hangup.
    if (ctx.mediaMode === 'stream') await ctx.playedOut?.()
    await ctx.channel.execute('transfer', `${target.extension} ${target.dialplan} ${target.context}`, {
      timeoutMs: ctx.commandTimeoutMs,
    })
    // Transferred, provisionally: the runner watches the call and corrects it if the dialplan refuses it.
    ctx.status.handOff()
    return { connected: true, disposition: 'TRANSFERRED' }
  }
  // Checked at start-up too; checked again here because the guard's tables may have been
  // tightened since, and because this is the last moment before money is spent.
  for (const number of numbersInDialString(target.dialString)) ctx.dial.check(number)
  await answer(ctx)
  if (ctx.mediaMode === 'stream') {
    return await ringThenBridge(ctx, target.dialString, { timeoutSeconds: RING_TIMEOUT_SECONDS, signal: options.signal })
  }
  // A bridge lasts as long as the conversation with the human; it is bounded by the call itself.
  // With hangup_after_bridge FreeSWITCH hangs the caller up when the human does, before the
  // bridge application completes (switch_ivr_multi_threaded_bridge, then
  // switch_core_session_exec's CHANNEL_EXECUTE_COMPLETE): wait for that completion all the same,
  // it carries the disposition that says whether anyone answered.
  // The variables and the bridge go out back to back (event-lock keeps their order): FreeSWITCH's
  // call thread runs both in one pass, so a stalled thread is paid once, not twice.
  const [, result] = await Promise.all([
    ensureBridgeVariables(ctx),
    ctx.channel.execute('bridge', target.dialString, { timeoutMs: Infinity, signal: options.signal, afterHangupMs: BRIDGE_COMPLETION_AFTER_HANGUP_MS }),
  ])
  const outcome = bridgeOutcome(result.event)
  if (outcome.connected) ctx.status.transferred()
  // Nobody took the call and the caller is gone: the script has nothing left to do.
  else if (!ctx.channel.isUp) throw abortReason(ctx.signal)
  return outcome
}
