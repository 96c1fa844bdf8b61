import type { VerbContext } from './context.ts'
import { FilesTurnMedia } from './turn-media-files.ts'
import { StreamTurnMedia } from './turn-media-stream.ts'
import type { TurnMedia } from './turn-media.ts'

/**
 * The call's turn media: injected (tests), streaming (unicast, VAD, barge-in) or files. One per
 * call: the streaming one holds the frame subscription and speech carried over from a barge-in.
 */
export function turnMediaFor (ctx: VerbContext, options: { ttsFirstAudioMs?: number } = {}): TurnMedia {
  if (ctx.turnMedia !== undefined) return ctx.turnMedia
  if (ctx.mediaMode !== 'stream') return new FilesTurnMedia(ctx, options)
  ctx.state.streamTurnMedia ??= new StreamTurnMedia(ctx, {
    bargeIn: ctx.streamConfig.bargeIn,
    endpointing: ctx.streamConfig.endpointing,
    preRollMs: ctx.streamConfig.preRollMs,
    endSilenceMs: ctx.streamConfig.vad.endSilenceMs,
    ttsFirstAudioMs: options.ttsFirstAudioMs,
  })
  return ctx.state.streamTurnMedia
}
