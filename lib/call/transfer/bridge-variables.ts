import type { Channel } from '../../freeswitch/channel.ts'
import type { VerbContext } from '../context.ts'

/**
 * The caller's-leg variables every transfer relies on, set once per call with one `multiset`
 * (mod_dptools.c multiset_function), sent together with the bridge rather than waited for:
 * - continue_on_fail=true: a `bridge` nobody answers returns to us instead of hanging the
 *   caller up (mod_dptools.c audio_bridge_function -> switch_channel_handle_cause);
 * - hangup_after_bridge=true: when the human hangs up, the caller is hung up too, rather than
 *   the dialplan continuing after `socket` (switch_ivr_bridge.c switch_ivr_multi_threaded_bridge).
 */
export const BRIDGE_VARIABLES = 'continue_on_fail=true hangup_after_bridge=true'

/** Per channel (one per call): the `multiset` sent, or in flight. A failed one is tried again. */
const setOn = new WeakMap<Channel, Promise<void>>()

export async function ensureBridgeVariables (ctx: VerbContext): Promise<void> {
  const { channel } = ctx
  const sent = setOn.get(channel)
  if (sent !== undefined) { await sent; return }
  const setting = channel.execute('multiset', BRIDGE_VARIABLES, { timeoutMs: ctx.commandTimeoutMs }).then(() => {})
  setOn.set(channel, setting)
  setting.catch(() => { if (setOn.get(channel) === setting) setOn.delete(channel) })
  await setting
}
