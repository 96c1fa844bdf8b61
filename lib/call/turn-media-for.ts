import type { Channel } from '../freeswitch/channel.ts'
import type { VerbContext } from './context.ts'
import { FilesTurnMedia } from './turn-media-files.ts'
import { StreamTurnMedia } from './turn-media-stream.ts'
import type { TurnMedia } from './turn-media.ts'

/**
 * Each call's one streaming turn media, made here on first use and kept with its channel (one
 * per call) for as long as the call's objects live: it holds the frame subscription and the
 * speech carried over from a barge-in, from one `ask` or `converse` to the next.
 */
const streamMedia = new WeakMap<Channel, StreamTurnMedia>()

/** The call's turn media: injected (tests), streaming (unicast, VAD, barge-in) or files. */
export function turnMediaFor (ctx: VerbContext, options: { ttsFirstAudioMs?: number } = {}): TurnMedia {
  if (ctx.turnMedia !== undefined) return ctx.turnMedia
  if (ctx.mediaMode !== 'stream') return new FilesTurnMedia(ctx, options)
  const made = streamMedia.get(ctx.channel)
  if (made !== undefined) return made
  const media = new StreamTurnMedia(ctx, {
    bargeIn: ctx.streamConfig.bargeIn,
    endpointing: ctx.streamConfig.endpointing,
    preRollMs: ctx.streamConfig.preRollMs,
    endSilenceMs: ctx.streamConfig.vad.endSilenceMs,
    quietBelowDb: ctx.streamConfig.vad.minEnergyDb,
    ttsFirstAudioMs: options.ttsFirstAudioMs,
  })
  streamMedia.set(ctx.channel, media)
  return media
}
