import type { OpenAI } from 'openai'
import { openAiSdk } from '../../providers/openai-sdk.ts'
import type { Logger } from 'pino'
import { badResponse, type ErrorContext } from '../../providers/errors.ts'
import { pcmDurationMs, wavFromPcm } from '../../providers/audio.ts'
import type { ProviderQueue } from '../../providers/queue.ts'
import { withRetry, type RetryPolicy } from '../../providers/retry.ts'
import type { PcmChunk } from '../types.ts'
import { bufferedSession } from './buffered-session.ts'
import type { SttOptions, SttProvider, SttSession, SttStreamOptions, Transcript } from './types.ts'

export interface OpenAiSttOptions {
  readonly client: OpenAI
  readonly name: string
  readonly model: string
  /** Used when a request names none. */
  readonly language?: string | undefined
  readonly hints?: readonly string[] | undefined
  readonly queue: ProviderQueue
  readonly retry: RetryPolicy
  readonly timeoutMs: number
  readonly log?: Logger | undefined
  readonly random?: () => number
}

/**
 * `/audio/transcriptions` on any OpenAI-compatible server (OpenAI, Groq, faster-whisper-server,
 * whisper.cpp's server). The audio goes up as a WAV file in a multipart form.
 */
export class OpenAiStt implements SttProvider {
  readonly name: string
  readonly #o: OpenAiSttOptions

  constructor (options: OpenAiSttOptions) {
    this.#o = options
    this.name = options.name
  }

  async transcribe (audio: PcmChunk, options: SttOptions): Promise<Transcript> {
    const o = this.#o
    const language = options.language ?? o.language
    const hints = options.hints ?? o.hints ?? []
    const durationMs = pcmDurationMs(audio)
    const wav = wavFromPcm(audio)
    const ctx: ErrorContext = { provider: o.name, operation: 'transcribe', signal: options.signal }
    const result = await withRetry(signal => o.queue.run(async () => {
      const file = await openAiSdk().toFile(wav, 'utterance.wav', { type: 'audio/wav' })
      return o.client.audio.transcriptions.create({
        file,
        model: o.model,
        response_format: 'json',
        // Whisper takes ISO-639-1 (`it`), not a BCP-47 region tag.
        ...(language === undefined ? {} : { language: language.split('-')[0] ?? language }),
        // Whisper has no phrase hints; its documented substitute is a prompt that contains the
        // words, which biases spelling towards them.
        ...(hints.length === 0 ? {} : { prompt: hints.join(', ') }),
      }, { signal, timeout: o.timeoutMs })
    }, signal), { provider: o.name, operation: 'transcribe', policy: o.retry, signal: options.signal, timeoutMs: o.timeoutMs, log: o.log, ...(o.random ? { random: o.random } : {}) })
    const text = (result as { text?: unknown }).text
    if (typeof text !== 'string') throw badResponse(ctx, 'no text in the transcription')
    options.usage?.addStt(o.name, o.model, durationMs / 1000)
    return { text: text.trim(), language, durationMs }
  }

  stream (options: SttStreamOptions): SttSession {
    return bufferedSession((audio, opts) => this.transcribe(audio, opts), options)
  }
}
