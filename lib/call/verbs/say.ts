import { PhoneAgentError, isPhoneAgentError } from '../../errors.ts'
import type { VerbContext } from '../context.ts'
import { playPath } from './play.ts'

export interface SayOptions {
  readonly voice?: string | undefined
  readonly language?: string | undefined
  readonly signal?: AbortSignal | undefined
}

/** Speak text: synthesise (or find in the cache) an 8 kHz WAV, then play it. */
export async function say (ctx: VerbContext, text: string, options: SayOptions = {}): Promise<{ durationMs: number, cached: boolean }> {
  const signal = options.signal ? AbortSignal.any([ctx.signal, options.signal]) : ctx.signal
  let rendered
  try {
    rendered = await ctx.speaker.render(text, {
      voice: options.voice ?? ctx.voice,
      language: options.language ?? ctx.language,
      signal,
    })
  } catch (err) {
    if (signal.aborted || isPhoneAgentError(err)) throw err
    throw new PhoneAgentError('TTS_FAILED', 'speech synthesis failed', { cause: err })
  }
  const { durationMs } = await playPath(ctx, rendered.path, { signal: options.signal })
  ctx.recorder.turn({ role: 'agent', text, at: Date.now() })
  if (!rendered.cached) ctx.recorder.usage({ ttsCharacters: text.length })
  return { durationMs, cached: rendered.cached }
}
