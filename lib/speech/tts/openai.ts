import type { Logger } from 'pino'
import { pcmFromVendorWav } from '../../providers/audio.ts'
import { badResponse, toProviderError, type ErrorContext } from '../../providers/errors.ts'
import { abandon, type OpenAiHttp, type ProviderResponse } from '../../providers/openai-client.ts'
import type { ProviderQueue } from '../../providers/queue.ts'
import { createDeadline, withRetry, type RetryPolicy } from '../../providers/retry.ts'
import type { UsageMeter } from '../../providers/usage.ts'
import type { PcmChunk, TtsProvider, TtsRequest } from '../types.ts'

export interface OpenAiTtsOptions {
  readonly client: OpenAiHttp
  readonly name: string
  readonly model: string
  readonly voice: string
  /** `pcm`: raw s16le mono at `sampleRate` (OpenAI: 24000). `wav`: the header says. */
  readonly format: 'pcm' | 'wav'
  readonly sampleRate: number
  readonly queue: ProviderQueue
  readonly retry: RetryPolicy
  readonly timeoutMs: number
  readonly log?: Logger | undefined
  readonly random?: () => number
}

/**
 * `/audio/speech` on any OpenAI-compatible server. PCM is streamed through as it arrives; the
 * cache resamples to 8 kHz. Language is not a parameter there: the model speaks the text's own.
 */
export class OpenAiTts implements TtsProvider {
  readonly name: string
  readonly #o: OpenAiTtsOptions

  constructor (options: OpenAiTtsOptions) {
    this.#o = options
    this.name = options.name
  }

  preconnect (): void {
    this.#o.client.preconnect()
  }

  voiceId (request: TtsRequest): string {
    return `${this.#o.model}.${request.voice ?? this.#o.voice}`
  }

  async * synthesize (request: TtsRequest, options: { signal?: AbortSignal, usage?: UsageMeter }): AsyncGenerator<PcmChunk> {
    const o = this.#o
    const deadline = createDeadline(options.signal, o.timeoutMs)
    const ctx: ErrorContext = { provider: o.name, operation: 'synthesize', signal: options.signal, deadline }
    let body: ProviderResponse['body'] | undefined
    let release: (() => void) | undefined
    try {
      const json = JSON.stringify({ model: o.model, voice: request.voice ?? o.voice, input: request.text, response_format: o.format })
      // Retried up to the response headers; once audio flows a failure is final.
      const started = await withRetry(async signal => {
        const slot = await o.queue.acquire(signal)
        try {
          return { response: await o.client.post('audio/speech', json, { signal, contentType: 'application/json', accept: 'application/octet-stream' }), slot }
        } catch (err) {
          slot()
          throw err
        }
      }, { provider: o.name, operation: 'synthesize', policy: o.retry, signal: options.signal, timeoutMs: o.timeoutMs, deadline, log: o.log, ...(o.random ? { random: o.random } : {}) })
      release = started.slot
      body = started.response.body
      // Raw PCM has no header to check: an error page sent with 200 would play as noise.
      const type = String(started.response.headers['content-type'] ?? '')
      if (NOT_AUDIO.test(type)) throw badResponse(ctx, `not audio (${type.slice(0, 60)})`)
      options.usage?.addTts(o.name, o.model, request.text.length)

      let produced = 0
      if (o.format === 'wav') {
        const parts: Buffer[] = []
        for await (const data of chunks(body, ctx)) parts.push(data)
        const chunk = pcmFromVendorWav(Buffer.concat(parts), ctx)
        produced = chunk.pcm.length
        if (produced > 0) yield chunk
      } else {
        // HTTP chunks split samples anywhere; an odd trailing byte waits for its partner. The
        // socket's buffers are handed on as they are (no copy) when they hold whole samples.
        let carry: Buffer | undefined
        for await (const read of chunks(body, ctx)) {
          const data = carry === undefined ? read : Buffer.concat([carry, read])
          const even = data.length - (data.length % 2)
          carry = even === data.length ? undefined : data.subarray(even)
          if (even > 0) {
            produced += even
            yield { pcm: even === data.length ? data : data.subarray(0, even), sampleRate: o.sampleRate }
          }
        }
      }
      if (produced === 0) throw badResponse(ctx, 'no audio in the response')
    } finally {
      // Not read to the end (an abort, a consumer that stopped, a bad type): the request is
      // aborted and its socket closed, never handed back to the pool mid-body.
      if (body !== undefined) abandon(body)
      release?.()
      deadline.dispose()
    }
  }
}

/** Content types no speech endpoint sends for audio; anything else (or none) is trusted. */
const NOT_AUDIO = /^\s*(text\/|application\/(json|xml|xhtml|problem))/i

/** The body's reads, its failures as provider errors. */
async function * chunks (body: ProviderResponse['body'], ctx: ErrorContext): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of body) yield chunk as Buffer
  } catch (err) {
    throw toProviderError(err, ctx)
  }
}
