import type { Logger } from 'pino'
import { wavHeader } from '../../media/wav.ts'
import { badResponse, type ErrorContext } from '../../providers/errors.ts'
import { pcmDurationMs } from '../../providers/audio.ts'
import { multipartBody } from '../../providers/multipart.ts'
import type { OpenAiHttp } from '../../providers/openai-client.ts'
import type { ProviderQueue } from '../../providers/queue.ts'
import { withRetry, type RetryPolicy } from '../../providers/retry.ts'
import type { PcmChunk } from '../types.ts'
import { bufferedSession } from './buffered-session.ts'
import type { SttOptions, SttProvider, SttSession, SttStreamOptions, Transcript } from './types.ts'

export interface OpenAiSttOptions {
  readonly client: OpenAiHttp
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

  preconnect (): void {
    this.#o.client.preconnect()
  }

  /**
   * Builds the form and hands it to #send, which awaits the request. The 16-bit audio (often a
   * copy decoded from a G.711 utterance, held-pcm.ts) is then free while the request lasts: an
   * async function keeps its arguments until it returns, and the form holds a copy of it already
   * (59 KB for a 3.7 s utterance at 8 kHz).
   */
  transcribe (audio: PcmChunk, options: SttOptions): Promise<Transcript> {
    try {
      return this.#send(this.#form(audio, options), options.language ?? this.#o.language, pcmDurationMs(audio), options)
    } catch (err) {
      // As from an async function: a caller never sees a synchronous throw.
      return Promise.reject(err)
    }
  }

  /** The multipart form with the utterance as a WAV file. */
  #form (audio: PcmChunk, options: SttOptions): { body: Buffer, contentType: string } {
    const o = this.#o
    const language = options.language ?? o.language
    const hints = options.hints ?? o.hints ?? []
    const fields: Array<[string, string]> = [['model', o.model], ['response_format', 'json']]
    // Whisper takes ISO-639-1 (`it`), not a BCP-47 region tag.
    if (language !== undefined) fields.push(['language', language.split('-')[0] ?? language])
    // Whisper has no phrase hints; its documented substitute is a prompt that contains the
    // words, which biases spelling towards them.
    if (hints.length > 0) fields.push(['prompt', hints.join(', ')])
    // The samples are already s16le: a WAV header in front of them is the whole file.
    return multipartBody(fields, { field: 'file', filename: 'utterance.wav', contentType: 'audio/wav', parts: [wavHeader(audio.sampleRate, 1, audio.pcm.length), audio.pcm] })
  }

  async #send (form: { body: Buffer, contentType: string }, language: string | undefined, durationMs: number, options: SttOptions): Promise<Transcript> {
    const o = this.#o
    const ctx: ErrorContext = { provider: o.name, operation: 'transcribe', signal: options.signal }
    const result = await withRetry(signal => o.queue.run(async () => {
      const res = await o.client.post('audio/transcriptions', form.body, { signal, contentType: form.contentType, accept: 'application/json' })
      const raw = await res.body.text()
      // A body that is not JSON has no text: the check below says so.
      try { return JSON.parse(raw) as unknown } catch { return undefined }
    }, signal), { provider: o.name, operation: 'transcribe', policy: o.retry, signal: options.signal, timeoutMs: o.timeoutMs, log: o.log, ...(o.random ? { random: o.random } : {}) })
    const text = (result as { text?: unknown } | undefined)?.text
    if (typeof text !== 'string') throw badResponse(ctx, 'no text in the transcription')
    options.usage?.addStt(o.name, o.model, durationMs / 1000)
    return { text: text.trim(), language, durationMs }
  }

  /** Whole utterances: its sessions read the utterance at their end (buffered-session.ts). */
  readonly readsUtterance = true

  stream (options: SttStreamOptions): SttSession {
    return bufferedSession((audio, opts) => this.transcribe(audio, opts), options)
  }
}
