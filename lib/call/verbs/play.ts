import { PhoneAgentError } from '../../errors.ts'
import { decodedAudio } from '../stream/decoded-audio.ts'
import type { VerbContext } from '../context.ts'
import { wavDurationMs } from '../wav-duration.ts'
import { answer } from './answer.ts'

export interface PlayOptions {
  readonly signal?: AbortSignal | undefined
}

/** Time FreeSWITCH may take beyond the file's length (file open, codec setup, a loaded box). */
const PLAYBACK_SLACK_MS = 5000

/** Play a WAV file from the sounds directory (`name` relative to it) to the caller. */
export async function play (ctx: VerbContext, name: string, options: PlayOptions = {}): Promise<{ durationMs: number }> {
  return await playPath(ctx, ctx.media.resolveSound(name), options)
}

/** Play a file we already hold by absolute path (TTS cache, recordings). */
export async function playPath (ctx: VerbContext, path: string, options: PlayOptions = {}): Promise<{ durationMs: number }> {
  if (ctx.mediaMode === 'stream') return await streamFile(ctx, path, options)
  const durationMs = await wavDurationMs(path)
  const fsPath = ctx.media.toFreeswitch(path)
  await answer(ctx)
  const result = await ctx.channel.execute('playback', fsPath, {
    timeoutMs: durationMs + PLAYBACK_SLACK_MS,
    signal: options.signal,
  })
  // switch_ivr_play_file reports a missing or unreadable file in the application response
  // rather than failing the command.
  if (/NOT FOUND|ERROR/i.test(result.response)) {
    throw new PhoneAgentError('MEDIA_INVALID', `FreeSWITCH could not play the file: ${result.response}`)
  }
  return { durationMs }
}

/** Stream mode: the file's audio goes out over the unicast stream, never through `playback`. */
async function streamFile (ctx: VerbContext, path: string, options: PlayOptions): Promise<{ durationMs: number }> {
  await answer(ctx)
  const session = await ctx.stream()
  const samples = await decodedAudio.get(path, session.rate)
  const signal = options.signal ? AbortSignal.any([ctx.signal, options.signal]) : ctx.signal
  await session.play(samples, session.rate, signal)
  return { durationMs: Math.round(samples.length * 1000 / session.rate) }
}
