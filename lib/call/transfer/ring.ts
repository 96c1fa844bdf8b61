import { randomUUID } from 'node:crypto'
import { agentSchema, textFor } from '../../agent/config.ts'
import { abortReason, isCallEnded, PhoneAgentError } from '../../errors.ts'
import { toE164 } from '../../numbers/e164.ts'
import type { VerbContext } from '../context.ts'
import { decodedAudio } from '../stream/decoded-audio.ts'
import type { StreamSession } from '../stream/session.ts'
import { ensureBridgeVariables } from './bridge-variables.ts'
import { cancelRingCommand, originateCommand } from './originate.ts'
import { originateOutcome, type TransferResult } from './outcome.ts'
import { ringbackPeriod } from './ringback.ts'

/**
 * Stream-mode transfer to an endpoint: ring the target as its own leg and bridge only once a
 * human answered. A `bridge` on the caller's leg would end its unicast stream for good when
 * nobody answers (switch_ivr_originate's failure path and audio_bridge_thread both end in
 * switch_core_session_reset(), which calls switch_ivr_deactivate_unicast(); a new `unicast`
 * does not revive it), leaving the caller in silence. Here the caller's leg stays parked with
 * its stream while the target rings, hears "connecting" and ringback from us, and when nobody
 * answers the conversation simply goes on.
 *
 * On answer, `uuid_bridge` moves the caller's leg out of park (switch_ivr_uuid_bridge sets
 * CS_HIBERNATE: switch_channel_ready() turns false, switch_ivr_park returns and deactivates
 * unicast, the `socket` application returns) and bridges the two. Our Event Socket stays
 * connected and keeps receiving the caller's events. With hangup_after_bridge=true on the
 * caller's leg, the caller is hung up when the human hangs up
 * (switch_ivr_bridge.c switch_ivr_multi_threaded_bridge, after the bridge); without it the
 * caller's dialplan would continue after `socket` (another socket action, or nothing).
 */

/** Beyond originate_timeout, how long we wait for FreeSWITCH's answer before giving up. */
const RING_SLACK_MS = 10_000
/** An answered but never bridged leg is hung up by FreeSWITCH after this (park_timeout). */
const PARK_TIMEOUT_SECONDS = 30

export interface RingOptions {
  readonly timeoutSeconds: number
  /** Cancels the ringing (the operator key pressed again, the turn given up). */
  readonly signal?: AbortSignal | undefined
}

export async function ringThenBridge (ctx: VerbContext, dialString: string, options: RingOptions): Promise<TransferResult> {
  const channel = ctx.channel
  const session = await ctx.stream()
  const tag = randomUUID()
  const caller = toE164(channel.data.callerNumber, ctx.agent?.defaultCountry ?? 'IT')
  const command = originateCommand(dialString, {
    tag,
    timeoutSeconds: options.timeoutSeconds,
    parkTimeoutSeconds: PARK_TIMEOUT_SECONDS,
    callerIdNumber: caller,
    callerIdName: channel.data.callerName === '' ? undefined : channel.data.callerName,
  })
  const waitSignal = options.signal === undefined ? ctx.signal : AbortSignal.any([ctx.signal, options.signal])
  const stopTone = new AbortController()
  const tone = playWhileRinging(ctx, session, stopTone.signal)
  // Until the job answers, a leg may be ringing; once it answered, one may be parked unbridged.
  let legsMayExist = true
  try {
    const [, body] = await Promise.all([
      ensureBridgeVariables(ctx),
      channel.bgapi(command, { timeoutMs: options.timeoutSeconds * 1000 + RING_SLACK_MS, signal: waitSignal }),
    ])
    const outcome = originateOutcome(body)
    if (!outcome.answered) {
      legsMayExist = false
      ctx.log.info({ cause: outcome.cause }, 'transfer target did not answer')
      return { connected: false, disposition: outcome.cause }
    }
    if (waitSignal.aborted) throw abortReason(waitSignal)
    stopTone.abort()
    await tone
    const reply = await bridge(ctx, outcome.uuid)
    if (reply === undefined) return { connected: false, disposition: 'BRIDGE_FAILED' }
    legsMayExist = false
    ctx.status.handOff()
    // FreeSWITCH ended the unicast stream when the caller's leg left park: nothing more to send.
    await session.close()
    return { connected: true, disposition: 'ANSWERED' }
  } catch (err) {
    if (ctx.signal.aborted || (isCallEnded(err) && options.signal?.aborted !== true)) throw err
    if (options.signal?.aborted === true) {
      ctx.log.info('ringing transfer stopped')
      return { connected: false, disposition: 'ORIGINATOR_CANCEL' }
    }
    ctx.log.warn({ err }, 'transfer ringing failed')
    return { connected: false, disposition: err instanceof PhoneAgentError ? err.code : 'FAILED' }
  } finally {
    stopTone.abort()
    await tone
    if (legsMayExist) await cancelRing(ctx, tag)
  }
}

async function bridge (ctx: VerbContext, legUuid: string): Promise<string | undefined> {
  try {
    return await ctx.channel.api(`uuid_bridge ${ctx.channel.uuid} ${legUuid}`, ctx.commandTimeoutMs)
  } catch (err) {
    // The human hung up between answering and the bridge (`-ERR Invalid uuid`), or the caller did.
    if (!ctx.channel.isUp) throw abortReason(ctx.signal)
    ctx.log.warn({ err }, 'uuid_bridge failed')
    return undefined
  }
}

/** Hang up whatever this attempt left ringing or parked; the socket may already be closing. */
async function cancelRing (ctx: VerbContext, tag: string): Promise<void> {
  try {
    await ctx.channel.api(cancelRingCommand(tag), ctx.commandTimeoutMs)
  } catch (err) {
    ctx.log.warn({ err }, 'could not cancel the ringing transfer leg (park_timeout will end it)')
  }
}

/** "Connecting you" (pre-rendered when possible), then ringback until stopped. Never rejects. */
async function playWhileRinging (ctx: VerbContext, session: StreamSession, stop: AbortSignal): Promise<void> {
  const signal = AbortSignal.any([ctx.signal, stop])
  try {
    const text = textFor(ctx.agent?.config.connecting ?? DEFAULT_CONNECTING, ctx.language)
    const path = ctx.agent?.canned.lookup(text, ctx.language, ctx.voice) ??
      (await ctx.speaker.render(text, { language: ctx.language, voice: ctx.voice, signal })).path
    await session.play(await decodedAudio.get(path, session.rate), session.rate, signal)
  } catch (err) {
    if (!signal.aborted) ctx.log.warn({ err }, 'could not say the connecting line; ringback only')
  }
  const period = ringbackPeriod(session.rate, ctx.agent?.defaultCountry ?? 'IT')
  while (!signal.aborted) {
    try {
      await session.play(period, session.rate, signal)
    } catch {
      return
    }
  }
}

const DEFAULT_CONNECTING = agentSchema.parse({}).connecting
